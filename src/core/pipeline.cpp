#include "lookout/core/pipeline.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include <opencv2/core.hpp>

namespace lookout {
namespace {
// How long a blocked thread waits before re-checking for an abort. Data normally wakes it first.
constexpr std::chrono::milliseconds kPollInterval{100};

std::string describe_current_exception() {
  try {
    throw;
  } catch (const cv::Exception& e) {
    return e.what();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}
}  // namespace

// Counts frames in flight; the source takes a place before admitting a frame and accounting gives
// it back. Stop requests wake a waiting source.
class Pipeline::Limiter {
 public:
  explicit Limiter(std::size_t places) : places_(places) {}

  bool acquire(const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return used_ < places_ || stop.load(); });
    if (used_ == places_) return false;
    take();
    return true;
  }
  bool try_acquire() {
    std::lock_guard lock(mutex_);
    if (used_ == places_) return false;
    take();
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      --used_;
    }
    cv_.notify_one();
  }
  void wake() {
    { std::lock_guard lock(mutex_); }
    cv_.notify_all();
  }
  std::size_t peak() const {
    std::lock_guard lock(mutex_);
    return peak_;
  }
  std::size_t used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }

 private:
  void take() {
    ++used_;
    peak_ = std::max(peak_, used_);
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  const std::size_t places_;
  std::size_t used_ = 0;
  std::size_t peak_ = 0;
};

const char* to_string(DropPolicy policy) {
  switch (policy) {
    case DropPolicy::kBlock:
      return "block";
    case DropPolicy::kDropOldest:
      return "oldest";
    case DropPolicy::kDropNewest:
      return "newest";
  }
  return "unknown";
}

Pipeline::Pipeline(std::unique_ptr<Source> source, ProcessorFactory factory,
                   std::vector<std::unique_ptr<SerialStage>> serial_stages, PipelineOptions options)
    : source_(std::move(source)),
      factory_(std::move(factory)),
      serial_(std::move(serial_stages)),
      options_(std::move(options)) {
  if (!source_) throw std::invalid_argument("Pipeline needs a source");
  if (!factory_) throw std::invalid_argument("Pipeline needs a processor factory");
  if (options_.workers == 0) throw std::invalid_argument("Pipeline needs at least one worker");
  for (const auto& stage : serial_) {
    if (!stage) throw std::invalid_argument("Pipeline got a null serial stage");
  }
  if (options_.max_in_flight == 0) options_.max_in_flight = std::max<std::size_t>(8, 4 * options_.workers);
  if (options_.max_in_flight < options_.workers) {
    throw std::invalid_argument("max_in_flight must be at least the number of workers");
  }
}

Pipeline::~Pipeline() {
  if (!threads_.empty() && !joined_) {
    request_stop();
    wait();
  }
}

void Pipeline::add_capture_stage(std::unique_ptr<SerialStage> stage) {
  if (!threads_.empty()) throw std::logic_error("Pipeline::add_capture_stage after start");
  if (!stage) throw std::invalid_argument("Pipeline got a null capture stage");
  capture_stages_.push_back(std::move(stage));
}

void Pipeline::start() {
  if (!threads_.empty()) throw std::logic_error("Pipeline::start called twice");
  for (std::size_t i = 0; i < options_.workers; ++i) {
    auto processor = factory_();
    if (!processor) throw std::invalid_argument("the processor factory returned nothing");
    processors_.push_back(std::move(processor));
  }
  serial_latency_.resize(serial_.size());
  capture_latency_.resize(capture_stages_.size());

  // Every channel holds at most the frames in flight, one entrance marker before each of them and
  // one more before the end, and the end-of-stream marker; so with the limiter in front no push
  // ever waits for room.
  const std::size_t capacity = 2 * options_.max_in_flight + 2;
  reorder_capacity_ = 2 * options_.max_in_flight + 1;
  limiter_ = std::make_unique<Limiter>(options_.max_in_flight);
  input_ = std::make_unique<FrameChannel>(capacity);
  unordered_ = std::make_unique<FrameChannel>(capacity);
  for (std::size_t i = 0; i < serial_.size(); ++i) {
    ordered_.push_back(std::make_unique<FrameChannel>(capacity));
  }

  started_ = Clock::now();
  // Threads are started from the end of the chain backwards, so each has its consumer running.
  for (std::size_t i = serial_.size(); i-- > 0;) threads_.emplace_back([this, i] { serial_loop(i); });
  threads_.emplace_back([this] { reorder_loop(); });
  for (std::size_t i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this, i] { worker_loop(i); });
  }
  threads_.emplace_back([this] { capture_loop(); });
}

