#include "lookout/annotate/annotator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>

namespace lookout {
namespace {

// Distinct, saturated BGR colours that stay readable under white text on a filled background.
// Twelve entries keep the common labels (person, face, car, body, eye, head) apart.
constexpr std::array<std::array<std::uint8_t, 3>, 12> kPalette{{
    {{56, 56, 255}},   // red
    {{49, 210, 207}},  // yellow
    {{255, 112, 31}},  // blue
    {{61, 219, 134}},  // green
    {{187, 57, 255}},  // pink
    {{255, 194, 0}},   // cyan
    {{0, 149, 255}},   // orange
    {{168, 153, 44}},  // teal
    {{199, 55, 146}},  // purple
    {{52, 147, 26}},   // dark green
    {{19, 69, 139}},   // brown
    {{255, 0, 255}},   // magenta
}};

const cv::Scalar kOverlayBackground(32, 32, 32);
const cv::Scalar kFailedBackground(0, 0, 200);
const cv::Scalar kText(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// FNV-1a rather than std::hash: std::hash may differ between library builds, and a label must
// keep its colour across runs and machines.
std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t hash = 2166136261u;
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

cv::Scalar colour_for(const std::string& label) {
  const auto& c = kPalette[fnv1a(label) % kPalette.size()];
  return cv::Scalar(c[0], c[1], c[2]);
}

// Line and text sizes follow the image so annotations read the same at 320x240 and at 4K.
struct Style {
  int thickness;
  double font_scale;
  int text_thickness;
  int margin;
};

Style style_for(const cv::Mat& image) {
  const double reference = std::min(image.cols, image.rows);
  Style style{};
  style.thickness = std::max(1, static_cast<int>(std::lround(reference / 360.0)));
  style.font_scale = std::max(0.35, reference / 1000.0);
  style.text_thickness = std::max(1, static_cast<int>(std::lround(reference / 600.0)));
  style.margin = std::max(2, style.thickness * 2);
  return style;
}

// Draws `text` on a filled box whose top-left corner is as near `corner` as the image allows, so
// the text is never cut off at an edge (unless it is wider than the image itself).
void draw_label(cv::Mat& image, const std::string& text, cv::Point corner,
                const cv::Scalar& background, const Style& style) {
  int baseline = 0;
  const cv::Size size =
      cv::getTextSize(text, kFont, style.font_scale, style.text_thickness, &baseline);
  const int box_w = size.width + 2 * style.margin;
  const int box_h = size.height + baseline + 2 * style.margin;
  corner.x = std::max(0, std::min(corner.x, image.cols - box_w));
  corner.y = std::max(0, std::min(corner.y, image.rows - box_h));
  cv::rectangle(image, cv::Rect(corner.x, corner.y, box_w, box_h), background, cv::FILLED);
  const cv::Point origin(corner.x + style.margin, corner.y + style.margin + size.height);
  cv::putText(image, text, origin, kFont, style.font_scale, kText, style.text_thickness,
              cv::LINE_AA);
}

int label_height(const Style& style) {
  int baseline = 0;
  const cv::Size size =
      cv::getTextSize("Ag", kFont, style.font_scale, style.text_thickness, &baseline);
  return size.height + baseline + 2 * style.margin;
}

std::string stream_time(std::int64_t pts_ns) {
  const std::int64_t ms = pts_ns / 1'000'000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60,
                     ms % 1000);
}

}  // namespace

void draw_annotations(cv::Mat& image, const Frame& frame) {
  if (image.empty()) return;
  const Style style = style_for(image);

  for (const auto& detection : frame.detections) {
    const cv::Scalar colour = colour_for(detection.label);
    cv::rectangle(image, detection.box, colour, style.thickness);
    for (const auto& point : detection.keypoints) {
      cv::circle(image, point, style.thickness + 1, colour, cv::FILLED, cv::LINE_AA);
    }
    std::string text = fmt::format("{} {:.2f}", detection.label, detection.score);
    if (detection.track_id) text += fmt::format(" #{}", *detection.track_id);
    if (detection.text) text += " " + *detection.text;
    // Above the box when there is room; otherwise draw_label pulls it inside the image.
    const cv::Point corner(detection.box.x, detection.box.y - label_height(style));
    draw_label(image, text, corner, colour, style);
  }

  std::string overlay = fmt::format("#{}", frame.seq);
  if (frame.pts_ns >= 0) overlay += "  " + stream_time(frame.pts_ns);
  draw_label(image, overlay, {0, 0}, kOverlayBackground, style);
  if (frame.status == FrameStatus::kFailed) {
    draw_label(image, "failed: " + frame.error, {0, label_height(style)}, kFailedBackground, style);
  }
}

void Annotator::process(Frame& frame) {
  if (frame.image.empty()) return;
  cv::Mat annotated = frame.image.clone();
  draw_annotations(annotated, frame);
  frame.image = annotated;
  // Nothing refers to the borrowed capture buffer any more, so hand it back to the capture layer
  // now rather than when the frame reaches the end of the chain.
  frame.owner.reset();
}

}  // namespace lookout
