// Layout changes for the fast path's channels_first (NCHW) entry: cache-blocked transposes.
// Pure functions of pointers and sizes; the driver (fast_conv.cc) spreads them over threads.
#ifndef TCONV_KERNEL_SRC_FAST_LAYOUT_H_
#define TCONV_KERNEL_SRC_FAST_LAYOUT_H_

#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {

// Rows per block of TransposeRows: a 32 x 32 float block is 4 KiB on each side.
inline constexpr int64_t kTransposeBlock = 32;

// For a row-major [rows x cols] matrix `from` and the [cols x rows] matrix `to`:
// to[c * rows + r] = from[r * cols + c] for rows r in [r0, r1), in 32 x 32 blocks so that
// both sides are read and written a cache line at a time; 8 x 8 tiles go through
// `transpose8` (the kernel set's).
void TransposeRows(Transpose8Fn transpose8, const float* from, int64_t rows, int64_t cols,
                   int64_t r0, int64_t r1, float* to);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_LAYOUT_H_
