#include "net/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "core/id.hpp"
#include "core/log.hpp"
#include "net/http_error.hpp"
#include "net/multipart.hpp"
#include "net/origin_form.hpp"
#include "net/send_now.hpp"
#include "net/static_files.hpp"

namespace wattos::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

// I/O errors are values: every co_await below returns (error_code, ...) instead of throwing.
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t sse_queue_limit = std::size_t{256} * 1024;  // bytes queued before send() waits

// Errors that just mean "the peer went away": not worth a log line.
bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe || ec == beast::error::timeout ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The metric children of a connection's last request. A keep-alive client mostly repeats
// one route, so this spares each request the label vectors and the families' locked map
// lookups; children live as long as their family, so the pointers stay valid.
class request_metrics_cache {
 public:
  void record(core::metric_family<core::counter>& requests, core::metric_family<core::histogram>& latency,
              const std::string& route, const std::string& method, int status, double seconds) {
    if (latency_ == nullptr || route != route_) {
      latency_ = &latency.with({route});
      count_ = nullptr;  // its labels include the route
      route_ = route;
    }
    if (count_ == nullptr || status != status_ || method != method_) {
      count_ = &requests.with({route, method, std::to_string(status)});
      method_ = method;
      status_ = status;
    }
    count_->inc();
    latency_->observe(seconds);
  }

 private:
  std::string route_;
  core::histogram* latency_ = nullptr;  // for route_
  std::string method_;
  int status_ = 0;
  core::counter* count_ = nullptr;  // for route_, method_, status_
};

// State a connection shares with the server's registry, so that shutdown can reach it.
// Touched only on the connection's executor (its strand, or the one thread running io).
struct connection_state {
  explicit connection_state(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;                  // between reading a request head and finishing its response
  std::function<void()> force_close;  // set by the SSE and WebSocket phases
};

class sse_stream_impl final : public sse_stream {
 public:
  sse_stream_impl(beast::tcp_stream& stream, const std::atomic<bool>& draining, milliseconds heartbeat,
                  milliseconds write_timeout)
      : stream_(stream),
        draining_(draining),
        heartbeat_(heartbeat),
        write_timeout_(write_timeout),
        wake_(stream.get_executor()),
        space_(stream.get_executor()) {}

  // Not a coroutine: g++ 12 destroys a by-value coroutine parameter initialised from a
  // braced temporary twice. The event is framed now; only the wait is a coroutine.
  asio::awaitable<bool> send(sse_event event) override {
    if (!closed_) {
      queue_ += format_sse_event(event);
      wake_.cancel();
    }
    return wait_for_space();
  }

  asio::awaitable<bool> send_raw(std::string framed) override {
    if (!closed_) {
      queue_ += framed;
      wake_.cancel();
    }
    return wait_for_space();
  }

  asio::awaitable<bool> wait_for_space() {
    while (queue_.size() > sse_queue_limit && !closed_) {
      space_.expires_at(asio::steady_timer::time_point::max());
      co_await space_.async_wait(use_nothrow);
    }
    co_return !closed_;
  }

  bool closed() const noexcept override { return closed_; }
  bool stopping() const noexcept override { return draining_.load(std::memory_order_relaxed); }

  void close_now() { mark_closed(); }

