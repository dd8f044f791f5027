#!/usr/bin/env python3
"""The tables, the target lines and the plot of one bench/service/run.sh run.

Reads the run's raw numbers (one tab-separated line per measured number: server, case, batch,
concurrency, mode, metric, value; see `record` in run.sh) and prints, for issue 18:
the bounds, tconv against them, the serving peers, memory, then one line per target:
    target <name>: <measured> (want <op> <bound>) met|missed
Each target is judged on its worst case, which the line names. Standard library only.
"""
import argparse
import math
import os
import subprocess
import sys
from collections import defaultdict

PEERS = ("mlserver", "pytriton")


def load(path):
    values = {}
    for line in open(path):
        server, case, batch, conc, mode, metric, value = line.rstrip("\n").split("\t")
        values[(server, case, batch, conc, mode, metric)] = value
    return values


class Run:
    def __init__(self, values):
        self.values = values
        # In run order (dicts keep insertion order).
        self.cases = list(dict.fromkeys(k[1] for k in values if k[4] == "shape"))
        self.batches = defaultdict(list)
        for (server, case, batch, _, _, metric) in values:
            if server == "kernel" and metric == "median_us":
                self.batches[case].append(int(batch))
        for case in self.batches:
            self.batches[case].sort()

    def get(self, server, case="-", batch="-", conc="-", mode="-", metric="p50_us"):
        value = self.values.get((server, case, str(batch), str(conc), mode, metric))
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    def failure(self, server, case="-"):
        return next((v for k, v in self.values.items()
                     if k[0] == server and k[1] == case and k[5] == "failed"), None)

    def hwc(self, case, which):
        return [int(x) for x in self.values[("-", case, "-", "-", "shape", which)].split(",")]

    def tensor_bytes(self, case, batch):
        return batch * 4 * (math.prod(self.hwc(case, "in_hwc")) + math.prod(self.hwc(case, "out_hwc")))

    def kernel(self, case, batch):
        return self.get("kernel", case, batch, "-", "-", "median_us")

    def kernel_ceiling(self, case):
        """Examples/s of the kernel alone at the largest request size measured (what the
        batcher forms at concurrency 32, up to the suite's batch sizes)."""
        b = self.batches[case][-1]
        return b / self.kernel(case, b) * 1e6

    def floor_p50(self):
        return self.get("floor", "-", 0, 1, "live", "p50_us")

    def floor_calls(self):
        return self.get("floor", "-", 0, 32, "live", "calls_per_s")


