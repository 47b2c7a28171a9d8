//! `/alerts` (what is firing now), `/alerts/rules` (the rules), `/alerts/rules/:id` (the
//! editor with its backtest preview; `new` for a new rule) and `/alerts/history`.

use super::form::{RuleForm, KINDS};
use super::server_fns::{
    active_alerts, alert_history, backtest_rule, delivery_log, export_rules, external_alerts,
    get_policy, get_rule, list_channels, list_rules, list_silences, BacktestView, CreateChannel,
    CreateSilence, DeleteChannel, DeleteRule, ExpireSilence, HistoryFilter, ImportRules, RuleEdit,
    SavePolicy, SaveRule, TestChannel,
};
use crate::components::error_box;
use crate::components::{EmptyState, FieldError, Icon, IfCan, PageHeader};
use crate::error::AppError;
use crate::features::oncall::pages::AckButton;
use crate::features::oncall::server_fns::policy_options;
use crate::features::technical::server_fns::probe_names;
use crate::i18n::{t, Msg};
use crate::session::use_me;
use domain::alerting::{CompareOp, KpiMetric, Severity};
use domain::probe::ProbeMetric;
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

#[component]
fn AlertTabs() -> impl IntoView {
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

fn sev_badge(sev: &str) -> impl IntoView {
    view! { <span class=format!("badge sev sev-{}", sev.to_lowercase())>{sev.to_owned()}</span> }
}

/// Alerts received from Alertmanager, beside Vigil's own (nothing when there are none).
#[component]
fn ExternalAlerts() -> impl IntoView {
    let rows = Resource::new(|| (), |_| external_alerts());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let rows = rows.await.unwrap_or_default();
                (!rows.is_empty()).then(|| view! {
                    <section class="card">
                        <h2>{t(Msg::FromAlertmanager)}</h2>
                        <div class="table-wrap">
                        <table class="table" data-testid="external-alerts">
                            <thead><tr>
                                <th>{t(Msg::Severity)}</th><th>{t(Msg::Rule)}</th><th>{t(Msg::Since)}</th><th>{t(Msg::Labels)}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|a| view! {
                                    <tr>
                                        <td>{(!a.severity.is_empty()).then(|| sev_badge(&a.severity))}</td>
                                        <td>
                                            {if a.link.is_empty() {
                                                view! { <span>{a.name.clone()}</span> }.into_any()
                                            } else {
                                                view! { <a href=a.link.clone() rel="noopener" target="_blank">{a.name.clone()}</a> }.into_any()
                                            }}
                                            " "<span class="badge badge-muted">{a.source.clone()}</span>
                                            <div class="muted small">{a.summary.clone()}</div>
                                        </td>
                                        <td class="nowrap">{a.since.clone()}</td>
                                        <td>{a.labels.iter().map(|(k, v)| view! { <code class="label">{format!("{k}={v}")}</code>" " }).collect_view()}</td>
                                        <td><OpenIncidentButton source="alertmanager" rule_id=None fingerprint=a.fingerprint.clone() /></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    </section>
                })
            })}
        </Transition>
    }
}

/// `/alerts`: instances pending or firing now.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let alerts = Resource::new(|| (), |_| active_alerts());
    view! {
        <Title text=t(Msg::AlertsTitle) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match alerts.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title=Msg::AlertsNoneFiring body=Msg::AlertsNoneFiringBody icon=Icon::Bell />
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap card">
                        <table class="table" data-testid="active-alerts">
                            <thead><tr>
                                <th>{t(Msg::Severity)}</th><th>{t(Msg::Status)}</th><th>{t(Msg::Rule)}</th>
                                <th>{t(Msg::Value)}</th><th>{t(Msg::Since)}</th><th>{t(Msg::Labels)}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|a| view! {
                                    <tr>
                                        <td>{sev_badge(&a.severity)}</td>
                                        <td>{if a.firing {
                                            view! { <span class="badge state-firing">{t(Msg::StateFiring)}</span> }.into_any()
                                        } else {
                                            view! { <span class="badge state-pending">{t(Msg::StatePending)}</span> }.into_any()
                                        }}</td>
                                        <td>
                                            <a href=format!("/alerts/rules/{}", a.rule_id)>{a.rule_name.clone()}</a>
                                            <div class="muted small">{a.summary.clone()}</div>
                                        </td>
                                        <td class="nowrap">{a.value.clone()}</td>
                                        <td class="nowrap">{a.since.clone()}</td>
                                        <td>{a.labels.iter().map(|(k, v)| view! { <code class="label">{format!("{k}={v}")}</code>" " }).collect_view()}</td>
                                        <td>{a.firing.then(|| view! { <OpenIncidentButton source="vigil" rule_id=Some(a.rule_id) fingerprint=a.fingerprint.clone() /> })}
                                            {a.escalation_id.map(|id| view! { " "<AckButton id=id on_done=Callback::new(move |_| alerts.refetch()) /> })}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        <ExternalAlerts />
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

/// Percent-encodes text for a `data:` URL.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~ :/=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

/// `/alerts/rules/:id` (`new` for a new rule).
#[component]
pub fn RuleEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let loaded = Resource::new(move || id.get(), get_rule);
    let names = Resource::new(|| (), |_| probe_names());
    view! {
        <Title text=t(Msg::RuleEditor) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let probes = names.await.unwrap_or_default();
                match loaded.await {
                    Ok(edit) => view! { <RuleEditor edit probes /> }.into_any(),
                    Err(e) => error_box(e),
                }
            })}
        </Suspense>
    }
}

