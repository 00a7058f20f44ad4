#include "api/proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <chrono>
#include <optional>

#include "api/identity/permissions.hpp"
#include "api/services.hpp"
#include "core/crypto.hpp"
#include "core/id.hpp"
#include "net/http_client.hpp"
#include "net/http_error.hpp"
#include "net/websocket_relay.hpp"

namespace wattos::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

bool is_hop_by_hop(std::string_view name) {
  for (std::string_view h : {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                             "transfer-encoding", "upgrade", "host", "content-length", "expect"}) {
    if (net::iequals(name, h)) return true;
  }
  return false;
}

// Request headers that stay at the gateway: credentials, and identity claims from outside.
bool is_gateway_only(std::string_view name) {
  for (std::string_view h : {"authorization", "x-api-key", "cookie", "x-wattos-identity", "traceparent",
                             "x-forwarded-for", "x-request-id"}) {
    if (net::iequals(name, h)) return true;
  }
  return false;
}

bool valid_hex(std::string_view s, std::size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s.find_first_not_of('0') != std::string_view::npos;  // all zeros is invalid
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a running upstream transfer has produced so far; shared by the transfer, the
// handler waiting for the head, and (for streams) the SSE relay.
struct relay_state {
  explicit relay_state(asio::any_io_executor ex) : wake(ex) {}
  asio::steady_timer wake;
  asio::cancellation_signal cancel;
  bool headers_ready = false;
  bool done = false;
  int status = 0;
  net::http_header_list headers;
  std::string pending;  // body bytes not yet handed on
  std::uint64_t body_bytes = 0;
  std::optional<core::error> failure;

  void notify() { wake.cancel(); }
  awaitable<void> wait() {
    wake.expires_at(asio::steady_timer::time_point::max());
    co_await wake.async_wait(use_nothrow);
  }
};

awaitable<void> run_transfer(std::shared_ptr<relay_state> state, net::http_client_request request,
                             std::uint64_t limit) {
  net::http_client client(co_await asio::this_coro::executor);
  // Named callbacks, not lambdas written into the co_await expression: g++ 12 destroys
  // such temporaries twice, and these hold a shared_ptr (docs/coroutines.md).
  net::http_client::headers_callback on_headers = [state](int status, const net::http_header_list& headers) {
    state->status = status;
    state->headers = headers;
    state->headers_ready = true;
    state->notify();
  };
  net::http_client::data_callback on_data = [state, limit](std::string_view chunk) {
    state->body_bytes += chunk.size();
    if (state->body_bytes > limit) {
      state->failure = core::error::bad_gateway("upstream answer larger than the proxy limit");
      return false;
    }
    state->pending.append(chunk);
    state->notify();
    return true;
  };
  auto result = co_await client.stream(std::move(request), std::move(on_headers), std::move(on_data));
  if (!result.ok() && !state->failure) state->failure = std::move(result).err();
  state->done = true;
  state->notify();
}

net::response upstream_error(const core::error& err, const std::string& service, const net::request& req) {
  if (err.code() == core::errc::deadline_exceeded) {
    return net::error_response(504, "upstream_timeout", service + " service did not answer in time: " + err.message(),
                               req.request_id);
  }
  return net::error_response(502, "bad_gateway", service + " service unavailable: " + err.message(), req.request_id);
}

std::vector<std::pair<std::string, std::string>> forwarded_headers(const net::request& req,
                                                                   const identity_signer& signer) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : req.headers) {
    if (!is_hop_by_hop(h.name) && !is_gateway_only(h.name)) out.emplace_back(h.name, h.value);
  }
  out.emplace_back("X-Request-Id", req.request_id);
  out.emplace_back("traceparent", next_traceparent(req.header("traceparent")));
  std::string forwarded_for(req.header("X-Forwarded-For"));
  out.emplace_back("X-Forwarded-For",
                   forwarded_for.empty() ? req.remote_address : forwarded_for + ", " + req.remote_address);
  if (auto identity = signer.sign(req, now_seconds()); !identity.empty()) {
    out.emplace_back("X-WattOS-Identity", std::move(identity));
  }
  return out;
}

