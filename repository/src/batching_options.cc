#include "tconv/repository/batching_options.h"

#include "absl/strings/str_cat.h"

namespace tconv::server {
namespace {

// Limits of BatchingOptions::Validate: beyond them a setting is a typo, not a configuration.
constexpr int64_t kMaxBatchSizeLimit = 4096;
constexpr absl::Duration kMaxBatchTimeout = absl::Seconds(10);
constexpr int64_t kMaxQueueSizeLimit = 1'000'000;

}  // namespace

absl::Status BatchingOptions::Validate() const {
  if (max_batch_size < 1 || max_batch_size > kMaxBatchSizeLimit) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_size must be in [1, ",
                                                   kMaxBatchSizeLimit, "], got ", max_batch_size));
  }
  if (batch_timeout < absl::ZeroDuration() || batch_timeout > kMaxBatchTimeout) {
    return absl::InvalidArgumentError(absl::StrCat("batch_timeout must be in [0, ",
                                                   absl::FormatDuration(kMaxBatchTimeout),
                                                   "], got ", absl::FormatDuration(batch_timeout)));
  }
  if (max_queue_size < 1 || max_queue_size > kMaxQueueSizeLimit) {
    return absl::InvalidArgumentError(absl::StrCat("max_queue_size must be in [1, ",
                                                   kMaxQueueSizeLimit, "], got ", max_queue_size));
  }
  return absl::OkStatus();
}

}  // namespace tconv::server
