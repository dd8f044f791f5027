// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status. Abseil 20220623 (Debian 12) does not
// ship its status macros, so tconv keeps these two under the names later Abseil uses.
#ifndef TCONV_STATUS_STATUS_MACROS_H_
#define TCONV_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TCONV_STATUS_CONCAT_INNER_(a, b) a##b
#define TCONV_STATUS_CONCAT_(a, b) TCONV_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function when not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status tconv_status_ = (expr);         \
    if (!tconv_status_.ok()) return tconv_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns `x` from an absl::StatusOr, or returns
// its status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  TCONV_ASSIGN_OR_RETURN_IMPL_(TCONV_STATUS_CONCAT_(tconv_statusor_, __LINE__), lhs, expr)
#define TCONV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // TCONV_STATUS_STATUS_MACROS_H_
