#include "report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

namespace tconv::bench {
namespace {

double Gflops(double flops, double ms) { return ms > 0 ? flops / (ms * 1e6) : 0; }

// a / b when both were measured, else 0.
double Ratio(double a, double b) { return a > 0 && b > 0 ? a / b : 0; }

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

// The faster peer of a row: its time (-1 when no peer was measured) and short name.
struct Best {
  double ms = -1;
  const char* name = "-";
};

Best BestPeer(const Row& r) {
  Best best;
  if (r.onednn_ms > 0) best = {r.onednn_ms, "dnnl"};
  if (r.torch_ms > 0 && (best.ms < 0 || r.torch_ms < best.ms)) best = {r.torch_ms, "torch"};
  return best;
}

void PrintHeader(const Table& t) {
  std::printf("\n== %d thread%s; FMA peak %.1f GFLOP/s (%d-bit, measured now) ==\n", t.threads,
              t.threads == 1 ? "" : "s", t.peak_gflops, t.peak_bits);
  std::printf("%-26s %5s | %8s %8s %6s | %8s %8s | %8s %8s | %7s %7s %5s | %7s %6s %7s\n", "case",
              "batch", "tconv ms", "GFLOP/s", "%peak", "dnnl ms", "GFLOP/s", "torch ms", "GFLOP/s",
              "dnnl/tc", "best/tc", "best", "cf/cl", t.threads > 1 ? "x1T" : "", "packMB");
}

void PrintRow(const Table& t, const Row& r) {
  const Best best = BestPeer(r);
  const double tg = Gflops(r.flops, r.tconv_ms);
  std::printf("%-26s %5lld | ", r.name.c_str(), static_cast<long long>(r.batch));
  PrintCell(r.tconv_ms, "%8.3f");
  std::printf(" ");
  PrintCell(tg, "%8.1f");
  std::printf(" %5.0f%% | ", t.peak_gflops > 0 ? 100 * tg / t.peak_gflops : 0.0);
  for (double ms : {r.onednn_ms, r.torch_ms}) {
    PrintCell(ms, "%8.3f");
    std::printf(" ");
    PrintCell(Gflops(r.flops, ms), "%8.1f");
    std::printf(" | ");
  }
  PrintCell(Ratio(r.onednn_ms, r.tconv_ms), "%7.2f");
  std::printf(" ");
  PrintCell(Ratio(best.ms, r.tconv_ms), "%7.2f");
  std::printf(" %5s | ", best.name);
  PrintCell(Ratio(r.tconv_cf_ms, r.tconv_ms), "%7.2f");
  std::printf(" ");
  if (t.threads > 1) {
    PrintCell(Ratio(r.tconv_1t_ms, r.tconv_ms), "%6.2f");
  } else {
    std::printf("%6s", "");
  }
  std::printf(" %7.1f\n", double(r.packed_bytes) / (1 << 20));
}

// "12.3", or "-" when nothing was measured.
std::string OneDecimal(double value) {
  char text[32] = "-";
  if (value > 0) std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

// The lines under a table: geometric means, which peer won how often, the worst case.
struct Summary {
  GeoMean tconv, onednn, torch, best_peer, onednn_ratio, best_ratio, cf, scaling;
  double worst = 0;  // lowest best-peer/tconv ratio
  const char* worst_name = "";
  int below = 0, best_onednn = 0, best_torch = 0;

  void Add(const Row& r) {
    const Best best = BestPeer(r);
    const double q = Ratio(best.ms, r.tconv_ms);
    tconv.Add(Gflops(r.flops, r.tconv_ms));
    onednn.Add(Gflops(r.flops, r.onednn_ms));
    torch.Add(Gflops(r.flops, r.torch_ms));
    best_peer.Add(Gflops(r.flops, best.ms));
    onednn_ratio.Add(Ratio(r.onednn_ms, r.tconv_ms));
    best_ratio.Add(q);
    cf.Add(Ratio(r.tconv_cf_ms, r.tconv_ms));
    scaling.Add(Ratio(r.tconv_1t_ms, r.tconv_ms));
    if (best.ms > 0) ++(best.ms == r.onednn_ms ? best_onednn : best_torch);
    if (q > 0 && (worst == 0 || q < worst)) {
      worst = q;
      worst_name = r.name.c_str();
    }
    if (q > 0 && q < 0.9) ++below;
  }

  void Print(const Table& t) const {
    std::printf(
        "geomean GFLOP/s: tconv %s (%.0f%% of peak), oneDNN %s, PyTorch %s, best peer %s; "
        "best peer per case: oneDNN %d, PyTorch %d\n",
        OneDecimal(tconv.Value()).c_str(),
        t.peak_gflops > 0 ? 100 * tconv.Value() / t.peak_gflops : 0.0,
        OneDecimal(onednn.Value()).c_str(), OneDecimal(torch.Value()).c_str(),
        OneDecimal(best_peer.Value()).c_str(), best_onednn, best_torch);
    std::printf(
        "geomean time ratios: oneDNN/tconv %.2f over %d cases, best-peer/tconv %.2f over %d "
        "cases; worst best-peer/tconv %.2f (%s), %d below 0.9; channels_first/last %.2f",
        onednn_ratio.Value(), onednn_ratio.count, best_ratio.Value(), best_ratio.count, worst,
        worst_name, below, cf.Value());
    if (scaling.count > 0) std::printf("; speed-up over 1 thread %.2f", scaling.Value());
    std::printf("\n");
  }
};

}  // namespace

Ratios PrintTable(const Table& t) {
  PrintHeader(t);
  Summary summary;
  for (const Row& r : t.rows) {
    PrintRow(t, r);
    summary.Add(r);
  }
  summary.Print(t);
  return {summary.onednn_ratio.Value(), summary.best_ratio.Value()};
}

bool WritePlotData(const std::vector<Table>& tables, const std::string& path) {
  std::ofstream out(path);
  out << "case";
  for (const Table& t : tables) {
    for (const char* column : {"best-peer/tconv", "cf/cl", "x1T"}) {
      out << '\t' << column << ' ' << t.threads << 'T';
    }
  }
  out << '\n';
  auto cell = [&](double ratio) {
    if (ratio > 0) {
      out << '\t' << ratio;
    } else {
      out << "\tNaN";
    }
  };
  for (size_t i = 0; !tables.empty() && i < tables[0].rows.size(); ++i) {
    out << tables[0].rows[i].name << " b" << tables[0].rows[i].batch;
    for (const Table& t : tables) {
      const Row& r = t.rows[i];
      cell(Ratio(BestPeer(r).ms, r.tconv_ms));
      cell(Ratio(r.tconv_cf_ms, r.tconv_ms));
      cell(t.threads > 1 ? Ratio(r.tconv_1t_ms, r.tconv_ms) : 0);
    }
    out << '\n';
  }
  return bool(out);
}

}  // namespace tconv::bench
