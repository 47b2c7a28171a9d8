//! What an alert rule is (the editor's form and the API's body) and its validation: every
//! error names the field it is about.

use super::{template, CompareOp, Condition, Labels};
use crate::probe::ProbeMetric;
use crate::FieldErrors;
use serde::{Deserialize, Serialize};

/// P0 (site down) … P3 (informational).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Severity {
    P0,
    P1,
    /// The default of a new incident.
    #[default]
    P2,
    P3,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The level an outside alert's `severity` label names: `P0`–`P3` (any case), the
    /// words of the SPEC's levels (critical, high, medium, low) or Alertmanager's usual
    /// ones (page → P0; error → P1; warning → P2; info, none → P3). Anything else: `None`.
    pub fn from_label(label: &str) -> Option<Severity> {
        match label.trim().to_ascii_lowercase().as_str() {
            "p0" | "critical" | "page" => Some(Severity::P0),
            "p1" | "high" | "error" => Some(Severity::P1),
            "p2" | "medium" | "warning" | "warn" => Some(Severity::P2),
            "p3" | "low" | "info" | "none" => Some(Severity::P3),
            _ => None,
        }
    }

    /// Default `repeat_interval` of notifications (SPEC §2).
    pub fn default_repeat_ms(self) -> i64 {
        match self {
            Severity::P0 => 60_000,
            Severity::P1 => 5 * 60_000,
            Severity::P2 => 15 * 60_000,
            Severity::P3 => 3_600_000,
        }
    }
}

/// Product KPIs a rule can watch, computed from the rollups the dashboards read: every
/// card and table of the three dashboards (the KPI catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiMetric {
    /// Distinct active users of the last complete day.
    Dau,
    /// First registrations of the last complete day.
    Registrations,
    /// Ended AI dialogs of the last complete day.
    AiDialogs,
    /// Successful / ended AI dialogs over the trailing window.
    AiSuccessRate,
    /// AI response time P50 (ms) over the trailing window.
    AiResponseP50Ms,
    /// AI response time P95 (ms) over the trailing window.
    AiResponseP95Ms,
    /// AI response time P99 (ms) over the trailing window.
    AiResponseP99Ms,
    /// Answers from the knowledge base / ended dialogs over the trailing window.
    KbCoverage,
    /// Dialogs handed to a human / ended dialogs over the trailing window.
    TransferToHuman,
    /// Feedback marked resolved / all feedback over the trailing window.
    ResolutionRate,
    /// Mean rating (1–5) over the trailing window.
    Satisfaction,
    /// Ratings 1–2 / all ratings over the trailing window.
    BadReviewRate,
    /// NPS (−100…100) of the survey answers over the trailing window.
    Nps,
    // The rest are daily figures of the last complete day, each as its dashboard card
    // shows that day (the KPI catalogue):
    /// Users active in the 7 days ending on the day.
    Wau,
    /// Users active in the 30 days ending on the day.
    Mau,
    /// DAU / MAU of the day.
    Stickiness,
    /// D1 retention of the cohort that registered 1 day before (complete on the day).
    RetentionD1,
    /// D7 retention of the cohort that registered 7 days before.
    RetentionD7,
    /// D30 retention of the cohort that registered 30 days before.
    RetentionD30,
    /// Users of a feature (the rule's `segment`) / DAU.
    FeaturePenetration,
    /// Conversion from the first to the last step of a funnel (`segment`: the steps).
    FunnelConversion,
    /// New subscriptions of the day.
    SubsNew,
    /// Cancellations and expirations of the day.
    SubsCancelled,
    /// New − cancelled of the day.
    SubsNet,
    /// Active subscribers at the day's end.
    ActiveSubscribers,
    /// Renewals / (renewals + expirations) of the day.
    RenewalRate,
    /// Churn of the day's month, to the day (monthly: never rescaled).
    Churn,
    /// Revenue of the day, in the reporting currency.
    Revenue,
    /// MRR at the day's end, in the reporting currency.
    Mrr,
    /// ARPA of the day's month, to the day, in the reporting currency.
    Arpa,
    /// LTV of the day's month, to the day, in the reporting currency.
    Ltv,
}

