// The machine's FP32 FMA peak, measured by a throughput loop in the running process (shared,
// noisy machines: only numbers from the same run compare).
#ifndef TCONV_BENCH_FMA_PEAK_H_
#define TCONV_BENCH_FMA_PEAK_H_

namespace tconv::bench {

struct FmaPeak {
  int vector_bits = 0;  // widest FMA the CPU has: 512, 256 or 0 (none)
  double gflops = 0;    // with that width, summed over the threads
};

// Runs `threads` copies of an independent-FMA loop for about `seconds` and returns the best of
// a few trials, each thread timed on its own CPU time. 256-bit when `max_bits` is 256 even if the
// CPU has AVX-512.
FmaPeak MeasureFmaPeak(int threads, int max_bits, double seconds = 0.2);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_FMA_PEAK_H_
