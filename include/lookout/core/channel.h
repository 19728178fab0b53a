#pragma once
// Channel<T>: a bounded multi-producer multi-consumer queue that moves items between threads.
//
// Guarantees:
//   - At most `capacity` items are queued; push waits for room (up to a deadline), try_push never
//     waits. A push that returns false leaves the caller's item untouched.
//   - FIFO per producer only: items pushed by one thread are popped in the order that thread
//     pushed them; items from different producers may interleave in any order. Code that needs a
//     global order (frames) restores it by sequence number (ReorderBuffer).
//   - close() forbids further pushes and wakes every waiting pusher and popper within ~10 ms;
//     items already queued can still be popped, so closing never loses an item.
// Thread safety: every member may be called from any thread. The channel must outlive every
// thread that may still call it.
//
// This is the only place that includes moodycamel's queue. With LOOKOUT_CHANNEL_MUTEX the same
// interface is built over a mutex-guarded deque: ThreadSanitizer does not model the standalone
// fences moodycamel relies on, so TSan runs use that backend to check our own code without noise.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>

#if LOOKOUT_CHANNEL_MUTEX
#include <condition_variable>
#include <deque>
#include <mutex>
#else
#include <concurrentqueue/blockingconcurrentqueue.h>
#endif

namespace lookout {

#if !LOOKOUT_CHANNEL_MUTEX
// A waiting thread spins this many times before it sleeps (moodycamel's default: 10000). Frames
// come a millisecond or more apart, so a long spin rarely catches one and, with as many threads
// as cores, takes the cores from the decoder: with 10000, the pipeline with the none detector
// spent measurably more processor time a frame than decoding alone.
constexpr int kChannelSpins = 100;
struct ChannelQueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
  static const int MAX_SEMA_SPINS = kChannelSpins;
};
#endif

template <typename T>
class Channel {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Channel(std::size_t capacity)
      : capacity_(capacity)
#if !LOOKOUT_CHANNEL_MUTEX
        ,
        free_slots_(0, kChannelSpins)
#endif
  {
    if (capacity == 0) throw std::invalid_argument("Channel capacity must be at least 1");
#if !LOOKOUT_CHANNEL_MUTEX
    free_slots_.signal(static_cast<int>(capacity));
#endif
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Queues `item`, waiting for room until `deadline`. False if the deadline passed or the channel
  // is closed; `item` is then unchanged.
  bool push(T&& item, Clock::time_point deadline);

  // Blocks until there is room or the channel is closed.
  bool push(T&& item) { return push(std::move(item), Clock::time_point::max()); }

  // Queues `item` only if there is room now.
  bool try_push(T&& item) { return push(std::move(item), Clock::time_point::min()); }

  // Waits up to `timeout` for an item. Empty if none came in time, or if the channel is closed
  // and drained (closed() tells which).
  std::optional<T> pop(std::chrono::milliseconds timeout);

  void close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Items queued now; exact with the mutex backend, approximate while others push or pop.
  std::size_t size() const;

  // The most items queued at once so far (as size() saw it after each push).
  std::size_t peak_size() const { return peak_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::chrono::milliseconds kWakeSlice{10};
  void note_size(std::size_t size) {
    std::size_t peak = peak_.load(std::memory_order_relaxed);
    while (size > peak && !peak_.compare_exchange_weak(peak, size, std::memory_order_relaxed)) {
    }
  }

  const std::size_t capacity_;
  std::atomic<std::size_t> peak_{0};
  std::atomic<bool> closed_{false};
#if LOOKOUT_CHANNEL_MUTEX
  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
#else
  moodycamel::BlockingConcurrentQueue<T, ChannelQueueTraits> queue_;
  moodycamel::LightweightSemaphore free_slots_;
#endif
};

#if LOOKOUT_CHANNEL_MUTEX

template <typename T>
bool Channel<T>::push(T&& item, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  auto room = [&] { return closed() || items_.size() < capacity_; };
  if (!room() && deadline > Clock::now()) {
    if (deadline == Clock::time_point::max()) {
      not_full_.wait(lock, room);
    } else {
      not_full_.wait_until(lock, deadline, room);
    }
  }
  if (closed() || items_.size() >= capacity_) return false;
  items_.push_back(std::move(item));
  note_size(items_.size());
  not_empty_.notify_one();
  return true;
}

template <typename T>
std::optional<T> Channel<T>::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  not_empty_.wait_for(lock, timeout, [&] { return closed() || !items_.empty(); });
  if (items_.empty()) return std::nullopt;
  std::optional<T> item(std::move(items_.front()));
  items_.pop_front();
  not_full_.notify_one();
  return item;
}

template <typename T>
void Channel<T>::close() {
  {
    std::lock_guard lock(mutex_);
    closed_.store(true, std::memory_order_release);
  }
  not_full_.notify_all();
  not_empty_.notify_all();
}

template <typename T>
std::size_t Channel<T>::size() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

#else

template <typename T>
bool Channel<T>::push(T&& item, Clock::time_point deadline) {
  // A free-slot semaphore makes the unbounded moodycamel queue bounded. Waits are sliced so that a
  // close() is noticed promptly; the semaphore itself cannot be woken by close.
  for (;;) {
    if (closed()) return false;
    const auto now = Clock::now();
    const auto left = deadline > now ? deadline - now : Clock::duration::zero();
    const auto slice = std::min<Clock::duration>(left, kWakeSlice);
    const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
    if (free_slots_.wait(usecs)) {
      if (closed()) {
        free_slots_.signal();
        return false;
      }
      queue_.enqueue(std::move(item));
      note_size(queue_.size_approx());
      return true;
    }
    if (left == Clock::duration::zero()) return false;
  }
}

template <typename T>
std::optional<T> Channel<T>::pop(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto now = Clock::now();
    const auto left = deadline > now ? deadline - now : Clock::duration::zero();
    const auto slice = std::min<Clock::duration>(left, kWakeSlice);
    T item;
    if (queue_.wait_dequeue_timed(item, slice)) {
      free_slots_.signal();
      return std::optional<T>(std::move(item));
    }
    // Closed: one last non-blocking look, since a push may have landed just before close().
    if (closed()) {
      if (queue_.try_dequeue(item)) {
        free_slots_.signal();
        return std::optional<T>(std::move(item));
      }
      return std::nullopt;
    }
    if (left == Clock::duration::zero()) return std::nullopt;
  }
}

template <typename T>
void Channel<T>::close() {
  closed_.store(true, std::memory_order_release);
}

template <typename T>
std::size_t Channel<T>::size() const {
  return queue_.size_approx();
}

#endif

}  // namespace lookout