void Pipeline::request_stop(StopMode mode) {
  if (mode == StopMode::kNow) stop_now_.store(true);
  stopped_early_.store(true);
  stop_.store(true);
  source_->interrupt();
  if (limiter_) limiter_->wake();
}

void Pipeline::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!fatal_error_) fatal_error_ = message;
  }
  stop_.store(true);
  source_->interrupt();
  if (limiter_) limiter_->wake();
}

bool Pipeline::finished() const {
  std::lock_guard lock(mutex_);
  return done_;
}

bool Pipeline::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return done_cv_.wait_for(lock, timeout, [&] { return done_; });
}

RunReport Pipeline::wait() {
  if (threads_.empty()) throw std::logic_error("Pipeline::wait before start");
  if (!joined_) {
    for (auto& thread : threads_) thread.join();
    joined_ = true;
    std::lock_guard lock(mutex_);
    if (ended_ == Clock::time_point{}) ended_ = Clock::now();  // an aborted run never saw its end
  }
  RunReport report = stats();
  if (!report.fatal_error && !report.balanced()) {
    report.fatal_error = "internal error: frames in != processed + dropped + failed";
  }
  return report;
}

RunReport Pipeline::stats() const {
  if (!limiter_) throw std::logic_error("Pipeline::stats before start");
  RunReport report;
  report.frames_in = frames_in_.load();
  report.processed = processed_.load();
  report.dropped_pipeline_full = dropped_full_.load();
  report.dropped_too_old = dropped_old_.load();
  report.dropped_stopping = dropped_stopping_.load();
  report.dropped = report.dropped_pipeline_full + report.dropped_too_old + report.dropped_stopping +
                   dropped_other_.load();
  report.failed = failed_.load();
  report.max_in_flight = options_.max_in_flight;
  report.in_flight = limiter_->used();
  report.peak_in_flight = limiter_->peak();
  report.reorder_capacity = reorder_capacity_;
  report.peak_reorder = peak_reorder_.load();
  report.stopped_early = stopped_early_.load();
  report.queues.push_back({options_.parallel_stage_name, input_->size(), input_->peak_size(), input_->capacity()});
  report.queues.push_back({"reorder", unordered_->size() + reorder_depth_.load(),
                           unordered_->peak_size() + report.peak_reorder,
                           unordered_->capacity() + reorder_capacity_});
  for (std::size_t i = 0; i < serial_.size(); ++i) {
    report.queues.push_back({serial_[i]->name(), ordered_[i]->size(), ordered_[i]->peak_size(),
                             ordered_[i]->capacity()});
  }
  {
    std::lock_guard lock(metrics_mutex_);
    for (std::size_t i = 0; i < capture_stages_.size(); ++i) {
      report.stages.push_back({capture_stages_[i]->name(), capture_latency_[i]});
    }
    report.stages.push_back({options_.parallel_stage_name, detect_latency_});
    report.stages.push_back({"reorder", reorder_wait_});
    for (std::size_t i = 0; i < serial_.size(); ++i) {
      report.stages.push_back({serial_[i]->name(), serial_latency_[i]});
    }
    report.stages.push_back({"end-to-end", end_to_end_});
  }
  std::lock_guard lock(mutex_);
  const Clock::time_point end = ended_ != Clock::time_point{} ? ended_ : Clock::now();
  report.wall_seconds = std::chrono::duration<double>(end - started_).count();
  report.fatal_error = fatal_error_;
  return report;
}

std::optional<Frame> Pipeline::pop(FrameChannel& channel) {
  for (;;) {
    if (auto frame = channel.pop(kPollInterval)) return frame;
    if (abort_.load()) return std::nullopt;
  }
}

void Pipeline::capture_loop() {
  std::int64_t seq = 0;
  std::optional<Frame> pending_drops;
  try {
    while (!stop_.load()) {
      if (options_.max_frames >= 0 && seq >= options_.max_frames) {
        stopped_early_.store(true);
        break;
      }
      Frame frame;
      std::string error;
      const Source::Read result = source_->read(frame, error);
      if (result == Source::Read::kError) fail(error);
      if (result != Source::Read::kFrame) break;
      // Stopped while waiting for room: the frame was never admitted, so it gets no seq.
      if (options_.drop_policy == DropPolicy::kBlock && !limiter_->acquire(stop_)) break;
      frame.stream = options_.stream;
      frame.seq = seq++;
      frames_in_.store(seq);
      if (frame.captured == Clock::time_point{}) frame.captured = Clock::now();
      if (!run_capture_stages(frame)) {
        // Fatal: the frame still counts, as failed, so the books balance.
        frame.fail("capture", "a capture stage failed");
        if (options_.drop_policy == DropPolicy::kBlock || limiter_->try_acquire()) {
          input_->push(std::move(frame));
        } else {
          add_entrance_drop(std::move(frame), pending_drops);
        }
        break;
      }
      if (options_.drop_policy == DropPolicy::kBlock) {
        input_->push(std::move(frame));
      } else {
        admit(std::move(frame), pending_drops);
      }
    }
  } catch (...) {
    fail("capture: " + describe_current_exception());
  }
  try {
    flush_entrance_drops(pending_drops);
  } catch (...) {
    fail("capture: " + describe_current_exception());
  }
  finish_capture_stages();
  input_->push(Frame::end_of_stream(options_.stream, seq));
}

