#include "lookout/core/pipeline.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "support/scripted_source.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedSource;

std::int32_t frame_index(const Frame& frame) { return frame.image.at<std::int32_t>(0, 0); }

// Detects one "thing" whose score is the frame's index, after a random delay, and throws on every
// frame whose index is a multiple of `throw_every` (0: never).
class FakeProcessor : public FrameProcessor {
 public:
  FakeProcessor(unsigned seed, int throw_every) : random_(seed), throw_every_(throw_every) {}
  void process(Frame& frame) override {
    std::this_thread::sleep_for(std::chrono::microseconds(random_() % 400));
    const int index = frame_index(frame);
    if (throw_every_ > 0 && index % throw_every_ == 0) throw std::runtime_error("scripted failure");
    frame.detections.push_back(Detection{cv::Rect(index, 0, 1, 1), "thing", double(index), {}, {}});
  }

 private:
  std::mt19937 random_;
  int throw_every_;
};

ProcessorFactory fake_factory(int throw_every = 0) {
  auto seed = std::make_shared<std::atomic<unsigned>>(1);
  return [seed, throw_every] { return std::make_unique<FakeProcessor>(seed->fetch_add(1), throw_every); };
}

// Records what it sees; shared state lives outside, since the pipeline owns the stage.
struct Seen {
  std::vector<std::int64_t> seqs;
  std::vector<FrameStatus> statuses;
  std::vector<std::vector<Detection>> detections;
  std::vector<DropCause> causes;
  int finished = 0;

  // Every seq the stage was told about, a marker's run of seqs expanded.
  std::vector<std::int64_t> covered;
};

class RecordingStage : public SerialStage {
 public:
  RecordingStage(Seen& seen, std::int64_t throw_at = -1) : seen_(seen), throw_at_(throw_at) {}
  std::string name() const override { return "record"; }
  void process(Frame& frame) override {
    if (frame.seq == throw_at_) throw std::runtime_error("disk full");
    seen_.seqs.push_back(frame.seq);
    seen_.statuses.push_back(frame.status);
    seen_.detections.push_back(frame.detections);
    seen_.causes.push_back(frame.drop_cause);
    for (std::int64_t i = 0; i < frame.span; ++i) seen_.covered.push_back(frame.seq + i);
  }
  void finish() override { ++seen_.finished; }

 private:
  Seen& seen_;
  std::int64_t throw_at_;
};

std::vector<std::unique_ptr<SerialStage>> stages(Seen& seen, std::int64_t throw_at = -1) {
  std::vector<std::unique_ptr<SerialStage>> list;
  list.push_back(std::make_unique<RecordingStage>(seen, throw_at));
  return list;
}

RunReport run(std::int64_t frames, std::size_t workers, std::size_t in_flight, Seen& seen,
              int throw_every = 0) {
  Pipeline pipeline(std::make_unique<ScriptedSource>(frames), fake_factory(throw_every), stages(seen),
                    PipelineOptions{workers, in_flight});
  pipeline.start();
  return pipeline.wait();
}

// Workers x frames in flight x frames: order, no loss, no duplicates, clean shutdown.
class PipelineMatrix : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(PipelineMatrix, DeliversEveryFrameOnceInOrder) {
  const auto [workers, in_flight, frames] = GetParam();
  Seen seen;
  const RunReport report = run(frames, workers, in_flight, seen);
  ASSERT_EQ(seen.seqs.size(), static_cast<std::size_t>(frames));
  for (int i = 0; i < frames; ++i) {
    ASSERT_EQ(seen.seqs[static_cast<std::size_t>(i)], i);
    ASSERT_EQ(seen.detections[static_cast<std::size_t>(i)].size(), 1u);
    EXPECT_EQ(seen.detections[static_cast<std::size_t>(i)][0].score, i);
  }
  EXPECT_EQ(seen.finished, 1);
  EXPECT_EQ(report.frames_in, frames);
  EXPECT_EQ(report.processed, frames);
  EXPECT_EQ(report.dropped + report.failed, 0);
  EXPECT_TRUE(report.balanced());
  EXPECT_FALSE(report.fatal_error.has_value());
  EXPECT_FALSE(report.stopped_early);
}

INSTANTIATE_TEST_SUITE_P(WorkersInFlightFrames, PipelineMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values(4, 9),
                                            ::testing::Values(0, 1, 150)));

TEST(Pipeline, DetectionsAreIdenticalWhateverTheWorkerCount) {
  Seen one, four;
  run(100, 1, 8, one);
  run(100, 4, 8, four);
  EXPECT_EQ(one.detections, four.detections);
}

