//! Every KPI the dashboards show, by key, for programs (`GET /api/v1/kpis`), CSV downloads
//! and the rule editor: one definition per KPI, and one way to compute it — the dashboard's
//! own card over the asked range, so a program reads exactly what the card shows.

use super::{DayRange, Kpi, Unit};
use crate::{Caller, Result, ServiceError};
use domain::kpi::calendar::{self, format_day, Granularity};
use serde::{Deserialize, Serialize};

/// Which dashboard tab a KPI is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tab {
    User,
    Product,
    Business,
}

/// What `segment` means for a KPI that takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// A feature (the object part of `feature_{action}_{feature}` events).
    Feature,
    /// A funnel: its steps, event names separated by commas (window: one day).
    FunnelSteps,
}

/// One KPI of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KpiDef {
    pub key: &'static str,
    pub tab: Tab,
    pub unit: Unit,
    /// Whether a rise is good news.
    pub up_is_good: bool,
    /// `Some`: the KPI needs a `segment`.
    pub segment: Option<Segment>,
    /// The definition (SPEC §1), as the API documents it.
    pub definition: &'static str,
}

const fn def(key: &'static str, tab: Tab, unit: Unit, definition: &'static str) -> KpiDef {
    KpiDef { key, tab, unit, up_is_good: true, segment: None, definition }
}

const fn bad(d: KpiDef) -> KpiDef {
    KpiDef { up_is_good: false, ..d }
}

const fn seg(d: KpiDef, s: Segment) -> KpiDef {
    KpiDef { segment: Some(s), ..d }
}

use Tab::{Business as B, Product as P, User as U};
use Unit::{Count, Millis, Money, Ratio, Score};

/// Every KPI, in dashboard order.
pub const CATALOGUE: &[KpiDef] = &[
    def("registrations", U, Count, "first user_register_success per user in the range"),
    def("dau_avg", U, Count, "mean over the range's days of the distinct users active that day"),
    def("wau", U, Count, "distinct users active in the 7 days ending on the range's last day"),
    def("mau", U, Count, "distinct users active in the 30 days ending on the range's last day"),
    def("stickiness", U, Ratio, "DAU / MAU on the range's last day"),
    def("retention_d1", U, Ratio, "cohorts registered in the range: active on day 1 / cohort size (complete days only)"),
    def("retention_d7", U, Ratio, "cohorts registered in the range: active on day 7 / cohort size (complete days only)"),
    def("retention_d30", U, Ratio, "cohorts registered in the range: active on day 30 / cohort size (complete days only)"),
    seg(def("feature_users", U, Count, "distinct users of the feature in the range"), Segment::Feature),
    seg(def("feature_penetration", U, Ratio, "users of the feature / users active in the range"), Segment::Feature),
    seg(def("funnel_conversion", U, Ratio, "users completing every step in order within one day of step 1 / users of step 1"), Segment::FunnelSteps),
    def("ai_dialogs", P, Count, "ai_dialog_end events in the range"),
    def("ai_success_rate", P, Ratio, "ai_dialog_end with success / all ai_dialog_end"),
    bad(def("response_p50", P, Millis, "median response_ms of ai_dialog_end")),
    bad(def("response_p95", P, Millis, "95th percentile of response_ms of ai_dialog_end")),
    bad(def("response_p99", P, Millis, "99th percentile of response_ms of ai_dialog_end")),
    def("kb_coverage", P, Ratio, "ai_dialog_end with answer_source = knowledge_base / all ended"),
    bad(def("transfer_to_human", P, Ratio, "ai_dialog_end with answer_source = human / all ended")),
    def("resolution_rate", P, Ratio, "ai_dialog_feedback with resolved / all feedback"),
    def("satisfaction", P, Score, "mean rating (1–5) of ai_dialog_feedback"),
    bad(def("bad_review_rate", P, Ratio, "ratings 1–2 / all ratings")),
    def("nps", P, Score, "% of nps_survey_submit scores 9–10 − % of scores 0–6"),
    def("subs_new", B, Count, "subscription_start events in the range"),
    bad(def("subs_cancelled", B, Count, "subscription_cancel + subscription_expire events in the range")),
    def("subs_net", B, Count, "new − cancelled"),
    def("active_subscribers", B, Count, "users whose latest subscription event before the range's end is a start or renew"),
    def("renewal_rate", B, Ratio, "renewals / (renewals + expirations) in the range"),
    bad(def("churn", B, Ratio, "monthly: subscribers at the start of the month the range ends in whose subscription ended in it (to the range's end) / subscribers at its start")),
    def("revenue", B, Money, "sum of amount of starts and renewals in the range, per currency"),
    def("mrr", B, Money, "at the range's end: each active subscriber's latest payment per month (yearly / 12), per currency"),
    def("arpa", B, Money, "monthly: the month's revenue / MAU on its last day (to the range's end), per currency"),
    def("ltv", B, Money, "monthly: ARPA / churn of the month, per currency"),
];

