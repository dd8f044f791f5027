// BatchingOptions: how a layer's requests are merged into kernel runs. Kept with the repository
// format because a layer folder's config.json may set them; the Batcher (server/core) applies them.
#ifndef TCONV_REPOSITORY_BATCHING_OPTIONS_H_
#define TCONV_REPOSITORY_BATCHING_OPTIONS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tconv::server {

// Per-layer batching settings; server-wide defaults come from flags, a layer's repository
// config may override them. The defaults come from bench/batching/ (README.md has the run; kernel
// examples/s by batch size, and the in-process batcher under closed-loop load with 1, 8 and
// 32 submitters) on the cvae_* and dcgan_* layers of bench/suite.json, on the 2-core
// development machine (Intel Xeon with AVX-512, 2 executor threads; the machine was shared, so only
// differences well above the noise were used):
struct BatchingOptions {
  // Examples per kernel run. On one thread these layers run no faster per example in batches
  // (0.7-1.05x the batch-1 rate), so merging pays by giving the second thread work (a single
  // small example stays below the kernel's parallel grain) and by saving per-run overhead: with 2
  // threads dcgan_g1/g2 reach 1.7-1.8x their batch-1 rate at 32 and gain nothing beyond; the tiny
  // cvae layers gain ~1.2x from 32 to 128 but every request of such a batch waits for all of it,
  // and a batch of 32 already takes ~9 ms on dcgan_g1. With 32 submitters and 2 workers batches
  // average ~15 examples, so 32 rarely caps them. A larger request is run alone (never split), so
  // no caller is refused for its size here.
  int64_t max_batch_size = 32;
  // How long the first request of a batch waits for company. 0: while every worker is busy the
  // queue fills by itself, and the next free worker takes all of it (mean batch ~3.4-4.7
  // examples at 8 submitters, ~14-16 at 32, with no window at all). A window only adds its
  // length to every request when load is light: 1 ms raised cvae_d1's median latency at 1
  // submitter from 61 us to 1.2 ms, and at 8 and 32 submitters it made batches larger
  // (8 / 22-30) without a throughput gain above the noise.
  absl::Duration batch_timeout = absl::ZeroDuration();
  // Examples waiting (not yet running), per layer; beyond it requests get RESOURCE_EXHAUSTED
  // at once. The slowest of these layers (dcgan_g1, ~3.6k examples/s on 2 threads) drains
  // 1024 examples in ~0.3 s, the cvae layers in ~35 ms: a full queue means waits that
  // typical deadlines still allow, and anything longer is overload better shed than queued.
  // Memory held is at most max_queue_size input examples (dcgan_g1: 50 MB); layers with
  // large inputs (e.g. 64x64x256 = 4 MiB an example) should set a smaller value.
  int64_t max_queue_size = 1024;

  // INVALID_ARGUMENT naming the field and value unless max_batch_size is in [1, 4096],
  // batch_timeout in [0, 10 s] and max_queue_size in [1, 1e6].
  absl::Status Validate() const;
};

}  // namespace tconv::server

#endif  // TCONV_REPOSITORY_BATCHING_OPTIONS_H_