  // Runs the producer and the writer until the producer returns and its events are
  // written (or the client is gone). Must run on the connection's executor.
  asio::awaitable<void> run(const sse_producer& producer) {
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, run_producer(producer),
                   asio::bind_cancellation_slot(producer_cancel_.slot(), asio::detached));
    asio::co_spawn(executor, watch_disconnect(), asio::detached);
    while (true) {
      if (!queue_.empty() && !closed_) {
        std::string out;
        out.swap(queue_);
        space_.cancel();
        stream_.expires_after(write_timeout_);
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out), use_nothrow);
        if (ec) mark_closed();
        continue;
      }
      if (producer_done_) break;
      if (closed_) {
        wake_.expires_at(asio::steady_timer::time_point::max());
      } else {
        wake_.expires_after(heartbeat_);
      }
      auto [ec] = co_await wake_.async_wait(use_nothrow);
      if (!ec && !closed_ && queue_.empty()) queue_ = ": heartbeat\n\n";
    }
    // End the disconnect watcher and wait for it: it refers to this object.
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    while (!watcher_done_) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(use_nothrow);
    }
  }

 private:
  asio::awaitable<void> run_producer(const sse_producer& producer) {
    try {
      co_await producer(*this);
    } catch (const std::exception& e) {
      if (!closed_) core::log_error("sse producer failed", {{"error", e.what()}});
    }
    producer_done_ = true;
    wake_.cancel();
  }

  // A client that closes its side shows up as a finished read: no need to wait for
  // the next heartbeat write to fail.
  asio::awaitable<void> watch_disconnect() {
    char byte[64];
    while (true) {
      auto [ec, n] = co_await stream_.socket().async_read_some(asio::buffer(byte), use_nothrow);
      if (ec) break;
    }
    watcher_done_ = true;
    mark_closed();
  }

  void mark_closed() {
    if (!closed_) {
      closed_ = true;
      producer_cancel_.emit(asio::cancellation_type::terminal);
    }
    space_.cancel();
    wake_.cancel();
  }

  beast::tcp_stream& stream_;
  const std::atomic<bool>& draining_;
  milliseconds heartbeat_;
  milliseconds write_timeout_;
  asio::steady_timer wake_;   // the writer sleeps on it; cancel() wakes it
  asio::steady_timer space_;  // the producer sleeps on it while the queue is full
  std::string queue_;
  bool closed_ = false;
  bool producer_done_ = false;
  bool watcher_done_ = false;
  asio::cancellation_signal producer_cancel_;
};

class websocket_stream_impl final : public websocket_stream {
 public:
  websocket_stream_impl(beast::tcp_stream&& stream, const std::atomic<bool>& draining)
      : ws_(std::move(stream)), draining_(draining), write_wait_(ws_.get_executor()) {}

  websocket::stream<beast::tcp_stream>& raw() { return ws_; }

  asio::awaitable<core::result<websocket_message>> read() override {
    buffer_.clear();
    auto [ec, n] = co_await ws_.async_read(buffer_, use_nothrow);
    if (ec == websocket::error::closed || is_disconnect(ec)) co_return core::error::cancelled("websocket closed");
    if (ec == websocket::error::message_too_big)
      co_return core::error::payload_too_large("websocket message too large");
    if (ec) co_return core::error::unavailable("websocket read: " + ec.message());
    websocket_message msg;
    msg.binary = ws_.got_binary();
    msg.data = beast::buffers_to_string(buffer_.data());
    co_return msg;
  }

  asio::awaitable<core::status> write(std::string data, bool binary) override {
    while (writing_) {
      write_wait_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wait_.async_wait(use_nothrow);
    }
    writing_ = true;
    ws_.binary(binary);
    auto [ec, n] = co_await ws_.async_write(asio::buffer(data), use_nothrow);
    writing_ = false;
    write_wait_.cancel();
    if (ec) co_return core::error::unavailable("websocket write: " + ec.message());
    co_return core::status{};
  }

  asio::awaitable<void> close(std::uint16_t code, std::string reason) override {
    if (!ws_.is_open()) co_return;
    websocket::close_reason cr(static_cast<websocket::close_code>(code), reason);
    auto [ec] = co_await ws_.async_close(cr, use_nothrow);
    (void)ec;
  }

  bool stopping() const noexcept override { return draining_.load(std::memory_order_relaxed); }

 private:
  websocket::stream<beast::tcp_stream> ws_;
  const std::atomic<bool>& draining_;
  beast::flat_buffer buffer_;
  asio::steady_timer write_wait_;
  bool writing_ = false;
};

