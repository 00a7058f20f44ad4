// The Redis backend, after BullMQ's key layout. For a queue Q under prefix P:
//   P:Q:wait       list of job numbers ready to run, claimed from the head
//   P:Q:active     sorted set: job number -> lease deadline (unix ms)
//   P:Q:delayed    sorted set: job number -> run time * 4096 + (number % 4096), so jobs
//                  due in the same millisecond keep their enqueue order (BullMQ's trick)
//   P:Q:completed  sorted set: job number -> finish time
//   P:Q:dead       sorted set: job number -> finish time
//   P:Q:id         counter (INCR) that numbers the jobs
//   P:Q:dedupe     hash: dedupe key -> job number
//   P:Q:<n>        hash: the job's fields (payload, attempts, state, lease_token, ...)
// A job's id is "Q:<n>", so its hash is P:<id> and get(id) needs nothing else.
//
// Every state change is one Lua script (EVALSHA, EVAL when the server lost its script
// cache), so it is atomic against every other client on any machine, and every script
// reads the Redis server's clock (TIME): the machines need not agree on the time.
// Redis 7 replicates a script's effects, not the script, so reading TIME before writing
// is allowed.
//
// Connections: a small pool (idle contexts kept under a mutex); a call takes one, so
// concurrent callers do not take turns on one socket. A connection that fails is
// dropped and the call retried once on a fresh one: a script whose reply was lost may
// then have run twice (an extra job, a claim that runs out as an expired lease), the
// usual at-least-once trade.
#include <hiredis/hiredis.h>

#include <array>
#include <cstdlib>
#include <mutex>

#include "core/id.hpp"
#include "infra/queue/job_queue.hpp"

namespace wattos::infra::queue {
namespace {

// Shared by every script. KEYS are always the queue's keys in this order, ARGV[1] the
// prefix of its job hashes ("P:Q:").
constexpr const char* lua_prelude = R"lua(
local k_wait, k_active, k_delayed, k_completed, k_dead, k_id, k_dedupe =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local base = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Lua formats numbers with 14 digits; delayed scores have 16.
local function num(x) return string.format('%.0f', x) end
local function delayed_score(run_at, n) return num(run_at * 4096 + (tonumber(n) % 4096)) end
local function due_bound(now) return '(' .. num((now + 1) * 4096) end
)lua";

// ARGV: base, payload, max_attempts, delay_ms, dedupe_key. Returns the job number.
constexpr const char* lua_enqueue = R"lua(
local now = now_ms()
local dk = ARGV[5]
if dk ~= '' then
  local existing = redis.call('HGET', k_dedupe, dk)
  if existing then return existing end
end
local n = tostring(redis.call('INCR', k_id))
local delay = tonumber(ARGV[4])
local run_at = now + math.max(delay, 0)
local state = 'waiting'
if delay > 0 then state = 'delayed' end
redis.call('HSET', base .. n, 'payload', ARGV[2], 'attempts', '0', 'max_attempts', ARGV[3], 'state', state,
  'last_error', '', 'lease_token', '', 'worker_id', '', 'run_at_ms', num(run_at), 'lease_until_ms', '0',
  'created_at_ms', num(now), 'finished_at_ms', '0', 'dedupe_key', dk)
if delay > 0 then
  redis.call('ZADD', k_delayed, delayed_score(run_at, n), n)
else
  redis.call('RPUSH', k_wait, n)
end
if dk ~= '' then redis.call('HSET', k_dedupe, dk, n) end
return n
)lua";

// ARGV: base, worker_id, lease_ms, lease_token. Promotes due delayed jobs and expired
// leases (or dead-letters those on their last attempt), then takes the head of wait.
// Returns false, or {n, attempts, payload, max_attempts, last_error, run_at_ms,
// created_at_ms, dedupe_key, lease_until_ms}.
constexpr const char* lua_claim = R"lua(
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', k_delayed, '-inf', due_bound(now), 'LIMIT', 0, 100)
for _, n in ipairs(due) do
  redis.call('ZREM', k_delayed, n)
  redis.call('RPUSH', k_wait, n)
  redis.call('HSET', base .. n, 'state', 'waiting')
