// coffer-devbroker: hosts librdkafka's mock Kafka cluster (pkg/testing/kafka_mock.h) as a
// standalone process, so vault replicas and tests in other processes reach it over loopback TCP.
// Data lives in memory only and is gone when the process exits. Never use it in production.
//
// Prints "bootstrap=<host:port,...>" as the first line on stdout once the brokers listen (and
// writes the bootstrap list to --port-file if given), then waits for SIGTERM or SIGINT and
// exits 0. With --control-stdin it also takes fault-injection commands, one per line on stdin
// (see README.md), and answers each with "ok <command>" or "error <why>" on stdout.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "pkg/testing/kafka_mock.h"
#include "pkg/version/version.h"

namespace {

constexpr char kProgram[] = "coffer-devbroker";

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

// Parses "name:partitions" (partitions defaults to 1 when omitted).
bool ParseTopic(const std::string& text, TopicSpec* spec, std::string* error) {
  auto colon = text.rfind(':');
  spec->name = text.substr(0, colon);
  spec->partitions = 1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      spec->partitions = std::stoi(text.substr(colon + 1), &used);
      if (used != text.size() - colon - 1) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      *error = "bad partition count in --topics entry \"" + text + "\"";
      return false;
    }
  }
  if (spec->name.empty() || spec->partitions < 1) {
    *error = "bad --topics entry \"" + text + "\" (want name:partitions, partitions >= 1)";
    return false;
  }
  return true;
}

// Writes `content` to `path` atomically (temp file + rename), so a reader never sees half a file.
bool WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// Applies one control command to every broker; returns "" or the error.
std::string ApplyCommand(coffer::testing::KafkaMockCluster& cluster, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  absl::Status status;
  auto each_broker = [&](auto&& fn) {
    for (int32_t id = 1; id <= cluster.broker_count() && status.ok(); ++id) status = fn(id);
  };
  if (verb == "down") {
    each_broker([&](int32_t id) { return cluster.SetBrokerDown(id); });
  } else if (verb == "up") {
    each_broker([&](int32_t id) { return cluster.SetBrokerUp(id); });
  } else if (verb == "rtt") {
    int ms = -1;
    if (!(in >> ms) || ms < 0) return "usage: rtt <ms>";
    each_broker([&](int32_t id) { return cluster.SetRtt(id, ms); });
  } else if (verb == "delay-produce") {
    int count = 0, ms = -1;
    if (!(in >> count >> ms) || count < 1 || count > 100000 || ms < 0) {
      return "usage: delay-produce <count> <ms>";
    }
    std::vector<std::pair<rd_kafka_resp_err_t, int>> delays(static_cast<size_t>(count),
                                                            {RD_KAFKA_RESP_ERR_NO_ERROR, ms});
    each_broker([&](int32_t id) {
      return cluster.PushBrokerErrorRtts(id, coffer::testing::KafkaApi::kProduce, delays);
    });
  } else if (verb == "clear-produce") {
    cluster.ClearRequestErrors(coffer::testing::KafkaApi::kProduce);
  } else {
    return "unknown command \"" + verb + "\" (down, up, rtt, delay-produce, clear-produce)";
  }
  return status.ok() ? "" : std::string(status.message());
}

// The whole program; main() only adds a last-resort handler around it.
int Run(int argc, char** argv) {
  CLI::App app{"Coffer dev broker: librdkafka's in-memory mock Kafka cluster on loopback"};
  int brokers = 1;
  std::vector<std::string> topics;
  std::string port_file;
  bool show_version = false;
  bool control_stdin = false;
  app.add_option("--brokers", brokers, "Number of mock brokers (ids 1..N)")
      ->check(CLI::Range(1, 16));
  app.add_option("--topics", topics, "Topics to create, name:partitions (comma separated)")
      ->delimiter(',');
  app.add_option("--port-file", port_file,
                 "Also write the bootstrap servers (host:port,...) to this file");
  app.add_flag("--control-stdin", control_stdin,
               "Read fault-injection commands from stdin (down, up, rtt MS, delay-produce N MS, "
               "clear-produce)");
  app.add_flag("--version", show_version, "Print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (show_version) {
    std::cout << coffer::version::VersionLine(kProgram) << std::endl;
    return 0;
  }

  std::vector<TopicSpec> specs;
  for (const std::string& text : topics) {
    TopicSpec spec;
    std::string error;
    if (!ParseTopic(text, &spec, &error)) {
      std::cerr << kProgram << ": " << error << std::endl;
      return 2;
    }
    specs.push_back(spec);
  }

  // Block the stop signals before librdkafka starts its threads, so they inherit the mask and
  // sigwait below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto cluster = coffer::testing::KafkaMockCluster::Create(brokers);
  if (!cluster.ok()) {
    std::cerr << kProgram << ": " << cluster.status() << std::endl;
    return 1;
  }
  for (const TopicSpec& spec : specs) {
    if (auto status = (*cluster)->CreateTopic(spec.name, spec.partitions); !status.ok()) {
      std::cerr << kProgram << ": " << status << std::endl;
      return 1;
    }
  }
  const std::string& bootstrap = (*cluster)->bootstrap_servers();
  if (!port_file.empty() && !WriteFileAtomically(port_file, bootstrap + "\n")) {
    std::cerr << kProgram << ": cannot write --port-file " << port_file << std::endl;
    return 1;
  }
  std::cout << "bootstrap=" << bootstrap << std::endl;
  std::cerr << kProgram << ": " << brokers << " broker(s) on " << bootstrap << ", " << specs.size()
            << " topic(s); stop with SIGTERM or SIGINT" << std::endl;

  std::mutex cluster_mu;  // guards *cluster between the control thread and shutdown
  if (control_stdin) {
    // Detached: it may block in a read at exit, which is harmless.
    std::thread([&cluster, &cluster_mu] {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        std::lock_guard<std::mutex> lock(cluster_mu);
        if (!*cluster) return;
        std::string error = ApplyCommand(**cluster, line);
        std::cout << (error.empty() ? "ok " + line : "error " + error) << std::endl;
        std::cerr << kProgram << ": control \"" << line << "\": " << (error.empty() ? "ok" : error)
                  << std::endl;
      }
    }).detach();
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << kProgram << ": received signal " << signal_number << ", stopping" << std::endl;
  {
    std::lock_guard<std::mutex> lock(cluster_mu);
    cluster->reset();
  }
  if (!port_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(port_file, ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Run() turns every expected failure into an exit status. Anything thrown past it (a CLI11
  // definition error, std::bad_alloc) is reported here instead of by std::terminate.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", kProgram, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", kProgram);
  }
  return 1;
}
