//! The default rules: what the requirements (seeds §2) name, product and technical.

use super::*;

/// The rules the requirements name: product KPIs (seeds §2.1–2.2) and the technical ones
/// (probes, the SLO burn-rate alerts, CPU through Prometheus), then the rest of the seed's
/// thresholds (`docs/seed-thresholds.md` maps every one of them).
pub fn default_rules() -> Vec<RuleSpec> {
    let mut out = product_default_rules();
    out.extend(technical_default_rules());
    out.extend(threshold_default_rules());
    out
}

/// The seed's thresholds added with every dashboard KPI alertable (issue #17): the P2/P3
/// tiers, retention, stickiness and subscription KPIs, and memory, disk, database
/// connections and Redis through Prometheus (node_exporter, postgres_exporter and
/// redis_exporter metric names; seeded disabled without a Prometheus data source).
pub fn threshold_default_rules() -> Vec<RuleSpec> {
    use CompareOp::{Eq, Ge, Gt, Lt};
    use KpiMetric as M;
    let th = |op, threshold| Condition::Threshold { op, threshold };
    let kpi = |name: &str, sev, metric, cond: Condition, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, metric, Gt, 0.0);
        s.condition = cond;
        // Daily figures: checked hourly, on the last complete day.
        s.interval_ms = 3_600_000;
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "product".into());
        s
    };
    let drop = |pct| Condition::DropPct { pct };
    let mut out = vec![
        kpi(
            "Stickiness dropped more than 10%",
            Severity::P2,
            M::Stickiness,
            drop(10.0),
            "DAU/MAU changed {{ $value }}% day over day",
        ),
        kpi(
            "D1 retention below 20%",
            Severity::P3,
            M::RetentionD1,
            th(Lt, 0.2),
            "D1 retention is {{ $value }}",
        ),
        kpi(
            "D7 retention below 10%",
            Severity::P3,
            M::RetentionD7,
            th(Lt, 0.1),
            "D7 retention is {{ $value }}",
        ),
        kpi(
            "D30 retention below 5%",
            Severity::P3,
            M::RetentionD30,
            th(Lt, 0.05),
            "D30 retention is {{ $value }}",
        ),
        kpi(
            "Net subscriptions negative",
            Severity::P2,
            M::SubsNet,
            th(Lt, 0.0),
            "Net subscriptions of the day: {{ $value }}",
        ),
        kpi(
            "New subscriptions dropped more than 20%",
            Severity::P3,
            M::SubsNew,
            drop(20.0),
            "New subscriptions changed {{ $value }}% day over day",
        ),
        kpi(
            "Renewal rate below 70%",
            Severity::P2,
            M::RenewalRate,
            th(Lt, 0.7),
            "Renewal rate is {{ $value }}",
        ),
        kpi(
            "Renewal rate below 80%",
            Severity::P3,
            M::RenewalRate,
            th(Lt, 0.8),
            "Renewal rate is {{ $value }}",
        ),
        kpi(
            "Monthly churn above 10%",
            Severity::P2,
            M::Churn,
            th(Gt, 0.1),
            "Churn this month is {{ $value }}",
        ),
        kpi(
            "Monthly churn above 5%",
            Severity::P3,
            M::Churn,
            th(Gt, 0.05),
            "Churn this month is {{ $value }}",
        ),
    ];
    let probe = |name: &str, sev, metric, op, threshold, for_min: i64, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, KpiMetric::Dau, op, threshold);
        s.query = RuleQuery::Probe {
            probe: String::new(),
            metric,
            window_minutes: 5,
            short_window_minutes: 0,
        };
        s.for_ms = for_min * 60_000;
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "sre".into());
        s
    };
    out.push(probe(
        "Service down for 15 minutes",
        Severity::P1,
        ProbeMetric::Up,
        Eq,
        0.0,
        15,
        "{{ $labels.probe }} has been down for 15 minutes",
    ));
    out.push(probe(
        "API P95 above 3 s",
        Severity::P2,
        ProbeMetric::LatencyP95Ms,
        Gt,
        3000.0,
        5,
        "{{ $labels.probe }} P95 latency is {{ $value }} ms",
    ));
    out.push(probe(
        "API error rate above 5%",
        Severity::P2,
        ProbeMetric::ErrorRate,
        Gt,
        0.05,
        5,
        "{{ $labels.probe }} fails {{ $value }} of checks",
    ));
    let promql = |name: &str,
                  sev,
                  expr: &str,
                  op,
                  threshold,
                  for_min: i64,
                  summary: &str,
                  needs: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, KpiMetric::Dau, op, threshold);
        s.query = RuleQuery::Promql { expr: expr.to_owned() };
        s.for_ms = for_min * 60_000;
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "sre".into());
        s.description = format!(
            "Needs VIGIL_PROMETHEUS_URL and {needs}; seeded disabled without a Prometheus data source."
        );
        s
    };
    let pg = "100 * sum by (instance) (pg_stat_activity_count) / sum by (instance) (pg_settings_max_connections)";
    let redis = "100 * rate(redis_keyspace_hits_total[5m]) / (rate(redis_keyspace_hits_total[5m]) + rate(redis_keyspace_misses_total[5m]))";
    out.push(promql(
        "Memory above 90%",
        Severity::P1,
        "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
        Gt,
        90.0,
        5,
        "Memory of {{ $labels.instance }} is {{ $value }}% used",
        "node_exporter",
    ));
    out.push(promql("Disk above 85%", Severity::P2, "100 * (1 - node_filesystem_avail_bytes{fstype!~\"tmpfs|overlay\"} / node_filesystem_size_bytes{fstype!~\"tmpfs|overlay\"})", Gt, 85.0, 10, "{{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value }}% full", "node_exporter"));
    out.push(promql(
        "Database connections above 80%",
        Severity::P1,
        pg,
        Gt,
        80.0,
        1,
        "PostgreSQL {{ $labels.instance }} uses {{ $value }}% of max_connections",
        "postgres_exporter",
    ));
    out.push(promql(
        "Database connections at 100%",
        Severity::P0,
        pg,
        Ge,
        100.0,
        0,
        "PostgreSQL {{ $labels.instance }} has no connection left",
        "postgres_exporter",
    ));
    out.push(promql(
        "Redis hit rate below 60%",
        Severity::P2,
        redis,
        Lt,
        60.0,
        10,
        "Redis {{ $labels.instance }} hit rate is {{ $value }}%",
        "redis_exporter",
    ));
    out.push(promql(
        "Redis hit rate below 70%",
        Severity::P3,
        redis,
        Lt,
        70.0,
        10,
        "Redis {{ $labels.instance }} hit rate is {{ $value }}%",
        "redis_exporter",
    ));
    out
}

