// The Open Inference Protocol's RepositoryModelLoad carrying a layer (parameters "config",
// "file:kernel.npy", "file:bias.npy", "in_channels", "seed"): the fuzz bytes parsed as a
// RepositoryModelLoadRequest, DecodeRepositoryLoad, then CreateLayer on a real LayerManager as
// the repository service does.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "fuzz_layer_manager.h"
#include "fuzz_proto.h"
#include "inference/grpc_service.pb.h"
#include "server/grpc/oip_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inference::RepositoryModelLoadRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto spec = tconv::server::DecodeRepositoryLoad(request);
  if (!spec.ok()) {
    TCONV_FUZZ_CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  tconv::fuzz::CreateAndDelete(*std::move(spec));
  return 0;
}
