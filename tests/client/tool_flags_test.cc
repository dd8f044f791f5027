// The tool's flag parsing: booleans and durations are read in one place (Flags), so that
// "--progress=false" or "--replace=false" mean false and every duration flag takes the same
// spellings.
#include "flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace tconv::tool {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

constexpr FlagSpec kSpecs[] = {{"progress", true}, {"replace", true}, {"timeout"}, {"name"}};

absl::StatusOr<Flags> Parse(std::vector<std::string> args) { return Flags::Parse(args, kSpecs); }

TEST(ToolFlagsTest, BooleansMeanWhatTheySay) {
  for (const auto& [arg, expected] :
       std::vector<std::pair<std::string, bool>>{{"--progress", true},
                                                 {"--progress=true", true},
                                                 {"--progress=1", true},
                                                 {"--progress=yes", true},
                                                 {"--progress=TRUE", true},
                                                 {"--progress=false", false},
                                                 {"--progress=0", false},
                                                 {"--progress=no", false},
                                                 {"--progress=False", false}}) {
    absl::StatusOr<Flags> flags = Parse({arg});
    ASSERT_TRUE(flags.ok()) << arg;
    EXPECT_THAT(flags->GetBool("progress", !expected), IsOkAndHolds(expected)) << arg;
  }
  absl::StatusOr<Flags> none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->GetBool("progress", true), IsOkAndHolds(true));
  EXPECT_THAT(none->GetBool("progress", false), IsOkAndHolds(false));
  absl::StatusOr<Flags> bad = Parse({"--replace=maybe"});
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(bad->GetBool("replace", false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--replace must be true or false (or given alone for true), "
                                 "got \"maybe\"")));
  // A boolean flag alone does not take the next argument as its value.
  absl::StatusOr<Flags> next = Parse({"--progress", "false"});
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(next->GetBool("progress", false), IsOkAndHolds(true));
  EXPECT_EQ(next->positional(), std::vector<std::string>{"false"});
}

TEST(ToolFlagsTest, DurationsTakeOneSetOfSpellings) {
  for (const auto& [text, expected] :
       std::vector<std::pair<std::string, absl::Duration>>{{"30s", absl::Seconds(30)},
                                                           {"500ms", absl::Milliseconds(500)},
                                                           {"2m", absl::Minutes(2)},
                                                           {"1h30m", absl::Minutes(90)},
                                                           {"2.5", absl::Milliseconds(2500)},
                                                           {"7", absl::Seconds(7)}}) {
    absl::StatusOr<Flags> flags = Parse({"--timeout=" + text});
    ASSERT_TRUE(flags.ok()) << text;
    EXPECT_THAT(flags->GetDuration("timeout", absl::Seconds(1)), IsOkAndHolds(expected)) << text;
  }
  absl::StatusOr<Flags> none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->GetDuration("timeout", absl::Seconds(30)), IsOkAndHolds(absl::Seconds(30)));
  for (const char* bad : {"0", "0s", "-1s", "soon", "", "inf"}) {
    absl::StatusOr<Flags> flags = Parse({std::string("--timeout=") + bad});
    ASSERT_TRUE(flags.ok()) << bad;
    EXPECT_THAT(flags->GetDuration("timeout", absl::Seconds(1)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("--timeout must be a positive duration")))
        << bad;
  }
  absl::StatusOr<Flags> long_one = Parse({"--timeout=25h"});
  ASSERT_TRUE(long_one.ok());
  EXPECT_THAT(long_one->GetDuration("timeout", absl::Seconds(1), absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("up to 24h")));
}

}  // namespace
}  // namespace tconv::tool
