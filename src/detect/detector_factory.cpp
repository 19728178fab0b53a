#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>

#include "cascade_detector.h"
#include "downscaled_detector.h"
#include "hog_detector.h"
#include "lookout/core/error.h"
#include "lookout/detect/detector.h"

namespace lookout {
namespace {

constexpr const char* kHog = "hog";
constexpr const char* kCascade = "cascade";
constexpr const char* kDownscale = "downscale";

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
                      "' is not a valid Haar or LBP cascade XML");
  }
  return params;
}

}  // namespace

std::vector<std::string> detector_types() { return {kHog, kCascade}; }

std::vector<std::string> detector_option_keys(const std::string& type) {
  if (type == kHog) {
    return {"win_stride", "padding", "scale", "hit_threshold", "group_threshold", kDownscale};
  }
  if (type == kCascade) {
    return {"cascade",  "label",    "scale_factor", "min_neighbors",
            "min_size", "max_size", "equalize",     kDownscale};
  }
  return {};
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
  if (spec.type != kHog && spec.type != kCascade) {
    std::string message = prefix(options) + "unknown detector '" + spec.type + "'";
    if (const auto suggestion = nearest(spec.type, types)) {
      message += "; did you mean '" + *suggestion + "'?";
    }
    throw ConfigError(message + " (known: " + join(types) + ")");
  }

  const double downscale = options.get_double(kDownscale, 1.0, 0.0, 1.0);
  if (downscale <= 0.0) options.reject(kDownscale, "a number greater than 0 and at most 1");

  DetectorFactory make;
  if (spec.type == kHog) {
    const HogParams params = parse_hog(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<HogDetector>(params);
    };
  } else {
    const CascadeParams params = parse_cascade(options);
    make = [params]() -> std::unique_ptr<Detector> {
      return std::make_unique<CascadeDetector>(params);
    };
  }
  options.check_all_used(detector_option_keys(spec.type));

  if (downscale >= 1.0) return make;
  return [make, downscale]() -> std::unique_ptr<Detector> {
    return std::make_unique<DownscaledDetector>(make(), downscale);
  };
}

}  // namespace lookout
