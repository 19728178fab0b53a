#pragma once
// Source: where frames come from. The capture layer implements it over GStreamer; tests implement
// it with scripted frames. The source is opened when it is constructed, so its StreamInfo is
// known before the pipeline (and its outputs) start.
//
// Thread safety: read() from one thread only; interrupt() and status() from any thread.

#include <chrono>
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

// A snapshot of how a source is doing, for metrics and the run summary.
struct SourceStatus {
  enum class State {
    kConnecting,    // opening, before the first frame
    kStreaming,     // frames are arriving
    kReconnecting,  // the stream was lost (it stalled, failed or ended) and is being brought back
    kEnded,         // read() has returned kEnd or kError, or the source was interrupted
  };

  State state = State::kStreaming;
  std::int64_t frames = 0;              // frames read() has delivered
  std::int64_t reconnects = 0;          // times the stream was lost and came back
  std::int64_t reconnect_attempts = 0;  // connection attempts after a loss, failed ones included
  // Wall-clock time the last frame arrived; the epoch if none has.
  std::chrono::system_clock::time_point last_frame{};
};

inline const char* to_string(SourceStatus::State state) {
  switch (state) {
    case SourceStatus::State::kConnecting:
      return "connecting";
    case SourceStatus::State::kStreaming:
      return "streaming";
    case SourceStatus::State::kReconnecting:
      return "reconnecting";
    case SourceStatus::State::kEnded:
      return "ended";
  }
  return "unknown";
}

class Source {
 public:
  enum class Read { kFrame, kEnd, kError };

  virtual ~Source() = default;

  virtual const StreamInfo& info() const = 0;

  // Blocks until the next frame is ready (kFrame: `frame` holds image, owner, pts, duration and
  // capture time, and `events` for what happened to the stream just before it; stream and seq are
  // left to the caller), the stream ended (kEnd), or it broke (kError: `error` names the input and
  // what went wrong). A source that reconnects does so inside read(), which then blocks until the
  // stream is back. Called from one thread only.
  virtual Read read(Frame& frame, std::string& error) = 0;

  // Makes a blocked or later read() return kEnd promptly, also while it waits to reconnect. Safe
  // from any thread.
  virtual void interrupt() = 0;

  // A consistent snapshot; never blocks for long. Safe from any thread. Sources that do not track
  // their status (test fakes) report the default: streaming, with zero counts.
  virtual SourceStatus status() const { return {}; }
};

}  // namespace lookout
