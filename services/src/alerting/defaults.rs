//! The default rules: what the requirements (seeds §2) name, product and technical.

use super::*;

/// The rules the requirements name: product KPIs (seeds §2.1–2.2) and the technical ones
/// (probes, the SLO burn-rate alerts, CPU through Prometheus).
pub fn default_rules() -> Vec<RuleSpec> {
    let mut out = product_default_rules();
    out.extend(technical_default_rules());
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