/// API latency, error rate and availability on every probe, the SRE workbook's four
/// multiwindow burn-rate alerts for a 99.9 % / 30-day SLO (two page at P1, two open a P3
/// ticket), and CPU > 90 % for 10 minutes through PromQL.
pub fn technical_default_rules() -> Vec<RuleSpec> {
    use CompareOp::{Eq, Gt};
    let probe = |metric, window_minutes, short_window_minutes| RuleQuery::Probe {
        probe: String::new(),
        metric,
        window_minutes,
        short_window_minutes,
    };
    let rule = |name: &str, sev, query, op, threshold, for_min: i64, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, KpiMetric::Dau, op, threshold);
        s.query = query;
        s.for_ms = for_min * 60_000;
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "sre".into());
        s
    };
    let mut out = vec![
        rule(
            "API P95 above 5 s",
            Severity::P1,
            probe(ProbeMetric::LatencyP95Ms, 5, 0),
            Gt,
            5000.0,
            5,
            "{{ $labels.probe }} P95 latency is {{ $value }} ms",
        ),
        rule(
            "API error rate above 10%",
            Severity::P1,
            probe(ProbeMetric::ErrorRate, 5, 0),
            Gt,
            0.1,
            5,
            "{{ $labels.probe }} fails {{ $value }} of checks",
        ),
        rule(
            "Service down for 5 minutes",
            Severity::P0,
            probe(ProbeMetric::Up, 5, 0),
            Eq,
            0.0,
            5,
            "{{ $labels.probe }} has been down for 5 minutes",
        ),
    ];
    out[2].open_incident = true;
    for a in domain::probe::BURN_ALERTS {
        let (long, short) = (a.long_ms / 60_000, a.short_ms / 60_000);
        let words = |m: i64| domain::alerting::format_duration(m * 60_000);
        let mut r = rule(
            &format!(
                "SLO burn rate {}× over {} and {} ({})",
                a.factor,
                words(long),
                words(short),
                if a.page { "page" } else { "ticket" }
            ),
            if a.page { Severity::P1 } else { Severity::P3 },
            probe(ProbeMetric::BurnRate, long as u32, short as u32),
            Gt,
            a.factor,
            0,
            "{{ $labels.probe }} burns its 99.9% error budget {{ $value }} times too fast",
        );
        r.labels.insert("slo".into(), "availability-99.9".into());
        out.push(r);
    }
    let mut cpu = rule(
        "CPU above 90% for 10 minutes",
        Severity::P1,
        RuleQuery::Promql {
            expr: "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))"
                .into(),
        },
        Gt,
        90.0,
        10,
        "CPU of {{ $labels.instance }} is {{ $value }}%",
    );
    cpu.description = "Needs VIGIL_PROMETHEUS_URL and node_exporter; seeded disabled without a Prometheus data source.".into();
    out.push(cpu);
    out
}

