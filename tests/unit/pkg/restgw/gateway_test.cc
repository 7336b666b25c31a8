// REST gateway end to end on loopback: a real gRPC server (pkg/grpcx) running a test service,
// the gateway's HTTP server in front of it, and httplib::Client requests.
#include "pkg/restgw/gateway.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <variant>

#include "coffer/identity/v1/identity.pb.h"
#include "coffer/vault/v1/admin.pb.h"
#include "coffer/vault/v1/files.pb.h"
#include "coffer/vault/v1/spaces.pb.h"
#include "coffer/vault/v1/sync.pb.h"
#include "coffer/vault/v1/vault.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "pkg/grpcx/server.h"
#include "pkg/restgw/server.h"
#include "restgw_test.grpc.pb.h"

namespace coffer::restgw {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
namespace t = ::coffer::restgw::test;

constexpr char kService[] = "coffer.restgw.test.TestService";

// Echoes what it received so tests can check the gateway's decoding.
class TestServiceImpl final : public t::TestService::Service {
 public:
  grpc::Status GetItem(grpc::ServerContext* ctx, const t::GetItemRequest* req,
                       t::Echo* out) override {
    Fill(ctx, "GetItem", out);
    *out->mutable_get() = *req;
    return grpc::Status::OK;
  }
  grpc::Status CreateItem(grpc::ServerContext* ctx, const t::CreateItemRequest* req,
                          t::Echo* out) override {
    Fill(ctx, "CreateItem", out);
    *out->mutable_create() = *req;
    return grpc::Status::OK;
  }
  grpc::Status UpdateItem(grpc::ServerContext* ctx, const t::UpdateItemRequest* req,
                          t::Echo* out) override {
    Fill(ctx, "UpdateItem", out);
    *out->mutable_update() = *req;
    return grpc::Status::OK;
  }
  grpc::Status DeleteItem(grpc::ServerContext* ctx, const t::DeleteItemRequest* req,
                          t::Echo* out) override {
    Fill(ctx, "DeleteItem", out);
    *out->mutable_delete_() = *req;
    return grpc::Status::OK;
  }
  grpc::Status SearchItems(grpc::ServerContext* ctx, const t::SearchItemsRequest* req,
                           t::Echo* out) override {
    Fill(ctx, "SearchItems", out);
    *out->mutable_search() = *req;
    return grpc::Status::OK;
  }
  grpc::Status ArchiveItem(grpc::ServerContext* ctx, const t::ArchiveItemRequest* req,
                           t::Echo* out) override {
    Fill(ctx, "ArchiveItem", out);
    *out->mutable_archive() = *req;
    return grpc::Status::OK;
  }
  grpc::Status GetBook(grpc::ServerContext* ctx, const t::GetBookRequest* req,
                       t::Echo* out) override {
    Fill(ctx, "GetBook", out);
    *out->mutable_book() = *req;
    return grpc::Status::OK;
  }
  grpc::Status Fail(grpc::ServerContext*, const t::FailRequest* req, t::Echo*) override {
    if (req->sleep_ms() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(req->sleep_ms()));
    if (req->retry_after_ms() > 0) {
      google::rpc::RetryInfo retry;
      retry.mutable_retry_delay()->set_seconds(req->retry_after_ms() / 1000);
      retry.mutable_retry_delay()->set_nanos((req->retry_after_ms() % 1000) * 1000000);
      google::rpc::Status details;
      details.set_code(req->code());
      details.set_message(req->message());
      details.add_details()->PackFrom(retry);
      return grpc::Status(static_cast<grpc::StatusCode>(req->code()), req->message(),
                          details.SerializeAsString());
    }
    return grpc::Status(static_cast<grpc::StatusCode>(req->code()), req->message());
  }