// The status line and header block of a response with an in-memory body, written by
// hand: Beast's serializer walks a concatenated buffer view field by field and was the
// largest user-space cost of a small response. Every header entry is written (several
// of one name too); Content-Length and Connection are the server's own. A value with a
// line break is dropped rather than let it split the head (header injection).
std::string response_head(const response& res, std::string_view request_id, std::size_t body_size, bool keep_alive,
                          unsigned version) {
  using namespace std::string_view_literals;  // appends of known length: no strlen per piece
  std::string head;
  head.reserve(256);
  head += version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv;
  head += std::to_string(res.status);
  head += ' ';
  head += http::obsolete_reason(static_cast<http::status>(res.status));
  head += "\r\n"sv;
  auto safe = [](std::string_view text) { return !has_line_break(text); };
  for (const auto& h : res.headers) {
    if (iequals(h.name, "Content-Length") || iequals(h.name, "Connection") || iequals(h.name, "Transfer-Encoding") ||
        (!request_id.empty() && iequals(h.name, "X-Request-Id")) || !safe(h.name) || !safe(h.value)) {
      continue;
    }
    head += h.name;
    head += ": "sv;
    head += h.value;
    head += "\r\n"sv;
  }
  if (!request_id.empty()) {
    head += "X-Request-Id: "sv;
    head += request_id;
    head += "\r\n"sv;
  }
  // 1xx, 204 and 304 carry no body and no length (RFC 9110, 8.6).
  if (res.status >= 200 && res.status != 204 && res.status != 304) {
    head += "Content-Length: "sv;
    head += std::to_string(body_size);
    head += "\r\n"sv;
  }
  if (version == 10 && keep_alive) head += "Connection: keep-alive\r\n"sv;
  if (version != 10 && !keep_alive) head += "Connection: close\r\n"sv;
  head += "\r\n"sv;
  return head;
}

// Writes a prepared response; for HEAD only its head (the length stays that of the body).
template <typename Body>
asio::awaitable<bool> send_message(beast::tcp_stream& stream, http::response<Body>& msg, bool head_only) {
  if (head_only) {
    http::response_serializer<Body> sr(msg);
    auto [ec, n] = co_await http::async_write_header(stream, sr, use_nothrow);
    co_return !ec;
  }
  auto [ec, n] = co_await http::async_write(stream, msg, use_nothrow);
  co_return !ec;
}

}  // namespace

struct http_server::impl {
  impl(asio::io_context& io_in, const core::server_settings& s, const router& r, core::metrics_registry& m,
       server_hooks h)
      : io(io_in),
        settings(s),
        routes(r),
        metrics(m),
        hooks(std::move(h)),
        acceptor(io_in),
        requests(m.counter_family("wattos_http_requests_total", "HTTP requests by route pattern, method and status",
                                  {"route", "method", "status"})),
        latency(m.histogram_family("wattos_http_request_duration_seconds",
                                   "Time from request head to response written, by route pattern", {"route"},
                                   core::default_latency_buckets())),
        open_gauge(m.gauge_family("wattos_http_connections_open", "Open HTTP connections").get()),
        sse_gauge(m.gauge_family("wattos_http_sse_streams_open", "Open Server-Sent Event streams").get()),
        ws_gauge(m.gauge_family("wattos_http_websockets_open", "Open WebSocket sessions").get()),
        refused(m.counter_family("wattos_http_connections_refused_total",
                                 "Connections closed at once because max_connections was reached")
                    .get()) {
    if (hooks.upload_dir.empty()) hooks.upload_dir = std::filesystem::temp_directory_path() / "wattos-uploads";
    if (!hooks.static_dir.empty()) web.emplace(hooks.static_dir);
  }

  asio::io_context& io;
  core::server_settings settings;
  const router& routes;
  core::metrics_registry& metrics;
  server_hooks hooks;
  std::optional<static_files> web;
  std::vector<middleware> chain;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;

  core::metric_family<core::counter>& requests;
  core::metric_family<core::histogram>& latency;
  core::gauge& open_gauge;
  core::gauge& sse_gauge;
  core::gauge& ws_gauge;
  core::counter& refused;

  std::atomic<bool> draining{false};
  std::atomic<std::size_t> open{0};
  std::mutex registry_mutex;
  std::unordered_map<connection_state*, std::weak_ptr<connection_state>> registry;  // guarded by registry_mutex
  std::function<void()> on_drained;                                                 // guarded by registry_mutex
  std::unique_ptr<asio::steady_timer> grace_timer;
  std::unique_ptr<asio::signal_set> signals;

  milliseconds read_timeout() const { return milliseconds(settings.read_timeout_ms); }
  milliseconds idle_timeout() const { return milliseconds(settings.idle_timeout_ms); }
  milliseconds write_timeout() const { return milliseconds(settings.write_timeout_ms); }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> run_connection(std::shared_ptr<connection_state> conn);
  asio::awaitable<response> invoke(request& req, const handler& endpoint);
  asio::awaitable<bool> write_response(connection_state& conn, request& req, response& res, bool head_only,
                                       bool keep_alive, unsigned version);
  asio::awaitable<void> run_sse(connection_state& conn, request& req, response& res, unsigned version);
  asio::awaitable<void> run_websocket(std::shared_ptr<connection_state> conn, http::request<http::empty_body> head,
                                      request& req, const route& r);
  // How reading an upload ended: stored (neither set), refused with an answer, or the
  // client went away (nothing to answer).
  struct upload_outcome {
    std::optional<response> answer;
    bool client_gone = false;
  };
  asio::awaitable<upload_outcome> read_multipart(connection_state& conn, beast::flat_buffer& buffer,
                                                 http::request_parser<http::empty_body>& head, request& req,
                                                 const route& r);
  void unregister(connection_state* conn);
  void close_idle_connections(bool force);

