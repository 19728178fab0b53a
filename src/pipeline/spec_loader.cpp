#include "lookout/pipeline/spec_loader.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "lookout/core/error.h"
#include "lookout/output/video_writer.h"

namespace lookout {
namespace {

const std::vector<std::string> kTopKeys{"input",       "workers",    "max_in_flight", "max_frames",
                                        "drop_policy", "max_age_ms", "duration",      "stages", "output"};
const std::vector<std::string> kInputKeys{"uri",  "transport", "latency",       "width",
                                          "height", "fps",     "realtime", "stall_timeout",
                                          "reconnect_attempts", "decoder_threads"};
const std::vector<std::string> kTransports{"auto", "tcp", "udp"};
const std::vector<std::string> kSpeedPresets{"ultrafast", "superfast", "veryfast", "faster", "fast",
                                              "medium", "slow", "slower", "veryslow"};
const std::vector<std::string> kOutputKeys{"video",   "metadata",    "annotate",        "speed_preset",
                                           "bitrate", "fragment_ms", "segment_seconds", "restream",
                                           "display"};
const std::vector<std::string> kRestreamKeys{"port", "address"};

// Collects every problem in a file so that one run of `lookout validate` shows them all.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  std::string where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) return origin_;
    return fmt::format("{}:{}:{}", origin_, mark.line + 1, mark.column + 1);
  }

  void error(const YAML::Node& node, const std::string& message) {
    errors_.push_back(where(node) + ": " + message);
  }

  void unknown_key(const YAML::Node& key, const std::string& section, const std::vector<std::string>& known) {
    std::string message = fmt::format("unknown key '{}' in {}", key.Scalar(), section);
    // A list, mapping or null as a key has no name to show or to suggest a name for.
    if (!key.IsScalar() || key.Scalar().empty()) {
      message =
          fmt::format("a key in {} must be a name, not a list, mapping or empty value", section);
    }
    if (auto suggestion = nearest(key.Scalar(), known); suggestion && !key.Scalar().empty()) {
      message += fmt::format("; did you mean '{}'?", *suggestion);
    } else {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      message += "; valid keys: " + list;
    }
    error(key, message);
  }

  std::optional<std::string> scalar(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      error(node, fmt::format("'{}' must be a single value", what));
      return std::nullopt;
    }
    return node.Scalar();
  }

  // A scalar, or a list of scalars joined with commas ("[8, 8]" -> "8,8"), as Options takes them.
  std::optional<std::string> option_text(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsSequence()) {
      std::string joined;
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          error(item, fmt::format("option '{}' must be a value or a list of values", key));
          return std::nullopt;
        }
        joined += (joined.empty() ? "" : ",") + item.Scalar();
      }
      return joined;
    }
    error(node, fmt::format("option '{}' must be a value or a list of values", key));
    return std::nullopt;
  }

  template <typename T>
  std::optional<T> integer(const YAML::Node& node, const std::string& key, T min, T max) {
    long long value = 0;
    const auto low = static_cast<long long>(min);
    const auto high = static_cast<long long>(max);
    if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value) || value < low || value > high) {
      error(node, fmt::format("'{}' must be a whole number from {} to {}, not '{}'", key, min, max,
                              node.IsScalar() ? node.Scalar() : std::string("a list or mapping")));
      return std::nullopt;
    }
    return static_cast<T>(value);
  }

  std::optional<bool> boolean(const YAML::Node& node, const std::string& key) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      error(node, fmt::format("'{}' must be true or false", key));
      return std::nullopt;
    }
    return value;
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string origin_;
  std::vector<std::string> errors_;
};

void read_input(Reader& reader, const YAML::Node& node, PipelineSpec& spec) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key == "uri") {
        if (auto value = reader.scalar(entry.second, "input.uri")) spec.input = *value;
      } else if (std::find(kInputKeys.begin(), kInputKeys.end(), key) != kInputKeys.end()) {
        if (auto value = reader.scalar(entry.second, "input." + key)) {
          spec.input_options.set(key, *value, reader.where(entry.second));
        }
      } else {
        reader.unknown_key(entry.first, "input", kInputKeys);
      }
    }
  } else if (auto value = reader.scalar(node, "input")) {
    spec.input = *value;
  }
}

