#include "net/http_plain.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/url/parse.hpp>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "net/http_types.hpp"
#include "net/origin_form.hpp"
#include "net/send_now.hpp"

namespace wattos::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// An idle connection older than this is closed rather than reused: below the keep-alive
// limits of common servers (wattos 60 s, nginx 75 s), so that a reuse rarely races the
// server's own close.
constexpr auto max_idle_age = std::chrono::seconds(30);
constexpr std::size_t max_idle_per_origin = 256;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    if (method == m) return true;
  }
  return false;
}

// The kept-alive connections of one io_context, by origin ("host:port").
class connection_pool : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  explicit connection_pool(asio::execution_context& context) : asio::execution_context::service(context) {}

  // A connection to `origin` that the peer has not closed, if one is idle.
  std::optional<tcp::socket> take(const std::string& origin) {
    while (true) {
      std::optional<tcp::socket> candidate;
      {
        std::lock_guard lock(mutex_);
        auto it = idle_.find(origin);
        if (it == idle_.end() || it->second.empty()) return std::nullopt;
        auto& entry = it->second.back();
        if (clock_type::now() - entry.since <= max_idle_age) candidate.emplace(std::move(entry.socket));
        it->second.pop_back();
      }
      if (candidate && still_open(*candidate)) return candidate;
    }
  }

  void put(const std::string& origin, tcp::socket socket) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    auto& list = idle_[origin];
    if (list.size() >= max_idle_per_origin) return;
    list.push_back({std::move(socket), clock_type::now()});
  }

  std::size_t idle_count() {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& entry : idle_) n += entry.second.size();
    return n;
  }

 private:
  struct idle_connection {
    tcp::socket socket;
    clock_type::time_point since;
  };

  // Idle means nothing to read: a peek that would block. End of stream (the peer closed)
  // or unexpected bytes make the connection unusable.
  static bool still_open(tcp::socket& socket) {
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void shutdown() override {
    std::lock_guard lock(mutex_);
    closed_ = true;
    idle_.clear();
  }

  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<idle_connection>> idle_;  // guarded by mutex_
  bool closed_ = false;                                                 // guarded by mutex_
};

asio::execution_context::id connection_pool::id;

// How one attempt on one connection ended: `stale` is a kept-alive connection that failed
// before the first byte of the answer (the server had closed it), worth one more try.
enum class attempt_end { done, failed, stale };

connection_pool& pool_of(const asio::any_io_executor& executor) {
  return asio::use_service<connection_pool>(asio::query(executor, asio::execution::context));
}

}  // namespace

proxy_environment proxy_environment::of_process() {
  proxy_environment out;
  for (const char* name : {"http_proxy", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(name);
    if (value && *value) {
      out.proxy = value;
      break;
    }
  }
  const char* no_proxy = std::getenv("no_proxy");
  if (!no_proxy || !*no_proxy) no_proxy = std::getenv("NO_PROXY");
  if (no_proxy) out.no_proxy = no_proxy;
  return out;
}

bool proxy_applies(std::string_view host, const proxy_environment& environment) {
  if (environment.proxy.empty()) return false;
  std::string_view list(environment.no_proxy);
  while (!list.empty()) {
    auto end = list.find_first_of(", ");
    std::string_view entry = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
    if (entry.starts_with('.')) entry.remove_prefix(1);
    if (entry.empty()) continue;
    if (entry == "*") return false;
    if (host.size() == entry.size() && iequals(host, entry)) return false;
    if (host.size() > entry.size() && host[host.size() - entry.size() - 1] == '.' &&
        iequals(host.substr(host.size() - entry.size()), entry)) {
      return false;
    }
  }
  return true;
}

namespace {

// Host, port and the proxy decision of one scheme-and-authority ("http://host:port").
std::optional<plain_target> plain_origin_of(std::string_view origin) {
  auto parsed = boost::urls::parse_uri(origin);
  if (!parsed) return std::nullopt;  // curl reports it
  const auto& url = *parsed;
  if (!iequals(url.scheme(), "http") || url.has_userinfo()) return std::nullopt;
  // The origin holds no '/', '?' or '#', so any path is what Boost.URL 1.81 made of a
  // port that is not a number ("http://h:notaport" -> authority "h:", path "notaport").
  if (!url.encoded_path().empty()) return std::nullopt;
  plain_target out;
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      out.host = std::string(url.encoded_host());
      break;
    case boost::urls::host_type::ipv6:
      out.host = url.host_ipv6_address().to_string();
      break;
    default:
      return std::nullopt;
  }
  if (out.host.empty() || out.host.find('%') != std::string::npos) return std::nullopt;
  // Read once: up to five getenv scans per request showed in the proxy's profile. (libcurl
  // reads the environment per transfer; a server that changed its proxy settings while
  // running would see the two differ, and none does.)
  static const proxy_environment environment = proxy_environment::of_process();
  if (proxy_applies(out.host, environment)) return std::nullopt;
  out.port = url.port().empty() ? "80" : std::string(url.port());
  out.host_header = std::string(url.encoded_host_and_port());
  return out;
}

}  // namespace

