"""The PromQL queries of the Grafana dashboard, with Grafana's variables filled in.

Usage: dashboard_queries.py list DASHBOARD.json   -> one JSON object per line {panel, expr}
       dashboard_queries.py rules DASHBOARD.json  -> a Prometheus rule file recording each query
Variables: $job and $layer become ".*" (the dashboard's "All"), $__rate_interval becomes 1m.
"""
import json
import sys

SUBSTITUTIONS = {"$__rate_interval": "1m", "$job": ".*", "$layer": ".*"}


def queries(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in SUBSTITUTIONS.items():
                expr = expr.replace(var, value)
            if "$" in expr:
                raise SystemExit(f"panel {panel['title']!r}: unknown variable in {expr!r}")
            yield {"panel": panel["title"], "legend": target.get("legendFormat", ""), "expr": expr}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    found = list(queries(path))
    if not found:
        raise SystemExit("dashboard has no queries")
    if mode == "list":
        for q in found:
            print(json.dumps(q))
    else:
        print("groups:\n  - name: dashboard\n    rules:")
        for i, q in enumerate(found):
            print(f"      - record: dashboard:query{i}\n        expr: {json.dumps(q['expr'])}")


if __name__ == "__main__":
    main()