end
local expired = redis.call('ZRANGEBYSCORE', k_active, '-inf', num(now), 'LIMIT', 0, 100)
-- Backwards, so that after the LPUSHes the longest-expired job is at the head.
for i = #expired, 1, -1 do
  local n = expired[i]
  local key = base .. n
  local a = redis.call('HMGET', key, 'attempts', 'max_attempts')
  redis.call('ZREM', k_active, n)
  if tonumber(a[1]) >= tonumber(a[2]) then
    redis.call('ZADD', k_dead, num(now), n)
    redis.call('HSET', key, 'state', 'dead', 'last_error', 'lease expired', 'finished_at_ms', num(now))
  else
    redis.call('LPUSH', k_wait, n)
    redis.call('HSET', key, 'state', 'waiting')
  end
end
local n = redis.call('LPOP', k_wait)
if not n then return false end
local key = base .. n
local lease_until = now + tonumber(ARGV[3])
local attempts = redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'state', 'active', 'lease_token', ARGV[4], 'worker_id', ARGV[2],
  'lease_until_ms', num(lease_until))
redis.call('ZADD', k_active, num(lease_until), n)
local f = redis.call('HMGET', key, 'payload', 'max_attempts', 'last_error', 'run_at_ms', 'created_at_ms', 'dedupe_key')
return {n, attempts, f[1], f[2], f[3], f[4], f[5], f[6], num(lease_until)}
)lua";

// The check every token-guarded script starts with. Returns nil when the token holds
// the job, else {0, current state or 'missing'}.
constexpr const char* lua_check_lease = R"lua(
local n = ARGV[2]
local key = base .. n
local held = redis.call('HMGET', key, 'state', 'lease_token')
if held[1] ~= 'active' or held[2] ~= ARGV[3] then return {0, held[1] or 'missing'} end
)lua";

// ARGV: base, n, token. Returns {1, 'completed'} or {0, state}.
constexpr const char* lua_complete = R"lua(
local now = now_ms()
redis.call('ZREM', k_active, n)
redis.call('ZADD', k_completed, num(now), n)
redis.call('HSET', key, 'state', 'completed', 'finished_at_ms', num(now))
return {1, 'completed'}
)lua";

// ARGV: base, n, token, lease_ms.
constexpr const char* lua_extend = R"lua(
local lease_until = now_ms() + tonumber(ARGV[4])
redis.call('HSET', key, 'lease_until_ms', num(lease_until))
redis.call('ZADD', k_active, num(lease_until), n)
return {1, 'active'}
)lua";

// ARGV: base, n, token, error, retry_delay_ms, permanent (1/0). Returns {1, new state}.
constexpr const char* lua_fail = R"lua(
local now = now_ms()
local a = redis.call('HMGET', key, 'attempts', 'max_attempts')
redis.call('ZREM', k_active, n)
redis.call('HSET', key, 'last_error', ARGV[4])
if ARGV[6] == '1' or tonumber(a[1]) >= tonumber(a[2]) then
  redis.call('ZADD', k_dead, num(now), n)
  redis.call('HSET', key, 'state', 'dead', 'finished_at_ms', num(now))
  return {1, 'dead'}
end
local delay = tonumber(ARGV[5])
if delay > 0 then
  local run_at = now + delay
  redis.call('ZADD', k_delayed, delayed_score(run_at, n), n)
  redis.call('HSET', key, 'state', 'delayed', 'run_at_ms', num(run_at))
  return {1, 'delayed'}
end
redis.call('RPUSH', k_wait, n)
redis.call('HSET', key, 'state', 'waiting', 'run_at_ms', num(now))
return {1, 'waiting'}
)lua";

// ARGV: base, n. {1, 'waiting'}, {0, state}, or {2, 'missing'}.
constexpr const char* lua_retry = R"lua(
local n = ARGV[2]
local key = base .. n
local state = redis.call('HGET', key, 'state')
if not state then return {2, 'missing'} end
if state ~= 'dead' then return {0, state} end
redis.call('ZREM', k_dead, n)
redis.call('RPUSH', k_wait, n)
redis.call('HSET', key, 'state', 'waiting', 'attempts', '0', 'finished_at_ms', '0', 'run_at_ms', num(now_ms()),
  'lease_token', '', 'lease_until_ms', '0')
return {1, 'waiting'}
)lua";

