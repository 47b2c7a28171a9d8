#!/usr/bin/env python3
"""The KPI benchmark's reference side: the dashboard queries in DuckDB over the raw events
exported by `vigil-bench kpi` (CSV, converted once to Parquet). Prints one JSON object:
timings (p50/p95 over `runs` after a warm-up) and the answers, which vigil-bench compares
with its own.

Input: one JSON argument (see server/src/bin/vigil-bench/kpi.rs)."""

import json
import math
import sys
import time

import duckdb


def percentile(sorted_ms, q):
    rank = max(1, min(len(sorted_ms), math.ceil(q * len(sorted_ms))))
    return sorted_ms[rank - 1]


def timed(con, sql, params, runs, shape):
    t = time.perf_counter()
    shape(con.execute(sql, params).fetchall())  # warm-up
    first_ms = (time.perf_counter() - t) * 1000.0
    ms = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        result = shape(rows)
        ms.append((time.perf_counter() - t) * 1000.0)
    ms.sort()
    return {"first_ms": first_ms, "p50_ms": percentile(ms, 0.5), "p95_ms": percentile(ms, 0.95), "result": result}


def main():
    p = json.loads(sys.argv[1])
    con = duckdb.connect()
    t = time.perf_counter()
    import os

    if not os.path.exists(p["parquet"]):
        # One-time conversion; the local day is computed here, as Vigil does at ingest.
        con.execute(
            f"""COPY (SELECT user_idx::INTEGER AS user_idx, event_name, ts_ms,
                       ((ts_ms + {int(p['tz_offset_ms'])}) // 86400000)::INTEGER AS day,
                       response_ms::DOUBLE AS response_ms
                FROM read_csv('{p['csv']}', header = true,
                     columns = {{'user_idx': 'BIGINT', 'event_name': 'VARCHAR',
                                'ts_ms': 'BIGINT', 'response_ms': 'DOUBLE'}}))
               TO '{p['parquet']}' (FORMAT parquet)"""
        )
    load_s = time.perf_counter() - t
    con.execute(f"CREATE VIEW ev AS SELECT * FROM read_parquet('{p['parquet']}')")
    rows = con.execute("SELECT count(*) FROM ev").fetchone()[0]
    today, runs = p["today"], p["runs"]
    q = {}

    q["dau"] = timed(
        con,
        "SELECT day, count(DISTINCT user_idx) FROM ev WHERE day BETWEEN ? AND ? GROUP BY day ORDER BY day",
        [today - 89, today],
        runs,
        lambda rows: _dense(rows, today - 89, today),
    )
    q["mau"] = timed(
        con,
        "SELECT count(DISTINCT user_idx) FROM ev WHERE day BETWEEN ? AND ?",
        [today - 29, today],
        runs,
        lambda rows: rows[0][0],
    )
    cohort_sql = """
        WITH reg AS (SELECT user_idx, min(day) AS c FROM ev
                     WHERE event_name = 'user_register_success' GROUP BY user_idx),
             coh AS (SELECT user_idx, c FROM reg WHERE c BETWEEN ? AND ?),
             act AS (SELECT DISTINCT user_idx, day FROM ev WHERE day BETWEEN ? AND ?)
        SELECT c, 0 AS n, count(*) FROM coh GROUP BY c
        UNION ALL
        SELECT c, day - c AS n, count(*) FROM coh JOIN act USING (user_idx)
        WHERE day > c AND day - c <= 30 GROUP BY c, day - c"""
    q["cohort"] = timed(
        con,
        cohort_sql,
        [today - 29, today, today - 28, today],
        runs,
        lambda rows: _cohorts(rows, today - 29, today),
    )
    s = p["steps"]
    w = int(p["window_ms"])
    funnel_sql = f"""
        WITH e AS (SELECT user_idx, ts_ms AS ts, event_name AS n FROM ev
                   WHERE ts_ms >= $from AND ts_ms < $end + {w}
                     AND event_name IN ('{s[0]}', '{s[1]}', '{s[2]}', '{s[3]}')),
             a AS (SELECT user_idx, ts AS t1 FROM e WHERE n = '{s[0]}' AND ts < $end),
             b AS (SELECT a.user_idx, a.t1, min(e.ts) AS t2 FROM a JOIN e
                   ON e.user_idx = a.user_idx AND e.n = '{s[1]}' AND e.ts > a.t1 AND e.ts <= a.t1 + {w}
                   GROUP BY a.user_idx, a.t1),
             c AS (SELECT b.user_idx, b.t1, min(e.ts) AS t3 FROM b JOIN e
                   ON e.user_idx = b.user_idx AND e.n = '{s[2]}' AND e.ts > b.t2 AND e.ts <= b.t1 + {w}
                   GROUP BY b.user_idx, b.t1),
             d AS (SELECT c.user_idx FROM c JOIN e
                   ON e.user_idx = c.user_idx AND e.n = '{s[3]}' AND e.ts > c.t3 AND e.ts <= c.t1 + {w})
        SELECT (SELECT count(DISTINCT user_idx) FROM a), (SELECT count(DISTINCT user_idx) FROM b),
               (SELECT count(DISTINCT user_idx) FROM c), (SELECT count(DISTINCT user_idx) FROM d)"""
    for f in p["funnels"]:
        q["funnel" + f["label"]] = timed(
            con,
            funnel_sql,
            {"from": f["from_ms"], "end": f["end_ms"]},
            runs,
            lambda rows: list(rows[0]),
        )
    q["p95"] = timed(
        con,
        "SELECT quantile_disc(response_ms, 0.95) FROM ev WHERE event_name = 'ai_dialog_end' AND ts_ms >= ? AND ts_ms < ?",
        [p["p95_from_ms"], p["p95_end_ms"]],
        runs,
        lambda rows: rows[0][0],
    )
    # VmHWM of this process (ru_maxrss would include the parent's peak: it survives exec).
    peak = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024.0
    print(
        json.dumps(
            {
                "version": duckdb.__version__,
                "rows": rows,
                "load_s": load_s,
                "queries": q,
                "peak_rss_mib": peak,
            }
        )
    )


def _dense(rows, lo, hi):
    by_day = dict(rows)
    return [by_day.get(d, 0) for d in range(lo, hi + 1)]


def _cohorts(rows, lo, hi):
    table = {d: [0] * 31 for d in range(lo, hi + 1)}
    for c, n, k in rows:
        table[c][n] = k
    return [table[d] for d in range(lo, hi + 1)]


if __name__ == "__main__":
    main()
