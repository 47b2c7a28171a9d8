//! `/dashboards?tab=user|product|business&range=7d|30d|90d|custom&from=&to=&g=day|week|month`
//! — the URL holds the whole state, so a link shows a colleague the same view.

use super::server_fns::{
    business_dashboard, product_dashboard, user_dashboard, DashboardView, KpiView, RangeQuery,
};
use crate::components::{EmptyState, Icon, IfCan, PageHeader};
use crate::i18n::{key_msg, t, use_locale, Msg};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const PALETTE: [&str; 4] = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b"];

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Clone, PartialEq, Default)]
struct State {
    tab: String,
    range: String,
    from: String,
    to: String,
    g: String,
    steps: String,
    window: u32,
    /// Auto-refresh: `off`, `30s`, `1m` or `5m`.
    refresh: String,
}

/// The auto-refresh choices and their periods in seconds.
const REFRESH: [(&str, u32, Msg); 4] = [
    ("off", 0, Msg::RefreshOff),
    ("30s", 30, Msg::Refresh30s),
    ("1m", 60, Msg::Refresh1m),
    ("5m", 300, Msg::Refresh5m),
];

impl State {
    fn href(&self, change: impl FnOnce(&mut State)) -> String {
        let mut s = self.clone();
        change(&mut s);
        let mut url =
            format!("/dashboards?tab={}&range={}&g={}", enc(&s.tab), enc(&s.range), enc(&s.g));
        if s.range == "custom" {
            url.push_str(&format!("&from={}&to={}", enc(&s.from), enc(&s.to)));
        }
        if s.tab == "user" && !s.steps.is_empty() {
            url.push_str(&format!("&steps={}&window={}", enc(&s.steps), s.window));
        }
        if s.refresh != "off" {
            url.push_str(&format!("&refresh={}", enc(&s.refresh)));
        }
        url
    }

    fn query(&self) -> RangeQuery {
        RangeQuery {
            range: self.range.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            granularity: self.g.clone(),
        }
    }
}