// ARGV: base, n. {1, 'removed'}, {0, 'active'}, or {2, 'missing'}.
constexpr const char* lua_remove = R"lua(
local n = ARGV[2]
local key = base .. n
local f = redis.call('HMGET', key, 'state', 'dedupe_key')
if not f[1] then return {2, 'missing'} end
if f[1] == 'active' then return {0, 'active'} end
redis.call('LREM', k_wait, 0, n)
redis.call('ZREM', k_delayed, n)
redis.call('ZREM', k_completed, n)
redis.call('ZREM', k_dead, n)
if f[2] and f[2] ~= '' and redis.call('HGET', k_dedupe, f[2]) == n then redis.call('HDEL', k_dedupe, f[2]) end
redis.call('DEL', key)
return {1, 'removed'}
)lua";

// Reads (no writes), with the server's clock so that a delayed job whose time has come
// reads as waiting, as in the SQL backend. ARGV: base, mode, then
//   'get' n | 'counts' | '<state>' limit.
// counts: {waiting, delayed, active, completed, dead}; else a list of
// {n, payload, attempts, max_attempts, state, last_error, lease_token, worker_id,
//  run_at_ms, lease_until_ms, created_at_ms, finished_at_ms, dedupe_key}.
constexpr const char* lua_read = R"lua(
local now = now_ms()
local mode = ARGV[2]
local due_count = redis.call('ZCOUNT', k_delayed, '-inf', due_bound(now))
if mode == 'counts' then
  return {redis.call('LLEN', k_wait) + due_count, redis.call('ZCARD', k_delayed) - due_count,
    redis.call('ZCARD', k_active), redis.call('ZCARD', k_completed), redis.call('ZCARD', k_dead)}
end
local ids
if mode == 'get' then
  ids = {ARGV[3]}
else
  local limit = tonumber(ARGV[3])
  if limit <= 0 then return {} end
  if mode == 'waiting' then
    -- Claim order: the wait list, then the due delayed jobs the next claim appends.
    ids = redis.call('LRANGE', k_wait, 0, limit - 1)
    if #ids < limit and due_count > 0 then
      local due = redis.call('ZRANGEBYSCORE', k_delayed, '-inf', due_bound(now), 'LIMIT', 0, limit - #ids)
      for _, n in ipairs(due) do ids[#ids + 1] = n end
    end
  elseif mode == 'delayed' then
    ids = redis.call('ZRANGEBYSCORE', k_delayed, num((now + 1) * 4096), '+inf', 'LIMIT', 0, limit)
  elseif mode == 'active' then
    ids = redis.call('ZRANGE', k_active, 0, limit - 1)
  elseif mode == 'completed' then
    ids = redis.call('ZRANGE', k_completed, 0, limit - 1)
  else
    ids = redis.call('ZRANGE', k_dead, 0, limit - 1)
  end
end
local out = {}
for _, n in ipairs(ids) do
  local f = redis.call('HMGET', base .. n, 'payload', 'attempts', 'max_attempts', 'state', 'last_error',
    'lease_token', 'worker_id', 'run_at_ms', 'lease_until_ms', 'created_at_ms', 'finished_at_ms', 'dedupe_key')
  if f[4] then
    if f[4] == 'delayed' and tonumber(f[8]) <= now then f[4] = 'waiting' end
    out[#out + 1] = {n, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12]}
  end
end
return out
)lua";

enum script_id { s_enqueue, s_claim, s_complete, s_extend, s_fail, s_retry, s_remove, s_read, script_count };

const std::array<std::string, script_count>& script_bodies() {
  static const std::array<std::string, script_count> bodies = [] {
    const std::string p = lua_prelude;
    const std::string guarded = p + lua_check_lease;
    return std::array<std::string, script_count>{p + lua_enqueue,      p + lua_claim,      guarded + lua_complete,
                                                 guarded + lua_extend, guarded + lua_fail, p + lua_retry,
                                                 p + lua_remove,       p + lua_read};
  }();
  return bodies;
}

using reply_ptr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

std::string text_of(const redisReply* r) {
  if (!r) return {};
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) return std::string(r->str, r->len);
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return {};
}

std::int64_t int_of(const redisReply* r) {
  if (!r) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return std::strtoll(r->str, nullptr, 10);
  return 0;
}

struct redis_address {
  std::string host;
  int port = 6379;
  int db = 0;
};

core::result<redis_address> parse_redis_url(std::string_view url) {
  if (!url.starts_with("redis://")) return core::error::invalid_argument("redis URL must start with redis://");
  std::string_view rest = url.substr(8);
  redis_address a;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    a.db = std::atoi(std::string(rest.substr(slash + 1)).c_str());
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);  // no AUTH support yet
  a.host = std::string(rest);
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    a.host = std::string(rest.substr(0, colon));
    a.port = std::atoi(std::string(rest.substr(colon + 1)).c_str());
  }
  if (a.host.empty() || a.port <= 0 || a.port > 65535) return core::error::invalid_argument("bad redis URL");
  return a;
}

