// A plain, obviously correct layout change for checking the kernel's own: per example,
// [rows x cols] -> [cols x rows], i.e. NHWC <-> NCHW with rows = H * W and cols = C (or back
// with the two swapped). Header-only, so the benchmark (bench/) uses it without the test tree.
#ifndef TCONV_TESTS_TESTING_LAYOUT_H_
#define TCONV_TESTS_TESTING_LAYOUT_H_

#include <cstdint>
#include <vector>

namespace tconv::testing {

inline std::vector<float> TransposeExamples(const std::vector<float>& from, int64_t batch,
                                            int64_t rows, int64_t cols) {
  std::vector<float> to(from.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        to[(b * cols + c) * rows + r] = from[(b * rows + r) * cols + c];
      }
    }
  }
  return to;
}

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_LAYOUT_H_
