#pragma once
// StreamEvent: something that happened to a stream between two frames, carried in order by the
// first frame after it (see Frame::events) so that every output sees it at the right place.
//
// Today the only kind is a gap: the source lost its stream (the server went away, the stream
// errored, or no frame came for the stall timeout) and reconnected. Outputs keep going across a
// gap; the metadata records it as an event line before the first frame after it.

#include <chrono>
#include <cstdint>
#include <string>

namespace lookout {

struct StreamEvent {
  enum class Kind { kGap };

  Kind kind = Kind::kGap;
  // Wall-clock time the gap began (the last frame before it arrived, or the error if sooner).
  std::chrono::system_clock::time_point start;
  std::chrono::nanoseconds duration{0};  // from start to the first frame after the gap
  int attempts = 0;                      // connection attempts it took, the successful one included
  std::string reason;                    // why the stream was lost; credentials are masked
  // The seq of the frame it came with, once that frame has joined a run of dropped frames
  // (Frame::span) whose first seq is another; -1 while it is the carrying frame's own seq.
  std::int64_t seq = -1;
};

const char* to_string(StreamEvent::Kind kind);

}  // namespace lookout
