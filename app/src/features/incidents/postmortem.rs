//! `/incidents/:code/postmortem` (every section of the template, 5 whys, fishbone, action
//! items, review states, Markdown export), `/action-items` and `/incident-reports`.

use super::pages::{sev_badge, status_badge, urlencode, IncidentTabs};
use super::server_fns::*;
use crate::components::error_box;
use crate::components::{EmptyState, FieldError, Icon, IfCan, PageHeader};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::incident::postmortem::{ActionKind, ActionStatus, PmStatus, Postmortem, MAX_WHYS};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;

type DocGet = fn(&Postmortem) -> String;
type DocSet = fn(&mut Postmortem, String);

fn area(
    form: RwSignal<PostmortemForm>,
    name: &'static str,
    rows: u32,
    get: DocGet,
    set: DocSet,
) -> impl IntoView {
    view! {
        <textarea name=name id=format!("pm-{name}") rows=rows.to_string() prop:value=move || form.with(|f| get(&f.doc))
            on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(&mut f.doc, v)); }></textarea>
    }
}

fn labelled(
    form: RwSignal<PostmortemForm>,
    err: impl Fn(&'static str) -> Signal<Option<String>> + Copy + 'static,
    label: Msg,
    name: &'static str,
    rows: u32,
    get: DocGet,
    set: DocSet,
) -> impl IntoView {
    view! {
        <label><span>{t(label)}</span>{area(form, name, rows, get, set)}<FieldError error=err(name) /></label>
    }
}

fn status_msg(s: Option<PmStatus>) -> Msg {
    match s {
        None => Msg::PmNotStarted,
        Some(PmStatus::Draft) => Msg::PmDraft,
        Some(PmStatus::InReview) => Msg::PmInReview,
        Some(PmStatus::Published) => Msg::PmPublished,
    }
}

fn action_status_msg(s: ActionStatus) -> Msg {
    match s {
        ActionStatus::Todo => Msg::ActionTodo,
        ActionStatus::InProgress => Msg::ActionInProgress,
        ActionStatus::Done => Msg::ActionDone,
    }
}

/// `/incidents/:code/postmortem`.
#[component]
pub fn PostmortemPage() -> impl IntoView {
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let save = ServerAction::<SavePostmortem>::new();
    let add = ServerAction::<AddActionItem>::new();
    let status = ServerAction::<SetActionStatus>::new();
    let del = ServerAction::<DeleteActionItem>::new();
    let data = Resource::new(
        move || {
            (
                code.get(),
                save.version().get()
                    + add.version().get()
                    + status.version().get()
                    + del.version().get(),
            )
        },
        |(c, _)| get_postmortem(c),
    );
    view! {
        <Title text=t(Msg::Postmortem) />
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(edit) => view! { <PostmortemEditor edit save add status del /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PostmortemEditor(
    edit: PostmortemEdit,
    save: ServerAction<SavePostmortem>,
    add: ServerAction<AddActionItem>,
    status: ServerAction<SetActionStatus>,
    del: ServerAction<DeleteActionItem>,
) -> impl IntoView {
    let form = RwSignal::new(edit.form.clone());
    if form.with_untracked(|f| f.doc.whys.len() < MAX_WHYS) {
        form.update_untracked(|f| f.doc.whys.resize(MAX_WHYS, String::new()));
    }
    let err = move |name: &'static str| {
        Signal::derive(move || save.value().get().and_then(Result::err).and_then(|e| e.field(name)))
    };
    let other = move || {
        save.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_)))
    };
    let invalid_summary = move || match save.value().get() {
        Some(Err(AppError::Invalid(e))) => Some(e.to_string()),
        _ => None,
    };
    let (code, version) = (edit.code.clone(), edit.version);
    let submit = move |to: PmStatus| {
        save.dispatch(SavePostmortem {
            code: code.clone(),
            version,
            form: form.get_untracked(),
            status: to,
        });
    };
    let current = edit.status;
    let md = Resource::new(move || save.version().get(), {
        let code = edit.code.clone();
        move |_| postmortem_markdown(code.clone())
    });
    let header = view! {
        <header class="page-header">
            <p class="muted small"><a href="/incidents">{t(Msg::IncidentsTitle)}</a>" / "
                <a href=format!("/incidents/{}", edit.code)>{edit.code.clone()}</a>" / "{t(Msg::Postmortem)}</p>
            <h1>{t(Msg::Postmortem)}": "{edit.title.clone()}" "{sev_badge(edit.severity)}</h1>
            <p class="muted small">
                {t(Msg::Status)}": "<strong data-testid="pm-status">{t(status_msg(current))}</strong>
                " · "{t(Msg::IncidentWord)}" "{status_badge(edit.incident_status)}
                {edit.due.clone().map(|d| view! { " · "{t(Msg::PostmortemDue)}" "{d} })}
                {edit.overdue.then(|| view! { " "<span class="badge state-firing">{t(Msg::Overdue)}</span> })}
            </p>
        </header>
    }
    .into_any();
    let b = edit.basic.clone();
    let dash = |s: String| {
        if s.trim().is_empty() {
            "—".to_owned()
        } else {
            s
        }
    };
    let basic = view! {
        <section class="card" data-testid="pm-basic">
            <h2>{t(Msg::BasicInfo)}</h2>
            <dl class="details">
                <dt>"ID"</dt><dd>{edit.code.clone()}</dd>
                <dt>{t(Msg::Severity)}</dt><dd>{edit.severity.as_str()}</dd>
                <dt>{t(Msg::IncidentTime)}</dt><dd>{b.period}</dd>
                <dt>{t(Msg::Duration)}</dt><dd>{b.duration}</dd>
                <dt>{t(Msg::IncRoleCommander)}</dt><dd>{b.commander}</dd>
                <dt>{t(Msg::ImpactScope)}</dt><dd>{dash(b.impact_scope)}</dd>
                <dt>{t(Msg::UserImpact)}</dt><dd>{dash(b.user_impact)}</dd>
            </dl>
            <p class="muted small">{t(Msg::BasicInfoHint)}</p>
        </section>
    }
    .into_any();
    let row_indices = move || (0..form.with(|f| f.timeline.len())).collect::<Vec<usize>>();
    let timeline = view! {
        <section class="card">
            <h2>{t(Msg::Timeline)}</h2>
            <table class="table compact pm-timeline">
                <thead><tr><th>{t(Msg::Time)}</th><th>{t(Msg::Event)}</th><th>{t(Msg::Owner)}</th><th></th></tr></thead>
                <tbody>
                    <For each=row_indices key=|i| *i let:i>
                        <tr>
                            <td><input name=format!("tl_at_{i}") prop:value=move || form.with(|f| f.timeline.get(i).map(|r| r.at.clone()).unwrap_or_default())
                                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| if let Some(r) = f.timeline.get_mut(i) { r.at = v }); } />
                                <FieldError error=Signal::derive(move || save.value().get().and_then(Result::err).and_then(|e| e.field(&format!("timeline[{i}].at")))) /></td>
                            <td><input class="wide" name=format!("tl_event_{i}") prop:value=move || form.with(|f| f.timeline.get(i).map(|r| r.event.clone()).unwrap_or_default())
                                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| if let Some(r) = f.timeline.get_mut(i) { r.event = v }); } /></td>
                            <td><input name=format!("tl_owner_{i}") prop:value=move || form.with(|f| f.timeline.get(i).map(|r| r.owner.clone()).unwrap_or_default())
                                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| if let Some(r) = f.timeline.get_mut(i) { r.owner = v }); } /></td>
                            <td><button type="button" class="btn btn-ghost btn-small" aria-label="remove"
                                on:click=move |_| form.update(|f| { if i < f.timeline.len() { f.timeline.remove(i); } })>"×"</button></td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <button type="button" class="btn btn-small" on:click=move |_| form.update(|f| f.timeline.push(PmRowForm::default()))>{t(Msg::AddRow)}</button>
            <FieldError error=err("timeline") />
        </section>
    }
    .into_any();
    let causes = view! {
        <section class="card">
            <h2>{t(Msg::RootCauseAnalysis)}</h2>
            {labelled(form, err, Msg::DirectCause, "direct_cause", 2, |d| d.direct_cause.clone(), |d, v| d.direct_cause = v)}
            <h3>{t(Msg::FiveWhys)}</h3>
            <label><span>{t(Msg::Problem)}</span>
                <input name="problem" prop:value=move || form.with(|f| f.doc.problem.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.doc.problem = v); } /></label>
            <ol class="whys">
                {(0..MAX_WHYS).map(|i| view! {
                    <li><label><span>{t(Msg::Why)}" "{i + 1}</span>
                        <input name=format!("why_{i}") data-testid=format!("why-{}", i + 1)
                            prop:value=move || form.with(|f| f.doc.whys.get(i).cloned().unwrap_or_default())
                            on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| { if f.doc.whys.len() <= i { f.doc.whys.resize(i + 1, String::new()); } f.doc.whys[i] = v; }); } />
                    </label></li>
                }).collect_view()}
            </ol>
            <FieldError error=err("whys") />
            {labelled(form, err, Msg::RootCause, "root_cause", 2, |d| d.root_cause.clone(), |d, v| d.root_cause = v)}
            <h3>{t(Msg::ContributingFactors)}</h3>
            <div class="fishbone">
                {labelled(form, err, Msg::FbPeople, "people", 2, |d| d.factors.people.clone(), |d, v| d.factors.people = v)}
                {labelled(form, err, Msg::FbMachines, "machines", 2, |d| d.factors.machines.clone(), |d, v| d.factors.machines = v)}
                {labelled(form, err, Msg::FbMaterials, "materials", 2, |d| d.factors.materials.clone(), |d, v| d.factors.materials = v)}
                {labelled(form, err, Msg::FbMethods, "methods", 2, |d| d.factors.methods.clone(), |d, v| d.factors.methods = v)}
                {labelled(form, err, Msg::FbEnvironment, "environment", 2, |d| d.factors.environment.clone(), |d, v| d.factors.environment = v)}
                {labelled(form, err, Msg::FbMeasurement, "measurement", 2, |d| d.factors.measurement.clone(), |d, v| d.factors.measurement = v)}
            </div>
        </section>
    }
    .into_any();
    let num = move |name: &'static str,
                    label: Msg,
                    get: fn(&PostmortemForm) -> String,
                    set: fn(&mut PostmortemForm, String)| {
        view! {
            <label><span>{t(label)}</span>
                <input name=name inputmode="numeric" prop:value=move || form.with(get)
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); } />
                <FieldError error=err(name) /></label>
        }
    };
    let impact = view! {
        <section class="card">
            <h2>{t(Msg::ImpactAssessment)}</h2>
            <h3>{t(Msg::BusinessImpact)}</h3>
            <div class="form-row">
                {num("users_affected", Msg::UsersAffected, |f| f.users_affected.clone(), |f, v| f.users_affected = v)}
                <label><span>{t(Msg::RevenueLost)}</span>
                    <input name="revenue_lost" prop:value=move || form.with(|f| f.doc.revenue_lost.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.doc.revenue_lost = v); } /></label>
                {num("complaints", Msg::Complaints, |f| f.complaints.clone(), |f, v| f.complaints = v)}
            </div>
            {labelled(form, err, Msg::OtherImpact, "business_other", 2, |d| d.business_other.clone(), |d, v| d.business_other = v)}
            <h3>{t(Msg::TechnicalImpact)}</h3>
            <div class="form-row">
                {labelled(form, err, Msg::ServicesAffected, "services_affected", 2, |d| d.services_affected.clone(), |d, v| d.services_affected = v)}
                {labelled(form, err, Msg::DataImpact, "data_impact", 2, |d| d.data_impact.clone(), |d, v| d.data_impact = v)}
            </div>
            <h3>{t(Msg::BrandImpact)}</h3>
            <div class="form-row">
                {num("negative_mentions", Msg::NegativeMentions, |f| f.negative_mentions.clone(), |f, v| f.negative_mentions = v)}
                <label><span>{t(Msg::ChurnRisk)}</span>
                    <input name="churn_risk" prop:value=move || form.with(|f| f.doc.churn_risk.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.doc.churn_risk = v); } /></label>
            </div>
        </section>
    }
    .into_any();
    let handling = view! {
        <section class="card">
            <h2>{t(Msg::Handling)}</h2>
            <p class="muted small">{t(Msg::OnePerLine)}</p>
            {labelled(form, err, Msg::MeasuresTaken, "measures", 3, |d| d.measures.clone(), |d, v| d.measures = v)}
            <div class="form-row">
                {labelled(form, err, Msg::FixPlan, "fix", 3, |d| d.fix.clone(), |d, v| d.fix = v)}
                {labelled(form, err, Msg::Verification, "verification", 3, |d| d.verification.clone(), |d, v| d.verification = v)}
            </div>
            <h2>{t(Msg::Lessons)}</h2>
            <div class="form-row">
                {labelled(form, err, Msg::WentWell, "went_well", 3, |d| d.went_well.clone(), |d, v| d.went_well = v)}
                {labelled(form, err, Msg::WentBadly, "went_badly", 3, |d| d.went_badly.clone(), |d, v| d.went_badly = v)}
            </div>
            <h2>{t(Msg::Plans)}</h2>
            <div class="form-row">
                {labelled(form, err, Msg::PlanTechnical, "plan_technical", 2, |d| d.plan_technical.clone(), |d, v| d.plan_technical = v)}
                {labelled(form, err, Msg::PlanProcess, "plan_process", 2, |d| d.plan_process.clone(), |d, v| d.plan_process = v)}
            </div>
            <div class="form-row">
                {labelled(form, err, Msg::PlanTooling, "plan_tooling", 2, |d| d.plan_tooling.clone(), |d, v| d.plan_tooling = v)}
                {labelled(form, err, Msg::PlanTraining, "plan_training", 2, |d| d.plan_training.clone(), |d, v| d.plan_training = v)}
            </div>
            <h2>{t(Msg::Appendix)}</h2>
            <p class="muted small">{t(Msg::LinksHint)}</p>
            <div class="form-row">
                {labelled(form, err, Msg::LinksLogs, "links_logs", 2, |d| d.links_logs.clone(), |d, v| d.links_logs = v)}
                {labelled(form, err, Msg::LinksDocs, "links_docs", 2, |d| d.links_docs.clone(), |d, v| d.links_docs = v)}
                {labelled(form, err, Msg::LinksAlerts, "links_alerts", 2, |d| d.links_alerts.clone(), |d, v| d.links_alerts = v)}
            </div>
        </section>
    }
    .into_any();
    let s1 = submit.clone();
    let s2 = submit.clone();
    let s3 = submit.clone();
    let s4 = submit.clone();
    let actions_bar = view! {
        <div class="card pm-actions">
            <IfCan can=Permission::EditPostmortems fallback=|| view! { <p class="muted">{t(Msg::ReadOnlyPostmortem)}</p> }>
                {
                    let (s1, s2, s3, s4) = (s1.clone(), s2.clone(), s3.clone(), s4.clone());
                    view! {
                        <button type="button" class="btn" data-testid="pm-save" disabled=save.pending()
                            on:click=move |_| s1(current.unwrap_or(PmStatus::Draft))>{t(Msg::Save)}</button>
                        {matches!(current, None | Some(PmStatus::Draft)).then(|| { let s2 = s2.clone(); view! {
                            <button type="button" class="btn btn-primary" data-testid="pm-review" on:click=move |_| s2(PmStatus::InReview)>{t(Msg::SendForReview)}</button>
                        }})}
                        {(current == Some(PmStatus::InReview)).then(|| { let s3 = s3.clone(); view! {
                            <button type="button" class="btn btn-primary" data-testid="pm-publish" on:click=move |_| s3(PmStatus::Published)>{t(Msg::Publish)}</button>
                        }})}
                        {matches!(current, Some(PmStatus::InReview) | Some(PmStatus::Published)).then(|| { let s4 = s4.clone(); view! {
                            <button type="button" class="btn btn-ghost" data-testid="pm-draft" on:click=move |_| s4(PmStatus::Draft)>{t(Msg::BackToDraft)}</button>
                        }})}
                    }
                }
            </IfCan>
            {move || save.value().get().and_then(Result::ok).map(|_| view! { <span class="ok small" role="status">{t(Msg::Saved)}</span> })}
            {move || other().map(error_box)}
            {move || invalid_summary().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </div>
    }
    .into_any();
    let code_md = edit.code.clone();
    let export = view! {
        <section class="card">
            <h2>{t(Msg::ExportMarkdown)}</h2>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || { let code_md = code_md.clone(); Suspend::new(async move {
                    match md.await {
                        Ok(text) => {
                            let href = format!("data:text/markdown;charset=utf-8,{}", urlencode(&text));
                            view! {
                                <a class="btn btn-small" href=href download=format!("{}-postmortem.md", code_md) data-testid="pm-export">{t(Msg::DownloadMarkdown)}</a>
                                <details><summary>{t(Msg::Preview)}</summary><pre class="markdown" data-testid="pm-markdown">{text}</pre></details>
                            }.into_any()
                        }
                        Err(e) => error_box(e),
                    }
                })}}
            </Transition>
        </section>
    }
    .into_any();
    view! {
        {header}
        <form class="form postmortem-form" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default() data-testid="postmortem-form">
            {basic}
            {timeline}
            {causes}
            {impact}
            {handling}
        </form>
        <ActionItemsEditor code=edit.code.clone() actions=edit.actions.clone() people=edit.people.clone() today=edit.today.clone() add status del />
        {actions_bar}
        {export}
    }
}

