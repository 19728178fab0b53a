#include "lookout/core/latency_histogram.h"

#include <gtest/gtest.h>

namespace lookout {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.percentile_ms(0.5), 0.0);
}

TEST(LatencyHistogram, PercentilesAreWithinFivePercent) {
  LatencyHistogram histogram;
  for (int ms = 1; ms <= 100; ++ms) histogram.record(std::chrono::milliseconds(ms));
  EXPECT_EQ(histogram.count(), 100u);
  EXPECT_NEAR(histogram.percentile_ms(0.50), 50.0, 50.0 * 0.05);
  EXPECT_NEAR(histogram.percentile_ms(0.99), 99.0, 99.0 * 0.05);
  EXPECT_DOUBLE_EQ(histogram.percentile_ms(1.0), 100.0);
  EXPECT_NEAR(histogram.mean_ms(), 50.5, 1e-9);
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.record(2ms);
  b.record(200ms);
  b.record(200ms);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_NEAR(a.percentile_ms(0.5), 200.0, 10.0);
  EXPECT_DOUBLE_EQ(a.max_ms(), 200.0);
}

TEST(LatencyHistogram, ClampsHugeAndNegativeDurations) {
  LatencyHistogram histogram;
  histogram.record(std::chrono::hours(100));
  histogram.record(-5ms);
  EXPECT_EQ(histogram.count(), 2u);
  EXPECT_EQ(histogram.percentile_ms(0.0), histogram.percentile_ms(0.5));
}

TEST(LatencyHistogram, SinceAnEarlierSnapshotHoldsOnlyWhatCameAfterIt) {
  LatencyHistogram histogram;
  for (int i = 0; i < 50; ++i) histogram.record(500ms);
  const LatencyHistogram earlier = histogram;
  for (int i = 0; i < 10; ++i) histogram.record(10ms);
  const LatencyHistogram window = histogram.since(earlier);
  EXPECT_EQ(window.count(), 10u);
  EXPECT_NEAR(window.percentile_ms(0.99), 10.0, 10.0 * 0.05);
  EXPECT_NEAR(window.max_ms(), 10.0, 10.0 * 0.05);
  EXPECT_NEAR(window.total_ms(), 100.0, 1e-6);
  EXPECT_NEAR(histogram.total_ms(), 25'100.0, 1e-6);
}

TEST(LatencyHistogram, SinceItselfOrALaterSnapshotIsEmpty) {
  LatencyHistogram earlier;
  earlier.record(5ms);
  LatencyHistogram later = earlier;
  later.record(7ms);
  EXPECT_EQ(later.since(later).count(), 0u);
  EXPECT_EQ(earlier.since(later).count(), 0u);
  EXPECT_EQ(earlier.since(later).percentile_ms(0.5), 0.0);
}

}  // namespace
}  // namespace lookout
