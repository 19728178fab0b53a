#include "codes_detector.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <ZXing/ReadBarcode.h>
#include <opencv2/imgproc.hpp>

namespace lookout {
namespace {

using ZXing::BarcodeFormat;
using ZXing::BarcodeFormats;

// Every format zxing-cpp 1.4 knows, in its enum's order, which is also the order of the help.
constexpr std::array<BarcodeFormat, 17> kAllFormats{BarcodeFormat::Aztec,
                                                    BarcodeFormat::Codabar,
                                                    BarcodeFormat::Code39,
                                                    BarcodeFormat::Code93,
                                                    BarcodeFormat::Code128,
                                                    BarcodeFormat::DataBar,
                                                    BarcodeFormat::DataBarExpanded,
                                                    BarcodeFormat::DataMatrix,
                                                    BarcodeFormat::EAN8,
                                                    BarcodeFormat::EAN13,
                                                    BarcodeFormat::ITF,
                                                    BarcodeFormat::MaxiCode,
                                                    BarcodeFormat::PDF417,
                                                    BarcodeFormat::QRCode,
                                                    BarcodeFormat::UPCA,
                                                    BarcodeFormat::UPCE,
                                                    BarcodeFormat::MicroQRCode};

// zxing-cpp finds at most one code of these per search, and only where the middle lines of the
// searched area cross it; the patch search (step 2) exists for them.
const BarcodeFormats kOneAtATime = BarcodeFormat::DataMatrix | BarcodeFormat::Aztec;

// Candidate patches: a pixel is on an edge when its 3x3 neighbourhood spans at least this much
// gray; codes are black on white, so even blurred and compressed their edges span far more, while
// sensor noise and soft shading do not.
constexpr double kEdgeContrast = 64.0;
// Closing joins the edges of neighbouring modules into one patch; opening removes thin lines
// (text strokes, object outlines) that are not dense enough to be a code. In pixels of a level.
constexpr int kMorphologySize = 7;
// Levels: whole, half and quarter size, so that modules from 1 to about 12 px are joined.
constexpr int kLevels = 3;
// Smallest patch worth searching (input pixels); a readable code is larger.
constexpr int kMinPatchSide = 16;
// A patch that covers more than this share of the frame is no better than step 1.
constexpr double kMaxPatchShare = 0.5;
// Searches of one patch: after each code found it is painted over and the patch searched again.
constexpr int kSearchesPerPatch = 4;

// The formats of `group` zxing-cpp reads in camera images: all but MaxiCode.
BarcodeFormats readable_formats_in(BarcodeFormats group) {
  BarcodeFormats formats;
  for (const auto format : kAllFormats) {
    if (format != BarcodeFormat::MaxiCode && group.testFlag(format)) formats |= format;
  }
  return formats;
}

std::string normalised(const std::string& name) {
  std::string text;
  for (const unsigned char c : name) {
    if (c == '-' || c == '_' || c == ' ') continue;
    text += static_cast<char>(std::tolower(c));
  }
  return text;
}

// The axis-aligned box around zxing-cpp's quadrilateral, clipped to the image.
cv::Rect box_of(const ZXing::Position& position, cv::Point offset, const cv::Size& image) {
  std::vector<cv::Point> points;
  points.reserve(position.size());
  for (const auto& point : position) points.emplace_back(point.x + offset.x, point.y + offset.y);
  return cv::boundingRect(points) & cv::Rect(0, 0, image.width, image.height);
}

double overlap_share(const cv::Rect& a, const cv::Rect& b) {
  const double smaller = std::min(a.area(), b.area());
  return smaller > 0 ? (a & b).area() / smaller : 0.0;
}

bool same_code(const Detection& a, const Detection& b) {
  return a.label == b.label && a.text == b.text && (a.box & b.box).area() > 0;
}

// Patches dense in strong edges, largest first, near-duplicates (the same patch seen at two
// levels) removed. Deterministic: the order is a function of the image.
std::vector<cv::Rect> candidate_patches(const cv::Mat& gray) {
  const cv::Mat kernel =
      cv::getStructuringElement(cv::MORPH_RECT, cv::Size(kMorphologySize, kMorphologySize));
  const double max_area = kMaxPatchShare * gray.cols * gray.rows;
  std::vector<cv::Rect> patches;
  cv::Mat level = gray;
  cv::Mat edges;
  std::vector<std::vector<cv::Point>> contours;
  for (int index = 0, scale = 1; index < kLevels; ++index, scale *= 2) {
    if (index > 0) {
      if (level.cols < 2 * kMorphologySize || level.rows < 2 * kMorphologySize) break;
      cv::Mat smaller;
      cv::pyrDown(level, smaller);
      level = smaller;
    }
    cv::morphologyEx(level, edges, cv::MORPH_GRADIENT, cv::Mat());
    cv::threshold(edges, edges, kEdgeContrast, 255, cv::THRESH_BINARY);
    cv::morphologyEx(edges, edges, cv::MORPH_CLOSE, kernel);
    cv::morphologyEx(edges, edges, cv::MORPH_OPEN, kernel);
    cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& contour : contours) {
      const cv::Rect found = cv::boundingRect(contour);
      const cv::Rect patch(found.x * scale, found.y * scale, found.width * scale,
                           found.height * scale);
      if (patch.width < kMinPatchSide || patch.height < kMinPatchSide) continue;
      if (patch.area() > max_area) continue;
      patches.push_back(patch);
    }
  }
  std::sort(patches.begin(), patches.end(), [](const cv::Rect& a, const cv::Rect& b) {
    return std::make_tuple(-a.area(), a.y, a.x, a.width, a.height) <
           std::make_tuple(-b.area(), b.y, b.x, b.width, b.height);
  });
  std::vector<cv::Rect> distinct;
  for (const auto& patch : patches) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const cv::Rect& other) {
      const double united = (patch | other).area();
      return united > 0 && (patch & other).area() / united > 0.8;
    });
    if (!seen) distinct.push_back(patch);
  }
  return distinct;
}

}  // namespace