/// The definition of `key`.
pub fn find(key: &str) -> Option<&'static KpiDef> {
    CATALOGUE.iter().find(|d| d.key == key)
}

/// One KPI over a range: the card's figures and its series by granularity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiReport {
    pub kpi: String,
    pub unit: Unit,
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub change_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_currencies: Vec<(String, f64)>,
    /// Monthly KPIs: the month the value is of, and whether only its first days count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<(String, bool)>,
    /// One point per period of `granularity` inside the range (the first and last
    /// clipped to it): the KPI over that period.
    pub series: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub from: String,
    pub to: String,
    pub value: Option<f64>,
}

/// Series longer than this are refused (`granularity`): each point is a dashboard query.
pub const MAX_POINTS: usize = 120;

fn csv_num(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

impl KpiReport {
    /// CSV: a `range` row with the card's figures, then one row per period.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("kpi,period,from,to,value,previous,change_pct,unit,currency\n");
        let unit = format!("{:?}", self.unit).to_lowercase();
        let cur = self.currency.clone().unwrap_or_default();
        out.push_str(&format!(
            "{},range,{},{},{},{},{},{unit},{cur}\n",
            self.kpi,
            self.from,
            self.to,
            csv_num(self.value),
            csv_num(self.previous),
            csv_num(self.change_pct),
        ));
        for (c, v) in &self.other_currencies {
            out.push_str(&format!(
                "{},range,{},{},{v},,,{unit},{c}\n",
                self.kpi, self.from, self.to
            ));
        }
        for p in &self.series {
            out.push_str(&format!(
                "{},{},{},{},{},,,{unit},{cur}\n",
                self.kpi,
                self.granularity.as_str(),
                p.from,
                p.to,
                csv_num(p.value)
            ));
        }
        out
    }
}

/// A KPI request as programs and download links send it: dates `YYYY-MM-DD` in the
/// reporting time zone (default: the 30 days ending today), `day`/`week`/`month`
/// (default `day`), and the segment some KPIs need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub granularity: Option<String>,
    #[serde(default)]
    pub segment: Option<String>,
    /// `json` (default) or `csv`; read by the HTTP layer.
    #[serde(default)]
    pub format: Option<String>,
    /// A funnel export's conversion window in hours (default 24).
    #[serde(default)]
    pub window: Option<u32>,
}

impl KpiQuery {
    /// The range and granularity asked for; errors name `from`, `to` or `granularity`.
    pub fn resolve(&self, today: i32) -> Result<(DayRange, Granularity)> {
        let day = |field: &str, v: &Option<String>| -> Result<Option<i32>> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => calendar::parse_day(s)
                    .map(Some)
                    .ok_or_else(|| ServiceError::invalid(field, "must be a date like 2026-11-30")),
            }
        };
        if !matches!(self.format.as_deref(), None | Some("json" | "csv")) {
            return Err(ServiceError::invalid("format", "must be json or csv"));
        }
        let to = day("to", &self.to)?.unwrap_or(today);
        let from = day("from", &self.from)?.unwrap_or(to - 29);
        let g = match self.granularity.as_deref().map(str::trim) {
            None | Some("") => Granularity::Day,
            Some(g) => Granularity::parse(g).ok_or_else(|| {
                ServiceError::invalid("granularity", "must be day, week or month")
            })?,
        };
        Ok((DayRange { from, to }, g))
    }
}

