#pragma once
// Pipeline: runs one source through a parallel stage, a reorder stage and a chain of serial
// stages, and owns every thread it starts.
//
//   source (+ capture stages) --> [input] --> N workers (one FrameProcessor each) --> [unordered]
//          --> reorder (ReorderBuffer) --> [ordered] --> serial stage 1 --> ... --> accounting
//
// Contract:
//   - Construction stores and checks the options; start() makes every worker's processor first,
//     so a factory that throws stops the run before any thread exists, then starts the threads.
//   - At most `max_in_flight` frames are between the source and the end of the chain at any time
//     (a limiter at the source, like oneTBB's limiter_node). Every channel and the reorder buffer
//     are bounded by it.
//   - When there is no room, the drop policy decides. kBlock: the source waits, so a file loses no
//     frame. A live source never waits: kDropOldest drops the oldest frame still waiting for a
//     worker and admits the new one in its place (or drops the new one if every admitted frame is
//     already being worked on); kDropNewest drops the new frame. An entrance drop keeps its seq and
//     travels on as a dropped marker that holds no place; consecutive drops share one marker
//     (Frame::span), and a run is sent only once the frame after it is sure to be processed, so
//     the markers in flight are bounded by max_in_flight + 1 too.
//   - `max_age`: a worker drops (and counts) a frame that waited longer than this since capture,
//     instead of processing it, so latency cannot build up behind a slow detector.
//   - End of stream travels as data, behind the last frame; each thread ends when it has passed
//     it on, so shutdown is always in order and every serial stage's finish() runs exactly once.
//   - request_stop() ends capture; the frames already admitted are still processed and the outputs
//     finalised. request_stop(StopMode::kNow) also drops every admitted frame not yet processed
//     (counted as kStopping), so the run ends after at most one detector call per worker; the
//     outputs are still finalised. The first fatal error (a source error, a serial stage that throws) is reported
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

// What the entrance does when max_in_flight frames are already in flight.
enum class DropPolicy { kBlock, kDropOldest, kDropNewest };

const char* to_string(DropPolicy policy);

enum class StopMode {
  kDrain,  // stop capture, finish the frames in flight
  kNow,    // stop capture, drop the frames not yet processed
};

struct PipelineOptions {
  std::size_t workers = 1;
  std::size_t max_in_flight = 0;            // 0: four per worker, at least 8
  std::string parallel_stage_name = "detect";
  int stream = 0;
  std::int64_t max_frames = -1;             // stop capture after this many frames; -1: no limit
  DropPolicy drop_policy = DropPolicy::kBlock;
  std::chrono::milliseconds max_age{0};     // 0: no limit
};

struct StageReport {
  std::string name;
  LatencyHistogram latency;  // service time, or for "reorder" the wait, for "end-to-end" the age
};

// A bounded place where frames wait: a channel in front of a stage, or the reorder buffer.
struct QueueReport {
  std::string name;  // the stage it feeds: "detect", "reorder", a serial stage's name
  std::size_t depth = 0;  // now (approximate while the pipeline runs)
  std::size_t peak = 0;
  std::size_t capacity = 0;
};

struct RunReport {
  std::int64_t frames_in = 0;
  std::int64_t processed = 0;  // reached the end with status ok
  std::int64_t dropped = 0;    // the causes below, and drops a stage made without a cause
  std::int64_t dropped_pipeline_full = 0;
  std::int64_t dropped_too_old = 0;
  std::int64_t dropped_stopping = 0;
  std::int64_t failed = 0;
  // Bounds and the most each one held during the run.
  std::size_t max_in_flight = 0;
  std::size_t peak_in_flight = 0;     // frames holding a place
  std::size_t reorder_capacity = 0;
  std::size_t peak_reorder = 0;       // frames and markers waiting in the reorder stage
  std::size_t in_flight = 0;          // now
  std::vector<QueueReport> queues;
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

