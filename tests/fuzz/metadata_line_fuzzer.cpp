// Fuzz target: metadata lines. The input is decoded into a Frame field by field (stream, seq, pts,
// status with its error or drop cause, a run of drops, detections with boxes, labels, scores,
// track ids, decoded text and keypoints, and gap events); labels, text, errors and reasons are
// arbitrary bytes (invalid UTF-8, control characters, quotes), scores and keypoints arbitrary bit
// patterns (NaN, infinities, denormals). The frame then goes through metadata_line(),
// event_line() and a MetadataWriter, and what they wrote is read back.
//
// What must hold for any frame:
//   - every line is one line: no raw control character, so no newline inside it;
//   - every line parses back as a JSON object whose keys come in the documented order;
//   - seq, stream, status, cause, pts, and for every detection its box and track id, read back
//     exactly; there are as many detections as were put in, each with as many keypoints; a score
//     reads back exactly when it is finite and as null when it is not (JSON has no NaN);
//   - labels, text, errors and reasons read back exactly when they are valid UTF-8 (invalid
//     bytes are replaced, by design);
//   - an event line has the frame's seq (or its own, inside a run of drops), a UTC start time of
//     the documented form, and its attempts and duration;
//   - MetadataWriter writes exactly these lines, one per seq of the run, each preceded by the
//     lines of the events that came with it.
//
// The decoded frame stays within Frame's contract: seq is not negative and a run of drops does
// not run past the largest seq; a gap starts after 1970 (system_clock, as captured).

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lookout/core/error.h"
#include "lookout/core/frame.h"
#include "lookout/output/metadata_writer.h"

