#include "pkg/http/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "pkg/http/url.h"
#include "pkg/log/log.h"

namespace coffer::http {

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

std::string HttpRequest::HeaderList(std::string_view name) const {
  std::string out;
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size() ||
        !std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      continue;
    }
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

HttpResponse JsonError(int http_status, int grpc_code, std::string_view message) {
  HttpResponse res;
  res.status = http_status;
  nlohmann::json body = {
      {"code", grpc_code}, {"message", std::string(message)}, {"details", nlohmann::json::array()}};
  // Messages may come from peers and hold arbitrary bytes; never throw on bad UTF-8.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

namespace {

constexpr int kResourceExhausted = 8;  // google.rpc.Code
constexpr int kUnavailable = 14;

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(fmt::format("cannot read TLS file '{}'", path));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

std::string AddressText(const sockaddr* addr) {
  if (addr == nullptr) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, INET_ADDRSTRLEN);
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    }
  }
  return text;
}

// Connections are file descriptors: a soft limit of 1024 (a common default) would let a few
// hundred clients starve the database and Kafka clients of sockets. Raised once per process to
// the hard limit, which orchestrators set high.
void RaiseOpenFilesLimit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  });
}

// Keeps MHD from unescaping the path and query: the REST gateway needs the raw path ("%2F"
// inside a variable is not a separator), and query values are decoded below.
size_t NoUnescape(void*, MHD_Connection*, char* s) { return std::strlen(s); }

void MhdLog(void* cls, const char* format, va_list ap) {
  char line[512];
  std::vsnprintf(line, sizeof(line), format, ap);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  // Client mistakes (bad request lines, resets) land here too: debug, so clients cannot flood
  // the log.
  log::Debug("http server", {{"server", *static_cast<const std::string*>(cls)}, {"mhd", text}});
}

}  // namespace

// One request from its headers to its answer. Owned by MHD's per-request context pointer and
// freed when MHD reports the request completed.
struct HttpServer::Exchange {
  HttpServer::Impl* impl = nullptr;
  MHD_Connection* connection = nullptr;
  HttpRequest request;
  bool answered = false;  // a response was queued (inline or by a worker)
  bool dispatched = false;
  size_t charged = 0;            // body bytes charged against max_buffered_body_bytes
  bool counted_address = false;  // counted in Impl::per_address
};

