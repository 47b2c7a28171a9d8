//! Dashboard server functions (viewer role): resolve the caller, one services call, charts
//! rendered to SVG on the server, numbers formatted for display.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Which period a dashboard shows, as it appears in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RangeQuery {
    /// `7d`, `30d`, `90d` or `custom`.
    pub range: String,
    /// `YYYY-MM-DD`, for `custom`.
    pub from: String,
    pub to: String,
    /// `day`, `week` or `month`.
    pub granularity: String,
}

/// One KPI card, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiView {
    pub key: String,
    pub value: String,
    pub change_pct: Option<f64>,
    /// `Some(true)`: the change is good news (green), `Some(false)`: bad news (red).
    pub good: Option<bool>,
    pub previous: String,
    /// Money: the value in each other currency ("10.00 USD"), never summed in.
    #[serde(default)]
    pub others: Vec<String>,
    /// A monthly figure: its month (`YYYY-MM`) and whether only its first days count.
    #[serde(default)]
    pub month: Option<(String, bool)>,
}

/// One calendar month of the business tab's "Monthly figures".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthRowView {
    pub month: String,
    pub to_date: bool,
    pub active_at_start: u64,
    pub churned: u64,
    pub churn: String,
    /// Every currency, e.g. "90.00 CNY · 10.00 USD".
    pub revenue: String,
    pub mau_at_end: u64,
    pub arpa: String,
    pub ltv: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRowView {
    pub day: String,
    pub size: u64,
    pub rates: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureView {
    pub feature: String,
    pub users: u64,
    pub events: i64,
    pub penetration: Option<f64>,
    pub new_feature_penetration: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStepView {
    pub event: String,
    pub users: u64,
    pub from_start: Option<f64>,
    pub from_previous: Option<f64>,
}

/// Everything a dashboard tab shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub from: String,
    pub to: String,
    pub days: i32,
    pub granularity: String,
    pub has_data: bool,
    pub cards: Vec<KpiView>,
    /// (title key, series keys for the legend, SVG).
    pub charts: Vec<(String, Vec<String>, Option<String>)>,
    pub cohort_offsets: Vec<i32>,
    pub cohorts: Vec<CohortRowView>,
    pub features: Vec<FeatureView>,
    pub ratings: Vec<u64>,
    pub funnel: Option<(Vec<FunnelStepView>, Option<usize>)>,
    /// Changes in the period, marked on the charts.
    pub changes: Vec<crate::features::changes::server_fns::ChangeRow>,
    /// Business: the monthly figures of the months the range touches.
    #[serde(default)]
    pub months: Vec<MonthRowView>,
    /// Freshness and the ingestion health panel (every tab).
    #[serde(default)]
    pub live: LiveView,
}

/// How fresh the data is and what arrived through the ingestion API in the last 24 h.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LiveView {
    /// When the newest accepted event arrived, in the caller's zone.
    pub last_event: Option<String>,
    /// …and how many minutes ago.
    pub last_event_min: Option<i64>,
    /// (key, accepted, duplicates, rejected).
    pub keys: Vec<(String, i64, i64, i64)>,
    /// (hour, accepted, duplicates, rejected), hours with arrivals.
    pub hours: Vec<(String, i64, i64, i64)>,
    /// (reason, key, count).
    pub rejected: Vec<(String, String, i64)>,
}

#[cfg(feature = "ssr")]
mod ssr_impl {
    use super::*;
    use domain::kpi::calendar::{format_day, parse_day, Granularity};
    use services::charts::{line_chart, Line, YFormat};
    use services::kpi::{DayRange, Kpi, Unit};