fn label(key: &str) -> String {
    let locale = use_locale();
    key_msg(key).map_or_else(|| key.to_owned(), |m| m.text(locale.get()).to_owned())
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

#[component]
pub fn DashboardsPage() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        State {
            tab: Some(get("tab"))
                .filter(|t| ["user", "product", "business"].contains(&t.as_str()))
                .unwrap_or_else(|| "user".into()),
            range: Some(get("range"))
                .filter(|r| ["7d", "30d", "90d", "custom"].contains(&r.as_str()))
                .unwrap_or_else(|| "30d".into()),
            from: get("from"),
            to: get("to"),
            g: Some(get("g"))
                .filter(|g| ["day", "week", "month"].contains(&g.as_str()))
                .unwrap_or_else(|| "day".into()),
            steps: get("steps"),
            window: get("window").parse().ok().filter(|w| (1..=720).contains(w)).unwrap_or(24),
            refresh: Some(get("refresh"))
                .filter(|r| REFRESH.iter().any(|(k, _, _)| k == r))
                .unwrap_or_else(|| "off".into()),
        }
    });
    let data = Resource::new(
        move || state.get(),
        |s| async move {
            match s.tab.as_str() {
                "product" => product_dashboard(s.query()).await,
                "business" => business_dashboard(s.query()).await,
                _ => user_dashboard(s.query(), s.steps.clone(), s.window).await,
            }
        },
    );
    // Auto-refresh (browser only): refetch every period while the page is open; the
    // Transition keeps the figures on screen while the new ones load.
    Effect::new(move |_| {
        let secs = REFRESH.iter().find(|(k, _, _)| *k == state.get().refresh).map_or(0, |r| r.1);
        if secs > 0 {
            if let Ok(handle) = set_interval_with_handle(
                move || data.refetch(),
                std::time::Duration::from_secs(u64::from(secs)),
            ) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    let refresh_link = move |key: &'static str, msg: Msg| {
        view! {
            <a
                class="chip"
                href=move || state.get().href(|s| s.refresh = key.into())
                aria-current=move || (state.get().refresh == key).then_some("true")
                data-testid=format!("refresh-{key}")
            >
                {t(msg)}
            </a>
        }
    };
    let tab_link = move |tab: &'static str, msg: Msg| {
        view! {
            <a
                href=move || state.get().href(|s| s.tab = tab.into())
                aria-current=move || (state.get().tab == tab).then_some("page")
            >
                {t(msg)}
            </a>
        }
    };
    let range_link = move |range: &'static str, msg: Msg| {
        view! {
            <a
                class="chip"
                href=move || state.get().href(|s| s.range = range.into())
                aria-current=move || (state.get().range == range).then_some("true")
            >
                {t(msg)}
            </a>
        }
    };
    let g_link = move |g: &'static str, msg: Msg| {
        view! {
            <a
                class="chip"
                href=move || state.get().href(|s| s.g = g.into())
                aria-current=move || (state.get().g == g).then_some("true")
            >
                {t(msg)}
            </a>
        }
    };
    view! {
        <Title text=t(Msg::DashboardsTitle) />
        <PageHeader title=Msg::DashboardsTitle />
        <nav class="tabs" aria-label="Dashboards">
            {tab_link("user", Msg::TabUser)}
            {tab_link("product", Msg::TabProduct)}
            {tab_link("business", Msg::TabBusiness)}
        </nav>
        <div class="toolbar">
            <div class="chips" role="group" aria-label="Range">
                {range_link("7d", Msg::Range7)}
                {range_link("30d", Msg::Range30)}
                {range_link("90d", Msg::Range90)}
            </div>
            <form class="custom-range" method="get" action="/dashboards">
                <input type="hidden" name="tab" prop:value=move || state.get().tab />
                <input type="hidden" name="range" value="custom" />
                <input type="hidden" name="g" prop:value=move || state.get().g />
                <label>
                    <span class="sr-only">{t(Msg::From)}</span>
                    <input type="date" name="from" required prop:value=move || state.get().from />
                </label>
                <span class="muted">"–"</span>
                <label>
                    <span class="sr-only">{t(Msg::To)}</span>
                    <input type="date" name="to" required prop:value=move || state.get().to />
                </label>
                <button type="submit" class="btn btn-small">{t(Msg::Apply)}</button>
            </form>
            <div class="chips" role="group" aria-label=move || t(Msg::AutoRefresh)()>
                <span class="muted small chips-label">{t(Msg::AutoRefresh)}</span>
                {REFRESH.into_iter().map(|(k, _, m)| refresh_link(k, m)).collect_view()}
            </div>
            {move || (state.get().tab == "user").then(|| view! {
                <div class="chips" role="group" aria-label="Granularity">
                    {g_link("day", Msg::GranDay)}
                    {g_link("week", Msg::GranWeek)}
                    {g_link("month", Msg::GranMonth)}
                </div>
            })}
        </div>
        <Transition fallback=|| view! { <div class="loading" aria-busy="true">{t(Msg::Loading)}</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <p class="alert alert-error" role="alert">{e.field("from").or_else(|| e.field("to")).or_else(|| e.field("steps")).or_else(|| e.field("window")).unwrap_or_else(|| e.text_now())}</p> }.into_any(),
                    Ok(v) => view! { <Dashboard v state=state.get_untracked() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Dashboard(v: DashboardView, state: State) -> impl IntoView {
    let period = format!("{} – {} · {}d", v.from, v.to, v.days);
    let live = v.live.clone();
    if !v.has_data {
        return view! {
            <p class="muted period">{period}</p>
            <Freshness live=live.clone() />
            <EmptyState title=Msg::DashNoData body=Msg::DashNoDataBody icon=Icon::Chart />
            <Ingestion live />
        }
        .into_any();
    }
    let is_user = state.tab == "user";
    view! {
        <p class="muted period" data-testid="period">{period}</p>
        <Freshness live=live.clone() />
        <div class="kpis" data-testid="kpi-cards">
            {v.cards.into_iter().map(|c| {
                let csv = format!("/export/kpis/{}?from={}&to={}", c.key, v.from, v.to);
                let alert = domain::alerting::KpiMetric::for_card(&c.key)
                    .map(|m| format!("/alerts/rules/new?metric={}", m.as_str()));
                view! { <KpiCard c csv alert /> }
            }).collect_view()}
        </div>
        <div class="charts">
            {v.charts.into_iter().map(|(title, keys, svg)| view! { <ChartCard title keys svg /> }).collect_view()}
        </div>
        {(!v.changes.is_empty()).then(|| view! {
            <details class="card chart-changes" data-testid="chart-changes">
                <summary>{t(Msg::ChartChanges)}": "{v.changes.len()}</summary>
                <ul class="changes">{v.changes.clone().into_iter().map(crate::features::changes::page::change_item).collect_view()}</ul>
            </details>
        })}
        {(!v.ratings.is_empty()).then(|| view! { <Ratings ratings=v.ratings.clone() /> })}
        {(!v.months.is_empty()).then(|| view! { <Months rows=v.months.clone() /> })}
        <Ingestion live />
        {is_user.then(|| view! {
            <Cohorts offsets=v.cohort_offsets.clone() rows=v.cohorts.clone() csv=format!("/export/cohorts?from={}&to={}", v.from, v.to) />
            <Features rows=v.features.clone() />
            <Funnel state=state.clone() result=v.funnel.clone() from=v.from.clone() to=v.to.clone() />
        })}
    }
    .into_any()
}

#[component]
fn KpiCard(c: KpiView, csv: String, alert: Option<String>) -> impl IntoView {
    let key = c.key.clone();
    let data_key = c.key.clone();
    let change = c.change_pct.map(|p| {
        let (arrow, class) = match (p > 0.0, c.good) {
            (_, None) => ("→", "flat"),
            (true, Some(good)) => ("▲", if good { "good" } else { "bad" }),
            (false, Some(good)) => ("▼", if good { "good" } else { "bad" }),
        };
        (format!("{arrow} {:.1}%", p.abs()), class)
    });
    view! {
        <section class="kpi" data-kpi=data_key>
            <h3>{move || label(&key)}</h3>
            <div class="kpi-value">{c.value.clone()}</div>
            <div class="kpi-change">
                {match change {
                    Some((text, class)) => view! { <span class=format!("delta {class}")>{text}</span> }.into_any(),
                    None => view! { <span class="delta flat">"—"</span> }.into_any(),
                }}
                <span class="muted">" " {if c.month.is_some() { t(Msg::VsMonthBefore) } else { t(Msg::Previous) }} " " {c.previous.clone()}</span>
            </div>
            {(!c.others.is_empty()).then(|| view! {
                <div class="kpi-others muted small" data-testid="kpi-others">{c.others.join(" · ")}</div>
            })}
            <div class="kpi-links small">
                <a class="muted" href=csv download data-testid="kpi-csv" rel="nofollow">"CSV"</a>
                {alert.map(|href| view! {
                    <IfCan can=Permission::EditRules>
                        " · "<a class="muted" href=href.clone() data-testid="alert-on-this">{t(Msg::AlertOnThis)}</a>
                    </IfCan>
                })}
            </div>
            {c.month.clone().map(|(month, to_date)| view! {
                <div class="kpi-basis muted small" data-testid="kpi-month">
                    {t(Msg::MonthlyOf)}" "{month}{to_date.then(|| view! { " ("{t(Msg::MonthToDate)}")" })}
                </div>
            })}
        </section>
    }
}

/// "Last event received …": how fresh the figures are.
#[component]
fn Freshness(live: super::server_fns::LiveView) -> impl IntoView {
    view! {
        <p class="muted small freshness" data-testid="freshness">
            {match (live.last_event, live.last_event_min) {
                (Some(at), Some(min)) => view! {
                    {t(Msg::LastEventReceived)}" "
                    {move || if min < 1 { t(Msg::JustNow)().to_owned() } else { format!("{min} {}", t(Msg::MinutesAgo)()) }}
                    " ("{at}")"
                }.into_any(),
                _ => view! { {t(Msg::NoEventReceived)} }.into_any(),
            }}
        </p>
    }
}

/// What arrived through the ingestion API in the last 24 hours.
#[component]
fn Ingestion(live: super::server_fns::LiveView) -> impl IntoView {
    let total: i64 = live.keys.iter().map(|k| k.1).sum();
    let rejected: i64 = live.keys.iter().map(|k| k.3).sum();
    view! {
        <details class="card ingestion" data-testid="ingestion">
            <summary>
                {t(Msg::IngestionTitle)}": "{total}" "{t(Msg::Accepted)}" · "{rejected}" "{t(Msg::Rejected)}
            </summary>
            {if live.keys.is_empty() {
                view! { <p class="muted">{t(Msg::IngestionEmpty)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="ingestion-keys">
                            <thead><tr><th>{t(Msg::IngestKey)}</th><th>{t(Msg::Accepted)}</th><th>{t(Msg::Duplicates)}</th><th>{t(Msg::Rejected)}</th></tr></thead>
                            <tbody>
                                {live.keys.into_iter().map(|(k, a, d, r)| view! { <tr><td>{k}</td><td>{a}</td><td>{d}</td><td>{r}</td></tr> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {(!live.rejected.is_empty()).then(|| view! {
                        <h3>{t(Msg::RejectedByReason)}</h3>
                        <ul class="reasons" data-testid="ingestion-reasons">
                            {live.rejected.into_iter().map(|(reason, key, n)| view! { <li><code>{reason}</code>" · "{key}": "<strong>{n}</strong></li> }).collect_view()}
                        </ul>
                    })}
                    <h3>{t(Msg::PerHour)}</h3>
                    <div class="table-wrap">
                        <table class="table">
                            <thead><tr><th>{t(Msg::Hour)}</th><th>{t(Msg::Accepted)}</th><th>{t(Msg::Duplicates)}</th><th>{t(Msg::Rejected)}</th></tr></thead>
                            <tbody>
                                {live.hours.into_iter().map(|(h, a, d, r)| view! { <tr><td class="nowrap">{h}</td><td>{a}</td><td>{d}</td><td>{r}</td></tr> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </details>
    }
}

/// The business tab's monthly figures: what churn, ARPA and LTV are made of, per month.
#[component]
fn Months(rows: Vec<super::server_fns::MonthRowView>) -> impl IntoView {
    view! {
        <section class="card" data-testid="months">
            <h2>{t(Msg::MonthsTitle)}</h2>
            <p class="muted small">{t(Msg::MonthsHelp)}</p>
            <div class="table-wrap">
                <table class="table">
                    <thead><tr>
                        <th>{t(Msg::Month)}</th><th>{t(Msg::SubsAtStart)}</th><th>{t(Msg::Churned)}</th>
                        <th>{t(Msg::KChurn)}</th><th>{t(Msg::KRevenue)}</th><th>{t(Msg::MauAtEnd)}</th>
                        <th>{t(Msg::KArpa)}</th><th>{t(Msg::KLtv)}</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|m| view! {
                            <tr>
                                <td class="nowrap">{m.month}{m.to_date.then(|| view! { <span class="muted small">" *"</span> })}</td>
                                <td>{m.active_at_start}</td>
                                <td>{m.churned}</td>
                                <td>{m.churn}</td>
                                <td>{m.revenue}</td>
                                <td>{m.mau_at_end}</td>
                                <td>{m.arpa}</td>
                                <td>{m.ltv}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="muted small">"* "{t(Msg::MonthToDate)}</p>
        </section>
    }
}

#[component]
fn ChartCard(title: String, keys: Vec<String>, svg: Option<String>) -> impl IntoView {
    view! {
        <section class="card chart-card">
            <h2>{move || label(&title)}</h2>
            <ul class="legend">
                {keys.into_iter().enumerate().map(|(i, k)| view! {
                    <li><span class="dot" style=format!("background:{}", PALETTE[i % PALETTE.len()])></span>{move || label(&k)}</li>
                }).collect_view()}
            </ul>
            {match svg {
                Some(svg) => view! { <div class="chart" inner_html=svg></div> }.into_any(),
                None => view! { <p class="muted empty-inline">{t(Msg::DashNoData)}</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Cohorts(
    offsets: Vec<i32>,
    rows: Vec<super::server_fns::CohortRowView>,
    csv: String,
) -> impl IntoView {
    view! {
        <section class="card card-with-links">
            <h2>{t(Msg::CohortTitle)}</h2>
            <a class="card-link muted small" href=csv download rel="nofollow" data-testid="cohorts-csv">"CSV"</a>
            <div class="table-wrap">
                <table class="table cohort" data-testid="cohort-table">
                    <thead><tr>
                        <th>{t(Msg::CohortDay)}</th><th>{t(Msg::CohortSize)}</th>
                        {offsets.iter().map(|n| view! { <th>{format!("D{n}")}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! {
                            <tr>
                                <td class="nowrap">{r.day}</td>
                                <td>{r.size}</td>
                                {r.rates.into_iter().map(|rate| {
                                    let style = rate.map(|x| format!("background: rgba(79, 70, 229, {:.3}); color: {}", 0.08 + x * 0.8, if x > 0.45 { "#fff" } else { "inherit" }));
                                    view! { <td class="heat" style=style>{rate.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_default()}</td> }
                                }).collect_view()}
                            </tr>
                        }.into_any()).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Features(rows: Vec<super::server_fns::FeatureView>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>{t(Msg::FeaturesTitle)}</h2>
            {if rows.is_empty() {
                view! { <p class="muted empty-inline">{t(Msg::NoFeatures)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th>{t(Msg::Feature)}</th><th>{t(Msg::Users)}</th><th>{t(Msg::Events)}</th>
                            <th>{t(Msg::Penetration)}</th><th>{t(Msg::NewFeaturePenetration)}</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|f| view! {
                                <tr>
                                    <td>
                                        <code>{f.feature.clone()}</code>
                                        <IfCan can=Permission::EditRules>
                                            " "<a class="muted small" data-testid="feature-alert" title=t(Msg::AlertOnThis)
                                                href=format!("/alerts/rules/new?metric=feature_penetration&segment={}", enc(&f.feature))>"⚑"</a>
                                        </IfCan>
                                    </td>
                                    <td>{f.users}</td>
                                    <td>{f.events}</td>
                                    <td>
                                        <div class="bar"><span style=format!("width:{:.1}%", f.penetration.unwrap_or(0.0) * 100.0)></span></div>
                                        {pct(f.penetration)}
                                    </td>
                                    <td>{pct(f.new_feature_penetration)}</td>
                                </tr>
                            }.into_any()).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Ratings(ratings: Vec<u64>) -> impl IntoView {
    let total: u64 = ratings.iter().sum::<u64>().max(1);
    view! {
        <section class="card">
            <h2>{t(Msg::RatingsTitle)}</h2>
            <div class="ratings">
                {ratings.into_iter().enumerate().map(|(i, n)| view! {
                    <div class="rating-row">
                        <span class="rating-label">{format!("{}★", i + 1)}</span>
                        <div class="bar wide"><span class=if i < 2 { "bad" } else { "" } style=format!("width:{:.1}%", n as f64 / total as f64 * 100.0)></span></div>
                        <span class="rating-count">{n}</span>
                    </div>
                }).collect_view()}
            </div>
        </section>
    }
}

#[component]
fn Funnel(
    state: State,
    result: Option<(Vec<super::server_fns::FunnelStepView>, Option<usize>)>,
    from: String,
    to: String,
) -> impl IntoView {
    let default_steps = if state.steps.is_empty() {
        "user_register_success,feature_use_export,subscription_start".to_owned()
    } else {
        state.steps.clone()
    };
    view! {
        <section class="card card-with-links" data-testid="funnel">
            <h2>{t(Msg::FunnelTitle)}</h2>
            <form class="form funnel-form" method="get" action="/dashboards">
                <input type="hidden" name="tab" value="user" />
                <input type="hidden" name="range" value=state.range.clone() />
                <input type="hidden" name="from" value=state.from.clone() />
                <input type="hidden" name="to" value=state.to.clone() />
                <input type="hidden" name="g" value=state.g.clone() />
                <label>
                    <span>{t(Msg::FunnelSteps)}</span>
                    <input name="steps" value=default_steps required />
                </label>
                <label class="narrow">
                    <span>{t(Msg::FunnelWindow)}</span>
                    <input type="number" name="window" min="1" max="720" value=state.window.to_string() />
                </label>
                <div class="form-actions"><button type="submit" class="btn btn-primary btn-small">{t(Msg::FunnelRun)}</button></div>
            </form>
            {result.map(|(steps, drop)| {
                let first = steps.first().map(|s| s.users).unwrap_or(0).max(1);
                let joined = enc(&steps.iter().map(|s| s.event.clone()).collect::<Vec<_>>().join(","));
                let csv = format!("/export/funnel?from={from}&to={to}&segment={joined}&window={}", state.window);
                let alert = format!("/alerts/rules/new?metric=funnel_conversion&segment={joined}");
                view! {
                    <span class="card-link muted small">
                        <a class="muted" href=csv download rel="nofollow" data-testid="funnel-csv">"CSV"</a>
                        <IfCan can=Permission::EditRules>
                            " · "<a class="muted" data-testid="funnel-alert" href=alert.clone()>{t(Msg::AlertOnThis)}</a>
                        </IfCan>
                    </span>
                    <ol class="funnel">
                        {steps.into_iter().enumerate().map(|(i, s)| view! {
                            <li class:drop=drop == Some(i)>
                                <div class="funnel-head">
                                    <code>{s.event}</code>
                                    <strong>{s.users}</strong>
                                </div>
                                <div class="bar wide"><span style=format!("width:{:.1}%", s.users as f64 / first as f64 * 100.0)></span></div>
                                <div class="muted small">
                                    {pct(s.from_start)} " " {t(Msg::FunnelFromStart)} " · " {pct(s.from_previous)} " " {t(Msg::FunnelFromPrev)}
                                    {(drop == Some(i)).then(|| view! { <span class="badge badge-drop">{t(Msg::FunnelDropOff)}</span> })}
                                </div>
                            </li>
                        }.into_any()).collect_view()}
                    </ol>
                }
            })}
        </section>
    }
}
