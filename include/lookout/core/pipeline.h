#pragma once
// Pipeline: runs one source through a parallel stage, a reorder stage and a chain of serial
// stages, and owns every thread it starts.
//
//   source --> [input] --> N workers (one FrameProcessor each) --> [unordered]
//          --> reorder (ReorderBuffer) --> [ordered] --> serial stage 1 --> ... --> accounting
//
// Contract:
//   - Construction stores and checks the options; start() makes every worker's processor first,
//     so a factory that throws stops the run before any thread exists, then starts the threads.
//   - At most `max_in_flight` frames are between the source and the end of the chain at any time
//     (a limiter at the source, like oneTBB's limiter_node). Every channel and the reorder buffer
//     are bounded by it. The source waits for room, so a file loses no frame.
//   - End of stream travels as data, behind the last frame; each thread ends when it has passed
//     it on, so shutdown is always in order and every serial stage's finish() runs exactly once.
//   - request_stop() ends capture; the frames already admitted are still processed and the outputs
//     finalised. The first fatal error (a source error, a serial stage that throws) is reported
//     in RunReport::fatal_error and also stops capture.
//   - wait() joins every thread; the destructor requests a stop and waits if needed.
// Thread safety: request_stop() and finished() may be called from any thread; the rest from the
// thread that owns the Pipeline.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lookout/core/channel.h"
#include "lookout/core/latency_histogram.h"
#include "lookout/core/reorder_buffer.h"
#include "lookout/core/source.h"
#include "lookout/core/stage.h"

namespace lookout {

struct PipelineOptions {
  std::size_t workers = 1;
  std::size_t max_in_flight = 0;            // 0: four per worker, at least 8
  std::string parallel_stage_name = "detect";
  int stream = 0;
  std::int64_t max_frames = -1;             // stop capture after this many frames; -1: no limit
};

struct StageReport {
  std::string name;
  LatencyHistogram latency;  // service time, or for "reorder" the wait, for "end-to-end" the age
};

struct RunReport {
  std::int64_t frames_in = 0;
  std::int64_t processed = 0;  // reached the end with status ok
  std::int64_t dropped = 0;
  std::int64_t failed = 0;
  double wall_seconds = 0.0;
  std::vector<StageReport> stages;
  std::optional<std::string> fatal_error;
  bool stopped_early = false;  // request_stop() or max_frames ended capture

  double fps() const { return wall_seconds > 0 ? double(frames_in) / wall_seconds : 0.0; }
  bool balanced() const { return frames_in == processed + dropped + failed; }
};

class Pipeline {
 public:
  Pipeline(std::unique_ptr<Source> source, ProcessorFactory factory,
           std::vector<std::unique_ptr<SerialStage>> serial_stages, PipelineOptions options);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline();

  // Throws std::invalid_argument for bad options and whatever the factory throws; in both cases
  // no thread was started. Call at most once.
  void start();

  void request_stop();

  // True once the end of stream has passed the last stage (wait() will not block for long).
  bool finished() const;
  // Waits up to `timeout` for finished().
  bool wait_for(std::chrono::milliseconds timeout);

  // Joins every thread and returns the run's accounting. Call once, after start().
  RunReport wait();

 private:
  class Limiter;
  using FrameChannel = Channel<Frame>;

  void capture_loop();
  void worker_loop(std::size_t index);
  void reorder_loop();
  void serial_loop(std::size_t index);
  void account(Frame&& frame);
  void fail(const std::string& message);
  // Passes a frame to the stage after `index` (index == size: to accounting).
  void forward(std::size_t next_channel, Frame&& frame);
  std::optional<Frame> pop(FrameChannel& channel);

  std::unique_ptr<Source> source_;
  ProcessorFactory factory_;
  std::vector<std::unique_ptr<SerialStage>> serial_;
  PipelineOptions options_;

  std::unique_ptr<Limiter> limiter_;
  std::unique_ptr<FrameChannel> input_;
  std::unique_ptr<FrameChannel> unordered_;
  std::vector<std::unique_ptr<FrameChannel>> ordered_;  // one in front of each serial stage

  std::vector<std::unique_ptr<FrameProcessor>> processors_;
  std::vector<LatencyHistogram> worker_latency_;
  std::vector<LatencyHistogram> serial_latency_;
  LatencyHistogram reorder_wait_;
  LatencyHistogram end_to_end_;
  std::atomic<std::size_t> workers_done_{0};

  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};  // an internal fault: threads give up waiting for data
  std::atomic<bool> stopped_early_{false};
  std::int64_t frames_in_ = 0;  // written by the capture thread, read after join
  std::int64_t processed_ = 0, dropped_ = 0, failed_ = 0;  // written by the accounting thread

  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::optional<std::string> fatal_error_;

  Clock::time_point started_;
  Clock::time_point ended_;
  std::vector<std::thread> threads_;
  bool joined_ = false;
};

}  // namespace lookout
