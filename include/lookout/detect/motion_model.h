#pragma once
// MotionModel: finds what moves, by background subtraction (OpenCV's MOG2 or KNN), and reports
// each moving region as a Detection labelled "motion" (box in input pixels; score: the fraction
// of the box's pixels that moved).
//
// Unlike a Detector it is stateful: each frame updates the background model, so it must see the
// frames of one stream in order, on one thread (the pipeline runs it in capture order, before the
// workers). It works on a downscaled copy of the frame (`downscale`, a quarter by default), which
// is both faster and steadier: noise smaller than a few pixels disappears. The copy is sampled
// (bilinear), not averaged: averaging reads every input pixel and cost more than the model itself,
// and the blur that follows smooths what sampling leaves.
//
// Steps per frame: downscale; blur; update the model and take its foreground mask (shadows, which
// MOG2 and KNN mark grey, are not motion); clear the ignore polygons; dilate to join the parts of
// one mover; each connected region at least `min_area` input pixels large becomes a detection.
// For the first `warmup` frames the model only learns (a fresh model sees everything as new).
// Thread safety: thread-compatible; one instance per stream.

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "lookout/core/detection.h"
#include "lookout/core/options.h"

namespace cv {
class BackgroundSubtractor;
}

namespace lookout {

struct MotionParams {
  enum class Method { kMog2, kKnn };
  Method method = Method::kMog2;
  int history = 500;            // frames the background model remembers
  double threshold = -1;        // MOG2 variance threshold (16) or KNN squared distance (400); -1: default
  double learning_rate = -1;    // 0..1; -1: from the history
  bool shadows = true;          // tell shadows apart (and ignore them) rather than call them motion
  double downscale = 0.25;      // work on a frame this fraction of the input's size
  int blur = 3;                 // Gaussian kernel (odd, in downscaled pixels); 0: none
  int dilate = 1;               // dilation iterations (3x3) joining the parts of one mover
  int min_area = 400;           // in input pixels
  int warmup = 10;              // frames that only teach the model
  std::vector<std::vector<cv::Point>> ignore;  // polygons in input pixels where motion is ignored
};

// Reads and checks the motion options (see the README); throws ConfigError like the detectors do.
MotionParams parse_motion_params(Options& options);

// The option keys the motion stage accepts, for suggestions.
std::vector<std::string> motion_option_keys();

class MotionModel {
 public:
  explicit MotionModel(MotionParams params);
  ~MotionModel();
  MotionModel(const MotionModel&) = delete;
  MotionModel& operator=(const MotionModel&) = delete;

  // Updates the model with `image` (BGR) and returns the moving regions, sorted by position.
  std::vector<Detection> apply(const cv::Mat& image);

 private:
  MotionParams params_;
  cv::Ptr<cv::BackgroundSubtractor> model_;
  long long frames_ = 0;
  cv::Size work_size_;
  cv::Mat small_, mask_, ignore_mask_;
};

}  // namespace lookout