TEST(Pipeline, ProcessorExceptionsMarkFramesFailedAndKeepOrder) {
  Seen seen;
  const RunReport report = run(50, 3, 8, seen, /*throw_every=*/7);
  ASSERT_EQ(seen.seqs.size(), 50u);
  int failed = 0;
  for (std::size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(seen.seqs[i], static_cast<std::int64_t>(i));
    const bool should_fail = i % 7 == 0;
    EXPECT_EQ(seen.statuses[i] == FrameStatus::kFailed, should_fail) << "frame " << i;
    failed += should_fail;
  }
  EXPECT_EQ(report.failed, failed);
  EXPECT_EQ(report.processed, 50 - failed);
  EXPECT_TRUE(report.balanced());
  EXPECT_FALSE(report.fatal_error.has_value());
}

TEST(Pipeline, SourceErrorIsReportedAndFramesBeforeItStillReachTheEnd) {
  Seen seen;
  Pipeline pipeline(std::make_unique<ScriptedSource>(100, 30), fake_factory(), stages(seen),
                    PipelineOptions{2, 8});
  pipeline.start();
  const RunReport report = pipeline.wait();
  ASSERT_TRUE(report.fatal_error.has_value());
  EXPECT_NE(report.fatal_error->find("broke after 30"), std::string::npos);
  EXPECT_EQ(report.frames_in, 30);
  EXPECT_EQ(seen.seqs.size(), 30u);
  EXPECT_EQ(seen.finished, 1);
}

TEST(Pipeline, SerialStageFailureIsFatalButTheRunDrainsAndFinishes) {
  Seen seen;
  Pipeline pipeline(std::make_unique<ScriptedSource>(1000), fake_factory(), stages(seen, 10),
                    PipelineOptions{2, 8});
  pipeline.start();
  const RunReport report = pipeline.wait();
  ASSERT_TRUE(report.fatal_error.has_value());
  EXPECT_NE(report.fatal_error->find("record: disk full"), std::string::npos);
  EXPECT_EQ(seen.seqs.size(), 10u) << "the failed stage is not called again";
  EXPECT_EQ(seen.finished, 1);
  EXPECT_LT(report.frames_in, 1000) << "capture stops after a fatal error";
  EXPECT_TRUE(report.balanced());
}

TEST(Pipeline, RequestStopDrainsWhatIsInFlightAndFinishes) {
  Seen seen;
  Pipeline pipeline(std::make_unique<ScriptedSource>(1'000'000), fake_factory(), stages(seen),
                    PipelineOptions{2, 8});
  pipeline.start();
  while (!pipeline.wait_for(1ms)) pipeline.request_stop();
  const RunReport report = pipeline.wait();
  EXPECT_TRUE(report.stopped_early);
  EXPECT_LT(report.frames_in, 1'000'000);
  EXPECT_EQ(static_cast<std::int64_t>(seen.seqs.size()), report.frames_in);
  EXPECT_EQ(seen.finished, 1);
  EXPECT_TRUE(report.balanced());
}

TEST(Pipeline, MaxFramesStopsCaptureAtExactlyThatMany) {
  Seen seen;
  PipelineOptions options{2, 8};
  options.max_frames = 17;
  Pipeline pipeline(std::make_unique<ScriptedSource>(100), fake_factory(), stages(seen), options);
  pipeline.start();
  const RunReport report = pipeline.wait();
  EXPECT_EQ(report.frames_in, 17);
  EXPECT_EQ(seen.seqs.size(), 17u);
  EXPECT_TRUE(report.stopped_early);
}

TEST(Pipeline, FactoryErrorStopsStartBeforeAnyThread) {
  Seen seen;
  Pipeline pipeline(std::make_unique<ScriptedSource>(10),
                    []() -> std::unique_ptr<FrameProcessor> { throw std::invalid_argument("no model"); },
                    stages(seen), PipelineOptions{2, 8});
  EXPECT_THROW(pipeline.start(), std::invalid_argument);
  EXPECT_EQ(seen.finished, 0);
}

TEST(Pipeline, RejectsBadOptions) {
  Seen seen;
  EXPECT_THROW(Pipeline(std::make_unique<ScriptedSource>(1), fake_factory(), stages(seen), PipelineOptions{0, 8}),
               std::invalid_argument);
  EXPECT_THROW(Pipeline(std::make_unique<ScriptedSource>(1), fake_factory(), stages(seen), PipelineOptions{4, 2}),
               std::invalid_argument);
}

TEST(Pipeline, ReportsLatencyForEveryStage) {
  Seen seen;
  const RunReport report = run(20, 2, 8, seen);
  ASSERT_EQ(report.stages.size(), 4u);
  EXPECT_EQ(report.stages[0].name, "detect");
  EXPECT_EQ(report.stages[1].name, "reorder");
  EXPECT_EQ(report.stages[2].name, "record");
  EXPECT_EQ(report.stages[3].name, "end-to-end");
  for (const auto& stage : report.stages) EXPECT_EQ(stage.latency.count(), 20u) << stage.name;
  EXPECT_GT(report.stages[0].latency.percentile_ms(0.99), 0.0);
}

