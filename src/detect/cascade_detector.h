#pragma once
// CascadeDetector: any object a Haar or LBP cascade XML describes (faces by default), with
// OpenCV's CascadeClassifier. Score is the number of neighbouring windows merged into the box
// (higher is surer), not a calibrated probability.
//
// Options (parsed and validated by make_detector_factory, which fills CascadeParams):
//   cascade        path of the cascade XML    default haarcascade_frontalface_default.xml
//   label          label given to every box   default "face" (set it when the cascade finds
//                                              something else, e.g. "body" for fullbody)
//   scale_factor   step between pyramid levels, > 1                       default 1.1
//   min_neighbors  windows that must overlap for a box to count (0: raw)  default 3
//   min_size       smallest object in pixels (0: the cascade's window)    default 30x30
//   max_size       largest object in pixels (0: no limit)                  default 0
//   equalize       equalise the gray histogram before detecting           default true
// Thread safety: thread-compatible; each instance loads its own classifier, so workers share
// nothing.

#include <string>
#include <vector>

#include <opencv2/objdetect.hpp>

#include "lookout/detect/detector.h"

namespace lookout {

inline constexpr const char* kDefaultCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

struct CascadeParams {
  std::string cascade = kDefaultCascade;
  std::string label = "face";
  double scale_factor = 1.1;
  int min_neighbors = 3;
  cv::Size min_size{30, 30};
  cv::Size max_size{0, 0};
  bool equalize = true;
};

class CascadeDetector : public Detector {
 public:
  // Loads params.cascade; throws ConfigError if it cannot be loaded. make_detector_factory has
  // already loaded it once, so this fails only if the file changed since.
  explicit CascadeDetector(const CascadeParams& params);

  // Accepts 8-bit gray, BGR or BGRA images. Detections are sorted by (y, x, width, height).
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  CascadeParams params_;
  cv::CascadeClassifier classifier_;
  cv::Mat gray_;  // scratch, reused between frames
};

// True if `path` loads as a Haar or LBP cascade. Never throws.
bool cascade_loads(const std::string& path);

}  // namespace lookout
