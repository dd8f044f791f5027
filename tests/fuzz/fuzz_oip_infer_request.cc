// The Open Inference Protocol's ModelInfer request as the server receives it: the fuzz bytes
// parsed as a protobuf ModelInferRequest (what gRPC does with the wire bytes), then
// DecodeInferRequest. Whatever it accepts must hold product(shape) values; refusals are
// INVALID_ARGUMENT, or NOT_FOUND for a version.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "fuzz_proto.h"
#include "inference/grpc_service.pb.h"
#include "server/grpc/oip_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto decoded = tconv::server::DecodeInferRequest(request);
  if (!decoded.ok()) {
    const absl::StatusCode code = decoded.status().code();
    TCONV_FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                     code == absl::StatusCode::kNotFound);
    return 0;
  }
  int64_t elements = 1;
  for (int64_t dim : decoded->shape) {
    TCONV_FUZZ_CHECK(dim >= 1);
    elements *= dim;
  }
  TCONV_FUZZ_CHECK(static_cast<int64_t>(decoded->Input().size()) == elements);
  return 0;
}
