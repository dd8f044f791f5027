#include "report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

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

// The peers, in column order: short name (the `best` column) and time.
struct Peer {
  const char* name;
  double Row::*ms;
};
constexpr Peer kPeers[] = {{"dnnl", &Row::onednn_ms},
                           {"torch", &Row::torch_ms},
                           {"xnn", &Row::xnnpack_ms},
                           {"ort", &Row::ort_ms}};
constexpr int kNumPeers = sizeof(kPeers) / sizeof(kPeers[0]);

Best BestPeer(const Row& r) {
  Best best;
  for (const Peer& p : kPeers) {
    const double ms = r.*p.ms;
    if (ms > 0 && (best.ms < 0 || ms < best.ms)) best = {ms, p.name};
  }
  return best;
}

void PrintHeader(const Table& t) {
  std::printf("\n== %d thread%s; FMA peak %.1f GFLOP/s (%d-bit, measured now) ==\n", t.threads,
              t.threads == 1 ? "" : "s", t.peak_gflops, t.peak_bits);
  std::printf("%-26s %5s | %8s %8s %6s | %8s %8s %8s %8s | %7s %7s %5s | %7s %6s %7s\n", "case",
              "batch", "tconv ms", "GFLOP/s", "%peak", "dnnl ms", "torch ms", "xnn ms", "ort ms",
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
  // Peers' times only (their GFLOP/s geomeans are under the table): four peers with two
  // columns each made rows too wide to read.
  for (const Peer& p : kPeers) {
    PrintCell(r.*p.ms, "%8.3f");
    std::printf(" ");
  }
  std::printf("| ");
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
  GeoMean tconv, peer[kNumPeers], best_peer, onednn_ratio, best_ratio, cf, scaling;
  double worst = 0;  // lowest best-peer/tconv ratio
  const char* worst_name = "";
  int below = 0;             // best-peer/tconv < 1: a peer is faster than tconv
  int wins[kNumPeers] = {};  // cases each peer was the best peer of

  void Add(const Row& r) {
    const Best best = BestPeer(r);
    const double q = Ratio(best.ms, r.tconv_ms);
    tconv.Add(Gflops(r.flops, r.tconv_ms));
    for (int p = 0; p < kNumPeers; ++p) {
      peer[p].Add(Gflops(r.flops, r.*kPeers[p].ms));
      if (best.ms > 0 && best.name == kPeers[p].name) ++wins[p];
    }
    best_peer.Add(Gflops(r.flops, best.ms));
    onednn_ratio.Add(Ratio(r.onednn_ms, r.tconv_ms));
    best_ratio.Add(q);
    cf.Add(Ratio(r.tconv_cf_ms, r.tconv_ms));
    scaling.Add(Ratio(r.tconv_1t_ms, r.tconv_ms));
    if (q > 0 && (worst == 0 || q < worst)) {
      worst = q;
      worst_name = r.name.c_str();
    }
    if (q > 0 && q < 1.0) ++below;
  }

  void Print(const Table& t) const {
    static const char* const kLongNames[kNumPeers] = {"oneDNN", "PyTorch", "XNNPACK",
                                                      "ONNX Runtime"};
    std::printf("geomean GFLOP/s: tconv %s (%.0f%% of peak)", OneDecimal(tconv.Value()).c_str(),
                t.peak_gflops > 0 ? 100 * tconv.Value() / t.peak_gflops : 0.0);
    for (int p = 0; p < kNumPeers; ++p) {
      std::printf(", %s %s", kLongNames[p], OneDecimal(peer[p].Value()).c_str());
    }
    std::printf(", best peer %s; best peer per case:", OneDecimal(best_peer.Value()).c_str());
    for (int p = 0; p < kNumPeers; ++p) {
      std::printf("%s %s %d", p == 0 ? "" : ",", kLongNames[p], wins[p]);
    }
    std::printf("\n");
    std::printf(
        "geomean time ratios: oneDNN/tconv %.2f over %d cases, best-peer/tconv %.2f over %d "
        "cases; worst best-peer/tconv %.2f (%s), %d below 1.0; channels_first/last %.2f",
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
  return {summary.onednn_ratio.Value(), summary.best_ratio.Value(), summary.below};
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

void PrintRatioLine(const char* what, const std::vector<Table>& tables,
                    const std::vector<Ratios>& geomeans, double Ratios::*ratio, bool below1) {
  std::printf("geomean %s time ratio:", what);
  for (size_t t = 0; t < tables.size(); ++t) {
    if (geomeans[t].*ratio > 0) {
      std::printf(" %dT=%.2f", tables[t].threads, geomeans[t].*ratio);
    } else {
      std::printf(" %dT=n/a", tables[t].threads);
    }
  }
  if (below1) {
    std::printf(" below1=");
    for (size_t t = 0; t < tables.size(); ++t) {
      std::printf("%s%d", t == 0 ? "" : "/", geomeans[t].best_peer_below1);
    }
  }
  std::printf("\n");
}

std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  std::string one, five;
  file >> one >> five;
  return absl::StrCat("load average ", one, " (1 min), ", five, " (5 min)");
}

}  // namespace tconv::bench
