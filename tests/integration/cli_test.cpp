// The command's own surface: help, version, validate, and the shipped pipeline files.

#include <gtest/gtest.h>

#include "support/process.h"

namespace lookout {
namespace {

using testing::run_lookout;

std::string pipeline(const std::string& name) { return std::string(LOOKOUT_SOURCE_DIR) + "/pipelines/" + name; }

TEST(Cli, VersionPrintsTheVersion) {
  const auto result = run_lookout({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("lookout 0."), std::string::npos) << result.out;
}

TEST(Cli, HelpListsTheCommands) {
  const auto result = run_lookout({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("run"), std::string::npos);
  EXPECT_NE(result.out.find("validate"), std::string::npos);
}

TEST(Cli, RunHelpListsEveryFlag) {
  const auto result = run_lookout({"run", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag : {"--input", "--detector", "--cascade", "--opt", "--output", "--metadata", "--workers"}) {
    EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
  }
}

TEST(Cli, NoCommandIsAUsageError) { EXPECT_EQ(run_lookout({}).exit_code, 2); }

TEST(Cli, RunWithNothingToRunIsAUsageError) {
  const auto result = run_lookout({"run"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("nothing to run"), std::string::npos) << result.err;
}

TEST(Cli, ShippedPipelinesValidate) {
  for (const char* name : {"people.yaml", "faces.yaml"}) {
    const auto result = run_lookout({"validate", pipeline(name)});
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
    EXPECT_NE(result.out.find(": ok"), std::string::npos) << result.out;
  }
}

}  // namespace
}  // namespace lookout
