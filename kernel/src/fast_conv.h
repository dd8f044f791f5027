// The fast path of Conv2DTranspose: SIMD microkernels chosen for the CPU once, when the layer is
// created (fast_isa.h), weights packed for them, parallel over the ComputePool. Internal to the
// kernel library.
#ifndef TCONV_KERNEL_SRC_FAST_CONV_H_
#define TCONV_KERNEL_SRC_FAST_CONV_H_

#include <cstdint>
#include <memory>

#include "microkernels.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

class FastConv2DTranspose {
 public:
  // `config` is already validated and `weights` sized to it (Conv2DTranspose::Create checks).
  static std::unique_ptr<const FastConv2DTranspose> Create(const LayerConfig& config,
                                                           int64_t in_channels,
                                                           const LayerWeights& weights);
  virtual ~FastConv2DTranspose() = default;

  // The kernel set the layer was built for and runs with, whatever TCONV_ISA says later.
  const KernelSet& kernels() const { return kernels_; }

  // NHWC input (batch, in_h, in_w, in_channels) -> NHWC output (batch, out_h, out_w, filters)
  // with the bias added and no activation. Each example's result must not depend on `batch`
  // or on the pool's thread count (bit-for-bit).
  virtual void Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
                   const ComputePool& pool) const = 0;

  // The same for channels_first: NCHW input (batch, in_channels, in_h, in_w) -> NCHW output
  // (batch, filters, out_h, out_w), bit for bit the channels_last answer transposed. The tiled
  // path computes in NHWC between two transposes, the col path reads and writes NCHW directly;
  // both through per-thread scratch buffers that are kept (up to a size limit), so warm calls
  // do not allocate.
  virtual void RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                                float* output, const ComputePool& pool) const = 0;

  // Whether Run and RunChannelsFirst leave the config's activation applied (the microkernels
  // did it as they stored the output), so the layer's separate pass must be skipped.
  virtual bool AppliesActivation() const { return false; }

  // Bytes of packed weights held.
  virtual int64_t packed_bytes() const = 0;

 protected:
  explicit FastConv2DTranspose(const KernelSet& kernels) : kernels_(kernels) {}

 private:
  const KernelSet& kernels_;
};

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_CONV_H_