impl crate::Kpis<'_> {
    /// The cohort table of the user tab as CSV: one row per registration day of the range
    /// (its last 30 days), its size and retention on each offset day (0–1; empty when that
    /// day has not come yet).
    pub async fn cohorts_csv(&self, actor: &Caller, q: &KpiQuery) -> Result<String> {
        actor.require(domain::Permission::ViewDashboards)?;
        let (r, _) = q.resolve(self.today())?;
        let u = self.user_behaviour(actor, r, Granularity::Day).await?;
        let mut out = String::from("cohort_day,size");
        for n in &u.cohort_offsets {
            out.push_str(&format!(",d{n}"));
        }
        out.push('\n');
        for c in &u.cohorts {
            out.push_str(&format!("{},{}", format_day(c.day), c.size));
            for rate in &c.rates {
                out.push_str(&format!(",{}", csv_num(*rate)));
            }
            out.push('\n');
        }
        Ok(out)
    }

    /// A funnel as CSV: one row per step with its users, conversion from step 1 and from
    /// the previous step (0–1), and whether it is the drop-off step. `segment` holds the
    /// steps (event names separated by commas), `window` the hours (default 24).
    pub async fn funnel_csv(&self, actor: &Caller, q: &KpiQuery) -> Result<String> {
        actor.require(domain::Permission::ViewDashboards)?;
        let (r, _) = q.resolve(self.today())?;
        let steps = domain::comma_list(q.segment.as_deref().unwrap_or_default());
        let window = q.window.unwrap_or(24);
        if !(1..=720).contains(&window) {
            return Err(ServiceError::invalid("window", "hours from 1 to 720"));
        }
        let f = self.funnel(actor, r, &steps, i64::from(window) * 3_600_000).await?;
        let mut out = String::from("step,event,users,from_start,from_previous,drop_off\n");
        for (i, s) in f.steps.iter().enumerate() {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                i + 1,
                s.event,
                s.users,
                csv_num(s.from_start),
                csv_num(s.from_previous),
                f.drop_off_step == Some(i)
            ));
        }
        Ok(out)
    }

    /// The catalogue (viewer, or an API key with `read`).
    pub fn kpi_catalogue(&self, actor: &Caller) -> Result<&'static [KpiDef]> {
        actor.require(domain::Permission::ViewDashboards)?;
        Ok(CATALOGUE)
    }

    /// [`Self::kpi_report`] for a request's query.
    pub async fn kpi_report_for(
        &self,
        actor: &Caller,
        key: &str,
        q: &KpiQuery,
    ) -> Result<KpiReport> {
        actor.require(domain::Permission::ViewDashboards)?;
        let (r, g) = q.resolve(self.today())?;
        self.kpi_report(actor, key, r, g, q.segment.as_deref()).await
    }

    /// One KPI's card over `r` (as its dashboard shows it).
    pub async fn kpi_card(
        &self,
        actor: &Caller,
        def: &KpiDef,
        r: DayRange,
        segment: Option<&str>,
    ) -> Result<Kpi> {
        let pick = |cards: Vec<Kpi>| {
            cards
                .into_iter()
                .find(|c| c.key == def.key)
                .ok_or_else(|| ServiceError::Internal(format!("no card {}", def.key)))
        };
        match (def.tab, def.segment) {
            (Tab::User, None) => pick(self.user_cards(actor, r).await?.cards),
            (Tab::Product, _) => pick(self.product_quality(actor, r).await?.cards),
            (Tab::Business, _) => pick(self.business(actor, r).await?.cards),
            (Tab::User, Some(Segment::Feature)) => {
                let feature = segment.unwrap_or_default();
                let now = self.feature_figures(actor, r, feature).await?;
                let before = self.feature_figures(actor, r.previous(), feature).await?;
                let (value, previous) = if def.key == "feature_users" {
                    (Some(now.0 as f64), Some(before.0 as f64))
                } else {
                    (now.1, before.1)
                };
                Ok(super::kpi(def.key, def.unit, def.up_is_good, value, previous))
            }
            (Tab::User, Some(Segment::FunnelSteps)) => {
                let steps = domain::comma_list(segment.unwrap_or_default());
                let conversion = |f: domain::kpi::funnel::FunnelResult| {
                    f.steps.last().and_then(|s| s.from_start)
                };
                let now = self.funnel(actor, r, &steps, 86_400_000).await?;
                let before = self.funnel(actor, r.previous(), &steps, 86_400_000).await;
                // The previous period may lie beyond the raw events' retention.
                let previous = before.ok().and_then(conversion);
                Ok(super::kpi(def.key, def.unit, def.up_is_good, conversion(now), previous))
            }
        }
    }

    /// Users of `feature` in `r` and their share of the users active in `r`.
    async fn feature_figures(
        &self,
        actor: &Caller,
        r: DayRange,
        feature: &str,
    ) -> Result<(u64, Option<f64>)> {
        actor.require(domain::Permission::ViewDashboards)?;
        if feature.is_empty() {
            return Err(ServiceError::invalid("segment", "name the feature, e.g. export"));
        }
        let key = format!("feature:{feature}");
        let mut users = roaring::RoaringBitmap::new();
        for row in self.store.day_users(&key, r.from, r.to).await? {
            users |= crate::rollups::bitmap_from(&row.users)?;
        }
        let active = self.events().day_sets("active", r.from, r.to).await?;
        let active_n = domain::kpi::activity::union_range(&active, r.from, r.to).len();
        let n = users.len();
        Ok((n, (active_n > 0).then(|| n as f64 / active_n as f64)))
    }

    /// A KPI by key over `r`, with its series by `g` (viewer, or an API key with `read`).
    /// Errors name the parameter: `kpi`, `segment`, `granularity`, `from`/`to`.
    pub async fn kpi_report(
        &self,
        actor: &Caller,
        key: &str,
        r: DayRange,
        g: Granularity,
        segment: Option<&str>,
    ) -> Result<KpiReport> {
        actor.require(domain::Permission::ViewDashboards)?;
        let def = find(key).ok_or_else(|| {
            ServiceError::invalid("kpi", "unknown KPI: GET /api/v1/kpis lists them")
        })?;
        let segment = segment.map(str::trim).filter(|s| !s.is_empty());
        match (def.segment, segment) {
            (Some(Segment::Feature), None) => {
                return Err(ServiceError::invalid("segment", "name the feature, e.g. export"))
            }
            (Some(Segment::FunnelSteps), None) => {
                return Err(ServiceError::invalid(
                    "segment",
                    "the funnel's steps, event names separated by commas",
                ))
            }
            (None, Some(_)) => {
                return Err(ServiceError::invalid("segment", "this KPI takes no segment"))
            }
            _ => {}
        }
        self.check_range(r)?;
        let mut periods = Vec::new();
        let mut start = r.from;
        while start <= r.to {
            let next = match g {
                Granularity::Day => start + 1,
                Granularity::Week => calendar::week_start(start) + 7,
                Granularity::Month => calendar::next_month_start(start),
            };
            periods.push(DayRange { from: start, to: (next - 1).min(r.to) });
            start = next;
            if periods.len() > MAX_POINTS {
                return Err(ServiceError::invalid(
                    "granularity",
                    format!("at most {MAX_POINTS} points: choose a coarser granularity or a shorter range"),
                ));
            }
        }
        let card = self.kpi_card(actor, def, r, segment).await?;
        let mut series = Vec::with_capacity(periods.len());
        for p in periods {
            let v = self.kpi_card(actor, def, p, segment).await?.value;
            series.push(SeriesPoint { from: format_day(p.from), to: format_day(p.to), value: v });
        }
        Ok(KpiReport {
            kpi: def.key.to_owned(),
            unit: def.unit,
            from: format_day(r.from),
            to: format_day(r.to),
            granularity: g,
            segment: segment.map(str::to_owned),
            value: card.value,
            previous: card.previous,
            change_pct: card.change_pct,
            currency: card.currency,
            other_currencies: card.others,
            month: card.month,
            series,
        })
    }
}