#[component]
fn ActionItemsEditor(
    code: String,
    actions: Vec<ActionRow>,
    people: Vec<PersonRow>,
    today: String,
    add: ServerAction<AddActionItem>,
    status: ServerAction<SetActionStatus>,
    del: ServerAction<DeleteActionItem>,
) -> impl IntoView {
    let kind = RwSignal::new(ActionKind::Immediate);
    let desc = RwSignal::new(String::new());
    let owner = RwSignal::new(people.first().map(|p| p.id));
    let due = RwSignal::new(today);
    let err = move |f: &'static str| {
        Signal::derive(move || add.value().get().and_then(Result::err).and_then(|e| e.field(f)))
    };
    let people_opts = people.clone();
    view! {
        <section class="card" data-testid="action-items">
            <h2>{t(Msg::ActionItems)}</h2>
            {action_table(actions, status, del)}
            <IfCan can=Permission::EditPostmortems>
                {
                    let code = code.clone();
                    let people_opts = people_opts.clone();
                    view! {
                        <div class="form-row action-add">
                            <label class="narrow"><span>{t(Msg::Kind)}</span>
                                <select name="action_kind" on:change=move |ev| kind.set(if event_target_value(&ev) == "long_term" { ActionKind::LongTerm } else { ActionKind::Immediate })>
                                    <option value="immediate">{t(Msg::Immediate)}</option>
                                    <option value="long_term">{t(Msg::LongTerm)}</option>
                                </select></label>
                            <label class="grow"><span>{t(Msg::Description)}</span>
                                <input name="action_description" prop:value=move || desc.get() on:input=move |ev| desc.set(event_target_value(&ev)) />
                                <FieldError error=err("description") /></label>
                            <label><span>{t(Msg::Owner)}</span>
                                <select name="action_owner" on:change=move |ev| owner.set(event_target_value(&ev).parse().ok())>
                                    {people_opts.into_iter().map(|p| view! { <option value=p.id.to_string()>{p.name}</option> }).collect_view()}
                                </select>
                                <FieldError error=err("owner") /></label>
                            <label class="narrow-wide"><span>{t(Msg::DueDate)}</span>
                                <input type="date" name="action_due" prop:value=move || due.get() on:input=move |ev| due.set(event_target_value(&ev)) />
                                <FieldError error=err("due_date") /></label>
                        </div>
                        <button type="button" class="btn btn-small" data-testid="add-action" on:click=move |_| {
                            add.dispatch(AddActionItem { code: code.clone(), kind: kind.get_untracked(), description: desc.get_untracked(),
                                owner: owner.get_untracked(), due_date: due.get_untracked() });
                            desc.set(String::new());
                        }>{t(Msg::AddActionItem)}</button>
                    }
                }
            </IfCan>
        </section>
    }
}

