//! One incident: status bar, SLA clocks, details, linked alerts, timeline, roles and the report.

use super::pages::*;
use super::server_fns::*;
use crate::components::error_box;
use crate::components::{FieldError, IfCan};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::alerting::Severity;
use domain::incident::{IncidentFields, IncidentRole, Status};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/incidents/:code` (`new` declares one).
#[component]
pub fn IncidentPage() -> impl IntoView {
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    move || {
        if code.get() == "new" {
            view! { <DeclarePage /> }.into_any()
        } else {
            view! { <IncidentView code=code.get() /> }.into_any()
        }
    }
}

/// The writes of the incident page; any of them reloads it.
#[derive(Clone, Copy)]
struct Writes {
    status: ServerAction<ChangeStatus>,
    update: ServerAction<UpdateIncident>,
    roles: ServerAction<SetRoles>,
    check: ServerAction<SetCheckpoint>,
    note: ServerAction<AddNote>,
    edit: ServerAction<EditNote>,
    send: ServerAction<SendReport>,
}

impl Writes {
    fn version(&self) -> usize {
        self.status.version().get()
            + self.update.version().get()
            + self.roles.version().get()
            + self.check.version().get()
            + self.note.version().get()
            + self.edit.version().get()
            + self.send.version().get()
    }
}

#[component]
fn IncidentView(code: String) -> impl IntoView {
    let w = Writes {
        status: ServerAction::new(),
        update: ServerAction::new(),
        roles: ServerAction::new(),
        check: ServerAction::new(),
        note: ServerAction::new(),
        edit: ServerAction::new(),
        send: ServerAction::new(),
    };
    let c = code.clone();
    let data = Resource::new(move || (c.clone(), w.version()), |(c, _)| get_incident(c));
    view! {
        <Title text=code.clone() />
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(v) => view! { <IncidentBody v w /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn IncidentBody(v: IncidentView, w: Writes) -> impl IntoView {
    let header = view! {
        <header class="page-header incident-head">
            <p class="muted small"><a href="/incidents">{t(Msg::IncidentsTitle)}</a>" / "{v.code.clone()}</p>
            <h1>{sev_badge(v.fields.severity)}" "<span data-testid="incident-title">{v.fields.title.clone()}</span>" "{status_badge(v.status)}</h1>
            <p class="muted small">{v.code.clone()}" · "{t(Msg::Detected)}" "{v.detected.clone()}" · "{t(Msg::Reporter)}" "{v.reporter.clone()}</p>
        </header>
    }
    .into_any();
    // Each panel's view type is erased: the whole page as one type overflows the
    // compiler's query depth in the wasm build.
    let status = view! { <StatusBar v=v.clone() w /> }.into_any();
    let sla = view! { <SlaPanel v=v.clone() w /> }.into_any();
    let details = view! { <DetailsPanel v=v.clone() w /> }.into_any();
    let alerts = view! { <AlertsPanel v=v.clone() /> }.into_any();
    let paging = view! { <PagingPanel code=v.code.clone() /> }.into_any();
    let changes = view! { <ChangesPanel v=v.clone() /> }.into_any();
    let timeline = view! { <TimelinePanel v=v.clone() w /> }.into_any();
    let roles = view! { <RolesPanel v=v.clone() w /> }.into_any();
    let report = view! { <ReportPanel v=v.clone() w /> }.into_any();
    view! {
        {header}
        {status}
        <div class="incident-grid">
            <div class="incident-main">{sla}{details}{alerts}{changes}{paging}{timeline}</div>
            <aside class="incident-side">{roles}{report}</aside>
        </div>
    }
}

#[component]
fn StatusBar(v: IncidentView, w: Writes) -> impl IntoView {
    let at = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let code = v.code.clone();
    let err = move |f: &'static str| {
        Signal::derive(move || {
            w.status.value().get().and_then(Result::err).and_then(|e| e.field(f))
        })
    };
    let needs_reason = v.status == Status::Monitoring;
    let next = v.next.clone();
    let pm_link = format!("/incidents/{}/postmortem", v.code);
    let close_blocked = v.close_blocked.clone();
    view! {
        <section class="card status-bar" data-testid="status-bar">
            <div class="status-steps" aria-label="Status">
                {Status::ALL.into_iter().map(|s| {
                    let class = if s == v.status { "step current" } else if s < v.status { "step done" } else { "step" };
                    view! { <span class=class>{t(status_msg(s))}</span> }
                }).collect_view()}
            </div>
            <IfCan can=Permission::RespondToIncidents>
                <div class="status-actions">
                    {next.clone().into_iter().map(|s| {
                        let code = code.clone();
                        let blocked = (s == Status::Closed).then(|| close_blocked.clone()).flatten();
                        view! {
                            <button type="button" class=if s == Status::Closed || s == Status::Resolved { "btn btn-primary" } else { "btn" }
                                data-testid=format!("to-{}", s.as_str()) title=blocked.clone().unwrap_or_default()
                                disabled=move || w.status.pending().get()
                                on:click=move |_| {
                                    w.status.dispatch(ChangeStatus {
                                        code: code.clone(), to: s.as_str().to_owned(), at: at.get_untracked(),
                                        override_reason: reason.get_untracked(),
                                    });
                                }>
                                {t(Msg::MoveTo)}" "{t(status_msg(s))}
                            </button>
                        }
                    }).collect_view()}
                    {(!next.is_empty()).then(|| view! {
                        <label class="inline small"><span>{t(Msg::At)}</span>
                            <input type="datetime-local" name="status_at" prop:value=move || at.get()
                                on:input=move |ev| at.set(event_target_value(&ev)) />
                        </label>
                    })}
                    {needs_reason.then(|| view! {
                        <label class="inline small grow"><span>{t(Msg::OverrideReason)}</span>
                            <input name="override_reason" prop:value=move || reason.get() placeholder=move || t(Msg::OverrideReasonHint)()
                                on:input=move |ev| reason.set(event_target_value(&ev)) />
                        </label>
                    })}
                </div>
                <FieldError error=err("status") />
                <FieldError error=err("at") />
                <FieldError error=err("override_reason") />
                {move || w.status.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_))).map(error_box)}
            </IfCan>
            {v.close_blocked.clone().map(|b| view! {
                <p class="muted small">{b}" · "<a href=pm_link.clone()>{t(Msg::Postmortem)}</a></p>
            })}
        </section>
    }
}

#[component]
fn SlaPanel(v: IncidentView, w: Writes) -> impl IntoView {
    let now = v.now_ms;
    let open = v.status.is_open();
    let code = v.code.clone();
    let response = match (&v.responded, open) {
        (Some(r), _) => {
            view! { <span class="small">{t(Msg::RespondedAt)}" "{r.clone()}" "{clock_badge(v.response_state)}</span> }.into_any()
        }
        (None, true) => view! { <Countdown due_ms=v.response_due_ms server_now=now /> }.into_any(),
        (None, false) => clock_badge(v.response_state),
    };
    let monitoring = v.monitoring_until_ms.map(|due| {
        view! {
            <div class="stat"><div class="stat-label">{t(Msg::MonitoringUntil)}</div>
                <div class="stat-value small">{v.monitoring_until.clone()}</div>
                <Countdown due_ms=due server_now=now passing_is_ok=true />
            </div>
        }
    });
    let pm_due = v.postmortem_due.clone().map(|d| view! {
        <div class="stat"><div class="stat-label">{t(Msg::PostmortemDue)}</div>
            <div class="stat-value small">{d}</div>
            <a href=format!("/incidents/{}/postmortem", v.code) data-testid="postmortem-link">{t(Msg::Postmortem)}
                {v.postmortem.map(|p| format!(" ({})", p.as_str()))}</a>
        </div>
    });
    let rows = v.checklist.clone().into_iter().map(|c| {
        let code = code.clone();
        let key = c.key.clone();
        let done = c.done.is_some();
        view! {
            <li class=format!("check check-{}", c.state.as_str())>
                <label class="check">
                    <IfCan can=Permission::RespondToIncidents fallback=move || view! { <input type="checkbox" disabled=true prop:checked=done /> }>
                        {
                            let code = code.clone();
                            let key = key.clone();
                            view! {
                                <input type="checkbox" prop:checked=done data-testid=format!("check-{}", key)
                                    on:change=move |ev| {
                                        w.check.dispatch(SetCheckpoint { code: code.clone(), key: key.clone(), done: event_target_checked(&ev) });
                                    } />
                            }
                        }
                    </IfCan>
                    <span>{t(checkpoint_msg(c.checkpoint))}</span>
                </label>
                <span class="muted small">{t(role_msg(c.owner))}" · "{t(Msg::Due)}" "{c.due[11..].to_owned()}</span>
                {match (&c.done, open) {
                    (Some(d), _) => view! { <span class="small">{d[11..].to_owned()}" "{clock_badge(c.state)}</span> }.into_any(),
                    (None, true) => view! { <Countdown due_ms=c.due_ms server_now=now /> }.into_any(),
                    (None, false) => clock_badge(c.state),
                }}
            </li>
        }
    }).collect_view();
    view! {
        <section class="card" data-testid="sla-panel">
            <h2>{t(Msg::SlaClocks)}</h2>
            <div class="stat-grid">
                <div class="stat"><div class="stat-label">{t(Msg::ResponseDue)}</div>
                    <div class="stat-value small">{v.response_due.clone()}</div>{response}</div>
                {monitoring}
                {pm_due}
            </div>
            <h3>{t(Msg::ResponseChecklist)}</h3>
            <ul class="checklist">{rows}</ul>
        </section>
    }
}

#[component]
fn DetailsPanel(v: IncidentView, w: Writes) -> impl IntoView {
    let editing = RwSignal::new(false);
    let form = RwSignal::new(DeclareForm { fields: v.fields.clone(), ..Default::default() });
    let (code, version) = (v.code.clone(), v.version);
    let field = move |name: &'static str| {
        Signal::derive(move || {
            w.update.value().get().and_then(Result::err).and_then(|e| e.field(name))
        })
    };
    let fields = StoredValue::new(v.fields.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        w.update.dispatch(UpdateIncident {
            code: code.clone(),
            version,
            fields: form.get_untracked().fields,
        });
    };
    view! {
        <section class="card">
            <div class="card-head">
                <h2>{t(Msg::Details)}</h2>
                <IfCan can=Permission::RespondToIncidents>
                    <button type="button" class="btn btn-small" data-testid="edit-details" on:click=move |_| editing.update(|e| *e = !*e)>
                        {move || if editing.get() { t(Msg::Cancel)() } else { t(Msg::Edit)() }}
                    </button>
                </IfCan>
            </div>
            {move || if editing.get() {
                view! {
                    <form class="form" on:submit=on_submit.clone()>
                        {move || w.update.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_))).map(error_box)}
                        <div class="form-row">
                            <label class="grow"><span>{t(Msg::Title)}</span>{text_input(form, "title", |f| f.title.clone(), |f, v| f.title = v)}<FieldError error=field("title") /></label>
                            <label class="narrow"><span>{t(Msg::Severity)}</span>
                                <select name="severity" on:change=move |ev| { if let Some(s) = Severity::parse(&event_target_value(&ev)) { form.update(|f| f.fields.severity = s); } }>
                                    {Severity::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=move || form.with(|f| f.fields.severity == s)>{s.as_str()}</option> }).collect_view()}
                                </select>
                            </label>
                        </div>
                        <div class="form-row">
                            <label><span>{t(Msg::ImpactScope)}</span>{text_area(form, "impact_scope", |f| f.impact_scope.clone(), |f, v| f.impact_scope = v)}</label>
                            <label><span>{t(Msg::UserImpact)}</span>{text_area(form, "user_impact", |f| f.user_impact.clone(), |f, v| f.user_impact = v)}</label>
                        </div>
                        <label><span>{t(Msg::Description)}</span>{text_area(form, "description", |f| f.description.clone(), |f, v| f.description = v)}</label>
                        <div class="form-row">
                            <label><span>{t(Msg::MeasuresTaken)}</span>{text_area(form, "measures_taken", |f| f.measures_taken.clone(), |f, v| f.measures_taken = v)}</label>
                            <label><span>{t(Msg::SupportNeeded)}</span>{text_area(form, "support_needed", |f| f.support_needed.clone(), |f, v| f.support_needed = v)}</label>
                        </div>
                        <label><span>{t(Msg::Contact)}</span>{text_input(form, "contact", |f| f.contact.clone(), |f, v| f.contact = v)}</label>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="save-details">{t(Msg::Save)}</button>
                        </div>
                    </form>
                }.into_any()
            } else {
                fields.with_value(read_details)
            }}
        </section>
    }
}

fn read_details(f: &IncidentFields) -> AnyView {
    let dash = |s: &str| {
        if s.trim().is_empty() {
            "—".to_owned()
        } else {
            s.to_owned()
        }
    };
    view! {
        <dl class="details">
            <dt>{t(Msg::ImpactScope)}</dt><dd>{dash(&f.impact_scope)}</dd>
            <dt>{t(Msg::UserImpact)}</dt><dd>{dash(&f.user_impact)}</dd>
            <dt>{t(Msg::Description)}</dt><dd class="pre">{dash(&f.description)}</dd>
            <dt>{t(Msg::MeasuresTaken)}</dt><dd class="pre">{dash(&f.measures_taken)}</dd>
            <dt>{t(Msg::SupportNeeded)}</dt><dd>{dash(&f.support_needed)}</dd>
            <dt>{t(Msg::Contact)}</dt><dd>{dash(&f.contact)}</dd>
        </dl>
    }
    .into_any()
}

#[component]
fn AlertsPanel(v: IncidentView) -> impl IntoView {
    view! {
        <section class="card">
            <h2>{t(Msg::LinkedAlerts)}</h2>
            {if v.alerts.is_empty() {
                view! { <p class="muted">{t(Msg::NoLinkedAlerts)}</p> }.into_any()
            } else {
                view! {
                    <ul class="plain-list">
                        {v.alerts.into_iter().map(|a| view! {
                            <li>{sev_badge(a.severity)}" "
                                {match a.rule_id {
                                    Some(id) => view! { <a href=format!("/alerts/rules/{id}")>{a.title.clone()}</a> }.into_any(),
                                    None => view! { <span>{a.title.clone()}</span> }.into_any(),
                                }}
                                <span class="muted small">" · "{a.source}" · "{a.linked}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// Who was paged for the incident (policy, pages by person and channel, acknowledgement),
/// and "page more people": another escalation policy, a schedule's on-call or a person.
#[component]
fn PagingPanel(code: String) -> impl IntoView {
    let more = ServerAction::<PageMore>::new();
    let code = StoredValue::new(code);
    // The runs and the picker's options in one resource: a resource of its own
    // inside the <select> of a streamed chunk does not hydrate.
    let data = Resource::new(
        move || more.version().get(),
        move |_| async move {
            let runs = incident_paging(code.get_value()).await?;
            let targets = page_targets().await.unwrap_or_default();
            Ok::<_, AppError>((runs, targets))
        },
    );
    let chosen = RwSignal::new(String::new());
    let refresh = Callback::new(move |_| data.refetch());
    view! {
        <section class="card" data-testid="incident-paging">
            <h2>{t(Msg::PagedPeople)}</h2>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    let (rows, targets) = match data.await {
                        Err(e) => return error_box(e),
                        Ok(d) => d,
                    };
                    let table = if rows.is_empty() {
                        view! { <p class="muted">{t(Msg::NobodyPaged)}</p> }.into_any()
                    } else {
                        crate::features::oncall::pages::escalation_table(rows, refresh)
                    };
                    let targets = StoredValue::new(targets);
                    let group = |label: Msg, kind: &'static str, items: Vec<crate::features::oncall::server_fns::Option2>| {
                        (!items.is_empty()).then(|| view! {
                            <optgroup label=t(label)>
                                {items.into_iter().map(|o| view! { <option value=format!("{kind}:{}", o.id)>{o.name}</option> }).collect_view()}
                            </optgroup>
                        })
                    };
                    view! {
                        {table}
                        <IfCan can=Permission::RespondToIncidents>
                            <div class="form-row page-more">
                                <select aria-label=t(Msg::PageMore) data-testid="page-more-target"
                                    on:change=move |ev| chosen.set(event_target_value(&ev))>
                                    <option value="">"—"</option>
                                    {group(Msg::PagePolicies, "policy", targets.with_value(|t| t.policies.clone()))}
                                    {group(Msg::PageSchedules, "schedule", targets.with_value(|t| t.schedules.clone()))}
                                    {group(Msg::PagePeople, "user", targets.with_value(|t| t.people.clone()))}
                                </select>
                                <button type="button" class="btn btn-small" data-testid="page-more"
                                    disabled=move || chosen.with(String::is_empty) || more.pending().get()
                                    on:click=move |_| {
                                        more.dispatch(PageMore { code: code.get_value(), target: chosen.get_untracked() });
                                    }>{t(Msg::PageMore)}</button>
                            </div>
                            <p class="muted small">{t(Msg::PageMoreHint)}</p>
                            {move || more.value().get().and_then(Result::err).map(error_box)}
                        </IfCan>
                    }.into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TimelinePanel(v: IncidentView, w: Writes) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let at = RwSignal::new(String::new());
    let code = v.code.clone();
    let field = move |name: &'static str| {
        Signal::derive(move || {
            w.note.value().get().and_then(Result::err).and_then(|e| e.field(name))
        })
    };
    let editing: RwSignal<Option<(i64, String, String)>> = RwSignal::new(None);
    let code2 = v.code.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        w.note.dispatch(AddNote {
            code: code.clone(),
            text: text.get_untracked(),
            at: at.get_untracked(),
        });
        text.set(String::new());
    };
    let edit_err = move || w.edit.value().get().and_then(Result::err).map(|e| e.text_now());
    let entries = v.timeline.into_iter().rev().map(|e| {
        let is_note = e.kind == "note";
        let (id, body, at_input) = (e.id, e.body.clone(), e.at_input.clone());
        let code = code2.clone();
        let shown = body.clone();
        view! {
            <li class=format!("tl tl-{}", e.kind) data-testid="timeline-entry">
                <span class="tl-dot" aria-hidden="true"></span>
                <div class="tl-body">
                    <div class="tl-meta"><time>{e.at.clone()}</time>" · "{e.actor.clone()}
                        {e.edited.then(|| view! { <span class="muted">" · "{t(Msg::Edited)}</span> })}</div>
                    {move || match editing.get() {
                        Some((eid, _, _)) if eid == id => {
                            let code = code.clone();
                            view! {
                                <div class="form-inline">
                                    <input name="edit_text" prop:value=move || editing.get().map(|e| e.1).unwrap_or_default()
                                        on:input=move |ev| { let v = event_target_value(&ev); editing.update(|e| if let Some(e) = e { e.1 = v }); } />
                                    <input type="datetime-local" name="edit_at" prop:value=move || editing.get().map(|e| e.2).unwrap_or_default()
                                        on:input=move |ev| { let v = event_target_value(&ev); editing.update(|e| if let Some(e) = e { e.2 = v }); } />
                                    <button type="button" class="btn btn-small btn-primary" on:click=move |_| {
                                        if let Some((id, text, at)) = editing.get_untracked() {
                                            w.edit.dispatch(EditNote { code: code.clone(), id, text, at });
                                            editing.set(None);
                                        }
                                    }>{t(Msg::Save)}</button>
                                </div>
                            }.into_any()
                        }
                        _ => view! { <p class=if is_note { "tl-text note" } else { "tl-text" }>{shown.clone()}</p> }.into_any(),
                    }}
                    {is_note.then(|| {
                        let (body, at_input) = (body.clone(), at_input.clone());
                        view! {
                            <IfCan can=Permission::RespondToIncidents>
                                {
                                    let (body, at_input) = (body.clone(), at_input.clone());
                                    view! {
                                        <button type="button" class="btn btn-ghost btn-small" on:click=move |_| editing.set(Some((id, body.clone(), at_input.clone())))>{t(Msg::Edit)}</button>
                                    }
                                }
                            </IfCan>
                        }
                    })}
                </div>
            </li>
        }
    }).collect_view();
    view! {
        <section class="card">
            <h2>{t(Msg::Timeline)}</h2>
            <IfCan can=Permission::RespondToIncidents>
                <form class="note-form" on:submit=on_submit.clone() data-testid="note-form">
                    <div class="form-row">
                        <label class="grow"><span>{t(Msg::AddNote)}</span>
                            <input name="note" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev)) placeholder=move || t(Msg::NoteHint)() />
                            <FieldError error=field("text") />
                        </label>
                        <label class="narrow-wide"><span>{t(Msg::EventTime)}</span>
                            <input type="datetime-local" name="note_at" prop:value=move || at.get() on:input=move |ev| at.set(event_target_value(&ev)) />
                            <FieldError error=field("at") />
                        </label>
                    </div>
                    <button type="submit" class="btn" data-testid="add-note">{t(Msg::AddNote)}</button>
                </form>
                {move || edit_err().map(|e| view! { <p class="field-error">{e}</p> })}
            </IfCan>
            <ol class="timeline" data-testid="timeline">{entries}</ol>
        </section>
    }
}

/// What changed around the incident: the services of its alerts (or every service), from
/// 24 h before detection; the same changes are in the timeline.
#[component]
fn ChangesPanel(v: IncidentView) -> impl IntoView {
    use crate::features::changes::page::change_item;
    let scope = if v.change_services.is_empty() {
        view! { <p class="muted small">{t(Msg::IncChangesAll)}</p> }.into_any()
    } else {
        view! { <p class="muted small">{t(Msg::IncChangesScope)}" "<strong>{v.change_services.join(", ")}</strong></p> }.into_any()
    };
    let all = format!("/changes?range=30d&service={}", urlencode(&v.change_services.join(",")));
    view! {
        <section class="card" data-testid="incident-changes">
            <h2>{t(Msg::IncChanges)}</h2>
            {scope}
            {if v.changes.is_empty() {
                view! { <p class="muted empty-inline">{t(Msg::IncNoChanges)}</p> }.into_any()
            } else {
                view! { <ul class="changes">{v.changes.into_iter().map(change_item).collect_view()}</ul> }.into_any()
            }}
            <p class="small"><a href=all>{t(Msg::Changes)}" →"</a></p>
        </section>
    }
}

#[component]
fn RolesPanel(v: IncidentView, w: Writes) -> impl IntoView {
    let current: std::collections::BTreeMap<IncidentRole, Vec<i64>> =
        v.roles.iter().cloned().collect();
    let roles = RwSignal::new(current.clone());
    let people = StoredValue::new(v.people.clone());
    let name_of = move |id: i64| {
        people.with_value(|ps| {
            ps.iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| format!("#{id}"))
        })
    };
    let code = v.code.clone();
    let err = move || w.roles.value().get().and_then(Result::err).map(|e| e.text_now());
    let read = IncidentRole::ALL.into_iter().map(|r| {
        let names: Vec<String> = current.get(&r).map(|v| v.iter().map(|id| name_of(*id)).collect()).unwrap_or_default();
        view! { <dt>{t(role_msg(r))}</dt><dd data-testid=format!("role-{}", r.as_str())>{if names.is_empty() { "—".to_owned() } else { names.join(", ") }}</dd> }
    }).collect_view();
    let editor = IncidentRole::ALL.into_iter().map(|r| {
        let multiple = !r.single();
        view! {
            <label><span>{t(role_msg(r))}</span>
                <select name=format!("role_{}", r.as_str()) multiple=multiple size=if multiple { "3" } else { "1" }
                    on:change=move |ev| {
                        use wasm_bindgen_free::selected_ids;
                        let ids = selected_ids(&ev);
                        roles.update(|m| { m.insert(r, ids); });
                    }>
                    {(!multiple).then(|| view! { <option value="">"—"</option> })}
                    {people.get_value().into_iter().map(|p| {
                        let id = p.id;
                        view! { <option value=id.to_string() selected=move || roles.with(|m| m.get(&r).is_some_and(|v| v.contains(&id)))>{p.name}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    }).collect_view();
    view! {
        <section class="card" data-testid="roles-panel">
            <h2>{t(Msg::ResponseRoles)}</h2>
            <dl class="details roles">{read}</dl>
            <IfCan can=Permission::RespondToIncidents>
                <details class="roles-edit">
                    <summary>{t(Msg::AssignRoles)}</summary>
                    <div class="form">{editor.clone()}</div>
                    <button type="button" class="btn btn-primary btn-small" data-testid="save-roles" on:click={
                        let code = code.clone();
                        move |_| { w.roles.dispatch(SetRoles { code: code.clone(), roles: roles.get_untracked().into_iter().collect() }); }
                    }>{t(Msg::Save)}</button>
                    {move || err().map(|e| view! { <p class="field-error">{e}</p> })}
                </details>
            </IfCan>
        </section>
    }
}

/// Browser calls without extra web-sys features: a `<select>`'s chosen values (its
/// `selectedOptions`) and the clipboard, reached through `js_sys::Reflect`.
mod wasm_bindgen_free {
    #[cfg(feature = "hydrate")]
    pub fn selected_ids(ev: &leptos::ev::Event) -> Vec<i64> {
        let Some(target) = ev.target() else {
            return Vec::new();
        };
        let options = js_sys::Reflect::get(&target, &"selectedOptions".into()).ok();
        let Some(list) = options else {
            return Vec::new();
        };
        let len = js_sys::Reflect::get(&list, &"length".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u32;
        (0..len)
            .filter_map(|i| js_sys::Reflect::get(&list, &i.into()).ok())
            .filter_map(|o| js_sys::Reflect::get(&o, &"value".into()).ok())
            .filter_map(|v| v.as_string())
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// `navigator.clipboard.writeText(text)`, ignoring failures (the text stays selectable).
    #[cfg(feature = "hydrate")]
    pub fn copy_text(text: &str) {
        use wasm_bindgen::{JsCast, JsValue};
        let win: JsValue = leptos::prelude::window().into();
        let clip = js_sys::Reflect::get(&win, &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"clipboard".into()));
        if let Ok(clip) = clip {
            if let Ok(f) = js_sys::Reflect::get(&clip, &"writeText".into()) {
                if let Some(f) = f.dyn_ref::<js_sys::Function>() {
                    let _ = f.call1(&clip, &JsValue::from_str(text));
                }
            }
        }
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn selected_ids(_ev: &leptos::ev::Event) -> Vec<i64> {
        Vec::new()
    }
}

#[component]
fn ReportPanel(v: IncidentView, w: Writes) -> impl IntoView {
    let code = v.code.clone();
    let report = Resource::new(move || (code.clone(), w.version()), |(c, _)| incident_report(c));
    let channel = RwSignal::new(v.channels.first().map(|c| c.0));
    let code = v.code.clone();
    let channels = v.channels.clone();
    let sent = move || w.send.value().get();
    view! {
        <section class="card" data-testid="report-panel">
            <h2>{t(Msg::IncidentReport)}</h2>
            <details>
                <summary data-testid="show-report">{t(Msg::ShowReport)}</summary>
                <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {move || Suspend::new(async move {
                        match report.await {
                            Ok(text) => view! {
                                <textarea class="report-text" readonly=true rows="16" data-testid="report-text" prop:value=text.clone()></textarea>
                                <button type="button" class="btn btn-small" on:click=move |_| {
                                    #[cfg(feature = "hydrate")]
                                    wasm_bindgen_free::copy_text(&text);
                                    #[cfg(not(feature = "hydrate"))]
                                    let _ = &text;
                                }>{t(Msg::Copy)}</button>
                            }.into_any(),
                            Err(e) => error_box(e),
                        }
                    })}
                </Transition>
            </details>
            <IfCan can=Permission::RespondToIncidents>
                {if channels.is_empty() {
                    view! { <p class="muted small">{t(Msg::NoChannelsForReport)}</p> }.into_any()
                } else {
                    let code = code.clone();
                    let channels = channels.clone();
                    view! {
                        <div class="form-inline">
                            <select name="channel" on:change=move |ev| channel.set(event_target_value(&ev).parse().ok())>
                                {channels.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                            </select>
                            <button type="button" class="btn btn-small" disabled=move || w.send.pending().get() on:click=move |_| {
                                if let Some(id) = channel.get_untracked() {
                                    w.send.dispatch(SendReport { code: code.clone(), channel_id: id });
                                }
                            }>{t(Msg::SendReport)}</button>
                        </div>
                    }.into_any()
                }}
                {move || sent().map(|r| match r {
                    Ok(()) => view! { <p class="alert alert-ok" role="status">{t(Msg::ReportSent)}</p> }.into_any(),
                    Err(e) => error_box(e),
                })}
            </IfCan>
        </section>
    }
}
