//! On-call pages: the overview (who is on call, my shifts, escalations, policies), a
//! schedule's timeline with overrides, and the home page's card. The editors are in
//! `editors.rs`.

use super::server_fns::*;
use crate::components::error_box;
use crate::components::{FieldError, IfCan};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn who_line(w: Option<WhoRow>) -> AnyView {
    match w {
        Some(w) => view! {
            <span class="oncall-who">
                <strong data-testid="oncall-name">{w.name}</strong>
                {w.by_override.then(|| view! { " "<span class="badge">{t(Msg::OncallOverride)}</span> })}
                {(!w.phone.is_empty()).then(|| view! { <span class="muted small">" · "{w.phone}</span> })}
                <span class="muted small">" · "{t(Msg::OncallUntil)}" "{w.until}</span>
            </span>
        }
        .into_any(),
        None => view! { <span class="muted" data-testid="oncall-name">{t(Msg::OncallNobody)}</span> }.into_any(),
    }
}

fn state_badge(state: &str) -> AnyView {
    let (class, msg) = match state {
        "open" => ("badge state-firing", Msg::OncallPaging),
        "acknowledged" => ("badge state-ok", Msg::OncallAcknowledged),
        "resolved" => ("badge", Msg::OncallRecovered),
        _ => ("badge state-pending", Msg::OncallExhausted),
    };
    view! { <span class=class>{t(msg)}</span> }.into_any()
}

/// An `<option>` for every escalation policy, for pickers (it loads them itself).
#[component]
pub fn PolicyOptions() -> impl IntoView {
    let policies = Resource::new(|| (), |_| super::server_fns::policy_options());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                policies.await.map(|ps| ps.into_iter().map(|p| view! {
                    <option value=p.id.to_string()>{p.name}</option>
                }).collect_view()).ok()
            })}
        </Transition>
    }
}

/// The Ack button of an open run (responders).
#[component]
pub fn AckButton(id: i64, on_done: Callback<()>) -> impl IntoView {
    let ack = ServerAction::<AckEscalation>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = ack.value().get() {
            on_done.run(());
        }
    });
    view! {
        <IfCan can=Permission::Acknowledge>
            <button class="btn btn-primary btn-small" data-testid="ack" disabled=move || ack.pending().get()
                on:click=move |_| { ack.dispatch(AckEscalation { id }); }>
                {t(Msg::OncallAck)}
            </button>
            {move || ack.value().get().and_then(Result::err).map(error_box)}
        </IfCan>
    }
}

pub(crate) fn escalation_table(rows: Vec<EscalationRow>, refresh: Callback<()>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted">{t(Msg::OncallNoEscalations)}</p> }.into_any();
    }
    view! {
        <table class="table" data-testid="escalations">
            <thead><tr><th>{t(Msg::Title)}</th><th>{t(Msg::OncallPolicy)}</th><th>{t(Msg::OncallStarted)}</th>
                <th>{t(Msg::OncallStep)}</th><th>{t(Msg::Status)}</th><th>{t(Msg::OncallPages)}</th><th></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|e| {
                    // Exhausted runs are not acknowledged yet either: they can be.
                    let open = e.state == "open" || e.state == "exhausted";
                    view! {
                        <tr>
                            <td><span class=format!("badge sev sev-{}", e.severity.to_lowercase())>{e.severity.clone()}</span>" "{e.title}</td>
                            <td>{e.policy}</td>
                            <td class="nowrap">{e.started}</td>
                            <td>{e.step}</td>
                            <td>{state_badge(&e.state)}<div class="muted small">{e.acked_by}</div></td>
                            <td><ul class="plain-list small">
                                {e.pages.into_iter().map(|p| view! {
                                    <li>{p.name}" · "{p.method}" · "
                                        <span class=if p.status == "failed" { "text-bad" } else { "" }>{p.status.clone()}</span>
                                        <span class="muted">" "{p.at}</span>
                                        {(!p.detail.is_empty()).then(|| view! { <div class="muted">{p.detail}</div> })}
                                    </li>
                                }).collect_view()}
                            </ul></td>
                            <td>{open.then(|| view! { <AckButton id=e.id on_done=refresh /> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn OncallPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| oncall_overview());
    let refresh = Callback::new(move |_| data.refetch());
    view! {
        <Title text=t(Msg::OncallTitle) />
        <header class="page-header">
            <h1>{t(Msg::OncallTitle)}</h1>
            <div class="actions">
                <IfCan can=Permission::EditOncall>
                    <a class="btn" href="/oncall/policies/new">{t(Msg::OncallNewPolicy)}</a>
                    <a class="btn btn-primary" href="/oncall/schedules/new/edit">{t(Msg::OncallNewSchedule)}</a>
                </IfCan>
            </div>
        </header>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(d) => overview(d, refresh),
                }
            })}
        </Transition>
    }
}