// "Q:<n>" -> {Q, n}; nullopt when the id is not of that form.
std::optional<std::pair<std::string, std::string>> split_id(std::string_view id) {
  auto colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) return std::nullopt;
  std::string_view n = id.substr(colon + 1);
  for (char c : n) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::pair{std::string(id.substr(0, colon)), std::string(n)};
}

class redis_queue final : public job_queue {
 public:
  redis_queue(redis_address address, std::string prefix) : address_(std::move(address)), prefix_(std::move(prefix)) {}

  ~redis_queue() override {
    for (auto* c : idle_) redisFree(c);
  }

  core::status check() {
    WATTOS_ASSIGN_OR_RETURN(auto r, command({"PING"}));
    if (r->type == REDIS_REPLY_ERROR) return core::error::unavailable("redis: " + std::string(r->str, r->len));
    return {};
  }

  core::result<std::string> enqueue(std::string_view queue, std::string_view payload,
                                    const enqueue_options& options) override {
    if (queue.empty()) return core::error::invalid_argument("queue name is empty");
    if (options.max_attempts < 1) return core::error::invalid_argument("max_attempts must be at least 1");
    WATTOS_ASSIGN_OR_RETURN(auto r, run(s_enqueue, queue,
                                        {std::string(payload), std::to_string(options.max_attempts),
                                         std::to_string(options.delay_ms), options.dedupe_key}));
    return std::string(queue) + ":" + text_of(r.get());
  }

