// lookout-detector-bench: how fast one detector runs on one core, with decoding out of the way.
// Decodes the input into memory first, then times detect() on every frame on this thread alone
// (OpenCV's own pool off, as in the pipeline), after one untimed warm-up call. Works with every
// detector type (--detector, --opt as for lookout run). Prints "detector_fps <value>" and a short
// report.

#include <chrono>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/detect/detector.h"

int main(int argc, char** argv) {
  CLI::App app{"Single-thread detector throughput on pre-decoded frames"};
  std::string input;
  std::string type = "hog";
  std::vector<std::string> opts;
  long long max_frames = -1;
  app.add_option("input", input, "Video file")->required();
  app.add_option("--detector", type, "Detector type");
  app.add_option("--opt", opts, "Detector option KEY=VALUE (repeatable)");
  app.add_option("--frames", max_frames, "Use at most N frames");
  CLI11_PARSE(app, argc, argv);

  try {
    lookout::DetectorSpec spec{type, lookout::Options("--detector " + type)};
    for (const auto& opt : opts) {
      const auto equals = opt.find('=');
      if (equals == std::string::npos) throw lookout::ConfigError("--opt '" + opt + "' is not KEY=VALUE");
      spec.options.set(opt.substr(0, equals), opt.substr(equals + 1), "--opt");
    }
    auto detector = lookout::make_detector_factory(std::move(spec))();
    lookout::configure_opencv_threads();

    // Copies, so that decoding holds no buffers of its own while we keep every frame.
    std::vector<cv::Mat> images;
    auto source = lookout::open_source(lookout::SourceOptions{input});
    lookout::Frame frame;
    std::string error;
    while ((max_frames < 0 || static_cast<long long>(images.size()) < max_frames) &&
           source->read(frame, error) == lookout::Source::Read::kFrame) {
      images.push_back(frame.image.clone());
      frame = lookout::Frame();
    }
    if (!error.empty()) throw lookout::RuntimeError(error);
    if (images.empty()) throw lookout::RuntimeError("no frames decoded from " + input);

    // One untimed call first: a neural network allocates its buffers and picks its kernels on the
    // first forward pass, a cost a pipeline pays once per worker at start, not per frame.
    detector->detect(images.front());

    std::size_t detections = 0;
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& image : images) detections += detector->detect(image).size();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    const double fps = static_cast<double>(images.size()) / seconds;
    fmt::print("frames {}\ndetections {}\nseconds {:.3f}\nms_per_frame {:.2f}\ndetector_fps {:.3f}\n",
               images.size(), detections, seconds, 1000.0 / fps, fps);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lookout-detector-bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
