#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace wattos::core {
namespace {

TEST(metrics, counter_with_labels_renders) {
  metrics_registry registry;
  auto& requests = registry.counter_family("wattos_requests_total", "Requests", {"route", "status"});
  requests.with({"/a", "200"}).inc();
  requests.with({"/a", "200"}).inc(2);
  requests.with({"/b\"x", "500"}).inc();
  std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE wattos_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("wattos_requests_total{route=\"/a\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("route=\"/b\\\"x\""), std::string::npos) << text;
}

TEST(metrics, gauge_moves_both_ways) {
  metrics_registry registry;
  auto& open = registry.gauge_family("wattos_open", "Open").get();
  open.inc();
  open.inc();
  open.dec();
  EXPECT_DOUBLE_EQ(open.value(), 1);
  EXPECT_NE(registry.render().find("wattos_open 1\n"), std::string::npos);
}

TEST(metrics, histogram_buckets_are_cumulative) {
  metrics_registry registry;
  auto& h = registry.histogram_family("wattos_latency_seconds", "Latency", {}, {0.1, 1.0}).get();
  h.observe(0.05);
  h.observe(0.1);  // on the bound: counts in le="0.1"
  h.observe(0.5);
  h.observe(5);
  std::string text = registry.render();
  EXPECT_NE(text.find("wattos_latency_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wattos_latency_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wattos_latency_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wattos_latency_seconds_count 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wattos_latency_seconds_sum 5.65\n"), std::string::npos) << text;
}

TEST(metrics, same_name_returns_same_family) {
  metrics_registry registry;
  auto& a = registry.counter_family("x_total", "X");
  auto& b = registry.counter_family("x_total", "X");
  EXPECT_EQ(&a, &b);
}

TEST(metrics, concurrent_increments_are_not_lost) {
  metrics_registry registry;
  auto& c = registry.counter_family("c_total", "C", {"k"});
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.with({"v"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(c.with({"v"}).value(), 40000);
}

}  // namespace
}  // namespace wattos::core
