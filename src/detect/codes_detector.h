#pragma once
// CodesDetector: QR codes and barcodes, read with zxing-cpp 1.4 (Debian's OpenCV has no QR
// decoder). Every code read is one Detection: label = the format as zxing-cpp names it
// ("QRCode", "DataMatrix", "EAN-13", "Code128", "UPC-A", ...; see code_format_names()), text = the
// decoded content as UTF-8, box = the axis-aligned bounding box of the code's position
// quadrilateral (the symbol itself, without its quiet zone; for linear codes the bars over the
// scan lines that read them), clipped to the image, score 1.
//
// How a frame is searched:
//   1. The whole frame, once, for every requested format. zxing-cpp finds several QR codes,
//      linear codes and PDF417 codes in one search, but only one DataMatrix and one Aztec code, and
//      those only where the middle lines of the searched area cross them.
//   2. So for DataMatrix and Aztec (when requested) it then looks for up to `patches` candidate
//      patches: areas dense in strong edges, found at three scales (whole, half and quarter
//      size). Each patch, with a margin, is searched on its own; a code found there is painted
//      over and the patch searched again, so two codes that touch are both read. Codes already
//      read in step 1 are not reported twice.
//
// Options (parsed and validated by make_detector_factory, which fills CodesParams):
//   formats        formats to read: names, or the groups all, linear, matrix
//                                                           default all (every format but MaxiCode)
//   try_harder     zxing-cpp's slower, more thorough search                 default true
//   try_rotate     also read codes turned by 90, 180 or 270 degrees         default true
//   try_downscale  also search a reduced copy of large frames               default true
//   binarizer      local_average | global_histogram | fixed_threshold | bool_cast
//                                                                           default local_average
//   max_codes      codes per frame at most; 0: no limit (zxing-cpp's 255)   default 0
//   patches        candidate patches searched for DataMatrix and Aztec; 0: whole frame only
//                                                                           default 32
// Results are a function of the image and the options alone: the same image gives the same
// detections, ordered by position (top to bottom, then left to right, then size, label, text).
// Thread safety: thread-compatible; one instance per worker (it keeps scratch images); instances
// share nothing. zxing-cpp keeps its working state per call and starts no threads.
// Blocking: detect() computes on the calling thread (tens of milliseconds for 640x480) and waits
// for nothing.
// Failure: detect() throws std::invalid_argument for an image that is not 8-bit gray, BGR or
// BGRA, and passes on what zxing-cpp or OpenCV throw; the pipeline then marks the frame failed.

#include <optional>
#include <string>
#include <vector>

#include <ZXing/BarcodeFormat.h>
#include <ZXing/DecodeHints.h>
#include <opencv2/core/mat.hpp>

#include "lookout/detect/detector.h"

namespace lookout {

struct CodesParams {
  ZXing::BarcodeFormats formats;  // empty means the default set, default_code_formats()
  bool try_harder = true;
  bool try_rotate = true;
  bool try_downscale = true;
  ZXing::Binarizer binarizer = ZXing::Binarizer::LocalAverage;
  int max_codes = 0;  // 0..kMaxCodes; 0: no limit
  int patches = 32;   // 0..kMaxPatches
};

inline constexpr int kMaxCodes = 255;  // zxing-cpp counts symbols in 8 bits
inline constexpr int kMaxPatches = 1024;

class CodesDetector : public Detector {
 public:
  // `params` must already be valid (make_detector_factory checks them).
  explicit CodesDetector(const CodesParams& params);

  // Accepts 8-bit gray, BGR or BGRA images; an empty image yields nothing.
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  CodesParams params_;
  ZXing::DecodeHints whole_;    // step 1: every requested format
  ZXing::DecodeHints patch_hints_;  // step 2: DataMatrix and Aztec, one code per search
  bool search_patches_ = false;
  cv::Mat gray_;   // scratch, reused between frames
  cv::Mat patch_;  // scratch: the patch being searched, painted over as codes are found
};

// The formats `codes` reads by default: every format zxing-cpp 1.4 reads in camera images, which
// is all it knows but MaxiCode (which it reads only from images that hold nothing but the code).
ZXing::BarcodeFormats default_code_formats();

// The format names `formats` accepts, as zxing-cpp writes them (and as labels show them), for
// messages and suggestions; the groups "all", "linear" and "matrix" are accepted as well.
std::vector<std::string> code_format_names();

// The formats a name stands for: a format (case, '-', '_' and spaces do not matter, "QR" is
// QRCode) or a group. Empty for an unknown name, and for MaxiCode (see default_code_formats()).
std::optional<ZXing::BarcodeFormats> code_formats_from_name(const std::string& name);

// True if `name` is MaxiCode, which code_formats_from_name() refuses, so messages can say why.
bool names_maxicode(const std::string& name);

// The binarizer a name stands for: local_average, global_histogram, fixed_threshold, bool_cast
// (case, '-' and '_' do not matter).
std::optional<ZXing::Binarizer> code_binarizer_from_name(const std::string& name);

// The binarizer names, for messages.
std::vector<std::string> code_binarizer_names();

}  // namespace lookout
