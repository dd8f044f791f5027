#include "fma_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <thread>
#include <vector>

namespace tconv::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// 24 independent accumulator chains: enough to cover FMA latency x ports on current cores.
// Returns a value that depends on every chain so the loop cannot be removed.
__attribute__((target("avx512f,fma"))) float Loop512(int64_t iterations) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.0001f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 24  // keeps the accumulators in registers (GCC 12 leaves them in memory)
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 24; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  return lanes[0];
}

__attribute__((target("avx2,fma"))) float Loop256(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.0001f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0];
}

// FLOPs of one call with `iterations`, and the call itself.
double RunLoop(int bits, int64_t iterations, volatile float* sink) {
  if (bits == 512) {
    *sink = Loop512(iterations);
    return 2.0 * 24 * 16 * double(iterations);
  }
  *sink = Loop256(iterations);
  return 2.0 * 12 * 8 * double(iterations);
}

}  // namespace

FmaPeak MeasureFmaPeak(int threads, int max_bits, double seconds) {
  __builtin_cpu_init();
  FmaPeak peak;
  if (max_bits >= 512 && __builtin_cpu_supports("avx512f")) {
    peak.vector_bits = 512;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    peak.vector_bits = 256;
  } else {
    return peak;
  }
  // Calibrate the iteration count on one thread, then run all threads together.
  volatile float sink = 0;
  int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = Clock::now();
    RunLoop(peak.vector_bits, iterations, &sink);
    if (std::chrono::duration<double>(Clock::now() - start).count() > seconds / 4) break;
    iterations *= 2;
  }
  for (int trial = 0; trial < 3; ++trial) {
    // Each thread's rate over its own CPU time, summed: the hardware's peak even when other
    // processes share the cores (wall-clock timings of the benchmark do include them).
    std::vector<double> rate(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const double start = ThreadCpuSeconds();
        const double flops = RunLoop(peak.vector_bits, iterations, &sink);
        rate[t] = flops / (ThreadCpuSeconds() - start) * 1e-9;
      });
    }
    for (std::thread& w : workers) w.join();
    double total = 0;
    for (double r : rate) total += r;
    peak.gflops = std::max(peak.gflops, total);
  }
  return peak;
}

}  // namespace tconv::bench
