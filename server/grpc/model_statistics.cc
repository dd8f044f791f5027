// Triton's statistics extension (GRPCInferenceService.ModelStatistics): per layer and version,
// the core's InferenceStatistics, which count the same events /metrics exports. Kept apart from
// inference_service.cc so the Triton-only surface grows in its own files.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/inference_statistics.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/status_edge.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {
namespace {

void SetDuration(const StatisticDuration& from, inference::StatisticDuration* to) {
  to->set_count(static_cast<uint64_t>(from.count));
  to->set_ns(static_cast<uint64_t>(absl::ToInt64Nanoseconds(from.total)));
}

// tconv's kernel run reads its input and writes its output itself, so compute_input and
// compute_output are counted like compute_infer with no time of their own (Triton's clients,
// perf_analyzer among them, expect the three counts to match).
void SetCompute(const StatisticDuration& compute, inference::StatisticDuration* input,
                inference::StatisticDuration* infer, inference::StatisticDuration* output) {
  SetDuration({compute.count, absl::ZeroDuration()}, input);
  SetDuration(compute, infer);
  SetDuration({compute.count, absl::ZeroDuration()}, output);
}

void EncodeModelStatistics(const VersionStatistics& from, inference::ModelStatistics* to) {
  to->set_name(from.layer);
  to->set_version(absl::StrCat(from.version));
  to->set_last_inference(static_cast<uint64_t>(absl::ToUnixMillis(from.last_inference)));
  to->set_inference_count(static_cast<uint64_t>(from.inference_count));
  to->set_execution_count(static_cast<uint64_t>(from.execution_count));
  inference::InferStatistics* stats = to->mutable_inference_stats();
  SetDuration(from.success, stats->mutable_success());
  SetDuration(from.fail, stats->mutable_fail());
  SetDuration(from.queue, stats->mutable_queue());
  SetCompute(from.compute, stats->mutable_compute_input(), stats->mutable_compute_infer(),
             stats->mutable_compute_output());
  for (const auto& [batch_size, runs] : from.batches) {
    inference::InferBatchStatistics* batch = to->add_batch_stats();
    batch->set_batch_size(static_cast<uint64_t>(batch_size));
    SetCompute(runs, batch->mutable_compute_input(), batch->mutable_compute_infer(),
               batch->mutable_compute_output());
  }
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ModelStatistics(
    CallContext* context, const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  const std::string& name = request->name();
  if (name.empty() && !request->version().empty()) {
    return FinishNow(context,
                     absl::InvalidArgumentError(
                         "a version needs a model name; leave both empty for every model"));
  }
  if (!name.empty()) {
    if (absl::Status invalid = ValidateLayerName(name); !invalid.ok()) {
      return FinishNow(context, invalid);
    }
  }
  const std::vector<VersionStatistics> versions = options_.manager->statistics().Get(name);
  if (!name.empty() && versions.empty()) {
    return FinishNow(context, absl::NotFoundError(absl::StrCat("layer ", QuoteName(name),
                                                               " not found (no statistics: it is "
                                                               "not being served)")));
  }
  for (const VersionStatistics& version : versions) {
    if (!request->version().empty() && request->version() != absl::StrCat(version.version)) {
      continue;
    }
    EncodeModelStatistics(version, response->add_model_stats());
  }
  if (!request->version().empty() && response->model_stats().empty()) {
    return FinishNow(context, absl::NotFoundError(absl::StrCat("layer ", QuoteName(name),
                                                               " has no statistics for version ",
                                                               QuoteName(request->version()))));
  }
  return FinishNow(context, absl::OkStatus());
}

}  // namespace tconv::server