def fmt(x, spec=".0f"):
    return "n/a" if x is None else format(x, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


class Targets:
    def __init__(self):
        self.lines = []

    def add(self, name, measured, op, bound, where="", unit=""):
        if measured is None:
            self.lines.append(f"target {name}: n/a (want {op} {bound}{unit}) missed")
            return
        ok = {"<=": measured <= bound, ">=": measured >= bound, ">": measured > bound}[op]
        at = f" at {where}" if where else ""
        self.lines.append(f"target {name}: {measured:.2f}{unit}{at} (want {op} {bound}{unit}) "
                          f"{'met' if ok else 'missed'}")


def worst(items, highest_is_worst):
    """items: [(value, where)], None values skipped; returns the worst (value, where)."""
    items = [i for i in items if i[0] is not None]
    if not items:
        return None, ""
    return (max if highest_is_worst else min)(items, key=lambda i: i[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--threads", default="?")
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--plot", help="PNG to draw (needs gnuplot)")
    args = parser.parse_args()
    run = Run(load(args.results))
    targets = Targets()
    print(f"tconv service benchmark, commit {args.commit}, {os.cpu_count()} CPUs, "
          f"servers with {args.threads} threads, load average {open('/proc/loadavg').read().split()[0]}")
    print("(times in us; one example per request unless a batch is given; c = concurrency)\n")

    print("## Bounds\n")
    print(f"empty RPC (ServerLive, tconv loadgen): p50 {fmt(run.floor_p50(), '.1f')} us at c1, "
          f"{fmt(run.floor_calls())} calls/s at c32\n")
    rows = []
    for case in run.cases:
        for b in run.batches[case]:
            k = run.kernel(case, b)
            bytes_ = run.tensor_bytes(case, b)
            pay = run.get("payload", case, b, 1, "loadgen")
            rows.append([case, b, fmt(k, ".1f"), fmt(b / k * 1e6 if k else None),
                         f"{bytes_ / 1e6:.3f}", fmt(run.get("memcpy", case, b, "-", "-", "gb_per_s"), ".1f"),
                         fmt(pay, ".0f"), fmt(bytes_ / pay / 1e3 if pay else None, ".2f")])
    print(table(["layer", "batch", "kernel us", "kernel ex/s", "MB in+out", "memcpy GB/s",
                 "payload-floor p50", "payload-floor GB/s"], rows))

    print("\n## tconv at concurrency 1 and 32 (one example per request)\n")
    rows, overheads, unary, streamed, speedups = [], [], [], [], []
    for case in run.cases:
        p50 = run.get("tconv", case, 1, 1, "loadgen")
        k1 = run.kernel(case, 1)
        over = None if p50 is None else p50 - run.floor_p50() - k1
        overheads.append((over, case))
        bound = min(run.floor_calls(), run.kernel_ceiling(case))
        u = run.get("tconv", case, 1, 32, "loadgen", "examples_per_s")
        pu = run.get("tconv", case, 1, 32, "pa_unary", "examples_per_s")
        ps = run.get("tconv", case, 1, 32, "pa_streaming", "examples_per_s")
        unary.append((ratio(u, bound), case))
        streamed.append((ratio(ps, bound), case))
        rpc_bound = run.floor_calls() < run.kernel_ceiling(case)
        if rpc_bound:
            speedups.append((ratio(ps, pu), case))
        # The same RPCs carrying the same bytes but doing nothing (payload_floor): what is left
        # over them is the service's own cost.
        pay1 = run.get("payload", case, 1, 1, "loadgen")
        pay32 = run.get("payload", case, 1, 32, "loadgen", "calls_per_s")
        own = None if p50 is None or pay1 is None else p50 - pay1 - k1
        rows.append([case, fmt(p50), fmt(k1, ".1f"), fmt(over, ".1f"), fmt(pay1),
                     fmt(own, ".1f"), fmt(u), fmt(pay32), fmt(pu), fmt(ps), fmt(bound),
                     fmt(ratio(u, bound), ".2f"), fmt(ratio(u, pay32), ".2f"),
                     fmt(ratio(ps, bound), ".2f"),
                     fmt(ratio(ps, pu), ".2f") + ("" if rpc_bound else " (kernel-bound)")])
    print(table(["layer", "c1 p50", "kernel", "p50 - empty - kernel", "payload-floor p50",
                 "p50 - payload floor - kernel", "c32 ex/s loadgen", "payload-floor c32 calls/s",
                 "c32 ex/s PA unary", "c32 ex/s PA streamed", "min(empty, kernel) ex/s",
                 "loadgen/bound", "loadgen/payload floor", "streamed/bound", "streamed/unary"],
                rows))
    value, where = worst(overheads, True)
    targets.add("c1_overhead_over_kernel", value, "<=", 20, where, " us")
    for name, items in (("c32_unary_vs_bound", unary), ("c32_streamed_vs_bound", streamed)):
        value, where = worst(items, False)
        targets.add(name, value, ">=", 0.8, where)
    value, where = worst(speedups, False)
    targets.add("streamed_vs_unary_where_rpc_bound", value, ">=", 1.5, where)

    print("\n## Requests of several examples (concurrency 1)\n")
    rows, byte_ratios, shm = [], [], []
    for case in run.cases:
        for b in run.batches[case]:
            bytes_ = run.tensor_bytes(case, b)
            p50 = run.get("tconv", case, b, 1, "loadgen") if b > 1 else None
            pay = run.get("payload", case, b, 1, "loadgen")
            r = ratio(pay, p50)  # bytes/s of tconv / bytes/s of the payload floor
            if b > 1:
                # Kernel-bound when the kernel alone takes longer than the payload floor's whole
                # round trip: then no transport makes the bytes/s reach the floor's.
                bound_by = "kernel" if run.kernel(case, b) >= (pay or 0) else "transport"
                byte_ratios.append((r, f"{case} b{b}", bound_by))
            k = run.kernel(case, b)
            s = run.get("tconv", case, b, 1, "shm")
            shm_bound = 1.2 * k + run.floor_p50()
            shm.append((ratio(s, shm_bound), f"{case} b{b}"))
            rows.append([case, b, fmt(p50), fmt(bytes_ / p50 / 1e3 if p50 else None, ".2f"),
                         fmt(bytes_ / pay / 1e3 if pay else None, ".2f"), fmt(r, ".2f"),
                         fmt(ratio(p50, k), ".2f"), fmt(s), fmt(shm_bound), fmt(ratio(s, shm_bound), ".2f")])
    print(table(["layer", "batch", "raw p50", "raw GB/s", "payload-floor GB/s", "raw/floor",
                 "raw p50/kernel", "shm p50", "1.2 kernel + floor", "shm/bound"], rows))
    value, where = worst([i[:2] for i in byte_ratios], False)
    targets.add("bytes_per_s_vs_payload_floor", value, ">=", 0.5, where)
    value, where = worst([i[:2] for i in byte_ratios if i[2] == "transport"], False)
    targets.add("bytes_per_s_vs_payload_floor_where_kernel_is_faster", value, ">=", 0.5, where)
    k32, p32 = run.kernel("cvae_d1_7x7x32", 32), run.get("tconv", "cvae_d1_7x7x32", 32, 1, "loadgen")
    targets.add("cvae_d1_b32_p50_vs_kernel", ratio(p32, k32), "<=", 2.0, "cvae_d1_7x7x32")
    value, where = worst(shm, True)
    targets.add("shm_p50_vs_kernel_plus_floor", value, "<=", 1.0, where)

    print("\n## Against the serving peers (perf_analyzer, same layer and weights)\n")
    rows, c1, c32 = [], [], []
    plot_rows = []
    for case in run.cases:
        plot = [case]
        for kind in PEERS:
            failed = run.failure(kind, case) or run.failure(kind)
            t1 = run.get("tconv", case, 1, 1, f"vs_{kind}")
            p1 = run.get(kind, case, 1, 1, f"vs_{kind}")
            t32 = run.get("tconv", case, 1, 32, f"vs_{kind}", "examples_per_s")
            p32_ = run.get(kind, case, 1, 32, f"vs_{kind}", "examples_per_s")
            if failed or p1 is None:
                rows.append([case, kind, fmt(t1), failed or "not run", "", fmt(t32), "", ""])
                plot += ["NaN", "NaN"]
                continue
            c1.append((ratio(p1, t1), f"{case} vs {kind}"))
            c32.append((ratio(t32, p32_), f"{case} vs {kind}"))
            rows.append([case, kind, fmt(t1), fmt(p1), fmt(ratio(p1, t1), ".2f"), fmt(t32),
                         fmt(p32_), fmt(ratio(t32, p32_), ".2f")])
            plot += [fmt(p1, ".1f"), fmt(p32_, ".1f")]
        plot += [fmt(run.get("tconv", case, 1, 1, "pa_unary"), ".1f"),
                 fmt(run.get("tconv", case, 1, 32, "pa_unary", "examples_per_s"), ".1f")]
        plot_rows.append(plot)
    print(table(["layer", "peer", "tconv c1 p50", "peer c1 p50", "peer/tconv", "tconv c32 ex/s",
                 "peer c32 ex/s", "tconv/peer"], rows))
    for kind in PEERS:
        rss = run.get(kind, "-", "-", "-", "loaded", "rss_bytes")
        if rss:
            print(f"\n{kind} RSS after its runs: {rss / 2**20:.0f} MiB")
    value, where = worst(c1, False)
    targets.add("peers_c1_p50_peer_over_tconv", value, ">", 1.0, where)
    value, where = worst(c32, False)
    targets.add("peers_c32_throughput_tconv_over_peer", value, ">", 1.0, where)

    print("\n## tconv-server memory (RSS, MiB)\n")
    mib = lambda v: fmt(None if v is None else v / 2**20, ".1f")
    print(f"idle after start: {mib(run.get('tconv', '-', '-', '-', 'idle', 'rss_bytes'))}")
    rows = [[case, mib(run.get("tconv", case, 1, 1, "after", "rss_bytes")),
             mib(run.get("tconv", case, 1, 32, "after", "rss_bytes")),
             mib(run.get("tconv", case, run.batches[case][-1], 1, "after_largest", "rss_bytes"))]
            for case in run.cases]
    print(table(["layer (in run order)", "after c1", "after c32", "after the largest request + shm"], rows))
    repeats = [run.get("tconv", "-", "-", "-", f"repeat_{i}", "rss_bytes") for i in (1, 2, 3)]
    print(f"\nthe first layer's c32 load three times: {' -> '.join(mib(r) for r in repeats)} MiB")
    targets.add("rss_growth_over_repeats", ratio(repeats[2], repeats[0]), "<=", 1.05)

    print("\n## Targets (issue 18)\n")
    print("\n".join(targets.lines))

    if args.plot:
        data = args.plot[:-4] + ".plot.tsv"
        with open(data, "w") as f:
            for row in plot_rows:
                f.write("\t".join(row) + "\n")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.gp")
        settings = (f"data='{data}'; out='{args.plot}'; floor_p50={run.floor_p50() or 0}; "
                    f"floor_calls={run.floor_calls() or 0}")
        result = subprocess.run(["gnuplot", "-e", settings, script],
                                capture_output=True, text=True)
        if result.returncode != 0:
            print(f"plot: gnuplot failed: {result.stderr.strip()}", file=sys.stderr)
        else:
            print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
