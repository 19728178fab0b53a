// Fuzz target: pipeline files. The input is the text of a pipeline file; it goes through
// parse_pipeline() and then validate_pipeline(), as `lookout validate` does.
//
// What must hold for any text:
//   - the only exception either function lets out is ConfigError (the command turns it into a
//     message and exit code 2); anything else, a crash or a sanitizer report is a defect;
//   - every message is non-empty, every problem found while reading names the file first, and
//     validation reports every one of them (and then never succeeds);
//   - a pipeline that validates has an input and as many stages as the file lists.
//
// Validation loads the files some options name (a cascade XML, an ONNX model, a labels file).
// Reading whatever path the fuzzer invents (/dev/zero, a model of the checkout) would make the
// run slow and depend on the machine, so those options are pointed at a path that does not exist
// before validation; everything else about those stages is still checked.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lookout/core/error.h"
#include "lookout/pipeline/spec_loader.h"

namespace {

constexpr const char* kOrigin = "fuzz.yaml";
constexpr const char* kMissingFile = "/nonexistent/lookout-fuzz/file";

[[noreturn]] void fail(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "pipeline_file_fuzzer: %s\n--- detail ---\n%s\n--------------\n",
               what.c_str(), detail.c_str());
  std::abort();
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

void check_message(const lookout::ConfigError& error, const char* step) {
  const std::string message = error.what();
  if (message.empty()) fail(std::string(step) + " threw a ConfigError without a message", "");
}

// Points every option that names a file to read at one that does not exist (see above).
void keep_away_from_files(lookout::PipelineSpec& spec) {
  for (auto& stage : spec.stages) {
    if (stage.type == "cascade") {
      stage.options.set("cascade", kMissingFile, "fuzz");
    } else if (stage.type == "blazeface") {
      stage.options.set("model", kMissingFile, "fuzz");
    } else if (stage.type == "yolo" || stage.type == "ssd") {
      if (stage.options.has("model")) stage.options.set("model", kMissingFile, "fuzz");
      if (stage.options.has("labels")) stage.options.set("labels", kMissingFile, "fuzz");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  lookout::PipelineSpec spec;
  try {
    spec = lookout::parse_pipeline(text, kOrigin);
  } catch (const lookout::ConfigError& error) {
    check_message(error, "parse_pipeline");
    if (!starts_with(error.what(), kOrigin)) {
      fail("a parse error does not name the file first", error.what());
    }
    return 0;
  }
  if (spec.origin != kOrigin) fail("the spec does not remember its file", spec.origin);
  for (const auto& problem : spec.problems) {
    if (!starts_with(problem, kOrigin)) fail("a problem does not name the file first", problem);
  }

  keep_away_from_files(spec);
  const std::size_t stages = spec.stages.size();
  const std::vector<std::string> problems = spec.problems;
  try {
    const lookout::ValidatedPipeline validated = lookout::validate_pipeline(std::move(spec));
    if (!problems.empty()) fail("a pipeline with problems validated", problems.front());
    if (validated.source.input.empty()) fail("a pipeline without an input validated", text);
    if (validated.capture_stages.size() + validated.stages.size() != stages) {
      fail("validation lost or invented a stage", text);
    }
    for (const auto& stage : validated.stages) {
      if (!stage.factory) fail("a validated stage has no detector factory", stage.name);
    }
  } catch (const lookout::ConfigError& error) {
    check_message(error, "validate_pipeline");
    const std::string message = error.what();
    for (const auto& problem : problems) {
      if (message.find(lookout::detail::without_nul(problem)) == std::string::npos) {
        fail("validation left out a problem found while reading", problem + "\n---\n" + message);
      }
    }
  }
  return 0;
}
