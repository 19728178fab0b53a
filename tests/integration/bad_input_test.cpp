// Every kind of bad input gets one clear message naming it, the documented exit code (2: usage or
// configuration, 1: failed while running), no crash and no hang (each run has a timeout).
// Broken and unusual media are in bad_media_test.cpp, hostile pipeline files in
// hostile_pipeline_test.cpp.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "support/media.h"
#include "support/process.h"
#include "support/run_checks.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;
using testing::ProcessResult;
using testing::run_lookout;

constexpr auto kTimeout = std::chrono::seconds(120);

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("bad"); }

  ProcessResult run(std::vector<std::string> args) {
    return run_lookout(std::move(args), kTimeout);
  }
  ProcessResult run_input(const std::string& input) {
    return run({"run", "--input", input, "--detector", "hog", "--output", dir_ + "/out.mp4", "--metadata",
                dir_ + "/out.jsonl"});
  }
  std::string write_file(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string clip() {
    const std::string path = dir_ + "/clip.mp4";
    testing::generate_clip(path, 160, 120, 5);
    return path;
  }

  std::string dir_;
};

void expect_error(const ProcessResult& result, int code, const std::string& names) {
  testing::expect_error(result, code, {names});
}

TEST_F(BadInput, MissingInputFileIsAConfigErrorNamingIt) {
  const std::string path = dir_ + "/no-such-video.mp4";
  const auto result = run_input(path);
  expect_error(result, 2, path);
  EXPECT_NE(result.err.find("does not exist"), std::string::npos) << result.err;
}

TEST_F(BadInput, DirectoryAsInputIsAConfigError) { expect_error(run_input(dir_), 2, dir_); }

TEST_F(BadInput, UnreadableInputIsAConfigError) {
  const std::string path = write_file("secret.mp4", "x");
  ::chmod(path.c_str(), 0);
  std::vector<std::string> argv{LOOKOUT_BINARY, "run", "--input", path, "--detector", "hog"};
  // Root reads any file, so as root the command runs as the unprivileged user 'nobody', from a
  // copy in the test folder (the build folder may be closed to other users).
  if (::geteuid() == 0) {
    argv[0] = dir_ + "/lookout";
    std::filesystem::copy_file(LOOKOUT_BINARY, argv[0]);
    // The sanitizers' suppression files are in the source folder, which may be closed too.
    std::vector<std::string> env{"env"};
    for (const char* name : {"LSAN_OPTIONS", "TSAN_OPTIONS"}) {
      const char* value = std::getenv(name);
      if (value == nullptr) continue;
      std::string options = value;
      const std::string key = "suppressions=";
      const auto at = options.find(key);
      if (at != std::string::npos) {
        const auto start = at + key.size();
        const auto end = options.find(':', start);
        const std::string from = options.substr(start, end == std::string::npos ? end : end - start);
        const std::string to = dir_ + "/" + std::filesystem::path(from).filename().string();
        std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
        ::chmod(to.c_str(), 0644);
        options.replace(start, from.size(), to);
      }
      env.push_back(std::string(name) + "=" + options);
    }
    argv.insert(argv.begin(), env.begin(), env.end());
    argv.insert(argv.begin(), {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
  }
  const auto result = testing::run_process(argv, kTimeout);
  expect_error(result, 2, path);
  EXPECT_NE(result.err.find("not readable"), std::string::npos) << result.err;
}

TEST_F(BadInput, TextFileWithVideoExtensionIsARuntimeErrorNamingIt) {
  const std::string path = write_file("notes.mp4", "this is not a video, just some text\n");
  expect_error(run_input(path), 1, path);
}

TEST_F(BadInput, RandomBytesAreARuntimeErrorNamingTheInput) {
  std::mt19937 random(7);
  std::string bytes(64 * 1024, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  const std::string path = write_file("noise.avi", bytes);
  expect_error(run_input(path), 1, path);
}

TEST_F(BadInput, UnwritableVideoOutputIsAConfigErrorNamingIt) {
  const std::string path = "/proc/lookout-test/out.mp4";
  expect_error(run({"run", "--input", clip(), "--detector", "hog", "--output", path}), 2, path);
}

TEST_F(BadInput, UnwritableMetadataOutputIsAConfigErrorNamingIt) {
  const std::string path = "/proc/lookout-test.jsonl";
  expect_error(run({"run", "--input", clip(), "--detector", "hog", "--output", dir_ + "/o.mp4", "--metadata", path}),
               2, path);
}

TEST_F(BadInput, UnknownVideoExtensionIsAConfigError) {
  const std::string path = dir_ + "/out.xyz";
  expect_error(run({"run", "--input", clip(), "--detector", "hog", "--output", path}), 2, path);
}

TEST_F(BadInput, UnknownDetectorIsAConfigErrorWithASuggestion) {
  const auto result = run({"run", "--input", clip(), "--detector", "hgo"});
  expect_error(result, 2, "'hgo'");
  EXPECT_NE(result.err.find("did you mean 'hog'"), std::string::npos) << result.err;
}

TEST_F(BadInput, OutOfRangeOptionIsAConfigErrorNamingKeyAndValue) {
  const auto result = run({"run", "--input", clip(), "--detector", "hog", "--opt", "scale=0.5"});
  expect_error(result, 2, "'scale'");
  EXPECT_NE(result.err.find("'0.5'"), std::string::npos) << result.err;
}

TEST_F(BadInput, UnknownOptionIsAConfigErrorWithASuggestion) {
  const auto result = run({"run", "--input", clip(), "--detector", "hog", "--opt", "win_strde=8"});
  expect_error(result, 2, "'win_strde'");
  EXPECT_NE(result.err.find("did you mean 'win_stride'"), std::string::npos) << result.err;
}

TEST_F(BadInput, OptWithoutEqualsIsAConfigError) {
  expect_error(run({"run", "--input", clip(), "--detector", "hog", "--opt", "scale"}), 2, "--opt 'scale'");
}

TEST_F(BadInput, MissingCascadeFileIsAConfigErrorNamingIt) {
  const std::string path = dir_ + "/none.xml";
  expect_error(run({"run", "--input", clip(), "--detector", "cascade", "--cascade", path}), 2, path);
}

TEST_F(BadInput, MalformedPipelineFileIsAConfigErrorWithLineAndColumn) {
  const std::string path = write_file("broken.yaml", "input: a.mp4\nstages:\n  - detector: hog\n    scale: [1.1\n");
  const auto result = run({"run", path});
  expect_error(result, 2, path + ":");
  EXPECT_NE(result.err.find("not valid YAML"), std::string::npos) << result.err;
}

TEST_F(BadInput, PipelineFileErrorsAreAllReportedWithLines) {
  const std::string path = write_file(
      "wrong.yaml", "input: a.mp4\nworkerz: 2\nstages:\n  - detector: hog\n    scale: 7\n  - detector: nope\n");
  const auto result = run({"validate", path});
  expect_error(result, 2, path + ":2:1: unknown key 'workerz'");
  EXPECT_NE(result.err.find("did you mean 'workers'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(path + ":5:12"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("'nope'"), std::string::npos) << result.err;
}

TEST_F(BadInput, MissingPipelineFileIsAConfigError) {
  const std::string path = dir_ + "/none.yaml";
  expect_error(run({"run", path}), 2, path);
}

TEST_F(BadInput, UnknownFlagIsAUsageError) {
  const auto result = run({"run", "--inptu", "x.mp4"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--inptu"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace lookout
