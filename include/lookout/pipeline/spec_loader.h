#pragma once
// Reads pipeline files (YAML) into a PipelineSpec, and checks a spec completely.
//
// Schema (every key optional unless said; see the README for all options):
//   input: samples/data/vtest.avi        # or a mapping:
//   input: {uri: rtsp://..., transport: tcp, latency: 200}   # transport tcp|udp|auto; latency ms
//   input: {uri: test:ball, width: 320, height: 240, fps: 15} # test: and /dev/videoN only
//   input: {uri: clip.mp4, realtime: true}                   # replay a file at its own rate
//   input: {uri: rtsp://..., stall_timeout: 10, reconnect_attempts: -1}  # s; -1 forever, 0 never
//   input: {uri: clip.mp4, decoder_threads: 1}  # threads a libav decoder may use; 0: one per core
//   workers: 0                           # 0: one per core
//   max_in_flight: 0                     # frames between capture and outputs; 0: 4 per worker
//   max_frames: -1                       # stop after N frames
//   drop_policy: auto                    # when full: oldest|newest|block; auto: block for files,
//                                        # oldest for live inputs
//   max_age_ms: 0                        # drop frames older than this at the workers; 0: off
//   stages:                              # at least one; run in this order on every frame
//     - detector: motion                 # motion (first, runs in capture order) | hog | cascade
//       downscale: 0.5                   #   | blazeface | yolo | ssd | codes | none
//     - detector: hog
//       win_stride: 8x8                  # the detector's options, by the same names as --opt
//       name: people                     # how later stages refer to it (default: its type)
//       regions: motion                  # search only inside an earlier stage's boxes...
//       when: motion                     # ...or only on frames where it found something
//       every: 1                         # only frames whose seq is a multiple of this
//       region_padding: 0.2              # with regions: grow each box by this fraction a side
//       region_min_size: 0x0             # with regions: and to at least this size
//   output:
//     video: out/{stem}.annotated.mp4    # .mp4/.m4v/.mov or .mkv; omit for none
//     metadata: out/{stem}.detections.jsonl
//     annotate: true
//     speed_preset: veryfast             # x264 preset
//     bitrate: 0                         # kbps; 0: constant quality
//     fragment_ms: 0                     # mp4 only; > 0: fragmented mp4 that survives a kill
//     segment_seconds: 0                 # > 0: consecutive files out/x.00000.mp4, out/x.00001.mp4...
//     restream: 8554                     # or {port: 8554, address: 0.0.0.0}; omit for none
//     display: false                     # show the frames in a window
//
// Errors: every problem found is reported at once in one ConfigError, one line each, as
// "FILE:LINE:COLUMN: what is wrong; what would fix it". Unknown keys get the nearest valid key.

#include <string>
#include <vector>

#include <optional>

#include "lookout/capture/gst_source.h"
#include "lookout/core/pipeline.h"
#include "lookout/detect/motion_model.h"
#include "lookout/pipeline/detector_chain.h"
#include "lookout/pipeline/pipeline_spec.h"

namespace lookout {

// Parses `path`. Throws ConfigError if it cannot be read or is not YAML; other problems (unknown
// keys, wrong types) are kept in PipelineSpec::problems for validate_pipeline() to report.
PipelineSpec load_pipeline_file(const std::string& path);

// Parses pipeline text; `origin` names it in messages.
PipelineSpec parse_pipeline(const std::string& text, const std::string& origin);

struct MotionStageSpec {
  std::string name;
  MotionParams params;
};

// What validation produces: everything the run needs that had to be parsed or loaded.
struct ValidatedPipeline {
  // The motion stages, run in capture order before the workers, then the detector stages, each
  // with a factory ready to make per-worker instances.
  std::vector<MotionStageSpec> capture_stages;
  std::vector<ChainStage> stages;
  std::string speed_preset = "veryfast";
  int bitrate_kbps = 0;
  int fragment_ms = 0;      // see VideoWriterOptions
  int segment_seconds = 0;  // see VideoWriterOptions
  SourceOptions source;  // the input and its options; open_timeout and max_buffers as defaulted
  std::optional<DropPolicy> drop_policy;  // empty: decided by whether the input is live
};

// Checks what parsing cannot: an input is named and its options are valid, there is at least one
// stage, every detector and option is valid (which loads cascade files once), the encoder options
// are known. Throws
// ConfigError listing every problem.
ValidatedPipeline validate_pipeline(PipelineSpec spec);

}  // namespace lookout