  // A strand per connection when several threads run `io`. With one thread everything
  // is serial already, and the strand would cost each step of each request a dispatch
  // through the strand's queue (7% of the CPU time of a small JSON route).
  asio::any_io_executor connection_executor() {
    if (settings.threads == 1) return io.get_executor();
    return asio::make_strand(io);
  }
};

asio::awaitable<void> http_server::impl::accept_loop() {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(connection_executor(), use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      if (ec == asio::error::no_descriptors) {
        // Out of file descriptors: back off briefly instead of spinning on accept.
        core::log_warn("accept: out of file descriptors");
        asio::steady_timer backoff(io, milliseconds(50));
        co_await backoff.async_wait(use_nothrow);
      }
      continue;
    }
    if (open.load() >= static_cast<std::size_t>(settings.max_connections) || draining.load()) {
      refused.inc();
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Non-blocking for the synchronous first attempt of write_response (asynchronous
    // operations do not depend on this mode).
    socket.non_blocking(true, ignored);
    auto conn = std::make_shared<connection_state>(std::move(socket));
    {
      std::lock_guard lock(registry_mutex);
      registry.emplace(conn.get(), conn);
    }
    open.fetch_add(1);
    open_gauge.inc();
    auto executor = conn->stream.get_executor();
    asio::co_spawn(executor, run_connection(std::move(conn)), asio::detached);
  }
}

void http_server::impl::unregister(connection_state* conn) {
  std::function<void()> done;
  {
    std::lock_guard lock(registry_mutex);
    registry.erase(conn);
    open_gauge.dec();
    if (open.fetch_sub(1) == 1 && draining.load() && on_drained) done = std::exchange(on_drained, {});
  }
  if (done) asio::post(io, std::move(done));
}

void http_server::impl::close_idle_connections(bool force) {
  std::vector<std::shared_ptr<connection_state>> conns;
  {
    std::lock_guard lock(registry_mutex);
    for (auto& [ptr, weak] : registry) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
  }
  for (auto& c : conns) {
    asio::post(c->stream.get_executor(), [c, force] {
      if (c->busy && !force) return;
      if (c->force_close) {
        c->force_close();
        return;
      }
      beast::error_code ignored;
      c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      c->stream.cancel();
    });
  }
}

asio::awaitable<response> http_server::impl::invoke(request& req, const handler& endpoint) {
  // Builds the chain inside out, on this frame: stage i calls middleware i with stage i + 1
  // (the endpoint after the last) as its next. The lambdas are not coroutines: they return
  // the awaitable of the next stage, so nothing they capture has to outlive them; they hold
  // two pointers, which std::function keeps without an allocation.
  constexpr std::size_t inline_stages = 8;
  std::array<handler, inline_stages> local_stages;
  std::vector<handler> more_stages;
  handler* stages = local_stages.data();
  if (chain.size() > inline_stages) {
    more_stages.resize(chain.size());
    stages = more_stages.data();
  }
  for (std::size_t i = chain.size(); i-- > 0;) {
    const handler* next = i + 1 < chain.size() ? &stages[i + 1] : &endpoint;
    stages[i] = [stage = &chain[i], next](request& r) { return (*stage)(r, *next); };
  }
  const handler& first = chain.empty() ? endpoint : stages[0];
  try {
    co_return co_await first(req);
  } catch (const std::exception& e) {
    core::log_error("handler threw",
                    {{"request_id", req.request_id}, {"route", req.route_pattern}, {"error", e.what()}});
  } catch (...) {
    core::log_error("handler threw", {{"request_id", req.request_id}, {"route", req.route_pattern}});
  }
  co_return error_response(500, "internal", "internal error", req.request_id);
}

asio::awaitable<http_server::impl::upload_outcome> http_server::impl::read_multipart(
    connection_state& conn, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& head, request& req,
    const route& r) {
  auto boundary = multipart_boundary(head.get()[http::field::content_type]);
  if (!boundary) co_return upload_outcome{error_response(boundary.err(), req.request_id)};
  std::uint64_t limit = r.options.upload_limit.value_or(settings.max_upload_bytes);
  multipart_limits limits;
  limits.max_file_bytes = limit;
  multipart_disk_writer writer(*boundary, hooks.upload_dir, limits);

  http::request_parser<http::buffer_body> body(std::move(head));
  body.body_limit(limit + std::uint64_t{64} * 1024);  // room for part headers and delimiters
  std::vector<char> chunk(std::size_t{64} * 1024);
  while (!body.is_done()) {
    body.get().body().data = chunk.data();
    body.get().body().size = chunk.size();
    // The deadline restarts per chunk: a large upload may take long, a stalled one may not.
    conn.stream.expires_after(read_timeout());
    auto [ec, n] = co_await http::async_read(conn.stream, buffer, body, use_nothrow);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) {
      co_return upload_outcome{error_response(
          413, "payload_too_large", "upload larger than " + std::to_string(limit) + " bytes", req.request_id)};
    }
    if (ec) co_return upload_outcome{std::nullopt, true};  // the client is gone or too slow
    std::size_t filled = chunk.size() - body.get().body().size;
    if (auto st = writer.feed(std::string_view(chunk.data(), filled)); !st.ok()) {
      co_return upload_outcome{error_response(st.err(), req.request_id)};
    }
  }
  if (auto st = writer.finish(); !st.ok()) co_return upload_outcome{error_response(st.err(), req.request_id)};
  req.files = writer.take_files();
  req.form = writer.take_fields();
  co_return upload_outcome{};
}

