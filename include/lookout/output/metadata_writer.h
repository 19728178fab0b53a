#pragma once
// MetadataWriter: a serial stage writing one JSON object per frame, one per line (JSON Lines), in
// frame order:
//   {"stream":0,"seq":12,"pts":0.48,"status":"ok",
//    "detections":[{"label":"person","score":1.2,"box":{"x":10,"y":20,"w":64,"h":128}}]}
// `pts` is in seconds (null if unknown). Dropped and failed frames have a line too, with their
// status ("error" for failed ones; "cause" for dropped ones: pipeline_full, too_old or stopping),
// so every seq from 0 up appears exactly once, a run of dropped frames as one line per frame.
// Each of a frame's events (Frame::events) comes on a line of its own just before the frame's:
//   {"stream":0,"event":"gap","seq":57,"start":"2026-11-26T01:02:03.456Z","duration":3.25,
//    "attempts":2,"reason":"no frame for 10 s"}
// `seq` is that of the frame after the event, `start` the wall-clock time (UTC, ms) it began,
// `duration` in seconds. Readers tell the two kinds of line apart by the "event" key.
// The file is created (truncated) by the constructor: an unwritable path is a ConfigError before
// the run starts. A write error later (disk full) is a RuntimeError from process() or finish();
// after one in process() the file ends with the last whole line written before it.
// Thread safety: thread-compatible.

#include <cstdint>
#include <fstream>
#include <string>

#include "lookout/core/stage.h"
#include "lookout/core/stream_event.h"

namespace lookout {

class MetadataWriter : public SerialStage {
 public:
  explicit MetadataWriter(std::string path);
  std::string name() const override { return "metadata"; }
  void process(Frame& frame) override;
  void finish() override;

 private:
  std::string path_;
  std::ofstream out_;
  std::uintmax_t written_ = 0;  // bytes of whole lines known to be in the file
};

// The line MetadataWriter writes for `frame`, without the newline.
// `index` picks one frame of a marker that stands for a run of dropped frames (Frame::span): the
// line is for seq frame.seq + index.
std::string metadata_line(const Frame& frame, std::int64_t index = 0);

// The line MetadataWriter writes for `event`, carried by `frame`, without the newline.
std::string event_line(const Frame& frame, const StreamEvent& event);

}  // namespace lookout
