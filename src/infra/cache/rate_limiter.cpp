#include "infra/cache/rate_limiter.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <unordered_map>

namespace wattos::infra {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

rate_decision decide(double& tokens, double& last_ms, double now, const rate_limit_rule& rule) {
  const double per_ms = rule.per_minute / 60000.0;
  tokens = std::min(rule.burst, tokens + (now - last_ms) * per_ms);
  last_ms = now;
  rate_decision d;
  if (tokens >= 1.0) {
    tokens -= 1.0;
    d.allowed = true;
  } else {
    d.allowed = false;
    d.retry_after_ms = static_cast<std::int64_t>(std::ceil((1.0 - tokens) / per_ms));
  }
  d.remaining = static_cast<std::int64_t>(std::floor(tokens));
  d.reset_ms = static_cast<std::int64_t>(std::ceil((rule.burst - tokens) / per_ms));
  return d;
}

class memory_rate_limiter final : public rate_limiter {
 public:
  core::result<rate_decision> take(std::string_view key, const rate_limit_rule& rule) override {
    const double now = static_cast<double>(now_ms());
    auto& shard = shards_[std::hash<std::string_view>{}(key) % shard_count];
    std::lock_guard lock(shard.mutex);
    auto it = shard.buckets.find(std::string(key));
    if (it == shard.buckets.end()) {
      // Bounded memory: when a shard is large, forget buckets that have refilled.
      if (shard.buckets.size() >= max_buckets_per_shard) prune(shard, now, rule);
      it = shard.buckets.emplace(std::string(key), bucket{rule.burst, now}).first;
    }
    return decide(it->second.tokens, it->second.last_ms, now, rule);
  }

 private:
  struct bucket {
    double tokens;
    double last_ms;
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, bucket> buckets;  // guarded by mutex
  };
  static constexpr std::size_t shard_count = 16;
  static constexpr std::size_t max_buckets_per_shard = 50000;

  static void prune(shard& s, double now, const rate_limit_rule& rule) {
    const double full_after_ms = rule.burst / (rule.per_minute / 60000.0);
    std::erase_if(s.buckets, [&](const auto& entry) { return now - entry.second.last_ms > full_after_ms; });
    if (s.buckets.size() >= max_buckets_per_shard) s.buckets.clear();  // under attack: start over, stay bounded
  }

  shard shards_[shard_count];
};

// KEYS[1] bucket; ARGV: per_minute, burst. Returns {allowed, remaining, retry_after_ms, reset_ms}.
constexpr const char* token_bucket_script = R"lua(
local per_ms = tonumber(ARGV[1]) / 60000
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1]) or burst
local ts = tonumber(data[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * per_ms)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_ms) + 1000)
return {allowed, math.floor(tokens), retry, math.ceil((burst - tokens) / per_ms)}
)lua";

class redis_rate_limiter final : public rate_limiter {
 public:
  redis_rate_limiter(std::string host, int port, int db) : host_(std::move(host)), port_(port), db_(db) {}
  ~redis_rate_limiter() override {
    if (ctx_) redisFree(ctx_);
  }

  core::status connect() {
    std::lock_guard lock(mutex_);
    return connect_locked();
  }

  core::result<rate_decision> take(std::string_view key, const rate_limit_rule& rule) override {
    std::lock_guard lock(mutex_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!ctx_) WATTOS_RETURN_IF_ERROR(connect_locked());
      std::string full_key = "wattos:ratelimit:" + std::string(key);
      std::string per_minute = std::to_string(rule.per_minute);
      std::string burst = std::to_string(rule.burst);
      auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "EVALSHA %s 1 %b %s %s", sha_.c_str(), full_key.data(),
                                                          full_key.size(), per_minute.c_str(), burst.c_str()));
      if (reply && reply->type == REDIS_REPLY_ERROR && std::string_view(reply->str).starts_with("NOSCRIPT")) {
        freeReplyObject(reply);
        WATTOS_RETURN_IF_ERROR(load_script());
        continue;
      }
      if (!reply) {  // connection lost: reconnect once
        redisFree(ctx_);
        ctx_ = nullptr;
        continue;
      }
      std::unique_ptr<redisReply, decltype(&freeReplyObject)> guard(reply, &freeReplyObject);
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        return core::error::unavailable("redis rate limiter: unexpected reply");
      }
      rate_decision d;
      d.allowed = reply->element[0]->integer == 1;
      d.remaining = reply->element[1]->integer;
      d.retry_after_ms = reply->element[2]->integer;
      d.reset_ms = reply->element[3]->integer;
      return d;
    }
    return core::error::unavailable("redis rate limiter: no connection");
  }

 private:
  core::status connect_locked() {
    timeval timeout{1, 0};
    ctx_ = redisConnectWithTimeout(host_.c_str(), port_, timeout);
    if (!ctx_ || ctx_->err) {
      std::string why = ctx_ ? ctx_->errstr : "out of memory";
      if (ctx_) redisFree(ctx_);
      ctx_ = nullptr;
      return core::error::unavailable("cannot connect to redis at " + host_ + ":" + std::to_string(port_) + ": " + why);
    }
    redisSetTimeout(ctx_, timeout);
    if (db_ != 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "SELECT %d", db_));
      if (reply) freeReplyObject(reply);
    }
    return load_script();
  }

  core::status load_script() {
    auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "SCRIPT LOAD %s", token_bucket_script));
    if (!reply || reply->type != REDIS_REPLY_STRING) {
      if (reply) freeReplyObject(reply);
      return core::error::unavailable("redis: cannot load the rate-limit script");
    }
    sha_.assign(reply->str, reply->len);
    freeReplyObject(reply);
    return {};
  }

  std::string host_;
  int port_;
  int db_;
  std::mutex mutex_;
  redisContext* ctx_ = nullptr;  // guarded by mutex_; one connection, requests take turns
  std::string sha_;
};

}  // namespace

std::unique_ptr<rate_limiter> make_memory_rate_limiter() {
  return std::make_unique<memory_rate_limiter>();
}

core::result<std::unique_ptr<rate_limiter>> make_redis_rate_limiter(std::string_view url) {
  if (!url.starts_with("redis://")) return core::error::invalid_argument("redis URL must start with redis://");
  std::string_view rest = url.substr(8);
  int db = 0;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    db = std::atoi(std::string(rest.substr(slash + 1)).c_str());
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);  // no AUTH support yet
  std::string host(rest);
  int port = 6379;
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = std::string(rest.substr(0, colon));
    port = std::atoi(std::string(rest.substr(colon + 1)).c_str());
  }
  if (host.empty() || port <= 0 || port > 65535) return core::error::invalid_argument("bad redis URL");
  auto limiter = std::make_unique<redis_rate_limiter>(host, port, db);
  WATTOS_RETURN_IF_ERROR(limiter->connect());
  return std::unique_ptr<rate_limiter>(std::move(limiter));
}

}  // namespace wattos::infra