/// A text input bound to one field of the form; it commits on `change` (blur or Enter),
/// which also refreshes the preview.
fn text_field(
    form: RwSignal<RuleForm>,
    name: &'static str,
    get: fn(&RuleForm) -> String,
    set: fn(&mut RuleForm, String),
) -> impl IntoView {
    view! {
        <input
            name=name
            id=format!("rule-{name}")
            prop:value=move || form.with(get)
            on:change=move |ev| {
                let v = event_target_value(&ev);
                form.update(|f| set(f, v));
            }
        />
    }
}

/// The probe query's inputs: which probe (or every probe), the statistic, its window and,
/// for burn rates, the short window.
fn probe_fields(
    form: RwSignal<RuleForm>,
    field: impl Fn(&'static str) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
    mut names: Vec<String>,
) -> impl IntoView {
    // A rule may name a probe that was renamed or deleted: keep it visible.
    let current = form.with_untracked(|f| f.probe.clone());
    if !current.is_empty() && !names.contains(&current) {
        names.push(current);
    }
    let stat = move || form.with(|f| f.probe_metric.clone());
    view! {
        <div class:hidden=move || form.with(|f| f.source != "probe")>
            <div class="form-row">
                <label>
                    <span>{t(Msg::Probe)}</span>
                    <select name="probe" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.probe = v); }>
                        <option value="" selected=move || form.with(|f| f.probe.is_empty())>{t(Msg::EveryProbe)}</option>
                        {names.into_iter().map(|n| {
                            let (v, label) = (n.clone(), n.clone());
                            view! { <option value=n selected=move || form.with(|f| f.probe == v)>{label}</option> }
                        }).collect_view()}
                    </select>
                    <FieldError error=field("probe") />
                </label>
                <label>
                    <span>{t(Msg::ProbeStatistic)}</span>
                    <select name="probe_metric" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.probe_metric = v); }>
                        {ProbeMetric::ALL.into_iter().map(|m| view! {
                            <option value=m.as_str() selected=move || form.with(|f| f.probe_metric == m.as_str())>{m.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || stat() == "up">
                    <span>{t(Msg::Window)}</span>
                    {text_field(form, "probe_window", |f| f.window.clone(), |f, v| f.window = v)}
                    <FieldError error=field("window") />
                </label>
                <label class:hidden=move || stat() != "burn_rate">
                    <span>{t(Msg::ShortWindow)}</span>
                    {text_field(form, "short_window", |f| f.short_window.clone(), |f, v| f.short_window = v)}
                    <FieldError error=field("short_window") />
                </label>
            </div>
            <p class="muted small">{t(Msg::ProbeRuleHint)}</p>
        </div>
    }
}

#[component]
fn RuleEditor(edit: RuleEdit, probes: Vec<String>) -> impl IntoView {
    let navigate = use_navigate();
    let form = RwSignal::new(edit.form.clone());
    let range = RwSignal::new("7d".to_owned());
    let id = edit.id;
    let version = edit.version;
    // The backtest runs in the browser only, after hydration: rendered on the server it
    // streamed out of order with the editor's other suspense boundaries and, now and then,
    // the browser hydrated a different tree (tachys' "unreachable" panic on
    // /alerts/rules/new). Server and first client render both show "Loading…".
    let preview = LocalResource::new(move || backtest_rule(form.get(), range.get()));
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    // Client-only like the backtest: the picker's options arrive after hydration.
    let policies = LocalResource::new(policy_options);
    let save = ServerAction::<SaveRule>::new();
    let delete = ServerAction::<DeleteRule>::new();
    let nav = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            nav("/alerts/rules", Default::default());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/alerts/rules", Default::default());
        }
    });
    let save_err = move || save.value().get().and_then(Result::err);
    // The preview's field errors, mirrored into a signal by an effect (browser only). The
    // inputs' error labels sit outside the preview's <Transition>: reading the resource
    // there made the page-level <Suspense> wait for it, and on the server its resolution
    // re-ran the page's view, which created a new preview, which… never finished streaming.
    let preview_errors = RwSignal::new(None::<AppError>);
    Effect::new(move |_| {
        let e = preview.get().and_then(Result::err);
        preview_errors.set(e);
    });
    let preview_err = move || preview_errors.get();
    let field = move |name: &'static str| {
        Signal::derive(move || {
            save_err()
                .and_then(|e| e.field(name))
                .or_else(|| preview_err().and_then(|e| e.field(name)))
        })
    };
    let kind = move || form.with(|f| f.kind.clone());
    let daily = move || form.with(|f| KpiMetric::parse(&f.metric).is_some_and(KpiMetric::is_daily));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveRule { id, version, form: form.get_untracked() });
    };
    let part0 = view! {
                <h2>{if id.is_some() { t(Msg::EditRule) } else { t(Msg::NewRule) }}</h2>
    }
    .into_any();
    let part1 = view! {
                {move || save_err().filter(|e| !matches!(e, AppError::Invalid(_))).map(error_box)}
    }
    .into_any();
    let part2 = view! {
                <label>
                    <span>{t(Msg::Name)}</span>
                    {text_field(form, "name", |f| f.name.clone(), |f, v| f.name = v)}
                    <FieldError error=field("name") />
                </label>
    }
    .into_any();
    let part3 = view! {
                <div class="form-row">
                    <label>
                        <span>{t(Msg::Severity)}</span>
                        <select name="severity" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.severity = v); }>
                            {Severity::ALL.into_iter().map(|s| view! {
                                <option value=s.as_str() selected=move || form.with(|f| f.severity == s.as_str())>{s.as_str()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>
                        <span>{t(Msg::Labels)}</span>
                        {text_field(form, "labels", |f| f.labels.clone(), |f, v| f.labels = v)}
                        <FieldError error=field("labels") />
                    </label>
                </div>
    }.into_any();
    let part4 = view! {
                <fieldset>
                    <legend>{t(Msg::Query)}</legend>
                    <div class="form-row">
                        <label>
                            <span>{t(Msg::Source)}</span>
                            <select name="source" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.source = v); }>
                                <option value="kpi" selected=move || form.with(|f| f.source == "kpi")>{t(Msg::SourceKpi)}</option>
                                <option value="probe" selected=move || form.with(|f| f.source == "probe")>{t(Msg::SourceProbe)}</option>
                                <option value="promql" selected=move || form.with(|f| f.source == "promql")>"PromQL (Prometheus)"</option>
                            </select>
                        </label>
                    </div>
                    {probe_fields(form, field, probes)}
                    <label class:hidden=move || form.with(|f| f.source != "promql")>
                        <span>"PromQL"</span>
                        <textarea name="expr" rows="3" class="code" spellcheck="false"
                            placeholder="avg by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) * 100"
                            prop:value=move || form.with(|f| f.expr.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.expr = v); }>
                        </textarea>
                        <span class="muted small">{t(Msg::PromqlHint)}</span>
                        <FieldError error=field("expr") />
                    </label>
                    <div class="form-row" class:hidden=move || form.with(|f| f.source != "kpi")>
                        <label>
                            <span>{t(Msg::Metric)}</span>
                            <select name="metric" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.metric = v); }>
                                {KpiMetric::ALL.into_iter().map(|m| view! {
                                    <option value=m.as_str() selected=move || form.with(|f| f.metric == m.as_str())>{m.as_str()}</option>
                                }).collect_view()}
                            </select>
                            <FieldError error=field("metric") />
                        </label>
                        <label class:hidden=daily>
                            <span>{t(Msg::Window)}</span>
                            {text_field(form, "window", |f| f.window.clone(), |f, v| f.window = v)}
                            <FieldError error=Signal::derive(move || if kind() == "z_score" { None } else { field("window").get() }) />
                        </label>
                    </div>
                    <p class="muted small" class:hidden=move || form.with(|f| f.source != "kpi")>{move || if daily() { t(Msg::DailyMetricHint)() } else { t(Msg::WindowMetricHint)() }}</p>
                </fieldset>
    }.into_any();
    let part5 = view! {
                <fieldset>
                    <legend>{t(Msg::Condition)}</legend>
                    <div class="form-row">
                        <label>
                            <span>{t(Msg::ConditionKind)}</span>
                            <FieldError error=field("kind") />
                            <select name="kind" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.kind = v); }>
                                {KINDS.into_iter().map(|k| view! {
                                    <option value=k selected=move || form.with(|f| f.kind == k)>{t(kind_msg(k))}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <Show when=move || kind() == "threshold">
                            <label>
                                <span>{t(Msg::Comparison)}</span>
                                <select name="op" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.op = v); }>
                                    {CompareOp::ALL.into_iter().map(|o| view! {
                                        <option value=o.symbol() selected=move || form.with(|f| f.op == o.symbol())>{o.symbol()}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>
                                <span>{t(Msg::Threshold)}</span>
                                {text_field(form, "threshold", |f| f.threshold.clone(), |f, v| f.threshold = v)}
                                <FieldError error=field("threshold") />
                            </label>
                        </Show>
                        <Show when=move || kind() == "drop_pct" || kind() == "rise_pct">
                            <label>
                                <span>{t(Msg::Percent)}</span>
                                {text_field(form, "pct", |f| f.pct.clone(), |f, v| f.pct = v)}
                                <FieldError error=field("pct") />
                            </label>
                        </Show>
                        <Show when=move || kind() == "no_data">
                            <label>
                                <span>{t(Msg::NoDataFor)}</span>
                                {text_field(form, "no_data_for", |f| f.no_data_for.clone(), |f, v| f.no_data_for = v)}
                                <FieldError error=field("for") />
                            </label>
                        </Show>
                        <Show when=move || kind() == "z_score">
                            <label>
                                <span>"k"</span>
                                {text_field(form, "k", |f| f.k.clone(), |f, v| f.k = v)}
                                <FieldError error=field("k") />
                            </label>
                            <label>
                                <span>{t(Msg::Samples)}</span>
                                {text_field(form, "z_window", |f| f.z_window.clone(), |f, v| f.z_window = v)}
                                <FieldError error=field("window") />
                            </label>
                        </Show>
                    </div>
                </fieldset>
    }.into_any();
    let part6 = view! {
                <div class="form-row">
                    <label>
                        <span>{t(Msg::Interval)}</span>
                        {text_field(form, "interval", |f| f.interval.clone(), |f, v| f.interval = v)}
                        <FieldError error=field("interval") />
                    </label>
                    <label>
                        <span>{t(Msg::ForDuration)}</span>
                        {text_field(form, "for", |f| f.for_.clone(), |f, v| f.for_ = v)}
                        <FieldError error=Signal::derive(move || if kind() == "no_data" { None } else { field("for").get() }) />
                    </label>
                    <label>
                        <span>{t(Msg::KeepFiringFor)}</span>
                        {text_field(form, "keep_firing_for", |f| f.keep_firing_for.clone(), |f, v| f.keep_firing_for = v)}
                        <FieldError error=field("keep_firing_for") />
                    </label>
                </div>
    }.into_any();
    let part7 = view! {
                <label>
                    <span>{t(Msg::Summary)}</span>
                    {text_field(form, "summary", |f| f.summary.clone(), |f, v| f.summary = v)}
                    <span class="muted small">{t(Msg::SummaryHint)}</span>
                    <FieldError error=field("summary") />
                </label>
    }
    .into_any();
    let part8 = view! {
                <label>
                    <span>{t(Msg::RunbookUrl)}</span>
                    {text_field(form, "runbook_url", |f| f.runbook_url.clone(), |f, v| f.runbook_url = v)}
                    <FieldError error=field("runbook_url") />
                </label>
    }.into_any();
    let part9 = view! {
                <label>
                    <span>{t(Msg::Description)}</span>
                    <textarea name="description" rows="3"
                        prop:value=move || form.with(|f| f.description.clone())
                        on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.description = v); }>
                    </textarea>
                    <FieldError error=field("description") />
                </label>
    }.into_any();
    let part10 = view! {
                <div class="form-row checks">
                    <label class="check">
                        <input type="checkbox" name="enabled" prop:checked=move || form.with(|f| f.enabled)
                            on:change=move |ev| { let v = event_target_checked(&ev); form.update(|f| f.enabled = v); } />
                        <span>{t(Msg::RuleEnabled)}</span>
                    </label>
                    <label class="check">
                        <input type="checkbox" name="open_incident" prop:checked=move || form.with(|f| f.open_incident)
                            on:change=move |ev| { let v = event_target_checked(&ev); form.update(|f| f.open_incident = v); } />
                        <span>{t(Msg::OpenIncident)}</span>
                    </label>
                </div>
                <label><span>{t(Msg::OncallRulePolicy)}</span>
                    <select name="escalation_policy" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.escalation_policy = v); }>
                        <option value="">{t(Msg::OncallRulePolicyNone)}</option>
                        {move || mounted.get().then(|| policies.get().and_then(Result::ok).map(|ps| ps.into_iter().map(|p| {
                            let v = p.id.to_string();
                            let sel = v.clone();
                            view! { <option value=v selected=move || form.with(|f| f.escalation_policy == sel)>{p.name}</option> }
                        }).collect_view()))}
                    </select>
                    <FieldError error=field("escalation_policy") />
                </label>
    }.into_any();
    let part11 = view! {
                <div class="form-actions">
                    <IfCan can=Permission::EditRules fallback=|| view! { <p class="muted">{t(Msg::ReadOnlyRule)}</p> }>
                        <button type="submit" class="btn btn-primary" disabled=save.pending() data-testid="save-rule">
                            {move || if save.pending().get() { t(Msg::Saving)() } else { t(Msg::Save)() }}
                        </button>
                        {id.map(|id| view! {
                            <button type="button" class="btn btn-danger"
                                on:click=move |_| { delete.dispatch(DeleteRule { id }); }>
                                {t(Msg::Delete)}
                            </button>
                        })}
                    </IfCan>
                    <a class="btn btn-ghost" href="/alerts/rules">{t(Msg::Cancel)}</a>
                </div>

    }.into_any();
    view! {
        <div class="editor-grid">
            <form class="card form rule-form" on:submit=on_submit data-testid="rule-form">
                {part0}
                {part1}
                {part2}
                {part3}
                {part4}
                {part5}
                {part6}
                {part7}
                {part8}
                {part9}
                {part10}
                {part11}
            </form>
            <section class="card preview" data-testid="backtest">
                <div class="preview-head">
                    <h2>{t(Msg::Backtest)}</h2>
                    <div class="chips">
                        {["24h", "7d", "30d"].into_iter().map(|r| view! {
                            <button type="button" class="chip" aria-pressed=move || (range.get() == r).to_string()
                                on:click=move |_| range.set(r.to_owned())>{r}</button>
                        }).collect_view()}
                    </div>
                </div>
                {move || if mounted.get() {
                    view! {
                        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                            {move || Suspend::new(async move {
                                match preview.await {
                                    Ok(b) => backtest_view(b),
                                    Err(AppError::Invalid(_)) => view! { <p class="muted">{t(Msg::FixFieldsForPreview)}</p> }.into_any(),
                                    Err(e) => error_box(e),
                                }
                            })}
                        </Transition>
                    }.into_any()
                } else {
                    view! { <p class="muted">{t(Msg::Loading)}</p> }.into_any()
                }}
            </section>
        </div>
    }
}

