#include "core/side_task.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace wattos::core {

struct side_task::state {
  std::function<void()> work;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool taken = false;  // by a helper, or by the caller running it itself
  bool on_helper = false;
  bool finished = false;
  std::exception_ptr error;

  void run() {
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    work = nullptr;  // what it captured goes now, not with the last reference
  }
};

namespace {

// The helper and the waiting caller race for a queued task: whoever takes it runs it.
void run_if_untaken(side_task::state& task, bool helper) {
  {
    std::lock_guard lock(task.mutex);
    if (task.taken) return;
    task.taken = true;
    task.on_helper = helper;
  }
  task.run();
  {
    std::lock_guard lock(task.mutex);
    task.finished = true;
  }
  task.finished_cv.notify_all();
}

class helper_pool {
 public:
  explicit helper_pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~helper_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  helper_pool(const helper_pool&) = delete;
  helper_pool& operator=(const helper_pool&) = delete;

  // Hands the task to an idle helper; false if none is idle.
  bool offer(const std::shared_ptr<side_task::state>& task) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || idle_ <= queue_.size()) return false;
      queue_.push_back(task);
    }
    wake_.notify_one();
    return true;
  }
  unsigned size() const noexcept { return static_cast<unsigned>(threads_.size()); }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (stopping_ && queue_.empty()) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      run_if_untaken(*task, true);
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<side_task::state>> queue_;
  unsigned idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

helper_pool& pool() {
  static helper_pool instance(std::max(1u, std::thread::hardware_concurrency()) - 1);
  return instance;
}

}  // namespace

side_task::side_task(std::function<void()> work) : state_(std::make_shared<state>()) {
  state_->work = std::move(work);
  (void)pool().offer(state_);
}

side_task::~side_task() {
  if (waited_) return;
  try {
    wait();
  } catch (...) {  // the work's error is the waiter's to see; a destructor drops it
  }
}

void side_task::wait() {
  waited_ = true;
  // A helper that has not started it yet loses the race: the caller runs it now
  // rather than wait for a thread busy elsewhere.
  run_if_untaken(*state_, false);
  std::unique_lock lock(state_->mutex);
  state_->finished_cv.wait(lock, [&] { return state_->finished; });
  if (state_->error) std::rethrow_exception(state_->error);
}

bool side_task::on_helper() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->on_helper;
}

unsigned side_task_helpers() noexcept {
  return pool().size();
}

}  // namespace wattos::core