namespace lookout {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::int64_t kMaxSpan = 6;
constexpr int kMaxDetections = 8;
constexpr int kMaxKeypoints = 6;
constexpr int kMaxEvents = 3;
constexpr std::size_t kMaxText = 48;

std::string describe(const Frame& frame) {
  return "seq " + std::to_string(frame.seq) + ", span " + std::to_string(frame.span) + ", status " +
         to_string(frame.status) + ", " + std::to_string(frame.detections.size()) +
         " detections, " + std::to_string(frame.events.size()) + " events";
}

[[noreturn]] void fail(const std::string& what, const Frame& frame, const std::string& line) {
  std::fprintf(stderr, "metadata_line_fuzzer: %s\n  frame: %s\n  line: %s\n", what.c_str(),
               describe(frame).c_str(), line.c_str());
  std::abort();
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if (byte >= 0xC2 && byte <= 0xDF) {
      extra = 1;
      code = byte & 0x1Fu;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      extra = 2;
      code = byte & 0x0Fu;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      extra = 3;
      code = byte & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0u) != 0x80u) return false;
      code = (code << 6) | (next & 0x3Fu);
    }
    if ((extra == 2 && code < 0x800) || (extra == 3 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

double double_from_bits(std::uint64_t bits) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float float_from_bits(std::uint32_t bits) {
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

Frame decode_frame(FuzzedDataProvider& input) {
  Frame frame;
  frame.stream = input.ConsumeIntegral<int>();
  frame.status = static_cast<FrameStatus>(input.ConsumeIntegralInRange<int>(0, 2));
  if (frame.status == FrameStatus::kDropped) {
    frame.span = input.ConsumeIntegralInRange<std::int64_t>(1, kMaxSpan);
    frame.drop_cause = static_cast<DropCause>(input.ConsumeIntegralInRange<int>(0, 3));
  }
  frame.seq = input.ConsumeIntegralInRange<std::int64_t>(
      0, std::numeric_limits<std::int64_t>::max() - (frame.span - 1));
  frame.pts_ns = input.ConsumeIntegral<std::int64_t>();
  if (frame.status == FrameStatus::kFailed) frame.error = input.ConsumeRandomLengthString(kMaxText);

  const int detections = input.ConsumeIntegralInRange<int>(0, kMaxDetections);
  for (int d = 0; d < detections; ++d) {
    Detection detection;
    detection.box = cv::Rect(input.ConsumeIntegral<int>(), input.ConsumeIntegral<int>(),
                             input.ConsumeIntegral<int>(), input.ConsumeIntegral<int>());
    detection.label = input.ConsumeRandomLengthString(kMaxText);
    detection.score = double_from_bits(input.ConsumeIntegral<std::uint64_t>());
    if (input.ConsumeBool()) detection.track_id = input.ConsumeIntegral<std::int64_t>();
    if (input.ConsumeBool()) detection.text = input.ConsumeRandomLengthString(kMaxText);
    const int keypoints = input.ConsumeIntegralInRange<int>(0, kMaxKeypoints);
    for (int k = 0; k < keypoints; ++k) {
      detection.keypoints.emplace_back(float_from_bits(input.ConsumeIntegral<std::uint32_t>()),
                                       float_from_bits(input.ConsumeIntegral<std::uint32_t>()));
    }
    detection.stage = input.ConsumeRandomLengthString(kMaxText);
    frame.detections.push_back(std::move(detection));
  }

  const int events = input.ConsumeIntegralInRange<int>(0, kMaxEvents);
  for (int e = 0; e < events; ++e) {
    StreamEvent event;
    const std::chrono::nanoseconds since_epoch(
        input.ConsumeIntegralInRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max()));
    event.start = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
    event.duration = std::chrono::nanoseconds(input.ConsumeIntegral<std::int64_t>());
    event.attempts = input.ConsumeIntegral<int>();
    event.reason = input.ConsumeRandomLengthString(kMaxText);
    if (input.ConsumeBool())
      event.seq = frame.seq + input.ConsumeIntegralInRange<std::int64_t>(0, frame.span - 1);
    frame.events.push_back(std::move(event));
  }
  return frame;
}

// One line of JSON: no raw control character (JSON escapes them all), so no newline either.
Json parse_line(const std::string& line, const Frame& frame) {
  for (const char c : line) {
    if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in a line", frame, line);
  }
  Json parsed = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) fail("the line is not JSON", frame, line);
  if (!parsed.is_object()) fail("the line is not a JSON object", frame, line);
  return parsed;
}

void expect_keys(const Json& object, const std::vector<std::string>& keys, const Frame& frame,
                 const std::string& line) {
  std::vector<std::string> found;
  for (const auto& item : object.items()) found.push_back(item.key());
  if (found != keys) fail("keys missing, extra or out of the documented order", frame, line);
}

void expect_text(const Json& value, const std::string& written, const char* what,
                 const Frame& frame, const std::string& line) {
  if (!value.is_string()) fail(std::string(what) + " is not a string", frame, line);
  if (valid_utf8(written) && value.get<std::string>() != written) {
    fail(std::string(what) + " does not read back", frame, line);
  }
}

void check_detection(const Json& object, const Detection& detection, const Frame& frame,
                     const std::string& line) {
  if (!object.is_object()) fail("a detection is not an object", frame, line);
  std::vector<std::string> keys{"label", "score", "box"};
  if (detection.track_id) keys.emplace_back("track_id");
  if (detection.text) keys.emplace_back("text");
  if (!detection.keypoints.empty()) keys.emplace_back("keypoints");
  expect_keys(object, keys, frame, line);

  expect_text(object["label"], detection.label, "label", frame, line);
  const Json& score = object["score"];
  if (std::isfinite(detection.score)) {
    if (!score.is_number() || score.get<double>() != detection.score) {
      fail("a finite score does not read back", frame, line);
    }
  } else if (!score.is_null()) {
    fail("a score that is not finite is not null", frame, line);
  }
  const Json& box = object["box"];
  if (!box.is_object() || box.size() != 4 || box.value("x", 0) != detection.box.x ||
      box.value("y", 0) != detection.box.y || box.value("w", 0) != detection.box.width ||
      box.value("h", 0) != detection.box.height || !box["x"].is_number_integer() ||
      !box["y"].is_number_integer() || !box["w"].is_number_integer() ||
      !box["h"].is_number_integer()) {
    fail("a box does not read back", frame, line);
  }
  if (detection.track_id && (!object["track_id"].is_number_integer() ||
                             object["track_id"].get<std::int64_t>() != *detection.track_id)) {
    fail("a track id does not read back", frame, line);
  }
  if (detection.text) expect_text(object["text"], *detection.text, "text", frame, line);
  if (!detection.keypoints.empty()) {
    const Json& points = object["keypoints"];
    if (!points.is_array() || points.size() != detection.keypoints.size()) {
      fail("the keypoints do not read back", frame, line);
    }
    for (const Json& point : points) {
      if (!point.is_array() || point.size() != 2) fail("a keypoint is not a pair", frame, line);
      for (const Json& coordinate : point) {
        if (!coordinate.is_number() && !coordinate.is_null()) {
          fail("a keypoint coordinate is neither a number nor null", frame, line);
        }
      }
    }
  }
}

void check_frame_line(const std::string& line, const Frame& frame, std::int64_t index) {
  const Json parsed = parse_line(line, frame);
  std::vector<std::string> keys{"stream", "seq", "pts", "status"};
  if (frame.status == FrameStatus::kFailed) keys.emplace_back("error");
  if (frame.status == FrameStatus::kDropped) keys.emplace_back("cause");
  keys.emplace_back("detections");
  expect_keys(parsed, keys, frame, line);

  if (!parsed["stream"].is_number_integer() || parsed["stream"].get<int>() != frame.stream) {
    fail("stream does not read back", frame, line);
  }
  if (!parsed["seq"].is_number_integer() ||
      parsed["seq"].get<std::int64_t>() != frame.seq + index) {
    fail("seq does not read back", frame, line);
  }
  const Json& pts = parsed["pts"];
  if (frame.pts_ns >= 0 && index == 0) {
    if (!pts.is_number() || pts.get<double>() != static_cast<double>(frame.pts_ns) / 1e9) {
      fail("pts does not read back", frame, line);
    }
  } else if (!pts.is_null()) {
    fail("pts is not null where it is unknown", frame, line);
  }
  if (parsed["status"] != to_string(frame.status)) fail("status does not read back", frame, line);
  if (frame.status == FrameStatus::kFailed)
    expect_text(parsed["error"], frame.error, "error", frame, line);
  if (frame.status == FrameStatus::kDropped && parsed["cause"] != to_string(frame.drop_cause)) {
    fail("cause does not read back", frame, line);
  }
  const Json& detections = parsed["detections"];
  if (!detections.is_array() || detections.size() != frame.detections.size()) {
    fail("the number of detections does not read back", frame, line);
  }
  for (std::size_t d = 0; d < frame.detections.size(); ++d) {
    check_detection(detections[d], frame.detections[d], frame, line);
  }
}

bool is_utc_time(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(text[i]))
                        : text[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

void check_event_line(const std::string& line, const Frame& frame, const StreamEvent& event) {
  const Json parsed = parse_line(line, frame);
  expect_keys(parsed, {"stream", "event", "seq", "start", "duration", "attempts", "reason"}, frame,
              line);
  if (parsed["stream"] != frame.stream) fail("an event's stream does not read back", frame, line);
  if (parsed["event"] != "gap") fail("an event is not a gap", frame, line);
  const std::int64_t seq = event.seq >= 0 ? event.seq : frame.seq;
  if (!parsed["seq"].is_number_integer() || parsed["seq"].get<std::int64_t>() != seq) {
    fail("an event's seq does not read back", frame, line);
  }
  if (!parsed["start"].is_string() || !is_utc_time(parsed["start"].get<std::string>())) {
    fail("an event's start is not a UTC time YYYY-MM-DDTHH:MM:SS.mmmZ", frame, line);
  }
  const double duration = std::chrono::duration<double>(event.duration).count();
  if (!parsed["duration"].is_number() || parsed["duration"].get<double>() != duration) {
    fail("an event's duration does not read back", frame, line);
  }
  if (parsed["attempts"] != event.attempts)
    fail("an event's attempts do not read back", frame, line);
  expect_text(parsed["reason"], event.reason, "reason", frame, line);
}

// A file of this process's own, removed after each input (libFuzzer may end the process without
// running exit handlers). In memory (/dev/shm) where there is one: on a disk, truncating and
// rewriting a file thousands of times a second makes the file system flush it each time, which
// would take most of the run.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string folder = dir && *dir ? dir : "/tmp";
    if (::access("/dev/shm", W_OK) == 0) folder = "/dev/shm";
    std::string made = folder + "/lookout-metadata-fuzz-" + std::to_string(::getpid()) + ".jsonl";
    return made;
  }();
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace
}  // namespace lookout

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lookout;
  FuzzedDataProvider input(data, size);
  Frame frame = decode_frame(input);

  std::string expected;
  for (std::int64_t i = 0; i < frame.span; ++i) {
    for (const StreamEvent& event : frame.events) {
      if ((event.seq >= 0 ? event.seq : frame.seq) != frame.seq + i) continue;
      const std::string line = event_line(frame, event);
      check_event_line(line, frame, event);
      expected += line + '\n';
    }
    const std::string line = metadata_line(frame, i);
    check_frame_line(line, frame, i);
    expected += line + '\n';
  }

  try {
    MetadataWriter writer(scratch_path());
    writer.process(frame);
    writer.finish();
  } catch (const std::exception& error) {
    fail(std::string("MetadataWriter threw: ") + error.what(), frame, "");
  }
  // To see what a reproducer decodes to: LOOKOUT_FUZZ_PRINT=1 metadata_line_fuzzer FILE.
  static const bool print = std::getenv("LOOKOUT_FUZZ_PRINT") != nullptr;
  if (print) std::fputs(expected.c_str(), stdout);
  const std::string written = read_file(scratch_path());
  std::remove(scratch_path().c_str());
  if (written != expected) fail("MetadataWriter wrote other lines than expected", frame, written);
  return 0;
}
