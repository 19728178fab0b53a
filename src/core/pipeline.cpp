#include "lookout/core/pipeline.h"

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
  explicit Limiter(std::size_t places) : free_(places) {}

  bool acquire(const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return free_ > 0 || stop.load(); });
    if (free_ == 0) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    cv_.notify_one();
  }
  void wake() {
    { std::lock_guard lock(mutex_); }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t free_;
};

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

void Pipeline::start() {
  if (!threads_.empty()) throw std::logic_error("Pipeline::start called twice");
  for (std::size_t i = 0; i < options_.workers; ++i) {
    auto processor = factory_();
    if (!processor) throw std::invalid_argument("the processor factory returned nothing");
    processors_.push_back(std::move(processor));
  }
  worker_latency_.resize(options_.workers);
  serial_latency_.resize(serial_.size());

  // Every channel holds at most the frames in flight plus the end-of-stream marker, so with the
  // limiter in front no push ever waits for room.
  const std::size_t capacity = options_.max_in_flight + 1;
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

void Pipeline::request_stop() {
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
    if (ended_ == Clock::time_point{}) ended_ = Clock::now();  // an aborted run never saw its end
  }
  RunReport report;
  report.frames_in = frames_in_;
  report.processed = processed_;
  report.dropped = dropped_;
  report.failed = failed_;
  report.wall_seconds = std::chrono::duration<double>(ended_ - started_).count();
  report.stopped_early = stopped_early_.load();
  StageReport detect{options_.parallel_stage_name, {}};
  for (const auto& latency : worker_latency_) detect.latency.merge(latency);
  report.stages.push_back(std::move(detect));
  report.stages.push_back({"reorder", reorder_wait_});
  for (std::size_t i = 0; i < serial_.size(); ++i) {
    report.stages.push_back({serial_[i]->name(), serial_latency_[i]});
  }
  report.stages.push_back({"end-to-end", end_to_end_});
  std::lock_guard lock(mutex_);
  report.fatal_error = fatal_error_;
  if (!fatal_error_ && !report.balanced()) {
    report.fatal_error = "internal error: frames in != processed + dropped + failed";
  }
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
      if (!limiter_->acquire(stop_)) break;  // stopped while waiting: the frame was never admitted
      frame.stream = options_.stream;
      frame.seq = seq++;
      if (frame.captured == Clock::time_point{}) frame.captured = Clock::now();
      input_->push(std::move(frame));
    }
  } catch (...) {
    fail("capture: " + describe_current_exception());
  }
  frames_in_ = seq;
  input_->push(Frame::end_of_stream(options_.stream, seq));
}

void Pipeline::worker_loop(std::size_t index) {
  FrameProcessor& processor = *processors_[index];
  LatencyHistogram& latency = worker_latency_[index];
  while (auto item = pop(*input_)) {
    Frame frame = std::move(*item);
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
    if (frame.ok()) {
      const auto begin = Clock::now();
      try {
        processor.process(frame);
      } catch (...) {
        frame.fail(options_.parallel_stage_name, describe_current_exception());
      }
      latency.record(Clock::now() - begin);
    }
    unordered_->push(std::move(frame));
  }
}

void Pipeline::reorder_loop() {
  ReorderBuffer buffer(options_.max_in_flight);
  std::unordered_map<std::int64_t, Clock::time_point> arrived;
  try {
    while (auto item = pop(*unordered_)) {
      arrived.emplace(item->seq, Clock::now());
      buffer.insert(std::move(*item));
      while (auto ready = buffer.pop_ready()) {
        const auto when = arrived.find(ready->seq);
        const bool end = ready->is_end();
        if (!end) reorder_wait_.record(Clock::now() - when->second);
        arrived.erase(when);
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
      serial_latency_[index].record(Clock::now() - begin);
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
    ended_ = Clock::now();
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    return;
  }
  switch (frame.status) {
    case FrameStatus::kOk:
      ++processed_;
      break;
    case FrameStatus::kDropped:
      ++dropped_;
      break;
    case FrameStatus::kFailed:
      ++failed_;
      break;
  }
  end_to_end_.record(Clock::now() - frame.captured);
  frame = Frame();  // release the pixels before the place, so memory stays bounded too
  limiter_->release();
}

}  // namespace lookout
