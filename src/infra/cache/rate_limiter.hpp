// File: infra/cache/rate_limiter.hpp
//
// Token buckets: each key (a principal, an API key or an IP, per route class) holds up
// to `burst` tokens that refill at `per_minute`; a request takes one. Two stores behind
// one interface: in memory (one process), and Redis (an atomic Lua script using the
// Redis server's clock, so several gateway processes share one limit).
//
// Example:
//   auto limiter = infra::make_memory_rate_limiter();
//   auto d = limiter->take("login:ip:10.0.0.1", {.per_minute = 10, .burst = 5});
//   if (d && !d->allowed) answer 429 with Retry-After: d->retry_after_ms / 1000
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace wattos::infra {

struct rate_limit_rule {
  double per_minute = 60;
  double burst = 10;
};

struct rate_decision {
  bool allowed = true;
  std::int64_t remaining = 0;       // whole tokens left after this request
  std::int64_t retry_after_ms = 0;  // when not allowed: until one token is back
  std::int64_t reset_ms = 0;        // until the bucket is full again
};

class rate_limiter {
 public:
  virtual ~rate_limiter() = default;
  // Takes one token from `key`'s bucket. Thread safe.
  virtual core::result<rate_decision> take(std::string_view key, const rate_limit_rule& rule) = 0;
};

std::unique_ptr<rate_limiter> make_memory_rate_limiter();

// `url`: redis://host:port[/db]. Fails when Redis cannot be reached.
core::result<std::unique_ptr<rate_limiter>> make_redis_rate_limiter(std::string_view url);

}  // namespace wattos::infra
