//! `/incidents` (list with filters and search), `/incidents/new` (declare) and
//! `/incidents/:code` (status, SLA clocks with live countdowns, checklist, roles, details,
//! linked alerts, timeline with notes, the incident report).

use super::server_fns::*;
use crate::components::error_box;
pub(super) use crate::components::urlencode;
use crate::components::{EmptyState, FieldError, Icon, IfCan, PageHeader};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::alerting::Severity;
use domain::incident::{ClockState, IncidentFields, IncidentRole, Status};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

pub fn sev_badge(sev: Severity) -> impl IntoView {
    view! { <span class=format!("badge sev sev-{}", sev.as_str().to_lowercase())>{sev.as_str()}</span> }
}

pub(super) fn status_msg(s: Status) -> Msg {
    match s {
        Status::Detecting => Msg::IncDetecting,
        Status::Investigating => Msg::IncInvestigating,
        Status::Fixing => Msg::IncFixing,
        Status::Monitoring => Msg::IncMonitoring,
        Status::Resolved => Msg::IncResolved,
        Status::Closed => Msg::IncClosed,
    }
}

pub fn status_badge(s: Status) -> impl IntoView {
    view! { <span class=format!("badge inc-status inc-{}", s.as_str()) data-testid="incident-status">{t(status_msg(s))}</span> }
}

pub(super) fn checkpoint_msg(c: domain::incident::Checkpoint) -> Msg {
    use domain::incident::Checkpoint as C;
    match c {
        C::LevelAndCommander => Msg::CheckLevelCommander,
        C::Team => Msg::CheckTeam,
        C::Impact => Msg::CheckImpact,
        C::FixPlan => Msg::CheckFixPlan,
        C::ProgressNotice => Msg::CheckProgressNotice,
    }
}

pub(super) fn role_msg(r: IncidentRole) -> Msg {
    match r {
        IncidentRole::Commander => Msg::IncRoleCommander,
        IncidentRole::TechLead => Msg::IncRoleTechLead,
        IncidentRole::CommsLead => Msg::IncRoleCommsLead,
        IncidentRole::Engineer => Msg::IncRoleEngineer,
        IncidentRole::Ops => Msg::IncRoleOps,
        IncidentRole::Dba => Msg::IncRoleDba,
    }
}

/// Sub-navigation of the incident pages.
#[component]
pub fn IncidentTabs() -> impl IntoView {
    use leptos_router::components::A;
    view! {
        <nav class="tabs" aria-label="Incidents">
            <A href="/incidents" exact=true>{t(Msg::NavIncidents)}</A>
            <A href="/action-items">{t(Msg::ActionItems)}</A>
            <A href="/incident-reports">{t(Msg::IncReports)}</A>
            <A href="/changes">{t(Msg::Changes)}</A>
        </nav>
    }
}

/// `12:05` under an hour, `3h 07m` under a day, `2d 4h` beyond.
pub(super) fn clock_text(ms: i64) -> String {
    let s = ms.abs() / 1000;
    let (d, h, m, s) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    match (d, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, h) => format!("{h}h {m:02}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// A live countdown to `due_ms`: the server's `now` first (so hydration matches), then the
/// browser's clock every second.
#[component]
pub fn Countdown(
    due_ms: i64,
    server_now: i64,
    /// Passing the time is good news (the monitoring minimum), not a missed deadline.
    #[prop(optional)]
    passing_is_ok: bool,
) -> impl IntoView {
    let now = RwSignal::new(server_now);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                now.try_set(js_sys::Date::now() as i64);
            },
            std::time::Duration::from_secs(1),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    }
    move || {
        let left = due_ms - now.get();
        if left >= 0 {
            view! { <span class="countdown" data-testid="countdown">{clock_text(left)}" "{t(Msg::Left)}</span> }.into_any()
        } else if passing_is_ok {
            view! { <span class="countdown ok" data-testid="countdown">{t(Msg::MonitoringMet)}</span> }.into_any()
        } else {
            view! { <span class="countdown over" data-testid="countdown">{clock_text(left)}" "{t(Msg::Overdue)}</span> }.into_any()
        }
    }
}

