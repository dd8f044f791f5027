// A test fixture run once per instruction set: layers created while it is active use the
// parameter's kernel set (TCONV_ISA), and a set this CPU lacks is skipped, not faked.
#ifndef TCONV_TESTS_KERNEL_ISA_TEST_H_
#define TCONV_TESTS_KERNEL_ISA_TEST_H_

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace tconv::testing {

inline bool CpuHas(const std::string& isa) {
  __builtin_cpu_init();
  if (isa == "avx512") {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  }
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
}

class IsaTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!CpuHas(GetParam())) GTEST_SKIP() << "this CPU has no " << GetParam();
    setenv("TCONV_ISA", GetParam().c_str(), 1);
  }
  void TearDown() override { unsetenv("TCONV_ISA"); }
};

// The parameters of an IsaTest suite: every kernel set the fast path has.
inline auto AllIsas() { return ::testing::Values("avx512", "avx2", "scalar"); }

}  // namespace tconv::testing

#endif  // TCONV_TESTS_KERNEL_ISA_TEST_H_