std::optional<plain_target> plain_target_of(const http_client_request& request) {
  if (request.follow_redirects) return std::nullopt;
  const std::string_view url = request.url;
  constexpr std::string_view scheme = "http://";
  if (url.size() <= scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) return std::nullopt;
  const auto origin_end = url.find_first_of("/?#", scheme.size());
  const std::string_view origin = url.substr(0, origin_end);
  const std::string_view rest = origin_end == std::string_view::npos ? std::string_view() : url.substr(origin_end);
  // The proxy calls the same few upstreams again and again: the origin of the last URL
  // is kept per thread, and only the path and query are parsed each time (parsing the
  // whole URL was 3,860 instructions a proxied request).
  struct last_origin {
    std::string origin;
    std::optional<plain_target> target;
  };
  thread_local last_origin last;
  if (last.origin != origin) {  // never empty: the first call always parses
    last.target = plain_origin_of(origin);
    last.origin = std::string(origin);
  }
  if (!last.target) return std::nullopt;
  plain_target out = *last.target;
  if (rest.empty()) {
    out.target = "/";
  } else if (rest.front() == '/') {
    // The common path needs no URL parser (as in the server); curl reports an invalid one.
    if (!is_plain_origin_path(rest) && !boost::urls::parse_origin_form(rest)) return std::nullopt;
    out.target = std::string(rest);
  } else {
    // "http://host?query" (an empty path) or a fragment: rare, the whole URL decides.
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed || parsed->has_fragment()) return std::nullopt;
    out.target = "/";
    if (parsed->has_query()) out.target += "?" + std::string(parsed->encoded_query());
  }
  return out;
}

std::size_t idle_plain_connections(const asio::any_io_executor& executor) {
  return pool_of(executor).idle_count();
}

struct plain_call::state {
  state(asio::any_io_executor ex, http_client_request r, plain_target t, http_client::headers_callback h,
        http_client::data_callback d, bool b)
      : executor(ex),
        request(std::move(r)),
        target(std::move(t)),
        on_headers(std::move(h)),
        on_data(std::move(d)),
        buffered(b),
        timer(ex),
        pool(pool_of(ex)) {}

  asio::any_io_executor executor;
  http_client_request request;
  plain_target target;
  http_client::headers_callback on_headers;
  http_client::data_callback on_data;
  bool buffered;
  http_client_response response;

  std::optional<tcp::socket> socket;
  std::optional<tcp::resolver> resolver;
  asio::steady_timer timer;  // every deadline of the call, re-armed only when it fires
  connection_pool& pool;
  beast::flat_buffer buffer;
  // Body bytes go through here; sized to the answer when its length is known, so a
  // small answer does not cost a 16 KiB allocation.
  std::unique_ptr<char[]> chunk;
  std::size_t chunk_size = 0;

  clock_type::time_point started;
  clock_type::time_point connect_started;
  clock_type::time_point last_data;
  bool connecting = false;
  bool got_first_byte = false;
  bool finished = false;
  std::optional<core::error> failure;  // set by a deadline, cancel() or the receiver

  std::string origin() const { return target.host + ":" + target.port; }

  void arm_timer(std::shared_ptr<plain_call> keep);
  void tighten_timer();
  std::weak_ptr<plain_call> owner;
  core::error error_of(const boost::system::error_code& ec, const asio::cancellation_state& cs,
                       std::string_view what) const;
  asio::awaitable<core::status> connect(asio::cancellation_state cs);
  asio::awaitable<attempt_end> exchange(const std::string& head, bool reused, asio::cancellation_state cs,
                                        core::status& outcome);

  // The deadline that passed at `now`, if any; else the next one into `next`.
  const char* expired(clock_type::time_point now, clock_type::time_point& next) const {
    next = clock_type::time_point::max();
    auto check = [&](bool applies, clock_type::time_point base, std::chrono::milliseconds after) {
      if (!applies || after.count() <= 0) return false;
      const auto at = base + after;
      if (at <= now) return true;
      next = std::min(next, at);
      return false;
    };
    if (check(connecting, connect_started, request.connect_timeout)) return "connect timeout";
    if (check(!got_first_byte, started, request.first_byte_timeout)) return "first byte timeout";
    if (check(got_first_byte, last_data, request.idle_timeout)) return "idle timeout";
    if (check(true, started, request.total_timeout)) return "total timeout";
    return nullptr;
  }

  void stop_io() {
    boost::system::error_code ignored;
    if (socket) socket->cancel(ignored);
    if (resolver) resolver->cancel();
  }

