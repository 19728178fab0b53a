#pragma once
// Pieces shared by the neural detectors (blazeface, yolo, ssd), which run ONNX models with
// OpenCV's DNN module on the CPU:
//   - ModelBytes: an ONNX file read once at validation; every worker builds its own cv::dnn::Net
//     from the same immutable bytes, so a file changed mid-run cannot give workers different
//     models;
//   - Letterbox: fitting a frame into the network's input without stretching, and mapping points
//     and boxes back to the frame's pixels exactly;
//   - label files, output shape text for messages, class-wise non-maximum suppression.
// Failure reporting: functions that read files or load models throw ConfigError naming the file and
// what to do; the rest do not throw except on programming errors.
// Thread safety: everything here is either a value or immutable after construction.

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "lookout/core/detection.h"

namespace lookout {

// An ONNX model's file contents, loaded once and shared read-only between workers.
class ModelBytes {
 public:
  // Reads `path`. Throws ConfigError naming `path` if it does not exist or cannot be read;
  // `missing_hint` (e.g. "run models/fetch") is appended to the message for a missing file.
  ModelBytes(std::string path, const std::string& what, const std::string& missing_hint);

  const std::string& path() const { return path_; }
  const std::string& what() const { return what_; }  // the detector type, for messages

  // A new network from the bytes. Throws ConfigError naming the file if OpenCV cannot parse it.
  // The network runs on OpenCV's own CPU backend.
  cv::dnn::Net load() const;

 private:
  std::string path_;
  std::string what_;
  std::shared_ptr<const std::vector<uchar>> bytes_;
};

// Silences OpenCV's own log while it lives, so that a model that fails validation yields one
// message (the ConfigError) rather than OpenCV's internal trace as well. The log level is
// process-wide: use it only while validating, before any worker runs.
class QuietOpenCvLog {
 public:
  QuietOpenCvLog();
  ~QuietOpenCvLog();
  QuietOpenCvLog(const QuietOpenCvLog&) = delete;
  QuietOpenCvLog& operator=(const QuietOpenCvLog&) = delete;

 private:
  int previous_;
};

// The shapes of a network's outputs for messages: "scores 1x512x1, boxes 1x512x16".
std::string describe_outputs(const std::vector<std::string>& names,
                             const std::vector<cv::Mat>& outputs);
std::string shape_text(const cv::Mat& mat);

// Runs `net` once on `input` and returns every output, in the order of
// getUnconnectedOutLayersNames(), which is also stored in `names`. Throws ConfigError naming the
// model's file and `input_text` (the input's shape in words), followed by `hint` (what to try), if
// OpenCV fails. Call under QuietOpenCvLog.
std::vector<cv::Mat> probe_forward(cv::dnn::Net& net, const cv::Mat& input, const ModelBytes& model,
                                   const std::string& input_text, const std::string& hint,
                                   std::vector<std::string>& names);

// How a frame of one size is fitted into a network input of another: scaled by the same factor
// on both axes to fit (up or down), centred, and padded.
struct Letterbox {
  cv::Size frame;    // the frame's size
  cv::Size network;  // the network input's size
  cv::Size resized;  // the frame's size once scaled, at most `network`
  cv::Point offset;  // where the scaled frame's top-left corner lies in the network input

  static Letterbox fit(cv::Size frame, cv::Size network);

  // Writes into `out` (network size, the type of `frame`) the scaled frame on a `pad` background.
  // Shrinks with area averaging, enlarges bilinearly.
  void apply(const cv::Mat& frame_image, cv::Mat& out, const cv::Scalar& pad) const;

  // Network pixels to frame pixels: undoes the offset, then scales by frame / resized on each axis
  // (the scaled size is rounded, so this is the exact inverse of the resize).
  cv::Point2f to_frame(cv::Point2f point) const;
  // A box given by corners in network pixels, in frame pixels: corners mapped and rounded, then
  // clipped to the frame. Empty if nothing of it lies in the frame.
  cv::Rect to_frame(const cv::Rect2f& box) const;
  // The same mapping in double precision.
  cv::Point2d to_frame_exact(cv::Point2d point) const;
};

// Converts gray or BGRA to BGR; a BGR image is returned as is (no copy).
cv::Mat as_bgr(const cv::Mat& image, cv::Mat& scratch);

// Reads a label file: one class a line, line i (from 0) naming class i; trailing whitespace and
// trailing empty lines are dropped. Throws ConfigError naming the file if it cannot be read or
// holds no label.
std::vector<std::string> read_labels(const std::string& path, const std::string& context);

// A box a decoder found, in network pixels, before non-maximum suppression.
struct Candidate {
  cv::Rect2f box;
  int class_id = 0;
  float score = 0.0F;
};

// Keeps, within each class, the highest-scoring boxes that overlap no kept box by more than
// `nms_threshold` (intersection over union), with cv::dnn::NMSBoxes. Returns the indices kept,
// ordered by class, then by descending score.
std::vector<int> class_wise_nms(const std::vector<Candidate>& candidates, float nms_threshold);

}  // namespace lookout
