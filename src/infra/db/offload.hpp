// File: infra/db/offload.hpp
//
// Runs blocking store work (SQL calls, which wait for SQLite's single writer or a
// PostgreSQL round trip) on a small thread pool of its own and resumes the awaiting
// coroutine on its executor, so that an I/O thread keeps relaying other streams' tokens
// meanwhile. Use it on hot paths that stream (chat turns, usage rows, audit rows);
// everything else may call the database directly.
//
// Example:
//   auto st = co_await db::offload([&] { return store.append(event); });
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace wattos::infra::db {

// The process's pool for blocking store work (4 threads; they mostly wait).
boost::asio::thread_pool& blocking_pool();

template <typename Work>
auto offload(Work work) -> boost::asio::awaitable<std::invoke_result_t<Work&>> {
  using value = std::invoke_result_t<Work&>;
  // std::optional: co_spawn's result must be default-constructible, core::result is not.
  auto task = [w = std::move(work)]() mutable -> boost::asio::awaitable<std::optional<value>> { co_return w(); };
  std::optional<value> done =
      co_await boost::asio::co_spawn(blocking_pool(), std::move(task), boost::asio::use_awaitable);
  co_return std::move(*done);
}

}  // namespace wattos::infra::db