asio::awaitable<void> http_server::impl::run_connection(std::shared_ptr<connection_state> conn) {
  beast::flat_buffer buffer;
  bool first = true;
  bool linger = false;  // an unread body is pending: drain it before closing (see below)
  auto& stream = conn->stream;
  request_metrics_cache recorded;
  std::string remote;
  {
    beast::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
  }

  while (!draining.load(std::memory_order_relaxed)) {
    conn->busy = false;
    http::request_parser<http::empty_body> head;
    head.header_limit(settings.max_header_bytes);
    head.body_limit(boost::none);  // decided per route below
    stream.expires_after(first ? read_timeout() : idle_timeout());
    auto [read_ec, read_n] = co_await http::async_read_header(stream, buffer, head, use_nothrow);
    first = false;
    if (read_ec) {
      if (read_ec == http::error::header_limit) {
        response res =
            error_response(431, "header_too_large",
                           "request head larger than " + std::to_string(settings.max_header_bytes) + " bytes");
        request dummy;
        conn->busy = true;
        co_await write_response(*conn, dummy, res, false, false, 11);
      } else if (read_ec.category() == beast::error_code(http::error::bad_target).category() &&
                 read_ec != http::error::end_of_stream && read_ec != http::error::partial_message) {
        response res = error_response(400, "malformed_request", "malformed HTTP request");
        request dummy;
        conn->busy = true;
        co_await write_response(*conn, dummy, res, false, false, 11);
      }
      break;
    }
    conn->busy = true;
    const auto started = std::chrono::steady_clock::now();
    auto& msg = head.get();
    const unsigned version = msg.version();
    bool keep_alive = msg.keep_alive();

    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_address = remote;
    for (const auto& field : msg) req.headers.add(std::string(field.name_string()), std::string(field.value()));
    std::string_view incoming_id = msg["X-Request-Id"];
    req.request_id = valid_request_id(incoming_id) ? std::string(incoming_id) : core::random_hex(16);

    std::optional<response> early;  // an answer decided before any handler runs
    const route* matched = nullptr;
    bool is_ws = false;
    // Most targets are a plain path: they need neither the URL parser nor decoding.
    bool valid_target = true;
    if (is_plain_origin_path(req.target)) {
      req.path = req.target;
    } else if (auto target = boost::urls::parse_origin_form(req.target)) {
      req.path = target->path();
      for (auto param : target->params()) req.query.emplace_back(param.key, param.value);
    } else {
      valid_target = false;
    }
    if (!valid_target) {
      early = error_response(400, "invalid_target", "request target is not a valid origin-form URL", req.request_id);
      keep_alive = false;
    } else {
      is_ws = websocket::is_upgrade(msg);
      auto match = routes.find(req.method, req.path, is_ws);
      if (match.matched) {
        matched = match.matched;
        req.path_params = std::move(match.params);
        req.route_pattern = matched->pattern;
      } else if (!match.allowed_methods.empty()) {
        early = error_response(405, "method_not_allowed", "method " + req.method + " not allowed here", req.request_id);
        early->headers.set("Allow", match.allowed_methods);
      } else if (web && !is_ws && (req.method == "GET" || req.method == "HEAD")) {
        early = web->serve(req.path, req.header("If-None-Match"));
        req.route_pattern = "static";
      }
      if (!matched && !early) early = error_response(404, "not_found", "no route for " + req.path, req.request_id);
    }
    if (req.route_pattern.empty()) req.route_pattern = "unmatched";

    // The parser knows the announced body; msg.payload_size() would ask the empty body type.
    const auto content_length = head.content_length();
    const bool has_body = head.chunked() || (content_length && *content_length > 0);
    bool body_read = false;
    if (early && has_body) keep_alive = false;  // the body is not read: the connection cannot be reused

    std::optional<response> decided;  // a final answer that must not run the chain again
    if (!early && is_ws && matched) {
      // The middleware decides on the handshake like on any request (authentication,
      // rate limits); a 101 from the endpoint means "upgrade".
      req.websocket_upgrade = true;
      const handler accept_upgrade = [](request&) -> asio::awaitable<response> {
        response upgrade;
        upgrade.status = 101;
        co_return upgrade;
      };
      response verdict = co_await invoke(req, accept_upgrade);
      if (verdict.status == 101) {
        co_await run_websocket(conn, head.release(), req, *matched);
        co_return unregister(conn.get());
      }
      decided = std::move(verdict);  // already through the middleware
      keep_alive = false;
    }

    if (!early && !decided && matched) {
      const bool multipart =
          matched->options.multipart_upload && msg[http::field::content_type].starts_with("multipart/form-data");
      const std::uint64_t limit = matched->options.body_limit.value_or(settings.max_body_bytes);
      if (iequals(msg[http::field::expect], "100-continue") && has_body) {
        bool too_large = !multipart && content_length && *content_length > limit;
        if (!too_large) {
          http::response<http::empty_body> cont{http::status::continue_, version};
          stream.expires_after(write_timeout());
          auto [ec, n] = co_await http::async_write(stream, cont, use_nothrow);
          if (ec) break;
        }
      }
      if (multipart) {
        auto upload = co_await read_multipart(*conn, buffer, head, req, *matched);
        if (upload.client_gone) break;
        if (upload.answer) {
          early = std::move(upload.answer);
          keep_alive = false;
        } else {
          body_read = true;
        }
      } else if (has_body) {
        if (content_length && *content_length > limit) {
          early = error_response(413, "payload_too_large", "body larger than " + std::to_string(limit) + " bytes",
                                 req.request_id);
          keep_alive = false;
        } else {
          http::request_parser<http::string_body> body(std::move(head));
          body.body_limit(limit);
          stream.expires_after(read_timeout());
          auto [ec, n] = co_await http::async_read(stream, buffer, body, use_nothrow);
          if (ec == http::error::body_limit) {
            early = error_response(413, "payload_too_large", "body larger than " + std::to_string(limit) + " bytes",
                                   req.request_id);
            keep_alive = false;
          } else if (ec == beast::error::timeout) {
            early = error_response(408, "request_timeout", "request body not received in time", req.request_id);
            keep_alive = false;
          } else if (ec) {
            break;
          } else {
            req.body = std::move(body.get().body());
            body_read = true;
          }
        }
      }
    }

    // Early answers (404, 405, 413, static files...) pass through the middleware too, so
    // that security headers and CORS apply to every response. (An if, not ?: around the
    // co_await: g++ 12 miscompiles co_await inside a conditional expression.)
    response res;
    if (decided) {
      res = std::move(*decided);
    } else if (early) {
      const handler answer_early = [&early](request&) -> asio::awaitable<response> { co_return std::move(*early); };
      res = co_await invoke(req, answer_early);
    } else {
      res = co_await invoke(req, matched->http_handler);
    }
    if (!keep_alive && has_body && !body_read) linger = true;
    // Uploaded files the handler did not move away are removed before the client hears back.
    for (const auto& f : req.files) {
      std::error_code ignored;
      std::filesystem::remove(f.path, ignored);
    }
    if (draining.load(std::memory_order_relaxed)) keep_alive = false;
    const bool head_only = req.method == "HEAD";
    bool written = co_await write_response(*conn, req, res, head_only, keep_alive, version);

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    recorded.record(requests, latency, req.route_pattern, req.method, res.status, seconds);
    if (hooks.access_log) {
      core::log_info("request", {{"request_id", req.request_id},
                                 {"method", req.method},
                                 {"path", req.path},
                                 {"route", req.route_pattern},
                                 {"status", res.status},
                                 {"duration_ms", seconds * 1000},
                                 {"remote", req.remote_address}});
    }
    if (!written || !keep_alive || res.sse) break;
  }
  if (stream.socket().is_open()) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (linger) {
      // Lingering close, as nginx does: closing with unread request bytes makes the
      // kernel send a reset, which can destroy the error response before the client
      // reads it. Read and discard (bounded in time and bytes) until the client is done.
      char sink[16384];
      std::size_t drained = 0;
      stream.expires_after(milliseconds(1000));
      while (drained < (8u << 20)) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
        if (ec) break;
        drained += n;
      }
    }
    stream.socket().close(ignored);
  }
  unregister(conn.get());
}