fn action_table(
    rows: Vec<ActionRow>,
    status: ServerAction<SetActionStatus>,
    del: ServerAction<DeleteActionItem>,
) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted">{t(Msg::NoActionItems)}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table compact" data-testid="action-table">
                <thead><tr>
                    <th>"ID"</th><th>{t(Msg::IncidentWord)}</th><th>{t(Msg::Description)}</th><th>{t(Msg::Owner)}</th>
                    <th>{t(Msg::DueDate)}</th><th>{t(Msg::Status)}</th><th></th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|a| {
                        let id = a.id;
                        view! {
                            <tr class=if a.overdue { "row-overdue" } else { "" }>
                                <td class="nowrap">{a.code.clone()}</td>
                                <td class="nowrap"><a href=format!("/incidents/{}", a.incident_code) title=a.incident_title.clone()>{a.incident_code.clone()}</a></td>
                                <td>{a.description.clone()}</td>
                                <td>{a.owner.clone()}</td>
                                <td class="nowrap">{a.due_date.clone()}{a.overdue.then(|| view! { " "<span class="badge state-firing">{t(Msg::Overdue)}</span> })}</td>
                                <td>
                                    <select name="action_status" aria-label="status" on:change=move |ev| {
                                        if let Some(s) = ActionStatus::parse(&event_target_value(&ev)) {
                                            status.dispatch(SetActionStatus { id, status: s });
                                        }
                                    }>
                                        {ActionStatus::ALL.into_iter().map(|s| view! {
                                            <option value=s.as_str() selected=s == a.status>{t(action_status_msg(s))}</option>
                                        }).collect_view()}
                                    </select>
                                </td>
                                <td><IfCan can=Permission::EditPostmortems>
                                    <button type="button" class="btn btn-ghost btn-small" aria-label="delete"
                                        on:click=move |_| { del.dispatch(DeleteActionItem { id }); }>"×"</button>
                                </IfCan></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {move || status.value().get().and_then(Result::err).map(error_box)}
    }
    .into_any()
}