struct HttpServer::Impl {
  Impl(HttpServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  HttpServerOptions options;
  Handler handler;
  MHD_Daemon* daemon = nullptr;
  int port = 0;
  std::string tls_cert;  // PEM; MHD keeps pointers into these while it runs
  std::string tls_key;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Exchange*> queue;  // guarded by mu
  int unfinished = 0;           // guarded by mu: dispatched requests MHD has not completed
  std::unordered_map<std::string, int> per_address;  // guarded by mu: requests in flight
  bool stopping = false;                             // guarded by mu
  std::vector<std::thread> workers;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> body_too_large{0};
  std::atomic<uint64_t> queue_full{0};
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> address_busy{0};
  std::atomic<size_t> buffered{0};

  // Charges `n` more body bytes to `exchange`; false when the shared budget has no room.
  bool Charge(Exchange* exchange, size_t n) {
    size_t now = buffered.load();
    do {
      if (now + n > options.max_buffered_body_bytes) return false;
    } while (!buffered.compare_exchange_weak(now, now + n));
    exchange->charged += n;
    return true;
  }

  MHD_Result OnRequest(MHD_Connection* connection, const char* url, const char* method,
                       const char* upload_data, size_t* upload_data_size, void** con_cls) {
    // An exception must not unwind through libmicrohttpd's C frames: close the connection.
    try {
      return Process(connection, url, method, upload_data, upload_data_size, con_cls);
    } catch (const std::exception& e) {
      log::Warn("http request failed", {{"server", options.name}, {"error", e.what()}});
    } catch (...) {
      log::Warn("http request failed", {{"server", options.name}});
    }
    return MHD_NO;
  }
  MHD_Result Process(MHD_Connection* connection, const char* url, const char* method,
                     const char* upload_data, size_t* upload_data_size, void** con_cls);
  void WorkerLoop();
  // Answers 503 + Retry-After (from the event thread).
  MHD_Result Busy(Exchange* exchange);
  // Queues `response` on the exchange's connection (from the event thread, or from any thread
  // while the connection is suspended). False when MHD refused it (out of memory).
  static bool Queue(Exchange* exchange, const HttpResponse& response);
  HttpResponse Run(const HttpRequest& request);
};

namespace {

MHD_Result AccessCallback(void* cls, MHD_Connection* connection, const char* url,
                          const char* method, const char*, const char* upload_data,
                          size_t* upload_data_size, void** con_cls) {
  return static_cast<HttpServer::Impl*>(cls)->OnRequest(connection, url, method, upload_data,
                                                        upload_data_size, con_cls);
}

void CompletedCallback(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  auto* exchange = static_cast<HttpServer::Exchange*>(*con_cls);
  *con_cls = nullptr;
  if (exchange == nullptr) return;
  HttpServer::Impl* impl = exchange->impl;
  impl->buffered.fetch_sub(exchange->charged);
  if (exchange->dispatched || exchange->counted_address) {
    std::lock_guard<std::mutex> lock(impl->mu);
    if (exchange->dispatched) --impl->unfinished;
    if (exchange->counted_address) {
      auto it = impl->per_address.find(exchange->request.peer);
      if (it != impl->per_address.end() && --it->second <= 0) impl->per_address.erase(it);
    }
    impl->cv.notify_all();
  }
  delete exchange;
}

void ConnectionCallback(void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
  auto* impl = static_cast<HttpServer::Impl*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    impl->connections_open.fetch_add(1);
  } else {
    impl->connections_open.fetch_sub(1);
  }
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  headers->emplace_back(key != nullptr ? key : "", value != nullptr ? value : "");
  return MHD_YES;
}

MHD_Result CollectArgument(void* cls, MHD_ValueKind, const char* key, const char* value) {
  // Raw (NoUnescape) apart from '+' → ' ', which MHD applies first; decode like any query.
  auto* query = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  auto decode = [](const char* s) {
    std::string raw = s != nullptr ? s : "";
    std::string decoded;
    return PercentDecode(raw, &decoded) ? decoded : raw;
  };
  query->emplace_back(decode(key), decode(value));
  return MHD_YES;
}

}  // namespace

bool HttpServer::Impl::Queue(Exchange* exchange, const HttpResponse& response) {
  MHD_Response* r = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return false;
  if (!response.content_type.empty()) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  }
  for (const auto& [key, value] : response.headers) {
    MHD_add_response_header(r, key.c_str(), value.c_str());
  }
  int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  const bool queued =
      MHD_queue_response(exchange->connection, static_cast<unsigned>(status), r) == MHD_YES;
  MHD_destroy_response(r);
  exchange->answered = queued;
  return queued;
}

HttpResponse HttpServer::Impl::Run(const HttpRequest& request) {
  requests.fetch_add(1);
  try {
    return handler(request);
  } catch (const std::exception& e) {
    log::Warn("http handler threw", {{"server", options.name}, {"error", e.what()}});
  } catch (...) {
    log::Warn("http handler threw", {{"server", options.name}});
  }
  return JsonError(500, 13, "internal error");
}

