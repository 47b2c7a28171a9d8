//! KPI queries for the dashboards: read rollups (never scan raw events, except for funnels,
//! which need order and time inside each user's events), apply the `domain::kpi` rules,
//! and compare with the previous period of the same length.

use crate::events::{day_start_ms, local_day, AiHour};
use crate::Caller;
use crate::Result;
use crate::ServiceError;
use domain::kpi::activity::{self, DaySets};
use domain::kpi::calendar;
use domain::kpi::calendar::{change_pct, Granularity};
use domain::kpi::funnel::FunnelResult;
use domain::kpi::ratios::{FeedbackCounts, NpsCounts};
use domain::kpi::subscriptions::{self, Money, MonthFigures};
use domain::Permission;
use serde::{Deserialize, Serialize};

pub mod catalogue;

/// An inclusive range of days in the reporting time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRange {
    pub from: i32,
    pub to: i32,
}

impl DayRange {
    pub fn len(&self) -> i32 {
        self.to - self.from + 1
    }

    pub fn is_empty(&self) -> bool {
        self.to < self.from
    }

    /// The period of the same length just before.
    pub fn previous(&self) -> DayRange {
        DayRange { from: self.from - self.len(), to: self.from - 1 }
    }

    pub fn days(&self) -> impl Iterator<Item = i32> {
        self.from..=self.to
    }
}

/// How a KPI value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Count,
    Ratio,
    Money,
    Millis,
    Score,
}

/// One KPI card: value, previous value and change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// Stable key, also the i18n key of the label.
    pub key: String,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub change_pct: Option<f64>,
    pub unit: Unit,
    /// Whether a rise is good news (green) or bad news (red, e.g. churn).
    pub up_is_good: bool,
    /// Money: the currency of `value` and `previous` (the reporting currency).
    #[serde(default)]
    pub currency: Option<String>,
    /// Money: the value in each other currency seen (never converted or summed).
    #[serde(default)]
    pub others: Vec<(String, f64)>,
    /// A monthly figure: its month (`YYYY-MM`) and whether only its first days (to the
    /// range's end) are counted; `previous` is then the whole month before.
    #[serde(default)]
    pub month: Option<(String, bool)>,
}

fn kpi(key: &str, unit: Unit, up_is_good: bool, value: Option<f64>, previous: Option<f64>) -> Kpi {
    let change = match (value, previous) {
        (Some(v), Some(p)) => change_pct(v, p),
        _ => None,
    };
    Kpi {
        key: key.to_owned(),
        value,
        previous,
        change_pct: change,
        unit,
        up_is_good,
        currency: None,
        others: Vec::new(),
        month: None,
    }
}

/// A named series of (day, value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub key: String,
    pub points: Vec<(i32, Option<f64>)>,
}

/// User-behaviour dashboard data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserBehaviour {
    pub range: DayRange,
    pub cards: Vec<Kpi>,
    pub activity: Vec<Series>,
    pub registrations: Vec<(i32, u64)>,
    pub granularity: Granularity,
    pub cohorts: Vec<activity::CohortRow>,
    pub cohort_offsets: Vec<i32>,
    pub features: Vec<FeatureUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureUsage {
    pub feature: String,
    pub users: u64,
    pub events: i64,
    /// Feature users in the range / users active in the range.
    pub penetration: Option<f64>,
    /// Users in the 7 days from the first use / active users in those days.
    pub new_feature_penetration: Option<f64>,
}

/// Product (AI quality, satisfaction) dashboard data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductQuality {
    pub range: DayRange,
    pub cards: Vec<Kpi>,
    pub daily: Vec<Series>,
    /// Count of ratings 1..=5 in the range.
    pub ratings: [u64; 5],
}

/// Business (subscriptions) dashboard data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Business {
    pub range: DayRange,
    pub cards: Vec<Kpi>,
    pub daily: Vec<Series>,
    /// The reporting currency: money cards' `value` and the revenue chart.
    pub currency: String,
    /// The monthly figures of every calendar month the range touches, oldest first.
    pub months: Vec<MonthFigures>,
}

pub const COHORT_OFFSETS: [i32; 6] = [1, 2, 3, 7, 14, 30];

/// The user tab's cards and what the rest of the tab reuses.
pub(crate) struct UserCards {
    pub cards: Vec<Kpi>,
    active: DaySets,
    cohorts: DaySets,
    today: i32,
    active_from: i32,
    active_to: i32,
}

