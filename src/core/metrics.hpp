// File: core/metrics.hpp
//
// Metrics with Prometheus text exposition (format 0.0.4): counters, gauges and
// histograms, each a family with optional labels. Updating a metric is lock-free
// (atomics); looking up a labelled child takes a mutex, so hot paths look children up
// once and keep the reference (children live as long as the registry).
//
// Example:
//   core::metrics_registry registry;
//   auto& requests = registry.counter_family("wattos_http_requests_total", "HTTP requests", {"route", "status"});
//   requests.with({"/healthz", "200"}).inc();
//   auto& latency = registry.histogram_family("wattos_http_request_seconds", "Latency", {"route"},
//                                      core::default_latency_buckets());
//   latency.with({"/healthz"}).observe(0.0004);
//   std::string text = registry.render();
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wattos::core {

class counter {
 public:
  void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double v) noexcept;

  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
  // Cumulative count of observations <= upper_bounds()[i]; index bounds.size() is +Inf.
  std::uint64_t cumulative_count(std::size_t i) const noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Bucket bounds in seconds from 100 µs to 30 s, for request latencies.
std::vector<double> default_latency_buckets();

// A metric family: one name, one help text, children by label values.
template <typename Metric>
class metric_family {
 public:
  metric_family(std::string name, std::string help, std::vector<std::string> label_names,
                std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (as many as label names); created on first use.
  Metric& with(const std::vector<std::string>& label_values);
  // The child without labels.
  Metric& get() { return with({}); }

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  // Calls fn(label_values, metric) for each child, in label order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [labels, metric] : children_) fn(labels, *metric);
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;  // guarded by mutex_
};

class metrics_registry {
 public:
  metrics_registry() = default;
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  // Registering the same name twice returns the existing family (the kind must match).
  metric_family<core::counter>& counter_family(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names = {});
  metric_family<core::gauge>& gauge_family(const std::string& name, const std::string& help,
                                           std::vector<std::string> label_names = {});
  metric_family<core::histogram>& histogram_family(const std::string& name, const std::string& help,
                                                   std::vector<std::string> label_names, std::vector<double> bounds);

  // Prometheus text format, families in name order.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<metric_family<core::counter>>> counters_;
  std::map<std::string, std::unique_ptr<metric_family<core::gauge>>> gauges_;
  std::map<std::string, std::unique_ptr<metric_family<core::histogram>>> histograms_;
};

// Escapes a label value for the text format (backslash, quote, newline).
std::string escape_label_value(std::string_view value);

template <typename Metric>
Metric& metric_family<Metric>::with(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mutex_);
  auto it = children_.find(label_values);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<Metric> metric;
  if constexpr (std::is_same_v<Metric, core::histogram>) {
    metric = std::make_unique<Metric>(bounds_);
  } else {
    metric = std::make_unique<Metric>();
  }
  auto& ref = *metric;
  children_.emplace(label_values, std::move(metric));
  return ref;
}

}  // namespace wattos::core