MHD_Result HttpServer::Impl::Process(MHD_Connection* connection, const char* url,
                                     const char* method, const char* upload_data,
                                     size_t* upload_data_size, void** con_cls) {
  auto* exchange = static_cast<Exchange*>(*con_cls);
  if (exchange == nullptr) {
    // Headers are in: build the request, refuse an announced oversize body before reading it.
    exchange = new Exchange;
    *con_cls = exchange;
    exchange->impl = this;
    exchange->connection = connection;
    HttpRequest& req = exchange->request;
    req.method = method != nullptr ? method : "";
    req.path = url != nullptr ? url : "";
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &req.headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectArgument, &req.query);
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info != nullptr) req.peer = AddressText(info->client_addr);
    req.tls = !tls_cert.empty();  // written before the event threads start
    std::string_view length = req.Header("Content-Length");
    uint64_t announced = 0;
    if (!length.empty() &&
        absl::SimpleAtoi(absl::string_view(length.data(), length.size()), &announced) &&
        announced > options.max_body_bytes) {
      body_too_large.fetch_add(1);
      return Queue(exchange, JsonError(413, kResourceExhausted,
                                       fmt::format("request body exceeds the limit of {} bytes",
                                                   options.max_body_bytes)))
                 ? MHD_YES
                 : MHD_NO;
    }
    if (announced > 0) {
      // The whole announced body is charged now, so memory is promised before it is used.
      if (!Charge(exchange, static_cast<size_t>(announced))) return Busy(exchange);
      req.body.reserve(static_cast<size_t>(announced));
    }
    return MHD_YES;
  }
  if (exchange->answered) {
    // Body bytes after an early answer are discarded by MHD; nothing more to do.
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (exchange->dispatched) return MHD_NO;  // resumed without an answer: MHD could not queue it
  if (*upload_data_size > 0) {
    const size_t total = exchange->request.body.size() + *upload_data_size;
    if (total > options.max_body_bytes) {
      // A chunked body (no Content-Length) passed the limit. MHD cannot answer in the middle of
      // an upload, so the connection is closed: the client sees a reset, the server keeps at
      // most max_body_bytes.
      body_too_large.fetch_add(1);
      log::Debug("http request body above the limit; connection closed",
                 {{"server", options.name}, {"limit", options.max_body_bytes}});
      return MHD_NO;
    }
    if (total > exchange->charged && !Charge(exchange, total - exchange->charged)) {
      // A chunked body and the shared budget is spent: this upload is cut off.
      log::Debug("http body budget exhausted; connection closed", {{"server", options.name}});
      return MHD_NO;
    }
    exchange->request.body.append(upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }

  // The whole request is in.
  for (const std::string& path : options.inline_paths) {
    if (exchange->request.path == path) {
      return Queue(exchange, Run(exchange->request)) ? MHD_YES : MHD_NO;
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  if (stopping) {
    lock.unlock();
    return Queue(exchange, JsonError(503, kUnavailable, "server is shutting down")) ? MHD_YES
                                                                                    : MHD_NO;
  }
  if (static_cast<int>(queue.size()) >= options.max_queued_requests) {
    lock.unlock();
    queue_full.fetch_add(1);
    return Busy(exchange);
  }
  if (options.max_requests_per_address > 0) {
    int& in_flight = per_address[exchange->request.peer];
    if (in_flight >= options.max_requests_per_address) {
      lock.unlock();
      address_busy.fetch_add(1);
      return Busy(exchange);
    }
    ++in_flight;
    exchange->counted_address = true;
  }
  exchange->dispatched = true;
  ++unfinished;
  MHD_suspend_connection(connection);
  queue.push_back(exchange);
  lock.unlock();
  cv.notify_one();
  return MHD_YES;
}

MHD_Result HttpServer::Impl::Busy(Exchange* exchange) {
  HttpResponse busy = JsonError(503, kUnavailable, "server busy, retry later");
  busy.headers.emplace_back("Retry-After", "1");
  return Queue(exchange, busy) ? MHD_YES : MHD_NO;
}

void HttpServer::Impl::WorkerLoop() {
  while (true) {
    Exchange* exchange = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [this] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping and drained
      exchange = queue.front();
      queue.pop_front();
    }
    // The connection is suspended: MHD neither reads it nor frees the exchange until resumed.
    MHD_Connection* connection = exchange->connection;
    Queue(exchange, Run(exchange->request));
    MHD_resume_connection(connection);  // after this the exchange belongs to MHD again
  }
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

HttpServerStats HttpServer::Stats() const {
  HttpServerStats s;
  s.requests = impl_->requests.load();
  s.body_too_large = impl_->body_too_large.load();
  s.queue_full = impl_->queue_full.load();
  int64_t open = impl_->connections_open.load();
  s.connections_open = open > 0 ? static_cast<uint64_t>(open) : 0;
  s.address_busy = impl_->address_busy.load();
  s.buffered_body_bytes = impl_->buffered.load();
  std::lock_guard<std::mutex> lock(impl_->mu);
  s.queued = impl_->queue.size();
  return s;
}

absl::StatusOr<int> HttpServer::Start() {
  Impl& m = *impl_;
  const HttpServerOptions& o = m.options;
  if (m.daemon != nullptr) {
    return absl::FailedPreconditionError(fmt::format("{}: server already started", o.name));
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: TLS needs both a certificate and a key file", o.name));
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG;
  if (!o.tls_cert_file.empty()) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      return absl::FailedPreconditionError(
          fmt::format("{}: this libmicrohttpd was built without TLS", o.name));
    }
    auto cert = ReadPem(o.tls_cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(o.tls_key_file);
    if (!key.ok()) return key.status();
    m.tls_cert = std::move(*cert);
    m.tls_key = std::move(*key);
    flags |= MHD_USE_TLS;
  }

  std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  sockaddr_storage addr{};
  if (host.empty() || host == "0.0.0.0") {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(static_cast<uint16_t>(o.port));
  } else if (auto* in = reinterpret_cast<sockaddr_in*>(&addr);
             inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(o.port));
  } else if (auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
             inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(o.port));
    flags |= MHD_USE_IPv6;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("{}: host must be an IP address or localhost", o.name));
  }
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError(fmt::format("{}: port out of range", o.name));
  }

  RaiseOpenFilesLimit();
  m.stopping = false;
  std::vector<MHD_OptionItem> options = {
      {MHD_OPTION_CONNECTION_LIMIT, std::max(1, o.max_connections), nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, std::max(0, o.max_connections_per_address), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(o.idle_timeout.count()), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(o.max_header_bytes), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&CompletedCallback), nullptr},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&ConnectionCallback), &m},
      {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&NoUnescape), nullptr},
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&MhdLog),
       const_cast<std::string*>(&o.name)},
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
  };
  // A pool of one is MHD's single internal polling thread (it warns when asked for a pool of 1).
  if (o.event_threads > 1)
    options.push_back({MHD_OPTION_THREAD_POOL_SIZE, o.event_threads, nullptr});
  if (!m.tls_cert.empty()) {
    options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(m.tls_cert.c_str())});
    options.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(m.tls_key.c_str())});
  }
  options.push_back({MHD_OPTION_END, 0, nullptr});
  m.daemon =
      MHD_start_daemon(flags, static_cast<uint16_t>(o.port), nullptr, nullptr, &AccessCallback, &m,
                       MHD_OPTION_ARRAY, options.data(), MHD_OPTION_END);
  if (m.daemon == nullptr) {
    return absl::UnavailableError(
        fmt::format("{}: cannot listen on {}:{}", o.name, o.host, o.port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(m.daemon, MHD_DAEMON_INFO_BIND_PORT);
  m.port = info != nullptr ? info->port : o.port;
  for (int i = 0; i < std::max(1, o.worker_threads); ++i) {
    m.workers.emplace_back([&m] { m.WorkerLoop(); });
  }
  return m.port;
}

void HttpServer::Stop() {
  Impl& m = *impl_;
  if (m.daemon == nullptr) return;
  std::deque<Exchange*> waiting;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopping = true;
    waiting.swap(m.queue);
  }
  m.cv.notify_all();
  // Queued requests never started: answer them now (their connections are suspended, so this
  // thread may queue the response), then let running handlers finish.
  for (Exchange* exchange : waiting) {
    MHD_Connection* connection = exchange->connection;
    Impl::Queue(exchange, JsonError(503, kUnavailable, "server is shutting down"));
    MHD_resume_connection(connection);
  }
  for (std::thread& t : m.workers) t.join();
  m.workers.clear();
  {
    // Answers queued by workers go out on the event threads; give them a moment to be sent
    // before the connections are closed (a client that stopped reading cannot hold Stop()).
    std::unique_lock<std::mutex> lock(m.mu);
    m.cv.wait_for(lock, std::chrono::seconds(5), [&m] { return m.unfinished == 0; });
  }
  MHD_stop_daemon(m.daemon);
  m.daemon = nullptr;
}

}  // namespace coffer::http