asio::awaitable<bool> http_server::impl::write_response(connection_state& conn, request& req, response& res,
                                                        bool head_only, bool keep_alive, unsigned version) {
  if (res.sse) {
    co_await run_sse(conn, req, res, version);
    co_return false;
  }
  auto apply_headers = [&](auto& msg) {
    for (const auto& h : res.headers) msg.set(h.name, h.value);
    if (!req.request_id.empty()) msg.set("X-Request-Id", req.request_id);
    msg.keep_alive(keep_alive);
  };
  if (!res.file.empty()) {
    conn.stream.expires_after(write_timeout());
    http::response<http::file_body> msg{static_cast<http::status>(res.status), version};
    beast::error_code ec;
    msg.body().open(res.file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      res = error_response(404, "not_found", "file not found", req.request_id);
    } else {
      apply_headers(msg);
      msg.prepare_payload();
      co_return co_await send_message(conn.stream, msg, head_only);
    }
  }
  const bool no_body = head_only || (res.status >= 100 && res.status < 200) || res.status == 204 || res.status == 304;
  const std::string head = response_head(res, req.request_id, res.body.size(), keep_alive, version);
  const std::array<asio::const_buffer, 2> parts{asio::buffer(head),
                                                asio::buffer(res.body.data(), no_body ? 0 : res.body.size())};
  // One gathered write: head and body leave in one sendmsg. Most answers fit the socket's
  // send buffer, so a non-blocking attempt sends them without a timer, a composed operation
  // or a suspension; only what it leaves goes the asynchronous way, under the write timeout.
  beast::error_code ec;
  const std::size_t sent = send_now(conn.stream.socket(), parts, ec);
  if (ec) co_return false;
  if (sent == asio::buffer_size(parts)) co_return true;
  beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(parts);
  rest.consume(sent);
  conn.stream.expires_after(write_timeout());
  auto [write_ec, n] = co_await asio::async_write(conn.stream, rest, use_nothrow);
  co_return !write_ec;
}

