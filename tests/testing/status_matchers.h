// gMock matchers for absl::Status / absl::StatusOr (Abseil 20220623 ships none):
//   EXPECT_THAT(DoIt(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filters")));
//   EXPECT_THAT(MakeIt(), IsOkAndHolds(42));
//   ASSERT_OK(status_or_statusor);
#ifndef TCONV_TESTS_TESTING_STATUS_MATCHERS_H_
#define TCONV_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace tconv::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + std::string(absl::StatusCodeToString(code))) {
  const absl::Status& status = ::tconv::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(StatusIs, code, "has status code " + std::string(absl::StatusCodeToString(code))) {
  const absl::Status& status = ::tconv::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace tconv::testing

#define ASSERT_OK(expr)                                                     \
  do {                                                                      \
    const ::absl::Status tconv_status_ = ::tconv::testing::GetStatus(expr); \
    ASSERT_TRUE(tconv_status_.ok()) << tconv_status_;                       \
  } while (false)
#define EXPECT_OK(expr)                                                     \
  do {                                                                      \
    const ::absl::Status tconv_status_ = ::tconv::testing::GetStatus(expr); \
    EXPECT_TRUE(tconv_status_.ok()) << tconv_status_;                       \
  } while (false)

#endif  // TCONV_TESTS_TESTING_STATUS_MATCHERS_H_
