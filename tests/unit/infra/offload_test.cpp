// db::offload: the work runs on the blocking pool and its result comes back; a caller
// cancelled while the work is queued or running sees its cancellation as an exception
// of its own, and the process survives (Asio 1.81 used to end it with std::terminate
// when the cancellation reached the pool's coroutine).
#include "infra/db/offload.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace wattos::infra::db {
namespace {

namespace asio = boost::asio;

TEST(offload, returns_the_result_of_the_work) {
  asio::io_context io;
  int result = 0;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await offload([] { return 42; }); }, asio::detached);
  io.run();
  EXPECT_EQ(result, 42);
}

TEST(offload, a_cancelled_caller_does_not_end_the_process) {
  std::atomic<int> ran{0};
  int finished = 0;
  for (int i = 0; i < 500; ++i) {
    asio::io_context io;
    asio::cancellation_signal cancel;
    auto caller = [&]() -> asio::awaitable<void> {
      try {
        co_await offload([&] {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          return ++ran;
        });
      } catch (const std::exception&) {
        // The caller's own cancellation, seen when it resumes: expected.
      }
      ++finished;
    };
    asio::co_spawn(io, caller(), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    io.poll();  // the work is now queued on the pool
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
  }
  EXPECT_EQ(finished, 500);
  EXPECT_EQ(ran.load(), 500);  // the work always runs to its end
}

}  // namespace
}  // namespace wattos::infra::db
