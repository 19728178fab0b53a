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

}  // namespace lookout
