//! Pages of capabilities still to come: real empty states that say what will be here.

use crate::features::alerts::pages::sev_badge as level_badge;
use crate::features::alerts::server_fns::firing_now;
use crate::features::incidents::pages::{sev_badge, status_badge};
use crate::features::incidents::server_fns::home_incidents;
use crate::features::oncall::pages::HomeOncallCard;
use crate::i18n::{t, Msg};
use crate::session::use_me;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let me = use_me();
    view! {
        <Title text=t(Msg::HomeTitle) />
        <header class="page-header">
            <h1>
                {t(Msg::HomeWelcome)}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().flatten().map(|m| format!(", {}", m.name))
                    })}
                </Transition>
            </h1>
        </header>
        <div class="cards">
            <HomeOncallCard />
            <HomeFiringCard />
            <HomeIncidentsCards />
        </div>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=t(Msg::NotFoundTitle) />
        <main class="login">
            <section class="empty-state" data-testid="not-found">
                <div class="empty-icon" aria-hidden="true">"404"</div>
                <h1>{t(Msg::NotFoundTitle)}</h1>
                <p class="muted">{t(Msg::NotFoundBody)}</p>
                <a class="btn btn-primary" href="/">{t(Msg::BackHome)}</a>
            </section>
        </main>
    }
}

/// How many rows of the firing list the home card shows.
const HOME_FIRING_ROWS: usize = 5;

/// The home page's "firing alerts" card: counts by level, the newest firing alerts with
/// who answered, and a way to the full list. It asks again with the navigation's badge
/// (every 30 s), so it follows without a reload.
#[component]
fn HomeFiringCard() -> impl IntoView {
    let poll = use_context::<crate::layout::FiringPoll>();
    let data = Resource::new(move || poll.map(|p| p.0.get()), |_| firing_now());
    view! {
        <Transition fallback=|| view! { <section class="card"><p class="muted">{t(Msg::Loading)}</p></section> }>
            {move || Suspend::new(async move {
                let d = data.await.unwrap_or_default();
                let total = d.firing();
                let firing: Vec<_> = d.rows.into_iter().filter(|r| r.firing).collect();
                let more = total.saturating_sub(HOME_FIRING_ROWS);
                view! {
                    <section class="card" data-testid="home-firing">
                        <h2><a href="/alerts">{t(Msg::HomeFiringAlerts)}</a></h2>
                        {if total == 0 {
                            view! { <p class="muted">{t(Msg::HomeFiringAlertsEmpty)}</p> }.into_any()
                        } else {
                            view! {
                                <p class="sev-counts" data-testid="home-firing-counts">
                                    {["P0", "P1", "P2", "P3"].into_iter().zip(d.by_severity).filter(|(_, n)| *n > 0)
                                        .map(|(s, n)| view! { {level_badge(s)}" × "{n}" " }).collect_view()}
                                    {(d.unacknowledged > 0).then(|| view! {
                                        <span class="muted small">" · "{d.unacknowledged}" "{t(Msg::Unanswered)}</span>
                                    })}
                                </p>
                                <ul class="plain-list">
                                    {firing.into_iter().take(HOME_FIRING_ROWS).map(|r| view! {
                                        <li data-testid="home-firing-row">
                                            {level_badge(&r.severity)}" "
                                            <a href=r.rule_id.map_or_else(|| "/alerts".to_owned(), |id| format!("/alerts/rules/{id}"))>{r.name}</a>
                                            <span class="muted small">" · "{r.since}</span>" "
                                            {match (r.acked_by, r.escalation_id) {
                                                (Some(by), _) => view! { <span class="badge badge-muted" title=by>{t(Msg::OncallAcknowledged)}</span> }.into_any(),
                                                (None, Some(_)) => view! { <span class="badge state-firing">{t(Msg::Paging)}</span> }.into_any(),
                                                (None, None) => ().into_any(),
                                            }}
                                        </li>
                                    }).collect_view()}
                                </ul>
                                {(more > 0).then(|| view! { <a href="/alerts">{t(Msg::AllFiring)}" ("{total}")"</a> })}
                            }.into_any()
                        }}
                    </section>
                }
            })}
        </Transition>
    }
}

/// The home page's "open incidents" and "my action items" cards.
#[component]
fn HomeIncidentsCards() -> impl IntoView {
    let data = Resource::new(|| (), |_| home_incidents());
    view! {
        <Transition fallback=|| view! { <section class="card"><p class="muted">{t(Msg::Loading)}</p></section> }>
            {move || Suspend::new(async move {
                let d = data.await.ok();
                let (open, mine) = d.map(|d| (d.open, d.mine)).unwrap_or_default();
                view! {
                    <section class="card" data-testid="home-open-incidents">
                        <h2>{t(Msg::HomeOpenIncidents)}</h2>
                        {if open.is_empty() {
                            view! { <p class="muted">{t(Msg::HomeOpenIncidentsEmpty)}</p> }.into_any()
                        } else {
                            view! {
                                <ul class="plain-list">
                                    {open.into_iter().map(|i| view! {
                                        <li>{sev_badge(i.severity)}" "<a href=format!("/incidents/{}", i.code)>{i.title}</a>" "
                                            {status_badge(i.status)}<span class="muted small">" · "{i.duration}</span></li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <section class="card" data-testid="home-my-actions">
                        <h2>{t(Msg::MyActionItems)}</h2>
                        {let total = mine.len();
                        let mine: Vec<_> = mine.into_iter().take(6).collect();
                        if mine.is_empty() {
                            view! { <p class="muted">{t(Msg::NoMyActionItems)}</p> }.into_any()
                        } else {
                            view! {
                                <ul class="plain-list">
                                    {mine.into_iter().map(|a| view! {
                                        <li><a href=format!("/incidents/{}/postmortem", a.incident_code)>{a.code.clone()}</a>" "{a.description}
                                            <span class="muted small">" · "{a.due_date}</span>
                                            {a.overdue.then(|| view! { " "<span class="badge state-firing">{t(Msg::Overdue)}</span> })}</li>
                                    }).collect_view()}
                                </ul>
                                <a class="small" href="/action-items?owner=me">{t(Msg::ActionItems)}{format!(" ({total}) →")}</a>
                            }.into_any()
                        }}
                    </section>
                }
            })}
        </Transition>
    }
}