/// How a metric's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    Count,
    /// A 0–1 share, shown in %.
    Ratio,
    Millis,
    Decimal,
    Money,
}

impl KpiMetric {
    pub const ALL: [KpiMetric; 31] = [
        KpiMetric::Registrations,
        KpiMetric::Dau,
        KpiMetric::Wau,
        KpiMetric::Mau,
        KpiMetric::Stickiness,
        KpiMetric::RetentionD1,
        KpiMetric::RetentionD7,
        KpiMetric::RetentionD30,
        KpiMetric::FeaturePenetration,
        KpiMetric::FunnelConversion,
        KpiMetric::AiDialogs,
        KpiMetric::AiSuccessRate,
        KpiMetric::AiResponseP50Ms,
        KpiMetric::AiResponseP95Ms,
        KpiMetric::AiResponseP99Ms,
        KpiMetric::KbCoverage,
        KpiMetric::TransferToHuman,
        KpiMetric::ResolutionRate,
        KpiMetric::Satisfaction,
        KpiMetric::BadReviewRate,
        KpiMetric::Nps,
        KpiMetric::SubsNew,
        KpiMetric::SubsCancelled,
        KpiMetric::SubsNet,
        KpiMetric::ActiveSubscribers,
        KpiMetric::RenewalRate,
        KpiMetric::Churn,
        KpiMetric::Revenue,
        KpiMetric::Mrr,
        KpiMetric::Arpa,
        KpiMetric::Ltv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KpiMetric::Dau => "dau",
            KpiMetric::Registrations => "registrations",
            KpiMetric::AiDialogs => "ai_dialogs",
            KpiMetric::AiSuccessRate => "ai_success_rate",
            KpiMetric::AiResponseP50Ms => "ai_response_p50_ms",
            KpiMetric::AiResponseP95Ms => "ai_response_p95_ms",
            KpiMetric::AiResponseP99Ms => "ai_response_p99_ms",
            KpiMetric::KbCoverage => "kb_coverage",
            KpiMetric::TransferToHuman => "transfer_to_human",
            KpiMetric::ResolutionRate => "resolution_rate",
            KpiMetric::Satisfaction => "satisfaction",
            KpiMetric::BadReviewRate => "bad_review_rate",
            KpiMetric::Nps => "nps",
            KpiMetric::Wau => "wau",
            KpiMetric::Mau => "mau",
            KpiMetric::Stickiness => "stickiness",
            KpiMetric::RetentionD1 => "retention_d1",
            KpiMetric::RetentionD7 => "retention_d7",
            KpiMetric::RetentionD30 => "retention_d30",
            KpiMetric::FeaturePenetration => "feature_penetration",
            KpiMetric::FunnelConversion => "funnel_conversion",
            KpiMetric::SubsNew => "subs_new",
            KpiMetric::SubsCancelled => "subs_cancelled",
            KpiMetric::SubsNet => "subs_net",
            KpiMetric::ActiveSubscribers => "active_subscribers",
            KpiMetric::RenewalRate => "renewal_rate",
            KpiMetric::Churn => "churn",
            KpiMetric::Revenue => "revenue",
            KpiMetric::Mrr => "mrr",
            KpiMetric::Arpa => "arpa",
            KpiMetric::Ltv => "ltv",
        }
    }

    pub fn parse(s: &str) -> Option<KpiMetric> {
        KpiMetric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The dashboard key that names this metric (a card's catalogue key, or `dau`, the
    /// daily series): where its label comes from.
    pub fn card_key(self) -> &'static str {
        match self {
            KpiMetric::AiResponseP50Ms => "response_p50",
            KpiMetric::AiResponseP95Ms => "response_p95",
            KpiMetric::AiResponseP99Ms => "response_p99",
            m => m.as_str(),
        }
    }

    /// The metric behind a dashboard card (its catalogue key), for "Alert on this".
    pub fn for_card(key: &str) -> Option<KpiMetric> {
        match key {
            "dau_avg" => Some(KpiMetric::Dau),
            "feature_users" => Some(KpiMetric::FeaturePenetration),
            k => KpiMetric::ALL
                .into_iter()
                .find(|m| m.card_key() == k)
                .or_else(|| KpiMetric::parse(k)),
        }
    }

    /// Daily metrics are figures of whole calendar days: they are evaluated on the last
    /// complete day (a partial today would always look like a drop). The others are rates
    /// over a trailing window of hours that ends now.
    pub fn is_daily(self) -> bool {
        !matches!(
            self,
            KpiMetric::AiSuccessRate
                | KpiMetric::AiResponseP50Ms
                | KpiMetric::AiResponseP95Ms
                | KpiMetric::AiResponseP99Ms
                | KpiMetric::KbCoverage
                | KpiMetric::TransferToHuman
                | KpiMetric::ResolutionRate
                | KpiMetric::Satisfaction
                | KpiMetric::BadReviewRate
                | KpiMetric::Nps
        )
    }

    /// Daily metrics computed as their dashboard card over one day (the KPI catalogue);
    /// the card key. DAU, registrations and AI dialogs are read straight from the rollups.
    pub fn catalogue_key(self) -> Option<&'static str> {
        (self.is_daily()
            && !matches!(self, KpiMetric::Dau | KpiMetric::Registrations | KpiMetric::AiDialogs))
        .then(|| self.as_str())
    }

    /// For retention: how many days back the cohort of a day's sample registered.
    pub fn cohort_offset_days(self) -> i32 {
        match self {
            KpiMetric::RetentionD1 => 1,
            KpiMetric::RetentionD7 => 7,
            KpiMetric::RetentionD30 => 30,
            _ => 0,
        }
    }

    /// What the rule's `segment` names, when the metric needs one.
    pub fn segment(self) -> Option<&'static str> {
        match self {
            KpiMetric::FeaturePenetration => Some("feature"),
            KpiMetric::FunnelConversion => Some("funnel steps"),
            _ => None,
        }
    }

    pub fn unit(self) -> MetricUnit {
        match self {
            KpiMetric::Dau
            | KpiMetric::Registrations
            | KpiMetric::AiDialogs
            | KpiMetric::Wau
            | KpiMetric::Mau
            | KpiMetric::SubsNew
            | KpiMetric::SubsCancelled
            | KpiMetric::SubsNet
            | KpiMetric::ActiveSubscribers => MetricUnit::Count,
            KpiMetric::AiResponseP50Ms
            | KpiMetric::AiResponseP95Ms
            | KpiMetric::AiResponseP99Ms => MetricUnit::Millis,
            KpiMetric::Satisfaction | KpiMetric::Nps => MetricUnit::Decimal,
            KpiMetric::Revenue | KpiMetric::Mrr | KpiMetric::Arpa | KpiMetric::Ltv => {
                MetricUnit::Money
            }
            _ => MetricUnit::Ratio,
        }
    }
}