asio::awaitable<void> http_server::impl::run_sse(connection_state& conn, request& req, response& res,
                                                 unsigned version) {
  http::response<http::empty_body> head{http::status::ok, version};
  for (const auto& h : res.headers) head.set(h.name, h.value);
  head.set(http::field::content_type, "text/event-stream; charset=utf-8");
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");  // tell nginx-style proxies not to buffer the stream
  head.set("X-Request-Id", req.request_id);
  head.keep_alive(false);  // the stream ends with the connection
  http::response_serializer<http::empty_body> sr(head);
  conn.stream.expires_after(write_timeout());
  auto [ec, n] = co_await http::async_write_header(conn.stream, sr, use_nothrow);
  if (ec) co_return;
  sse_gauge.inc();
  sse_stream_impl stream(conn.stream, draining, milliseconds(settings.sse_heartbeat_ms), write_timeout());
  conn.force_close = [&stream] { stream.close_now(); };
  co_await stream.run(res.sse);
  conn.force_close = nullptr;
  sse_gauge.dec();
}

asio::awaitable<void> http_server::impl::run_websocket(std::shared_ptr<connection_state> conn,
                                                       http::request<http::empty_body> head, request& req,
                                                       const route& r) {
  conn->stream.expires_never();  // the WebSocket keeps its own timeouts (handshake, idle pings)
  websocket_stream_impl ws(std::move(conn->stream), draining);
  auto& raw = ws.raw();
  raw.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  raw.read_message_max(settings.max_websocket_message_bytes);
  const std::string request_id = req.request_id;
  raw.set_option(websocket::stream_base::decorator(
      [request_id](websocket::response_type& res) { res.set("X-Request-Id", request_id); }));
  auto [ec] = co_await raw.async_accept(head, use_nothrow);
  if (ec) co_return;
  ws_gauge.inc();
  conn->force_close = [&raw] {
    beast::error_code ignored;
    beast::get_lowest_layer(raw).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(raw).cancel();
  };
  try {
    co_await r.ws_handler(req, ws);
  } catch (const std::exception& e) {
    core::log_error("websocket handler threw", {{"request_id", req.request_id}, {"error", e.what()}});
  }
  co_await ws.close(1000, {});
  conn->force_close = nullptr;
  ws_gauge.dec();
  requests.with({req.route_pattern, "WEBSOCKET", "101"}).inc();
}

