#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <curl/curl.h>

#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "net/http_plain.hpp"
#include "net/http_types.hpp"

namespace wattos::net {
namespace {

namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One connection cache and DNS cache for every client of the process: short-lived
// clients (one per proxied request) still reuse kept-alive connections to a service.
// curl calls the lock functions around every access to the shared data.
class shared_caches {
 public:
  static CURLSH* get() {
    static shared_caches instance;
    return instance.share_;
  }

 private:
  shared_caches() {
    global_init_once();
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &shared_caches::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &shared_caches::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* userp) {
    static_cast<shared_caches*>(userp)->mutexes_[data % lock_slots].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* userp) {
    static_cast<shared_caches*>(userp)->mutexes_[data % lock_slots].unlock();
  }
  static constexpr int lock_slots = 8;
  std::mutex mutexes_[lock_slots];
  CURLSH* share_ = nullptr;  // lives for the process
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view http_client_response::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

struct http_client::impl : std::enable_shared_from_this<impl> {
  // One request in flight. Shared between the awaiting coroutine and the client, so
  // either may go first.
  struct transfer {
    explicit transfer(asio::any_io_executor ex) : done_event(ex), watchdog(ex) {}
    ~transfer() {
      if (easy) curl_easy_cleanup(easy);
      if (header_list) curl_slist_free_all(header_list);
    }

    http_client_request request;
    http_client::headers_callback on_headers;
    http_client::data_callback on_data;
    bool buffered = false;

    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {};

    http_client_response response;
    bool headers_delivered = false;
    bool got_first_byte = false;
    bool done = false;
    std::optional<core::error> failure;  // set by callbacks or the watchdog before completion
    CURLcode curl_result = CURLE_OK;

    asio::steady_timer done_event;  // the awaiting coroutine sleeps on it until done
    asio::steady_timer watchdog;    // first-byte and idle timeouts
    std::weak_ptr<impl> owner;      // for curl's C callbacks
    std::weak_ptr<transfer> self;
  };

  explicit impl(asio::any_io_executor ex) : executor(ex), timer(ex) {}

  ~impl() {
    shutdown();
    if (multi) curl_multi_cleanup(multi);
  }

  // The multi handle, made on the first curl transfer: a client that only ever talks
  // plain HTTP (http_plain.hpp) never pays for one (it opens a socket pair).
  CURLM* multi_handle() {
    if (multi) return multi;
    global_init_once();
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    return multi;
  }

  // Ends every transfer in flight as cancelled and stops watching sockets. Their
  // coroutines keep this object alive until they have resumed.
  void shutdown() {
    for (auto* call : std::vector<detail::plain_call*>(plain_active.begin(), plain_active.end())) {
      call->cancel(core::error::cancelled("http client destroyed"));
    }
    for (auto* easy : std::vector<CURL*>(active.begin(), active.end())) {
      transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      if (t) finish(*t, core::error::cancelled("http client destroyed"));
    }
    timer.cancel();
    for (auto& entry : sockets) entry.second->descriptor.release();
    sockets.clear();
  }

  struct socket_watch {
    explicit socket_watch(asio::any_io_executor ex, curl_socket_t fd) : descriptor(ex, fd), fd(fd) {}
    asio::posix::stream_descriptor descriptor;  // released, never closed: curl owns the fd
    curl_socket_t fd;
    int wanted = 0;  // CURL_POLL_IN / OUT / INOUT
    bool reading = false;
    bool writing = false;
  };

  asio::any_io_executor executor;
  CURLM* multi = nullptr;
  asio::steady_timer timer;
  std::unordered_map<curl_socket_t, std::shared_ptr<socket_watch>> sockets;
  std::unordered_set<CURL*> active;
  std::unordered_set<detail::plain_call*> plain_active;  // plain-HTTP calls in flight (http_plain.hpp)

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* self = static_cast<impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      auto it = self->sockets.find(fd);
      if (it != self->sockets.end()) {
        it->second->wanted = 0;
        it->second->descriptor.release();  // cancels its waits; curl closes the fd itself
        self->sockets.erase(it);
      }
      return 0;
    }
    auto& watch = self->sockets[fd];
    if (!watch) watch = std::make_shared<socket_watch>(self->executor, fd);
    watch->wanted = what;
    self->arm(watch);
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<impl*>(userp);
    if (timeout_ms < 0) {
      self->timer.cancel();
      return 0;
    }
    self->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<impl> weak = self->weak_from_this();
    self->timer.async_wait([weak](const boost::system::error_code& ec) {
      auto me = weak.lock();
      if (ec || !me) return;
      int running = 0;
      curl_multi_socket_action(me->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      me->collect_done();
    });
    return 0;
  }

