#include "api/health_routes.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/version.hpp"

namespace wattos::api {

void readiness_checks::add(std::string name, std::function<core::status()> check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

readiness_checks::outcome readiness_checks::run() const {
  outcome out;
  for (const auto& [name, check] : checks_) {
    auto st = check();
    if (st.ok()) {
      out.details.emplace_back(name, "ok");
    } else {
      out.ready = false;
      out.details.emplace_back(name, st.err().message());
    }
  }
  return out;
}

void add_health_routes(route_table& routes, const readiness_checks& checks, core::metrics_registry& metrics,
                       process_info info) {
  const auto open = access_rule::open_to_all();
  routes.add("GET", "/healthz", open, [](net::request&) -> boost::asio::awaitable<net::response> {
    co_return net::response::json(200, R"({"status":"ok"})");
  });

  routes.add("GET", "/readyz", open, [&checks](net::request&) -> boost::asio::awaitable<net::response> {
    auto outcome = checks.run();
    boost::json::object body;
    body["status"] = outcome.ready ? "ready" : "not_ready";
    boost::json::object details;
    for (const auto& detail : outcome.details) details[detail.first] = detail.second;
    body["checks"] = std::move(details);
    co_return net::response::json(outcome.ready ? 200 : 503, boost::json::serialize(body));
  });

  routes.add("GET", "/metrics", open, [&metrics](net::request&) -> boost::asio::awaitable<net::response> {
    co_return net::response::text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  boost::json::object version;
  version["name"] = "wattos";
  version["version"] = core::version_string;
  boost::json::array services;
  for (const auto& s : info.services) services.emplace_back(s);
  version["services"] = std::move(services);
  if (!info.instance_id.empty()) version["instance_id"] = info.instance_id;
  routes.add("GET", "/api/v1/version", open,
             [body = boost::json::serialize(version)](net::request&) -> boost::asio::awaitable<net::response> {
               co_return net::response::json(200, body);
             });
}

}  // namespace wattos::api