  // Adds a stateful stage (e.g. motion) that the capture thread runs on every frame, in seq order,
  // before the frame is admitted: its detections are there for the workers to use (gating), and
  // it sees every frame, even those the entrance then drops. A throw is fatal, as for serial
  // stages; finish() runs when capture ends. Call before start().
  void add_capture_stage(std::unique_ptr<SerialStage> stage);

  // Throws std::invalid_argument for bad options and whatever the factory throws; in both cases
  // no thread was started. Call at most once.
  void start();

  void request_stop(StopMode mode = StopMode::kDrain);

  // True once the end of stream has passed the last stage (wait() will not block for long).
  bool finished() const;
  // Waits up to `timeout` for finished().
  bool wait_for(std::chrono::milliseconds timeout);

  // Joins every thread and returns the run's accounting. Call once, after start().
  RunReport wait();

  // The accounting so far, while the pipeline runs (counts, queue depths, latency histograms);
  // after wait(), the same as wait() returned. Safe from any thread after start().
  RunReport stats() const;

  // The source, e.g. for its status() while running. Valid for the Pipeline's lifetime.
  const Source& source() const { return *source_; }

 private:
  class Limiter;
  using FrameChannel = Channel<Frame>;

  void capture_loop();
  // Runs the capture stages on `frame`; false after a fatal error.
  bool run_capture_stages(Frame& frame);
  void finish_capture_stages();
  void worker_loop(std::size_t index);
  void reorder_loop();
  void serial_loop(std::size_t index);
  void account(Frame&& frame);
  // Admits `frame` or drops it at the entrance by the drop policy. False if stopped while waiting.
  bool admit(Frame&& frame, std::optional<Frame>& pending_drops);
  void add_entrance_drop(Frame&& frame, std::optional<Frame>& pending_drops);
  void flush_entrance_drops(std::optional<Frame>& pending_drops);
  void fail(const std::string& message);
  // Passes a frame to the stage after `index` (index == size: to accounting).
  void forward(std::size_t next_channel, Frame&& frame);
  std::optional<Frame> pop(FrameChannel& channel);

  std::unique_ptr<Source> source_;
  ProcessorFactory factory_;
  std::vector<std::unique_ptr<SerialStage>> serial_;
  std::vector<std::unique_ptr<SerialStage>> capture_stages_;
  PipelineOptions options_;

  std::unique_ptr<Limiter> limiter_;
  std::unique_ptr<FrameChannel> input_;
  std::unique_ptr<FrameChannel> unordered_;
  std::vector<std::unique_ptr<FrameChannel>> ordered_;  // one in front of each serial stage

  std::vector<std::unique_ptr<FrameProcessor>> processors_;
  // Latency histograms, recorded by their stages' threads and read by stats().
  mutable std::mutex metrics_mutex_;
  LatencyHistogram detect_latency_;
  std::vector<LatencyHistogram> capture_latency_;
  std::vector<LatencyHistogram> serial_latency_;
  LatencyHistogram reorder_wait_;
  LatencyHistogram end_to_end_;
  std::atomic<std::size_t> workers_done_{0};

  std::atomic<bool> stop_{false};
  std::atomic<bool> stop_now_{false};
  // One past the highest seq a worker has taken from the input channel: frames below it can no
  // longer be chosen as drop-oldest victims.
  std::atomic<std::int64_t> taken_up_to_{0};
  std::atomic<bool> abort_{false};  // an internal fault: threads give up waiting for data
  std::atomic<bool> stopped_early_{false};
  // Counts, each written by one thread (capture, or accounting) and read by stats().
  std::atomic<std::int64_t> frames_in_{0};
  std::atomic<std::int64_t> processed_{0}, failed_{0};
  std::atomic<std::int64_t> dropped_full_{0}, dropped_old_{0}, dropped_stopping_{0}, dropped_other_{0};
  std::size_t reorder_capacity_ = 0;
  std::atomic<std::size_t> reorder_depth_{0}, peak_reorder_{0};  // written by the reorder thread

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