bool Pipeline::run_capture_stages(Frame& frame) {
  for (std::size_t i = 0; i < capture_stages_.size(); ++i) {
    SerialStage& stage = *capture_stages_[i];
    const auto begin = Clock::now();
    try {
      stage.process(frame);
    } catch (...) {
      fail(stage.name() + ": " + describe_current_exception());
      return false;
    }
    const auto took = Clock::now() - begin;
    std::lock_guard lock(metrics_mutex_);
    capture_latency_[i].record(took);
  }
  return true;
}

void Pipeline::finish_capture_stages() {
  for (auto& stage : capture_stages_) {
    try {
      stage->finish();
    } catch (...) {
      fail(stage->name() + ": " + describe_current_exception());
    }
  }
}

bool Pipeline::admit(Frame&& frame, std::optional<Frame>& pending_drops) {
  const bool oldest = options_.drop_policy == DropPolicy::kDropOldest;
  if (oldest && pending_drops &&
      taken_up_to_.load(std::memory_order_acquire) >= pending_drops->seq + pending_drops->span) {
    flush_entrance_drops(pending_drops);
  }
  if (limiter_->try_acquire()) {
    // Without victims an admitted frame is never dropped later, so the run before it can go.
    if (!oldest) flush_entrance_drops(pending_drops);
    input_->push(std::move(frame));
    return true;
  }
  if (oldest) {
    // The capture thread is the only producer of the input channel while it runs, so what it pops
    // is the oldest frame still waiting for a worker. Its place goes to the new frame.
    if (auto victim = input_->pop(std::chrono::milliseconds(0))) {
      add_entrance_drop(std::move(*victim), pending_drops);
      input_->push(std::move(frame));
      return true;
    }
  }
  add_entrance_drop(std::move(frame), pending_drops);
  return false;
}

void Pipeline::add_entrance_drop(Frame&& frame, std::optional<Frame>& pending_drops) {
  frame.drop(DropCause::kPipelineFull);
  if (pending_drops && pending_drops->seq + pending_drops->span == frame.seq) {
    pending_drops->span += frame.span;
    for (auto& event : frame.events) {
      if (event.seq < 0) event.seq = frame.seq;  // keep its place inside the run
      pending_drops->events.push_back(std::move(event));
    }
    return;
  }
  // Not adjacent: the frame after the run was taken by a worker (the input channel is FIFO for
  // its one producer) or admitted under kDropNewest, so it can no longer be dropped here.
  flush_entrance_drops(pending_drops);
  pending_drops = std::move(frame);
}

// A run of entrance drops is sent only once the frame right after it is certain to stay a frame
// (taken by a worker, or admitted where nothing is ever dropped after admission). That frame holds
// a place until the run has passed the reorder stage, so each run in flight has a place-holding
// frame of its own: at most max_in_flight runs, plus the last one before the end. Markers bypass
// the workers: there is nothing to detect in them.
void Pipeline::flush_entrance_drops(std::optional<Frame>& pending_drops) {
  if (!pending_drops) return;
  unordered_->push(std::move(*pending_drops));
  pending_drops.reset();
}

