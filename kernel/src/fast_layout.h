// Layout changes for the fast path's channels_first (NCHW) entry: cache-blocked transposes.
// Pure functions of pointers and sizes; the channels_first entry (fast_tiled_channels_first.cc)
// spreads them over threads.
#ifndef TCONV_KERNEL_SRC_FAST_LAYOUT_H_
#define TCONV_KERNEL_SRC_FAST_LAYOUT_H_

#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {

// Rows per block of TransposeBlock: a 32 x 32 float block is 4 KiB on each side.
inline constexpr int64_t kTransposeBlock = 32;

// to[c * to_stride + r] = from[r * from_stride + c] for r < rows and c < cols, in 32 x 32
// blocks so that both sides are read and written a cache line at a time; 8 x 8 tiles go
// through `transpose8` (the kernel set's).
void TransposeBlock(Transpose8Fn transpose8, const float* from, int64_t from_stride, int64_t rows,
                    int64_t cols, float* to, int64_t to_stride);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_LAYOUT_H_
