#pragma once
// VideoWriter: a serial stage that encodes frames to a video file through GStreamer:
//   appsrc ! videoconvert ! x264enc ! h264parse ! mp4mux|matroskamux ! filesink
// The container follows the extension (.mp4, .m4v, .mov: mp4mux; .mkv: matroskamux).
// Frames keep their stream timestamps; the file has the input's size and frame rate.
//
// Lifecycle: the constructor checks the path (extension, writable folder) and starts the
// GStreamer pipeline, throwing ConfigError with the path and the fix. process() pushes the frame's
// image without copying it (the buffer holds a reference to the cv::Mat); dropped frames are
// skipped. finish() sends end-of-stream through the encoder and waits for the muxer to write the
// file's index, up to `finish_timeout`, then tears the pipeline down: the file plays even if the
// run stopped early. Errors from GStreamer name the element and the file (RuntimeError).
// Thread safety: thread-compatible.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "lookout/core/source.h"
#include "lookout/core/stage.h"

namespace lookout {

struct VideoWriterOptions {
  std::string path;
  int width = 0;
  int height = 0;
  int fps_num = 25;  // used for frames without timestamps and for the caps
  int fps_den = 1;
  std::string speed_preset = "veryfast";  // x264enc speed-preset
  int bitrate_kbps = 0;                   // 0: constant quality (x264 default quantizer)
  std::chrono::seconds finish_timeout{30};
};

class VideoWriter : public SerialStage {
 public:
  explicit VideoWriter(VideoWriterOptions options);
  ~VideoWriter() override;
  std::string name() const override { return "encode"; }
  void process(Frame& frame) override;
  void finish() override;

  std::int64_t frames_written() const { return frames_written_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t frames_written_ = 0;
};

}  // namespace lookout