pub(super) fn clock_badge(s: ClockState) -> AnyView {
    let (class, msg) = match s {
        ClockState::Pending => ("badge badge-muted", Msg::ClockPending),
        ClockState::Overdue => ("badge state-firing", Msg::Overdue),
        ClockState::Met => ("badge state-ok", Msg::ClockMet),
        ClockState::Late => ("badge state-pending", Msg::ClockLate),
    };
    view! { <span class=class>{t(msg)}</span> }.into_any()
}

// ----- list -----

/// `/incidents`.
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let g = |k: &str| q.get(k).unwrap_or_default();
        ListFilter {
            status: g("status"),
            severity: g("severity"),
            from: g("from"),
            to: g("to"),
            ic: g("ic"),
            q: g("q"),
        }
    });
    let data = Resource::new(move || filter.get(), list_incidents);
    let navigate = use_navigate();
    let set = move |key: &'static str, value: String| {
        let mut f = filter.get_untracked();
        match key {
            "status" => f.status = value,
            "severity" => f.severity = value,
            "from" => f.from = value,
            "to" => f.to = value,
            "ic" => f.ic = value,
            _ => f.q = value,
        }
        let qs: Vec<String> = [
            ("status", &f.status),
            ("severity", &f.severity),
            ("from", &f.from),
            ("to", &f.to),
            ("ic", &f.ic),
            ("q", &f.q),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
        navigate(&format!("/incidents?{}", qs.join("&")), NavigateOptions::default());
    };
    let (s1, s2, s3, s4, s5, s6) =
        (set.clone(), set.clone(), set.clone(), set.clone(), set.clone(), set);
    let status_opts = [("open", Msg::IncOpen), ("all", Msg::All), ("done", Msg::IncDone)];
    view! {
        <Title text=t(Msg::IncidentsTitle) />
        <PageHeader title=Msg::IncidentsTitle subtitle=Msg::IncidentsSubtitle />
        <IncidentTabs />
        <div class="toolbar">
            <IfCan can=Permission::RespondToIncidents>
                <a class="btn btn-primary" href="/incidents/new" data-testid="declare-incident">{t(Msg::DeclareIncident)}</a>
            </IfCan>
        </div>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| ev.prevent_default() data-testid="incident-filters">
            <label>{t(Msg::Status)}
                <select name="status" on:change=move |ev| s1("status", event_target_value(&ev))>
                    {status_opts.into_iter().map(|(v, m)| view! {
                        <option value=v selected=move || { let s = filter.get().status; s == v || (s.is_empty() && v == "open") }>{t(m)}</option>
                    }).collect_view()}
                    {Status::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || filter.get().status == s.as_str()>{t(status_msg(s))}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>{t(Msg::Severity)}
                <select name="severity" on:change=move |ev| s2("severity", event_target_value(&ev))>
                    <option value="">{t(Msg::All)}</option>
                    {Severity::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || filter.get().severity == s.as_str()>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>{t(Msg::From)}
                <input type="date" name="from" prop:value=move || filter.get().from on:change=move |ev| s3("from", event_target_value(&ev)) />
            </label>
            <label>{t(Msg::To)}
                <input type="date" name="to" prop:value=move || filter.get().to on:change=move |ev| s4("to", event_target_value(&ev)) />
            </label>
            <label>{t(Msg::IncRoleCommander)}
                <select name="ic" on:change=move |ev| s5("ic", event_target_value(&ev))>
                    <option value="">{t(Msg::All)}</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            data.await.map(|d| d.people.into_iter().map(|p| {
                                let id = p.id.to_string();
                                let sel = id.clone();
                                view! { <option value=id selected=move || filter.get().ic == sel>{p.name}</option> }
                            }).collect_view()).ok()
                        })}
                    </Transition>
                </select>
            </label>
            <label class="grow">{t(Msg::Search)}
                <input type="search" name="q" placeholder="INC-… / title" prop:value=move || filter.get().q
                    on:change=move |ev| s6("q", event_target_value(&ev)) />
            </label>
        </form>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(d) if d.rows.is_empty() => view! {
                        <EmptyState title=Msg::IncidentsEmpty body=Msg::IncidentsEmptyBody icon=Icon::Siren />
                    }.into_any(),
                    Ok(d) => incident_table(d.rows).into_any(),
                }
            })}
        </Transition>
    }
}