void read_stages(Reader& reader, const YAML::Node& node, PipelineSpec& spec) {
  if (!node.IsSequence()) {
    reader.error(node, "'stages' must be a list, each item a mapping such as {detector: hog}");
    return;
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    ++index;
    if (!item.IsMap()) {
      reader.error(item, fmt::format("stage {} must be a mapping such as {{detector: hog}}", index));
      continue;
    }
    const YAML::Node type = item["detector"];
    if (!type) {
      reader.error(item, fmt::format("stage {} has no 'detector' key; add one, e.g. detector: hog (or cascade, motion, codes, blazeface...)", index));
      continue;
    }
    DetectorSpec stage;
    if (auto value = reader.scalar(type, "detector")) stage.type = *value;
    stage.options = Options(fmt::format("stage {} ({})", index, stage.type));
    for (const auto& entry : item) {
      const std::string key = entry.first.Scalar();
      if (key == "detector") continue;
      if (!entry.first.IsScalar() || key.empty()) {
        reader.error(entry.first, fmt::format("stage {}: an option name must be a word such as "
                                              "'scale', not a list, mapping or empty value", index));
        continue;
      }
      if (auto value = reader.option_text(entry.second, key)) {
        stage.options.set(key, *value, reader.where(entry.second));
      }
    }
    spec.stages.push_back(std::move(stage));
  }
}

// restream: 8554, or restream: {port: 8554, address: 0.0.0.0}
void read_restream(Reader& reader, const YAML::Node& node, PipelineSpec& spec) {
  if (node.IsScalar()) {
    if (auto port = reader.integer<int>(node, "output.restream", 1, 65535)) spec.restream_port = *port;
    return;
  }
  if (!node.IsMap()) {
    reader.error(node, "'output.restream' must be a port (restream: 8554) or a mapping such as "
                       "{port: 8554, address: 0.0.0.0}");
    return;
  }
  bool has_port = false;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (key == "port") {
      has_port = true;
      if (auto port = reader.integer<int>(entry.second, "output.restream.port", 1, 65535)) spec.restream_port = *port;
    } else if (key == "address") {
      if (auto text = reader.scalar(entry.second, "output.restream.address")) spec.restream_address = *text;
    } else {
      reader.unknown_key(entry.first, "output.restream", kRestreamKeys);
    }
  }
  if (!has_port) reader.error(node, "'output.restream' needs a port, e.g. {port: 8554, address: 127.0.0.1}");
}

void read_output(Reader& reader, const YAML::Node& node, PipelineSpec& spec) {
  if (!node.IsMap()) {
    reader.error(node, "'output' must be a mapping with keys video, metadata, annotate, speed_preset, bitrate, "
                       "fragment_ms, segment_seconds, restream, display");
    return;
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "video") {
      if (auto text = reader.scalar(value, "output.video")) spec.video_output = *text;
    } else if (key == "metadata") {
      if (auto text = reader.scalar(value, "output.metadata")) spec.metadata_output = *text;
    } else if (key == "annotate") {
      if (auto flag = reader.boolean(value, "output.annotate")) spec.annotate = *flag;
    } else if (key == "restream") {
      read_restream(reader, value, spec);
    } else if (key == "display") {
      if (auto flag = reader.boolean(value, "output.display")) spec.display = *flag;
    } else if (key == "speed_preset" || key == "bitrate" || key == "fragment_ms" || key == "segment_seconds") {
      if (auto text = reader.scalar(value, "output." + key)) spec.video_options.set(key, *text, reader.where(value));
    } else {
      reader.unknown_key(entry.first, "output", kOutputKeys);
    }
  }
}

}  // namespace