awaitable<net::response> forward(net::request& req, const upstream& up, const core::gateway_settings& settings,
                                 const identity_signer& signer) {
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<relay_state>(executor);
  net::http_client_request out;
  out.method = req.method;
  out.url = replica_for(up, req.path, req.request_id) + req.target;
  out.headers = forwarded_headers(req, signer);
  out.body = std::move(req.body);
  out.connect_timeout = std::chrono::milliseconds(settings.upstream_connect_timeout_ms);
  out.first_byte_timeout = std::chrono::milliseconds(settings.upstream_first_byte_timeout_ms);
  out.idle_timeout = std::chrono::milliseconds(settings.upstream_idle_timeout_ms);
  asio::co_spawn(executor, run_transfer(state, std::move(out), settings.proxy_body_limit_bytes),
                 asio::bind_cancellation_slot(state->cancel.slot(), asio::detached));

  while (!state->headers_ready && !state->done) co_await state->wait();
  if (!state->headers_ready) co_return upstream_error(*state->failure, up.service, req);

  // No structured bindings in coroutines: g++ 12 miscompiles them (docs/coroutines.md).
  std::string content_type;
  for (const auto& header : state->headers) {
    if (header.first == "content-type") content_type = header.second;
  }
  if (content_type.starts_with("text/event-stream")) {
    // Relay the stream as it comes: the SSE producer hands on each piece at once. (Named
    // first: a shared_ptr-capturing temporary inside co_return is the g++ 12 trap again.)
    net::sse_producer relay = [state](net::sse_stream& client) -> awaitable<void> {
      while (true) {
        if (!state->pending.empty()) {
          std::string piece;
          piece.swap(state->pending);
          const bool delivered = co_await client.send_raw(std::move(piece));
          if (!delivered) break;
          continue;
        }
        if (state->done || client.closed()) break;
        co_await state->wait();
      }
      // A client that left ends the upstream call too.
      if (!state->done) state->cancel.emit(asio::cancellation_type::terminal);
    };
    auto streamed = net::response::event_stream(std::move(relay));
    // The service's own headers (X-Message-Id, ...) go along; the framing ones are ours.
    for (const auto& header : state->headers) {
      if (header.first.starts_with("x-") && header.first != "x-request-id") {
        streamed.headers.add(header.first, header.second);
      }
    }
    co_return streamed;
  }
  while (!state->done) co_await state->wait();
  if (state->failure) co_return upstream_error(*state->failure, up.service, req);
  net::response res;
  res.status = state->status;
  for (const auto& header : state->headers) {
    // Bodies arrive decoded (curl decodes; the plain path asks for no encoding); the
    // server sets the length again.
    const std::string& name = header.first;
    if (!is_hop_by_hop(name) && name != "content-encoding" && name != "x-request-id")
      res.headers.add(name, header.second);
  }
  res.body = std::move(state->pending);
  co_return res;
}

awaitable<void> forward_websocket(net::request& req, net::websocket_stream& ws, const upstream& up,
                                  const identity_signer& signer) {
  std::string base = replica_for(up, req.path, req.request_id);
  if (base.starts_with("http://")) base = "ws://" + base.substr(7);
  auto headers = forwarded_headers(req, signer);
  // Only the relay's own handshake headers and the gateway's additions go upstream.
  std::erase_if(headers, [](const auto& h) {
    return net::iequals(h.first, "sec-websocket-key") || net::iequals(h.first, "sec-websocket-version") ||
           net::iequals(h.first, "sec-websocket-extensions");
  });
  auto st = co_await net::relay_websocket(ws, base + req.target, std::move(headers));
  if (!st.ok()) co_await ws.close(1011, "upstream unavailable");
}

}  // namespace

std::string next_traceparent(std::string_view incoming) {
  // 00-<trace id: 32 hex>-<parent id: 16 hex>-<flags: 2 hex>
  std::string trace_id;
  std::string flags = "01";
  if (incoming.size() == 55 && incoming.substr(0, 3) == "00-" && incoming[35] == '-' && incoming[52] == '-' &&
      valid_hex(incoming.substr(3, 32), 32) && valid_hex(incoming.substr(36, 16), 16)) {
    trace_id = std::string(incoming.substr(3, 32));
    flags = std::string(incoming.substr(53, 2));
  } else {
    trace_id = core::random_hex(16);
  }
  return "00-" + trace_id + "-" + core::random_hex(8) + "-" + flags;
}

