#include "fast_isa.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace tconv::internal {
namespace {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

Isa CpuIsa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    return Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa RequestedIsa() {
  const char* env = std::getenv("TCONV_ISA");
  const std::string_view name = env == nullptr ? "" : env;
  if (name == "scalar") return Isa::kScalar;
  if (name == "avx2") return Isa::kAvx2;
  return Isa::kAvx512;
}

}  // namespace

const KernelSet& SelectKernels() {
  const Isa cpu = CpuIsa();
  const Isa requested = RequestedIsa();
  const Isa isa = static_cast<int>(requested) < static_cast<int>(cpu) ? requested : cpu;
  switch (isa) {
    case Isa::kAvx512:
      return Avx512Kernels();
    case Isa::kAvx2:
      return Avx2Kernels();
    case Isa::kScalar:
      break;
  }
  return ScalarKernels();
}

int64_t L2CacheBytes() {
  static const int64_t bytes = [] {
    const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (reported <= 0) return int64_t{512} << 10;
    return std::clamp<int64_t>(reported, int64_t{256} << 10, int64_t{2} << 20);
  }();
  return bytes;
}

}  // namespace tconv::internal
