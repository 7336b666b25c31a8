// coffer-devbroker as a separate process: its brokers must be reachable over loopback TCP from
// this process, it must announce its bootstrap servers, and stop cleanly on SIGTERM.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "pkg/kafka/consumer.h"
#include "pkg/kafka/errors.h"
#include "pkg/kafka/producer.h"
#include "pkg/testing/status_matchers.h"

namespace coffer::kafka {
namespace {

using ::coffer::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// One running coffer-devbroker child with its stdout on a pipe. Kills it (SIGKILL) if the test
// did not stop it.
class DevBroker {
 public:
  explicit DevBroker(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      std::string bin = COFFER_DEVBROKER_BIN;
      argv.push_back(bin.data());
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    stdout_fd_ = fds[0];
  }

  ~DevBroker() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  // Reads one line of the child's stdout, waiting up to `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      char c;
      ssize_t n = read(stdout_fd_, &c, 1);
      if (n <= 0) return std::nullopt;
      if (c == '\n') return line;
      line.push_back(c);
    }
    return std::nullopt;
  }

  // Sends `sig` and returns the exit status (or -1 if it did not exit within `timeout`).
  int Stop(int sig, std::chrono::milliseconds timeout) {
    kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      usleep(20'000);
    }
    return -1;
  }

  bool started() const { return pid_ > 0 && stdout_fd_ >= 0; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
};

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(getpid())))
      .string();
}

TEST(DevBrokerE2eTest, RoundTripsAMessageFromAnotherProcess) {
  const std::string port_file = TempPath("devbroker-port");
  DevBroker broker(
      {"--brokers", "2", "--topics", "coffer.e2e.a:3,coffer.e2e.b:1", "--port-file", port_file});
  ASSERT_TRUE(broker.started());
  std::optional<std::string> line = broker.ReadLine(20s);
  ASSERT_TRUE(line.has_value()) << "no bootstrap line";
  ASSERT_THAT(*line, StartsWith("bootstrap="));
  const std::string bootstrap = line->substr(std::string("bootstrap=").size());
  EXPECT_THAT(bootstrap, ::testing::MatchesRegex(R"(127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+)"));

  std::ifstream in(port_file);
  std::string from_file;
  std::getline(in, from_file);
  EXPECT_EQ(from_file, bootstrap);

  ProducerConfig producer_config;
  producer_config.bootstrap_servers = bootstrap;
  auto producer = Producer::Create(producer_config);
  ASSERT_THAT(producer, IsOk());
  auto partitions = (*producer)->PartitionCount("coffer.e2e.a", 10s);
  ASSERT_THAT(partitions, IsOk());
  EXPECT_EQ(*partitions, 3);
  partitions = (*producer)->PartitionCount("coffer.e2e.b", 10s);
  ASSERT_THAT(partitions, IsOk());
  EXPECT_EQ(*partitions, 1);

  std::optional<DeliveryReport> report;
  ASSERT_THAT((*producer)->Produce(
                  {"coffer.e2e.a", 2, "shard-a|space|record", "payload", {{"event-id", "42"}}},
                  [&report](const DeliveryReport& r) { report = r; }),
              IsOk());
  ASSERT_THAT((*producer)->Flush(15s), IsOk());
  ASSERT_TRUE(report.has_value());
  ASSERT_THAT(report->status, IsOk());
  EXPECT_EQ(report->partition, 2);
  EXPECT_EQ(report->offset, 0);

  ConsumerConfig consumer_config;
  consumer_config.bootstrap_servers = bootstrap;
  auto consumer = Consumer::Create(consumer_config);
  ASSERT_THAT(consumer, IsOk());
  ASSERT_THAT((*consumer)->Assign({{"coffer.e2e.a", 2, kOffsetBeginning}}), IsOk());
  std::optional<Message> received;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!received.has_value() && std::chrono::steady_clock::now() < deadline) {
    auto polled = (*consumer)->Poll(100ms);
    if (!polled.ok()) {
      ASSERT_TRUE(IsRetryable(polled.status())) << polled.status();
      continue;
    }
    received = std::move(*polled);
  }
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->key, "shard-a|space|record");
  EXPECT_EQ(received->value, "payload");
  ASSERT_EQ(received->headers.size(), 1u);
  EXPECT_EQ(received->headers[0].value, "42");

  auto marks = (*consumer)->QueryWatermarks("coffer.e2e.a", 2, 10s);
  ASSERT_THAT(marks, IsOk());
  EXPECT_EQ(marks->high, 1);

  consumer->reset();
  producer->reset();
  EXPECT_EQ(broker.Stop(SIGTERM, 10s), 0) << "SIGTERM stops the broker cleanly";
  EXPECT_FALSE(std::filesystem::exists(port_file)) << "the port file is removed on exit";
}

TEST(DevBrokerE2eTest, StopsOnSigint) {
  DevBroker broker({});
  ASSERT_TRUE(broker.started());
  std::optional<std::string> line = broker.ReadLine(20s);
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, StartsWith("bootstrap=127.0.0.1:"));
  EXPECT_EQ(broker.Stop(SIGINT, 10s), 0);
}

TEST(DevBrokerE2eTest, PrintsVersion) {
  DevBroker broker({"--version"});
  ASSERT_TRUE(broker.started());
  std::optional<std::string> line = broker.ReadLine(10s);
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, StartsWith("coffer-devbroker "));
  EXPECT_THAT(*line, HasSubstr("commit"));
}

TEST(DevBrokerE2eTest, RejectsABadTopicSpec) {
  DevBroker broker({"--topics", "coffer.e2e:zero"});
  ASSERT_TRUE(broker.started());
  EXPECT_FALSE(broker.ReadLine(10s).has_value()) << "no bootstrap line for a bad flag";
  EXPECT_EQ(broker.Stop(0, 10s), 2);
}

}  // namespace
}  // namespace coffer::kafka