/// Merges the per-day values of the days in `range`.
fn sum_days<T: Default>(rows: &[(i32, T)], range: DayRange, merge: impl Fn(&mut T, &T)) -> T {
    let mut out = T::default();
    for (_, v) in rows.iter().filter(|(d, _)| (range.from..=range.to).contains(d)) {
        merge(&mut out, v);
    }
    out
}

impl crate::Kpis<'_> {
    /// Today's day number in the reporting time zone.
    pub fn today(&self) -> i32 {
        local_day(self.now_ms(), self.events().reporting_tz())
    }

    fn check_range(&self, r: DayRange) -> Result<()> {
        if r.is_empty() {
            return Err(ServiceError::invalid("to", "must not be before from"));
        }
        if r.len() > 366 {
            return Err(ServiceError::invalid("from", "a range covers at most 366 days"));
        }
        Ok(())
    }

    /// The user tab's cards (registrations, DAU/WAU/MAU, stickiness, retention) and the
    /// day sets behind them.
    pub(crate) async fn user_cards(&self, actor: &Caller, r: DayRange) -> Result<UserCards> {
        actor.require(Permission::ViewDashboards)?;
        self.check_range(r)?;
        let today = self.today();
        let p = r.previous();
        // Active sets from 29 days before the previous period (MAU) to the end (+30 for D30).
        let (active_from, active_to) = (p.from - 29, (r.to + 30).min(today));
        let active = self.events().day_sets("active", active_from, active_to).await?;
        let cohorts = self.events().day_sets("registered", p.from, r.to).await?;

        let sum_cohorts = |range: DayRange| -> f64 {
            range.days().map(|d| cohorts.get(&d).map_or(0, |b| b.len()) as f64).sum()
        };
        let avg_dau = |range: DayRange| -> f64 {
            range.days().map(|d| activity::dau(&active, d) as f64).sum::<f64>()
                / f64::from(range.len())
        };
        let retention_avg = |range: DayRange, n: i32| -> Option<f64> {
            let (mut kept, mut size) = (0u64, 0u64);
            for d in range.days().filter(|d| d + n <= today) {
                if let Some(c) = cohorts.get(&d) {
                    size += c.len();
                    kept += active.get(&(d + n)).map_or(0, |a| c.intersection_len(a));
                }
            }
            (size > 0).then(|| kept as f64 / size as f64)
        };
        let at_end =
            |range: DayRange, w: i32| activity::active_in_window(&active, range.to, w) as f64;
        let mut cards = vec![
            kpi("registrations", Unit::Count, true, Some(sum_cohorts(r)), Some(sum_cohorts(p))),
            kpi("dau_avg", Unit::Count, true, Some(avg_dau(r)), Some(avg_dau(p))),
            kpi("wau", Unit::Count, true, Some(at_end(r, 7)), Some(at_end(p, 7))),
            kpi("mau", Unit::Count, true, Some(at_end(r, 30)), Some(at_end(p, 30))),
            kpi(
                "stickiness",
                Unit::Ratio,
                true,
                activity::stickiness(&active, r.to),
                activity::stickiness(&active, p.to),
            ),
        ];
        for n in [1, 7, 30] {
            cards.push(kpi(
                &format!("retention_d{n}"),
                Unit::Ratio,
                true,
                retention_avg(r, n),
                retention_avg(p, n),
            ));
        }
        Ok(UserCards { cards, active, cohorts, today, active_from, active_to })
    }

    /// User behaviour: registrations, DAU/WAU/MAU, stickiness, retention, features.
    pub async fn user_behaviour(
        &self,
        actor: &Caller,
        r: DayRange,
        g: Granularity,
    ) -> Result<UserBehaviour> {
        let UserCards { cards, active, cohorts, today, active_from, active_to } =
            self.user_cards(actor, r).await?;
        let series = |key: &str, f: &dyn Fn(i32) -> Option<f64>| Series {
            key: key.to_owned(),
            points: r.days().map(|d| (d, f(d))).collect(),
        };
        let activity_series = vec![
            series("dau", &|d| Some(activity::dau(&active, d) as f64)),
            series("wau", &|d| Some(activity::active_in_window(&active, d, 7) as f64)),
            series("mau", &|d| Some(activity::active_in_window(&active, d, 30) as f64)),
        ];
        let mut registrations: Vec<(i32, u64)> = Vec::new();
        for d in r.days() {
            let start = g.period_start(d);
            let n = cohorts.get(&d).map_or(0, |b| b.len());
            match registrations.last_mut() {
                Some((s, total)) if *s == start => *total += n,
                _ => registrations.push((start, n)),
            }
        }
        let cohort_from = r.from.max(r.to - 29);
        let cohort_rows =
            activity::cohort_table(&cohorts, &active, cohort_from, r.to, &COHORT_OFFSETS, today)
                .into_iter()
                .rev()
                .collect();

        let mut features = Vec::new();
        let active_in_range = activity::union_range(&active, r.from, r.to).len();
        for key in self.store.rollup_keys("feature:", r.from, r.to).await? {
            let rows = self.store.day_users(&key, r.from - 400, r.to).await?;
            let mut sets = DaySets::new();
            let mut events = 0;
            for row in rows {
                if row.day >= r.from {
                    events += row.events;
                }
                sets.insert(row.day, crate::rollups::bitmap_from(&row.users)?);
            }
            let users = activity::union_range(&sets, r.from, r.to).len();
            let first_use_active = {
                let first = sets.iter().find(|(_, s)| !s.is_empty()).map(|(d, _)| *d);
                match first {
                    // Reuse the active sets already loaded when they cover the 7 days
                    // (days after today have no data).
                    Some(f) if f >= active_from && (f + 6).min(today) <= active_to => {
                        activity::new_feature_penetration(&sets, &active)
                    }
                    Some(f) => {
                        let extra = self.events().day_sets("active", f, f + 6).await?;
                        activity::new_feature_penetration(&sets, &extra)
                    }
                    None => None,
                }
            };
            features.push(FeatureUsage {
                feature: key.trim_start_matches("feature:").to_owned(),
                users,
                events,
                penetration: (active_in_range > 0).then(|| users as f64 / active_in_range as f64),
                new_feature_penetration: first_use_active,
            });
        }
        features.sort_by(|a, b| b.users.cmp(&a.users).then(a.feature.cmp(&b.feature)));
        Ok(UserBehaviour {
            range: r,
            cards,
            activity: activity_series,
            registrations,
            granularity: g,
            cohorts: cohort_rows,
            cohort_offsets: COHORT_OFFSETS.to_vec(),
            features,
        })
    }

    /// A funnel over raw events in the range (raw events are kept 30 days), through the
    /// per-day slice cache (see `funnel.rs`).
    pub async fn funnel(
        &self,
        actor: &Caller,
        r: DayRange,
        steps: &[String],
        window_ms: i64,
    ) -> Result<FunnelResult> {
        actor.require(Permission::ViewDashboards)?;
        self.check_range(r)?;
        let mut errs = domain::FieldErrors::new();
        if !(2..=10).contains(&steps.len()) {
            errs.add("steps", "a funnel has 2 to 10 steps");
        }
        for s in steps {
            if let Err(e) = domain::events::check_event_name(s) {
                errs.add("steps", e);
            }
        }
        if !(60_000..=30 * 86_400_000).contains(&window_ms) {
            errs.add("window", "the conversion window is 1 minute to 30 days");
        }
        errs.into_result()?;
        let tz = self.events().reporting_tz();
        let from = day_start_ms(r.from, tz);
        // Users who start inside the range may finish within the window after it.
        self.evaluate_funnel(steps, from, day_start_ms(r.to + 1, tz), window_ms).await
    }

    async fn hourly_merged<T, F>(
        &self,
        key: &str,
        r: DayRange,
        mut merge: F,
    ) -> Result<Vec<(i32, T)>>
    where
        T: for<'de> Deserialize<'de> + Default + Clone,
        F: FnMut(&mut T, &T),
    {
        let tz = self.events().reporting_tz();
        let from_h = day_start_ms(r.from, tz).div_euclid(3_600_000);
        let to_h = (day_start_ms(r.to + 1, tz) - 1).div_euclid(3_600_000);
        let mut by_day: std::collections::BTreeMap<i32, T> =
            r.days().map(|d| (d, T::default())).collect();
        for (hour, data) in self.store.hourly(key, from_h, to_h).await? {
            let v: T = serde_json::from_str(&data)
                .map_err(|e| ServiceError::Internal(format!("corrupt hourly rollup: {e}")))?;
            let day = local_day(hour * 3_600_000, tz);
            if let Some(slot) = by_day.get_mut(&day) {
                merge(slot, &v);
            }
        }
        Ok(by_day.into_iter().collect())
    }

    /// AI response-time quantile `q` over the range, from the hourly sketches (the source of
    /// the product dashboard's P50/P95/P99 cards); `None` without dialogs.
    pub async fn response_quantile(
        &self,
        actor: &Caller,
        r: DayRange,
        q: f64,
    ) -> Result<Option<f64>> {
        actor.require(Permission::ViewDashboards)?;
        self.check_range(r)?;
        let ai = self.hourly_merged::<AiHour, _>("ai", r, AiHour::merge).await?;
        Ok(sum_days(&ai, r, AiHour::merge).response_ms.quantile(q))
    }

    /// Product quality: AI success, latency percentiles, KB coverage, transfer to human,
    /// resolution, satisfaction, bad reviews, NPS.
    pub async fn product_quality(&self, actor: &Caller, r: DayRange) -> Result<ProductQuality> {
        actor.require(Permission::ViewDashboards)?;
        self.check_range(r)?;
        let p = r.previous();
        let both = DayRange { from: p.from, to: r.to };
        let ai = self.hourly_merged::<AiHour, _>("ai", both, AiHour::merge).await?;
        let fb = self
            .hourly_merged::<FeedbackCounts, _>("feedback", both, FeedbackCounts::merge)
            .await?;
        let nps = self.hourly_merged::<NpsCounts, _>("nps", both, NpsCounts::merge).await?;
        let (ca, pa) = (sum_days(&ai, r, AiHour::merge), sum_days(&ai, p, AiHour::merge));
        let (cf, pf) =
            (sum_days(&fb, r, FeedbackCounts::merge), sum_days(&fb, p, FeedbackCounts::merge));
        let (cn, pn) = (sum_days(&nps, r, NpsCounts::merge), sum_days(&nps, p, NpsCounts::merge));
        let cards = vec![
            kpi(
                "ai_dialogs",
                Unit::Count,
                true,
                Some(ca.counts.ended as f64),
                Some(pa.counts.ended as f64),
            ),
            kpi(
                "ai_success_rate",
                Unit::Ratio,
                true,
                ca.counts.success_rate(),
                pa.counts.success_rate(),
            ),
            kpi(
                "response_p50",
                Unit::Millis,
                false,
                ca.response_ms.quantile(0.5),
                pa.response_ms.quantile(0.5),
            ),
            kpi(
                "response_p95",
                Unit::Millis,
                false,
                ca.response_ms.quantile(0.95),
                pa.response_ms.quantile(0.95),
            ),
            kpi(
                "response_p99",
                Unit::Millis,
                false,
                ca.response_ms.quantile(0.99),
                pa.response_ms.quantile(0.99),
            ),
            kpi("kb_coverage", Unit::Ratio, true, ca.counts.kb_coverage(), pa.counts.kb_coverage()),
            kpi(
                "transfer_to_human",
                Unit::Ratio,
                false,
                ca.counts.transfer_to_human(),
                pa.counts.transfer_to_human(),
            ),
            kpi("resolution_rate", Unit::Ratio, true, cf.resolution_rate(), pf.resolution_rate()),
            kpi("satisfaction", Unit::Score, true, cf.satisfaction(), pf.satisfaction()),
            kpi("bad_review_rate", Unit::Ratio, false, cf.bad_review_rate(), pf.bad_review_rate()),
            kpi("nps", Unit::Score, true, cn.nps(), pn.nps()),
        ];
        let in_range = |d: &i32| (r.from..=r.to).contains(d);
        let daily = vec![
            Series {
                key: "ai_success_rate".into(),
                points: ai
                    .iter()
                    .filter(|(d, _)| in_range(d))
                    .map(|(d, v)| (*d, v.counts.success_rate()))
                    .collect(),
            },
            Series {
                key: "response_p95".into(),
                points: ai
                    .iter()
                    .filter(|(d, _)| in_range(d))
                    .map(|(d, v)| (*d, v.response_ms.quantile(0.95)))
                    .collect(),
            },
        ];
        Ok(ProductQuality { range: r, cards, daily, ratings: cf.ratings })
    }

    /// Business: subscriptions, renewal, churn, revenue, MRR, ARPA, LTV (SPEC §1).
    ///
    /// Counts, renewal rate and revenue are of the range, against the range before it.
    /// Churn, ARPA and LTV are monthly: the cards show the calendar month the range ends
    /// in (to the range's end when it ends inside it, marked `to_date`) against the whole
    /// month before; `months` has every month the range touches. Money is per currency:
    /// the cards lead with the reporting currency, the others beside it, never summed.
    pub async fn business(&self, actor: &Caller, r: DayRange) -> Result<Business> {
        actor.require(Permission::ViewDashboards)?;
        self.check_range(r)?;
        let tz = self.events().reporting_tz();
        let p = r.previous();
        let months = calendar::months_covering(r.from, r.to);
        let first_month = months.first().map(|m| m.0).unwrap_or(r.from);
        // The month before the last one is the last card's comparison.
        let last_first = months.last().map_or(r.from, |m| m.0);
        let before_last = (Granularity::Month.period_start(last_first - 1), last_first - 1);
        let mut events = self.store.subscription_events(day_start_ms(r.to + 1, tz)).await?;
        let currency =
            subscriptions::reporting_currency(self.events().reporting_currency_setting(), &events);
        // A payment that names no currency is taken to be in the reporting currency.
        for e in events.iter_mut().filter(|e| e.currency.is_empty()) {
            e.currency.clone_from(&currency);
        }
        let from_day = p.from.min(first_month).min(before_last.0) - 29;
        let active = self.events().day_sets("active", from_day, r.to).await?;
        let range_period = |range: DayRange| {
            subscriptions::period(
                &events,
                day_start_ms(range.from, tz),
                day_start_ms(range.to + 1, tz),
            )
        };
        // A month's figures up to `last` (its last day, or the range's end inside it).
        let month = |(first, month_end): (i32, i32), last: i32| {
            let to = month_end.min(last);
            let period =
                subscriptions::period(&events, day_start_ms(first, tz), day_start_ms(to + 1, tz));
            let mau = activity::active_in_window(&active, to, 30);
            let (y, m, _) = calendar::civil_from_days(first);
            MonthFigures::of(format!("{y:04}-{m:02}"), to < month_end, &period, mau)
        };
        let month_rows: Vec<MonthFigures> = months.iter().map(|&m| month(m, r.to)).collect();
        let this_month = month_rows.last().cloned();
        let last_month = month(before_last, before_last.1);
        let c = range_period(r);
        let q = range_period(p);
        // `None`: undefined (no MAU for ARPA; no churn for LTV), not zero.
        let money = |key: &str, now: Option<&Money>, before: Option<&Money>| {
            let value = |m: Option<&Money>| {
                m.map(|m| subscriptions::in_currency(m, &currency).unwrap_or(0.0))
            };
            let mut k = kpi(key, Unit::Money, true, value(now), value(before));
            k.currency = Some(currency.clone());
            k.others = now
                .into_iter()
                .flatten()
                .filter(|(c, _)| **c != currency)
                .map(|(c, v)| (c.clone(), *v))
                .collect();
            k
        };
        let monthly = |mut k: Kpi| {
            if let Some(m) = &this_month {
                k.month = Some((m.month.clone(), m.to_date));
            }
            k
        };
        let tm = this_month.as_ref();
        let at_end = |d: i32| day_start_ms(d + 1, tz);
        let mrr_now = subscriptions::mrr(&events, at_end(r.to));
        let mrr_before = subscriptions::mrr(&events, at_end(p.to));
        let cards = vec![
            kpi("subs_new", Unit::Count, true, Some(c.new as f64), Some(q.new as f64)),
            kpi(
                "subs_cancelled",
                Unit::Count,
                false,
                Some(c.cancelled as f64),
                Some(q.cancelled as f64),
            ),
            kpi("subs_net", Unit::Count, true, Some(c.net as f64), Some(q.net as f64)),
            kpi(
                "active_subscribers",
                Unit::Count,
                true,
                Some(subscriptions::active_subscribers(&events, at_end(r.to)) as f64),
                Some(subscriptions::active_subscribers(&events, at_end(p.to)) as f64),
            ),
            kpi("renewal_rate", Unit::Ratio, true, c.renewal_rate, q.renewal_rate),
            monthly(kpi("churn", Unit::Ratio, false, tm.and_then(|m| m.churn), last_month.churn)),
            money("revenue", Some(&c.revenue), Some(&q.revenue)),
            money("mrr", Some(&mrr_now), Some(&mrr_before)),
            monthly(money("arpa", tm.and_then(|m| m.arpa.as_ref()), last_month.arpa.as_ref())),
            monthly(money("ltv", tm.and_then(|m| m.ltv.as_ref()), last_month.ltv.as_ref())),
        ];
        let per_day = |f: &dyn Fn(&subscriptions::SubPeriod) -> f64| -> Vec<(i32, Option<f64>)> {
            r.days()
                .map(|d| {
                    let s = subscriptions::period(
                        &events,
                        day_start_ms(d, tz),
                        day_start_ms(d + 1, tz),
                    );
                    (d, Some(f(&s)))
                })
                .collect()
        };
        let daily = vec![
            Series { key: "subs_new".into(), points: per_day(&|s| s.new as f64) },
            Series { key: "subs_cancelled".into(), points: per_day(&|s| s.cancelled as f64) },
            Series {
                key: "revenue".into(),
                points: per_day(&|s| {
                    subscriptions::in_currency(&s.revenue, &currency).unwrap_or(0.0)
                }),
            },
        ];
        Ok(Business { range: r, cards, daily, currency, months: month_rows })
    }
}