    pub fn resolve_range(q: &RangeQuery, today: i32) -> Result<(DayRange, Granularity), AppError> {
        let g = Granularity::parse(&q.granularity).unwrap_or_default();
        let r = match q.range.as_str() {
            "7d" => DayRange { from: today - 6, to: today },
            "90d" => DayRange { from: today - 89, to: today },
            "custom" => {
                let from = parse_day(&q.from).ok_or_else(|| {
                    services::ServiceError::invalid("from", "must be a date like 2026-11-01")
                })?;
                let to = parse_day(&q.to).ok_or_else(|| {
                    services::ServiceError::invalid("to", "must be a date like 2026-11-30")
                })?;
                DayRange { from, to }
            }
            _ => DayRange { from: today - 29, to: today },
        };
        Ok((r, g))
    }

    fn group(n: f64) -> String {
        let s = format!("{:.0}", n.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0.0 {
            format!("-{out}")
        } else {
            out
        }
    }

    pub fn fmt(v: Option<f64>, unit: Unit) -> String {
        let Some(v) = v else { return "—".into() };
        match unit {
            Unit::Count if v.fract().abs() > 1e-9 && v.abs() < 100.0 => format!("{v:.1}"),
            Unit::Count => group(v),
            Unit::Ratio => format!("{:.1}%", v * 100.0),
            Unit::Money => format!(
                "{}.{:02}",
                group(v.trunc()),
                ((v.fract().abs()) * 100.0).round() as i64 % 100
            ),
            Unit::Millis => format!("{} ms", group(v)),
            Unit::Score => format!("{v:.1}"),
        }
    }

    /// An amount with its currency code ("90.00 CNY").
    pub fn money(v: Option<f64>, currency: &str) -> String {
        match v {
            Some(_) if !currency.is_empty() => format!("{} {currency}", fmt(v, Unit::Money)),
            _ => fmt(v, Unit::Money),
        }
    }

    /// Every currency of an amount, "—" when there is none.
    pub fn all_money(m: &domain::kpi::subscriptions::Money) -> String {
        if m.is_empty() {
            return "—".into();
        }
        m.iter().map(|(c, v)| money(Some(*v), c)).collect::<Vec<_>>().join(" · ")
    }

    pub fn card(k: &Kpi) -> KpiView {
        let shown = |v: Option<f64>| match &k.currency {
            Some(c) => money(v, c),
            None => fmt(v, k.unit),
        };
        KpiView {
            key: k.key.clone(),
            value: shown(k.value),
            change_pct: k.change_pct,
            good: k.change_pct.filter(|c| c.abs() >= 0.05).map(|c| (c > 0.0) == k.up_is_good),
            previous: shown(k.previous),
            others: k.others.iter().map(|(c, v)| money(Some(*v), c)).collect(),
            month: k.month.clone(),
        }
    }

    pub fn month_row(m: &domain::kpi::subscriptions::MonthFigures) -> MonthRowView {
        MonthRowView {
            month: m.month.clone(),
            to_date: m.to_date,
            active_at_start: m.active_at_start,
            churned: m.churned_users,
            churn: fmt(m.churn, Unit::Ratio),
            revenue: all_money(&m.revenue),
            mau_at_end: m.mau_at_end,
            arpa: m.arpa.as_ref().map_or_else(|| "—".into(), all_money),
            ltv: m.ltv.as_ref().map_or_else(|| "—".into(), all_money),
        }
    }

    pub fn chart(
        title: &str,
        keys: &[&str],
        lines: &[&[(i32, Option<f64>)]],
        markers: &[i32],
        y: YFormat,
    ) -> Result<(String, Vec<String>, Option<String>), AppError> {
        let lines: Vec<Line<'_>> = lines.iter().map(|p| Line { points: p }).collect();
        let svg = line_chart(&lines, markers, y, 640, 260)?;
        Ok((title.to_owned(), keys.iter().map(|k| (*k).to_owned()).collect(), svg))
    }

    /// The request's caller, the services and the resolved period (each KPI method checks
    /// the caller may view dashboards).
    pub async fn context(
        q: &RangeQuery,
    ) -> Result<(services::Caller, services::Services, DayRange, Granularity), AppError> {
        let (svc, actor) = crate::session::ssr::door().await?;
        let (r, g) = resolve_range(q, svc.kpis().today())?;
        Ok((actor, svc, r, g))
    }

    /// The period's changes: their days (chart markers) and rows (listed under the charts).
    pub async fn changes(
        svc: &services::Services,
        actor: &services::Caller,
        r: DayRange,
    ) -> Result<(Vec<i32>, Vec<crate::features::changes::server_fns::ChangeRow>), AppError> {
        if !actor.can(domain::Permission::ViewChanges) {
            return Ok((Vec::new(), Vec::new()));
        }
        let changes = svc.changes().changes_in_days(actor, r.from, r.to).await?;
        let days = changes.iter().map(|(d, _)| *d).collect();
        let rows = changes
            .iter()
            .map(|(_, c)| crate::features::changes::server_fns::ssr::row(c, &actor.time_zone, None))
            .collect();
        Ok((days, rows))
    }

    /// Freshness and ingestion health for the caller.
    pub async fn live(
        svc: &services::Services,
        actor: &services::Caller,
    ) -> Result<LiveView, AppError> {
        let h = svc.events().ingestion_health(actor, 24).await?;
        let tz = &actor.time_zone;
        let now = svc.now_ms();
        let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Tz::UTC);
        let hour =
            |ms: i64| services::timefmt::format_in(ms, zone, "%Y-%m-%d %H:00").unwrap_or_default();
        Ok(LiveView {
            last_event: h.last_event_ms.map(|t| services::timefmt::format_ms(t, tz)),
            last_event_min: h.last_event_ms.map(|t| (now - t).max(0) / 60_000),
            keys: h
                .by_key
                .iter()
                .map(|(k, c)| (k.clone(), c.accepted, c.duplicates, c.rejected))
                .collect(),
            hours: h
                .by_hour
                .iter()
                .rev()
                .map(|(t, c)| (hour(*t), c.accepted, c.duplicates, c.rejected))
                .collect(),
            rejected: h.rejected,
        })
    }