pub(super) fn incident_table(rows: Vec<IncidentRow>) -> impl IntoView {
    view! {
        <div class="table-wrap card">
            <table class="table" data-testid="incident-table">
                <thead><tr>
                    <th>"ID"</th><th>{t(Msg::Title)}</th><th>{t(Msg::Severity)}</th><th>{t(Msg::Status)}</th>
                    <th>{t(Msg::Detected)}</th><th>{t(Msg::IncRoleCommander)}</th><th>{t(Msg::Duration)}</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr>
                            <td class="nowrap"><a href=format!("/incidents/{}", r.code)>{r.code.clone()}</a></td>
                            <td>{r.title}</td>
                            <td>{sev_badge(r.severity)}</td>
                            <td>{status_badge(r.status)}</td>
                            <td class="nowrap">{r.detected}</td>
                            <td>{r.commander}</td>
                            <td class="nowrap">{r.duration}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

// ----- declare -----

pub(super) fn text_input(
    form: RwSignal<DeclareForm>,
    name: &'static str,
    get: fn(&IncidentFields) -> String,
    set: fn(&mut IncidentFields, String),
) -> impl IntoView {
    view! {
        <input name=name id=format!("inc-{name}") prop:value=move || form.with(|f| get(&f.fields))
            on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(&mut f.fields, v)); } />
    }
}

pub(super) fn text_area(
    form: RwSignal<DeclareForm>,
    name: &'static str,
    get: fn(&IncidentFields) -> String,
    set: fn(&mut IncidentFields, String),
) -> impl IntoView {
    view! {
        <textarea name=name id=format!("inc-{name}") rows="3" prop:value=move || form.with(|f| get(&f.fields))
            on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(&mut f.fields, v)); }></textarea>
    }
}

/// `/incidents/new`.
#[component]
pub(super) fn DeclarePage() -> impl IntoView {
    view! {
        <Title text=t(Msg::DeclareIncident) />
        <PageHeader title=Msg::IncidentsTitle />
        <IfCan can=Permission::RespondToIncidents fallback=|| view! { <crate::components::Forbidden /> }>
            <DeclareFormView />
        </IfCan>
    }
}

