// A request whose bytes do not parse is the client's mistake: INVALID_ARGUMENT naming the string
// field with bad UTF-8 (never its value), not gRPC's default INTERNAL with an empty message.
// Sent as raw bytes through a generic stub to real generated services.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "coffer/identity/v1/identity.grpc.pb.h"
#include "coffer/vault/v1/vault.grpc.pb.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Wire format helpers: a length-delimited field.
std::string Field(int number, const std::string& bytes) {
  std::string out;
  out.push_back(static_cast<char>((number << 3) | 2));
  out.push_back(static_cast<char>(bytes.size()));  // short payloads only (< 128 bytes)
  return out + bytes;
}

class RequestParsingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&identity_);
    builder.RegisterService(&records_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status Call(const std::string& method, const std::string& bytes) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status result;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      result = std::move(s);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    return result;
  }

  // Services with no handlers: parsing happens before the (UNIMPLEMENTED) handler runs.
  coffer::identity::v1::IdentityService::Service identity_;
  coffer::vault::v1::RecordService::Service records_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

TEST_F(RequestParsingTest, InvalidUtf8NamesTheFieldNotTheValue) {
  const std::string secret = "hunter2\xff\xfe";
  grpc::Status s =
      Call("/coffer.identity.v1.IdentityService/Login", Field(1, "alice") + Field(2, secret));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "field 'password' must be valid UTF-8");
  EXPECT_THAT(s.error_message(), Not(HasSubstr("hunter2")));
}

TEST_F(RequestParsingTest, NestedFieldsAreNamedByPath) {
  // CreateRecordRequest.record (1) → Record.name (4), with an overlong encoding of '/'.
  grpc::Status s =
      Call("/coffer.vault.v1.RecordService/CreateRecord", Field(1, Field(4, "a\xc0\xaf")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "field 'record.name' must be valid UTF-8");
}

TEST_F(RequestParsingTest, GarbageIsMalformedNotInternal) {
  grpc::Status s = Call("/coffer.identity.v1.IdentityService/Login", std::string("\x0a\x7f", 2));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "malformed request message");
}

TEST_F(RequestParsingTest, ValidRequestsReachTheHandler) {
  grpc::Status s = Call("/coffer.identity.v1.IdentityService/Login",
                        Field(1, "al\xc3\xa9") + Field(2, "pässwörd"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);  // the empty handler ran
}

}  // namespace
