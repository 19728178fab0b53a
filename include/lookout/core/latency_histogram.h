#pragma once
// LatencyHistogram: durations in log-spaced buckets (5% wide, 1 us to ~17 min), so a run of any
// length uses the same small, fixed memory. Percentiles are exact to within one bucket (5%).
// Thread safety: thread-compatible; each thread keeps its own and they are merged after joining.

#include <array>
#include <chrono>
#include <cstdint>

namespace lookout {

class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds duration);
  void merge(const LatencyHistogram& other);
  // What was recorded after `earlier`, a snapshot of this same histogram taken before: for
  // percentiles over a window (e.g. the last 10 s). Counts of `earlier` larger than this one's
  // (not a snapshot of it) give an empty histogram. The window's max is the top edge of its
  // highest non-empty bucket, capped at this one's max: exact to within one bucket.
  LatencyHistogram since(const LatencyHistogram& earlier) const;

  std::uint64_t count() const { return count_; }
  // The q-quantile (0..1) in milliseconds: the upper edge of the bucket holding it; 0 if empty.
  double percentile_ms(double q) const;
  double mean_ms() const;
  double total_ms() const { return static_cast<double>(total_ns_) / 1e6; }
  double max_ms() const { return static_cast<double>(max_ns_) / 1e6; }

 private:
  static constexpr std::size_t kBuckets = 430;
  static std::size_t bucket_of(std::int64_t ns);
  static double upper_edge_ns(std::size_t bucket);

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t total_ns_ = 0;
  std::int64_t max_ns_ = 0;
};

}  // namespace lookout