fn backtest_view(b: BacktestView) -> AnyView {
    view! {
        <div>
            <p class="backtest-summary" data-testid="backtest-summary">
                <strong data-testid="backtest-notifications">{b.notifications}</strong>" "{t(Msg::WouldNotify)}
                " · "{b.firing_spans}" "{t(Msg::FiringSpans)}
                " · "{b.pending_spans}" "{t(Msg::PendingSpans)}
                {b.last_value.map(|v| view! { " · "{t(Msg::LastValue)}": "<strong>{v}</strong> })}
            </p>
            {match b.svg {
                Some(svg) => view! { <div class="chart" inner_html=svg></div> }.into_any(),
                None => view! { <p class="muted empty-inline">{t(Msg::NoDataInRange)}</p> }.into_any(),
            }}
            <p class="legend muted small">
                <span class="swatch swatch-pending"></span>{t(Msg::StatePending)}" "
                <span class="swatch swatch-firing"></span>{t(Msg::StateFiring)}" "
                <span class="swatch swatch-threshold"></span>{t(Msg::Threshold)}
            </p>
            <p class="muted small">{t(Msg::BacktestHint)}</p>
        </div>
    }
    .into_any()
}

fn kind_msg(k: &str) -> Msg {
    match k {
        "threshold" => Msg::KindThreshold,
        "drop_pct" => Msg::KindDrop,
        "rise_pct" => Msg::KindRise,
        "no_data" => Msg::KindNoData,
        "present" => Msg::KindPresent,
        _ => Msg::KindZScore,
    }
}

