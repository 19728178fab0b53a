#include "lookout/output/metadata_writer.h"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>
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
  if (!detection.keypoints.empty()) {
    // Hundredths of a pixel: finer is noise, and float-to-double digits would bloat every line.
    Json points = Json::array();
    for (const auto& point : detection.keypoints) {
      points.push_back({std::round(point.x * 100.0) / 100.0, std::round(point.y * 100.0) / 100.0});
    }
    object["keypoints"] = std::move(points);
  }
  return object;
}

// A failed write worded for the user, with what to do; a full disk is said in so many words.
std::string write_failure(const std::string& path, const char* when, int error) {
  if (error == ENOSPC) {
    return fmt::format(
        "cannot write metadata '{}'{}: the disk is full ({}); free space on it or write to another "
        "disk with --metadata", path, when, std::strerror(error));
  }
  return fmt::format("cannot write metadata '{}'{}: {}; check the disk, or choose another path "
                     "with --metadata", path, when, std::strerror(error));
}

}  // namespace

std::string utc_timestamp(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis);
}

std::string event_line(const Frame& frame, const StreamEvent& event) {
  Json line;
  line["stream"] = frame.stream;
  line["event"] = to_string(event.kind);
  line["seq"] = event.seq >= 0 ? event.seq : frame.seq;
  line["start"] = utc_timestamp(event.start);
  line["duration"] = std::chrono::duration<double>(event.duration).count();
  line["attempts"] = event.attempts;
  line["reason"] = event.reason;
  return line.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string metadata_line(const Frame& frame, std::int64_t index) {
  Json line;
  line["stream"] = frame.stream;
  line["seq"] = frame.seq + index;
  // A run of drops knows the time of its first frame only.
  line["pts"] = frame.pts_ns >= 0 && index == 0 ? Json(static_cast<double>(frame.pts_ns) / 1e9)
                                                : Json(nullptr);
  line["status"] = to_string(frame.status);
  if (frame.status == FrameStatus::kFailed) line["error"] = frame.error;
  if (frame.status == FrameStatus::kDropped) line["cause"] = to_string(frame.drop_cause);
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
  // Each event goes just before the line of the frame it came with, also inside a run of drops.
  std::string lines;
  for (std::int64_t i = 0; i < frame.span; ++i) {
    for (const StreamEvent& event : frame.events) {
      const std::int64_t at = event.seq >= 0 ? event.seq : frame.seq;
      if (at == frame.seq + i) lines += event_line(frame, event) + '\n';
    }
    lines += metadata_line(frame, i) + '\n';
  }
  out_ << lines;
  out_.flush();
  if (!out_) {
    const int error = errno;
    out_.close();
    // The file keeps whole lines only: one cut off by the failed write would trip its readers.
    std::error_code ignored;
    std::filesystem::resize_file(path_, written_, ignored);
    throw RuntimeError(write_failure(path_, "", error));
  }
  written_ += lines.size();
}

void MetadataWriter::finish() {
  if (!out_.is_open()) return;
  out_.flush();
  const bool flushed = static_cast<bool>(out_);
  out_.close();
  if (!flushed || !out_) {
    throw RuntimeError(write_failure(path_, " while finishing", errno));
  }
}

}  // namespace lookout