// The claims of one identity header; every text as it goes into the JSON.
struct identity_signer::claims {
  std::string_view kind, user_id, email, session_id, api_key_id, roles, permissions, request_id;
  std::int64_t issued_at = 0;
};

namespace {

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out.append("\\u00").push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

identity_signer::identity_signer(std::string_view secret) : key_(secret) {
  static std::atomic<std::uint64_t> next_id{0};
  id_ = ++next_id;
}

std::string identity_signer::sign(const claims& c) const {
  std::string fixed;
  fixed.reserve(96 + c.user_id.size() + c.email.size() + c.session_id.size() + c.api_key_id.size() + c.roles.size() +
                c.permissions.size());
  const std::pair<const char*, std::string_view> fields[] = {
      {"{\"kind\":", c.kind},      {",\"sub\":", c.user_id}, {",\"email\":", c.email},      {",\"sid\":", c.session_id},
      {",\"key\":", c.api_key_id}, {",\"roles\":", c.roles}, {",\"perms\":", c.permissions}};
  for (const auto& field : fields) {
    fixed.append(field.first);
    append_json_string(fixed, field.second);
  }
  // Whole base64 groups, so the encoded claims are a prefix of the encoded payload.
  while (fixed.size() % 3 != 0) fixed.push_back(' ');

  struct last_principal {
    std::uint64_t signer = 0;
    std::string fixed;
    std::string encoded;                       // base64url(fixed)
    std::optional<core::hmac_sha256_key> mac;  // the key after `encoded`
  };
  thread_local last_principal last;
  if (last.signer != id_ || last.fixed != fixed) {
    last.signer = id_;
    last.fixed = std::move(fixed);
    last.encoded.clear();
    core::base64url_append(last.encoded, last.fixed);
    last.mac = key_.after(last.encoded);
  }

  std::string rest = ",\"rid\":";
  append_json_string(rest, c.request_id);
  rest.append(",\"iat\":").append(std::to_string(c.issued_at)).push_back('}');
  std::string header;
  header.reserve(last.encoded.size() + (rest.size() * 4 + 2) / 3 + 45);
  header.append(last.encoded);
  core::base64url_append(header, rest);
  const std::string mac = last.mac->sign(std::string_view(header).substr(last.encoded.size()));
  header.push_back('.');
  core::base64url_append(header, mac);
  return header;
}

std::string identity_signer::sign(const net::request& req, std::int64_t now_s) const {
  const std::string_view kind = req.attribute("principal.kind");
  if (kind.empty()) return {};
  return sign(claims{kind, req.attribute("principal.user_id"), req.attribute("principal.email"),
                     req.attribute("principal.session_id"), req.attribute("principal.api_key_id"),
                     req.attribute("principal.roles"), req.attribute("principal.permissions"), req.request_id, now_s});
}

std::string identity_signer::sign(const principal& who, std::string_view request_id, std::int64_t now_s) const {
  const std::string roles = join_permissions(who.roles);
  const std::string permissions = join_permissions(who.permissions);
  return sign(
      claims{who.kind, who.user_id, who.email, who.session_id, who.api_key_id, roles, permissions, request_id, now_s});
}

std::string sign_identity(const principal& who, std::string_view request_id, std::int64_t now_s,
                          std::string_view secret) {
  return identity_signer(secret).sign(who, request_id, now_s);
}

core::result<principal> verify_identity(std::string_view header, std::string_view secret, std::int64_t now_s,
                                        std::int64_t max_age_s) {
  auto dot = header.find('.');
  if (dot == std::string_view::npos || header.size() > 8192) return core::error::unauthenticated("malformed identity");
  auto payload = header.substr(0, dot);
  auto signature = core::base64url_decode(header.substr(dot + 1));
  if (!signature || !core::constant_time_equals(*signature, core::hmac_sha256(secret, payload))) {
    return core::error::unauthenticated("identity signature does not verify");
  }
  auto text = core::base64url_decode(payload);
  if (!text) return core::error::unauthenticated("malformed identity");
  boost::system::error_code ec;
  auto value = json::parse(*text, ec);
  if (ec || !value.is_object()) return core::error::unauthenticated("malformed identity");
  const auto& o = value.as_object();
  auto str = [&o](const char* k) {
    auto* v = o.if_contains(k);
    return (v && v->is_string()) ? std::string(v->as_string()) : std::string();
  };
  auto* iat = o.if_contains("iat");
  if (!iat || !iat->is_int64() || iat->as_int64() + max_age_s < now_s || iat->as_int64() > now_s + 60) {
    return core::error::unauthenticated("identity too old");
  }
  principal p;
  p.kind = str("kind");
  p.user_id = str("sub");
  p.email = str("email");
  p.session_id = str("sid");
  p.api_key_id = str("key");
  p.roles = split_permissions(str("roles"));
  p.permissions = split_permissions(str("perms"));
  return p;
}

const std::string& replica_for(const upstream& up, std::string_view path, std::string_view request_id) {
  if (up.base_urls.size() == 1) return up.base_urls.front();
  std::string_view key = request_id;
  for (const auto& prefix : up.prefixes) {
    if (!path.starts_with(prefix) || path.size() <= prefix.size() + 1 || path[prefix.size()] != '/') continue;
    std::string_view rest = path.substr(prefix.size() + 1);
    key = rest.substr(0, rest.find('/'));
    break;
  }
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a: the same replica in every gateway process
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return up.base_urls[h % up.base_urls.size()];
}

std::vector<upstream> configured_upstreams(const core::services_settings& s) {
  std::vector<upstream> out;
  auto add = [&out](const std::string& urls, std::string_view service, rate_class r) {
    std::vector<std::string> bases;
    std::size_t pos = 0;
    while (pos <= urls.size()) {
      auto comma = urls.find(',', pos);
      if (comma == std::string::npos) comma = urls.size();
      std::string base = urls.substr(pos, comma - pos);
      while (!base.empty() && (base.back() == '/' || base.back() == ' ')) base.pop_back();
      while (!base.empty() && base.front() == ' ') base.erase(base.begin());
      if (!base.empty()) bases.push_back(std::move(base));
      pos = comma + 1;
    }
    if (bases.empty()) return;
    // The service's prefixes are those it owns (api/services.hpp), so the gateway
    // forwards exactly what `wattos serve --service NAME` serves.
    std::vector<std::string> prefixes;
    for (const auto& p : service_prefixes()) {
      if (p.service == service) prefixes.emplace_back(p.prefix);
    }
    out.push_back({std::string(service), std::move(bases), std::move(prefixes), r});
  };
  add(s.chat_url, "chat", rate_class::chat);
  add(s.rag_url, "rag", rate_class::standard);
  add(s.agent_url, "agent", rate_class::chat);
  add(s.persona_url, "persona", rate_class::standard);
  add(s.voice_url, "voice", rate_class::chat);
  add(s.llm_url, "llm", rate_class::chat);
  add(s.ingestion_url, "ingestion", rate_class::upload);
  return out;
}

void add_proxy_routes(route_table& routes, const std::vector<upstream>& upstreams,
                      const core::gateway_settings& settings) {
  auto signer = std::make_shared<const identity_signer>(settings.identity_secret);
  for (const auto& up : upstreams) {
    for (const auto& prefix : up.prefixes) {
      for (const std::string& pattern : {prefix, prefix + "/{*rest}"}) {
        for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
          // The service checks the finer permissions itself from the signed identity.
          access_rule rule = access_rule::signed_in();
          rule.rate = up.rate;
          routes.add(method, pattern, rule,
                     [up, settings, signer](net::request& req) -> awaitable<net::response> {
                       co_return co_await forward(req, up, settings, *signer);
                     },
                     {.body_limit = settings.proxy_body_limit_bytes});
        }
        routes.add_websocket(pattern, access_rule::signed_in(),
                             [up, signer](net::request& req, net::websocket_stream& ws) -> awaitable<void> {
                               co_await forward_websocket(req, ws, up, *signer);
                             });
      }
    }
  }
}

}  // namespace wattos::api
