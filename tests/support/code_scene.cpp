#include "support/code_scene.h"

#include <cmath>
#include <stdexcept>

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace lookout::testing {
namespace {

constexpr std::uint8_t kBlack = 0;
constexpr std::uint8_t kWhite = 255;

// One module per pixel, black 0 and white 255, exactly the symbol (no quiet zone).
cv::Mat module_matrix(const std::string& label, const std::string& text,
                      const std::string& encoder) {
  if (encoder == "opencv") {
    if (label != "QRCode")
      throw std::invalid_argument("OpenCV encodes QR codes only, not " + label);
    cv::Mat matrix;
    cv::QRCodeEncoder::create()->encode(text, matrix);
    if (matrix.empty()) throw std::invalid_argument("OpenCV cannot encode '" + text + "'");
    // OpenCV adds a quiet zone; keep the symbol only.
    cv::Mat black = matrix < 128;
    return matrix(cv::boundingRect(black)).clone();
  }
  if (encoder != "zxing") throw std::invalid_argument("unknown encoder " + encoder);
  const ZXing::BarcodeFormat format = ZXing::BarcodeFormatFromString(label);
  if (format == ZXing::BarcodeFormat::None) throw std::invalid_argument("unknown format " + label);
  const ZXing::BitMatrix bits = ZXing::MultiFormatWriter(format).setMargin(0).encode(text, 0, 0);
  cv::Mat matrix(bits.height(), bits.width(), CV_8UC1);
  for (int y = 0; y < bits.height(); ++y) {
    for (int x = 0; x < bits.width(); ++x)
      matrix.at<std::uint8_t>(y, x) = bits.get(x, y) ? kBlack : kWhite;
  }
  return matrix;
}

struct SceneCode {
  std::string label;
  std::string text;
  std::string encoder;
  int module;
  int quiet;
  int bar_height;
  cv::Point corner;  // top-left of the quiet zone when the drift is zero
  int radius;        // of the drift circle, px
  double phase;      // where on its circle the code starts, radians
};

// Placed so that the DataMatrix and Aztec codes cross neither middle line of the 640x480 frame
// (x = 320, y = 240), and so that no two codes meet however they drift.
const std::vector<SceneCode>& scene_codes() {
  static const std::vector<SceneCode> codes{
      {"QRCode", "lookout QR opencv 1", "opencv", 4, 3, 0, {28, 24}, 8, 0.0},
      {"Code128", "LK-128", "zxing", 2, 10, 60, {212, 36}, 6, 1.0},
      {"Aztec", "Aztec lookout", "zxing", 4, 3, 0, {500, 28}, 10, 2.0},
      {"EAN-13", "4006381333931", "zxing", 2, 10, 70, {28, 206}, 6, 3.0},
      {"QRCode", "second QR, by zxing", "zxing", 4, 3, 0, {372, 176}, 12, 4.0},
      {"DataMatrix", "DM lookout 42", "zxing", 5, 3, 0, {36, 332}, 10, 5.0},
  };
  return codes;
}

const std::vector<RenderedCode>& rendered_scene_codes() {
  static const std::vector<RenderedCode> rendered = [] {
    std::vector<RenderedCode> result;
    for (const auto& code : scene_codes()) {
      result.push_back(render_code(code.label, code.text, code.module, code.quiet, code.encoder,
                                   code.bar_height));
    }
    return result;
  }();
  return rendered;
}

// A shaded background with clutter the codes must be told apart from: strokes, rings and text.
const cv::Mat& scene_background() {
  static const cv::Mat background = [] {
    cv::Mat image(kSceneHeight, kSceneWidth, CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
      for (int x = 0; x < image.cols; ++x) {
        image.at<cv::Vec3b>(y, x) =
            cv::Vec3b(static_cast<std::uint8_t>(90 + 60 * x / kSceneWidth),
                      static_cast<std::uint8_t>(120 + 50 * y / kSceneHeight),
                      static_cast<std::uint8_t>(140 - 30 * x / kSceneWidth));
      }
    }
    cv::line(image, {220, 150}, {330, 170}, cv::Scalar(20, 20, 20), 3, cv::LINE_AA);
    cv::line(image, {560, 200}, {620, 420}, cv::Scalar(230, 230, 230), 2, cv::LINE_AA);
    cv::circle(image, {270, 410}, 40, cv::Scalar(40, 60, 200), 4, cv::LINE_AA);
    cv::circle(image, {590, 180}, 18, cv::Scalar(30, 30, 30), -1, cv::LINE_AA);
    cv::rectangle(image, cv::Rect(400, 360, 120, 70), cv::Scalar(200, 210, 220), -1);
    cv::putText(image, "lookout 12:34", {175, 466}, cv::FONT_HERSHEY_SIMPLEX, 0.9,
                cv::Scalar(15, 15, 15), 2, cv::LINE_AA);
    cv::putText(image, "AISLE 7", {412, 405}, cv::FONT_HERSHEY_SIMPLEX, 0.8, cv::Scalar(0, 0, 0), 2,
                cv::LINE_AA);
    return image;
  }();
  return background;
}

}  // namespace

RenderedCode render_code(const std::string& label, const std::string& text, int module, int quiet,
                         const std::string& encoder, int bar_height) {
  const cv::Mat matrix = module_matrix(label, text, encoder);
  const bool linear = matrix.rows == 1;
  cv::Mat scaled;
  cv::resize(matrix, scaled,
             cv::Size(matrix.cols * module, linear ? bar_height : matrix.rows * module), 0, 0,
             cv::INTER_NEAREST);
  RenderedCode code;
  const int border = quiet * module;
  cv::copyMakeBorder(scaled, code.image, border, border, border, border, cv::BORDER_CONSTANT,
                     cv::Scalar(kWhite));
  const cv::Mat black = code.image < 128;
  code.symbol = cv::boundingRect(black);
  return code;
}

cv::Rect place_code(cv::Mat& canvas, const RenderedCode& code, cv::Point corner) {
  const cv::Rect where(corner, code.image.size());
  cv::Mat bgr;
  cv::cvtColor(code.image, bgr, cv::COLOR_GRAY2BGR);
  bgr.copyTo(canvas(where));
  return code.symbol + corner;
}

SceneFrame code_scene_frame(int index) {
  SceneFrame frame;
  frame.image = scene_background().clone();
  const auto& codes = scene_codes();
  const auto& rendered = rendered_scene_codes();
  const double turn = 2.0 * M_PI * index / 50.0;  // one circle every two seconds at 25 fps
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const SceneCode& code = codes[i];
    const cv::Point drift(static_cast<int>(std::lround(code.radius * std::cos(turn + code.phase))),
                          static_cast<int>(std::lround(code.radius * std::sin(turn + code.phase))));
    const cv::Rect box = place_code(frame.image, rendered[i], code.corner + drift);
    frame.codes.push_back({code.label, code.text, box});
  }
  // Sensor-like noise, different on every frame, over codes and background alike.
  cv::Mat noisy;
  frame.image.convertTo(noisy, CV_16SC3);
  cv::Mat noise(frame.image.size(), CV_16SC3);
  cv::RNG rng(static_cast<std::uint64_t>(1000 + index));
  rng.fill(noise, cv::RNG::NORMAL, 0, 10);
  noisy += noise;
  noisy.convertTo(frame.image, CV_8UC3);
  return frame;
}

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double united = (a | b).area();
  return united > 0 ? (a & b).area() / united : 0.0;
}

}  // namespace lookout::testing
