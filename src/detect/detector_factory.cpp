#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>

#include "blazeface_detector.h"
#include "box_model_detector.h"
#include "cascade_detector.h"
#include "codes_detector.h"
#include "downscaled_detector.h"
#include "hog_detector.h"
#include "lookout/core/error.h"
#include "lookout/detect/detector.h"

namespace lookout {
namespace {

constexpr const char* kHog = "hog";
constexpr const char* kCascade = "cascade";
constexpr const char* kBlazeFace = "blazeface";
constexpr const char* kYolo = "yolo";
constexpr const char* kSsd = "ssd";
constexpr const char* kCodes = "codes";
constexpr const char* kNone = "none";
constexpr const char* kDownscale = "downscale";

// `none`: finds nothing and costs nothing, so a run measures the framework alone (decode, queues,
// reorder, outputs) or just records and re-encodes its input.
class NoDetector : public Detector {
 public:
  std::vector<Detection> detect(const cv::Mat&) override { return {}; }
};

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : ", ") + word;
  return text;
}

std::string prefix(const Options& options) {
  return options.context().empty() ? std::string() : options.context() + ": ";
}

HogParams parse_hog(Options& options) {
  HogParams params;
  params.win_stride =
      options.get_size("win_stride", params.win_stride, HogDetector::kBlockStride, 512);
  if (params.win_stride.width % HogDetector::kBlockStride != 0 ||
      params.win_stride.height % HogDetector::kBlockStride != 0) {
    options.reject("win_stride",
           "a multiple of the HOG block stride " + std::to_string(HogDetector::kBlockStride) +
               " (e.g. 8x8 or 16x16)");
  }
  params.padding = options.get_size("padding", params.padding, 0, 256);
  params.scale = options.get_double("scale", params.scale, 1.0, 2.0);
  // A scale of exactly 1 would never shrink the image, so the pyramid would not end.
  if (params.scale <= 1.0) options.reject("scale", "a number greater than 1 and at most 2");
  params.hit_threshold = options.get_double("hit_threshold", params.hit_threshold, -10.0, 10.0);
  params.group_threshold = options.get_int("group_threshold", params.group_threshold, 0, 100);
  return params;
}

CascadeParams parse_cascade(Options& options) {
  CascadeParams params;
  params.cascade = options.get_string("cascade", params.cascade);
  params.label = options.get_string("label", params.label);
  if (params.label.empty()) options.reject("label", "a non-empty label such as 'face'");
  params.scale_factor = options.get_double("scale_factor", params.scale_factor, 1.0, 4.0);
  if (params.scale_factor <= 1.0) {
    options.reject("scale_factor", "a number greater than 1 and at most 4");
  }
  params.min_neighbors = options.get_int("min_neighbors", params.min_neighbors, 0, 1000);
  params.min_size = options.get_size("min_size", params.min_size, 0, 16384);
  params.max_size = options.get_size("max_size", params.max_size, 0, 16384);
  if (params.max_size.area() > 0 && (params.max_size.width < params.min_size.width ||
                                     params.max_size.height < params.min_size.height)) {
    options.reject("max_size",
           "0 (no limit) or a size at least min_size (" + std::to_string(params.min_size.width) +
               "x" + std::to_string(params.min_size.height) + ")");
  }
  params.equalize = options.get_bool("equalize", params.equalize);

  // Loading once here turns a bad path into a start-up error instead of a failure in every worker.
  std::error_code error;
  if (!std::filesystem::exists(params.cascade, error)) {
    throw ConfigError(prefix(options) + "cascade '" + params.cascade +
                      "' does not exist; set option 'cascade' to a Haar or LBP cascade XML, such "
                      "as those in /usr/share/opencv4/haarcascades or "
                      "/usr/share/opencv4/lbpcascades");
  }
  if (!cascade_loads(params.cascade)) {
    throw ConfigError(prefix(options) + "cascade '" + params.cascade +
                      "' is not a valid Haar or LBP cascade XML; set option 'cascade' to a "
                      "cascade file OpenCV made, such as those in "
                      "/usr/share/opencv4/haarcascades or /usr/share/opencv4/lbpcascades");
  }
  return params;
}

