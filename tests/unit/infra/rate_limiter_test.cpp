#include "infra/cache/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "core/id.hpp"
#include "db_backends.hpp"

namespace wattos::infra {
namespace {

// The same cases for both stores; Redis runs against WATTOS_TEST_REDIS_URL.
class rate_limits : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      limiter_ = make_memory_rate_limiter();
      return;
    }
    const char* url = std::getenv("WATTOS_TEST_REDIS_URL");
    if (!url) {
      if (db::testing::servers_required()) FAIL() << "WATTOS_TEST_REDIS_URL is not set but servers are required";
      GTEST_SKIP() << "Redis store: WATTOS_TEST_REDIS_URL is not set (scripts/test.sh sets it)";
    }
    url_ = url;
    auto made = make_redis_rate_limiter(url_);
    ASSERT_TRUE(made.ok()) << made.err().message();
    limiter_ = std::move(made).value();
  }

  std::string key() { return "test:" + core::random_hex(8); }
  std::unique_ptr<rate_limiter> limiter_;
  std::string url_;
};

TEST_P(rate_limits, burst_then_refused_with_retry_after) {
  const rate_limit_rule rule{60, 3};  // one token per second, three at once
  auto k = key();
  for (int i = 0; i < 3; ++i) {
    auto d = limiter_->take(k, rule);
    ASSERT_TRUE(d.ok()) << d.err().message();
    EXPECT_TRUE(d->allowed) << i;
    EXPECT_EQ(d->remaining, 2 - i);
  }
  auto refused = limiter_->take(k, rule);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->allowed);
  EXPECT_GT(refused->retry_after_ms, 0);
  EXPECT_LE(refused->retry_after_ms, 1000);
  // Other keys have their own buckets.
  EXPECT_TRUE(limiter_->take(key(), rule)->allowed);
}

TEST_P(rate_limits, concurrent_takers_never_exceed_the_burst) {
  const rate_limit_rule rule{1, 50};  // refill negligible within the test
  auto k = key();
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        auto d = limiter_->take(k, rule);
        if (d.ok() && d->allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 50);
}

INSTANTIATE_TEST_SUITE_P(stores, rate_limits, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// What the Redis store is for: two limiters (two gateway processes) share one bucket.
class shared_redis_limit : public rate_limits {};

TEST_P(shared_redis_limit, two_limiters_share_one_limit) {
  auto second = make_redis_rate_limiter(url_);
  ASSERT_TRUE(second.ok());
  const rate_limit_rule rule{1, 4};
  auto k = key();
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    auto& which = (i % 2 == 0) ? *limiter_ : **second;
    if (which.take(k, rule)->allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 4);
}

INSTANTIATE_TEST_SUITE_P(redis, shared_redis_limit, ::testing::Values("redis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

TEST(redis_rate_limiter, bad_urls_and_unreachable_servers_fail) {
  EXPECT_EQ(make_redis_rate_limiter("http://x").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(make_redis_rate_limiter("redis://127.0.0.1:1").err().code(), core::errc::unavailable);
}

}  // namespace
}  // namespace wattos::infra
