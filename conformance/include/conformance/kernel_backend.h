// Runs conformance cases on the local kernel library (tconv::kernel), in process.
#ifndef TCONV_CONFORMANCE_KERNEL_BACKEND_H_
#define TCONV_CONFORMANCE_KERNEL_BACKEND_H_

#include "conformance/conformance.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::tool {

class KernelBackend : public ConformanceBackend {
 public:
  // `pool` must outlive the backend.
  KernelBackend(Implementation implementation, const ComputePool& pool)
      : implementation_(implementation), pool_(pool) {}

  // LayerConfig::FromJson + Conv2DTranspose::Create + Run. A case without a kernel gets
  // weights from the config's initializers (seed 0); one without input gets zeros.
  absl::StatusOr<ConformanceOutput> Run(const ConformanceCase& c) override;

 private:
  Implementation implementation_;
  const ComputePool& pool_;
};

}  // namespace tconv::tool

#endif  // TCONV_CONFORMANCE_KERNEL_BACKEND_H_
