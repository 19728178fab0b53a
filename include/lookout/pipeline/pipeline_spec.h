#pragma once
// PipelineSpec: everything one run needs, as read from a pipeline file and the command line,
// before anything is opened. Paths are kept as written; relative paths are taken from the
// current directory. In output paths, "{stem}" stands for the input's file name without its
// extension (out/{stem}.annotated.mp4 -> out/vtest.annotated.mp4).

#include <cstddef>
#include <string>
#include <vector>

#include "lookout/core/options.h"
#include "lookout/detect/detector.h"

namespace lookout {

struct PipelineSpec {
  std::string origin;  // the pipeline file, or "command line"

  std::string input;        // a path or URI
  Options input_options{"input"};  // transport, latency, width, height, fps, realtime,
                                   // stall_timeout (s), reconnect_attempts
  std::size_t workers = 0;  // 0: one per core
  std::size_t max_in_flight = 0;  // 0: four per worker, at least 8
  std::int64_t max_frames = -1;   // stop after this many frames; -1: the whole input
  // What the entrance does when the pipeline is full: oldest, newest, block, or auto (block for
  // files, oldest for live inputs). Checked by validate_pipeline().
  std::string drop_policy = "auto";
  int max_age_ms = 0;  // drop frames older than this when a worker takes them up; 0: no limit
  double duration_seconds = 0;  // stop capture after this long, then drain; 0: no limit

  // Detector stages, run in this order on every frame by every worker.
  std::vector<DetectorSpec> stages;

  std::string video_output;     // empty: no video
  std::string metadata_output;  // empty: no metadata
  bool annotate = true;         // draw detections on the video
  Options video_options{"output"};  // speed_preset, bitrate (kbps), fragment_ms, segment_seconds
  // Live outputs, annotated like the video: an RTSP restream (port 0: none) and a window.
  int restream_port = 0;  // serve rtsp://restream_address:PORT/lookout
  std::string restream_address = "127.0.0.1";
  bool display = false;

  // Problems found while reading the file, kept so that validate_pipeline() can report them
  // together with the ones it finds itself.
  std::vector<std::string> problems;
};

// The defaults for a run given only on the command line.
inline constexpr const char* kDefaultVideoOutput = "out/{stem}.annotated.mp4";
inline constexpr const char* kDefaultMetadataOutput = "out/{stem}.detections.jsonl";

// Replaces "{stem}" in `path` with the stem of `input` (a path or URI).
std::string expand_output_path(const std::string& path, const std::string& input);

// The number of workers to start: `requested`, or one per core when it is 0.
std::size_t resolve_workers(std::size_t requested);

}  // namespace lookout