BarcodeFormats default_code_formats() { return readable_formats_in(BarcodeFormat::Any); }

std::vector<std::string> code_format_names() {
  std::vector<std::string> names;
  for (const auto format : kAllFormats) {
    if (format != BarcodeFormat::MaxiCode) names.emplace_back(ZXing::ToString(format));
  }
  return names;
}

std::optional<BarcodeFormats> code_formats_from_name(const std::string& name) {
  const std::string key = normalised(name);
  if (key == "all") return default_code_formats();
  if (key == "linear") return readable_formats_in(BarcodeFormat::LinearCodes);
  if (key == "matrix") return readable_formats_in(BarcodeFormat::MatrixCodes);
  if (key == "qr") return BarcodeFormats(BarcodeFormat::QRCode);
  if (key == "microqr") return BarcodeFormats(BarcodeFormat::MicroQRCode);
  for (const auto format : kAllFormats) {
    if (format != BarcodeFormat::MaxiCode && normalised(ZXing::ToString(format)) == key) {
      return BarcodeFormats(format);
    }
  }
  return std::nullopt;
}

bool names_maxicode(const std::string& name) { return normalised(name) == "maxicode"; }

std::vector<std::string> code_binarizer_names() {
  return {"local_average", "global_histogram", "fixed_threshold", "bool_cast"};
}

std::optional<ZXing::Binarizer> code_binarizer_from_name(const std::string& name) {
  const std::string key = normalised(name);
  if (key == "localaverage") return ZXing::Binarizer::LocalAverage;
  if (key == "globalhistogram") return ZXing::Binarizer::GlobalHistogram;
  if (key == "fixedthreshold") return ZXing::Binarizer::FixedThreshold;
  if (key == "boolcast") return ZXing::Binarizer::BoolCast;
  return std::nullopt;
}

CodesDetector::CodesDetector(const CodesParams& params) : params_(params) {
  const BarcodeFormats formats = params.formats.empty() ? default_code_formats() : params.formats;
  whole_.setFormats(formats)
      .setTryHarder(params.try_harder)
      .setTryRotate(params.try_rotate)
      .setTryDownscale(params.try_downscale)
      .setBinarizer(params.binarizer)
      .setMaxNumberOfSymbols(
          static_cast<std::uint8_t>(params.max_codes > 0 ? params.max_codes : kMaxCodes));
  const BarcodeFormats one_at_a_time = formats & kOneAtATime;
  search_patches_ = params.patches > 0 && !one_at_a_time.empty();
  // A patch is small and holds about one code, so a reduced copy of it would only cost time.
  patch_hints_ = whole_;
  patch_hints_.setFormats(one_at_a_time).setTryDownscale(false).setMaxNumberOfSymbols(1);
}

