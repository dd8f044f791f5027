// Which microkernels the fast path uses on this CPU.
#ifndef TCONV_KERNEL_SRC_FAST_ISA_H_
#define TCONV_KERNEL_SRC_FAST_ISA_H_

#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {

// The best kernel set the CPU supports: AVX-512 (F/VL/BW/DQ), else AVX2 + FMA, else scalar.
// The environment variable TCONV_ISA=avx512|avx2|scalar caps the choice (a lower ISA only; a
// higher one than the CPU has is ignored), so tests and benchmarks can cover every path on one
// machine. Read at each call; only FastConv2DTranspose::Create calls it, so a layer keeps the
// set it was created with.
const KernelSet& SelectKernels();

// The L2 cache of one core in bytes, as glibc reports it (sysconf), within [256 KiB, 2 MiB];
// 512 KiB when it is not reported. Read once.
int64_t L2CacheBytes();

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_ISA_H_