/// `/alerts/history?rule=&severity=&state=&range=&before=`.
#[component]
pub fn AlertHistoryPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        HistoryFilter {
            rule: get("rule"),
            severity: get("severity"),
            state: get("state"),
            range: get("range"),
            before: get("before"),
        }
    });
    let rows = Resource::new(move || filter.get(), alert_history);
    let rules = Resource::new(|| (), |_| list_rules());
    let select = move |name: &'static str, options: Vec<(String, String)>| {
        view! {
            <select name=name>
                <option value="">{t(Msg::All)}</option>
                {options.into_iter().map(|(v, label)| {
                    let v2 = v.clone();
                    view! { <option value=v selected=move || {
                        let f = filter.get();
                        let cur = match name { "rule" => f.rule, "severity" => f.severity, "state" => f.state, _ => f.range };
                        cur == v2
                    }>{label}</option> }
                }).collect_view()}
            </select>
        }
    };
    view! {
        <Title text=t(Msg::AlertsHistory) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <form class="filters card" method="get" action="/alerts/history">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let opts = rules.await.unwrap_or_default().into_iter().map(|r| (r.id.to_string(), r.name)).collect();
                    view! { <label><span>{t(Msg::Rule)}</span>{select("rule", opts)}</label> }
                })}
            </Transition>
            <label><span>{t(Msg::Severity)}</span>{select("severity", Severity::ALL.iter().map(|s| (s.as_str().to_owned(), s.as_str().to_owned())).collect())}</label>
            <label><span>{t(Msg::Status)}</span>{select("state", ["firing", "pending", "resolved", "dropped"].iter().map(|s| ((*s).to_owned(), (*s).to_owned())).collect())}</label>
            <label><span>{t(Msg::Period)}</span>{select("range", ["24h", "7d", "30d"].iter().map(|s| ((*s).to_owned(), (*s).to_owned())).collect())}</label>
            <button type="submit" class="btn">{t(Msg::Filter)}</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline card">{t(Msg::NoHistory)}</p> }.into_any(),
                    Ok(rows) => {
                        let older = (rows.len() == 100).then(|| rows.last().map(|r| r.id)).flatten();
                        view! {
                            <div class="table-wrap card">
                            <table class="table" data-testid="history-table">
                                <thead><tr>
                                    <th>{t(Msg::When)}</th><th>{t(Msg::Severity)}</th><th>{t(Msg::Rule)}</th>
                                    <th>{t(Msg::Change)}</th><th>{t(Msg::Value)}</th><th>{t(Msg::Labels)}</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|h| view! {
                                        <tr>
                                            <td class="nowrap">{h.at.clone()}</td>
                                            <td>{sev_badge(&h.severity)}</td>
                                            <td>{match h.rule_id {
                                                Some(id) => view! { <a href=format!("/alerts/rules/{id}")>{h.rule_name.clone()}</a> }.into_any(),
                                                None => view! { <span>{h.rule_name.clone()}</span> }.into_any(),
                                            }}</td>
                                            <td class="nowrap">
                                                <span class=format!("state state-{}", h.from)>{h.from.clone()}</span>
                                                " → "
                                                <span class=format!("badge state-{}", h.to)>{h.to.clone()}</span>
                                            </td>
                                            <td class="nowrap">{h.value.clone()}</td>
                                            <td>{(!h.labels.is_empty()).then(|| view! { <code class="small">{h.labels.clone()}</code> })}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                            {older.map(|id| view! {
                                <a class="btn" href=move || {
                                    let f = filter.get();
                                    format!("/alerts/history?rule={}&severity={}&state={}&range={}&before={id}", f.rule, f.severity, f.state, f.range)
                                }>{t(Msg::OlderEntries)}</a>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// `/alerts/silences`: who silenced what, why, until when.
#[component]
pub fn SilencesPage() -> impl IntoView {
    let me = use_me();
    let create = ServerAction::<CreateSilence>::new();
    let expire = ServerAction::<ExpireSilence>::new();
    let silences = Resource::new(
        move || (create.version().get(), expire.version().get()),
        |_| list_silences(),
    );
    let err = move || create.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
    let list = view! {
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let can = matches!(me.await, Ok(Some(m)) if m.can(Permission::Silence));
                match silences.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline">{t(Msg::NoSilences)}</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap">
                        <table class="table" data-testid="silences-table">
                            <thead><tr>
                                <th>{t(Msg::Status)}</th><th>{t(Msg::Matchers)}</th><th>{t(Msg::From)}</th><th>{t(Msg::To)}</th>
                                <th>{t(Msg::Who)}</th><th>{t(Msg::Comment)}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|s| {
                                    let id = s.id;
                                    let live = s.state != "expired";
                                    view! {
                                        <tr class:row-disabled=!live>
                                            <td><span class=format!("badge silence-{}", s.state)>{s.state.clone()}</span></td>
                                            <td><code class="small">{s.matchers.clone()}</code></td>
                                            <td class="nowrap">{s.starts.clone()}</td>
                                            <td class="nowrap">{s.ends.clone()}</td>
                                            <td>{s.created_by.clone()}</td>
                                            <td>{s.comment.clone()}</td>
                                            <td>{(live && can).then(|| view! {
                                                <button type="button" class="btn btn-small"
                                                    on:click=move |_| { expire.dispatch(ExpireSilence { id }); }>
                                                    {t(Msg::Expire)}
                                                </button>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any();
    let form = view! {
        <IfCan can=Permission::Silence fallback=|| view! { <p class="muted">{t(Msg::SilenceNeedsResponder)}</p> }>
            <ActionForm action=create attr:class="form">
                <label>
                    <span>{t(Msg::Matchers)}</span>
                    <input name="matchers" required placeholder="alertname=\"DAU dropped more than 20%\", service=~\"chat|web\"" />
                    <FieldError error=field("matchers") />
                </label>
                <label>
                    <span>{t(Msg::Duration)}</span>
                    <input name="duration" required value="2h" />
                    <FieldError error=field("duration") />
                </label>
                <label>
                    <span>{t(Msg::Comment)}</span>
                    <input name="comment" required placeholder="Deploy of the chat service, ticket OPS-123" />
                    <FieldError error=field("comment") />
                </label>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=create.pending()>{t(Msg::CreateSilence)}</button>
                </div>
            </ActionForm>
        </IfCan>
    }
    .into_any();
    view! {
        <Title text=t(Msg::Silences) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <div class="admin-grid">
            <section class="card"><h2>{t(Msg::Silences)}</h2>{list}</section>
            <section class="card"><h2>{t(Msg::CreateSilence)}</h2>{form}</section>
        </div>
    }
}

/// `/alerts/notifications`: channels, the routing policy and the delivery log.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    let me = use_me();
    let create = ServerAction::<CreateChannel>::new();
    let delete = ServerAction::<DeleteChannel>::new();
    let test = ServerAction::<TestChannel>::new();
    let save_policy_action = ServerAction::<SavePolicy>::new();
    let channels = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_channels(),
    );
    let policy = Resource::new(move || save_policy_action.version().get(), |_| get_policy());
    let log = Resource::new(move || test.version().get(), |_| delivery_log(None));
    let err = move || create.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
    let policy_err = move || save_policy_action.value().get().and_then(Result::err);
    let channel_list = view! {
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                let is = move |p: Permission| me.as_ref().is_some_and(|m| m.can(p));
                match channels.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline">{t(Msg::NoChannels)}</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap">
                        <table class="table" data-testid="channels-table">
                            <thead><tr><th>{t(Msg::Name)}</th><th>{t(Msg::Kind)}</th><th>{t(Msg::Target)}</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|c| {
                                    let id = c.id;
                                    view! {
                                        <tr>
                                            <td>{c.name.clone()}</td>
                                            <td><code>{c.kind.clone()}</code>{c.signed.then(|| view! { " "<span class="badge badge-ok">{t(Msg::Signed)}</span> })}</td>
                                            <td class="muted">{c.host.clone()}</td>
                                            <td class="nowrap">
                                                {is(Permission::EditRouting).then(|| view! {
                                                    <button type="button" class="btn btn-small"
                                                        on:click=move |_| { test.dispatch(TestChannel { id }); }>
                                                        {t(Msg::SendTest)}
                                                    </button>
                                                })}
                                                {is(Permission::ManageChannels).then(|| view! {
                                                    " "<button type="button" class="btn btn-small btn-danger"
                                                        on:click=move |_| { delete.dispatch(DeleteChannel { id }); }>
                                                        {t(Msg::Delete)}
                                                    </button>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        {move || test.value().get().map(|r| match r {
            Ok(()) => view! { <p class="alert alert-ok" role="status" data-testid="test-result">{t(Msg::TestSent)}</p> }.into_any(),
            Err(e) => view! { <p class="alert alert-error" role="alert" data-testid="test-result">{e.field("channel").unwrap_or_else(|| e.to_string())}</p> }.into_any(),
        })}
    }
    .into_any();
    let channel_kind = RwSignal::new("feishu".to_owned());
    let is_email = move || channel_kind.with(|k| k == "email");
    let channel_form = view! {
        <IfCan can=Permission::ManageChannels fallback=|| view! { <p class="muted">{t(Msg::ChannelsNeedAdmin)}</p> }>
            <ActionForm action=create attr:class="form">
                <div class="form-row">
                    <label>
                        <span>{t(Msg::Name)}</span>
                        <input name="name" required placeholder="feishu-oncall" />
                        <FieldError error=field("name") />
                    </label>
                    <label>
                        <span>{t(Msg::Kind)}</span>
                        <select name="kind" on:change=move |ev| channel_kind.set(event_target_value(&ev))>
                            <option value="feishu">"Feishu / Lark"</option>
                            <option value="slack">"Slack"</option>
                            <option value="webhook">"Webhook (JSON)"</option>
                            <option value="email">{t(Msg::EmailSmtp)}</option>
                        </select>
                        <FieldError error=field("kind") />
                    </label>
                </div>
                <label>
                    <span>{move || if is_email() { t(Msg::SmtpUrl)() } else { t(Msg::WebhookUrl)() }}</span>
                    <input name="url" required
                        placeholder=move || if is_email() { "smtp://user:password@mail.example.com:587" } else { "https://open.feishu.cn/open-apis/bot/v2/hook/…" } />
                    <span class="muted small" class:hidden=move || !is_email()>{t(Msg::SmtpUrlHint)}</span>
                    <FieldError error=field("url") />
                </label>
                <div class="form-row" class:hidden=move || !is_email()>
                    <label>
                        <span>{t(Msg::EmailFrom)}</span>
                        <input name="from" placeholder="Vigil <vigil@example.com>" />
                        <FieldError error=field("from") />
                    </label>
                    <label>
                        <span>{t(Msg::EmailTo)}</span>
                        <input name="to" placeholder="oncall@example.com, sre@example.com" />
                        <FieldError error=field("to") />
                    </label>
                </div>
                <label class:hidden=is_email>
                    <span>{t(Msg::SigningSecret)}</span>
                    <input name="secret" type="password" autocomplete="off" />
                    <span class="muted small">{t(Msg::SigningSecretHint)}</span>
                    <FieldError error=field("secret") />
                </label>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=create.pending()>{t(Msg::AddChannel)}</button>
                </div>
            </ActionForm>
        </IfCan>
    }
    .into_any();
    let policy_view = view! {
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let editor = matches!(me.await, Ok(Some(m)) if m.can(Permission::EditRouting));
                match policy.await {
                    Err(e) => error_box(e),
                    Ok((doc, version)) => view! {
                        <ActionForm action=save_policy_action attr:class="form">
                            <input type="hidden" name="version" value=version.to_string() />
                            <textarea name="policy" rows="18" class="code" spellcheck="false" readonly=!editor>{doc}</textarea>
                            <FieldError error=Signal::derive(move || policy_err().and_then(|e| e.field("policy").or_else(|| e.field("route")).or_else(|| e.field("inhibit")))) />
                            {move || policy_err().filter(|e| matches!(e, AppError::Conflict(_))).map(error_box)}
                            <p class="muted small">{t(Msg::PolicyHint)}</p>
                            {editor.then(|| view! {
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary" disabled=save_policy_action.pending()>{t(Msg::Save)}</button>
                                    {move || matches!(save_policy_action.value().get(), Some(Ok(_))).then(|| view! { <span class="ok">{t(Msg::Saved)}</span> })}
                                </div>
                            })}
                        </ActionForm>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any();
    let log_view = view! {
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline">{t(Msg::NoDeliveries)}</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap">
                        <table class="table" data-testid="deliveries-table">
                            <thead><tr>
                                <th>{t(Msg::When)}</th><th>{t(Msg::Channel)}</th><th>{t(Msg::Severity)}</th><th>{t(Msg::Kind)}</th>
                                <th>{t(Msg::Status)}</th><th>{t(Msg::Attempts)}</th><th>{t(Msg::LastError)}</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|d| view! {
                                    <tr>
                                        <td class="nowrap">{d.created.clone()}</td>
                                        <td>{d.channel.clone()}</td>
                                        <td>{sev_badge(&d.severity)}</td>
                                        <td>{d.kind.clone()}</td>
                                        <td class="nowrap"><span class=format!("badge delivery-{}", d.status)>{d.status.clone()}</span>
                                            {d.next_attempt.clone().map(|n| view! { <div class="muted small">{t(Msg::NextAttempt)}" "{n}</div> })}
                                        </td>
                                        <td>{d.attempts}</td>
                                        <td class="small">{d.last_error.clone().unwrap_or_default()}</td>
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
    .into_any();
    view! {
        <Title text=t(Msg::Notifications) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <div class="admin-grid">
            <section class="card"><h2>{t(Msg::Channels)}</h2>{channel_list}</section>
            <section class="card"><h2>{t(Msg::AddChannel)}</h2>{channel_form}</section>
        </div>
        <section class="card"><h2>{t(Msg::RoutingPolicy)}</h2>{policy_view}</section>
        <section class="card"><h2>{t(Msg::DeliveryLog)}</h2>{log_view}</section>
    }
}
