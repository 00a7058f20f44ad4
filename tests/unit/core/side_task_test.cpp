#include "core/side_task.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace wattos::core {
namespace {

TEST(side_task, runs_the_work_once_before_wait_returns) {
  int runs = 0;
  side_task task([&] { ++runs; });
  task.wait();
  EXPECT_EQ(runs, 1);
}

TEST(side_task, wait_rethrows_what_the_work_threw) {
  side_task task([] { throw std::runtime_error("boom"); });
  EXPECT_THROW(task.wait(), std::runtime_error);
}

TEST(side_task, destructor_waits_for_the_work) {
  std::atomic<bool> done{false};
  {
    side_task task([&] { done = true; });
  }
  EXPECT_TRUE(done.load());
}

TEST(side_task, completes_when_every_helper_is_blocked) {
  // Blockers hold all helpers until the extra task has finished: had the extra task
  // queued behind them, this would never end.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::unique_ptr<side_task>> blockers;
  for (unsigned i = 0; i < side_task_helpers(); ++i)
    blockers.push_back(std::make_unique<side_task>([released] { released.wait(); }));
  std::thread::id ran_on;
  side_task extra([&] { ran_on = std::this_thread::get_id(); });
  extra.wait();
  EXPECT_NE(ran_on, std::thread::id{});
  EXPECT_EQ(ran_on == std::this_thread::get_id(), !extra.on_helper());
  release.set_value();
  for (auto& b : blockers) b->wait();
}

TEST(side_task, many_callers_at_once) {
  std::atomic<int> runs{0};
  std::vector<std::thread> callers;
  callers.reserve(8);
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        side_task task([&] { runs.fetch_add(1, std::memory_order_relaxed); });
        runs.fetch_add(1, std::memory_order_relaxed);
        task.wait();
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(runs.load(), 8 * 500 * 2);
}

}  // namespace
}  // namespace wattos::core