fn overview(d: Overview, refresh: Callback<()>) -> AnyView {
    let schedules = if d.schedules.is_empty() {
        view! {
            <section class="empty-state">
                <h2>{t(Msg::OncallEmpty)}</h2>
                <p class="muted">{t(Msg::OncallEmptyBody)}</p>
            </section>
        }
        .into_any()
    } else {
        view! {
            <div class="cards">
                {d.schedules.into_iter().map(|s| view! {
                    <section class="card" data-testid="schedule-card">
                        <h2><a href=format!("/oncall/schedules/{}", s.id)>{s.name}</a></h2>
                        <p class="muted small">{s.description}</p>
                        <p>{t(Msg::HomeOnCallNow)}": "{who_line(s.now)}</p>
                        {s.next.map(|n| view! { <p class="small">{t(Msg::OncallNext)}": "<strong>{n.name}</strong>
                            <span class="muted">" · "{n.from}</span></p> })}
                        <p class="muted small">{s.time_zone}</p>
                    </section>
                }).collect_view()}
            </div>
        }
        .into_any()
    };
    let shifts = if d.my_shifts.is_empty() {
        view! { <p class="muted">{t(Msg::OncallNoShifts)}</p> }.into_any()
    } else {
        view! {
            <table class="table" data-testid="my-shifts">
                <thead><tr><th>{t(Msg::OncallSchedule)}</th><th>{t(Msg::OncallFrom)}</th><th>{t(Msg::OncallTo)}</th></tr></thead>
                <tbody>{d.my_shifts.into_iter().map(|m| view! {
                    <tr class:row-now=m.now><td><a href=format!("/oncall/schedules/{}", m.schedule_id)>{m.schedule}</a>
                        {m.now.then(|| view! { " "<span class="badge state-firing">{t(Msg::OncallNowBadge)}</span> })}</td>
                        <td class="nowrap">{m.start}</td><td class="nowrap">{m.end}</td></tr>
                }).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    let policies = if d.policies.is_empty() {
        view! { <p class="muted">{t(Msg::OncallNoPolicies)}</p> }.into_any()
    } else {
        view! {
            <div class="cards">
                {d.policies.into_iter().map(|p| view! {
                    <section class="card">
                        <h3><a href=format!("/oncall/policies/{}", p.id)>{p.name}</a></h3>
                        <p class="muted small">{p.description}</p>
                        <ol class="small">{p.steps.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ol>
                        <p class="muted small">{t(Msg::OncallRepeat)}": "{p.repeat}
                            " · "{t(Msg::OncallChannels)}": "{if p.channels.is_empty() { "—".to_owned() } else { p.channels.join(", ") }}</p>
                        <p class="muted small">{t(Msg::OncallRoutedRules)}": "{if p.rules.is_empty() { "—".to_owned() } else { p.rules.join(", ") }}</p>
                    </section>
                }).collect_view()}
            </div>
        }
        .into_any()
    };
    view! {
        {schedules}
        <section class="card">
            <h2>{t(Msg::OncallMyShifts)}</h2>
            <p class="muted small">{t(Msg::OncallMyShiftsHint)}" ("{d.time_zone}")"</p>
            {shifts}
            <MyFeed />
        </section>
        <section class="card">
            <h2>{t(Msg::OncallEscalations)}</h2>
            {escalation_table(d.escalations, refresh)}
        </section>
        <section>
            <h2>{t(Msg::OncallPolicies)}</h2>
            {policies}
        </section>
    }
    .into_any()
}

/// "Subscribe to my shifts": makes (or replaces) the caller's secret calendar URL.
#[component]
fn MyFeed() -> impl IntoView {
    feed_button(0)
}

pub(super) fn feed_button(schedule_id: i64) -> AnyView {
    let rotate = ServerAction::<RotateFeed>::new();
    view! {
        <div class="feed">
            <button class="btn btn-small" data-testid="feed" disabled=move || rotate.pending().get()
                on:click=move |_| { rotate.dispatch(RotateFeed { schedule_id }); }>
                {t(Msg::OncallFeedButton)}
            </button>
            <span class="muted small">" "{t(Msg::OncallFeedHint)}</span>
            {move || rotate.value().get().map(|r| match r {
                Ok(url) => view! { <p class="feed-url"><code data-testid="feed-url">{url}</code></p> }.into_any(),
                Err(e) => error_box(e),
            })}
        </div>
    }
    .into_any()
}

/// The home page's "On call now" card.
#[component]
pub fn HomeOncallCard() -> impl IntoView {
    let data = Resource::new(|| (), |_| home_oncall());
    let refresh = Callback::new(move |_| data.refetch());
    view! {
        <section class="card" data-testid="home-oncall">
            <h2>{t(Msg::HomeOnCallNow)}</h2>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    let d = match data.await {
                        Ok(d) => d,
                        Err(e) => return error_box(e),
                    };
                    if d.schedules.is_empty() {
                        return view! { <p class="muted">{t(Msg::HomeOnCallEmpty)}</p> }.into_any();
                    }
                    view! {
                        <ul class="plain-list">
                            {d.schedules.into_iter().map(|s| view! {
                                <li data-testid="home-oncall-row"><a href=format!("/oncall/schedules/{}", s.id)>{s.name}</a>": "{who_line(s.now)}</li>
                            }).collect_view()}
                        </ul>
                        {(!d.paging.is_empty()).then(|| view! {
                            <h3 class="text-bad">{t(Msg::OncallPagingNow)}</h3>
                            <ul class="plain-list">
                                {d.paging.into_iter().map(|e| view! {
                                    <li><span class=format!("badge sev sev-{}", e.severity.to_lowercase())>{e.severity.clone()}</span>" "
                                        {e.title}<span class="muted small">" · "{e.started}" · "{e.step}</span>" "
                                        <AckButton id=e.id on_done=refresh /></li>
                                }).collect_view()}
                            </ul>
                        })}
                        <a class="small" href="/oncall">{t(Msg::OncallTitle)}" →"</a>
                    }
                    .into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn SchedulePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| {
        params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0)
    });
    let range = Memo::new(move |_| {
        let q = query.read();
        (
            q.get("from").unwrap_or_default(),
            q.get("days").and_then(|d| d.parse::<i64>().ok()).unwrap_or(14),
        )
    });
    let data = Resource::new(
        move || (id.get(), range.get()),
        |(id, (from, days))| schedule_data(id, from, days),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(d) => schedule_body(d, range.get_untracked().1, Callback::new(move |_| data.refetch())),
                }
            })}
        </Transition>
    }
}