/// Where a rule's samples come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RuleQuery {
    /// A product KPI. `window_minutes` (whole hours, 60 to 1440) applies to the windowed
    /// rates; daily metrics always use one calendar day.
    Kpi {
        metric: KpiMetric,
        #[serde(default = "default_window")]
        window_minutes: u32,
        /// The feature (`feature_penetration`) or the funnel's steps separated by commas
        /// (`funnel_conversion`); empty for the other metrics.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        segment: String,
    },
    /// A PromQL expression against the configured Prometheus; every series of the result
    /// is an alert instance (its labels identify it), as in a Prometheus alerting rule.
    Promql { expr: String },
    /// An HTTP probe's statistic over a trailing window; `probe` names one probe, or is
    /// empty for every probe (each probe is an alert instance, labelled `probe=<name>`).
    Probe {
        #[serde(default)]
        probe: String,
        metric: ProbeMetric,
        #[serde(default = "default_probe_window")]
        window_minutes: u32,
        /// The burn rate's short window (the SRE workbook's 5m for 1h, 30m for 6h …).
        #[serde(default)]
        short_window_minutes: u32,
    },
}

fn default_window() -> u32 {
    60
}

fn default_probe_window() -> u32 {
    5
}

impl RuleQuery {
    /// Distance between two samples of the series (ms): a day, or an hour.
    pub fn step_ms(&self) -> i64 {
        match self {
            RuleQuery::Kpi { metric, .. } if metric.is_daily() => 86_400_000,
            RuleQuery::Kpi { .. } => 3_600_000,
            RuleQuery::Promql { .. } | RuleQuery::Probe { .. } => 60_000,
        }
    }

