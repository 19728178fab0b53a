#include "lookout/core/reorder_buffer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lookout {

ReorderBuffer::ReorderBuffer(std::size_t capacity, std::int64_t first_seq)
    : capacity_(capacity), next_seq_(first_seq) {
  if (capacity == 0) throw std::invalid_argument("ReorderBuffer capacity must be at least 1");
}

void ReorderBuffer::insert(Frame frame) {
  const std::int64_t seq = frame.seq;
  if (seq < next_seq_) {
    throw std::logic_error("ReorderBuffer: seq " + std::to_string(seq) +
                           " was already released (next is " + std::to_string(next_seq_) + ")");
  }
  // The end-of-stream marker is not a frame in flight, so it takes a place beyond the bound. It
  // can arrive before the last frames do: channels keep order per producer only.
  const bool end_pending = !pending_.empty() && pending_.rbegin()->second.is_end();
  const std::size_t frames_pending = pending_.size() - (end_pending ? 1 : 0);
  if (!frame.is_end() && frames_pending >= capacity_) {
    throw std::logic_error("ReorderBuffer: more than " + std::to_string(capacity_) +
                           " frames in flight (seq " + std::to_string(seq) + ")");
  }
  if (!pending_.emplace(seq, std::move(frame)).second) {
    throw std::logic_error("ReorderBuffer: seq " + std::to_string(seq) + " inserted twice");
  }
}

std::optional<Frame> ReorderBuffer::pop_ready() {
  auto it = pending_.begin();
  if (it == pending_.end() || it->first != next_seq_) return std::nullopt;
  Frame frame = std::move(it->second);
  pending_.erase(it);
  next_seq_ += std::max<std::int64_t>(frame.span, 1);
  return frame;
}

}  // namespace lookout