fn schedule_body(d: ScheduleTimeline, days: i64, refresh: Callback<()>) -> AnyView {
    let id = d.id;
    let link =
        move |from: &str, days: i64| format!("/oncall/schedules/{id}?from={from}&days={days}");
    let header = view! {
        <Title text=d.name.clone() />
        <header class="page-header">
            <div>
                <p class="muted small"><a href="/oncall">{t(Msg::OncallTitle)}</a>" /"</p>
                <h1>{d.name.clone()}</h1>
                <p class="muted small">{d.description.clone()}</p>
            </div>
            <div class="actions">
                <IfCan can=Permission::EditOncall>
                    <a class="btn" href=format!("/oncall/schedules/{id}/edit")>{t(Msg::Edit)}</a>
                </IfCan>
            </div>
        </header>
        <section class="card oncall-now" data-testid="schedule-now">
            <h2>{t(Msg::HomeOnCallNow)}</h2>
            <p>{who_line(d.now.clone())}</p>
        </section>
    };
    let nav = view! {
        <div class="toolbar">
            <a class="btn btn-small" href=link(&d.prev, days) aria-label=t(Msg::OncallEarlier)>"←"</a>
            <a class="btn btn-small" href=link("", days)>{t(Msg::OncallToday)}</a>
            <a class="btn btn-small" href=link(&d.next, days) aria-label=t(Msg::OncallLater)>"→"</a>
            {[7i64, 14, 28].into_iter().map(|n| view! {
                <a class=if n == days { "btn btn-small active" } else { "btn btn-small" } href=link(&d.from, n)>{format!("{n}d")}</a>
            }).collect_view()}
            <span class="muted small">{t(Msg::OncallTimesIn)}" "{d.viewer_tz.clone()}" · "{t(Msg::OncallScheduleZone)}" "{d.schedule_tz.clone()}</span>
        </div>
    };
    let n_days = d.days.len().max(1);
    let grid = view! {
        <div class="timeline" data-testid="timeline" style=format!("--days:{n_days}")>
            <div class="tl-row tl-head">
                <div class="tl-label"></div>
                <div class="tl-track tl-days">
                    {d.days.into_iter().map(|c| view! { <div class=if c.weekend { "tl-day weekend" } else { "tl-day" }>{c.label}</div> }).collect_view()}
                </div>
            </div>
            {d.rows.into_iter().map(|r| {
                let label = match r.kind.as_str() {
                    "overrides" => t(Msg::OncallOverrides).into_any(),
                    "final" => t(Msg::OncallFinal).into_any(),
                    _ => r.label.clone().into_any(),
                };
                view! {
                    <div class=format!("tl-row tl-{}", r.kind) data-testid=format!("tl-{}", r.kind)>
                        <div class="tl-label"><strong>{label}</strong><div class="muted small">{r.hint}</div></div>
                        <div class="tl-track">
                            {r.bars.into_iter().map(|b| view! {
                                <div class=format!("tl-bar {}", b.class) title=b.title
                                    style=format!("left:{:.3}%;width:{:.3}%", b.left, b.width)>
                                    <span>{b.label}</span>
                                </div>
                            }).collect_view()}
                            {d.now_pct.map(|p| view! { <div class="tl-now" style=format!("left:{p:.3}%") title=t(Msg::OncallNowBadge)></div> })}
                        </div>
                    </div>
                }
            }).collect_view()}
        </div>
    };
    let overrides = if d.overrides.is_empty() {
        view! { <p class="muted">{t(Msg::OncallNoOverrides)}</p> }.into_any()
    } else {
        view! {
            <table class="table" data-testid="overrides">
                <thead><tr><th>{t(Msg::OncallWho)}</th><th>{t(Msg::OncallReplaces)}</th><th>{t(Msg::OncallFrom)}</th><th>{t(Msg::OncallTo)}</th><th>{t(Msg::OncallNote)}</th><th></th></tr></thead>
                <tbody>{d.overrides.into_iter().map(|o| view! {
                    <tr><td>{o.who}</td><td>{if o.replaces.is_empty() { "—".to_owned() } else { o.replaces }}</td>
                        <td class="nowrap">{o.start}</td><td class="nowrap">{o.end}</td>
                        <td>{o.note}<div class="muted small">{o.by}</div></td>
                        <td><IfCan can=Permission::EditOncall><DeleteOverride id=o.id on_done=refresh /></IfCan></td></tr>
                }).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        {header}
        <section class="card">
            {nav}
            {grid}
        </section>
        <div class="two-col">
            <section class="card">
                <h2>{t(Msg::OncallOverrides)}</h2>
                {overrides}
            </section>
            <IfCan can=Permission::EditOncall>
                <OverrideForm schedule_id=id people=d.people.clone() start=d.default_start.clone() end=d.default_end.clone() on_done=refresh />
            </IfCan>
        </div>
        <section class="card">
            <h2>{t(Msg::OncallCalendar)}</h2>
            {d.feed_made.map(|m| view! { <p class="muted small">{t(Msg::OncallFeedMade)}" "{m}</p> })}
            <IfCan can=Permission::EditOncall>{feed_button(id)}</IfCan>
        </section>
    }
    .into_any()
}

#[component]
fn DeleteOverride(id: i64, on_done: Callback<()>) -> impl IntoView {
    let del = ServerAction::<RemoveOverride>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = del.value().get() {
            on_done.run(());
        }
    });
    view! {
        <button class="btn btn-small btn-danger" disabled=move || del.pending().get()
            on:click=move |_| { del.dispatch(RemoveOverride { id }); }>{t(Msg::Delete)}</button>
    }
}

