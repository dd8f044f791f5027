// The control plane: tconv.v1.LayerService over a LayerManager. Writes (create, replace,
// delete: validation, weight packing, an fsynced write to the repository) run on the server's
// SerialExecutor, not on gRPC's threads; reads are answered at once. Inference never waits on
// either.
#ifndef TCONV_SERVER_GRPC_LAYER_SERVICE_H_
#define TCONV_SERVER_GRPC_LAYER_SERVICE_H_

#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/grpc/auth.h"
#include "server/grpc/serial_executor.h"
#include "tconv/v1/layer_service.grpc.pb.h"

namespace tconv::server {

class LayerService final : public tconv::v1::LayerService::CallbackService {
 public:
  struct Options {
    LayerManager* manager = nullptr;    // required; must outlive the service
    SerialExecutor* control = nullptr;  // required; runs the writes; must outlive the service
    // Its authorizer may be null (no token required) and must outlive the service.
    // Create/Delete are kControl, Get/List kRead.
    Access access;
  };
  explicit LayerService(Options options);

  using CallContext = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* CreateLayer(CallContext* context,
                                        const tconv::v1::CreateLayerRequest* request,
                                        tconv::v1::CreateLayerResponse* response) override;
  grpc::ServerUnaryReactor* GetLayer(CallContext* context,
                                     const tconv::v1::GetLayerRequest* request,
                                     tconv::v1::GetLayerResponse* response) override;
  grpc::ServerUnaryReactor* ListLayers(CallContext* context,
                                       const tconv::v1::ListLayersRequest* request,
                                       tconv::v1::ListLayersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteLayer(CallContext* context,
                                        const tconv::v1::DeleteLayerRequest* request,
                                        tconv::v1::DeleteLayerResponse* response) override;

 private:
  const Options options_;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_LAYER_SERVICE_H_
