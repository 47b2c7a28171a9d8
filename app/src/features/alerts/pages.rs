//! `/alerts` (what is firing now), `/alerts/rules` (the rules), `/alerts/rules/:id` (the
//! editor with its backtest preview; `new` for a new rule) and `/alerts/history`.

use super::server_fns::{
    export_rules, firing_now, list_rules, AckAlert, FiringRow, ImportRules, UnackAlert,
};
use crate::components::error_box;
use crate::components::urlencode;
use crate::components::{EmptyState, Icon, IfCan, PageHeader};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use crate::session::use_me;
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub(super) fn AlertTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Alerting">
            <A href="/alerts" exact=true>{t(Msg::AlertsActive)}</A>
            <A href="/alerts/rules">{t(Msg::AlertsRules)}</A>
            <A href="/alerts/history">{t(Msg::AlertsHistory)}</A>
            <A href="/alerts/silences">{t(Msg::Silences)}</A>
            <A href="/alerts/notifications">{t(Msg::Notifications)}</A>
        </nav>
    }
}

use crate::features::incidents::pages::OpenIncidentButton;

pub fn sev_badge(sev: &str) -> impl IntoView {
    view! { <span class=format!("badge sev sev-{}", sev.to_lowercase())>{sev.to_owned()}</span> }
}