#[component]
fn DeclareFormView() -> impl IntoView {
    let navigate = use_navigate();
    let form = RwSignal::new(DeclareForm::default());
    let people = Resource::new(|| (), |_| incident_people());
    let declare = ServerAction::<DeclareIncident>::new();
    Effect::new(move |_| {
        if let Some(Ok(code)) = declare.value().get() {
            navigate(&format!("/incidents/{code}"), NavigateOptions::default());
        }
    });
    let field = move |name: &'static str| {
        Signal::derive(move || {
            declare.value().get().and_then(Result::err).and_then(|e| e.field(name))
        })
    };
    let other = move || {
        declare.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_)))
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        declare.dispatch(DeclareIncident { form: form.get_untracked() });
    };
    let top = view! {
        <h2>{t(Msg::DeclareIncident)}</h2>
        {move || other().map(error_box)}
        <div class="form-row">
            <label class="grow"><span>{t(Msg::Title)}</span>
                {text_input(form, "title", |f| f.title.clone(), |f, v| f.title = v)}
                <FieldError error=field("title") />
            </label>
            <label class="narrow"><span>{t(Msg::Severity)}</span>
                <select name="severity" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    if let Some(s) = Severity::parse(&v) { form.update(|f| f.fields.severity = s); }
                }>
                    {Severity::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || form.with(|f| f.fields.severity == s)>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
        </div>
        <p class="muted small">{t(Msg::SeverityHint)}</p>
        <div class="form-row">
            <label><span>{t(Msg::Detected)}</span>
                <input type="datetime-local" name="detected_at" prop:value=move || form.with(|f| f.detected_at.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.detected_at = v); } />
                <span class="muted small">{t(Msg::DetectedHint)}</span>
                <FieldError error=field("detected_at") />
            </label>
            <label><span>{t(Msg::IncRoleCommander)}</span>
                <select name="commander" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    form.update(|f| f.commander_id = v.parse().ok());
                }>
                    <option value="">"—"</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            people.await.map(|ps| ps.into_iter().map(|p| view! {
                                <option value=p.id.to_string()>{p.name}</option>
                            }).collect_view()).ok()
                        })}
                    </Transition>
                </select>
                <FieldError error=field("commander") />
            </label>
            <label><span>{t(Msg::PageWith)}</span>
                <select name="escalation_policy" data-testid="declare-policy" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    form.update(|f| f.escalation_policy_id = v.parse().ok());
                }>
                    <option value="">{t(Msg::PageByRouting)}</option>
                    <crate::features::oncall::pages::PolicyOptions />
                </select>
                <FieldError error=field("escalation_policy") />
            </label>
            <label><span>{t(Msg::Contact)}</span>
                {text_input(form, "contact", |f| f.contact.clone(), |f, v| f.contact = v)}
            </label>
        </div>
    }
    .into_any();
    let rest = view! {
        <div class="form-row">
            <label><span>{t(Msg::ImpactScope)}</span>{text_area(form, "impact_scope", |f| f.impact_scope.clone(), |f, v| f.impact_scope = v)}</label>
            <label><span>{t(Msg::UserImpact)}</span>{text_area(form, "user_impact", |f| f.user_impact.clone(), |f, v| f.user_impact = v)}</label>
        </div>
        <label><span>{t(Msg::Description)}</span>{text_area(form, "description", |f| f.description.clone(), |f, v| f.description = v)}
            <FieldError error=field("description") /></label>
        <div class="form-row">
            <label><span>{t(Msg::MeasuresTaken)}</span>{text_area(form, "measures_taken", |f| f.measures_taken.clone(), |f, v| f.measures_taken = v)}</label>
            <label><span>{t(Msg::SupportNeeded)}</span>{text_area(form, "support_needed", |f| f.support_needed.clone(), |f, v| f.support_needed = v)}</label>
        </div>
        <div class="form-actions">
            <button type="submit" class="btn btn-primary" disabled=declare.pending() data-testid="declare-submit">
                {move || if declare.pending().get() { t(Msg::Saving)() } else { t(Msg::DeclareIncident)() }}
            </button>
            <a class="btn btn-ghost" href="/incidents">{t(Msg::Cancel)}</a>
        </div>
    }
    .into_any();
    view! {
        <form class="card form incident-form" on:submit=on_submit data-testid="declare-form">
            {top}
            {rest}
        </form>
    }
}

/// "Declare incident" on a firing alert: opens one linked to the alert (or the one it already
/// has) and goes there. Responders only.
#[component]
pub fn OpenIncidentButton(
    source: &'static str,
    rule_id: Option<i64>,
    fingerprint: String,
) -> impl IntoView {
    let action = ServerAction::<IncidentFromAlert>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(code)) = action.value().get() {
            navigate(&format!("/incidents/{code}"), NavigateOptions::default());
        }
    });
    let fp = StoredValue::new(fingerprint);
    view! {
        <IfCan can=Permission::RespondToIncidents>
            <button type="button" class="btn btn-small" data-testid="incident-from-alert" disabled=move || action.pending().get()
                on:click=move |_| {
                    action.dispatch(IncidentFromAlert { source: source.to_owned(), rule_id, fingerprint: fp.get_value() });
                }>{t(Msg::DeclareIncident)}</button>
            {move || action.value().get().and_then(Result::err).map(|e| view! { <span class="field-error small">{e.text_now()}</span> })}
        </IfCan>
    }
}