    pub fn empty(r: DayRange, g: Granularity) -> DashboardView {
        DashboardView {
            from: format_day(r.from),
            to: format_day(r.to),
            days: r.len(),
            granularity: g.as_str().to_owned(),
            has_data: false,
            cards: Vec::new(),
            charts: Vec::new(),
            cohort_offsets: Vec::new(),
            cohorts: Vec::new(),
            features: Vec::new(),
            ratings: Vec::new(),
            funnel: None,
            changes: Vec::new(),
            months: Vec::new(),
            live: LiveView::default(),
        }
    }
}

/// The user-behaviour tab, with an optional funnel (`steps` comma-separated).
#[server(prefix = "/rpc", endpoint = "dash/user")]
pub async fn user_dashboard(
    q: RangeQuery,
    steps: String,
    window_hours: u32,
) -> Result<DashboardView, AppError> {
    use domain::kpi::calendar::format_day;
    use services::charts::YFormat;
    use ssr_impl::*;
    let (actor, svc, r, g) = context(&q).await?;
    let u = svc.kpis().user_behaviour(&actor, r, g).await?;
    let (marks, changes) = changes(&svc, &actor, r).await?;
    let mut v = empty(r, g);
    v.live = live(&svc, &actor).await?;
    v.changes = changes;
    v.has_data =
        u.activity.first().is_some_and(|s| s.points.iter().any(|(_, x)| x.unwrap_or(0.0) > 0.0));
    v.cards = u.cards.iter().map(card).collect();
    let reg: Vec<(i32, Option<f64>)> =
        u.registrations.iter().map(|(d, n)| (*d, Some(*n as f64))).collect();
    v.charts = vec![
        chart(
            "chart_activity",
            &["dau", "wau", "mau"],
            &[&u.activity[0].points, &u.activity[1].points, &u.activity[2].points],
            &marks,
            YFormat::Count,
        )?,
        chart("chart_registrations", &["registrations"], &[&reg], &marks, YFormat::Count)?,
    ];
    v.cohort_offsets = u.cohort_offsets.clone();
    v.cohorts = u
        .cohorts
        .iter()
        .map(|c| CohortRowView { day: format_day(c.day), size: c.size, rates: c.rates.clone() })
        .collect();
    v.features = u
        .features
        .iter()
        .map(|f| FeatureView {
            feature: f.feature.clone(),
            users: f.users,
            events: f.events,
            penetration: f.penetration,
            new_feature_penetration: f.new_feature_penetration,
        })
        .collect();
    let steps = domain::comma_list(&steps);
    if !steps.is_empty() {
        let window_ms = i64::from(window_hours.max(1)) * 3_600_000;
        let f = svc.kpis().funnel(&actor, r, &steps, window_ms).await?;
        v.funnel = Some((
            f.steps
                .iter()
                .map(|s| FunnelStepView {
                    event: s.event.clone(),
                    users: s.users,
                    from_start: s.from_start,
                    from_previous: s.from_previous,
                })
                .collect(),
            f.drop_off_step,
        ));
    }
    Ok(v)
}

