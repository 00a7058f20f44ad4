// File: core/side_task.hpp
//
// Runs one piece of a request's work beside the caller on a spare core: the two halves
// of a hybrid search, for example. The work goes to one of a few process-wide helper
// threads (one per core beyond the first) if one is idle, and otherwise runs in the
// caller's thread when it waits: a loaded server, whose cores are all busy with
// requests, never queues work behind its own parallelism, and a quiet one answers
// sooner.
//
// Example:
//   core::side_task lexical_side([&] { lexical_hits = bm25.search(terms, 100); });
//   vector_hits = vectors.search(q, 100);
//   lexical_side.wait();  // rethrows what the work threw
#pragma once

#include <exception>
#include <functional>
#include <memory>

namespace wattos::core {

class side_task {
 public:
  explicit side_task(std::function<void()> work);
  // Waits (a side task may not outlive what its work refers to).
  ~side_task();
  side_task(const side_task&) = delete;
  side_task& operator=(const side_task&) = delete;

  // Returns once the work ran: on a helper, or here if none had taken it.
  void wait();
  // Whether a helper took the work (for tests).
  bool on_helper() const noexcept;

  struct state;

 private:
  std::shared_ptr<state> state_;
  bool waited_ = false;
};

// Helper threads of the process (0 on a single core).
unsigned side_task_helpers() noexcept;

}  // namespace wattos::core
