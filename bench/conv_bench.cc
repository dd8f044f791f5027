// tconv_bench: tconv's fast path against oneDNN's deconvolution, PyTorch's conv_transpose2d,
// XNNPACK's deconvolution and ONNX Runtime's ConvTranspose on the layer suite, in one run, at 1
// and 2 threads. Every case is first checked against tconv's reference (every library, within
// the conformance tolerance); then each is timed (median of >= 12 calls after warm-up) and the
// tables of report.h are printed. ONNX Runtime runs in a Python child process (ort_peer.h),
// only when --ort_python names the interpreter of its venv (bench/run.sh makes it).
//
//   tconv_bench [--suite=bench/suite.json] [--threads=1,2] [--cases=SUBSTRING[,SUBSTRING...]]
//               [--seconds=0.25] [--clock=thread_cpu] [--plot_data=FILE]
//               [--ort_python=build/venvs/ort/bin/python] [Google Benchmark flags]
// (the flags: options.h; the workloads and the reference check: workload.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "fma_peak.h"
#include "idle_workers.h"
#include "onednn_peer.h"
#include "options.h"
#include "ort_peer.h"
#include "report.h"
#include "suite.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "testing/layout.h"
#include "torch_peer.h"
#include "workload.h"
#include "xnnpack_peer.h"

