// The layer-name rule every entry point shares, and how names are quoted in messages.
#include "tconv/repository/layer_name.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace tconv::server {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(LayerNameTest, AcceptsTheDocumentedCharactersAndLengths) {
  for (const std::string& name :
       std::vector<std::string>{"a", "Gen_1.v2-b", "9", "a..b", std::string(128, 'x')}) {
    EXPECT_TRUE(ValidateLayerName(name).ok()) << name;
  }
}

TEST(LayerNameTest, RefusesEverythingElseStatingTheRule) {
  for (const std::string& name :
       std::vector<std::string>{"", ".hidden", "-x", "_x", "a/b", "..", "a b", "é", "a\nb",
                                std::string("a\0b", 3), std::string(129, 'x')}) {
    EXPECT_THAT(ValidateLayerName(name),
                StatusIs(kInvalid, HasSubstr("1 to 128 characters of [A-Za-z0-9_.-], starting "
                                             "with a letter or digit")))
        << name;
  }
}

TEST(LayerNameTest, AHugeNameIsQuotedCutWithItsLength) {
  const std::string huge(10240, 'x');
  const absl::Status status = ValidateLayerName(huge);
  EXPECT_THAT(status,
              StatusIs(kInvalid, HasSubstr("'" + std::string(64, 'x') + "...' (10240 bytes)")));
  EXPECT_LT(status.message().size(), 300u);
  EXPECT_THAT(status.message(), Not(HasSubstr(std::string(65, 'x'))));
}

TEST(LayerNameTest, QuoteNameKeepsShortTextWhole) {
  EXPECT_EQ(QuoteName("g3"), "'g3'");
  EXPECT_EQ(QuoteName(std::string(64, 'y')), "'" + std::string(64, 'y') + "'");
  EXPECT_EQ(QuoteName(std::string(65, 'y')), "'" + std::string(64, 'y') + "...' (65 bytes)");
}

}  // namespace
}  // namespace tconv::server
