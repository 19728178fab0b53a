#pragma once
// RunObserver: how run_pipeline() lets progress reporting and metrics watch a run without owning
// any of it. The runner calls, in this order and all on the thread that called run_pipeline():
//
//   detector_factory(stage, factory)  once per detector stage, after the spec is validated and
//                             before the input is opened: the factory the workers' instances of
//                             that stage come from; by default `factory` itself. A wrapper may
//                             time the detector, or make it fail on some frames to exercise the
//                             failure path; whatever its detect() throws marks that frame failed
//   annotated_stages(input)   once the input is open, before any stage exists: serial stages to
//                             run right after the annotator (e.g. a snapshot of the latest frame);
//                             when there are any and the spec annotates, the annotator runs even
//                             without a video output
//   started(pipeline)         once, after Pipeline::start()
//   tick(pipeline)            about every 100 ms while the pipeline runs
//   finished(pipeline, report)  once, after Pipeline::wait(), before the Pipeline is destroyed
//
// `pipeline` is valid only during each call: an observer that serves other threads copies what
// they need (Pipeline::stats(), source().status()) instead of keeping the reference. started,
// tick and finished are not called if the run fails before the pipeline starts. The calls must
// not throw; they block the runner's polling, so they stay short.

#include <memory>
#include <string>
#include <vector>

#include "lookout/core/pipeline.h"
#include "lookout/core/source.h"
#include "lookout/core/stage.h"
#include "lookout/detect/detector.h"

namespace lookout {

class RunObserver {
 public:
  virtual ~RunObserver() = default;

  virtual DetectorFactory detector_factory(const std::string& stage, DetectorFactory factory) {
    (void)stage;
    return factory;
  }
  virtual std::vector<std::unique_ptr<SerialStage>> annotated_stages(const StreamInfo& input) {
    (void)input;
    return {};
  }
  virtual void started(const Pipeline& pipeline) { (void)pipeline; }
  virtual void tick(const Pipeline& pipeline) { (void)pipeline; }
  virtual void finished(const Pipeline& pipeline, const RunReport& report) {
    (void)pipeline;
    (void)report;
  }
};

}  // namespace lookout
