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

}  // namespace
}  // namespace lookout
