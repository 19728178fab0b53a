#pragma once
// Source: where frames come from. The capture layer implements it over GStreamer; tests implement
// it with scripted frames. The source is opened when it is constructed, so its StreamInfo is
// known before the pipeline (and its outputs) start.

#include <cstdint>
#include <string>

#include "lookout/core/frame.h"

namespace lookout {

struct StreamInfo {
  std::string uri;             // what the user named, for messages (credentials removed)
  int width = 0;
  int height = 0;
  int fps_num = 0;             // frame rate as a fraction; 0/1 if the stream does not say
  int fps_den = 1;
  std::int64_t duration_ns = -1;  // -1 if unknown (live)
  std::int64_t frame_count = -1;  // estimated from duration and rate; -1 if unknown
  bool live = false;              // frames arrive at the source's pace, not the reader's

  double fps() const { return fps_num > 0 && fps_den > 0 ? double(fps_num) / fps_den : 0.0; }
};

class Source {
 public:
  enum class Read { kFrame, kEnd, kError };

  virtual ~Source() = default;

  virtual const StreamInfo& info() const = 0;

  // Blocks until the next frame is ready (kFrame: `frame` holds image, owner, pts, duration and
  // capture time; stream and seq are left to the caller), the stream ended (kEnd), or it broke
  // (kError: `error` names the input and what went wrong). Called from one thread only.
  virtual Read read(Frame& frame, std::string& error) = 0;

  // Makes a blocked or later read() return kEnd promptly. Safe from any thread.
  virtual void interrupt() = 0;
};

}  // namespace lookout