CodesParams parse_codes(Options& options) {
  CodesParams params;
  std::vector<std::string> accepted{"all", "linear", "matrix"};
  for (const auto& name : code_format_names()) accepted.push_back(name);
  const std::string valid = "; valid: " + join(accepted);
  if (options.has("formats")) {
    std::string list = options.get_string("formats", "");
    // Lists arrive joined with commas; '|' is accepted too, as zxing-cpp's own tools write it.
    std::replace(list.begin(), list.end(), '|', ',');
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t end = std::min(list.find(',', start), list.size());
      std::string name = list.substr(start, end - start);
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      start = end + 1;
      if (name.empty()) continue;
      if (const auto formats = code_formats_from_name(name)) {
        params.formats |= *formats;
        continue;
      }
      std::string why = "'" + name + "' is not a code format";
      if (names_maxicode(name)) {
        why = "'" + name + "' cannot be read from video: zxing-cpp 1.4 reads MaxiCode only from "
              "images that hold nothing but the code";
      } else if (const auto suggestion = nearest(name, accepted)) {
        why += " (did you mean '" + *suggestion + "'?)";
      }
      options.reject("formats", "code format names separated by commas; " + why + valid);
    }
    if (params.formats.empty()) options.reject("formats", "at least one code format" + valid);
  }
  params.try_harder = options.get_bool("try_harder", params.try_harder);
  params.try_rotate = options.get_bool("try_rotate", params.try_rotate);
  params.try_downscale = options.get_bool("try_downscale", params.try_downscale);
  if (options.has("binarizer")) {
    const auto binarizer = code_binarizer_from_name(options.get_string("binarizer", ""));
    if (!binarizer) options.reject("binarizer", "one of " + join(code_binarizer_names()));
    params.binarizer = *binarizer;
  }
  params.max_codes = options.get_int("max_codes", params.max_codes, 0, kMaxCodes);
  params.patches = options.get_int("patches", params.patches, 0, kMaxPatches);
  return params;
}

}  // namespace

std::vector<std::string> detector_types() {
  return {kHog, kCascade, kBlazeFace, kYolo, kSsd, kCodes, kNone};
}

std::vector<std::string> detector_option_keys(const std::string& type) {
  if (type == kHog) {
    return {"win_stride", "padding", "scale", "hit_threshold", "group_threshold", kDownscale};
  }
  if (type == kCascade) {
    return {"cascade",  "label",    "scale_factor", "min_neighbors",
            "min_size", "max_size", "equalize",     kDownscale};
  }
  std::vector<std::string> keys;
  if (type == kCodes) {
    keys = {"formats", "try_harder", "try_rotate", "try_downscale", "binarizer", "max_codes",
            "patches"};
  }
  if (type == kBlazeFace) keys = blazeface_option_keys();
  if (type == kYolo) keys = yolo_option_keys();
  if (type == kSsd) keys = ssd_option_keys();
  if (!keys.empty()) keys.emplace_back(kDownscale);
  return keys;
}

void configure_opencv_threads() {
  // The pipeline already runs one detector per worker on every core. OpenCV's pool inside each
  // worker would multiply the threads by the core count and make them fight over the same cores,
  // and HOG's per-scale parallel collection would let thread timing reorder raw results. 0 means
  // OpenCV runs its functions on the calling thread.
  cv::setNumThreads(0);
}

DetectorFactory make_detector_factory(DetectorSpec spec) {
  Options& options = spec.options;
  const auto types = detector_types();
  if (std::find(types.begin(), types.end(), spec.type) == types.end()) {
    std::string message = prefix(options) + "unknown detector '" + spec.type + "'";
    if (const auto suggestion = nearest(spec.type, types)) {
      message += "; did you mean '" + *suggestion + "'?";
    }
    throw ConfigError(message + " (known: " + join(types) + ")");
  }

  // Unknown keys first: a misspelt key (say 'modle') explains a failure that follows from its
  // absence (the default model missing) better than that failure does. Asking for every known key
  // marks it used without parsing it; the parsers below check the values.
  const auto known_keys = detector_option_keys(spec.type);
  for (const auto& key : known_keys) options.get_string(key, "");
  options.check_all_used(known_keys);

  const double downscale = options.get_double(kDownscale, 1.0, 0.0, 1.0);
  if (downscale <= 0.0) options.reject(kDownscale, "a number greater than 0 and at most 1");

  DetectorFactory make;
  if (spec.type == kNone) {
    return []() -> std::unique_ptr<Detector> { return std::make_unique<NoDetector>(); };
  }
  if (spec.type == kHog) {
    const HogParams params = parse_hog(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<HogDetector>(params);
    };
  } else if (spec.type == kCascade) {
    const CascadeParams params = parse_cascade(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<CascadeDetector>(params);
    };
  } else if (spec.type == kBlazeFace) {
    // Each instance builds its own network from the model bytes read once here.
    const BlazeFaceParams params = parse_blazeface(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<BlazeFaceDetector>(params);
    };
  } else if (spec.type == kCodes) {
    const CodesParams params = parse_codes(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<CodesDetector>(params);
    };
  } else {
    const BoxModelParams params = spec.type == kYolo ? parse_yolo(options) : parse_ssd(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<BoxModelDetector>(params);
    };
  }

  if (downscale >= 1.0) return make;
  return [make, downscale]() -> std::unique_ptr<Detector> {
    return std::make_unique<DownscaledDetector>(make(), downscale);
  };
}

}  // namespace lookout