  void arm(const std::shared_ptr<socket_watch>& watch) {
    std::weak_ptr<impl> weak = weak_from_this();
    if ((watch->wanted & CURL_POLL_IN) && !watch->reading) {
      watch->reading = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                   [weak, watch](const boost::system::error_code& ec) {
                                     watch->reading = false;
                                     auto me = weak.lock();
                                     if (ec || !me || !(watch->wanted & CURL_POLL_IN)) return;
                                     me->act(watch, CURL_CSELECT_IN);
                                   });
    }
    if ((watch->wanted & CURL_POLL_OUT) && !watch->writing) {
      watch->writing = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                   [weak, watch](const boost::system::error_code& ec) {
                                     watch->writing = false;
                                     auto me = weak.lock();
                                     if (ec || !me || !(watch->wanted & CURL_POLL_OUT)) return;
                                     me->act(watch, CURL_CSELECT_OUT);
                                   });
    }
  }

  void act(const std::shared_ptr<socket_watch>& watch, int direction) {
    int running = 0;
    curl_multi_socket_action(multi, watch->fd, direction, &running);
    collect_done();
    // Still registered and still interested: wait again.
    auto it = sockets.find(watch->fd);
    if (it != sockets.end() && it->second == watch) arm(watch);
  }

  void collect_done() {
    int pending = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
      if (msg->msg != CURLMSG_DONE) continue;
      transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      if (!t) continue;
      t->curl_result = msg->data.result;
      finish(*t, std::nullopt);
    }
  }

  // Removes the transfer from curl and wakes its coroutine. `forced` is the error to
  // end with when the transfer did not end by itself.
  void finish(transfer& t, std::optional<core::error> forced) {
    if (t.done) return;
    if (forced && !t.failure) t.failure = std::move(forced);
    curl_multi_remove_handle(multi, t.easy);
    active.erase(t.easy);
    t.done = true;
    t.watchdog.cancel();
    t.done_event.cancel();
  }

  void arm_watchdog(const std::shared_ptr<transfer>& t, std::chrono::milliseconds after, const char* what) {
    if (after.count() <= 0) return;
    t->watchdog.expires_after(after);
    std::weak_ptr<impl> weak = weak_from_this();
    std::weak_ptr<transfer> weak_t = t;
    t->watchdog.async_wait([weak, weak_t, what](const boost::system::error_code& ec) {
      if (ec) return;
      auto me = weak.lock();
      auto tr = weak_t.lock();
      if (me && tr) me->finish(*tr, core::error::deadline_exceeded(what));
    });
  }

  static void deliver_headers(transfer& t) {
    if (t.headers_delivered) return;
    t.headers_delivered = true;
    long code = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
    t.response.status = static_cast<int>(code);
    if (t.on_headers) t.on_headers(t.response.status, t.response.headers);
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* userp) {
    auto* t = static_cast<transfer*>(userp);
    std::string_view line(data, size * count);
    if (!t->got_first_byte) {
      t->got_first_byte = true;
      if (auto self = t->owner.lock()) self->arm_watchdog(t->self.lock(), t->request.idle_timeout, "idle timeout");
    }
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();  // a new response (after 100 Continue or a redirect)
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      t->response.headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    return size * count;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* userp) {
    auto* t = static_cast<transfer*>(userp);
    const std::size_t n = size * count;
    if (auto self = t->owner.lock()) self->arm_watchdog(t->self.lock(), t->request.idle_timeout, "idle timeout");
    deliver_headers(*t);
    if (t->buffered) {
      if (t->response.body.size() + n > t->request.max_response_bytes) {
        t->failure = core::error::resource_exhausted("response larger than " +
                                                     std::to_string(t->request.max_response_bytes) + " bytes");
        return 0;  // makes curl abort the transfer
      }
      t->response.body.append(data, n);
      return n;
    }
    if (t->on_data && !t->on_data(std::string_view(data, n))) {
      t->failure = core::error::cancelled("stopped by the receiver");
      return 0;
    }
    return n;
  }

  core::error error_from_curl(transfer& t) const {
    std::string detail = t.error_buffer[0] ? t.error_buffer : curl_easy_strerror(t.curl_result);
    switch (t.curl_result) {
      case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected);
        return core::error::deadline_exceeded(connected == 0 ? "connect timeout" : "total timeout");
      }
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
        return core::error::unavailable(detail);
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return core::error::invalid_argument(detail);
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
        return core::error::unavailable("TLS: " + detail);
      default:
        return core::error::bad_gateway(detail);
    }
  }

  core::status start(const std::shared_ptr<transfer>& t) {
    const auto& r = t->request;
    CURL* easy = curl_easy_init();
    if (!easy) return core::error::internal("curl_easy_init failed");
    t->easy = easy;
    t->owner = weak_from_this();
    t->self = t;
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SHARE, shared_caches::get());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
    if (r.total_timeout.count() > 0)
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(r.total_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &impl::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &impl::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    if (r.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (r.method != "GET" || !r.body.empty()) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      if (r.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    std::string line;
    for (const auto& [name, val] : r.headers) {
      line.assign(name).append(": ").append(val);
      t->header_list = curl_slist_append(t->header_list, line.c_str());
    }
    // No Expect: 100-continue round trip before bodies.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
    if (curl_multi_add_handle(multi_handle(), easy) != CURLM_OK)
      return core::error::internal("curl_multi_add_handle failed");
    active.insert(easy);
    arm_watchdog(t, r.first_byte_timeout, "first byte timeout");
    return {};
  }

  static asio::awaitable<core::result<http_client_response>> send_coro(std::shared_ptr<impl> self,
                                                                       std::shared_ptr<transfer> t) {
    auto st = co_await self->run(t);
    if (!st.ok()) co_return std::move(st).err();
    co_return std::move(t->response);
  }

  static asio::awaitable<core::result<int>> stream_coro(std::shared_ptr<impl> self, std::shared_ptr<transfer> t) {
    auto st = co_await self->run(t);
    if (!st.ok()) co_return std::move(st).err();
    co_return t->response.status;
  }

  // A plain-HTTP call on a pooled Beast connection (the same contract as a curl transfer).
  static asio::awaitable<core::result<http_client_response>> plain_coro(std::shared_ptr<impl> self,
                                                                        std::shared_ptr<detail::plain_call> call) {
    self->plain_active.insert(call.get());
    auto st = co_await call->run();
    self->plain_active.erase(call.get());
    if (!st.ok()) co_return std::move(st).err();
    co_return std::move(call->response());
  }

  static asio::awaitable<core::result<int>> plain_stream_coro(std::shared_ptr<impl> self,
                                                              std::shared_ptr<detail::plain_call> call) {
    auto res = co_await plain_coro(std::move(self), std::move(call));
    if (!res.ok()) co_return std::move(res).err();
    co_return res->status;
  }

  // Waits until the transfer is done, or ends it when the awaiting coroutine is cancelled.
  asio::awaitable<core::status> run(std::shared_ptr<transfer> t) {
    if (auto started = start(t); !started.ok()) co_return started;
    while (!t->done) {
      t->done_event.expires_at(asio::steady_timer::time_point::max());
      auto [ec] = co_await t->done_event.async_wait(use_nothrow);
      if (!t->done && ec == asio::error::operation_aborted) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) finish(*t, core::error::cancelled("request cancelled"));
      }
    }
    if (t->failure) co_return *t->failure;
    if (t->curl_result != CURLE_OK) co_return error_from_curl(*t);
    deliver_headers(*t);
    co_return core::status{};
  }
};

