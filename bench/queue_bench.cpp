// Job queue throughput: enqueue N jobs, then C workers claim and complete them until
// the queue is empty. The peer is BullMQ (bench/queue_bullmq.mjs), run by bench/queue.sh
// on the same Redis with the same N and C.
//
// Usage: queue_bench redis URL N C [PAYLOAD_BYTES]
//        queue_bench sqlite DIR N C [PAYLOAD_BYTES]
// Prints one line: backend=... jobs=N concurrency=C enqueue_per_s=... process_per_s=...
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/id.hpp"
#include "infra/db/database.hpp"
#include "infra/queue/job_queue.hpp"

namespace {

using namespace wattos;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Runs fn(worker_index) on `threads` threads and waits for them.
template <typename Fn>
void on_threads(int threads, Fn fn) {
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) pool.emplace_back(fn, t);
  for (auto& t : pool) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: queue_bench redis URL|sqlite DIR JOBS CONCURRENCY [PAYLOAD_BYTES]\n");
    return 2;
  }
  const std::string backend = argv[1];
  const std::string where = argv[2];
  const int jobs = std::atoi(argv[3]);
  const int concurrency = std::atoi(argv[4]);
  const std::size_t payload_bytes = argc > 5 ? static_cast<std::size_t>(std::atoi(argv[5])) : 100;
  if (jobs <= 0 || concurrency <= 0) return 2;

  std::unique_ptr<infra::db::database> db;
  std::unique_ptr<infra::queue::job_queue> q;
  if (backend == "redis") {
    auto made = infra::queue::make_redis_queue(where, "wattos-bench-" + core::random_hex(4));
    if (!made) {
      std::fprintf(stderr, "queue_bench: %s\n", made.err().message().c_str());
      return 1;
    }
    q = std::move(made).value();
  } else if (backend == "sqlite") {
    core::database_settings settings;
    settings.backend = "sqlite";
    settings.sqlite_path = (std::filesystem::path(where) / ("queue-" + core::random_hex(4) + ".db")).string();
    settings.pool_size = concurrency;
    auto opened = infra::db::database::open(settings);
    if (!opened) {
      std::fprintf(stderr, "queue_bench: %s\n", opened.err().message().c_str());
      return 1;
    }
    db = std::move(opened).value();
    core::queue_settings qs;
    qs.backend = "sql";
    auto made = infra::queue::make_job_queue(qs, *db);
    if (!made) {
      std::fprintf(stderr, "queue_bench: %s\n", made.err().message().c_str());
      return 1;
    }
    q = std::move(made).value();
  } else {
    std::fprintf(stderr, "queue_bench: unknown backend %s\n", backend.c_str());
    return 2;
  }

  const std::string queue = "bench";
  const std::string payload(payload_bytes, 'x');
  std::atomic<int> next{0};
  std::atomic<int> errors{0};

  // Enqueue: the same C threads, each taking the next job number.
  auto t0 = clock_type::now();
  on_threads(concurrency, [&](int) {
    while (next.fetch_add(1) < jobs) {
      if (!q->enqueue(queue, payload, {.max_attempts = 3})) ++errors;
    }
  });
  const double enqueue_s = seconds_since(t0);

  // Process: each worker claims and completes until the queue is empty.
  std::atomic<int> done{0};
  t0 = clock_type::now();
  on_threads(concurrency, [&](int t) {
    std::string worker = "w";
    worker += std::to_string(t);  // (not "w" + ...: g++ 12 -O3 warns falsely on that, -Wrestrict)
    while (true) {
      auto claimed = q->claim(queue, worker, 30000);
      if (!claimed) {
        ++errors;
        break;
      }
      if (!*claimed) break;
      if (q->complete((*claimed)->id, (*claimed)->lease_token).ok())
        ++done;
      else
        ++errors;
    }
  });
  const double process_s = seconds_since(t0);

  std::printf("backend=%s jobs=%d concurrency=%d completed=%d errors=%d enqueue_per_s=%.0f process_per_s=%.0f\n",
              backend.c_str(), jobs, concurrency, done.load(), errors.load(), jobs / enqueue_s,
              done.load() / process_s);
  return done.load() == jobs ? 0 : 1;
}