  std::string request_head() const {
    std::string head;
    head.reserve(256 + request.headers.size() * 64);
    head.append(request.method).append(" ").append(target.target).append(" HTTP/1.1\r\n");
    bool has_host = false;
    bool has_accept = false;
    for (const auto& header : request.headers) {
      const std::string& name = header.first;
      if (header.second.empty() || has_line_break(name) || has_line_break(header.second)) continue;
      // The framing is ours; bodies come back as sent (this path decodes no compression).
      if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection") ||
          iequals(name, "expect") || iequals(name, "accept-encoding")) {
        continue;
      }
      has_host = has_host || iequals(name, "host");
      has_accept = has_accept || iequals(name, "accept");
      head.append(name).append(": ").append(header.second).append("\r\n");
    }
    if (!has_host) head.append("Host: ").append(target.host_header).append("\r\n");
    if (!has_accept) head.append("Accept: */*\r\n");
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
      head.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
    }
    head.append("\r\n");
    return head;
  }

  // Hands a piece of the body on; false when the call has to end.
  bool deliver(std::size_t n) {
    last_data = clock_type::now();
    if (buffered) {
      if (response.body.size() + n > request.max_response_bytes) {
        failure = core::error::resource_exhausted("response larger than " + std::to_string(request.max_response_bytes) +
                                                  " bytes");
        return false;
      }
      response.body.append(chunk.get(), n);
      return true;
    }
    if (on_data && !on_data(std::string_view(chunk.get(), n))) {
      failure = core::error::cancelled("stopped by the receiver");
      return false;
    }
    return true;
  }
};

plain_call::plain_call(asio::any_io_executor executor, http_client_request request, plain_target target,
                       http_client::headers_callback on_headers, http_client::data_callback on_data, bool buffered)
    : s_(std::make_unique<state>(executor, std::move(request), std::move(target), std::move(on_headers),
                                 std::move(on_data), buffered)) {}

plain_call::~plain_call() = default;

http_client_response& plain_call::response() noexcept {
  return s_->response;
}

void plain_call::cancel(core::error why) {
  if (s_->finished) return;
  if (!s_->failure) s_->failure = std::move(why);
  s_->stop_io();
}

void plain_call::state::arm_timer(std::shared_ptr<plain_call> keep) {
  clock_type::time_point next;
  if (finished) return;
  if (const char* why = expired(clock_type::now(), next)) {
    keep->cancel(core::error::deadline_exceeded(why));
    return;
  }
  if (next == clock_type::time_point::max()) return;
  timer.expires_at(next);
  timer.async_wait([keep = std::move(keep)](const boost::system::error_code& ec) mutable {
    if (ec) return;
    auto& self = *keep->s_;
    self.arm_timer(std::move(keep));
  });
}

// After the first byte the idle deadline may come before the one the timer waits for.
void plain_call::state::tighten_timer() {
  clock_type::time_point next;
  if (expired(clock_type::now(), next) || next < timer.expiry()) {
    if (auto keep = owner.lock()) {
      timer.cancel();
      arm_timer(std::move(keep));
    }
  }
}

core::error plain_call::state::error_of(const boost::system::error_code& ec, const asio::cancellation_state& cs,
                                        std::string_view what) const {
  if (failure) return *failure;
  if (cs.cancelled() != asio::cancellation_type::none) return core::error::cancelled("request cancelled");
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == http::error::partial_message) {
    return core::error::unavailable(std::string(what) + ": the upstream closed the connection");
  }
  if (ec.category() == make_error_code(http::error::bad_version).category()) {
    return core::error::bad_gateway(std::string(what) + ": malformed answer: " + ec.message());
  }
  return core::error::unavailable(std::string(what) + ": " + ec.message());
}

asio::awaitable<core::status> plain_call::state::connect(asio::cancellation_state cs) {
  std::uint16_t port = 0;
  const auto* end = target.port.data() + target.port.size();
  if (auto [p, ec] = std::from_chars(target.port.data(), end, port); ec != std::errc() || p != end || port == 0) {
    co_return core::error::invalid_argument("bad port in " + request.url);
  }
  connecting = true;
  connect_started = clock_type::now();
  socket.emplace(executor);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(target.host, ec);
  if (!ec) {
    auto [cec] = co_await socket->async_connect(tcp::endpoint(address, port), use_nothrow);
    ec = cec;
  } else {
    resolver.emplace(executor);
    auto [rec, endpoints] = co_await resolver->async_resolve(target.host, target.port, use_nothrow);
    ec = rec;
    if (!ec && !failure && cs.cancelled() == asio::cancellation_type::none) {
      auto [cec, endpoint] = co_await asio::async_connect(*socket, endpoints, use_nothrow);
      ec = cec;
    }
  }
  connecting = false;
  if (ec || failure || cs.cancelled() != asio::cancellation_type::none) {
    socket.reset();
    co_return error_of(ec, cs, "connect to " + target.host_header);
  }
  socket->set_option(tcp::no_delay(true), ec);
  socket->non_blocking(true, ec);  // for the synchronous first attempt of each request's write
  co_return core::status{};
}