  core::result<std::optional<job>> claim(std::string_view queue, std::string_view worker_id,
                                         std::int64_t lease_ms) override {
    if (lease_ms <= 0) return core::error::invalid_argument("lease_ms must be positive");
    std::string token = core::random_hex(16);
    WATTOS_ASSIGN_OR_RETURN(auto r, run(s_claim, queue, {std::string(worker_id), std::to_string(lease_ms), token}));
    if (r->type == REDIS_REPLY_NIL) return std::optional<job>{};
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 9) return core::error::internal("redis queue: bad claim reply");
    auto* e = r->element;
    job j;
    j.id = std::string(queue) + ":" + text_of(e[0]);
    j.queue = std::string(queue);
    j.attempts = static_cast<int>(int_of(e[1]));
    j.payload = text_of(e[2]);
    j.max_attempts = static_cast<int>(int_of(e[3]));
    j.last_error = text_of(e[4]);
    j.run_at_ms = int_of(e[5]);
    j.created_at_ms = int_of(e[6]);
    j.dedupe_key = text_of(e[7]);
    j.lease_until_ms = int_of(e[8]);
    j.state = job_state::active;
    j.lease_token = std::move(token);
    j.worker_id = std::string(worker_id);
    return std::optional<job>(std::move(j));
  }

  core::status extend(std::string_view job_id, std::string_view lease_token, std::int64_t lease_ms) override {
    if (lease_ms <= 0) return core::error::invalid_argument("lease_ms must be positive");
    WATTOS_RETURN_IF_ERROR(guarded(s_extend, job_id, {std::string(lease_token), std::to_string(lease_ms)}));
    return {};
  }

  core::status complete(std::string_view job_id, std::string_view lease_token) override {
    WATTOS_RETURN_IF_ERROR(guarded(s_complete, job_id, {std::string(lease_token)}));
    return {};
  }

  core::result<job_state> fail(std::string_view job_id, std::string_view lease_token, std::string_view error_message,
                               std::int64_t retry_delay, bool permanent) override {
    WATTOS_ASSIGN_OR_RETURN(auto state, guarded(s_fail, job_id,
                                                {std::string(lease_token), std::string(error_message),
                                                 std::to_string(retry_delay), permanent ? "1" : "0"}));
    auto s = job_state_from_name(state);
    if (!s) return core::error::internal("redis queue: fail answered '" + state + "'");
    return *s;
  }

  core::status retry(std::string_view job_id) override {
    WATTOS_RETURN_IF_ERROR(guarded(s_retry, job_id, {}));
    return {};
  }

  core::status remove(std::string_view job_id) override {
    WATTOS_RETURN_IF_ERROR(guarded(s_remove, job_id, {}));
    return {};
  }

  core::result<job> get(std::string_view job_id) override {
    auto parts = split_id(job_id);
    if (!parts) return core::error::not_found("no job " + std::string(job_id));
    WATTOS_ASSIGN_OR_RETURN(auto jobs, read(parts->first, {"get", parts->second}));
    if (jobs.empty()) return core::error::not_found("no job " + std::string(job_id));
    return std::move(jobs[0]);
  }

  core::result<queue_counts> counts(std::string_view queue) override {
    WATTOS_ASSIGN_OR_RETURN(auto r, run(s_read, queue, {"counts"}));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) return core::error::internal("redis queue: bad counts reply");
    queue_counts c;
    c.waiting = int_of(r->element[0]);
    c.delayed = int_of(r->element[1]);
    c.active = int_of(r->element[2]);
    c.completed = int_of(r->element[3]);
    c.dead = int_of(r->element[4]);
    return c;
  }

  core::result<std::vector<job>> list(std::string_view queue, job_state state, std::size_t limit) override {
    return read(queue, {std::string(job_state_name(state)), std::to_string(std::min<std::size_t>(limit, 1u << 30))});
  }

 private:
  struct context_deleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  using context_ptr = std::unique_ptr<redisContext, context_deleter>;

  core::result<context_ptr> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        context_ptr c(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    timeval timeout{1, 0};
    context_ptr c(redisConnectWithTimeout(address_.host.c_str(), address_.port, timeout));
    if (!c || c->err) {
      std::string why = c ? c->errstr : "out of memory";
      return core::error::unavailable("cannot connect to redis at " + address_.host + ":" +
                                      std::to_string(address_.port) + ": " + why);
    }
    // A script over a long list may take a while; beyond this the server is in trouble.
    timeval command_timeout{5, 0};
    redisSetTimeout(c.get(), command_timeout);
    if (address_.db != 0) {
      reply_ptr r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", address_.db)), &freeReplyObject);
      if (!r || r->type == REDIS_REPLY_ERROR) return core::error::unavailable("redis: cannot SELECT the database");
    }
    return c;
  }

  void release(context_ptr c) {
    if (!c || c->err) return;  // broken: dropped
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle) idle_.push_back(c.release());
  }

  // One command (argv form: binary-safe), on a pooled connection; retried once on a
  // fresh connection when the pooled one turns out dead.
  core::result<reply_ptr> command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      WATTOS_ASSIGN_OR_RETURN(auto c, acquire());
      auto* raw =
          static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
      if (!raw) continue;  // c is dropped (its err is set)
      reply_ptr r(raw, &freeReplyObject);
      release(std::move(c));
      return r;
    }
    return core::error::unavailable("redis at " + address_.host + ":" + std::to_string(address_.port) +
                                    " does not answer");
  }

  std::vector<std::string> queue_keys(std::string_view queue) const {
    const std::string base = prefix_ + ":" + std::string(queue) + ":";
    return {base + "wait", base + "active", base + "delayed", base + "completed",
            base + "dead", base + "id",     base + "dedupe"};
  }

  // Runs a script with the queue's keys; EVALSHA first, EVAL when the server does not
  // know it (first use, or after a restart or SCRIPT FLUSH: EVAL caches it again).
  core::result<reply_ptr> run(script_id id, std::string_view queue, const std::vector<std::string>& argv) {
    const auto& body = script_bodies()[id];
    std::vector<std::string> args;
    args.reserve(argv.size() + 12);
    args.emplace_back("EVALSHA");
    args.push_back(sha(id));
    args.emplace_back("7");
    for (auto& k : queue_keys(queue)) args.push_back(std::move(k));
    args.push_back(prefix_ + ":" + std::string(queue) + ":");
    for (const auto& a : argv) args.push_back(a);
    WATTOS_ASSIGN_OR_RETURN(auto r, command(args));
    if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
      args[0] = "EVAL";
      args[1] = body;
      WATTOS_ASSIGN_OR_RETURN(r, command(args));
    }
    if (r->type == REDIS_REPLY_ERROR) {
      return core::error::internal("redis queue script failed: " + std::string(r->str, r->len));
    }
    return r;
  }

  // A script on one job that answers {code, text}: 1 done (text: the new state),
  // 0 refused (text: the job's current state), 2 no such job.
  core::result<std::string> guarded(script_id id, std::string_view job_id, std::vector<std::string> argv) {
    auto parts = split_id(job_id);
    if (!parts) return core::error::not_found("no job " + std::string(job_id));
    argv.insert(argv.begin(), parts->second);
    WATTOS_ASSIGN_OR_RETURN(auto r, run(id, parts->first, argv));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return core::error::internal("redis queue: bad reply");
    const std::int64_t code = int_of(r->element[0]);
    std::string text = text_of(r->element[1]);
    if (code == 1) return text;
    if (code == 2 || text == "missing") return core::error::not_found("no job " + std::string(job_id));
    if (id == s_retry) {
      return core::error::failed_precondition("job " + std::string(job_id) + " is " + text + ", not dead");
    }
    if (id == s_remove) {
      return core::error::failed_precondition("job " + std::string(job_id) + " is active; fail or complete it first");
    }
    if (text == "active") {
      return core::error::failed_precondition("job " + std::string(job_id) +
                                              ": the lease token no longer holds it (claimed again)");
    }
    return core::error::failed_precondition("job " + std::string(job_id) + " is " + text +
                                            ", not active under this lease");
  }

  core::result<std::vector<job>> read(std::string_view queue, const std::vector<std::string>& argv) {
    WATTOS_ASSIGN_OR_RETURN(auto r, run(s_read, queue, argv));
    if (r->type != REDIS_REPLY_ARRAY) return core::error::internal("redis queue: bad read reply");
    std::vector<job> out;
    out.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* row = r->element[i];
      if (row->type != REDIS_REPLY_ARRAY || row->elements != 13) return core::error::internal("redis queue: bad row");
      auto* e = row->element;
      job j;
      j.id = std::string(queue) + ":" + text_of(e[0]);
      j.queue = std::string(queue);
      j.payload = text_of(e[1]);
      j.attempts = static_cast<int>(int_of(e[2]));
      j.max_attempts = static_cast<int>(int_of(e[3]));
      auto s = job_state_from_name(text_of(e[4]));
      if (!s) return core::error::internal("redis queue: job " + j.id + " has unknown state");
      j.state = *s;
      j.last_error = text_of(e[5]);
      j.lease_token = text_of(e[6]);
      j.worker_id = text_of(e[7]);
      j.run_at_ms = int_of(e[8]);
      j.lease_until_ms = int_of(e[9]);
      j.created_at_ms = int_of(e[10]);
      j.finished_at_ms = int_of(e[11]);
      j.dedupe_key = text_of(e[12]);
      out.push_back(std::move(j));
    }
    return out;
  }

  // The SHA1 of a script, as the server computes it (SCRIPT LOAD once per process).
  std::string sha(script_id id) {
    std::lock_guard lock(sha_mutex_);
    if (shas_[id].empty()) {
      auto r = command({"SCRIPT", "LOAD", script_bodies()[id]});
      if (r.ok() && (*r)->type == REDIS_REPLY_STRING) shas_[id] = text_of(r->get());
      // On failure the EVALSHA below fails with NOSCRIPT and EVAL carries the script.
      if (shas_[id].empty()) return "0000000000000000000000000000000000000000";
    }
    return shas_[id];
  }

  static constexpr std::size_t max_idle = 32;
  redis_address address_;
  std::string prefix_;
  std::mutex mutex_;
  std::vector<redisContext*> idle_;  // guarded by mutex_
  std::mutex sha_mutex_;
  std::array<std::string, script_count> shas_;  // guarded by sha_mutex_
};

}  // namespace

core::result<std::unique_ptr<job_queue>> make_redis_queue(std::string_view redis_url, std::string_view prefix) {
  WATTOS_ASSIGN_OR_RETURN(auto address, parse_redis_url(redis_url));
  if (prefix.empty()) return core::error::invalid_argument("redis queue prefix is empty");
  auto q = std::make_unique<redis_queue>(std::move(address), std::string(prefix));
  WATTOS_RETURN_IF_ERROR(q->check());
  return std::unique_ptr<job_queue>(std::move(q));
}

}  // namespace wattos::infra::queue