std::vector<Detection> CodesDetector::detect(const cv::Mat& image) {
  std::vector<Detection> detections;
  if (image.empty()) return detections;
  if (image.depth() != CV_8U ||
      (image.channels() != 1 && image.channels() != 3 && image.channels() != 4)) {
    throw std::invalid_argument("codes: expected an 8-bit gray, BGR or BGRA image");
  }
  // One gray copy serves both steps; zxing-cpp would otherwise convert the frame itself for
  // every search.
  cv::Mat gray = image;
  if (image.channels() != 1) {
    cv::cvtColor(image, gray_, image.channels() == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY);
    gray = gray_;
  }
  const std::size_t limit = params_.max_codes > 0 ? static_cast<std::size_t>(params_.max_codes)
                                                  : static_cast<std::size_t>(kMaxCodes);

  // Keeps a result unless it is empty after clipping or a code already kept.
  auto add = [&](const ZXing::Result& result, cv::Point offset) {
    Detection detection;
    detection.box = box_of(result.position(), offset, gray.size());
    detection.label = ZXing::ToString(result.format());
    detection.text = result.text();
    detection.score = 1.0;
    if (detection.box.area() == 0) return;
    const bool known = std::any_of(detections.begin(), detections.end(),
                                   [&](const Detection& d) { return same_code(d, detection); });
    if (!known) detections.push_back(std::move(detection));
  };

  const ZXing::ImageView whole(gray.data, gray.cols, gray.rows, ZXing::ImageFormat::Lum,
                               static_cast<int>(gray.step));
  for (const auto& result : ZXing::ReadBarcodes(whole, whole_)) add(result, {0, 0});

  if (search_patches_ && detections.size() < limit) {
    int searched = 0;
    for (const auto& patch : candidate_patches(gray)) {
      if (searched >= params_.patches || detections.size() >= limit) break;
      // A patch that is a code read already needs no second look.
      const bool read = std::any_of(detections.begin(), detections.end(), [&](const Detection& d) {
        return overlap_share(d.box, patch) > 0.8;
      });
      if (read) continue;
      ++searched;
      // The margin gives the code its quiet zone back when the patch hugs its modules.
      const int margin = std::max(patch.width, patch.height) / 4 + 4;
      const cv::Rect area = cv::Rect(patch.x - margin, patch.y - margin, patch.width + 2 * margin,
                                     patch.height + 2 * margin) &
                            cv::Rect(0, 0, gray.cols, gray.rows);
      gray(area).copyTo(patch_);
      for (int search = 0; search < kSearchesPerPatch && detections.size() < limit; ++search) {
        const ZXing::ImageView view(patch_.data, patch_.cols, patch_.rows, ZXing::ImageFormat::Lum,
                                    static_cast<int>(patch_.step));
        const ZXing::Results results = ZXing::ReadBarcodes(view, patch_hints_);
        if (results.empty()) break;
        for (const auto& result : results) {
          add(result, area.tl());
          // Paint the code over (with its edge) so that the next search finds the next one.
          std::vector<cv::Point> corners;
          for (const auto& point : result.position()) corners.emplace_back(point.x, point.y);
          cv::fillConvexPoly(patch_, corners, cv::Scalar(255));
          cv::polylines(patch_, corners, true, cv::Scalar(255), 3);
        }
      }
    }
  }

  std::sort(detections.begin(), detections.end(), [](const Detection& a, const Detection& b) {
    return std::tie(a.box.y, a.box.x, a.box.width, a.box.height, a.label, a.text) <
           std::tie(b.box.y, b.box.x, b.box.width, b.box.height, b.label, b.text);
  });
  if (detections.size() > limit) detections.resize(limit);
  return detections;
}

}  // namespace lookout
