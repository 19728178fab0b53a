// Observability through the real binary: /metrics, /healthz and /snapshot.jpg fetched over HTTP
// while `lookout run` works on a live input (the test pattern, and an RTSP server on loopback that
// stalls and recovers), progress lines on a piped stderr, --quiet, a busy port, the `none`
// detector, and `lookout bench --json` on a generated clip. Every run has a timeout and every wait
// a bound, so a hang fails instead of blocking; assertions are on counts and contents.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "support/eventually.h"
#include "support/jsonl.h"
#include "support/media.h"
#include "support/ports.h"
#include "support/process.h"
#include "support/prometheus.h"
#include "support/rtsp_server.h"

namespace lookout {
namespace {

using nlohmann::json;
using testing::describe;
using testing::make_temp_dir;
using testing::parse_prometheus;
using testing::ProcessResult;
using testing::PromExposition;
using testing::run_lookout;
using testing::RtspServer;
using testing::short_run;
using testing::SignalPlan;

constexpr auto kRunTimeout = std::chrono::seconds(90);
constexpr auto kWaitLimit = std::chrono::seconds(30);

using testing::free_port;
using testing::Listener;

// Polls `condition` until it holds (true) or `limit` passes (false).
bool eventually(const std::function<bool()>& condition,
                std::chrono::steady_clock::duration limit = kWaitLimit) {
  return testing::eventually(condition, limit, std::chrono::milliseconds(50));
}

struct Fetched {
  int status = 0;  // 0: no answer
  std::string body;
  std::string content_type;
};

Fetched fetch(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(5));
  const auto response = client.Get(path);
  if (!response) return {};
  return {response->status, response->body, response->get_header_value("Content-Type")};
}

// `lookout run ARGS` on a thread of its own; stop() sends SIGINT and waits for the exit.
class BackgroundRun {
 public:
  explicit BackgroundRun(std::vector<std::string> args)
      : thread_([this, args = std::move(args)] {
          SignalPlan plan;
          plan.signal = SIGINT;
          plan.when = &interrupt_;
          result_ = run_lookout(args, kRunTimeout, plan);
          exited_ = true;
        }) {}
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;
  ~BackgroundRun() { stop(); }

