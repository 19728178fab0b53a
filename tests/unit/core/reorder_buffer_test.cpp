#include "lookout/core/reorder_buffer.h"

#include <algorithm>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "lookout/core/channel.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;

Frame frame_with_seq(std::int64_t seq, FrameStatus status = FrameStatus::kOk) {
  Frame frame;
  frame.seq = seq;
  frame.status = status;
  return frame;
}

TEST(ReorderBuffer, ReleasesInSeqOrderWhenInsertedReversed) {
  ReorderBuffer buffer(8);
  for (std::int64_t seq = 4; seq >= 0; --seq) buffer.insert(frame_with_seq(seq));
  for (std::int64_t seq = 0; seq < 5; ++seq) {
    auto frame = buffer.pop_ready();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->seq, seq);
  }
  EXPECT_FALSE(buffer.pop_ready().has_value());
  EXPECT_EQ(buffer.next_seq(), 5);
}

TEST(ReorderBuffer, HoldsFramesUntilTheGapIsFilled) {
  ReorderBuffer buffer(8);
  buffer.insert(frame_with_seq(1));
  buffer.insert(frame_with_seq(2));
  EXPECT_FALSE(buffer.pop_ready().has_value());
  buffer.insert(frame_with_seq(0, FrameStatus::kDropped));
  auto first = buffer.pop_ready();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, FrameStatus::kDropped);
  EXPECT_EQ(buffer.pop_ready()->seq, 1);
  EXPECT_EQ(buffer.pop_ready()->seq, 2);
}

TEST(ReorderBuffer, ReleasesEndOfStreamLast) {
  ReorderBuffer buffer(4);
  buffer.insert(Frame::end_of_stream(0, 2));
  buffer.insert(frame_with_seq(1, FrameStatus::kFailed));
  EXPECT_FALSE(buffer.pop_ready().has_value());
  buffer.insert(frame_with_seq(0));
  EXPECT_EQ(buffer.pop_ready()->seq, 0);
  EXPECT_EQ(buffer.pop_ready()->seq, 1);
  auto end = buffer.pop_ready();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->is_end());
}

TEST(ReorderBuffer, EndOfStreamArrivingEarlyTakesNoFramePlace) {
  ReorderBuffer buffer(2);
  buffer.insert(Frame::end_of_stream(0, 2));
  buffer.insert(frame_with_seq(1));
  buffer.insert(frame_with_seq(0));
  EXPECT_THROW(buffer.insert(frame_with_seq(7)), std::logic_error);
  EXPECT_EQ(buffer.pop_ready()->seq, 0);
  EXPECT_EQ(buffer.pop_ready()->seq, 1);
  EXPECT_TRUE(buffer.pop_ready()->is_end());
}

TEST(ReorderBuffer, RejectsDuplicatesReleasedSeqsAndOverflow) {
  ReorderBuffer buffer(2);
  buffer.insert(frame_with_seq(0));
  EXPECT_THROW(buffer.insert(frame_with_seq(0)), std::logic_error);
  ASSERT_TRUE(buffer.pop_ready().has_value());
  EXPECT_THROW(buffer.insert(frame_with_seq(0)), std::logic_error);
  buffer.insert(frame_with_seq(2));
  buffer.insert(frame_with_seq(3));
  EXPECT_THROW(buffer.insert(frame_with_seq(4)), std::logic_error);
}

// Workers x capacity x frames, with random per-frame delays: frames leave a pool of workers in any
// order; the reorder buffer must release every one exactly once, in seq order, and never hold more
// than the frames in flight. The in-flight bound is kept the way the pipeline keeps it: the
// producer waits for a place before it sends a frame, and a place comes back when a frame is
// released.
class ReorderMatrix : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(ReorderMatrix, ReleasesExactOrderWithoutLossOrDuplicates) {
  const auto [workers, capacity, frames] = GetParam();
  Channel<Frame> input(static_cast<std::size_t>(capacity) + 1);
  Channel<Frame> unordered(static_cast<std::size_t>(capacity) + 1);
  Channel<int> places(static_cast<std::size_t>(capacity));
  for (int i = 0; i < capacity; ++i) ASSERT_TRUE(places.push(int{i}));

  std::atomic<int> workers_done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(static_cast<unsigned>(w * 7919 + frames));
      for (;;) {
        auto frame = input.pop(5s);
        ASSERT_TRUE(frame.has_value()) << "worker starved";
        if (frame->is_end()) {
          if (workers_done.fetch_add(1) + 1 == workers) {
            ASSERT_TRUE(unordered.push(std::move(*frame)));
          } else {
            ASSERT_TRUE(input.push(std::move(*frame)));
          }
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 300));
        ASSERT_TRUE(unordered.push(std::move(*frame)));
      }
    });
  }
  threads.emplace_back([&] {
    for (int seq = 0; seq < frames; ++seq) {
      ASSERT_TRUE(places.pop(5s).has_value()) << "no place came back";
      ASSERT_TRUE(input.push(frame_with_seq(seq, seq % 11 == 5 ? FrameStatus::kDropped : FrameStatus::kOk)));
    }
    ASSERT_TRUE(input.push(Frame::end_of_stream(0, frames)));
  });

  ReorderBuffer buffer(static_cast<std::size_t>(capacity));
  std::vector<std::int64_t> released;
  std::size_t peak = 0;
  bool ended = false;
  while (!ended) {
    auto frame = unordered.pop(5s);
    ASSERT_TRUE(frame.has_value()) << "pipeline stalled after " << released.size() << " frames";
    buffer.insert(std::move(*frame));
    peak = std::max(peak, buffer.size());
    while (auto ready = buffer.pop_ready()) {
      if (ready->is_end()) {
        ended = true;
        break;
      }
      released.push_back(ready->seq);
      ASSERT_TRUE(places.push(0));
    }
  }
  for (auto& thread : threads) thread.join();

  ASSERT_EQ(released.size(), static_cast<std::size_t>(frames));
  for (int seq = 0; seq < frames; ++seq) ASSERT_EQ(released[static_cast<std::size_t>(seq)], seq);
  EXPECT_LE(peak, static_cast<std::size_t>(capacity) + 1);
}

INSTANTIATE_TEST_SUITE_P(WorkersCapacityFrames, ReorderMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values(1, 3, 16),
                                            ::testing::Values(1, 200)));

}  // namespace
}  // namespace lookout