 private:
  static void Fill(grpc::ServerContext* ctx, const std::string& method, t::Echo* out) {
    out->set_method(method);
    const auto& md = ctx->client_metadata();
    if (auto it = md.find("authorization"); it != md.end()) {
      out->set_authorization(std::string(it->second.data(), it->second.size()));
    }
    if (auto it = md.find("x-request-id"); it != md.end()) {
      out->set_request_id(std::string(it->second.data(), it->second.size()));
    }
    if (auto it = md.find("x-forwarded-for"); it != md.end()) {
      out->set_client_address(std::string(it->second.data(), it->second.size()));
    }
  }
};

class RestGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_ = std::make_unique<grpcx::GrpcServer>(grpcx::GrpcServerOptions{
        .address = "127.0.0.1:0", .shutdown_grace = std::chrono::milliseconds(200)});
    grpc_->RegisterService(&service_);
    absl::StatusOr<int> grpc_port = grpc_->Start();
    ASSERT_TRUE(grpc_port.ok()) << grpc_port.status();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(*grpc_port),
                                   grpc::InsecureChannelCredentials());
    absl::StatusOr<std::unique_ptr<RestServer>> rest =
        StartRestGateway({.host = "127.0.0.1", .port = 0}, {kService}, channel_);
    ASSERT_TRUE(rest.ok()) << rest.status();
    rest_ = *std::move(rest);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", rest_->port());
    client_->set_read_timeout(10, 0);
    client_->set_url_encode(false);  // send targets exactly as the tests write them
  }

  void TearDown() override {
    client_.reset();
    if (rest_) rest_->Stop();
    if (grpc_) grpc_->Shutdown();
  }

  // A gateway with custom options over the same gRPC server, for direct Handle() calls.
  std::unique_ptr<RestGateway> Gateway(RestGatewayOptions options) {
    absl::StatusOr<std::unique_ptr<RestGateway>> gw =
        RestGateway::Create({kService}, channel_, std::move(options));
    EXPECT_TRUE(gw.ok()) << gw.status();
    return gw.ok() ? *std::move(gw) : nullptr;
  }

  static Json BodyOf(const httplib::Result& res) {
    EXPECT_TRUE(res) << "HTTP error " << httplib::to_string(res.error());
    if (!res) return Json();
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    return Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  }

  // Asserts a google.rpc.Status shaped error body and returns its message.
  static std::string ExpectError(const httplib::Result& res, int http_status, int grpc_code) {
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, http_status) << res->body;
    Json j = BodyOf(res);
    EXPECT_EQ(j.value("code", -1), grpc_code) << res->body;
    EXPECT_TRUE(j.contains("details") && j["details"].is_array()) << res->body;
    return j.value("message", "");
  }

  TestServiceImpl service_;
  std::unique_ptr<grpcx::GrpcServer> grpc_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<RestServer> rest_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(RestGatewayTest, GetWithPathVariablesAndQueryParameters) {
  auto res = client_->Get(
      "/v1/shelves/s%201/items/it%2F2?pageSize=5&tags=a&tags=b%20c&color=COLOR_RED"
      "&inner.revision=7&inner.note=hi+there&flag=true&colors=COLOR_GREEN&colors=1"
      "&ratio=0.25&big=18446744073709551615");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json j = BodyOf(res);
  EXPECT_EQ(j["method"], "GetItem");
  const Json& g = j["get"];
  EXPECT_EQ(g["shelfId"], "s 1");
  EXPECT_EQ(g["itemId"], "it/2");
  EXPECT_EQ(g["pageSize"], 5);
  EXPECT_EQ(g["tags"], Json({"a", "b c"}));
  EXPECT_EQ(g["color"], "COLOR_RED");
  EXPECT_EQ(g["inner"]["revision"], "7");  // int64 is a JSON string
  EXPECT_EQ(g["inner"]["note"], "hi there");
  EXPECT_EQ(g["flag"], true);
  EXPECT_EQ(g["colors"], Json({"COLOR_GREEN", "COLOR_RED"}));
  EXPECT_EQ(g["ratio"], 0.25);
  EXPECT_EQ(g["big"], "18446744073709551615");
}

