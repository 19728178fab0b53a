#pragma once
// Reads pipeline files (YAML) into a PipelineSpec, and checks a spec completely.
//
// Schema (every key optional unless said; see the README for all options):
//   input: samples/data/vtest.avi        # or  input: {uri: rtsp://...}
//   workers: 0                           # 0: one per core
//   max_in_flight: 0                     # frames between capture and outputs; 0: 4 per worker
//   max_frames: -1                       # stop after N frames
//   stages:                              # at least one
//     - detector: hog                    # hog | cascade
//       win_stride: 8x8                  # the detector's options, by the same names as --opt
//   output:
//     video: out/{stem}.annotated.mp4    # .mp4/.m4v/.mov or .mkv; omit for none
//     metadata: out/{stem}.detections.jsonl
//     annotate: true
//     speed_preset: veryfast             # x264 preset
//     bitrate: 0                         # kbps; 0: constant quality
//
// Errors: every problem found is reported at once in one ConfigError, one line each, as
// "FILE:LINE:COLUMN: what is wrong; what would fix it". Unknown keys get the nearest valid key.

#include <string>
#include <vector>

#include "lookout/pipeline/pipeline_spec.h"

namespace lookout {

// Parses `path`. Throws ConfigError if it cannot be read or is not YAML; other problems (unknown
// keys, wrong types) are kept in PipelineSpec::problems for validate_pipeline() to report.
PipelineSpec load_pipeline_file(const std::string& path);

// Parses pipeline text; `origin` names it in messages.
PipelineSpec parse_pipeline(const std::string& text, const std::string& origin);

// What validation produces: everything the run needs that had to be parsed or loaded.
struct ValidatedPipeline {
  std::vector<DetectorFactory> factories;  // one per stage, ready to make per-worker instances
  std::string speed_preset = "veryfast";
  int bitrate_kbps = 0;
};

// Checks what parsing cannot: an input is named, there is at least one stage, every detector and
// option is valid (which loads cascade files once), the encoder options are known. Throws
// ConfigError listing every problem.
ValidatedPipeline validate_pipeline(PipelineSpec spec);

}  // namespace lookout