  bool exited() const { return exited_; }
  const ProcessResult& stop() {
    interrupt_ = true;
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  std::atomic<bool> interrupt_{false};
  std::atomic<bool> exited_{false};
  ProcessResult result_;
  std::thread thread_;  // last: started once the members it uses exist
};

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The counters a scrape must never show going back.
const char* const kCounters[] = {"lookout_frames_in_total", "lookout_frames_processed_total",
                                 "lookout_frames_failed_total"};

TEST(MetricsEndpoint, CountersDuringALiveRunAgreeWithTheRunsSummary) {
  const std::string dir = make_temp_dir("observe-metrics");
  const int port = free_port();
  BackgroundRun run({"run", "--input", "test:ball", "--width", "320", "--height", "240", "--detector", "none",
                     "--frames", "100000", "--output", dir + "/out.mkv", "--metadata", dir + "/out.jsonl",
                     "--summary-json", dir + "/summary.json", "--http", std::to_string(port)});

  // Scrape until frames have gone through, keeping every scrape.
  std::vector<PromExposition> scrapes;
  const double wanted = short_run() ? 15 : 40;
  ASSERT_TRUE(eventually([&] {
    if (run.exited()) return true;
    const Fetched metrics = fetch(port, "/metrics");
    if (metrics.status != 200) return false;
    EXPECT_EQ(metrics.content_type.rfind("text/plain; version=0.0.4", 0), 0U) << metrics.content_type;
    PromExposition scrape = parse_prometheus(metrics.body);
    EXPECT_TRUE(scrape.problems.empty()) << ::testing::PrintToString(scrape.problems);
    // Until the pipeline starts (the input is being opened) there are no frame counters yet.
    if (!scrape.value("lookout_frames_in_total")) return false;
    scrapes.push_back(std::move(scrape));
    const auto processed = scrapes.back().value("lookout_frames_processed_total");
    return processed && *processed >= wanted;
  })) << "no scrape showed " << wanted << " processed frames\n" << describe(run.stop());
  ASSERT_FALSE(run.exited()) << run.stop().err;
  const Fetched health = fetch(port, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.body.rfind("ok: streaming", 0), 0U) << health.body;
  const Fetched last = fetch(port, "/metrics");
  ASSERT_EQ(last.status, 200);
  scrapes.push_back(parse_prometheus(last.body));

  const ProcessResult& result = run.stop();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json summary = read_json(dir + "/summary.json");
  const double frames_in = summary["frames"]["in"];
  const double processed = summary["frames"]["processed"];

  ASSERT_GE(scrapes.size(), 2U);
  for (std::size_t i = 0; i < scrapes.size(); ++i) {
    const PromExposition& scrape = scrapes[i];
    EXPECT_TRUE(scrape.problems.empty()) << ::testing::PrintToString(scrape.problems);
    for (const char* counter : kCounters) {
      ASSERT_TRUE(scrape.value(counter)) << counter;
      if (i > 0) {
        EXPECT_GE(*scrape.value(counter), *scrapes[i - 1].value(counter)) << counter;
      }
    }
    EXPECT_LE(*scrape.value("lookout_frames_in_total"), frames_in);
    EXPECT_LE(*scrape.value("lookout_frames_processed_total"), processed);
    EXPECT_EQ(scrape.value("lookout_source_state", {{"state", "streaming"}}), 1);
  }
  const PromExposition& final_scrape = scrapes.back();
  EXPECT_GE(*final_scrape.value("lookout_frames_processed_total"), wanted);
  EXPECT_EQ(final_scrape.value("lookout_frames_failed_total"), 0);
  // Every stage is there, and no stage has finished more frames than came in.
  for (const char* stage : {"detect", "reorder", "annotate", "snapshot", "encode", "metadata"}) {
    const auto in = final_scrape.value("lookout_stage_frames_in_total", {{"stage", stage}});
    const auto out = final_scrape.value("lookout_stage_frames_out_total", {{"stage", stage}});
    ASSERT_TRUE(in && out) << stage;
    EXPECT_LE(*out, *in) << stage;
    EXPECT_LE(*out, frames_in) << stage;
    EXPECT_TRUE(final_scrape.value("lookout_stage_queue_capacity", {{"stage", stage}})) << stage;
  }
  EXPECT_GE(*final_scrape.value("lookout_stage_frames_out_total", {{"stage", "metadata"}}), wanted);
  EXPECT_GE(*final_scrape.value("lookout_end_to_end_seconds_count"), wanted);
  const auto source_frames = final_scrape.value("lookout_source_frames_total", {{"input", "test:ball"}});
  ASSERT_TRUE(source_frames);
  EXPECT_GE(*source_frames, *final_scrape.value("lookout_frames_in_total"));
  EXPECT_EQ(final_scrape.value("lookout_info", {{"detectors", "none"}}), 1);
  EXPECT_NE(result.err.find("serving http://127.0.0.1:" + std::to_string(port) + "/metrics"), std::string::npos)
      << result.err;
}

TEST(SnapshotEndpoint, LatestFrameDecodesToAnImageOfTheStreamsSize) {
  const std::string dir = make_temp_dir("observe-snapshot");
  const int port = free_port();
  // No video output: the snapshot alone asks for annotated frames.
  const std::string pipeline = dir + "/metadata-only.yaml";
  std::ofstream(pipeline) << "input: test:ball\nstages:\n  - detector: none\noutput:\n  metadata: " << dir
                          << "/out.jsonl\n";
  BackgroundRun run({"run", pipeline, "--width", "352", "--height", "288", "--frames", "100000", "--http",
                     std::to_string(port)});
  Fetched snapshot;
  ASSERT_TRUE(eventually([&] {
    if (run.exited()) return true;
    snapshot = fetch(port, "/snapshot.jpg");
    return snapshot.status == 200;
  })) << "last answer: " << snapshot.status << " " << snapshot.body << "\n" << describe(run.stop());
  ASSERT_FALSE(run.exited()) << run.stop().err;
  EXPECT_EQ(snapshot.content_type, "image/jpeg");
  const std::vector<unsigned char> bytes(snapshot.body.begin(), snapshot.body.end());
  const cv::Mat image = cv::imdecode(bytes, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 352);
  EXPECT_EQ(image.rows, 288);
  const ProcessResult& result = run.stop();
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(HealthEndpoint, TurnsUnhealthyWhenTheStreamStallsAndHealthyWhenItRecovers) {
  RtspServer::Settings settings;
  settings.launch = RtspServer::kBallH264;
  RtspServer server(settings);
  server.start();
  const std::string dir = make_temp_dir("observe-health");
  const int port = free_port();
  BackgroundRun run({"run", "--input", server.url(), "--transport", "tcp", "--latency", "100",
                     "--stall-timeout", "1", "--detector", "none", "--frames", "100000", "--output", dir + "/out.mkv",
                     "--metadata", dir + "/out.jsonl", "--summary-json", dir + "/summary.json", "--http",
                     std::to_string(port)});
  Fetched health;
  auto health_is = [&](int status) {
    return [&, status] {
      if (run.exited()) return true;
      health = fetch(port, "/healthz");
      return health.status == status;
    };
  };
  ASSERT_TRUE(eventually(health_is(200))) << health.status << " " << health.body << "\n" << describe(run.stop());
  ASSERT_FALSE(run.exited()) << run.stop().err;

  server.set_stalled(true);
  ASSERT_TRUE(eventually(health_is(503))) << health.status << " " << health.body << "\n" << describe(run.stop());
  ASSERT_FALSE(run.exited()) << run.stop().err;
  EXPECT_TRUE(health.body.rfind("reconnecting", 0) == 0 || health.body.rfind("stalled", 0) == 0) << health.body;
  // The metrics say the same.
  const PromExposition stalled = parse_prometheus(fetch(port, "/metrics").body);
  EXPECT_EQ(stalled.value("lookout_source_state", {{"state", "streaming"}}), 0);

  server.set_stalled(false);
  ASSERT_TRUE(eventually(health_is(200))) << health.status << " " << health.body << "\n" << describe(run.stop());
  ASSERT_FALSE(run.exited()) << run.stop().err;
  const PromExposition recovered = parse_prometheus(fetch(port, "/metrics").body);
  EXPECT_GE(recovered.value("lookout_source_reconnects_total").value_or(0), 1);

  const ProcessResult& result = run.stop();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("lookout: warning: the input was lost; reconnecting"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("lookout: info: the input is back"), std::string::npos) << result.err;
  const json summary = read_json(dir + "/summary.json");
  EXPECT_EQ(summary["frames"]["balanced"], true);
}

TEST(MetricsEndpoint, APortInUseStopsTheRunBeforeItStarts) {
  const Listener taken;
  const std::string dir = make_temp_dir("observe-port");
  const ProcessResult result =
      run_lookout({"run", "--input", "test:ball", "--detector", "none", "--frames", "10", "--output",
                   dir + "/out.mkv", "--metadata", dir + "/out.jsonl", "--http", std::to_string(taken.port())},
                  kRunTimeout);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("lookout: error: --http: cannot serve on 127.0.0.1:" + std::to_string(taken.port()), 0), 0U)
      << result.err;
  EXPECT_NE(result.err.find("in use"), std::string::npos) << result.err;
  EXPECT_FALSE(std::ifstream(dir + "/out.jsonl").good()) << "the run started";

  const ProcessResult lonely = run_lookout({"run", "--input", "test:ball", "--detector", "none",
                                            "--http-address", "0.0.0.0"}, kRunTimeout);
  EXPECT_EQ(lonely.exit_code, 2) << lonely.err;
  EXPECT_NE(lonely.err.find("add --http PORT"), std::string::npos) << lonely.err;
}

TEST(ProgressOutput, StatsLinesGoToAPipedStderrAndQuietSilencesThem) {
  const std::string dir = make_temp_dir("observe-stats");
  const std::vector<std::string> args{"run", "--input", "test:ball", "--width", "160", "--height", "120",
                                      "--fps", "25", "--detector", "none", "--frames", "40",
                                      "--output", dir + "/out.mkv", "--metadata", dir + "/out.jsonl",
                                      "--stats-interval", "0.3"};
  const ProcessResult chatty = run_lookout(args, kRunTimeout);
  ASSERT_EQ(chatty.exit_code, 0) << chatty.err;
  // 40 frames at 25 fps take 1.6 s: several lines, each with its parts.
  std::size_t lines = 0;
  for (std::size_t at = chatty.err.find("lookout: stats: "); at != std::string::npos;
       at = chatty.err.find("lookout: stats: ", at + 1)) {
    ++lines;
    const std::string line = chatty.err.substr(at, chatty.err.find('\n', at) - at);
    for (const char* part : {" frames in, ", " fps, ", " processed, ", " dropped, ", " failed, ", " in flight",
                             ", source ", " reconnects"}) {
      EXPECT_NE(line.find(part), std::string::npos) << part << " missing in: " << line;
    }
  }
  EXPECT_GE(lines, 2U) << chatty.err;
  EXPECT_EQ(chatty.err.find('\r'), std::string::npos) << "a bar was drawn on a pipe";
  EXPECT_NE(chatty.out.find("frames     40 in, "), std::string::npos) << chatty.out;

  std::vector<std::string> quiet_args = args;
  quiet_args.push_back("--quiet");
  const ProcessResult quiet = run_lookout(quiet_args, kRunTimeout);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  EXPECT_NE(quiet.out.find("frames     40 in, "), std::string::npos) << quiet.out;

  std::vector<std::string> both = quiet_args;
  both.insert(both.end(), {"--log-level", "debug"});
  EXPECT_EQ(run_lookout(both, kRunTimeout).exit_code, 2);
}

TEST(NoneDetector, PassesEveryFrameThroughWithoutDetections) {
  const std::string dir = make_temp_dir("observe-none");
  const std::string clip = dir + "/clip.mkv";
  const int frames = 20;
  testing::generate_clip(clip, 160, 120, frames);
  const ProcessResult result = run_lookout({"run", "--input", clip, "--detector", "none", "--output", dir + "/out.mkv",
                                            "--metadata", dir + "/out.jsonl", "--quiet"},
                                           kRunTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = testing::read_jsonl(dir + "/out.jsonl");
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(frames));
  for (const auto& line : lines) {
    EXPECT_EQ(line["status"], "ok");
    EXPECT_TRUE(line["detections"].empty()) << line.dump();
  }
  EXPECT_EQ(testing::count_frames(dir + "/out.mkv"), frames);
}

TEST(BenchCommand, JsonHasEveryFieldWithSaneValues) {
  const std::string dir = make_temp_dir("observe-bench");
  const std::string clip = dir + "/clip.mkv";
  const int frames = short_run() ? 12 : 30;
  testing::generate_clip(clip, 320, 240, frames);
  const ProcessResult result =
      run_lookout({"bench", clip, "--detector", "hog", "--opt", "win_stride=16", "--workers", "2", "--passes", "2",
                   "--json"},
                  kRunTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json bench = json::parse(result.out);
  for (const char* key : {"input", "detector", "options", "cores", "frames", "video_encoding", "decode_fps",
                          "detector_fps", "detector_frames", "detector_ms_per_frame", "pipeline", "pipeline_fps",
                          "bound", "serial", "bound_fps", "efficiency", "none_fps", "overhead_ratio",
                          "overhead_cpu_ratio", "none_cpu_ms", "work_bound_fps", "work_efficiency", "latency_ms",
                          "peak_rss_mb", "load_average", "passes"}) {
    EXPECT_TRUE(bench.contains(key)) << key;
  }
  EXPECT_EQ(bench["detector"], "hog");
  EXPECT_EQ(bench["options"]["win_stride"], "16");
  EXPECT_EQ(bench["frames"], frames);
  EXPECT_EQ(bench["detector_frames"], frames);
  EXPECT_EQ(bench["input"]["width"], 320);
  EXPECT_EQ(bench["video_encoding"], false);
  EXPECT_EQ(bench["passes"], 2);
  EXPECT_NE(result.err.find("pass 2 of 2: pipeline, 2 workers, and detector only"), std::string::npos) << result.err;
  EXPECT_GE(bench["cores"].get<int>(), 1);
  for (const char* fps : {"decode_fps", "detector_fps", "pipeline_fps", "bound_fps", "none_fps"}) {
    EXPECT_GT(bench[fps].get<double>(), 0.0) << fps;
  }
  // The bound against the work: 2 workers over the detector's time and the none pipeline's
  // processor time a frame, so below 2 x detector only.
  EXPECT_GT(bench["none_cpu_ms"].get<double>(), 0.0);
  EXPECT_NEAR(bench["work_bound_fps"].get<double>(),
              2000.0 / (bench["detector_ms_per_frame"].get<double>() + bench["none_cpu_ms"].get<double>()),
              1e-6 * bench["work_bound_fps"].get<double>());
  EXPECT_LT(bench["work_bound_fps"].get<double>(), 2 * bench["detector_fps"].get<double>());
  for (const char* ratio : {"efficiency", "overhead_ratio", "overhead_cpu_ratio", "work_efficiency"}) {
    EXPECT_GT(bench[ratio].get<double>(), 0.0) << ratio;
    // A sanitizer slows our code many times more than the uninstrumented decoders it is compared
    // with, so there the ratios say nothing about sanity.
    if (!testing::short_run()) {
      EXPECT_LE(bench[ratio].get<double>(), 1.5) << ratio;
    }
  }
  EXPECT_TRUE(bench["bound"] == "detector" || bench["bound"] == "decode") << bench["bound"];
  ASSERT_EQ(bench["pipeline"].size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    const json& run = bench["pipeline"][i];
    EXPECT_EQ(run["workers"], i + 1);
    EXPECT_EQ(run["frames"], frames);
    EXPECT_GT(run["fps"].get<double>(), 0.0);
    EXPECT_GT(run["efficiency"].get<double>(), 0.0);
    EXPECT_LE(run["efficiency"].get<double>(), 1.5);
    EXPECT_GT(run["latency_ms"]["p50"].get<double>(), 0.0);
    EXPECT_LE(run["latency_ms"]["p50"].get<double>(), run["latency_ms"]["p99"].get<double>());
  }
  EXPECT_EQ(bench["pipeline_fps"], bench["pipeline"][1]["fps"]);
  EXPECT_GT(bench["peak_rss_mb"].get<double>(), 10.0);
  EXPECT_NE(result.err.find("lookout: info: bench: measuring decode only"), std::string::npos) << result.err;
  EXPECT_EQ(bench["serial"], false);
}

// Motion is stateful: one thread in frame order, so its bound does not grow with the workers.
TEST(BenchCommand, MeasuresMotionAsOneThreadWhateverTheWorkers) {
  const std::string dir = make_temp_dir("observe-bench-motion");
  const std::string clip = dir + "/clip.mkv";
  const int frames = short_run() ? 12 : 30;
  testing::generate_clip(clip, 320, 240, frames, 25, "ball");
  const ProcessResult result = run_lookout(
      {"bench", clip, "--detector", "motion", "--opt", "warmup=1", "--workers", "2", "--json"}, kRunTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json bench = json::parse(result.out);
  EXPECT_EQ(bench["detector"], "motion");
  EXPECT_EQ(bench["serial"], true);
  EXPECT_EQ(bench["detector_frames"], frames);
  EXPECT_GT(bench["detector_fps"].get<double>(), 0.0);
  const double decode = bench["decode_fps"].get<double>();
  const double detector = bench["detector_fps"].get<double>();
  EXPECT_DOUBLE_EQ(bench["bound_fps"].get<double>(), std::min(decode, detector));
  EXPECT_EQ(bench["bound"], decode < detector ? "decode" : "detector");
  ASSERT_EQ(bench["pipeline"].size(), 2U);
  for (const json& run : bench["pipeline"]) {
    EXPECT_EQ(run["frames"], frames);
    EXPECT_GT(run["fps"].get<double>(), 0.0);
  }
  EXPECT_DOUBLE_EQ(bench["efficiency"].get<double>(),
                   bench["pipeline"][1]["fps"].get<double>() / bench["bound_fps"].get<double>());
}

TEST(BenchCommand, ALiveInputIsRefused) {
  const ProcessResult result = run_lookout({"bench", "test:ball", "--detector", "none"}, kRunTimeout);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("lookout bench needs a file"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace lookout
