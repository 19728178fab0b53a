#pragma once
// DisplayWindow: a serial stage that shows the frames it sees (usually the annotated ones) in a
// window on the user's screen:
//
//   appsrc is-live=true ! videoconvert ! xvimagesink|ximagesink|waylandsink|glimagesink sync=false
//
// The first sink that can open the screen is used (X11 through DISPLAY: XVideo, then plain X;
// Wayland through WAYLAND_DISPLAY; then OpenGL). The window is titled "lookout: TITLE".
//
// Never slows the pipeline: the sink shows each frame as it comes (sync=false) and at most
// kDisplayQueuedFrames wait for it; a frame that finds them waiting is dropped and counted.
// Frames are handed over without copying (the buffer holds a reference to the cv::Mat and to the
// frame's owner). Markers without an image are skipped.
//
// Lifecycle: the constructor checks for a graphical session and opens the window, throwing
// ConfigError if there is none (neither DISPLAY nor WAYLAND_DISPLAY is set) or the screen cannot
// be opened, with what to use instead. When the user closes the window the sink reports it;
// window_closed() then becomes true (the runner polls it and stops the run as Ctrl-C would) and
// process() shows nothing more. Any other failure of the sink makes process() or finish() throw
// RuntimeError naming the element. finish() lets the frames already handed over reach the window
// (up to `finish_timeout`) and closes it; the destructor closes it if finish() was not called.
// Thread safety: process(), finish() and the counters from one thread (the pipeline's; the
// counters may be read after it joined); window_closed() from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "lookout/core/stage.h"

namespace lookout {

struct DisplayOptions {
  int width = 0;
  int height = 0;
  int fps_num = 25;  // for the caps, and for frames without timestamps
  int fps_den = 1;
  std::string title;  // shown in the window's title after "lookout: "
  std::chrono::seconds finish_timeout{5};
};

// Frames that may wait for the window before new ones are dropped.
inline constexpr unsigned kDisplayQueuedFrames = 2;

class DisplayWindow : public SerialStage {
 public:
  explicit DisplayWindow(DisplayOptions options);
  DisplayWindow(const DisplayWindow&) = delete;
  DisplayWindow& operator=(const DisplayWindow&) = delete;
  ~DisplayWindow() override;

  std::string name() const override { return "display"; }
  void process(Frame& frame) override;
  void finish() override;

  // True once the user closed the window. Any thread.
  bool window_closed() const;

  std::int64_t frames_shown() const;                               // frames that reached the window
  std::int64_t frames_dropped() const { return frames_dropped_; }  // the window was behind
  std::string sink_name() const;  // the GStreamer sink in use, e.g. "ximagesink"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t frames_dropped_ = 0;
  std::int64_t frames_pushed_ = 0;
};

}  // namespace lookout
