#include "fast_layout.h"

#include <algorithm>

namespace tconv::internal {

void TransposeRows(Transpose8Fn transpose8, const float* from, int64_t rows, int64_t cols,
                   int64_t r0, int64_t r1, float* to) {
  for (int64_t rb = r0; rb < r1; rb += kTransposeBlock) {
    const int64_t re = std::min(r1, rb + kTransposeBlock);
    for (int64_t c0 = 0; c0 < cols; c0 += kTransposeBlock) {
      const int64_t c1 = std::min(cols, c0 + kTransposeBlock);
      int64_t r = rb;
      for (; r + 8 <= re; r += 8) {
        int64_t c = c0;
        for (; c + 8 <= c1; c += 8) transpose8(from + r * cols + c, cols, to + c * rows + r, rows);
        for (; c < c1; ++c) {
          for (int64_t i = r; i < r + 8; ++i) to[c * rows + i] = from[i * cols + c];
        }
      }
      for (; r < re; ++r) {
        for (int64_t c = c0; c < c1; ++c) to[c * rows + r] = from[r * cols + c];
      }
    }
  }
}

}  // namespace tconv::internal