/// `/action-items`.
#[component]
pub fn ActionItemsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let owner = Memo::new(move |_| query.read().get("owner").unwrap_or_default());
    let st = Memo::new(move |_| query.read().get("status").unwrap_or_default());
    let overdue = Memo::new(move |_| query.read().get("overdue").is_some_and(|v| v == "1"));
    let status = ServerAction::<SetActionStatus>::new();
    let del = ServerAction::<DeleteActionItem>::new();
    let data = Resource::new(
        move || {
            (owner.get(), st.get(), overdue.get(), status.version().get() + del.version().get())
        },
        |(o, s, d, _)| list_action_items(o, s, d),
    );
    let go = move |o: String, s: String, d: bool| {
        let mut q = Vec::new();
        if !o.is_empty() {
            q.push(format!("owner={o}"));
        }
        if !s.is_empty() {
            q.push(format!("status={s}"));
        }
        if d {
            q.push("overdue=1".to_owned());
        }
        navigate(&format!("/action-items?{}", q.join("&")), NavigateOptions::default());
    };
    let (g1, g2, g3) = (go.clone(), go.clone(), go.clone());
    view! {
        <Title text=t(Msg::ActionItems) />
        <PageHeader title=Msg::IncidentsTitle />
        <IncidentTabs />
        <div class="filters">
            <label>{t(Msg::Owner)}
                <select name="owner" on:change=move |ev| g1(event_target_value(&ev), st.get_untracked(), overdue.get_untracked())>
                    <option value="">{t(Msg::All)}</option>
                    <option value="me" selected=move || owner.get() == "me">{t(Msg::Me)}</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            data.await.map(|(_, ps)| ps.into_iter().map(|p| {
                                let id = p.id.to_string();
                                let sel = id.clone();
                                view! { <option value=id selected=move || owner.get() == sel>{p.name}</option> }
                            }).collect_view()).ok()
                        })}
                    </Transition>
                </select>
            </label>
            <label>{t(Msg::Status)}
                <select name="status" on:change=move |ev| g2(owner.get_untracked(), event_target_value(&ev), overdue.get_untracked())>
                    <option value="">{t(Msg::All)}</option>
                    {ActionStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || st.get() == s.as_str()>{t(action_status_msg(s))}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="check">
                <input type="checkbox" name="overdue" prop:checked=move || overdue.get()
                    on:change=move |ev| g3(owner.get_untracked(), st.get_untracked(), event_target_checked(&ev)) />
                <span>{t(Msg::OverdueOnly)}</span>
            </label>
        </div>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok((rows, _)) if rows.is_empty() => view! {
                        <EmptyState title=Msg::NoActionItems body=Msg::NoActionItemsBody icon=Icon::Siren />
                    }.into_any(),
                    Ok((rows, _)) => view! { <section class="card">{action_table(rows, status, del)}</section> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `/incident-reports`.
#[component]
pub fn IncidentReportsPage() -> impl IntoView {
    let query = use_query_map();
    let months =
        Memo::new(move |_| query.read().get("months").and_then(|m| m.parse().ok()).unwrap_or(6u32));
    let data = Resource::new(move || months.get(), incident_reports);
    view! {
        <Title text=t(Msg::IncReports) />
        <PageHeader title=Msg::IncidentsTitle />
        <IncidentTabs />
        <div class="toolbar">
            <span class="chips">
                {[3u32, 6, 12].into_iter().map(|m| view! {
                    <a class="chip" href=format!("/incident-reports?months={m}") aria-current=move || (months.get() == m).to_string()>{format!("{m}")}" "{t(Msg::Months)}</a>
                }).collect_view()}
            </span>
        </div>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(r) => {
                        let chart = |title: Msg, svg: Option<String>| view! {
                            <section class="card chart-card">
                                <h2>{t(title)}</h2>
                                {severity_legend()}
                                {match svg {
                                    Some(svg) => view! { <div class="chart" inner_html=svg></div> }.into_any(),
                                    None => view! { <p class="muted empty-inline">{t(Msg::NoIncidentsInRange)}</p> }.into_any(),
                                }}
                            </section>
                        };
                        view! {
                            <div class="charts">
                                {chart(Msg::IncidentCount, r.count_svg.clone())}
                                {chart(Msg::Mtta, r.mtta_svg.clone())}
                                {chart(Msg::Mttr, r.mttr_svg.clone())}
                            </div>
                            <section class="card">
                                <h2>{t(Msg::BySeverityAndMonth)}</h2>
                                <div class="table-wrap">
                                    <table class="table compact" data-testid="report-table">
                                        <thead>
                                            <tr><th rowspan="2">{t(Msg::Month)}</th>
                                                {["P0", "P1", "P2", "P3"].into_iter().map(|s| view! { <th colspan="3">{s}</th> }).collect_view()}</tr>
                                            <tr>{(0..4).map(|_| view! { <th>"#"</th><th>"MTTA"</th><th>"MTTR"</th> }).collect_view()}</tr>
                                        </thead>
                                        <tbody>
                                            {r.rows.into_iter().map(|row| view! {
                                                <tr><td class="nowrap">{row.month}</td>
                                                    {row.cells.into_iter().map(|(n, a, b)| view! { <td>{n}</td><td>{a}</td><td>{b}</td> }).collect_view()}
                                                </tr>
                                            }).collect_view()}
                                            <tr class="total"><td>{t(Msg::Total)}</td>
                                                {r.totals.into_iter().map(|(n, a, b)| view! { <td>{n}</td><td>{a}</td><td>{b}</td> }).collect_view()}
                                            </tr>
                                        </tbody>
                                    </table>
                                </div>
                                <p class="muted small">{t(Msg::MttaHint)}</p>
                            </section>
                            <section class="card">
                                <h2>{t(Msg::OverduePostmortems)}</h2>
                                {if r.overdue.is_empty() {
                                    view! { <p class="muted">{t(Msg::NoOverduePostmortems)}</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table compact" data-testid="overdue-postmortems">
                                            <thead><tr><th>"ID"</th><th>{t(Msg::Title)}</th><th>{t(Msg::Severity)}</th><th>{t(Msg::PostmortemDue)}</th><th>{t(Msg::Status)}</th></tr></thead>
                                            <tbody>
                                                {r.overdue.into_iter().map(|o| view! {
                                                    <tr><td><a href=format!("/incidents/{}/postmortem", o.code)>{o.code.clone()}</a></td>
                                                        <td>{o.title}</td><td>{sev_badge(o.severity)}</td><td>{o.due}</td><td>{o.status}</td></tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn severity_legend() -> impl IntoView {
    view! {
        <p class="legend small">
            {["P0", "P1", "P2", "P3"].iter().enumerate().map(|(i, s)| view! {
                <span class=format!("swatch sev-swatch-{i}")></span>{*s}" "
            }).collect_view()}
        </p>
    }
}
