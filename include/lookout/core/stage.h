#pragma once
// The two kinds of stage a Pipeline runs, after oneTBB's `parallel` and `serial_in_order` filters.
//
// Lifecycle of both: constructed (and configured) before any pipeline thread starts; process() is
// called many times from one thread; the stage is destroyed after every pipeline thread has
// joined.

#include <functional>
#include <memory>
#include <string>

#include "lookout/core/frame.h"

namespace lookout {

// A stateless step run by the workers of a parallel stage: each worker owns one instance, made by
// a ProcessorFactory, so an instance is only ever used from one thread (thread-compatible).
class FrameProcessor {
 public:
  virtual ~FrameProcessor() = default;

  // Works on one frame in place (usually: appends detections). Called only for frames whose
  // status is ok. May throw: the pool catches cv::Exception and std::exception, marks this frame
  // failed with the message, counts it and passes it on; the run continues.
  virtual void process(Frame& frame) = 0;
};

// Makes one processor per worker. Called on the thread that starts the pipeline, before any worker
// thread exists, so a configuration error (a missing model, say) stops the run before it starts.
using ProcessorFactory = std::function<std::unique_ptr<FrameProcessor>()>;

// A stateful step (annotator, encoder, metadata writer) that sees every frame in seq order,
// markers included, on one thread of its own.
class SerialStage {
 public:
  virtual ~SerialStage() = default;

  virtual std::string name() const = 0;

  // Called once per frame in seq order, including dropped and failed markers (check
  // frame.status). A throw is fatal for the run: the pipeline records it as the run's error,
  // stops the source, and passes the remaining frames on without calling this stage again.
  virtual void process(Frame& frame) = 0;

  // Called exactly once, after the last frame or when the run is torn down early: flushes and
  // finalises (e.g. writes the end of an mp4). May block up to the stage's own deadline. A throw
  // is recorded as the run's error.
  virtual void finish() = 0;
};

}  // namespace lookout