    /// How far back "the previous period" is (ms): one day, or the window.
    pub fn period_ms(&self) -> i64 {
        match self {
            RuleQuery::Kpi { metric, .. } if metric.is_daily() => 86_400_000,
            RuleQuery::Kpi { window_minutes, .. } => i64::from(*window_minutes) * 60_000,
            RuleQuery::Promql { .. } => 3_600_000,
            RuleQuery::Probe { window_minutes, .. } => i64::from(*window_minutes) * 60_000,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            RuleQuery::Kpi { metric, segment, .. } if metric.is_daily() => {
                if segment.is_empty() {
                    format!("{} (last complete day)", metric.as_str())
                } else {
                    format!("{} of {segment} (last complete day)", metric.as_str())
                }
            }
            RuleQuery::Kpi { metric, window_minutes, .. } => format!(
                "{} over {}",
                metric.as_str(),
                format_duration(i64::from(*window_minutes) * 60_000)
            ),
            RuleQuery::Promql { expr } => expr.clone(),
            RuleQuery::Probe { probe, metric, window_minutes, short_window_minutes } => {
                let who = if probe.is_empty() {
                    "every probe".to_owned()
                } else {
                    format!("probe {probe:?}")
                };
                let w = |m: &u32| format_duration(i64::from(*m) * 60_000);
                match metric {
                    ProbeMetric::Up => format!("up of {who}"),
                    ProbeMetric::BurnRate => format!(
                        "burn rate of {who} over {} and {}",
                        w(window_minutes),
                        w(short_window_minutes)
                    ),
                    m => format!("{} of {who} over {}", m.as_str(), w(window_minutes)),
                }
            }
        }
    }

    fn validate(&self, e: &mut FieldErrors) {
        match self {
            RuleQuery::Kpi { metric, window_minutes, segment } => {
                if !metric.is_daily()
                    && (*window_minutes < 60 || *window_minutes > 1440 || window_minutes % 60 != 0)
                {
                    e.add("window", "must be whole hours from 1h to 24h");
                }
                match metric.segment() {
                    Some(what) if segment.trim().is_empty() => {
                        e.add("segment", format!("name the {what}"))
                    }
                    None if !segment.is_empty() => e.add("segment", "this metric takes none"),
                    _ if segment.len() > 400 => e.too_long("segment", 400),
                    _ => {}
                }
            }
            RuleQuery::Promql { expr } => {
                if expr.trim().is_empty() {
                    e.add("expr", "is required (a PromQL expression)");
                } else if expr.len() > 4000 {
                    e.too_long("expr", 4000);
                }
            }
            RuleQuery::Probe { probe, metric, window_minutes, short_window_minutes } => {
                if probe.chars().count() > 80 {
                    e.too_long("probe", 80);
                }
                if metric.windowed() && !(1..=3 * 1440).contains(window_minutes) {
                    e.add("window", "must be from 1m to 3d");
                }
                if *metric == ProbeMetric::BurnRate
                    && (*short_window_minutes == 0 || short_window_minutes >= window_minutes)
                {
                    e.add("short_window", "must be shorter than the window (e.g. 5m for 1h)");
                }
            }
        }
    }
}

/// Everything the editor sets on a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub runbook_url: String,
    pub severity: Severity,
    #[serde(default)]
    pub labels: Labels,
    pub query: RuleQuery,
    pub condition: Condition,
    pub interval_ms: i64,
    #[serde(default)]
    pub for_ms: i64,
    #[serde(default)]
    pub keep_firing_for_ms: i64,
    /// Template of the one-line summary sent with notifications.
    #[serde(default)]
    pub summary: String,
    /// Open an incident when an instance starts firing.
    #[serde(default)]
    pub open_incident: bool,
    /// Page people through this escalation policy when an instance starts firing.
    #[serde(default)]
    pub escalation_policy_id: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