namespace tconv::bench {
namespace {

// The ONNX Runtime child process, when it runs (ort_peer.h).
OrtPeer* ort = nullptr;

using Clock = std::chrono::steady_clock;

// Milliseconds on the wall clock, or of this thread's CPU time.
double NowMs(bool thread_cpu) {
  if (thread_cpu) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

// One library's forward pass on a workload: `run` is what is timed, `nhwc` returns its last
// answer in NHWC for the check. A contender in another process (ONNX Runtime) has `round`
// instead: one whole round (untimed calls, then timed ones) timed there, its milliseconds back.
struct Contender {
  std::string name;
  std::function<void()> run;
  std::function<std::vector<float>()> nhwc;
  double* median_ms = nullptr;
  std::vector<double> ms;
  std::function<absl::StatusOr<std::vector<double>>()> round;
};

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Each library starts its round from idle workers (idle_workers.h), like the others, and keeps
// its own spinning between its own back-to-back calls (what a caller of that library sees).
// Each round of a contender starts with untimed calls, at least one and for at least kWarmUp:
// they wake the library's workers and warm the caches. OpenMP's first call waits until all of
// its threads have woken; a TBB worker wakes on its own time (0.1-5 ms after an idle wait on our
// VMs, traced) and joins whichever call is running then, so after a single untimed call
// tconv's timed calls often ran on one thread (unet_up1 b1: 0.52 ms at 2 threads, 0.21 now).
constexpr auto kWarmUp = std::chrono::milliseconds(5);
// Timed calls per contender in each round.
constexpr int kCallsPerRound = 3;
constexpr int kMinCalls = 12;
constexpr int kMaxRounds = 2000;

// Times tconv (channels_last and channels_first; and on 1 thread when `threads` > 1), oneDNN,
// PyTorch, XNNPACK and ONNX Runtime on one workload, interleaved round by round so that all see the
// same load on a shared machine. Each answer is checked against the reference first; a contender
// that disagrees is reported and not timed.
void BenchCase(benchmark::State& state, Workload* w, int threads, const Options* options,
               Row* row) {
  const bool cpu_clock = options->thread_cpu_clock && threads == 1;
  const Shape4 in_nhwc{w->batch, w->c.in_h, w->c.in_w, w->c.in_c};
  const Shape4 in_nchw{w->batch, w->c.in_c, w->c.in_h, w->c.in_w};
  LayerConfig cf_config = w->c.config;
  cf_config.data_format = DataFormat::kChannelsFirst;
  auto cl = Conv2DTranspose::Create(w->c.config, w->c.in_c, w->weights);
  auto cf = Conv2DTranspose::Create(cf_config, w->c.in_c, w->weights);
  if (!cl.ok() || !cf.ok()) return state.SkipWithError(cl.status().ToString().c_str());
  row->packed_bytes = (*cl)->packed_weight_bytes();
  std::vector<float> out_cl(Elements(w->out)), out_cf(out_cl.size()), out_dnnl(out_cl.size());
  const ComputePool& pool = Pool(threads);
  std::vector<Contender> all;
  all.push_back({"tconv",
                 [&] { (void)(*cl)->Run(w->input, in_nhwc, absl::MakeSpan(out_cl), pool); },
                 [&] { return out_cl; },
                 &row->tconv_ms,
                 {},
                 {}});
  all.push_back({"tconv channels_first",
                 [&] { (void)(*cf)->Run(w->nchw, in_nchw, absl::MakeSpan(out_cf), pool); },
                 [&] {
                   return testing::TransposeExamples(out_cf, w->batch, w->out[3],
                                                     w->out[1] * w->out[2]);
                 },
                 &row->tconv_cf_ms,
                 {},
                 {}});
  // With more threads, tconv on 1 thread in the same rounds, for the x1T column: the 1-thread
  // table ran minutes earlier, and this machine's speed moves 10-40% in minutes.
  std::vector<float> out_1t(out_cl.size());
  if (threads > 1) {
    all.push_back({"tconv 1 thread",
                   [&] { (void)(*cl)->Run(w->input, in_nhwc, absl::MakeSpan(out_1t), Pool(1)); },
                   [&] { return out_1t; },
                   &row->tconv_1t_ms,
                   {},
                   {}});
  }
  OneDnnDeconvolution::SetThreads(threads);
  auto peer = OneDnnDeconvolution::Create(w->c.config, w->weights, in_nhwc);
  if (peer.ok()) {
    all.push_back({"oneDNN",
                   [&] { (*peer)->Run(w->input.data(), out_dnnl.data()); },
                   [&] { return out_dnnl; },
                   &row->onednn_ms,
                   {},
                   {}});
  }
  TorchDeconvolution::SetThreads(threads);
  std::vector<float> out_torch(out_cl.size());
  auto torch = TorchDeconvolution::Create(w->c.config, w->weights, in_nhwc);
  if (torch.ok()) {
    all.push_back({"PyTorch",
                   [&] { (*torch)->Run(w->input.data(), out_torch.data()); },
                   [&] { return out_torch; },
                   &row->torch_ms,
                   {},
                   {}});
  } else if (torch.status().code() != absl::StatusCode::kUnimplemented) {
    w->error = torch.status().ToString();
  }
  std::vector<float> out_xnn(out_cl.size());
  auto xnn = XnnpackDeconvolution::Create(w->c.config, w->weights, in_nhwc, threads);
  if (xnn.ok()) {
    all.push_back({"XNNPACK",
                   [&] {
                     if (absl::Status s = (*xnn)->Run(w->input.data(), out_xnn.data()); !s.ok())
                       w->error = s.ToString();
                   },
                   [&] { return out_xnn; },
                   &row->xnnpack_ms,
                   {},
                   {}});
  } else if (xnn.status().code() != absl::StatusCode::kUnimplemented) {
    w->error = xnn.status().ToString();
  }
  // ONNX Runtime's first answer comes from loading the layer; its rounds run in the child.
  std::vector<float> out_ort;
  if (ort != nullptr) {
    auto answer = ort->Load(w->c.config, w->weights, w->input, in_nhwc, threads);
    if (answer.ok()) {
      out_ort = *std::move(answer);
      all.push_back({"ONNX Runtime",
                     [] {},
                     [&] { return out_ort; },
                     &row->ort_ms,
                     {},
                     [&] {
                       return ort->Round(std::chrono::duration<double, std::milli>(kWarmUp).count(),
                                         kCallsPerRound, cpu_clock);
                     }});
    } else {
      w->error = answer.status().ToString();
    }
  }
  std::vector<Contender> timed;
  for (Contender& c : all) {
    c.run();
    const std::string bad = Check(c.nhwc(), w->want);
    if (bad.empty()) {
      timed.push_back(c);
    } else {
      w->error = absl::StrCat(c.name, " disagrees with the reference: ", bad);
    }
  }
  if (timed.empty() || timed[0].name != "tconv") return state.SkipWithError(w->error.c_str());
  // Rounds until every contender has >= kMinCalls timed calls and the time budget is spent.
  const auto start = Clock::now();
  for (auto _ : state) {
    for (int round = 0; round < kMaxRounds; ++round) {
      for (Contender& c : timed) {
        WaitForIdleWorkers(ort != nullptr ? ort->pid() : 0);
        if (c.round) {
          auto ms = c.round();
          if (!ms.ok()) {
            w->error = absl::StrCat(c.name, ": ", ms.status().ToString());
            return state.SkipWithError(w->error.c_str());
          }
          c.ms.insert(c.ms.end(), ms->begin(), ms->end());
          continue;
        }
        const auto warm_until = Clock::now() + kWarmUp;
        do {
          c.run();
        } while (Clock::now() < warm_until);
        for (int k = 0; k < kCallsPerRound; ++k) {
          const double begin = NowMs(cpu_clock);
          c.run();
          c.ms.push_back(NowMs(cpu_clock) - begin);
        }
      }
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if ((round + 1) * kCallsPerRound >= kMinCalls && elapsed >= options->seconds) break;
    }
    state.SetIterationTime(Median(timed[0].ms) * 1e-3);
  }
  for (Contender& c : timed) *c.median_ms = Median(c.ms);
  if (ort != nullptr) (void)ort->Drop();
  state.counters["tconv_ms"] = row->tconv_ms;
  state.counters["onednn_ms"] = row->onednn_ms;
  state.counters["torch_ms"] = row->torch_ms;
  state.counters["xnnpack_ms"] = row->xnnpack_ms;
  state.counters["ort_ms"] = row->ort_ms;
}

}  // namespace
}  // namespace tconv::bench

int main(int argc, char** argv) {
  using namespace tconv::bench;              // NOLINT: main only
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows through tee and log files
  benchmark::Initialize(&argc, argv);
  const Options options = ParseOptions(argc, argv);
  auto suite = LoadSuite(options.suite);
  if (!suite.ok()) {
    std::fprintf(stderr, "tconv_bench: %s\n", suite.status().ToString().c_str());
    return 2;
  }
  std::printf("%s; %s\n", OneDnnDeconvolution::Describe().c_str(), LoadAverage().c_str());
  std::printf("%s\n", TorchDeconvolution::Describe().c_str());
  std::printf("%s\n", XnnpackDeconvolution::Describe().c_str());
  std::unique_ptr<OrtPeer> ort_peer;
  if (options.ort_python.empty()) {
    std::printf(
        "ONNX Runtime: not run (--ort_python=<its venv's python>; bench/run.sh makes it)\n");
  } else if (auto started = OrtPeer::Start(options.ort_python, TCONV_BENCH_ORT_SCRIPT);
             !started.ok()) {
    std::printf("ONNX Runtime: not run (%s)\n", started.status().ToString().c_str());
  } else if (auto described = (*started)->Describe(); !described.ok()) {
    std::printf("ONNX Runtime: not run (%s)\n", described.status().ToString().c_str());
  } else {
    ort_peer = *std::move(started);
    ort = ort_peer.get();
    std::printf("%s\n", described->c_str());
  }
  if (options.thread_cpu_clock) {
    std::printf("1-thread times are the calling thread's CPU time (--clock=thread_cpu)\n");
  }
  std::vector<Workload> workloads = SelectWorkloads(*suite, options.cases);
  // Tables indexed like options.threads; results land in their rows.
  std::vector<Table> tables(options.threads.size());
  std::printf("computing tconv's reference answers for %zu workloads...\n", workloads.size());
  std::fflush(stdout);
  PrepareReferences(workloads);
  for (size_t t = 0; t < options.threads.size(); ++t) {
    const int threads = options.threads[t];
    const FmaPeak peak = MeasureFmaPeak(threads, 512);
    tables[t] = {threads, peak.gflops, peak.vector_bits, {}};
    tables[t].rows.resize(workloads.size());
    for (size_t i = 0; i < workloads.size(); ++i) {
      Workload* w = &workloads[i];
      Row* row = &tables[t].rows[i];
      *row = w->row;
      const std::string id = absl::StrCat(w->c.name, "/b", w->batch, "/", threads, "T");
      benchmark::RegisterBenchmark(id.c_str(), BenchCase, w, threads, &options, row)
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::vector<Ratios> geomeans;
  int failures = 0;
  for (const Table& table : tables) geomeans.push_back(PrintTable(table));
  for (const Workload& w : workloads) {
    if (!w.error.empty()) {
      std::printf("FAILED %s b%lld: %s\n", w.c.name.c_str(), (long long)w.batch, w.error.c_str());
      ++failures;
    }
  }
  std::printf("%s at the end\n", LoadAverage().c_str());
  if (!options.plot_data.empty() && !WritePlotData(tables, options.plot_data)) {
    std::fprintf(stderr, "tconv_bench: cannot write %s\n", options.plot_data.c_str());
    ++failures;
  }
  // The last two lines, for scripts: "geomean <what> time ratio: 1T=<x> 2T=<y>", the best
  // peer's with " below1=<n1>/<n2>".
  PrintRatioLine("onednn/tconv", tables, geomeans, &Ratios::onednn);
  PrintRatioLine("best-peer/tconv", tables, geomeans, &Ratios::best_peer, /*below1=*/true);
  ort = nullptr;
  return failures == 0 ? 0 : 1;
}