PipelineSpec parse_pipeline(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own words for this are "bad file".
    throw ConfigError(fmt::format("{}:{}:{}: not valid for a pipeline file: lists or mappings "
                                  "nested {} or more levels deep; a pipeline file needs only a "
                                  "few levels (see pipelines/people.yaml)",
                                  origin, e.mark.line + 1, e.mark.column + 1, e.depth()));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}:{}: not valid YAML: {}", origin, e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
  if (!root.IsMap()) {
    throw ConfigError(origin + ": a pipeline file is a mapping with the keys input, workers, "
                      "max_in_flight, max_frames, stages and output; see pipelines/people.yaml");
  }

  PipelineSpec spec;
  spec.origin = origin;
  Reader reader(origin);
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "input") {
      read_input(reader, value, spec);
    } else if (key == "workers") {
      if (auto n = reader.integer<std::size_t>(value, key, 0, 256)) spec.workers = *n;
    } else if (key == "max_in_flight") {
      if (auto n = reader.integer<std::size_t>(value, key, 0, 4096)) spec.max_in_flight = *n;
    } else if (key == "max_frames") {
      if (auto n = reader.integer<std::int64_t>(value, key, -1, std::int64_t{1} << 40)) spec.max_frames = *n;
    } else if (key == "drop_policy") {
      if (auto policy = reader.scalar(value, key)) spec.drop_policy = *policy;
    } else if (key == "duration") {
      if (auto written = reader.scalar(value, key)) {
        double seconds = -1;
        if (!YAML::convert<double>::decode(value, seconds) || !(seconds >= 0) || seconds > 1e9) {
          reader.error(value, fmt::format("'duration' must be a number of seconds (0: no limit), not '{}'", *written));
        } else {
          spec.duration_seconds = seconds;
        }
      }
    } else if (key == "max_age_ms") {
      if (auto n = reader.integer<int>(value, key, 0, 3'600'000)) spec.max_age_ms = *n;
    } else if (key == "stages") {
      read_stages(reader, value, spec);
    } else if (key == "output") {
      read_output(reader, value, spec);
    } else {
      reader.unknown_key(entry.first, "the pipeline", kTopKeys);
    }
  }
  spec.problems = reader.errors();
  return spec;
}

PipelineSpec load_pipeline_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw ConfigError(fmt::format("cannot read pipeline file '{}'; check the path (ready ones are in pipelines/)", path));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return parse_pipeline(text.str(), path);
}

namespace {

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "(none)" : text;
}

// Splits each stage into its chain settings (name, gating) and its detector's own options, and
// checks that gating refers to an earlier stage and that motion comes first.
void validate_stages(const PipelineSpec& spec, ValidatedPipeline& validated,
                     std::vector<std::string>& errors) {
  std::vector<std::string> names;
  bool detector_seen = false;
  for (const auto& written : spec.stages) {
    DetectorSpec stage = written;
    Options chain_options = stage.options.split(chain_option_keys());
    try {
      ChainStage chained = parse_chain_stage(chain_options, stage.type);
      const std::string where = stage.options.context();
      if (std::find(names.begin(), names.end(), chained.name) != names.end()) {
        throw ConfigError(fmt::format("{}: the name '{}' is taken by an earlier stage; give this one "
                                      "another with 'name:'", where, chained.name));
      }
      for (const std::string* ref : {&chained.regions, &chained.when}) {
        if (ref->empty() || std::find(names.begin(), names.end(), *ref) != names.end()) continue;
        throw ConfigError(fmt::format("{}: '{}' is not an earlier stage; a stage can use the boxes "
                                      "of the stages before it: {}", where, *ref, join_names(names)));
      }
      const std::string name = chained.name;
      if (stage.type == "motion") {
        if (detector_seen) {
          throw ConfigError(fmt::format("{}: motion runs in capture order, before the detectors; "
                                        "move it above them", where));
        }
        if (!chained.regions.empty() || !chained.when.empty() || chained.every != 1) {
          throw ConfigError(fmt::format("{}: motion sees every frame (its model must); leave out "
                                        "regions, when and every", where));
        }
        MotionParams params = parse_motion_params(stage.options);
        stage.options.check_all_used(motion_option_keys());
        validated.capture_stages.push_back({chained.name, std::move(params)});
      } else {
        detector_seen = true;
        chained.factory = make_detector_factory(stage);
        validated.stages.push_back(std::move(chained));
      }
      names.push_back(name);
    } catch (const ConfigError& e) {
      errors.push_back(e.what());
    }
  }
}

}  // namespace