/// The product-quality tab.
#[server(prefix = "/rpc", endpoint = "dash/product")]
pub async fn product_dashboard(q: RangeQuery) -> Result<DashboardView, AppError> {
    use services::charts::YFormat;
    use ssr_impl::*;
    let (actor, svc, r, g) = context(&q).await?;
    let p = svc.kpis().product_quality(&actor, r).await?;
    let (marks, changes) = changes(&svc, &actor, r).await?;
    let mut v = empty(r, g);
    v.live = live(&svc, &actor).await?;
    v.changes = changes;
    v.has_data = p.cards.first().and_then(|c| c.value).unwrap_or(0.0) > 0.0
        || p.ratings.iter().sum::<u64>() > 0;
    v.cards = p.cards.iter().map(card).collect();
    v.charts = vec![
        chart(
            "chart_ai_success",
            &["ai_success_rate"],
            &[&p.daily[0].points],
            &marks,
            YFormat::Percent,
        )?,
        chart(
            "chart_response_p95",
            &["response_p95"],
            &[&p.daily[1].points],
            &marks,
            YFormat::Millis,
        )?,
    ];
    v.ratings = p.ratings.to_vec();
    Ok(v)
}

/// The business tab.
#[server(prefix = "/rpc", endpoint = "dash/business")]
pub async fn business_dashboard(q: RangeQuery) -> Result<DashboardView, AppError> {
    use services::charts::YFormat;
    use ssr_impl::*;
    let (actor, svc, r, g) = context(&q).await?;
    let b = svc.kpis().business(&actor, r).await?;
    let (marks, changes) = changes(&svc, &actor, r).await?;
    let mut v = empty(r, g);
    v.live = live(&svc, &actor).await?;
    v.changes = changes;
    v.has_data = b.daily.iter().any(|s| s.points.iter().any(|(_, x)| x.unwrap_or(0.0) > 0.0))
        || b.cards.iter().any(|c| c.key == "active_subscribers" && c.value.unwrap_or(0.0) > 0.0);
    v.cards = b.cards.iter().map(card).collect();
    v.months = b.months.iter().map(month_row).collect();
    v.charts = vec![
        chart(
            "chart_subscriptions",
            &["subs_new", "subs_cancelled"],
            &[&b.daily[0].points, &b.daily[1].points],
            &marks,
            YFormat::Count,
        )?,
        // The reporting currency's revenue; the legend names the currency.
        chart(
            "chart_revenue",
            &[b.currency.as_str()],
            &[&b.daily[2].points],
            &marks,
            YFormat::Money,
        )?,
    ];
    Ok(v)
}
