// Portable microkernels: the fallback for CPUs without AVX2/FMA and the path TCONV_ISA=scalar
// forces. Plain loops (the compiler may vectorise them over channels; that keeps each
// element's order of accumulation).
#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {
namespace {

constexpr int kMr = 4;
constexpr int kNr = 8;
constexpr int kDotMr = 4;

void Gemm(int64_t m, int64_t kc, const float* const* a, int64_t c0, const float* b,
          const float* init, float* const* out, int64_t n_valid) {
  float acc[kMr][kNr] = {};
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t n = 0; n < kNr; ++n) {
      acc[r][n] = init != nullptr ? init[n] : n < n_valid ? out[r][n] : 0.0f;
    }
    const float* ap = a[r] + c0;
    const float* bp = b;
    for (int64_t c = 0; c < kc; ++c, bp += kNr) {
      for (int n = 0; n < kNr; ++n) acc[r][n] += ap[c] * bp[n];
    }
  }
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t n = 0; n < n_valid && n < kNr; ++n) out[r][n] = acc[r][n];
  }
}

void Dot(int64_t m, int64_t f, int64_t kc, int64_t ntaps, const float* const* a,
         const float* const* w, const float* bias, float* const* out) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < f; ++j) {
      float sum = 0.0f;
      for (int64_t t = 0; t < ntaps; ++t) {
        const float* ap = a[t * m + r];
        const float* wp = w[t] + j * kc;
        for (int64_t c = 0; c < kc; ++c) sum += ap[c] * wp[c];
      }
      out[r][j] = sum + bias[j];
    }
  }
}

// Through a small buffer: eight contiguous reads, eight contiguous writes.
void Transpose8(const float* from, int64_t from_stride, float* to, int64_t to_stride) {
  float tile[8][8];
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c) tile[c][r] = from[r * from_stride + c];
  }
  for (int c = 0; c < 8; ++c) {
    for (int r = 0; r < 8; ++r) to[c * to_stride + r] = tile[c][r];
  }
}

}  // namespace

const KernelSet& ScalarKernels() {
  static const KernelSet kSet = [] {
    KernelSet s;
    s.isa = "scalar";
    s.gemm[0] = {kMr, kNr, Gemm};
    s.num_gemm = 1;
    for (int& mr : s.dot_mr) mr = kDotMr;
    s.dot = Dot;
    s.transpose8 = Transpose8;
    return s;
  }();
  return kSet;
}

}  // namespace tconv::internal
