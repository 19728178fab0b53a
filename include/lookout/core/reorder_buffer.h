#pragma once
// ReorderBuffer: restores frame order by seq after a parallel stage (oneTBB calls this a
// sequencer). Frames go in in any order and come out strictly by seq: 0, 1, 2, ... A dropped or
// failed frame is inserted like any other (as a marker), so a gap never stalls the stream; the
// end-of-stream frame has seq == frame count and so comes out last. A marker standing for a run of
// dropped frames (span > 1) covers seqs seq .. seq + span - 1.
//
// Bound: at most `capacity` frames are held. The pipeline guarantees that by admitting at most
// `capacity` frames into flight (a limiter at the source); insert() treats a violation, like a
// duplicate or already released seq, as a bug and throws std::logic_error.
// Thread safety: thread-compatible; one thread (the reorder stage) owns it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "lookout/core/frame.h"

namespace lookout {

class ReorderBuffer {
 public:
  explicit ReorderBuffer(std::size_t capacity, std::int64_t first_seq = 0);

  void insert(Frame frame);

  // The frame with the next seq, if it has arrived; each call releases at most one frame.
  std::optional<Frame> pop_ready();

  std::int64_t next_seq() const { return next_seq_; }
  std::size_t size() const { return pending_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::int64_t next_seq_;
  std::map<std::int64_t, Frame> pending_;
};

}  // namespace lookout