const DAY_MS: i64 = 86_400_000;

/// A label name as Prometheus allows it.
pub fn valid_label_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(f) if f == '_' || f.is_ascii_alphabetic())
        && c.all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
}

impl RuleSpec {
    /// The threshold to show with `{{ $threshold }}` and on charts.
    pub fn threshold(&self) -> Option<f64> {
        match self.condition {
            Condition::Threshold { threshold, .. } => Some(threshold),
            Condition::DropPct { pct } => Some(-pct),
            Condition::RisePct { pct } => Some(pct),
            Condition::ZScore { k, .. } => Some(k),
            Condition::NoData { for_ms } => Some(for_ms as f64),
            Condition::Present => None,
        }
    }

    /// An instance's full label set as notifications and templates see it: the rule's
    /// labels, the series' labels, `alertname` and `severity` (as Prometheus adds them).
    pub fn alert_labels(&self, instance: &Labels) -> Labels {
        let mut all = self.labels.clone();
        all.extend(instance.iter().map(|(k, v)| (k.clone(), v.clone())));
        all.insert("alertname".into(), self.name.clone());
        all.insert("severity".into(), self.severity.as_str().into());
        all
    }

    /// Field-level validation; field names match the editor's inputs.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            e.required("name");
        } else if name.chars().count() > 120 {
            e.too_long("name", 120);
        }
        if self.description.chars().count() > 4000 {
            e.too_long("description", 4000);
        }
        let url = self.runbook_url.trim();
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            e.not_http_url("runbook_url");
        } else if url.len() > 2048 {
            e.too_long("runbook_url", 2048);
        }
        for (k, v) in &self.labels {
            if !valid_label_name(k) {
                e.add("labels", format!("label name {k:?} must match [a-zA-Z_][a-zA-Z0-9_]*"));
            } else if k == "alertname" || k == "severity" {
                e.add("labels", format!("label {k:?} is set by Vigil"));
            }
            if v.chars().count() > 200 {
                e.add("labels", format!("value of {k:?} must be at most 200 characters"));
            }
        }
        if self.labels.len() > 20 {
            e.add("labels", "at most 20 labels");
        }
        self.query.validate(&mut e);
        if matches!(self.query, RuleQuery::Probe { .. })
            && !matches!(self.condition, Condition::Threshold { .. } | Condition::NoData { .. })
        {
            e.add("kind", "probe rules take a threshold or no-data condition");
        }
        if matches!(self.query, RuleQuery::Promql { .. })
            && !matches!(
                self.condition,
                Condition::Threshold { .. } | Condition::NoData { .. } | Condition::Present
            )
        {
            e.add(
                "kind",
                "PromQL rules take a threshold, no-data or \"any result\" condition (write changes and anomalies in PromQL)",
            );
        }
        if matches!(self.query, RuleQuery::Kpi { .. }) && self.condition == Condition::Present {
            e.add("kind", "\"any result\" is for PromQL rules");
        }
        if let Err(ce) = self.condition.validate() {
            e.0.extend(ce.0);
        }
        if !(10_000..=DAY_MS).contains(&self.interval_ms) {
            e.add("interval", "must be between 10s and 1d");
        }
        if !(0..=7 * DAY_MS).contains(&self.for_ms) {
            e.add("for", "must be between 0 and 7d");
        }
        if !(0..=7 * DAY_MS).contains(&self.keep_firing_for_ms) {
            e.add("keep_firing_for", "must be between 0 and 7d");
        }
        if self.summary.chars().count() > 1000 {
            e.too_long("summary", 1000);
        } else if let Err(msg) = template::check(&self.summary) {
            e.add("summary", msg);
        }
        e.into_result()
    }

    /// The condition in words, e.g. `ai_success_rate over 1h < 0.9`.
    pub fn describe_condition(&self) -> String {
        let q = self.query.describe();
        match &self.condition {
            Condition::Threshold { op, threshold } => format!("{q} {} {threshold}", op.symbol()),
            Condition::DropPct { pct } => format!("{q} drops more than {pct}% vs previous"),
            Condition::RisePct { pct } => format!("{q} rises more than {pct}% vs previous"),
            Condition::NoData { for_ms } => {
                format!("{q} has no data for {}", format_duration(*for_ms))
            }
            Condition::ZScore { k, window } => {
                format!("|z-score| of {q} > {k} over {window} samples")
            }
            Condition::Present => q,
        }
    }

    /// A threshold rule on a KPI, as the seeds' defaults are written.
    pub fn kpi_threshold(
        name: &str,
        severity: Severity,
        metric: KpiMetric,
        op: CompareOp,
        threshold: f64,
    ) -> RuleSpec {
        RuleSpec {
            name: name.to_owned(),
            description: String::new(),
            runbook_url: String::new(),
            severity,
            labels: Labels::new(),
            query: RuleQuery::Kpi { metric, window_minutes: 60, segment: String::new() },
            condition: Condition::Threshold { op, threshold },
            interval_ms: 60_000,
            for_ms: 0,
            keep_firing_for_ms: 0,
            summary: String::new(),
            open_incident: false,
            escalation_policy_id: None,
            enabled: true,
        }
    }
}

