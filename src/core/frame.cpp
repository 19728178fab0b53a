#include "lookout/core/frame.h"

namespace lookout {

const char* to_string(FrameStatus status) {
  switch (status) {
    case FrameStatus::kOk:
      return "ok";
    case FrameStatus::kDropped:
      return "dropped";
    case FrameStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* to_string(DropCause cause) {
  switch (cause) {
    case DropCause::kNone:
      return "none";
    case DropCause::kPipelineFull:
      return "pipeline_full";
    case DropCause::kTooOld:
      return "too_old";
    case DropCause::kStopping:
      return "stopping";
  }
  return "unknown";
}

const char* to_string(StreamEvent::Kind kind) {
  switch (kind) {
    case StreamEvent::Kind::kGap:
      return "gap";
  }
  return "unknown";
}

Frame Frame::end_of_stream(int stream, std::int64_t frame_count) {
  Frame frame;
  frame.stream = stream;
  frame.seq = frame_count;
  frame.end_ = true;
  frame.captured = Clock::now();
  return frame;
}

void Frame::fail(const std::string& stage, const std::string& reason) {
  if (status == FrameStatus::kFailed) return;
  status = FrameStatus::kFailed;
  error = stage + ": " + reason;
}

void Frame::drop(DropCause why) {
  status = FrameStatus::kDropped;
  drop_cause = why;
  error.clear();
  detections.clear();
  image.release();
  owner.reset();
}

}  // namespace lookout
