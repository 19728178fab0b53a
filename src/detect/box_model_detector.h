#pragma once
// BoxModelDetector: the user's own object detectors exported to ONNX, with OpenCV's DNN module on
// the CPU. Two families, each with its output layouts:
//
//   yolo  input 1 x 3 x H x W, RGB scaled to 0..1; frames letterboxed on gray (114).
//         v5: one output 1 x N x (5+C): cx, cy, w, h, objectness, C class scores;
//             score = objectness x best class score.
//         v8: one output 1 x (4+C) x N: cx, cy, w, h, C class scores (no objectness);
//             score = best class score.
//         Box values are in network input pixels. `layout: auto` tells them apart by shape (with
//         a labels file, by C; otherwise v5 when N > 5+C, as in every real export).
//   ssd   input 1 x 3 x H x W, (pixel - mean) x scale, RGB unless rgb: false; frames letterboxed
//         on the mean colour (0 once normalised).
//         detection_output: one output 1 x 1 x N x 7 (OpenCV's DetectionOutput):
//             image_id, class, score, x1, y1, x2, y2, corners normalised to 0..1 of the input;
//             rows with image_id < 0 are padding.
//         boxes_scores: two outputs, boxes 1 x N x 4 (x1, y1, x2, y2 normalised to 0..1) and
//             scores 1 x N x C; class 0 is the background and never reported; a box's class is
//             its best other class. If both have 4 columns, the output whose name contains "box"
//             (else the first) is the boxes. Outputs without the batch dimension (N x 7, N x 4,
//             N x C) are accepted too, as some SSD exports drop it.
//
// Every family: boxes below score_threshold are dropped, then class-wise non-maximum suppression
// (cv::dnn::NMSBoxes, per class) removes boxes overlapping a better one of the same class by more
// than nms_threshold; boxes are mapped back to frame pixels and sorted by position. Labels come
// from the labels file (line i names class i, from 0) or are the class numbers.
//
// The model is loaded and run once on a blank input while validating, so that a file that is not
// ONNX, does not run at input_size, or has outputs of another layout is a ConfigError before
// anything starts; the message names the file, the layout expected and the shapes found.
// Thread safety: thread-compatible; each instance owns its own cv::dnn::Net.

#include <memory>
#include <opencv2/dnn.hpp>
#include <set>
#include <string>
#include <vector>

#include "dnn_support.h"
#include "lookout/core/options.h"
#include "lookout/detect/detector.h"

namespace lookout {

enum class BoxLayout { kYoloV5, kYoloV8, kSsdDetectionOutput, kSsdBoxesScores };

struct BoxModelParams {
  std::shared_ptr<const ModelBytes> bytes;
  BoxLayout layout = BoxLayout::kYoloV5;
  std::vector<std::string> outputs;  // output names, in decoding order (boxes before scores)
  cv::Size input_size{640, 640};
  std::vector<std::string> labels;  // empty: class numbers
  std::set<int> keep;               // class ids to report; empty: all
  float score_threshold = 0.25F;
  float nms_threshold = 0.45F;
  double mean = 0.0;           // subtracted from every channel, then
  double scale = 1.0 / 255.0;  // multiplied
  bool rgb = true;             // channel order the network takes
};

class BoxModelDetector : public Detector {
 public:
  explicit BoxModelDetector(BoxModelParams params);

  // Accepts 8-bit BGR, BGRA or gray images. Detections are sorted by position.
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  std::vector<Candidate> decode() const;

  BoxModelParams params_;
  cv::dnn::Net net_;
  cv::Mat bgr_;    // scratch: gray or BGRA converted
  cv::Mat boxed_;  // scratch: the letterboxed frame
  cv::Mat blob_;   // scratch: the network input
  std::vector<cv::Mat> outputs_;
};

// Parse and validate the options of `yolo` and `ssd`, load and check the model once; ConfigError
// on any problem.
BoxModelParams parse_yolo(Options& options);
BoxModelParams parse_ssd(Options& options);

// Every option key each accepts, without `downscale`.
std::vector<std::string> yolo_option_keys();
std::vector<std::string> ssd_option_keys();

}  // namespace lookout
