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

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace wattos::infra::db {

// The process's pool for blocking store work (4 threads; they mostly wait).
boost::asio::thread_pool& blocking_pool();

// The same on another pool (CPU-bound work such as OCR, kept off the store's threads).
template <typename Work>
auto offload_on(boost::asio::thread_pool& pool, Work work) -> boost::asio::awaitable<std::invoke_result_t<Work&>> {
  using value = std::invoke_result_t<Work&>;
  // std::optional: co_spawn's result must be default-constructible, core::result is not.
  auto task = [w = std::move(work)]() mutable -> boost::asio::awaitable<std::optional<value>> { co_return w(); };
  // The work is not cancellable (a SQL call runs to its end), and the caller's
  // cancellation must not reach the pool's coroutine: Asio 1.81 checks it when that
  // coroutine first resumes on the pool, outside any handler, and the exception ends
  // the process (std::terminate; seen when an SSE client left during a store call).
  // An empty slot keeps the two apart; the caller still sees its own cancellation when
  // it resumes.
  std::optional<value> done = co_await boost::asio::co_spawn(
      pool, std::move(task),
      boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(), boost::asio::use_awaitable));
  co_return std::move(*done);
}

template <typename Work>
auto offload(Work work) -> boost::asio::awaitable<std::invoke_result_t<Work&>> {
  return offload_on(blocking_pool(), std::move(work));
}

}  // namespace wattos::infra::db
