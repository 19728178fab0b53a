#pragma once
// Test pictures with QR codes and barcodes at known places with known texts, for the `codes`
// detector: single codes rendered on white, and the frames of a generated clip in which six codes
// drift on a noisy, cluttered background.
//
// QR codes come from OpenCV's QRCodeEncoder and from zxing-cpp's MultiFormatWriter, the other
// formats from MultiFormatWriter; none is read back here, so a decoder under test cannot agree with
// itself by accident of sharing an encoder. Labels are zxing-cpp's format names ("QRCode",
// "DataMatrix", "EAN-13", "Code128", "Aztec"), as the detector reports them.
// Everything is deterministic: the same arguments give the same pixels.

#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace lookout::testing {

// A code as drawn: its format label, its text, and the box of its symbol (its black modules, not
// its quiet zone) in the picture's pixels.
struct PlacedCode {
  std::string label;
  std::string text;
  cv::Rect box;
};

// A code rendered black on white (8-bit gray) with `module` pixels per module (linear codes:
// per narrow bar, `bar_height` pixels tall) and a white quiet zone of `quiet` modules around it.
// `encoder` is "opencv" (QR codes only) or "zxing". `symbol` is the box of the black modules.
// Throws std::invalid_argument for an unknown format or encoder, or text the format cannot hold.
struct RenderedCode {
  cv::Mat image;
  cv::Rect symbol;
};
RenderedCode render_code(const std::string& label, const std::string& text, int module, int quiet,
                         const std::string& encoder = "zxing", int bar_height = 60);

// Draws `code` (a RenderedCode's image) into the BGR `canvas` with its top-left corner at
// `corner`, and returns where its symbol landed.
cv::Rect place_code(cv::Mat& canvas, const RenderedCode& code, cv::Point corner);

// The frames of the codes clip: 640x480 BGR, a shaded background with clutter (lines, circles,
// text), six codes (two QR codes, one drawn by each encoder; DataMatrix; EAN-13; Code128;
// Aztec), each drifting on its own circle of 6 to 12 px, and fresh sensor-like noise on every
// frame. The DataMatrix and Aztec codes sit away from the frame's middle lines, where a plain
// zxing-cpp search would miss them.
struct SceneFrame {
  cv::Mat image;
  std::vector<PlacedCode> codes;
};
SceneFrame code_scene_frame(int index);

inline constexpr int kSceneWidth = 640;
inline constexpr int kSceneHeight = 480;
inline constexpr int kSceneFps = 25;

// Intersection over union of two boxes; 0 when either is empty.
double iou(const cv::Rect& a, const cv::Rect& b);

}  // namespace lookout::testing