/// "Put someone on call": who, optionally instead of whom, from–to, why.
#[component]
fn OverrideForm(
    schedule_id: i64,
    people: Vec<Option2>,
    start: String,
    end: String,
    on_done: Callback<()>,
) -> impl IntoView {
    let add = ServerAction::<CreateOverride>::new();
    let user = RwSignal::new(String::new());
    let replaces = RwSignal::new(String::new());
    let start = RwSignal::new(start);
    let end = RwSignal::new(end);
    let note = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            note.set(String::new());
            on_done.run(());
        }
    });
    let field = move |name: &'static str| {
        Signal::derive(move || add.value().get().and_then(Result::err).and_then(|e| e.field(name)))
    };
    let other = move || {
        add.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_)))
    };
    let people = StoredValue::new(people);
    let options = move || {
        people.with_value(|ps| {
            ps.iter()
                .map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> })
                .collect_view()
        })
    };
    view! {
        <form class="card form" data-testid="override-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            add.dispatch(CreateOverride {
                schedule_id,
                user_id: user.get_untracked(),
                replaces: replaces.get_untracked(),
                start: start.get_untracked(),
                end: end.get_untracked(),
                note: note.get_untracked(),
            });
        }>
            <h2>{t(Msg::OncallAddOverride)}</h2>
            <p class="muted small">{t(Msg::OncallOverrideHint)}</p>
            {move || other().map(error_box)}
            <label><span>{t(Msg::OncallWho)}</span>
                <select name="user" required on:change=move |ev| user.set(event_target_value(&ev))>
                    <option value="">"—"</option>
                    {options}
                </select>
                <FieldError error=field("user") />
            </label>
            <label><span>{t(Msg::OncallReplaces)}</span>
                <select name="replaces" on:change=move |ev| replaces.set(event_target_value(&ev))>
                    <option value="">{t(Msg::OncallReplacesAnyone)}</option>
                    {options}
                </select>
                <FieldError error=field("replaces") />
            </label>
            <div class="form-row">
                <label><span>{t(Msg::OncallFrom)}</span>
                    <input type="datetime-local" name="start" prop:value=start on:input=move |ev| start.set(event_target_value(&ev)) />
                    <FieldError error=field("start") />
                </label>
                <label><span>{t(Msg::OncallTo)}</span>
                    <input type="datetime-local" name="end" prop:value=end on:input=move |ev| end.set(event_target_value(&ev)) />
                    <FieldError error=field("end") />
                </label>
            </div>
            <label><span>{t(Msg::OncallNote)}</span>
                <input name="note" prop:value=note on:input=move |ev| note.set(event_target_value(&ev)) />
                <FieldError error=field("note") />
            </label>
            <button class="btn btn-primary" type="submit" disabled=move || add.pending().get()>{t(Msg::OncallAddOverride)}</button>
        </form>
    }
}
