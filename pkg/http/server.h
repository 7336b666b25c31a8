// The HTTP/1.1 listener under every Coffer HTTP port (REST gateways, identity's OAuth endpoints,
// the admin port), built on GNU libmicrohttpd (Debian's libmicrohttpd12).
//
// Why libmicrohttpd: it enforces its limits before buffering. The request line and headers must
// fit a per-connection memory budget (larger ones get 414/431 and the connection closes);
// connections are counted globally and per client address; idle connections time out; and it
// polls sockets with epoll, so a slow client holds a few kilobytes, never a thread. On top of
// that this class bounds the body (Content-Length above the limit gets 413 before a byte of
// body is read; a chunked body is cut off, and the connection closed, as soon as it passes the
// limit) and runs handlers on its own bounded worker pool, so a slow handler never stalls the
// event loop and a full queue answers 503 at once.
//
// Usage:
//   coffer::http::HttpServer server({.host = "0.0.0.0", .port = 8080},
//                                   [](const HttpRequest& r) { return HttpResponse{...}; });
//   COFFER_ASSIGN_OR_RETURN(int port, server.Start());
//   ...
//   server.Stop();
//
// Lifecycle: construct -> Start() once -> Stop() (also run by the destructor).
// Threading: the handler runs on the worker pool (or, for `inline_paths`, on the event thread,
// which must then answer without blocking) and must be thread-safe. Start/Stop from one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace coffer::http {

// An HTTP request, independent of the server library.
struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // percent-encoded path as sent, without the query string
  // Decoded query parameters in order; a key may repeat (repeated fields).
  std::vector<std::pair<std::string, std::string>> query;
  // Header names are matched case-insensitively (use Header()).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The client's address without port ("192.0.2.7", "2001:db8::1"); empty when unknown.
  std::string peer;
  bool tls = false;  // arrived over TLS

  // The first header named `name` (case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
  // Every header line named `name`, in order, joined with ", " (RFC 9110 §5.3), for list-valued
  // headers a proxy may append as a separate line (X-Forwarded-For).
  std::string HeaderList(std::string_view name) const;
};

// A handler's answer. An empty content_type sends no Content-Type header.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. "Allow"
  std::string body;
};

// Answers one request (on the thread the file comment names). An exception it throws is logged
// and answered 500 with a JsonError body.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Where to listen, TLS, and the limits described in the file comment.
struct HttpServerOptions {
  std::string host = "0.0.0.0";  // an IPv4 or IPv6 literal, or "localhost"
  int port = 0;                  // 0 picks a free port; Start() returns the bound one
  // Event threads polling sockets (each owns a share of the connections).
  int event_threads = 2;
  // Handler threads, and requests allowed to wait for one; beyond that 503 + Retry-After.
  int worker_threads = 8;
  int max_queued_requests = 256;
  // Requests one client address may have waiting or running at once (0 = no limit); beyond it
  // 503 + Retry-After, so one client cannot take every queue slot.
  int max_requests_per_address = 32;
  // Largest request body (Content-Length or chunked); beyond it 413 / connection closed.
  size_t max_body_bytes = 1 << 20;
  // Bodies of all requests being received or served, together (a Content-Length is charged
  // when the headers arrive); beyond it 503 + Retry-After, or a chunked upload is cut off.
  size_t max_buffered_body_bytes = 64u << 20;
  // Per-connection budget for the request line plus headers (and the read buffer); a request
  // whose head does not fit gets 414 or 431.
  size_t max_header_bytes = 32 * 1024;
  // Open connections in all, and from one client address (0 = no per-address limit).
  // (Start() raises the process's soft open-files limit to the hard one.)
  int max_connections = 1024;
  int max_connections_per_address = 128;
  // A connection with no traffic for this long is closed (also bounds keep-alive).
  std::chrono::seconds idle_timeout{15};
  // Paths answered on the event thread without queueing (liveness): their handler must not
  // block. Matched exactly against HttpRequest::path.
  std::vector<std::string> inline_paths;
  // PEM files; TLS when both are set, plaintext when both are empty.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Used in log lines ("restgw", "admin", "identity-http").
  std::string name = "http";
};

// Counters since Start(), for tests and metrics.
struct HttpServerStats {
  uint64_t requests = 0;             // handler calls
  uint64_t body_too_large = 0;       // 413 answers and cut-off chunked bodies
  uint64_t queue_full = 0;           // 503 answers because every worker was busy
  uint64_t connections_open = 0;     // right now
  uint64_t queued = 0;               // requests waiting for a worker right now
  uint64_t address_busy = 0;         // 503 answers because the client had too many in flight
  uint64_t buffered_body_bytes = 0;  // right now, charged against max_buffered_body_bytes
};

class HttpServer {
 public:
  // Neither binds nor starts a thread; Start() does.
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Returns the bound port; UNAVAILABLE when the address cannot be
  // bound, INVALID_ARGUMENT for a bad host or half-configured TLS, NOT_FOUND when a TLS file is
  // missing, FAILED_PRECONDITION when already started.
  absl::StatusOr<int> Start();
  // Stops accepting, answers queued requests with 503, lets running handlers finish, closes
  // every connection and joins the threads. Idempotent.
  void Stop();

  // The bound port once Start() succeeded, else 0.
  int port() const;
  // The counters now; callable from any thread.
  HttpServerStats Stats() const;

  struct Impl;      // defined in server.cc
  struct Exchange;  // one request in flight, defined in server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

// A JSON error body in the google.rpc.Status shape every Coffer HTTP error uses:
// {"code": <grpc code>, "message": "...", "details": []}.
HttpResponse JsonError(int http_status, int grpc_code, std::string_view message);

}  // namespace coffer::http