void Pipeline::worker_loop(std::size_t index) {
  FrameProcessor& processor = *processors_[index];
  while (auto item = pop(*input_)) {
    Frame frame = std::move(*item);
    if (!frame.is_end()) {
      std::int64_t taken = taken_up_to_.load(std::memory_order_relaxed);
      while (taken < frame.seq + 1 &&
             !taken_up_to_.compare_exchange_weak(taken, frame.seq + 1, std::memory_order_release)) {
      }
    }
    if (frame.is_end()) {
      // Each worker sees the marker once: all but the last hand it back for their siblings; the
      // last one out passes it on, after every other worker has pushed its final frame.
      if (workers_done_.fetch_add(1) + 1 == options_.workers) {
        unordered_->push(std::move(frame));
      } else {
        input_->push(std::move(frame));
      }
      return;
    }
    if (frame.ok() && stop_now_.load()) {
      frame.drop(DropCause::kStopping);
    } else if (frame.ok() && options_.max_age.count() > 0 &&
               Clock::now() - frame.captured > options_.max_age) {
      frame.drop(DropCause::kTooOld);
    }
    if (frame.ok()) {
      const auto begin = Clock::now();
      try {
        processor.process(frame);
      } catch (...) {
        frame.fail(options_.parallel_stage_name, describe_current_exception());
      }
      const auto took = Clock::now() - begin;
      std::lock_guard lock(metrics_mutex_);
      detect_latency_.record(took);
    }
    unordered_->push(std::move(frame));
  }
}

void Pipeline::reorder_loop() {
  ReorderBuffer buffer(reorder_capacity_);
  std::unordered_map<std::int64_t, Clock::time_point> arrived;
  try {
    while (auto item = pop(*unordered_)) {
      arrived.emplace(item->seq, Clock::now());
      buffer.insert(std::move(*item));
      reorder_depth_.store(buffer.size());
      if (buffer.size() > peak_reorder_.load()) peak_reorder_.store(buffer.size());
      while (auto ready = buffer.pop_ready()) {
        const auto when = arrived.find(ready->seq);
        const bool end = ready->is_end();
        if (!end) {
          std::lock_guard lock(metrics_mutex_);
          reorder_wait_.record(Clock::now() - when->second);
        }
        arrived.erase(when);
        reorder_depth_.store(buffer.size());
        forward(0, std::move(*ready));
        if (end) return;
      }
    }
  } catch (...) {
    fail("reorder: " + describe_current_exception());
    abort_.store(true);
  }
}

void Pipeline::serial_loop(std::size_t index) {
  SerialStage& stage = *serial_[index];
  bool healthy = true;
  bool finished = false;
  while (auto item = pop(*ordered_[index])) {
    Frame frame = std::move(*item);
    if (frame.is_end()) {
      try {
        stage.finish();
      } catch (...) {
        fail(stage.name() + ": " + describe_current_exception());
      }
      finished = true;
      forward(index + 1, std::move(frame));
      break;
    }
    if (healthy) {
      const auto begin = Clock::now();
      try {
        stage.process(frame);
      } catch (...) {
        healthy = false;
        fail(stage.name() + ": " + describe_current_exception());
      }
      const auto took = Clock::now() - begin;
      std::lock_guard lock(metrics_mutex_);
      serial_latency_[index].record(took);
    }
    forward(index + 1, std::move(frame));
  }
  if (!finished) {
    // Only after an internal abort: still finalise this stage's output.
    try {
      stage.finish();
    } catch (...) {
      fail(stage.name() + ": " + describe_current_exception());
    }
  }
}

void Pipeline::forward(std::size_t next_channel, Frame&& frame) {
  if (next_channel < ordered_.size()) {
    ordered_[next_channel]->push(std::move(frame));
  } else {
    account(std::move(frame));
  }
}

void Pipeline::account(Frame&& frame) {
  if (frame.is_end()) {
    {
      std::lock_guard lock(mutex_);
      ended_ = Clock::now();
      done_ = true;
    }
    done_cv_.notify_all();
    return;
  }
  // Entrance drops never took a place (or gave theirs to the frame admitted instead).
  bool holds_place = true;
  switch (frame.status) {
    case FrameStatus::kOk:
      processed_.fetch_add(1);
      break;
    case FrameStatus::kDropped:
      switch (frame.drop_cause) {
        case DropCause::kPipelineFull:
          dropped_full_.fetch_add(frame.span);
          holds_place = false;
          break;
        case DropCause::kTooOld:
          dropped_old_.fetch_add(frame.span);
          break;
        case DropCause::kStopping:
          dropped_stopping_.fetch_add(frame.span);
          break;
        case DropCause::kNone:  // a stage that dropped it without saying why
          dropped_other_.fetch_add(frame.span);
          break;
      }
      break;
    case FrameStatus::kFailed:
      failed_.fetch_add(1);
      break;
  }
  if (frame.status != FrameStatus::kDropped) {
    std::lock_guard lock(metrics_mutex_);
    end_to_end_.record(Clock::now() - frame.captured);
  }
  frame = Frame();  // release the pixels before the place, so memory stays bounded too
  if (holds_place) limiter_->release();
}

}  // namespace lookout
