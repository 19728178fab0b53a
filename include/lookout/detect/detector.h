#pragma once
// Detector: finds objects in one BGR image. Implementations wrap OpenCV's detectors and
// zxing-cpp's code reader.
//
// Thread safety: thread-compatible. OpenCV detectors keep scratch state, so each pipeline worker
// owns its own instance, made by a DetectorFactory. detect() must not use OpenCV's own thread
// pool: the pipeline's workers already fill the cores (see configure_opencv_threads()).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "lookout/core/detection.h"
#include "lookout/core/options.h"

namespace lookout {

// What a detector's own search of regions found (see Detector::detect_in).
struct RegionSearch {
  std::vector<Detection> detections;  // in the pixels of the whole image
  std::int64_t pixels = 0;            // pixels searched at full resolution
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Boxes are in the pixels of `image`. Results are deterministic: the same image gives the same
  // detections in the same order. Throws cv::Exception or std::exception on failure.
  virtual std::vector<Detection> detect(const cv::Mat& image) = 0;

  // Searches only `regions` of `image` (rectangles inside it that do not overlap), for a detector
  // that can confine its own search to them; nullopt (the default) for one that cannot, and the
  // caller then runs detect() on a view of each region. HogDetector can: it scores exactly the
  // windows detect(image) would whose centre lies in a region, so a person in a region is found
  // as on the whole frame, whatever the region's size. Same determinism and errors as detect().
  virtual std::optional<RegionSearch> detect_in(const cv::Mat& /*image*/,
                                                const std::vector<cv::Rect>& /*regions*/) {
    return std::nullopt;
  }
};

using DetectorFactory = std::function<std::unique_ptr<Detector>()>;

struct DetectorSpec {
  std::string type;  // one of detector_types(): "hog", "cascade", "blazeface", "yolo", "ssd",
                     // "codes", "none" (finds nothing: the framework alone)
  Options options;   // that detector's options, plus `downscale` for every detector but none
};

// Checks the type and every option (parsing, ranges, unknown keys with the nearest suggestion,
// and loading files such as a cascade XML once) and returns a factory for per-worker instances.
// Throws ConfigError naming the type or option, where it was written, and what is accepted.
DetectorFactory make_detector_factory(DetectorSpec spec);

// The detector types make_detector_factory knows, for help text and suggestions.
std::vector<std::string> detector_types();

// Every option key `type` accepts (including `downscale`); empty for an unknown type.
std::vector<std::string> detector_option_keys(const std::string& type);

// Makes OpenCV run its own functions on the calling thread only, so that N pipeline workers use N
// cores rather than N times OpenCV's pool. Also keeps results independent of the worker count.
void configure_opencv_threads();

}  // namespace lookout
