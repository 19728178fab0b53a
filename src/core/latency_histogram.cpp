#include "lookout/core/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace lookout {
namespace {
constexpr double kGrowth = 1.05;
constexpr double kFirstEdgeNs = 1000.0;  // bucket 0 holds everything up to 1 us
}  // namespace

std::size_t LatencyHistogram::bucket_of(std::int64_t ns) {
  if (static_cast<double>(ns) <= kFirstEdgeNs) return 0;
  const double index = std::ceil(std::log(static_cast<double>(ns) / kFirstEdgeNs) / std::log(kGrowth));
  return std::min(static_cast<std::size_t>(index), kBuckets - 1);
}

double LatencyHistogram::upper_edge_ns(std::size_t bucket) {
  return kFirstEdgeNs * std::pow(kGrowth, static_cast<double>(bucket));
}

void LatencyHistogram::record(std::chrono::nanoseconds duration) {
  const std::int64_t ns = std::max<std::int64_t>(0, duration.count());
  ++buckets_[bucket_of(ns)];
  ++count_;
  total_ns_ += ns;
  max_ns_ = std::max(max_ns_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  total_ns_ += other.total_ns_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

LatencyHistogram LatencyHistogram::since(const LatencyHistogram& earlier) const {
  LatencyHistogram window;
  if (earlier.count_ > count_) return window;
  std::size_t top = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    window.buckets_[i] = buckets_[i] >= earlier.buckets_[i] ? buckets_[i] - earlier.buckets_[i] : 0;
    window.count_ += window.buckets_[i];
    if (window.buckets_[i] > 0) top = i;
  }
  window.total_ns_ = std::max<std::int64_t>(0, total_ns_ - earlier.total_ns_);
  if (window.count_ > 0) {
    window.max_ns_ = std::min(max_ns_, static_cast<std::int64_t>(upper_edge_ns(top)));
  }
  return window;
}

double LatencyHistogram::percentile_ms(double q) const {
  if (count_ == 0) return 0.0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      // Never report more than was actually seen: the top bucket's edge can exceed the maximum.
      return std::min(upper_edge_ns(i), static_cast<double>(max_ns_)) / 1e6;
    }
  }
  return max_ms();
}

double LatencyHistogram::mean_ms() const {
  return count_ == 0 ? 0.0 : static_cast<double>(total_ns_) / static_cast<double>(count_) / 1e6;
}

}  // namespace lookout
