// File: infra/llm/token_budget.hpp
//
// Tokens used per user on the current UTC day, in memory, so that the budget check
// before a model call costs a map lookup instead of a SUM over the usage table. The
// gateway seeds it from `llm_usage` (reset) at start and again every minute, and adds
// each usage row it writes (add). Days are "YYYY-MM-DD" strings, which sort by date.
//
// The day boundary: the first add() or used() of a later day starts that day with
// nothing counted (the earlier day's counts are dropped); an add() for an earlier day
// than the current one is a late row of a day already over and is not counted.
//
// Thread safety: every member is safe to call from any thread.
//
// Example:
//   daily_token_counter used;
//   used.reset("2026-12-02", {{"user-1", 120}});
//   used.add("user-1", "2026-12-02", 30);
//   used.used("user-1", "2026-12-02");  // 150
//   used.used("user-1", "2026-12-03");  // 0: a new day
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace wattos::infra::llm {

class daily_token_counter {
 public:
  using totals = std::map<std::string, std::int64_t, std::less<>>;

  // The counts of `day` as the store has them, replacing what was counted for it
  // (ignored when the counter already moved on to a later day).
  void reset(const std::string& day, totals counts);
  // Tokens of one usage row of `day`.
  void add(std::string_view user_id, std::string_view day, std::int64_t tokens);
  // Tokens `user_id` used on `today`.
  std::int64_t used(std::string_view user_id, std::string_view today);

 private:
  void start_day_locked(std::string_view day);  // moves to `day` if it is later

  std::mutex mutex_;  // guards day_ and counts_
  std::string day_;
  totals counts_;
};

}  // namespace wattos::infra::llm
