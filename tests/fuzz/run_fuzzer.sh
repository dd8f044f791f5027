#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from a fresh corpus seeded with SEEDS, and
# prints one summary line (executions, executions per second, coverage). Fails on any crash,
# sanitizer report, leak, timeout (an input running over 10 s: a hang) or memory over 2 GiB;
# the input that caused it is kept in WORK/artifacts and printed in hex.
# Usage: run_fuzzer.sh FUZZER SEEDS WORK SECONDS
set -uo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
name=$(basename "$fuzzer")
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
log=$work/fuzz.log
UBSAN_OPTIONS=print_stacktrace=1 "$fuzzer" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  "$work/corpus" "$seeds" > "$log" 2>&1
status=$?
inited=$(grep -m1 -E '^#[0-9]+[[:space:]]+INITED' "$log" | grep -oE 'cov: [0-9]+ ft: [0-9]+')
last=$(grep -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|DONE|INITED)' "$log" | tail -1)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
seeds_count=$(find "$seeds" -type f | wc -l)
echo "$name: ${runs:-?} runs in ${seconds} s, ${rate:-?} exec/s; seeds ($seeds_count):" \
     "${inited:-?}; end: $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+')" |
  tee "$work/summary"
if ((status != 0)); then
  echo "$name: FAILED (libFuzzer exit $status); the end of $log:"
  tail -60 "$log"
  for artifact in "$work"/artifacts/*; do
    [ -f "$artifact" ] || continue
    echo "input $artifact ($(stat -c %s "$artifact") bytes), first 512 in hex:"
    head -c 512 "$artifact" | od -An -tx1 | head -32
  done
  exit 1
fi
