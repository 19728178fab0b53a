#pragma once
// Test media: the OpenCV sample videos fetched by samples/fetch, clips generated on the fly with
// gst-launch-1.0 (videotestsrc), and reading a produced video back to count its frames.

#include <cstdint>
#include <string>

namespace lookout::testing {

// Path of a sample video (e.g. "vtest.avi") in samples/data. Fails the calling test (via
// GTEST_SKIP is not used: a missing sample is a set-up error) if it is absent.
std::string sample_path(const std::string& name);

// True when LOOKOUT_TEST_SHORT is set (sanitizer runs): tests then use short clips.
bool short_run();

// A fresh, empty directory under the build's temp area, removed by nothing (ctest work dirs are
// disposable); unique per call.
std::string make_temp_dir(const std::string& prefix);

// Encodes `frames` frames of videotestsrc (pattern name, e.g. "ball" or "smpte") at width x height
// and `fps` to `path`; the container follows the extension (.mp4 -> mp4mux, .mkv -> matroskamux,
// .avi -> avimux with jpeg). Throws std::runtime_error if gst-launch fails.
void generate_clip(const std::string& path, int width, int height, int frames, int fps = 25,
                   const std::string& pattern = "ball");

// Runs gst-launch-1.0 -q on `description` (words split at spaces, no shell; quotes inside a word
// are the parser's). Throws std::runtime_error with its output if it fails.
void gst_launch(const std::string& description);

// The first `frames` frames of a sample video re-encoded to `path` (used for short runs).
void cut_clip(const std::string& source, const std::string& path, int frames);

// Decodes `path` with OpenCV (independently of lookout's own capture code) and counts frames;
// -1 if it cannot be opened.
std::int64_t count_frames(const std::string& path);

}  // namespace lookout::testing
