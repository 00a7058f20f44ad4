#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wattos::core {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  out += '}';
  return out;
}

template <typename Family>
void render_header(std::string& out, const Family& family, std::string_view type) {
  out += "# HELP " + family.name() + " " + family.help() + "\n";
  out += "# TYPE " + family.name() + " " + std::string(type) + "\n";
}

}  // namespace

histogram::histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void histogram::observe(double v) noexcept {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::uint64_t histogram::cumulative_count(std::size_t i) const noexcept {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b <= i && b <= bounds_.size(); ++b) total += buckets_[b].load(std::memory_order_relaxed);
  return total;
}

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

metric_family<counter>& metrics_registry::counter_family(const std::string& name, const std::string& help,
                                                         std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<metric_family<core::counter>>(name, help, std::move(label_names));
  return *slot;
}

metric_family<gauge>& metrics_registry::gauge_family(const std::string& name, const std::string& help,
                                                     std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& slot = gauges_[name];
  if (!slot) slot = std::make_unique<metric_family<core::gauge>>(name, help, std::move(label_names));
  return *slot;
}

metric_family<histogram>& metrics_registry::histogram_family(const std::string& name, const std::string& help,
                                                             std::vector<std::string> label_names,
                                                             std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& slot = histograms_[name];
  if (!slot) {
    slot = std::make_unique<metric_family<core::histogram>>(name, help, std::move(label_names), std::move(bounds));
  }
  return *slot;
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mutex_);
  // Merge the three kinds into one name-ordered exposition.
  std::map<std::string, std::string> blocks;
  auto render_family = [&blocks](const auto& family, std::string_view type, auto&& render_child) {
    std::string out;
    render_header(out, family, type);
    family.for_each([&](const std::vector<std::string>& labels, const auto& metric) {
      render_child(out, family.name(), family.label_names(), labels, metric);
    });
    blocks[family.name()] = std::move(out);
  };
  auto render_single = [](std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                          const std::vector<std::string>& labels, const auto& metric) {
    out += name + label_set(label_names, labels) + " " + format_value(metric.value()) + "\n";
  };
  for (const auto& entry : counters_) render_family(*entry.second, "counter", render_single);
  for (const auto& entry : gauges_) render_family(*entry.second, "gauge", render_single);
  for (const auto& entry : histograms_) {
    render_family(*entry.second, "histogram",
                  [](std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                     const std::vector<std::string>& labels, const core::histogram& h) {
                    const auto& bounds = h.upper_bounds();
                    for (std::size_t i = 0; i <= bounds.size(); ++i) {
                      std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
                      out += name + "_bucket" + label_set(label_names, labels, "le", le) + " " +
                             std::to_string(h.cumulative_count(i)) + "\n";
                    }
                    out += name + "_sum" + label_set(label_names, labels) + " " + format_value(h.sum()) + "\n";
                    out += name + "_count" + label_set(label_names, labels) + " " + std::to_string(h.count()) + "\n";
                  });
  }
  std::string text;
  for (auto& block : blocks) text += block.second;
  return text;
}

}  // namespace wattos::core