/// Parses a Prometheus duration (`90s`, `5m`, `1h30m`, `2d`, `1w`, `0`) into ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("is required (e.g. 5m, 1h30m, 0)".into());
    }
    let bad = || format!("{s:?} is not a duration (e.g. 30s, 5m, 1h30m, 2d)");
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit_ms: i64 = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => DAY_MS,
            'w' => 7 * DAY_MS,
            'y' => 365 * DAY_MS,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n.checked_mul(unit_ms).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

/// Formats ms the way Prometheus does (`1h30m`, `45s`, `0s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, len) in
        [("w", 7 * DAY_MS), ("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)]
    {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_found_from_its_card_and_its_name() {
        for m in KpiMetric::ALL {
            assert_eq!(KpiMetric::for_card(m.card_key()), Some(m));
            assert_eq!(KpiMetric::for_card(m.as_str()), Some(m));
        }
        assert_eq!(KpiMetric::for_card("dau_avg"), Some(KpiMetric::Dau));
        assert_eq!(KpiMetric::for_card("response_p95"), Some(KpiMetric::AiResponseP95Ms));
        assert_eq!(KpiMetric::for_card("nope"), None);
    }

    fn spec() -> RuleSpec {
        RuleSpec::kpi_threshold(
            "AI success below 90%",
            Severity::P1,
            KpiMetric::AiSuccessRate,
            CompareOp::Lt,
            0.9,
        )
    }

    #[test]
    fn durations_round_trip() {
        for (text, ms) in [
            ("0", 0),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 2 * DAY_MS),
            ("1w", 7 * DAY_MS),
            ("250ms", 250),
        ] {
            assert_eq!(parse_duration(text), Ok(ms), "{text}");
        }
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90_000), "1m30s");
        for bad in ["", "5", "m", "5x", "1h5", "-5m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_valid_rule_passes_and_each_bad_field_is_named() {
        assert_eq!(spec().validate(), Ok(()));
        type Case = (&'static str, fn(&mut RuleSpec));
        let cases: [Case; 10] = [
            ("name", |s| s.name = "  ".into()),
            ("runbook_url", |s| s.runbook_url = "wiki/page".into()),
            ("labels", |s| {
                s.labels.insert("9bad".into(), "x".into());
            }),
            ("labels", |s| {
                s.labels.insert("alertname".into(), "x".into());
            }),
            ("interval", |s| s.interval_ms = 1_000),
            ("for", |s| s.for_ms = -1),
            ("keep_firing_for", |s| s.keep_firing_for_ms = 8 * DAY_MS),
            ("window", |s| {
                s.query = RuleQuery::Kpi {
                    metric: KpiMetric::AiSuccessRate,
                    window_minutes: 90,
                    segment: String::new(),
                }
            }),
            ("threshold", |s| {
                s.condition = Condition::Threshold { op: CompareOp::Gt, threshold: f64::INFINITY }
            }),
            ("summary", |s| s.summary = "{{ $nope }}".into()),
        ];
        for (field, edit) in cases {
            let mut s = spec();
            edit(&mut s);
            let errs = s.validate().expect_err(field);
            assert!(errs.get(field).is_some(), "{field}: {errs}");
        }
        // Daily metrics ignore the window.
        let mut s = spec();
        s.query =
            RuleQuery::Kpi { metric: KpiMetric::Dau, window_minutes: 7, segment: String::new() };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn outside_severity_labels_map_to_levels() {
        for (label, want) in [
            ("P0", Some(Severity::P0)),
            ("critical", Some(Severity::P0)),
            (" Critical ", Some(Severity::P0)),
            ("p1", Some(Severity::P1)),
            ("error", Some(Severity::P1)),
            ("warning", Some(Severity::P2)),
            ("medium", Some(Severity::P2)),
            ("info", Some(Severity::P3)),
            ("low", Some(Severity::P3)),
            ("", None),
            ("sev1", None),
        ] {
            assert_eq!(Severity::from_label(label), want, "{label:?}");
        }
    }

    #[test]
    fn query_json_has_defaults() {
        let q: RuleQuery =
            serde_json::from_str(r#"{"source":"kpi","metric":"ai_success_rate"}"#).expect("json");
        assert_eq!(
            q,
            RuleQuery::Kpi {
                metric: KpiMetric::AiSuccessRate,
                window_minutes: 60,
                segment: String::new()
            }
        );
        assert_eq!(q.step_ms(), 3_600_000);
        let d =
            RuleQuery::Kpi { metric: KpiMetric::Dau, window_minutes: 60, segment: String::new() };
        assert_eq!((d.step_ms(), d.period_ms()), (DAY_MS, DAY_MS));
        for m in KpiMetric::ALL {
            assert_eq!(KpiMetric::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn promql_rules_take_threshold_or_no_data() {
        let mut s = spec();
        s.query = RuleQuery::Promql {
            expr: "avg(rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))".into(),
        };
        assert_eq!(s.validate(), Ok(()));
        s.condition = Condition::DropPct { pct: 10.0 };
        assert!(s.validate().expect_err("drop").get("kind").is_some());
        s.condition = Condition::NoData { for_ms: 300_000 };
        assert_eq!(s.validate(), Ok(()));
        s.query = RuleQuery::Promql { expr: " ".into() };
        assert!(s.validate().expect_err("empty").get("expr").is_some());
        let q: RuleQuery =
            serde_json::from_str(r#"{"source":"promql","expr":"up == 0"}"#).expect("json");
        assert_eq!(q.describe(), "up == 0");
    }

    #[test]
    fn probe_rules() {
        let q: RuleQuery =
            serde_json::from_str(r#"{"source":"probe","metric":"latency_p95_ms"}"#).expect("json");
        assert_eq!(
            q,
            RuleQuery::Probe {
                probe: String::new(),
                metric: ProbeMetric::LatencyP95Ms,
                window_minutes: 5,
                short_window_minutes: 0
            }
        );
        assert_eq!(q.describe(), "latency_p95_ms of every probe over 5m");
        let mut s = spec();
        s.query = q;
        s.condition = Condition::Threshold { op: CompareOp::Gt, threshold: 5000.0 };
        assert_eq!(s.validate(), Ok(()));
        s.condition = Condition::DropPct { pct: 10.0 };
        assert!(s.validate().expect_err("drop").get("kind").is_some());
        s.condition = Condition::NoData { for_ms: 300_000 };
        s.query = RuleQuery::Probe {
            probe: "API".into(),
            metric: ProbeMetric::BurnRate,
            window_minutes: 60,
            short_window_minutes: 60,
        };
        assert!(s.validate().expect_err("short").get("short_window").is_some());
        s.query = RuleQuery::Probe {
            probe: "API".into(),
            metric: ProbeMetric::Availability,
            window_minutes: 0,
            short_window_minutes: 0,
        };
        assert!(s.validate().expect_err("window").get("window").is_some());
    }
}