TEST_F(RestGatewayTest, QueryAcceptsProtoNamesAndWellKnownTypes) {
  auto res = client_->Get(
      "/v1/shelves/s/items/i?page_size=9&inner.id=x&blob=aGVsbG8%3D&since=2024-01-02T03:04:05Z"
      "&limit=42");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json g = BodyOf(res)["get"];
  EXPECT_EQ(g["pageSize"], 9);
  EXPECT_EQ(g["inner"]["id"], "x");
  EXPECT_EQ(g["blob"], "aGVsbG8=");  // bytes round-trip as base64
  EXPECT_EQ(g["since"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(g["limit"], "42");
  // Defaults are printed so clients see the whole schema.
  EXPECT_EQ(g["flag"], false);
  EXPECT_EQ(g["tags"], Json::array());
}

TEST_F(RestGatewayTest, BodyFieldMappingWithPathAndQuery) {
  auto res = client_->Post("/v1/shelves/s9/items?validateOnly=true",
                           R"({"name":"n1","tags":["x","y"],"color":"COLOR_GREEN","count":3,
                               "labels":{"k":"v"}})",
                           "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json c = BodyOf(res)["create"];
  EXPECT_EQ(c["shelfId"], "s9");
  EXPECT_EQ(c["validateOnly"], true);
  EXPECT_EQ(c["item"]["name"], "n1");
  EXPECT_EQ(c["item"]["tags"], Json({"x", "y"}));
  EXPECT_EQ(c["item"]["color"], "COLOR_GREEN");
  EXPECT_EQ(c["item"]["count"], 3);
  EXPECT_EQ(c["item"]["labels"]["k"], "v");
}

TEST_F(RestGatewayTest, BodyStarWithNestedPathVariableAndAdditionalBinding) {
  for (const std::string method : {"PUT", "PATCH"}) {
    std::string body = R"({"item":{"id":"from-body","name":"N"},"expected_version":"4"})";
    auto res = method == "PUT" ? client_->Put("/v1/items/abc", body, "application/json")
                               : client_->Patch("/v1/items/abc", body, "application/json");
    ASSERT_TRUE(res) << method;
    ASSERT_EQ(res->status, 200) << method << " " << res->body;
    Json j = BodyOf(res);
    EXPECT_EQ(j["method"], "UpdateItem");
    EXPECT_EQ(j["update"]["item"]["id"], "abc") << "the path variable wins over the body";
    EXPECT_EQ(j["update"]["item"]["name"], "N");
    EXPECT_EQ(j["update"]["expectedVersion"], "4");
  }
}

TEST_F(RestGatewayTest, DeleteCustomVerbsAndMultiSegmentVariables) {
  auto del = client_->Delete("/v1/items/d1?purge=1");
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_EQ(BodyOf(del)["delete"], Json({{"id", "d1"}, {"purge", true}}));

  auto search = client_->Get("/v1/items:search?query=foo&limit=3");
  ASSERT_TRUE(search);
  ASSERT_EQ(search->status, 200) << search->body;
  EXPECT_EQ(BodyOf(search)["search"], Json({{"query", "foo"}, {"limit", 3}}));

  auto archive = client_->Post("/v1/items/a7:archive", R"({"reason":"old"})", "application/json");
  ASSERT_TRUE(archive);
  ASSERT_EQ(archive->status, 200) << archive->body;
  EXPECT_EQ(BodyOf(archive)["archive"], Json({{"id", "a7"}, {"reason", "old"}}));

  // An empty body with body "*" is an empty message.
  auto empty = client_->Post("/v1/items/a8:archive", "", "application/json");
  ASSERT_TRUE(empty);
  ASSERT_EQ(empty->status, 200) << empty->body;
  EXPECT_EQ(BodyOf(empty)["archive"], Json({{"id", "a8"}, {"reason", ""}}));

  auto book = client_->Get("/v1/shelves/s1/books/a/b%20c");
  ASSERT_TRUE(book);
  ASSERT_EQ(book->status, 200) << book->body;
  EXPECT_EQ(BodyOf(book)["book"]["name"], "shelves/s1/books/a/b c");
}

TEST_F(RestGatewayTest, ForwardsAuthorizationAndRequestIdAsMetadata) {
  httplib::Headers headers = {{"Authorization", "Bearer tok-123"},
                              {"X-Request-Id", "rid-42"},
                              {"X-Other", "not-forwarded"}};
  auto res = client_->Get("/v1/items:search", headers);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json j = BodyOf(res);
  EXPECT_EQ(j["authorization"], "Bearer tok-123");
  EXPECT_EQ(j["requestId"], "rid-42");

  auto without = client_->Get("/v1/items:search");
  ASSERT_TRUE(without);
  EXPECT_EQ(BodyOf(without)["authorization"], "");
}

// The service learns the REST client's address from the gateway, never from the client's own
// X-Forwarded-For (this gateway trusts no proxy).
TEST_F(RestGatewayTest, ForwardsThePeerAddressNotTheClientsClaim) {
  auto res = client_->Get("/v1/items:search", {{"X-Forwarded-For", "203.0.113.9"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(BodyOf(res)["clientAddress"], "127.0.0.1");
}

// A service's RetryInfo reaches HTTP clients as Retry-After (rounded up to whole seconds).
TEST_F(RestGatewayTest, RetryInfoBecomesRetryAfter) {
  auto res = client_->Post("/v1/fail", R"({"code":8,"message":"slow down","retryAfterMs":1500})",
                           "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "2");
  auto plain = client_->Post("/v1/fail", R"({"code":8,"message":"no hint"})", "application/json");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_header("Retry-After"));
}

TEST(ClientAddressTest, BelievesForwardedForOnlyFromTrustedProxies) {
  HttpRequest direct;
  direct.peer = "198.51.100.7";
  direct.headers = {{"X-Forwarded-For", "203.0.113.9"}};
  EXPECT_EQ(ClientAddress(direct, {"10.0.0.1"}), "198.51.100.7");

  HttpRequest proxied;
  proxied.peer = "10.0.0.1";
  // A client claimed 192.0.2.1; the outer proxy 10.0.0.2 appended what it saw, then 10.0.0.1.
  proxied.headers = {{"x-forwarded-for", "192.0.2.1, 203.0.113.9, 10.0.0.2"}};
  EXPECT_EQ(ClientAddress(proxied, {"10.0.0.1", "10.0.0.2"}), "203.0.113.9");
  // Garbage stops the walk at the last trusted hop; IPv6 literals pass.
  proxied.headers = {{"X-Forwarded-For", "<script>, 10.0.0.2"}};
  EXPECT_EQ(ClientAddress(proxied, {"10.0.0.1", "10.0.0.2"}), "10.0.0.2");
  proxied.headers = {{"X-Forwarded-For", "2001:db8::1"}};
  EXPECT_EQ(ClientAddress(proxied, {"10.0.0.1"}), "2001:db8::1");
  proxied.headers = {};
  EXPECT_EQ(ClientAddress(proxied, {"10.0.0.1"}), "10.0.0.1");
  // A proxy that appends its own header line: the client's line comes first and is not believed.
  proxied.headers = {{"X-Forwarded-For", "203.0.113.66"}, {"X-Forwarded-For", "198.51.100.4"}};
  EXPECT_EQ(ClientAddress(proxied, {"10.0.0.1"}), "198.51.100.4");
}

TEST_F(RestGatewayTest, UnknownRouteIs404) {
  std::string msg = ExpectError(client_->Get("/v2/nothing"), 404, 5);
  EXPECT_THAT(msg, HasSubstr("no route for GET"));
  EXPECT_THAT(msg, Not(HasSubstr("/v2/nothing")));  // the path is not echoed
  ExpectError(client_->Get("/v1/items/x/y"), 404, 5);
  // The streaming method and the method without a rule have no route.
  ExpectError(client_->Get("/v1/items:stream"), 404, 5);
}

TEST_F(RestGatewayTest, KnownPathWithOtherMethodIs405) {
  auto res = client_->Delete("/v1/items:search");
  std::string msg = ExpectError(res, 405, 12);
  EXPECT_THAT(msg, HasSubstr("not allowed"));
  EXPECT_EQ(res->get_header_value("Allow"), "GET");

  auto res2 = client_->Post("/v1/items/x", "{}", "application/json");
  ExpectError(res2, 405, 12);
  EXPECT_EQ(res2->get_header_value("Allow"), "DELETE, PATCH, PUT");
}

TEST_F(RestGatewayTest, BadJsonBodyIs400) {
  EXPECT_THAT(ExpectError(client_->Post("/v1/fail", "{not json", "application/json"), 400, 3),
              HasSubstr("not valid JSON"));
  EXPECT_THAT(
      ExpectError(client_->Post("/v1/fail", R"({"code":1} trailing)", "application/json"), 400, 3),
      HasSubstr("not valid JSON"));
  // Unknown fields and wrong types are rejected, naming the problem.
  EXPECT_THAT(ExpectError(client_->Post("/v1/fail", R"({"nope":1})", "application/json"), 400, 3),
              HasSubstr("nope"));
  std::string wrong_type = ExpectError(
      client_->Post("/v1/fail", R"({"code":"abc4111111111111111"})", "application/json"), 400, 3);
  EXPECT_THAT(wrong_type, HasSubstr("invalid request body"));
  // The rejected value is never echoed (it may be a card number or a password).
  EXPECT_THAT(wrong_type, Not(HasSubstr("4111111111111111")));
  // body: "item" must be an Item object.
  EXPECT_THAT(
      ExpectError(client_->Post("/v1/shelves/s/items", R"(["x"])", "application/json"), 400, 3),
      HasSubstr("invalid request body"));
}

TEST_F(RestGatewayTest, BadQueryParametersAre400) {
  struct Case {
    std::string target;
    std::string want;
  };
  for (const Case& c :
       std::vector<Case>{{"/v1/shelves/s/items/i?nope=1", "unknown query parameter 'nope'"},
                         {"/v1/shelves/s/items/i?pageSize=abc", "'pageSize': not a 32-bit integer"},
                         {"/v1/shelves/s/items/i?pageSize=99999999999", "not a 32-bit integer"},
                         {"/v1/shelves/s/items/i?color=PURPLE", "not a Color value"},
                         {"/v1/shelves/s/items/i?flag=maybe", "not a boolean"},
                         {"/v1/shelves/s/items/i?pageSize=1&page_size=2", "given more than once"},
                         {"/v1/shelves/s/items/i?inner=x", "set its fields instead"},
                         {"/v1/shelves/s/items/i?labels.k=v", "unknown query parameter 'labels.k'"},
                         {"/v1/shelves/s/items/i?labels=v", "map fields are not supported"},
                         {"/v1/shelves/s/items/i?since=yesterday", "not a valid Timestamp"},
                         {"/v1/shelves/s/items?item.name=x", "names the body field"}}) {
    auto res = c.target.find("/items?") != std::string::npos
                   ? client_->Post(c.target, "{}", "application/json")
                   : client_->Get(c.target);
    EXPECT_THAT(ExpectError(res, 400, 3), HasSubstr(c.want)) << c.target;
  }
  // A rejected value is never echoed (a query parameter may carry a secret).
  EXPECT_THAT(ExpectError(client_->Get("/v1/shelves/s/items/i?pageSize=secret4111"), 400, 3),
              Not(HasSubstr("secret4111")));
}

// Found by tests/fuzz/rest_json (regress-query-invalid-utf8): a query parameter or path
// variable that is not UTF-8 went into a string field, which protobuf cannot print as JSON (nor
// the service parse); for a Timestamp parameter nlohmann's dump() threw and ended the process.
TEST_F(RestGatewayTest, NonUtf8TextForStringFieldsIs400) {
  auto gw = Gateway({});
  ASSERT_NE(gw, nullptr);
  struct Case {
    std::string path;
    std::string query;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"/v1/shelves/s/items/i", "inner.note=ok%FF", "'inner.note': not valid UTF-8"},
           {"/v1/shelves/s/items/i", "tags=a&tags=%C3%28", "'tags': not valid UTF-8"},
           {"/v1/shelves/%ED%A0%80/items/i", "", "'shelf_id': not valid UTF-8"},
           {"/v1/shelves/s/items/i", "since=2024-01-02T03:04:05Z%FF", "not a valid Timestamp"}}) {
    HttpResponse res =
        gw->Handle({.method = "GET", .path = c.path, .query = ParseQueryString(c.query)});
    EXPECT_EQ(res.status, 400) << c.path << "?" << c.query << " " << res.body;
    EXPECT_THAT(Json::parse(res.body)["message"].get<std::string>(), HasSubstr(c.want));
  }
  // Valid UTF-8 still passes; bytes fields take any bytes (as base64).
  std::variant<MappedRequest, HttpResponse> ok =
      gw->MapRequest({.method = "GET",
                      .path = "/v1/shelves/%C3%A9/items/i",
                      .query = ParseQueryString("inner.note=%E2%82%AC&blob=_w%3D%3D")});
  ASSERT_TRUE(std::holds_alternative<MappedRequest>(ok));
  const auto& get = dynamic_cast<const t::GetItemRequest&>(*std::get<MappedRequest>(ok).message);
  EXPECT_EQ(get.shelf_id(), "\xc3\xa9");
  EXPECT_EQ(get.inner().note(), "\xe2\x82\xac");
  EXPECT_EQ(get.blob(), "\xff");
}

// Found by tests/fuzz/rest_json (regress-long-method-echo, regress-long-query-key-echo): the
// method and an unknown parameter's name were echoed whole, so a request could get back an error
// three times its size (invalid UTF-8 bytes each become U+FFFD).
TEST_F(RestGatewayTest, LongMethodsAndParameterNamesAreCutInErrors) {
  auto gw = Gateway({});
  ASSERT_NE(gw, nullptr);
  const std::string long_name(5000, '\x99');
  for (const HttpRequest& request :
       {HttpRequest{.method = long_name, .path = "/v2/nothing"},
        HttpRequest{.method = long_name, .path = "/v1/items:search"},
        HttpRequest{.method = "GET", .path = "/v1/items:search", .query = {{long_name, "1"}}}}) {
    HttpResponse res = gw->Handle(request);
    EXPECT_THAT(res.status, ::testing::AnyOf(400, 404, 405));
    EXPECT_LT(res.body.size(), 400u) << res.body;
  }
  HttpResponse res =
      gw->Handle({.method = "GET", .path = "/v1/items:search", .query = {{"nope", "1"}}});
  EXPECT_THAT(Json::parse(res.body)["message"].get<std::string>(),
              HasSubstr("unknown query parameter 'nope'"));
}

TEST_F(RestGatewayTest, MapRequestIsHandleBeforeTheCall) {
  auto gw = Gateway({.max_body_bytes = 64});
  ASSERT_NE(gw, nullptr);
  std::variant<MappedRequest, HttpResponse> mapped =
      gw->MapRequest({.method = "PUT",
                      .path = "/v1/items/abc",
                      .body = R"({"item":{"id":"x","name":"N"},"expectedVersion":"4"})"});
  ASSERT_TRUE(std::holds_alternative<MappedRequest>(mapped));
  const MappedRequest& call = std::get<MappedRequest>(mapped);
  EXPECT_EQ(call.grpc_method, "/coffer.restgw.test.TestService/UpdateItem");
  EXPECT_EQ(call.path, "/v1/items/{item.id}");
  ASSERT_EQ(call.bindings.size(), 1u);
  EXPECT_EQ(call.bindings[0].value, "abc");
  const auto& update = dynamic_cast<const t::UpdateItemRequest&>(*call.message);
  EXPECT_EQ(update.item().id(), "abc");
  EXPECT_EQ(update.expected_version(), 4);
  // The errors are Handle()'s, before any call.
  for (const auto& [request, status] : std::vector<std::pair<HttpRequest, int>>{
           {{.method = "GET", .path = "/v2/nothing"}, 404},
           {{.method = "DELETE", .path = "/v1/items:search"}, 405},
           {{.method = "GET", .path = "/v1/items:search", .query = {{"nope", "1"}}}, 400},
           {{.method = "POST", .path = "/v1/fail", .body = std::string(65, ' ')}, 413}}) {
    std::variant<MappedRequest, HttpResponse> error = gw->MapRequest(request);
    ASSERT_TRUE(std::holds_alternative<HttpResponse>(error)) << request.path;
    EXPECT_EQ(std::get<HttpResponse>(error).status, status) << request.path;
  }
}

TEST_F(RestGatewayTest, BodyAboveTheLimitIs413) {
  auto gw = Gateway({.max_body_bytes = 64});
  ASSERT_NE(gw, nullptr);
  // Direct Handle() call.
  HttpResponse direct =
      gw->Handle({.method = "POST", .path = "/v1/fail", .body = std::string(65, ' ')});
  EXPECT_EQ(direct.status, 413);
  EXPECT_EQ(Json::parse(direct.body)["code"], 8);

  // Through HTTP: httplib refuses the body before reading it; the answer has the same shape.
  RestServer small({.host = "127.0.0.1", .port = 0},
                   std::shared_ptr<const RestGateway>(std::move(gw)));
  absl::StatusOr<int> port = small.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  std::string msg =
      ExpectError(client.Post("/v1/fail", R"({"message":")" + std::string(200, 'x') + R"("})",
                              "application/json"),
                  413, 8);
  EXPECT_THAT(msg, HasSubstr("exceeds"));
  // Small bodies still pass.
  ExpectError(client.Post("/v1/fail", R"({"code":5})", "application/json"), 404, 5);
  small.Stop();
}

TEST_F(RestGatewayTest, GrpcErrorsMapToHttpStatusAndStatusJson) {
  const std::map<int, int> expected = {
      {1, 499}, {2, 500},  {3, 400},  {4, 504},  {5, 404},  {6, 409},  {7, 403},  {8, 429},
      {9, 400}, {10, 409}, {11, 400}, {12, 501}, {13, 500}, {14, 503}, {15, 500}, {16, 401}};
  for (const auto& [code, http] : expected) {
    std::string body = Json({{"code", code}, {"message", "boom " + std::to_string(code)}}).dump();
    auto res = client_->Post("/v1/fail", body, "application/json");
    ASSERT_TRUE(res) << code;
    EXPECT_EQ(res->status, http) << "gRPC code " << code;
    EXPECT_EQ(Json::parse(res->body), Json({{"code", code},
                                            {"message", "boom " + std::to_string(code)},
                                            {"details", Json::array()}}))
        << res->body;
  }
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOk), 200);
}