/// `/alerts`: every alert firing or pending now, from every source (Vigil's rules and
/// probes, Alertmanager), with who was paged or acknowledged, and the actions on it:
/// acknowledge, silence (the form starts from the alert's labels), declare an incident.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let alerts = Resource::new(|| (), |_| firing_now());
    let refresh = Callback::new(move |_| alerts.refetch());
    view! {
        <Title text=t(Msg::AlertsTitle) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match alerts.await {
                    Err(e) => error_box(e),
                    Ok(list) if list.rows.is_empty() => view! {
                        <EmptyState title=Msg::AlertsNoneFiring body=Msg::AlertsNoneFiringBody icon=Icon::Bell />
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap card">
                        <table class="table" data-testid="active-alerts">
                            <thead><tr>
                                <th>{t(Msg::Severity)}</th><th>{t(Msg::Status)}</th><th>{t(Msg::Rule)}</th>
                                <th>{t(Msg::Value)}</th><th>{t(Msg::Since)}</th><th>{t(Msg::Labels)}</th>
                                <th>{t(Msg::Response)}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.rows.into_iter().map(|a| firing_row(a, refresh)).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Acknowledge a firing alert, or take the acknowledgement back (responders).
#[component]
fn AckToggle(key: String, undo: bool, on_done: Callback<()>) -> impl IntoView {
    let ack = ServerAction::<AckAlert>::new();
    let unack = ServerAction::<UnackAlert>::new();
    Effect::new(move |_| {
        if matches!(ack.value().get(), Some(Ok(_))) || matches!(unack.value().get(), Some(Ok(_))) {
            on_done.run(());
        }
    });
    let key = StoredValue::new(key);
    let error = move || ack.value().get().or_else(|| unack.value().get()).and_then(Result::err);
    let pending = move || if undo { unack.pending().get() } else { ack.pending().get() };
    let (label, testid, class) = if undo {
        (Msg::Undo, "unack", "btn btn-ghost btn-small")
    } else {
        (Msg::OncallAck, "ack", "btn btn-primary btn-small")
    };
    let click = move |_| {
        let episode_key = key.get_value();
        if undo {
            unack.dispatch(UnackAlert { episode_key });
        } else {
            ack.dispatch(AckAlert { episode_key });
        }
    };
    view! {
        <IfCan can=Permission::Acknowledge>
            <button type="button" class=class data-testid=testid disabled=pending on:click=click>{t(label)}</button>
            {move || error().map(error_box)}
        </IfCan>
    }
}

fn firing_row(a: FiringRow, refresh: Callback<()>) -> impl IntoView {
    let state = if a.firing {
        view! { <span class="badge state-firing">{t(Msg::StateFiring)}</span> }.into_any()
    } else {
        view! { <span class="badge state-pending">{t(Msg::StatePending)}</span> }.into_any()
    };
    let name = match (a.rule_id, a.link.clone()) {
        (Some(id), _) => {
            view! { <a href=format!("/alerts/rules/{id}")>{a.name.clone()}</a> }.into_any()
        }
        (None, Some(link)) => {
            view! { <a href=link rel="noopener noreferrer" target="_blank">{a.name.clone()}</a> }
                .into_any()
        }
        (None, None) => view! { <span>{a.name.clone()}</span> }.into_any(),
    };
    let response = match a.acked_by.clone() {
        Some(by) => view! {
            <span class="badge badge-muted" data-testid="acked">{t(Msg::OncallAcknowledged)}</span>" "
            <span class="muted small">{by}</span>" "
            <AckToggle key=a.episode_key.clone() undo=true on_done=refresh />
        }.into_any(),
        None if a.firing => view! {
            {a.escalation_id.map(|_| view! { <span class="badge state-firing">{t(Msg::Paging)}</span>" " })}
            <AckToggle key=a.episode_key.clone() undo=false on_done=refresh />
        }.into_any(),
        None => view! { <span class="muted small">{t(Msg::NotPaged)}</span> }.into_any(),
    };
    let source = if a.rule_id.is_some() { "vigil" } else { "alertmanager" };
    let silence = format!("/alerts/silences?matchers={}", urlencode(&a.silence_matchers));
    view! {
        <tr data-testid="firing-row">
            <td>{sev_badge(&a.severity)}</td>
            <td>{state}</td>
            <td>
                {name}" "{(a.rule_id.is_none()).then(|| view! { <span class="badge badge-muted">{a.source.clone()}</span> })}
                <div class="muted small">{a.summary.clone()}</div>
            </td>
            <td class="nowrap">{a.value.clone()}</td>
            <td class="nowrap">{a.since.clone()}</td>
            <td>{a.labels.iter().map(|(k, v)| view! { <code class="label">{format!("{k}={v}")}</code>" " }).collect_view()}</td>
            <td>{response}</td>
            <td class="actions">
                {a.firing.then(|| view! { <OpenIncidentButton source=source rule_id=a.rule_id fingerprint=a.fingerprint.clone() /> })}
                <IfCan can=Permission::Silence>
                    " "<a class="btn btn-small" data-testid="silence-alert" href=silence.clone()>{t(Msg::SilenceAlert)}</a>
                </IfCan>
            </td>
        </tr>
    }
}

/// Prometheus rule-file export (everyone) and import (editors), as the CLI does.
#[component]
fn RuleFileTools() -> impl IntoView {
    let open = RwSignal::new(None::<&'static str>);
    let exported = Resource::new(
        move || open.get() == Some("export"),
        |show| async move {
            if show {
                export_rules().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    let import = ServerAction::<ImportRules>::new();
    let yaml = RwSignal::new(String::new());
    let toggle = move |which: &'static str| {
        open.update(|o| *o = if *o == Some(which) { None } else { Some(which) })
    };
    let export_panel = view! {
        <Show when=move || open.get() == Some("export")>
            <section class="card rulefile-panel" data-testid="export-panel">
                <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {move || Suspend::new(async move {
                        match exported.await {
                            Ok(Some(text)) => {
                                let href = format!("data:text/yaml;charset=utf-8,{}", urlencode(&text));
                                view! {
                                    <p class="muted small">{t(Msg::ExportHint)}</p>
                                    <textarea class="code" rows="12" readonly>{text}</textarea>
                                    <a class="btn" href=href download="vigil-rules.yaml">{t(Msg::Download)}</a>
                                }.into_any()
                            }
                            Ok(None) => ().into_any(),
                            Err(e) => error_box(e),
                        }
                    })}
                </Transition>
            </section>
        </Show>
    };
    let import_panel = view! {
        <Show when=move || open.get() == Some("import")>
            <form class="card form rulefile-panel" data-testid="import-panel"
                on:submit=move |ev| {
                    ev.prevent_default();
                    import.dispatch(ImportRules { yaml: yaml.get_untracked() });
                }>
                <p class="muted small">{t(Msg::ImportHint)}</p>
                <textarea class="code" rows="12" name="yaml" spellcheck="false"
                    placeholder="groups:\n  - name: node\n    rules:\n      - alert: HighCPU\n        expr: …"
                    prop:value=move || yaml.get()
                    on:input=move |ev| yaml.set(event_target_value(&ev))></textarea>
                {move || import.value().get().map(|r| match r {
                    Ok((c, u, k)) => view! {
                        <p class="alert alert-ok" role="status" data-testid="import-result">
                            {format!("{c} created · {u} updated · {k} recording rules skipped")}
                        </p>
                    }.into_any(),
                    Err(AppError::Invalid(errs)) => view! {
                        <ul class="alert alert-error" role="alert">
                            {errs.0.into_iter().map(|e| view! { <li><code>{e.field}</code>" "{e.message}</li> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => error_box(e),
                })}
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=import.pending()>{t(Msg::Import)}</button>
                </div>
            </form>
        </Show>
    };
    view! {
        <button type="button" class="btn" on:click=move |_| toggle("export") data-testid="export-rules">{t(Msg::ExportYaml)}</button>
        <IfCan can=Permission::EditRules>
            <button type="button" class="btn" on:click=move |_| toggle("import") data-testid="import-rules">{t(Msg::ImportYaml)}</button>
        </IfCan>
        {export_panel}
        {import_panel}
    }
}

/// `/alerts/rules`.
#[component]
pub fn RulesPage() -> impl IntoView {
    let me = use_me();
    let rules = Resource::new(|| (), |_| list_rules());
    view! {
        <Title text=t(Msg::AlertsRules) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <div class="toolbar">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(me.await, Ok(Some(m)) if m.can(Permission::EditRules)).then(|| view! {
                        <a class="btn btn-primary" href="/alerts/rules/new" data-testid="new-rule">{t(Msg::NewRule)}</a>
                    })
                })}
            </Transition>
            <RuleFileTools />
        </div>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title=Msg::AlertsEmpty body=Msg::AlertsEmptyBody icon=Icon::Bell />
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap card">
                        <table class="table" data-testid="rules-table">
                            <thead><tr>
                                <th>{t(Msg::Severity)}</th><th>{t(Msg::Rule)}</th><th>{t(Msg::Condition)}</th>
                                <th>{t(Msg::Status)}</th><th>{t(Msg::LastValue)}</th><th>{t(Msg::LastEvaluated)}</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr class:row-disabled=!r.enabled>
                                        <td>{sev_badge(&r.severity)}</td>
                                        <td><a href=format!("/alerts/rules/{}", r.id)>{r.name.clone()}</a></td>
                                        <td><code class="small">{r.condition.clone()}</code></td>
                                        <td class="nowrap">{
                                            if !r.enabled {
                                                view! { <span class="badge badge-muted">{t(Msg::Disabled)}</span> }.into_any()
                                            } else if r.firing > 0 {
                                                view! { <span class="badge state-firing">{t(Msg::StateFiring)}</span> }.into_any()
                                            } else if r.pending > 0 {
                                                view! { <span class="badge state-pending">{t(Msg::StatePending)}</span> }.into_any()
                                            } else {
                                                view! { <span class="badge state-ok">{t(Msg::StateOk)}</span> }.into_any()
                                            }
                                        }
                                        {r.last_error.clone().map(|e| view! { <div class="field-error">{e}</div> })}
                                        </td>
                                        <td class="nowrap">{r.last_value.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td class="nowrap muted">{r.last_eval.clone().unwrap_or_else(|| t(Msg::Never)().to_owned())}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
