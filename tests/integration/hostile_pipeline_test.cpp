// Malformed and hostile pipeline files through `lookout run FILE`: nesting thousands deep, numbers
// too big for any type, values of the wrong type, megabyte strings, binary garbage, an empty file
// and a YAML alias bomb. Each is a configuration error (exit code 2) found before anything runs,
// with a message that names the file (with line and column where there is one) and the key, and
// that stays short; none crashes or hangs.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "support/media.h"
#include "support/process.h"
#include "support/run_checks.h"

namespace lookout {
namespace {

using testing::ProcessResult;

constexpr auto kTimeout = std::chrono::seconds(60);

class HostilePipeline : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("hostile"); }

  std::string write_file(const std::string& name, const std::string& content) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // The input named in these files; it is never reached, since the file itself is rejected.
  std::string input() const { return dir_ + "/clip.mp4"; }

  ProcessResult run(const std::string& pipeline) const {
    return testing::run_lookout({"run", pipeline}, kTimeout);
  }

  std::string dir_;
};

TEST_F(HostilePipeline, NestingThousandsDeepIsRejectedWithItsPosition) {
  const std::string deep_list =
      write_file("deep-list.yaml", "input: " + input() + "\nstages: " + std::string(100'000, '[') +
                                       std::string(100'000, ']') + "\n");
  std::string mappings;
  for (int i = 0; i < 5000; ++i) mappings += "{a: ";
  mappings += "1" + std::string(5000, '}');
  const std::string deep_map =
      write_file("deep-map.yaml", "input: " + input() + "\noutput: " + mappings + "\n");
  const std::string unclosed = write_file("unclosed.yaml", std::string(100'000, '['));
  for (const auto& [path, line] :
       {std::pair{deep_list, 2}, std::pair{deep_map, 2}, std::pair{unclosed, 1}}) {
    SCOPED_TRACE(path);
    testing::expect_error(run(path), 2,
                          {path + ":" + std::to_string(line) + ":", "or more levels deep",
                           "a pipeline file needs only a few levels"});
  }
}

TEST_F(HostilePipeline, NumbersTooBigForAnyTypeAreRejectedNamingKeyAndValue) {
  const std::string path = write_file("huge.yaml", "input: " + input() +
                                                       "\n"
                                                       "workers: 99999999999999999999\n"
                                                       "max_frames: -99999999999999999999\n"
                                                       "duration: 1e400\n"
                                                       "stages:\n"
                                                       "  - detector: hog\n"
                                                       "    scale: 1e400\n"
                                                       "output:\n"
                                                       "  bitrate: 99999999999999999999\n");
  testing::expect_error(
      run(path), 2,
      {path + ":2:10: 'workers' must be a whole number from 0 to 256, not '99999999999999999999'",
       path + ":3:13: 'max_frames' must be a whole number", "'-99999999999999999999'",
       path + ":4:11: 'duration' must be a number of seconds", "'1e400'",
       path + ":7:12: stage 1 (hog): option 'scale' has value '1e400'",
       "expected a number from 1 to 2",
       "option 'bitrate' has value '99999999999999999999'; expected a whole number"});
}

TEST_F(HostilePipeline, ValuesOfTheWrongTypeAreRejectedNamingTheKey) {
  const std::string path = write_file("types.yaml",
                                      "input: {uri: {a: b}}\n"
                                      "workers: [1, 2]\n"
                                      "drop_policy: {a: b}\n"
                                      "stages:\n"
                                      "  - detector: hog\n"
                                      "    scale: {x: 1}\n"
                                      "    [k]: 1\n"
                                      "output: {video: {a: b}, metadata: [x], annotate: [true]}\n"
                                      "[a, b]: 1\n");
  testing::expect_error(
      run(path), 2,
      {path + ":1:14: 'input.uri' must be a single value",
       path + ":2:10: 'workers' must be a whole number from 0 to 256, not 'a list or mapping'",
       path + ":3:14: 'drop_policy' must be a single value",
       path + ":6:12: option 'scale' must be a value or a list of values",
       path + ":7:5: stage 1: an option name must be a word",
       path + ":8:17: 'output.video' must be a single value",
       path + ":8:35: 'output.metadata' must be a single value",
       path + ":8:50: 'output.annotate' must be true or false",
       path + ":9:1: a key in the pipeline must be a name, not a list"});

  // A mapping where the list of stages goes.
  const std::string stages = write_file("stages.yaml", "input: x.mp4\nstages: {detector: hog}\n");
  testing::expect_error(run(stages), 2, {stages + ":2:9: 'stages' must be a list"});
}

TEST_F(HostilePipeline, MegabyteStringsGiveAShortMessageThatKeepsWhatToDo) {
  const std::string long_input =
      write_file("long-input.yaml",
                 "input: " + std::string(1'000'000, 'a') + ".mp4\nstages:\n  - detector: hog\n");
  const ProcessResult input_result = run(long_input);
  testing::expect_error(input_result, 2, {"input 'aaaa", "bytes left out", "check the path"});
  EXPECT_LT(input_result.err.size(), 4000u) << "the message quotes the whole value";

  const std::string long_value = write_file(
      "long-value.yaml", "input: " + input() + "\nstages:\n  - detector: hog\n    scale: \"" +
                             std::string(1'000'000, '1') + "\"\n");
  const ProcessResult value_result = run(long_value);
  testing::expect_error(value_result, 2,
                        {long_value + ":4:12: stage 1 (hog): option 'scale' has value '1111",
                         "bytes left out", "expected a number from 1 to 2"});
  EXPECT_LT(value_result.err.size(), 4000u) << "the message quotes the whole value";
}

TEST_F(HostilePipeline, BinaryGarbageAndAnEmptyFileAreRejectedNamingTheFile) {
  std::mt19937 random(5);
  std::string bytes(64 * 1024, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  const std::string garbage = write_file("garbage.yaml", bytes);
  const ProcessResult garbage_result = run(garbage);
  testing::expect_error(garbage_result, 2, {garbage + ":"});
  EXPECT_NE(garbage_result.err.find("not valid YAML"), std::string::npos) << garbage_result.err;

  const std::string empty = write_file("empty.yaml", "");
  testing::expect_error(
      run(empty), 2,
      {empty + ": a pipeline file is a mapping with the keys input", "see pipelines/people.yaml"});
}

TEST_F(HostilePipeline, AliasBombIsRejectedWithoutBeingExpanded) {
  // Nine levels of nine aliases each: 387 420 489 strings if anything expanded them.
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  const std::string names = "abcdefghi";
  for (std::size_t level = 1; level < names.size(); ++level) {
    const std::string alias = std::string("*") + names[level - 1];
    bomb += std::string(1, names[level]) + ": &" + names[level] + " [" + alias;
    for (int i = 1; i < 9; ++i) bomb += ", " + alias;
    bomb += "]\n";
  }
  bomb += "input: " + input() + "\nstages:\n  - detector: hog\n    scale: *i\noutput: *i\n";
  const std::string path = write_file("bomb.yaml", bomb);
  const ProcessResult result = run(path);
  // An alias has the position of what it names.
  testing::expect_error(result, 2,
                        {path + ":1:1: unknown key 'a' in the pipeline",
                         path + ":9:1: unknown key 'i' in the pipeline",
                         path + ":8:4: option 'scale' must be a value or a list of values",
                         path + ":9:4: 'output' must be a mapping"});
  EXPECT_LT(result.err.size(), 10'000u) << "the message grew with the expansion";
}

}  // namespace
}  // namespace lookout
