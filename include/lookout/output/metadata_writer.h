#pragma once
// MetadataWriter: a serial stage writing one JSON object per frame, one per line (JSON Lines), in
// frame order:
//   {"stream":0,"seq":12,"pts":0.48,"status":"ok",
//    "detections":[{"label":"person","score":1.2,"box":{"x":10,"y":20,"w":64,"h":128}}]}
// `pts` is in seconds (null if unknown). Dropped and failed frames have a line too, with their
// status (and "error" for failed ones), so every seq from 0 up appears exactly once.
// The file is created (truncated) by the constructor: an unwritable path is a ConfigError before
// the run starts. A write error later (disk full) is a RuntimeError from process() or finish().
// Thread safety: thread-compatible.

#include <fstream>
#include <string>

#include "lookout/core/stage.h"

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
};

// The line MetadataWriter writes for `frame`, without the newline.
std::string metadata_line(const Frame& frame);

}  // namespace lookout