ValidatedPipeline validate_pipeline(PipelineSpec spec) {
  std::vector<std::string> errors = spec.problems;
  ValidatedPipeline validated;
  if (spec.input.empty()) {
    errors.push_back(spec.origin + ": no input; name one with --input or 'input:' in the pipeline file");
  }
  if (spec.stages.empty()) {
    errors.push_back(spec.origin + ": no stages; add one with --detector hog or a 'stages:' list");
  }
  if (spec.drop_policy == "oldest") {
    validated.drop_policy = DropPolicy::kDropOldest;
  } else if (spec.drop_policy == "newest") {
    validated.drop_policy = DropPolicy::kDropNewest;
  } else if (spec.drop_policy == "block") {
    validated.drop_policy = DropPolicy::kBlock;
  } else if (spec.drop_policy != "auto") {
    errors.push_back(fmt::format("{}: drop_policy '{}' is not known; use oldest, newest, block or auto",
                                 spec.origin, spec.drop_policy));
  }
  try {
    Options& input = spec.input_options;
    SourceOptions& source = validated.source;
    source.input = spec.input;
    const std::string transport = input.get_string("transport", "auto");
    if (std::find(kTransports.begin(), kTransports.end(), transport) == kTransports.end()) {
      input.reject("transport", "tcp, udp or auto");
    }
    source.transport = transport == "tcp"   ? RtspTransport::kTcp
                       : transport == "udp" ? RtspTransport::kUdp
                                            : RtspTransport::kAuto;
    source.latency_ms = input.get_int("latency", source.latency_ms, 0, 60'000);
    source.width = input.get_int("width", 0, 0, 16384);
    source.height = input.get_int("height", 0, 0, 16384);
    source.fps = input.get_int("fps", 0, 0, 1000);
    source.realtime = input.get_bool("realtime", false);
    source.decoder_threads = input.get_int("decoder_threads", source.decoder_threads, 0, 64);
    const double stall_seconds = input.get_double(
        "stall_timeout", std::chrono::duration<double>(source.stall_timeout).count(), 0.1, 3600);
    source.stall_timeout = std::chrono::milliseconds(std::llround(stall_seconds * 1000));
    source.reconnect_attempts = input.get_int("reconnect_attempts", source.reconnect_attempts, -1,
                                              1'000'000);
    input.check_all_used(kInputKeys);
  } catch (const ConfigError& e) {
    errors.push_back(e.what());
  }
  validate_stages(spec, validated, errors);
  try {
    Options& video = spec.video_options;
    validated.speed_preset = video.get_string("speed_preset", validated.speed_preset);
    if (std::find(kSpeedPresets.begin(), kSpeedPresets.end(), validated.speed_preset) == kSpeedPresets.end()) {
      std::string list;
      for (const auto& preset : kSpeedPresets) list += (list.empty() ? "" : ", ") + preset;
      throw ConfigError(fmt::format("output: speed_preset '{}' is not an x264 preset; use one of {}",
                                    validated.speed_preset, list));
    }
    validated.bitrate_kbps = video.get_int("bitrate", 0, 0, 1'000'000);
    validated.fragment_ms = video.get_int("fragment_ms", 0, 0, kMaxFragmentMs);
    validated.segment_seconds = video.get_int("segment_seconds", 0, 0, kMaxSegmentSeconds);
    // Each segment is finalised as the next begins, so fragmenting them would add nothing.
    if (validated.fragment_ms > 0 && validated.segment_seconds > 0) {
      video.reject("fragment_ms", "0 when segment_seconds is set (segments are finalised one by one; for segments "
                                  "that also survive a kill, write .mkv)");
    }
    video.check_all_used({"speed_preset", "bitrate", "fragment_ms", "segment_seconds"});
  } catch (const ConfigError& e) {
    errors.push_back(e.what());
  }
  if (!errors.empty()) {
    std::string message;
    for (const auto& error : errors) message += (message.empty() ? "" : "\n") + error;
    throw ConfigError(message);
  }
  return validated;
}

}  // namespace lookout
