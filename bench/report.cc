#include "report.h"

#include <cmath>
#include <cstdio>

namespace tconv::bench {
namespace {

double Gflops(double flops, double ms) { return ms > 0 ? flops / (ms * 1e6) : 0; }

// Geometric mean of the positive values; 0 when there are none.
struct GeoMean {
  double log_sum = 0;
  int count = 0;
  void Add(double v) {
    if (v > 0) {
      log_sum += std::log(v);
      ++count;
    }
  }
  double Value() const { return count > 0 ? std::exp(log_sum / count) : 0; }
};

void PrintCell(double value, const char* format) {
  if (value > 0) {
    std::printf(format, value);
  } else {
    std::printf("%*s", 8, "-");
  }
}

}  // namespace

double PrintTable(const Table& t) {
  std::printf("\n== %d thread%s; FMA peak %.1f GFLOP/s (%d-bit, measured now) ==\n", t.threads,
              t.threads == 1 ? "" : "s", t.peak_gflops, t.peak_bits);
  std::printf("%-26s %5s | %8s %8s %6s | %8s %8s | %7s | %7s %6s %7s\n", "case", "batch",
              "tconv ms", "GFLOP/s", "%peak", "dnnl ms", "GFLOP/s", "dnnl/tc", "cf/cl",
              t.threads > 1 ? "x1T" : "", "packMB");
  GeoMean tconv, onednn, ratio, cf, scaling;
  double worst = 0;
  const char* worst_name = "";
  int below = 0;
  for (const Row& r : t.rows) {
    const double tg = Gflops(r.flops, r.tconv_ms), og = Gflops(r.flops, r.onednn_ms);
    const double q = r.tconv_ms > 0 && r.onednn_ms > 0 ? r.onednn_ms / r.tconv_ms : 0;
    const double c = r.tconv_ms > 0 && r.tconv_cf_ms > 0 ? r.tconv_cf_ms / r.tconv_ms : 0;
    const double x = r.tconv_ms > 0 && r.tconv_1t_ms > 0 ? r.tconv_1t_ms / r.tconv_ms : 0;
    std::printf("%-26s %5lld | ", r.name.c_str(), static_cast<long long>(r.batch));
    PrintCell(r.tconv_ms, "%8.3f");
    std::printf(" ");
    PrintCell(tg, "%8.1f");
    std::printf(" %5.0f%% | ", t.peak_gflops > 0 ? 100 * tg / t.peak_gflops : 0.0);
    PrintCell(r.onednn_ms, "%8.3f");
    std::printf(" ");
    PrintCell(og, "%8.1f");
    std::printf(" | ");
    PrintCell(q, "%7.2f");
    std::printf(" | ");
    PrintCell(c, "%7.2f");
    std::printf(" ");
    if (t.threads > 1) {
      PrintCell(x, "%6.2f");
    } else {
      std::printf("%6s", "");
    }
    std::printf(" %7.1f\n", double(r.packed_bytes) / (1 << 20));
    tconv.Add(tg);
    onednn.Add(og);
    ratio.Add(q);
    cf.Add(c);
    scaling.Add(x);
    if (q > 0 && (worst == 0 || q < worst)) {
      worst = q;
      worst_name = r.name.c_str();
    }
    if (q > 0 && q < 0.9) ++below;
  }
  std::printf("geomean: tconv %.1f GFLOP/s (%.0f%% of peak), oneDNN %.1f GFLOP/s, "
              "oneDNN/tconv time %.2f over %d cases; worst %.2f (%s), %d below 0.9; "
              "channels_first/last %.2f",
              tconv.Value(), t.peak_gflops > 0 ? 100 * tconv.Value() / t.peak_gflops : 0.0,
              onednn.Value(), ratio.Value(), ratio.count, worst, worst_name, below, cf.Value());
  if (scaling.count > 0) std::printf("; speed-up over 1 thread %.2f", scaling.Value());
  std::printf("\n");
  return ratio.Value();
}

}  // namespace tconv::bench
