#include "infra/llm/token_budget.hpp"

namespace wattos::infra::llm {

void daily_token_counter::start_day_locked(std::string_view day) {
  if (day <= day_) return;
  day_ = std::string(day);
  counts_.clear();
}

void daily_token_counter::reset(const std::string& day, totals counts) {
  std::lock_guard lock(mutex_);
  if (day < day_) return;
  day_ = day;
  counts_ = std::move(counts);
}

void daily_token_counter::add(std::string_view user_id, std::string_view day, std::int64_t tokens) {
  std::lock_guard lock(mutex_);
  start_day_locked(day);
  if (day != day_) return;  // a late row of a day that is over
  auto it = counts_.find(user_id);
  if (it == counts_.end()) it = counts_.emplace(std::string(user_id), 0).first;
  it->second += tokens;
}

std::int64_t daily_token_counter::used(std::string_view user_id, std::string_view today) {
  std::lock_guard lock(mutex_);
  start_day_locked(today);
  if (today != day_) return 0;
  auto it = counts_.find(user_id);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace wattos::infra::llm