http_client::http_client(asio::any_io_executor executor) : impl_(std::make_shared<impl>(std::move(executor))) {}

http_client::~http_client() {
  impl_->shutdown();
}

std::size_t http_client::active_transfers() const noexcept {
  return impl_->active.size() + impl_->plain_active.size();
}

// send() and stream() are not coroutines themselves: they move the request into a
// shared transfer and return the awaitable of a coroutine whose parameters are named
// values (g++ 12 and braced temporaries as coroutine parameters: docs/coroutines.md).
asio::awaitable<core::result<http_client_response>> http_client::send(http_client_request request) {
  if (auto target = detail::plain_target_of(request)) {
    auto call = std::make_shared<detail::plain_call>(impl_->executor, std::move(request), std::move(*target),
                                                     headers_callback{}, data_callback{}, true);
    return impl::plain_coro(impl_, std::move(call));
  }
  auto t = std::make_shared<impl::transfer>(impl_->executor);
  t->request = std::move(request);
  t->buffered = true;
  return impl::send_coro(impl_, std::move(t));
}

asio::awaitable<core::result<int>> http_client::stream(http_client_request request, headers_callback on_headers,
                                                       data_callback on_data) {
  if (auto target = detail::plain_target_of(request)) {
    auto call = std::make_shared<detail::plain_call>(impl_->executor, std::move(request), std::move(*target),
                                                     std::move(on_headers), std::move(on_data), false);
    return impl::plain_stream_coro(impl_, std::move(call));
  }
  auto t = std::make_shared<impl::transfer>(impl_->executor);
  t->request = std::move(request);
  t->on_headers = std::move(on_headers);
  t->on_data = std::move(on_data);
  return impl::stream_coro(impl_, std::move(t));
}

}  // namespace wattos::net
