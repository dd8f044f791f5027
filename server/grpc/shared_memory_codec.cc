#include "server/grpc/shared_memory_codec.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc/oip_codec.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server {
namespace {

constexpr char kRegion[] = "shared_memory_region";
constexpr char kByteSize[] = "shared_memory_byte_size";
constexpr char kOffset[] = "shared_memory_offset";

// A non-negative int64 parameter; `fallback` when absent and not `required`.
absl::StatusOr<uint64_t> SizeParameter(const TensorParameters& parameters, const char* key,
                                       absl::string_view tensor, bool required) {
  auto it = parameters.find(key);
  if (it == parameters.end()) {
    if (!required) return 0;
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor, "' names a ", kRegion, " but no ", key, " (int64_param)"));
  }
  if (it->second.parameter_choice_case() != inference::InferParameter::kInt64Param ||
      it->second.int64_param() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", key, " of tensor '", tensor,
                                                   "' must be a non-negative int64_param"));
  }
  return static_cast<uint64_t>(it->second.int64_param());
}

// The tensor's `expected_bytes` in its region. An input must declare exactly that size; an
// output may declare more (Triton's rule: clients such as perf_analyzer reserve a fixed size).
absl::StatusOr<SharedMemoryTensor> Locate(const TensorParameters& parameters,
                                          const SharedMemoryRegistry* registry,
                                          absl::string_view tensor, int64_t expected_bytes,
                                          bool is_output) {
  if (registry == nullptr) {
    return absl::UnimplementedError("this server does not serve shared memory tensors");
  }
  const inference::InferParameter& region = parameters.at(kRegion);
  if (region.parameter_choice_case() != inference::InferParameter::kStringParam) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", kRegion, " of tensor '", tensor, "' must be a string_param"));
  }
  ASSIGN_OR_RETURN(uint64_t byte_size, SizeParameter(parameters, kByteSize, tensor, true));
  ASSIGN_OR_RETURN(uint64_t offset, SizeParameter(parameters, kOffset, tensor, false));
  const uint64_t expected = static_cast<uint64_t>(expected_bytes);
  if (is_output ? byte_size < expected : byte_size != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", tensor, "' has ", kByteSize, " ", byte_size, "; its shape of FP32 needs ",
        is_output ? "at least " : "", expected_bytes, " bytes"));
  }
  SharedMemoryTensor located;
  ASSIGN_OR_RETURN(located.region, registry->Find(region.string_param()));
  ASSIGN_OR_RETURN(absl::Span<char> declared, located.region->Slice(offset, byte_size));
  located.bytes = declared.subspan(0, expected);
  return located;
}

}  // namespace

bool UsesSharedMemory(const TensorParameters& parameters) {
  return parameters.find(kRegion) != parameters.end();
}

absl::StatusOr<std::vector<float>> ReadSharedMemoryInput(
    const inference::ModelInferRequest& request, const SharedMemoryRegistry* registry,
    int64_t elements) {
  const auto& input = request.inputs(0);
  if (request.raw_input_contents_size() > 0 || input.has_contents()) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", input.name(), "' names a ", kRegion,
                     "; expected no raw_input_contents and no typed contents with it"));
  }
  const int64_t bytes = elements * static_cast<int64_t>(sizeof(float));
  ASSIGN_OR_RETURN(SharedMemoryTensor tensor,
                   Locate(input.parameters(), registry, input.name(), bytes, false));
  std::vector<float> values(elements);
  std::memcpy(values.data(), tensor.bytes.data(), tensor.bytes.size());
  return values;
}

absl::StatusOr<std::optional<SharedMemoryTensor>> BindSharedMemoryOutput(
    const inference::ModelInferRequest& request, const SharedMemoryRegistry* registry,
    const Shape4& output_shape) {
  for (const auto& output : request.outputs()) {
    if (!UsesSharedMemory(output.parameters())) continue;
    const int64_t bytes = output_shape[0] * output_shape[1] * output_shape[2] * output_shape[3] *
                          static_cast<int64_t>(sizeof(float));
    ASSIGN_OR_RETURN(SharedMemoryTensor tensor,
                     Locate(output.parameters(), registry, output.name(), bytes, true));
    return std::optional<SharedMemoryTensor>(std::move(tensor));
  }
  return std::optional<SharedMemoryTensor>();
}

OutputBuffer SharedMemoryOutputBuffer(const SharedMemoryTensor& output) {
  if (reinterpret_cast<uintptr_t>(output.bytes.data()) % alignof(float) != 0) return nullptr;
  auto spill = std::make_shared<std::vector<float>>();
  return [output, spill](int64_t values) {
    if (static_cast<size_t>(values) * sizeof(float) == output.bytes.size()) {
      return absl::MakeSpan(reinterpret_cast<float*>(output.bytes.data()), values);
    }
    spill->resize(values);
    return absl::MakeSpan(*spill);
  };
}

absl::Status EncodeInferAnswer(const inference::ModelInferRequest& request,
                               const InferenceResult& result,
                               const std::optional<SharedMemoryTensor>& output,
                               inference::ModelInferResponse* response) {
  if (!output.has_value()) {
    EncodeInferResponse(request, result, response);
    return absl::OkStatus();
  }
  int64_t values = result.shape[0];
  for (int i = 1; i < 4; ++i) values *= result.shape[i];
  const size_t bytes = static_cast<size_t>(values) * sizeof(float);
  if (bytes != output->bytes.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the answer has ", bytes, " bytes but its shared memory output was bound for ",
        output->bytes.size(), ": the layer changed while the request waited; send it again"));
  }
  if (!result.output_in_buffer) std::memcpy(output->bytes.data(), result.output.data(), bytes);
  EncodeInferResponse(request, result, response, /*raw_output=*/false);
  return absl::OkStatus();
}

}  // namespace tconv::server