// A live stand-in: frames come as fast as they are read (far faster than any worker), and each
// frame's capture time can be set in the past to make it look old.
class FloodSource : public Source {
 public:
  FloodSource(std::int64_t count, std::function<void()> on_end,
              std::function<Clock::duration(std::int64_t)> age = nullptr)
      : inner_(count), on_end_(std::move(on_end)), age_(std::move(age)) {}
  const StreamInfo& info() const override { return inner_.info(); }
  Read read(Frame& frame, std::string& error) override {
    const Read result = inner_.read(frame, error);
    if (result != Read::kFrame) {
      if (on_end_) on_end_();
      return result;
    }
    frame.captured = Clock::now() - (age_ ? age_(produced_) : Clock::duration::zero());
    ++produced_;
    return result;
  }
  void interrupt() override { inner_.interrupt(); }

 private:
  ScriptedSource inner_;
  std::function<void()> on_end_;
  std::function<Clock::duration(std::int64_t)> age_;
  std::int64_t produced_ = 0;
};

// Holds every frame until opened, so a test decides when the workers may finish. `entered`
// counts the frames that reached process().
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;

  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
  void wait_for_entered(int count) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return entered >= count; });
  }
};

class GatedProcessor : public FrameProcessor {
 public:
  explicit GatedProcessor(Gate& gate) : gate_(gate) {}
  void process(Frame& frame) override {
    std::unique_lock lock(gate_.mutex);
    ++gate_.entered;
    gate_.cv.notify_all();
    gate_.cv.wait(lock, [&] { return gate_.open; });
    frame.detections.push_back(Detection{cv::Rect(0, 0, 1, 1), "thing", 1.0, {}, {}});
  }

 private:
  Gate& gate_;
};

ProcessorFactory gated_factory(Gate& gate) {
  return [&gate] { return std::make_unique<GatedProcessor>(gate); };
}

std::vector<std::int64_t> iota_seqs(std::int64_t count) {
  std::vector<std::int64_t> seqs(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) seqs[static_cast<std::size_t>(i)] = i;
  return seqs;
}

// The workers are held until the source has produced everything, so exactly the frames that
// found a place are processed and every other one is dropped at the entrance.
class Overload : public ::testing::TestWithParam<std::tuple<DropPolicy, int, int>> {};

TEST_P(Overload, DropsAtTheEntranceCountsEveryDropAndStaysWithinBounds) {
  const auto [policy, workers, in_flight] = GetParam();
  constexpr std::int64_t kFrames = 200;
  Gate gate;
  Seen seen;
  PipelineOptions options{static_cast<std::size_t>(workers), static_cast<std::size_t>(in_flight)};
  options.drop_policy = policy;
  Pipeline pipeline(std::make_unique<FloodSource>(kFrames, [&] { gate.release(); }),
                    gated_factory(gate), stages(seen), options);
  pipeline.start();
  const RunReport report = pipeline.wait();

  EXPECT_EQ(report.frames_in, kFrames);
  EXPECT_EQ(report.processed, in_flight) << "only frames that found a place are processed";
  EXPECT_EQ(report.dropped_pipeline_full, kFrames - in_flight);
  EXPECT_EQ(report.dropped, report.dropped_pipeline_full);
  EXPECT_TRUE(report.balanced());
  EXPECT_FALSE(report.fatal_error.has_value());
  EXPECT_EQ(report.peak_in_flight, static_cast<std::size_t>(in_flight));
  EXPECT_LE(report.peak_reorder, report.reorder_capacity);
  EXPECT_LE(seen.seqs.size(), static_cast<std::size_t>(2 * in_flight + 1))
      << "runs of drops travel as one marker each";
  EXPECT_EQ(seen.covered, iota_seqs(kFrames)) << "every seq reaches the outputs once, in order";

  std::vector<std::int64_t> processed;
  for (std::size_t i = 0; i < seen.seqs.size(); ++i) {
    if (seen.statuses[i] == FrameStatus::kOk) processed.push_back(seen.seqs[i]);
    if (seen.statuses[i] == FrameStatus::kDropped) {
      EXPECT_EQ(seen.causes[i], DropCause::kPipelineFull);
    }
  }
  ASSERT_EQ(processed.size(), static_cast<std::size_t>(in_flight));
  if (policy == DropPolicy::kDropNewest) {
    EXPECT_EQ(processed, iota_seqs(in_flight)) << "the first frames keep their places";
  } else if (in_flight > workers) {
    // Some admitted frame is always waiting for a worker, so each new frame replaces one.
    EXPECT_EQ(processed.back(), kFrames - 1) << "the newest frame replaced an older one";
  }
}