/// The product KPI rules of seeds §2.1–2.2.
pub fn product_default_rules() -> Vec<RuleSpec> {
    use CompareOp::{Gt, Lt};
    use KpiMetric as M;
    let mut out = Vec::new();
    let mut push = |name: &str, sev, metric, cond: Condition, window_h: u32, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, metric, Gt, 0.0);
        s.condition = cond;
        s.query = RuleQuery::Kpi { metric, window_minutes: window_h * 60, segment: String::new() };
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "product".into());
        if !metric.is_daily() {
            s.for_ms = 10 * 60_000;
        }
        out.push(s);
    };
    let th = |op, threshold| Condition::Threshold { op, threshold };
    push(
        "Registrations dropped more than 30%",
        Severity::P2,
        M::Registrations,
        Condition::DropPct { pct: 30.0 },
        24,
        "Registrations changed {{ $value }}% day over day",
    );
    push(
        "DAU dropped more than 20%",
        Severity::P2,
        M::Dau,
        Condition::DropPct { pct: 20.0 },
        24,
        "DAU changed {{ $value }}% day over day",
    );
    push(
        "AI success rate below 90%",
        Severity::P1,
        M::AiSuccessRate,
        th(Lt, 0.9),
        1,
        "AI dialog success rate is {{ $value }} (threshold {{ $threshold }})",
    );
    push(
        "AI success rate below 95%",
        Severity::P2,
        M::AiSuccessRate,
        th(Lt, 0.95),
        1,
        "AI dialog success rate is {{ $value }} (threshold {{ $threshold }})",
    );
    push(
        "AI response P95 above 3 s",
        Severity::P2,
        M::AiResponseP95Ms,
        th(Gt, 3000.0),
        1,
        "AI response P95 is {{ $value }} ms",
    );
    push(
        "AI response P99 above 5 s",
        Severity::P1,
        M::AiResponseP99Ms,
        th(Gt, 5000.0),
        1,
        "AI response P99 is {{ $value }} ms",
    );
    push(
        "Knowledge-base coverage below 70%",
        Severity::P2,
        M::KbCoverage,
        th(Lt, 0.7),
        24,
        "Knowledge-base coverage is {{ $value }}",
    );
    push(
        "Resolution rate below 80%",
        Severity::P3,
        M::ResolutionRate,
        th(Lt, 0.8),
        24,
        "Resolution rate is {{ $value }}",
    );
    push(
        "Satisfaction below 4.0",
        Severity::P3,
        M::Satisfaction,
        th(Lt, 4.0),
        24,
        "Mean rating is {{ $value }}",
    );
    push(
        "Bad-review rate above 15%",
        Severity::P3,
        M::BadReviewRate,
        th(Gt, 0.15),
        24,
        "Share of 1–2 star ratings is {{ $value }}",
    );
    out
}
