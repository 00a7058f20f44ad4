// File: core/clock.hpp
//
// Wall-clock time as stored in the SQL store and shown in APIs: UTC, ISO 8601, second
// precision ("2026-11-28T05:04:07Z"), and the UTC day ("2026-11-28") that daily
// budgets and usage reports count by.
#pragma once

#include <string>

namespace wattos::core {

std::string utc_now_iso();
std::string utc_today();

}  // namespace wattos::core
