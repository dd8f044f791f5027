#include "fast_layout.h"

#include <algorithm>

namespace tconv::internal {

void TransposeBlock(Transpose8Fn transpose8, const float* from, int64_t from_stride, int64_t rows,
                    int64_t cols, float* to, int64_t to_stride) {
  auto element = [&](int64_t r, int64_t c) { to[c * to_stride + r] = from[r * from_stride + c]; };
  for (int64_t r0 = 0; r0 < rows; r0 += kTransposeBlock) {
    const int64_t r1 = std::min(rows, r0 + kTransposeBlock);
    for (int64_t c0 = 0; c0 < cols; c0 += kTransposeBlock) {
      const int64_t c1 = std::min(cols, c0 + kTransposeBlock);
      int64_t r = r0;
      for (; r + 8 <= r1; r += 8) {
        int64_t c = c0;
        for (; c + 8 <= c1; c += 8) {
          transpose8(from + r * from_stride + c, from_stride, to + c * to_stride + r, to_stride);
        }
        for (; c < c1; ++c) {
          for (int64_t i = r; i < r + 8; ++i) element(i, c);
        }
      }
      for (; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) element(r, c);
      }
    }
  }
}

}  // namespace tconv::internal
