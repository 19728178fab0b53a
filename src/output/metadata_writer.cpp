#include "lookout/output/metadata_writer.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {
// Ordered so that every line lists its keys in the documented order, which keeps the file easy to
// read and to diff between runs.
using Json = nlohmann::ordered_json;

Json to_json(const Detection& detection) {
  Json object;
  object["label"] = detection.label;
  object["score"] = detection.score;
  object["box"] = {{"x", detection.box.x},
                   {"y", detection.box.y},
                   {"w", detection.box.width},
                   {"h", detection.box.height}};
  if (detection.track_id) object["track_id"] = *detection.track_id;
  if (detection.text) object["text"] = *detection.text;
  return object;
}
}  // namespace

std::string metadata_line(const Frame& frame) {
  Json line;
  line["stream"] = frame.stream;
  line["seq"] = frame.seq;
  line["pts"] = frame.pts_ns >= 0 ? Json(static_cast<double>(frame.pts_ns) / 1e9) : Json(nullptr);
  line["status"] = to_string(frame.status);
  if (frame.status == FrameStatus::kFailed) line["error"] = frame.error;
  Json detections = Json::array();
  for (const Detection& detection : frame.detections) detections.push_back(to_json(detection));
  line["detections"] = std::move(detections);
  // Replacing invalid UTF-8 (a decoded code's raw bytes) keeps one bad payload from failing the
  // whole run.
  return line.dump(-1, ' ', false, Json::error_handler_t::replace);
}

MetadataWriter::MetadataWriter(std::string path) : path_(std::move(path)) {
  out_.open(path_, std::ios::out | std::ios::trunc);
  if (!out_) {
    throw ConfigError(
        fmt::format("cannot write metadata '{}': {}; choose a writable path with --metadata", path_,
                    std::strerror(errno)));
  }
}

void MetadataWriter::process(Frame& frame) {
  if (frame.is_end()) return;
  if (!out_.is_open()) throw RuntimeError(fmt::format("metadata '{}' is already finished", path_));
  // Flushed per line so the file can be followed while the run goes on, and so a full disk is
  // reported at the frame where it happened.
  out_ << metadata_line(frame) << '\n' << std::flush;
  if (!out_) {
    throw RuntimeError(fmt::format("cannot write metadata '{}': {}", path_, std::strerror(errno)));
  }
}

void MetadataWriter::finish() {
  if (!out_.is_open()) return;
  out_.flush();
  const bool flushed = static_cast<bool>(out_);
  out_.close();
  if (!flushed || !out_) {
    throw RuntimeError(fmt::format("cannot finish metadata '{}': {}", path_, std::strerror(errno)));
  }
}

}  // namespace lookout