asio::awaitable<attempt_end> plain_call::state::exchange(const std::string& head, bool reused,
                                                         asio::cancellation_state cs, core::status& outcome) {
  auto fail = [&](const boost::system::error_code& ec, std::string_view what) {
    outcome = error_of(ec, cs, what);
    socket.reset();
    return attempt_end::failed;
  };
  const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(request.body)};
  // A non-blocking attempt first, as the server does with its answers: a request that fits
  // the send buffer leaves without a composed operation and a round through the scheduler.
  boost::system::error_code wec;
  const std::size_t written = send_now(*socket, out, wec);
  if (!wec && written < asio::buffer_size(out)) {
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(out);
    rest.consume(written);
    auto [async_ec, n] = co_await asio::async_write(*socket, rest, use_nothrow);
    wec = async_ec;
  }
  if (wec || failure || cs.cancelled() != asio::cancellation_type::none) {
    if (reused && !failure && cs.cancelled() == asio::cancellation_type::none) {
      socket.reset();
      co_return attempt_end::stale;
    }
    co_return fail(wec, "send");
  }

  buffer.clear();
  std::optional<http::response_parser<http::buffer_body>> parser;
  while (true) {
    parser.emplace();
    parser->header_limit(64 * 1024);
    parser->body_limit(boost::none);  // bounded by the receiver (max_response_bytes, the proxy's limit)
    if (request.method == "HEAD") parser->skip(true);
    auto [ec, n] = co_await http::async_read_header(*socket, buffer, *parser, use_nothrow);
    if (ec || failure || cs.cancelled() != asio::cancellation_type::none) {
      if (reused && !parser->got_some() && buffer.size() == 0 && !failure &&
          cs.cancelled() == asio::cancellation_type::none) {
        socket.reset();
        co_return attempt_end::stale;
      }
      co_return fail(ec, "answer");
    }
    if (!got_first_byte) {
      got_first_byte = true;
      last_data = clock_type::now();
      tighten_timer();
    }
    const int status = static_cast<int>(parser->get().result_int());
    if (status >= 100 && status < 200 && status != 101) continue;  // 100 Continue and the like
    response.status = status;
    break;
  }
  for (const auto& field : parser->get()) {
    response.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  if (on_headers) on_headers(response.status, response.headers);
  if (failure) co_return fail({}, "answer");

  if (!parser->is_done()) {
    constexpr std::size_t largest_chunk = 16384;
    const auto length = parser->content_length();
    chunk_size = length && *length > 0 && *length < largest_chunk ? static_cast<std::size_t>(*length) : largest_chunk;
    chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
  }
  while (!parser->is_done()) {
    parser->get().body().data = chunk.get();
    parser->get().body().size = chunk_size;
    auto [ec, n] = co_await http::async_read_some(*socket, buffer, *parser, use_nothrow);
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t got = chunk_size - parser->get().body().size;
    if (got > 0 && !failure && !deliver(got)) co_return fail({}, "answer");
    if (ec || failure || cs.cancelled() != asio::cancellation_type::none) co_return fail(ec, "answer");
  }
  // A connection that ended cleanly and says so may carry the next request.
  if (parser->keep_alive() && buffer.size() == 0) {
    pool.put(origin(), std::move(*socket));
  }
  socket.reset();
  outcome = core::status{};
  co_return attempt_end::done;
}

asio::awaitable<core::status> plain_call::run() {
  auto& s = *s_;
  auto cs = co_await asio::this_coro::cancellation_state;
  s.started = clock_type::now();
  s.owner = weak_from_this();
  s.arm_timer(shared_from_this());
  const std::string head = s.request_head();
  const std::string origin = s.origin();
  core::status outcome;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    std::optional<tcp::socket> idle;
    if (attempt == 0) idle = s.pool.take(origin);
    if (idle) {
      s.socket.emplace(std::move(*idle));
      reused = true;
    } else {
      outcome = co_await s.connect(cs);
      if (!outcome.ok()) break;
    }
    const auto end = co_await s.exchange(head, reused, cs, outcome);
    if (end != attempt_end::stale) break;
    // The server closed the kept-alive connection under us: once more on a fresh one
    // when the request may be repeated, else a 502 for the caller.
    outcome = core::error::unavailable("the upstream closed a kept-alive connection");
    if (!idempotent(s.request.method)) break;
  }
  s.finished = true;
  s.timer.cancel();
  s.socket.reset();
  co_return outcome;
}

}  // namespace wattos::net::detail
