// tconv's own control plane: LayerService.CreateLayer's request (Keras JSON plus raw float32
// weights): the fuzz bytes parsed as a CreateLayerRequest, DecodeLayerSpec, then CreateLayer on
// a real LayerManager as the layer service does.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "fuzz_layer_manager.h"
#include "fuzz_proto.h"
#include "server/grpc/layer_codec.h"
#include "tconv/v1/layer_service.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tconv::v1::CreateLayerRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto spec = tconv::server::DecodeLayerSpec(request, tconv::server::BatchingOptions{});
  if (!spec.ok()) {
    TCONV_FUZZ_CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  tconv::fuzz::CreateAndDelete(*std::move(spec));
  return 0;
}
