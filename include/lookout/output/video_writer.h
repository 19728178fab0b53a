#pragma once
// VideoWriter: a serial stage that encodes frames to a video file through GStreamer:
//   appsrc ! videoconvert ! x264enc ! h264parse ! mp4mux|matroskamux ! filesink
// The container follows the extension (.mp4, .m4v, .mov: mp4mux; .mkv: matroskamux).
// Frames keep their stream timestamps; the file has the input's size and frame rate.
//
// What survives a crash (SIGKILL, power loss): the file sink writes every buffer the muxer
// produces at once, without its own buffering, so the disk holds all the muxer has written.
//   - .mkv: matroskamux closes a cluster about every second; a killed file plays up to its last
//     written cluster (it lacks only the index and duration, which players rebuild).
//   - .mp4 with fragment_ms > 0: a fragmented mp4 (a moof+mdat every fragment_ms); a killed file
//     plays up to its last complete fragment.
//   - .mp4 with fragment_ms = 0 (the default): the index (moov) is written by finish(); a killed
//     file does not play.
// With segment_seconds > 0 the stream goes to consecutive files through splitmuxsink, each one a
// complete file of about that length (cut at a keyframe; keyframes come at least once a segment),
// named by segment_path(): out/x.mp4 -> out/x.00000.mp4, out/x.00001.mp4, ... A file at the
// plain path is not written. Each finished segment is finalised as the next one starts, so a crash
// costs at most the segment being written (and for .mkv only its unwritten cluster).
//
// Lifecycle: the constructor checks the path (extension, writable folder) and the options above
// (ranges, combinations) and starts the GStreamer pipeline, throwing ConfigError with the path,
// the option, its value and what is accepted. process() pushes the frame's image without copying
// it (the buffer holds a reference to the cv::Mat); dropped frames are skipped. finish() sends
// end-of-stream through the encoder and waits for the muxer to write the file's index (with
// segments: to finalise the last one), up to `finish_timeout`, then tears the pipeline down: the
// file plays even if the run stopped early. Errors from GStreamer name the element and the file
// (RuntimeError); a full disk is said in so many words, with what to do.
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
  // 0: an ordinary mp4. 1..kMaxFragmentMs: a fragmented mp4 with a fragment about every so many
  // milliseconds. Only for mp4mux extensions, and not together with segment_seconds (each segment
  // is already finalised on its own; use .mkv for segments that also survive a kill).
  int fragment_ms = 0;
  // 0: one file. 1..kMaxSegmentSeconds: consecutive files of about this many seconds.
  int segment_seconds = 0;
};

inline constexpr int kMaxFragmentMs = 60'000;
inline constexpr int kMaxSegmentSeconds = 86'400;

// The file of segment `index` (from 0) for output `path`: the extension is kept and a five-digit
// index goes before it (out/x.mp4, 2 -> out/x.00002.mp4; a path without a folder stays without).
std::string segment_path(const std::string& path, int index);

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
