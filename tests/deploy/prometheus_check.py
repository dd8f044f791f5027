"""Assertions through Prometheus' HTTP API after prometheus_test.sh sent its load.

Checks, against what the test sent (independent of the server's own accounting):
  * the exact counters and histogram counts of the probe layer and the unknown-layer requests;
  * every query of the Grafana dashboard returns series with finite values, and the ones with a
    known answer have it (codes, quantile order, layer count, mean batch size);
  * every recording and alerting rule of deploy/prometheus/tconv-rules.yml is loaded, evaluates
    without error and the recorded series exist with the expected values; nothing fires.
"""
import argparse
import json
import math
import sys
import urllib.parse
import urllib.request

from dashboard_queries import queries

FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def api(base, path, **params):
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]


def query(base, expr):
    """Instant query -> list of (labels, float value)."""
    data = api(base, "query", query=expr)
    if data["resultType"] == "scalar":
        return [({}, float(data["result"][1]))]
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def single(base, expr):
    result = query(base, expr)
    check(len(result) == 1, f"{expr}: expected one series, got {len(result)}: {result}")
    return result[0][1] if result else math.nan


def check_counters(base, args):
    probe = f'layer="{args.probe_layer}"'
    expected = {
        f'tconv_requests_total{{{probe},code="OK"}}': args.probe_requests,
        f'tconv_inferences_total{{{probe}}}': args.probe_requests * args.probe_batch,
        f'tconv_request_duration_seconds_count{{{probe}}}': args.probe_requests,
        f'tconv_batch_size_sum{{{probe}}}': args.probe_requests * args.probe_batch,
        f'tconv_compute_duration_seconds_count{{{probe}}}':
            single(base, f'tconv_batch_executions_total{{{probe}}}'),
        'tconv_requests_total{layer="",code="NOT_FOUND"}': args.unknown_requests,
        'tconv_layers': len(args.layers.split(",")),
    }
    for expr, want in expected.items():
        got = single(base, expr)
        check(got == want, f"{expr} = {got}, expected {want}")
    check(single(base, f'sum(tconv_requests_total{{{probe},code!="OK"}}) or vector(0)') == 0,
          "probe layer has requests with codes other than OK")
    batches = single(base, f'tconv_batch_executions_total{{{probe}}}')
    check(1 <= batches <= args.probe_requests, f"probe layer ran {batches} batches for {args.probe_requests} requests")


def check_dashboard(base, args):
    by_legend = {}
    for q in queries(args.dashboard):
        result = query(base, q["expr"])
        where = f"dashboard panel {q['panel']!r} ({q['legend']}): {q['expr']}"
        check(len(result) > 0, f"{where}: no series")
        check(all(math.isfinite(v) for _, v in result), f"{where}: non-finite value in {result}")
        by_legend[(q["panel"], q["legend"])] = result
    codes = {labels.get("code") for labels, v in by_legend[("Request rate by code", "{{code}}")] if v > 0}
    check({"OK", "NOT_FOUND"} <= codes, f"request rate by code shows {codes}, expected OK and NOT_FOUND")
    latency = [by_legend[("Request latency p50 / p90 / p99", p)][0][1] for p in ("p50", "p90", "p99")]
    check(0 < latency[0] <= latency[1] <= latency[2] <= 10, f"latency quantiles not ordered in (0, 10] s: {latency}")
    mean_batch = by_legend[("Mean batch size", "examples per kernel run")][0][1]
    check(mean_batch >= 1, f"mean batch size {mean_batch} < 1")
    layers = {labels.get("layer") for labels, v in by_legend[("Throughput", "{{layer}}")] if v > 0}
    check(set(args.layers.split(",")) <= layers, f"throughput shows layers {layers}, expected {args.layers}")
    depth = {labels.get("layer") for labels, _ in by_legend[("Queue depth", "{{instance}} {{layer}}")]}
    check(set(args.layers.split(",")) <= depth, f"queue depth shows layers {depth}")
    served = by_legend[("Layers served", "{{instance}}")]
    check([v for _, v in served] == [len(args.layers.split(","))], f"layers served {served}")
    check(len(by_legend[("Versions", "{{version}}")]) == 1, "tconv_build_info: expected one version")


def check_rules(base, args):
    groups = {g["name"]: g for g in api(base, "rules")["groups"]}
    check({"tconv.recording", "tconv.alerts"} <= set(groups), f"rule groups loaded: {sorted(groups)}")
    for group in groups.values():
        for rule in group["rules"]:
            name = rule.get("name")
            check(rule.get("health") == "ok", f"rule {name}: health {rule.get('health')} {rule.get('lastError', '')}")
            check(rule.get("state", "inactive") != "firing", f"alert {name} is firing")
    check(single(base, 'tconv:request_errors:ratio_rate5m{job="tconv"}') == 0,
          "error ratio is not 0 (only OK and NOT_FOUND were sent)")
    codes = {labels["code"] for labels, _ in query(base, "tconv:requests:rate5m")}
    check({"OK", "NOT_FOUND"} <= codes, f"tconv:requests:rate5m codes {codes}")
    for rule in ("tconv:request_duration_seconds:p99_rate5m", "tconv:queue_duration_seconds:p99_rate5m"):
        result = {labels.get("layer"): v for labels, v in query(base, rule)}
        for layer in args.layers.split(","):
            value = result.get(layer, math.nan)
            check(math.isfinite(value) and 0 <= value <= 10, f"{rule}{{layer={layer}}} = {value}")
    check(len(query(base, "tconv:queue_depth:sum")) == 1, "tconv:queue_depth:sum: expected one series")
    # The alert expressions themselves evaluate (empty: nothing is wrong).
    for group in groups.values():
        for rule in group["rules"]:
            if rule["type"] == "alerting":
                check(query(base, rule["query"]) == [], f"alert {rule['name']} condition holds: {rule['query']}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--probe_layer", required=True)
    parser.add_argument("--probe_requests", type=int, required=True)
    parser.add_argument("--probe_batch", type=int, required=True)
    parser.add_argument("--unknown_requests", type=int, required=True)
    parser.add_argument("--layers", required=True)
    args = parser.parse_args()
    check_counters(args.prometheus, args)
    check_dashboard(args.prometheus, args)
    check_rules(args.prometheus, args)
    print(f"prometheus checks: {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
