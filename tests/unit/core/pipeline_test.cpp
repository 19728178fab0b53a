#include "lookout/core/pipeline.h"

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
  int finished = 0;
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

}  // namespace
}  // namespace lookout