TEST_F(RestGatewayTest, DeadlineFromOptionsGives504) {
  auto gw = Gateway({.deadline = std::chrono::milliseconds(100)});
  ASSERT_NE(gw, nullptr);
  // The handler sleeps 1.5 s and then answers OK (code 0): a 504 with DEADLINE_EXCEEDED can only
  // come from the gateway's 100 ms deadline, however slow the machine (no clock is read here).
  HttpResponse res =
      gw->Handle({.method = "POST", .path = "/v1/fail", .body = R"({"sleepMs": 1500})"});
  EXPECT_EQ(res.status, 504) << res.body;
  EXPECT_EQ(Json::parse(res.body)["code"], 4);
}

TEST_F(RestGatewayTest, HandleWorksWithoutHttpAndHeadersAreCaseInsensitive) {
  auto gw = Gateway({});
  ASSERT_NE(gw, nullptr);
  HttpResponse res = gw->Handle({.method = "get",
                                 .path = "/v1/shelves/a/items/b",
                                 .query = ParseQueryString("tags=x&tags=y+z&color=2"),
                                 .headers = {{"AUTHORIZATION", "Bearer q"}}});
  ASSERT_EQ(res.status, 200) << res.body;
  Json j = Json::parse(res.body);
  EXPECT_EQ(j["authorization"], "Bearer q");
  EXPECT_EQ(j["get"]["tags"], Json({"x", "y z"}));
  EXPECT_EQ(j["get"]["color"], "COLOR_GREEN");

  // Header values that cannot be gRPC metadata are refused rather than dropped.
  HttpResponse bad = gw->Handle(
      {.method = "GET", .path = "/v1/items:search", .headers = {{"Authorization", "Bearer \x01"}}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(RestGatewayTest, RoutesListEveryAnnotatedUnaryMethod) {
  auto gw = Gateway({});
  ASSERT_NE(gw, nullptr);
  std::set<std::string> got;
  for (const RouteInfo& r : gw->routes()) {
    got.insert(r.http_method + " " + r.path + " -> " + r.grpc_method + " body=" + r.body);
  }
  const std::string svc = "/coffer.restgw.test.TestService/";
  EXPECT_EQ(got, (std::set<std::string>{
                     "GET /v1/shelves/{shelf_id}/items/{item_id} -> " + svc + "GetItem body=",
                     "POST /v1/shelves/{shelf_id}/items -> " + svc + "CreateItem body=item",
                     "PUT /v1/items/{item.id} -> " + svc + "UpdateItem body=*",
                     "PATCH /v1/items/{item.id} -> " + svc + "UpdateItem body=*",
                     "DELETE /v1/items/{id} -> " + svc + "DeleteItem body=",
                     "GET /v1/items:search -> " + svc + "SearchItems body=",
                     "POST /v1/items/{id}:archive -> " + svc + "ArchiveItem body=*",
                     "GET /v1/{name=shelves/*/books/**} -> " + svc + "GetBook body=",
                     "POST /v1/fail -> " + svc + "Fail body=*"}));
}

TEST(RestGatewayCreateTest, UnknownServiceIsNotFound) {
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  absl::StatusOr<std::unique_ptr<RestGateway>> gw =
      RestGateway::Create({"coffer.nope.v1.Missing"}, channel);
  ASSERT_FALSE(gw.ok());
  EXPECT_EQ(gw.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(RestGateway::Create({kService}, nullptr).ok());
}

TEST(RestGatewayCreateTest, UnreachableBackendIs503) {
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  absl::StatusOr<std::unique_ptr<RestGateway>> gw = RestGateway::Create({kService}, channel);
  ASSERT_TRUE(gw.ok()) << gw.status();
  HttpResponse res = (*gw)->Handle({.method = "GET", .path = "/v1/items:search"});
  EXPECT_EQ(res.status, 503) << res.body;
  EXPECT_EQ(Json::parse(res.body)["code"], 14);
}

// The routes derived from the real protos are exactly the swagger/ paths (minus streaming
// methods, which REST cannot serve), so REST and the published OpenAPI spec agree.
TEST(RestGatewaySwaggerParityTest, RealProtosMatchSwagger) {
  // Reference each API file's generated code so its descriptors are linked and registered.
  ASSERT_NE(coffer::identity::v1::TokenPair::descriptor(), nullptr);
  ASSERT_NE(coffer::vault::v1::GetShardStatusRequest::descriptor(), nullptr);
  ASSERT_NE(coffer::vault::v1::UploadFileMetadata::descriptor(), nullptr);
  ASSERT_NE(coffer::vault::v1::Space::descriptor(), nullptr);
  ASSERT_NE(coffer::vault::v1::SyncRequest::descriptor(), nullptr);
  ASSERT_NE(coffer::vault::v1::CreateRecordRequest::descriptor(), nullptr);

  const std::vector<std::string> services = {
      "coffer.identity.v1.IdentityService", "coffer.vault.v1.RecordService",
      "coffer.vault.v1.SpaceService",       "coffer.vault.v1.FileService",
      "coffer.vault.v1.SyncService",        "coffer.vault.v1.AdminService"};
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  absl::StatusOr<std::unique_ptr<RestGateway>> gw = RestGateway::Create(services, channel);
  ASSERT_TRUE(gw.ok()) << gw.status();

  // "GET /v1/records/{id}" -> method name.
  std::map<std::string, std::string> routes;
  for (const RouteInfo& r : (*gw)->routes()) {
    routes[r.http_method + " " + r.path] = r.grpc_method.substr(r.grpc_method.rfind('/') + 1);
  }
  std::set<std::string> streaming;
  for (const std::string& name : services) {
    const auto* svc = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(svc, nullptr) << name;
    for (int i = 0; i < svc->method_count(); ++i) {
      if (svc->method(i)->client_streaming() || svc->method(i)->server_streaming()) {
        streaming.insert(svc->method(i)->name());
      }
    }
  }

  std::map<std::string, std::string> swagger;
  for (const char* file : {"identity/v1/identity", "vault/v1/vault", "vault/v1/spaces",
                           "vault/v1/files", "vault/v1/sync", "vault/v1/admin"}) {
    std::string path = std::string(COFFER_SOURCE_DIR) + "/swagger/coffer/" + file + ".swagger.json";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    Json doc = Json::parse(in);
    for (const auto& [p, ops] : doc["paths"].items()) {
      for (const auto& [verb, op] : ops.items()) {
        std::string method = op["operationId"];
        if (streaming.count(method) > 0) continue;  // no REST route for streams
        std::string upper = verb;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
        swagger[upper + " " + p] = method;
      }
    }
  }
  EXPECT_EQ(routes, swagger);
  EXPECT_GE(routes.size(), 30u);
  EXPECT_EQ(routes["GET /v1/records/{id}"], "GetRecord");
  EXPECT_EQ(routes["PUT /v1/records/{record.id}"], "UpdateRecord");
  EXPECT_EQ(routes["GET /v1/records:search"], "SearchRecords");
  EXPECT_EQ(streaming.count("Watch"), 1u);
  EXPECT_EQ(routes.count("GET /v1/watch"), 0u);
}

}  // namespace
}  // namespace coffer::restgw