http_server::http_server(asio::io_context& io, const core::server_settings& settings, const router& routes,
                         core::metrics_registry& metrics, server_hooks hooks)
    : impl_(std::make_unique<impl>(io, settings, routes, metrics, std::move(hooks))) {}

http_server::~http_server() = default;

void http_server::use(middleware m) {
  impl_->chain.push_back(std::move(m));
}

core::status http_server::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->settings.host, ec);
  if (ec) return core::error::invalid_argument("server.host: '" + impl_->settings.host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->settings.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return core::error::unavailable("cannot listen on " + impl_->settings.host + ":" +
                                    std::to_string(impl_->settings.port) + ": " + ec.message());
  }
  impl_->bound_port = acceptor.local_endpoint().port();
  asio::co_spawn(acceptor.get_executor(), impl_->accept_loop(), asio::detached);
  return {};
}

std::uint16_t http_server::port() const noexcept {
  return impl_->bound_port;
}

std::size_t http_server::open_connections() const noexcept {
  return impl_->open.load();
}

void http_server::shutdown(std::function<void()> on_done) {
  auto* self = impl_.get();
  asio::post(self->io, [self, on_done = std::move(on_done)]() mutable {
    if (self->draining.exchange(true)) return;
    core::log_info("shutting down", {{"open_connections", static_cast<std::int64_t>(self->open.load())},
                                     {"grace_ms", self->settings.shutdown_grace_ms}});
    beast::error_code ignored;
    self->acceptor.close(ignored);
    // The grace timer is armed before on_done can be posted, and nothing else touches it: on_done
    // may run on another thread at once, and a timer is not safe to use from two threads (a
    // cancel racing this async_wait left the timer queued after its destruction).
    self->grace_timer = std::make_unique<asio::steady_timer>(self->io, milliseconds(self->settings.shutdown_grace_ms));
    self->grace_timer->async_wait([self](const beast::error_code& ec) {
      if (ec) return;
      if (self->open.load() > 0) {
        core::log_warn("shutdown grace period over: closing open connections",
                       {{"open_connections", static_cast<std::int64_t>(self->open.load())}});
        self->close_idle_connections(true);
      }
    });
    {
      std::lock_guard lock(self->registry_mutex);
      if (self->open.load() == 0) {
        if (on_done) asio::post(self->io, std::move(on_done));
      } else {
        self->on_drained = std::move(on_done);
      }
    }
    self->close_idle_connections(false);
  });
}

void http_server::shutdown_on_signals() {
  auto* self = impl_.get();
  self->signals = std::make_unique<asio::signal_set>(self->io, SIGTERM, SIGINT);
  self->signals->async_wait([this, self](const beast::error_code& ec, int signal_number) {
    if (ec) return;
    core::log_info("signal received", {{"signal", signal_number}});
    // io.stop() leaves the armed grace timer pending; it is destroyed with the server, after the
    // threads running io have been joined.
    shutdown([self] { self->io.stop(); });
  });
}

}  // namespace wattos::net
