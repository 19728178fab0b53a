#pragma once
// Frame: one picture travelling through the pipeline, and the markers that travel with it.
//
// Ownership: move-only; a frame has exactly one owner at a time and ownership moves through
// channels, so no lock ever guards its pixels. `image` may borrow memory owned by the capture
// layer (a mapped GStreamer buffer); `owner` keeps that memory alive and releases it when the
// frame dies. Copying pixels is always explicit (`image.clone()`).
//
// Ordering: `seq` is dense per stream, set once by the source stage, and is the only ordering
// key. A frame that was dropped or failed keeps its seq and travels on as a marker, so a gap never
// stalls the reorder stage. End of stream is a frame too: `is_end()` is true, its seq is the number
// of frames the source produced, so it sorts after all of them.
//
// Drops: a frame the pipeline could not afford to process is turned into a dropped marker by
// drop(), which keeps its seq, pts and events and lets go of its pixels. A marker made at the
// entrance may stand for a run of consecutive frames (`span` > 1: seqs seq .. seq + span - 1), so
// the number of markers in flight stays bounded however many frames a live source outruns us by.
//
// Thread safety: thread-compatible (no internal locking); only its current owner touches it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "lookout/core/detection.h"
#include "lookout/core/stream_event.h"

namespace lookout {

using Clock = std::chrono::steady_clock;

enum class FrameStatus {
  kOk,       // captured and (so far) processed
  kDropped,  // never processed (e.g. a live source outran us); carries no image
  kFailed,   // a stage threw on it; `error` says which and why; the image may be present
};

// Why a frame was dropped.
enum class DropCause {
  kNone,
  kPipelineFull,  // a live source outran the pipeline: the entrance had no room (drop policy)
  kTooOld,        // older than the maximum age when a worker took it up
  kStopping,      // still waiting for a worker when an immediate stop was requested
};

const char* to_string(FrameStatus status);
const char* to_string(DropCause cause);

class Frame {
 public:
  Frame() = default;
  Frame(Frame&&) noexcept = default;
  Frame& operator=(Frame&&) noexcept = default;
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  ~Frame() = default;

  // The end-of-stream marker for a stream whose source produced `frame_count` frames.
  static Frame end_of_stream(int stream, std::int64_t frame_count);

  bool is_end() const { return end_; }
  bool ok() const { return status == FrameStatus::kOk; }

  // Marks the frame failed by `stage` with `reason`; the first failure wins.
  void fail(const std::string& stage, const std::string& reason);

  // Turns the frame into a dropped marker: releases the image, keeps seq, pts and events.
  void drop(DropCause why);

  int stream = 0;
  std::int64_t seq = -1;
  std::int64_t pts_ns = -1;       // presentation time from the stream; -1 if unknown
  std::int64_t duration_ns = -1;  // -1 if unknown
  Clock::time_point captured;     // when the source handed the frame over
  cv::Mat image;                  // BGR, 8 bit; empty for markers
  std::shared_ptr<const void> owner;  // keeps borrowed pixel memory alive, may be null
  std::vector<Detection> detections;
  FrameStatus status = FrameStatus::kOk;
  std::string error;  // for kFailed: "stage: reason"
  DropCause drop_cause = DropCause::kNone;  // for kDropped
  std::int64_t span = 1;  // seqs this frame stands for; > 1 only for a run of entrance drops
  std::vector<StreamEvent> events;  // what happened to the stream just before this frame

 private:
  bool end_ = false;
};

}  // namespace lookout
