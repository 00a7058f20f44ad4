// File: api/health_routes.hpp
//
// Operational endpoints every `wattos` process serves, whatever services it runs:
//   GET /healthz          liveness: the process answers (always 200 while it runs)
//   GET /readyz           readiness: every registered check passes (its stores answer), else 503
//   GET /metrics          Prometheus text exposition of the process's registry
//   GET /api/v1/version   version and the services this process runs
//
// Example:
//   api::readiness_checks checks;
//   checks.add("database", [&db] { return db->ping(); });
//   api::add_health_routes(route_table, checks, metrics, {.services = {"all"}});
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/gateway.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"

namespace wattos::api {

// Named checks run by /readyz. Checks are called on an I/O thread: keep them quick
// (a ping with a short timeout).
class readiness_checks {
 public:
  void add(std::string name, std::function<core::status()> check);
  // Runs every check; the overall status and a line per check.
  struct outcome {
    bool ready = true;
    std::vector<std::pair<std::string, std::string>> details;  // name -> "ok" or the error message
  };
  outcome run() const;

 private:
  std::vector<std::pair<std::string, std::function<core::status()>>> checks_;
};

struct process_info {
  std::vector<std::string> services;  // what this process serves, e.g. {"all"} or {"chat"}
  std::string instance_id;
};

// The checks and registry must outlive the router. All four routes are open to all.
void add_health_routes(route_table& routes, const readiness_checks& checks, core::metrics_registry& metrics,
                       process_info info);

}  // namespace wattos::api