INSTANTIATE_TEST_SUITE_P(PolicyWorkersInFlight, Overload,
                         ::testing::Combine(::testing::Values(DropPolicy::kDropOldest,
                                                              DropPolicy::kDropNewest),
                                            ::testing::Values(1, 2), ::testing::Values(2, 5)));

TEST(Pipeline, BlockPolicyLosesNothingFromAFloodingSource) {
  Seen seen;
  PipelineOptions options{2, 4};
  options.drop_policy = DropPolicy::kBlock;
  Pipeline pipeline(std::make_unique<FloodSource>(300, nullptr), fake_factory(), stages(seen), options);
  pipeline.start();
  const RunReport report = pipeline.wait();
  EXPECT_EQ(report.processed, 300);
  EXPECT_EQ(report.dropped, 0);
  EXPECT_LE(report.peak_in_flight, 4u);
}

TEST(Pipeline, FramesOlderThanMaxAgeAreDroppedByTheWorkers) {
  Seen seen;
  PipelineOptions options{2, 8};
  options.max_age = 1000ms;
  // Every third frame claims to have been captured a minute ago.
  auto age = [](std::int64_t index) { return index % 3 == 0 ? Clock::duration(60s) : Clock::duration(0s); };
  Pipeline pipeline(std::make_unique<FloodSource>(30, nullptr, age), fake_factory(), stages(seen), options);
  pipeline.start();
  const RunReport report = pipeline.wait();
  EXPECT_EQ(report.dropped_too_old, 10);
  EXPECT_EQ(report.processed, 20);
  EXPECT_TRUE(report.balanced());
  ASSERT_EQ(seen.seqs.size(), 30u);
  for (std::size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(seen.statuses[i] == FrameStatus::kDropped, i % 3 == 0) << "frame " << i;
    if (i % 3 == 0) {
      EXPECT_EQ(seen.causes[i], DropCause::kTooOld);
    }
  }
}

TEST(Pipeline, StatsWhileRunningShowTheFramesInFlightAndWhereTheyWait) {
  Gate gate;
  Seen seen;
  Pipeline pipeline(std::make_unique<ScriptedSource>(100), gated_factory(gate), stages(seen),
                    PipelineOptions{2, 6});
  pipeline.start();
  gate.wait_for_entered(2);
  // Blocked: two frames in the workers, four waiting for them; the source waits for room.
  RunReport running = pipeline.stats();
  while (running.frames_in < 6 || running.queues[0].depth < 4) {
    std::this_thread::sleep_for(1ms);
    running = pipeline.stats();
  }
  EXPECT_EQ(running.frames_in, 6);
  EXPECT_EQ(running.in_flight, 6u);
  EXPECT_EQ(running.processed, 0);
  ASSERT_EQ(running.queues.size(), 3u);
  EXPECT_EQ(running.queues[0].name, "detect");
  EXPECT_EQ(running.queues[0].depth, 4u);
  EXPECT_EQ(running.queues[2].name, "record");
  EXPECT_EQ(running.queues[2].depth, 0u);
  gate.release();
  const RunReport report = pipeline.wait();
  EXPECT_EQ(report.processed, 100);
  EXPECT_EQ(report.in_flight, 0u);
  EXPECT_EQ(pipeline.stats().processed, 100);
  for (const auto& queue : report.queues) EXPECT_LE(queue.peak, queue.capacity) << queue.name;
}

TEST(Pipeline, StopNowDropsWhatNoWorkerHasStartedAndStillFinishes) {
  constexpr int kWorkers = 2;
  Gate gate;
  Seen seen;
  PipelineOptions options{kWorkers, 6};
  Pipeline pipeline(std::make_unique<ScriptedSource>(1000), gated_factory(gate), stages(seen), options);
  pipeline.start();
  gate.wait_for_entered(kWorkers);  // both workers hold a frame; the rest wait for them
  // Capture may not have queued the next frame yet; stopping before it has would leave nothing
  // waiting to drop.
  while (pipeline.stats().queues[0].depth < 1) std::this_thread::sleep_for(1ms);
  pipeline.request_stop(StopMode::kNow);
  gate.release();
  const RunReport report = pipeline.wait();
  EXPECT_EQ(report.processed, kWorkers) << "the frames already in a detector finish";
  EXPECT_EQ(report.dropped_stopping, report.frames_in - kWorkers);
  EXPECT_GE(report.dropped_stopping, 1);
  EXPECT_TRUE(report.balanced());
  EXPECT_TRUE(report.stopped_early);
  EXPECT_EQ(seen.finished, 1);
  EXPECT_EQ(seen.covered, iota_seqs(report.frames_in));
}

}  // namespace
}  // namespace lookout
