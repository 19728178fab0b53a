#include "lookout/pipeline/detector_chain.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "lookout/core/error.h"

namespace lookout {

std::vector<std::string> chain_option_keys() {
  return {"name", "regions", "when", "every", "region_padding", "region_min_size"};
}

ChainStage parse_chain_stage(Options& options, const std::string& default_name) {
  ChainStage stage;
  stage.name = options.get_string("name", default_name);
  if (stage.name.empty()) options.reject("name", "a non-empty name such as 'people'");
  stage.regions = options.get_string("regions", "");
  stage.when = options.get_string("when", "");
  stage.every = options.get_int("every", 1, 1, 1'000'000);
  stage.region_padding = options.get_double("region_padding", stage.region_padding, 0.0, 10.0);
  stage.region_min_size = options.get_size("region_min_size", stage.region_min_size, 0, 16384);
  if (!stage.regions.empty() && !stage.when.empty()) {
    options.reject("when", "to be left out when 'regions' is set (regions already need boxes)");
  }
  options.check_all_used(chain_option_keys());
  return stage;
}

std::vector<cv::Rect> search_regions_from(const std::vector<cv::Rect>& boxes, cv::Size frame,
                                          double padding, cv::Size min_size) {
  const cv::Rect bounds(0, 0, frame.width, frame.height);
  std::vector<cv::Rect> regions;
  for (const cv::Rect& box : boxes) {
    const int grow_x = static_cast<int>(std::lround(box.width * padding));
    const int grow_y = static_cast<int>(std::lround(box.height * padding));
    cv::Rect region(box.x - grow_x, box.y - grow_y, box.width + 2 * grow_x, box.height + 2 * grow_y);
    if (region.width < min_size.width) {
      region.x -= (min_size.width - region.width) / 2;
      region.width = min_size.width;
    }
    if (region.height < min_size.height) {
      region.y -= (min_size.height - region.height) / 2;
      region.height = min_size.height;
    }
    region &= bounds;
    if (!region.empty()) regions.push_back(region);
  }
  merge_overlapping(regions);
  std::sort(regions.begin(), regions.end(), [](const cv::Rect& a, const cv::Rect& b) {
    return std::tie(a.y, a.x, a.height, a.width) < std::tie(b.y, b.x, b.height, b.width);
  });
  return regions;
}

std::vector<Detection> remove_duplicates(std::vector<Detection> detections, double iou) {
  sort_by_position(detections);
  // Highest score first; stable, so equal scores keep the positional order.
  std::vector<std::size_t> order(detections.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return detections[a].score > detections[b].score;
  });
  std::vector<bool> keep(detections.size(), true);
  for (std::size_t oi = 0; oi < order.size(); ++oi) {
    const std::size_t i = order[oi];
    if (!keep[i]) continue;
    for (std::size_t oj = oi + 1; oj < order.size(); ++oj) {
      const std::size_t j = order[oj];
      if (!keep[j] || detections[j].label != detections[i].label) continue;
      const double overlap = (detections[i].box & detections[j].box).area();
      const double joint = detections[i].box.area() + detections[j].box.area() - overlap;
      if (joint > 0 && overlap / joint > iou) keep[j] = false;
    }
  }
  std::vector<Detection> kept;
  for (std::size_t i = 0; i < detections.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(detections[i]));
  }
  return kept;
}

DetectorChain::DetectorChain(std::vector<Step> steps) : steps_(std::move(steps)) {}

std::vector<Detection> DetectorChain::search_regions(const Step& step, const Frame& frame,
                                                     std::int64_t& pixels) {
  std::vector<cv::Rect> boxes;
  for (const Detection& detection : frame.detections) {
    if (detection.stage == step.stage.regions) boxes.push_back(detection.box);
  }
  const std::vector<cv::Rect> regions = search_regions_from(
      boxes, frame.image.size(), step.stage.region_padding, step.stage.region_min_size);
  if (std::optional<RegionSearch> own = step.detector->detect_in(frame.image, regions)) {
    pixels += own->pixels;
    return std::move(own->detections);
  }
  std::vector<Detection> found;
  for (const cv::Rect& region : regions) {
    pixels += region.area();
    // A view into the frame, not a copy; detectors only read their input.
    std::vector<Detection> inside = step.detector->detect(frame.image(region));
    for (Detection& detection : inside) {
      detection.box.x += region.x;
      detection.box.y += region.y;
      for (auto& point : detection.keypoints) {
        point.x += static_cast<float>(region.x);
        point.y += static_cast<float>(region.y);
      }
      found.push_back(std::move(detection));
    }
  }
  return regions.size() > 1 ? remove_duplicates(std::move(found)) : found;
}

void DetectorChain::process(Frame& frame) {
  for (Step& step : steps_) {
    const ChainStage& stage = step.stage;
    bool run = frame.seq % stage.every == 0;
    if (run && !stage.when.empty()) {
      run = std::any_of(frame.detections.begin(), frame.detections.end(),
                        [&](const Detection& d) { return d.stage == stage.when; });
    }
    if (run && !stage.regions.empty()) {
      run = std::any_of(frame.detections.begin(), frame.detections.end(),
                        [&](const Detection& d) { return d.stage == stage.regions; });
    }
    if (!run) {
      if (step.counters != nullptr) step.counters->frames_skipped.fetch_add(1);
      continue;
    }
    std::int64_t pixels = 0;
    std::vector<Detection> found;
    if (stage.regions.empty()) {
      pixels = frame.image.total();
      found = step.detector->detect(frame.image);
    } else {
      found = search_regions(step, frame, pixels);
    }
    if (step.counters != nullptr) {
      step.counters->frames_run.fetch_add(1);
      step.counters->pixels.fetch_add(pixels);
    }
    for (Detection& detection : found) {
      detection.stage = stage.name;
      frame.detections.push_back(std::move(detection));
    }
  }
}

ProcessorFactory detector_chain_factory(std::vector<ChainStage> stages,
                                        std::shared_ptr<ChainCounters> counters) {
  if (counters) {
    counters->clear();
    for (const auto& stage : stages) {
      counters->push_back(std::make_unique<ChainStageCounters>());
      counters->back()->name = stage.name;
    }
  }
  return [stages = std::move(stages), counters]() -> std::unique_ptr<FrameProcessor> {
    std::vector<DetectorChain::Step> steps;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      DetectorChain::Step step;
      step.stage = stages[i];
      step.detector = stages[i].factory();
      step.counters = counters ? (*counters)[i].get() : nullptr;
      steps.push_back(std::move(step));
    }
    return std::make_unique<DetectorChain>(std::move(steps));
  };
}

}  // namespace lookout
