#pragma once
// BlazeFaceDetector: MediaPipe's BlazeFace face detector, as ONNX, with OpenCV's DNN module on the
// CPU. Label "face"; score = the model's probability (sigmoid of its logit), 0..1; optionally the
// six keypoints (right eye, left eye, nose tip, mouth centre, right ear, left ear; "right" is the
// person's right) in Detection::keypoints.
//
// The model takes one RGB image, 1 x S x S x 3 (NHWC), scaled to -1..1, and returns for 896 SSD
// anchors a logit (two outputs: 512 and 384 anchors) and 16 regressors (box centre and size, six
// keypoints) relative to its anchor. Two models are known:
//   front  S = 128, anchor layers of stride 8, 16, 16, 16   (faces near the camera)
//   back   S = 256, anchor layers of stride 16, 32, 32, 32  (smaller, more distant faces)
// Anchors follow MediaPipe's SSD scheme with a fixed anchor size: two anchors per layer per cell,
// centred on the cell (offset 0.5); layers of one stride share a grid. Overlapping faces are
// merged by weighted non-maximum suppression (box and keypoints averaged, weighted by score).
//
// Frames of any size are letterboxed into S x S (scaled to fit, centred, padded with black), and
// boxes and keypoints are mapped back to the frame's pixels.
//
// Options (make_blazeface_factory parses and validates them):
//   model            front | back | path of an .onnx file           default back
//   score_threshold  minimum probability, 0..1                      default 0.5
//   nms_threshold    overlap (IoU) above which faces are merged      default 0.3
//   keypoints        report the six keypoints                        default false
// Thread safety: thread-compatible; each instance owns its own cv::dnn::Net.

#include <memory>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "dnn_support.h"
#include "lookout/core/options.h"
#include "lookout/detect/detector.h"

namespace lookout {

// Where the front and back models are looked for: $LOOKOUT_MODELS_DIR if set, else the models/data
// folder of the source tree lookout was built from (where models/fetch puts them).
std::string models_dir();

// One anchor in normalised network coordinates (0..1). Fixed anchor size: width = height = 1.
struct Anchor {
  float x = 0.0F;
  float y = 0.0F;
};

// MediaPipe's SSD anchors for a square input of `size` and layers of `strides`, in the order the
// model's outputs list them: grids of finer stride first, then row by row, column by column, and
// two anchors per layer within a cell.
std::vector<Anchor> blazeface_anchors(int size, const std::vector<int>& strides);

// A face before non-maximum suppression, in network pixels.
struct FaceCandidate {
  cv::Rect2f box;
  float score = 0.0F;
  std::vector<cv::Point2f> keypoints;
};

// MediaPipe's weighted non-maximum suppression: takes the best remaining face, merges every
// remaining face that overlaps it by more than `threshold` (IoU, including itself) into one
// whose box and keypoints are their score-weighted mean and whose score is the best one's, and
// repeats. Equal scores keep their input order, so the result is deterministic.
std::vector<FaceCandidate> weighted_nms(std::vector<FaceCandidate> faces, float threshold);

// A validated model: its network input size, anchors and which output is which.
struct BlazeFaceModel {
  std::shared_ptr<const ModelBytes> bytes;
  int size = 0;
  std::vector<Anchor> anchors;
  // Output names in the order: scores of the first grid, scores of the second, regressors of the
  // first, regressors of the second.
  std::vector<std::string> outputs;
};

struct BlazeFaceParams {
  BlazeFaceModel model;
  float score_threshold = 0.5F;
  float nms_threshold = 0.3F;
  bool keypoints = false;
};

class BlazeFaceDetector : public Detector {
 public:
  explicit BlazeFaceDetector(BlazeFaceParams params);

  // Accepts 8-bit BGR, BGRA or gray images. Detections are sorted by position.
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  BlazeFaceParams params_;
  cv::dnn::Net net_;
  cv::Mat bgr_;    // scratch: gray or BGRA converted
  cv::Mat boxed_;  // scratch: the letterboxed frame
  cv::Mat rgb_;    // scratch
  cv::Mat input_;  // scratch: S x S x 3 floats, the network input's memory
  std::vector<cv::Mat> outputs_;
};

// Parses and validates the blazeface options, loads the model once (ConfigError if it is missing,
// does not load or does not have BlazeFace's outputs) and returns the parameters for instances.
BlazeFaceParams parse_blazeface(Options& options);

// Every option key blazeface accepts, without `downscale`.
std::vector<std::string> blazeface_option_keys();

}  // namespace lookout
