//! The rule editor: the form by query kind and condition, with a backtest of the last days.

use super::form::{RuleForm, KINDS};
use super::pages::AlertTabs;
use super::server_fns::{backtest_rule, get_rule, BacktestView, DeleteRule, RuleEdit, SaveRule};
use crate::components::error_box;
use crate::components::{FieldError, IfCan, PageHeader};
use crate::error::AppError;
use crate::features::oncall::server_fns::policy_options;
use crate::features::technical::server_fns::probe_names;
use crate::i18n::{t, Msg};
use domain::alerting::{CompareOp, KpiMetric, Severity};
use domain::probe::ProbeMetric;
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

/// `/alerts/rules/:id` (`new` for a new rule).
#[component]
pub fn RuleEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let loaded = Resource::new(move || id.get(), get_rule);
    let names = Resource::new(|| (), |_| probe_names());
    // "Alert on this" from a dashboard card: `?metric=…&segment=…` prefills a new rule.
    let query = use_query_map();
    view! {
        <Title text=t(Msg::RuleEditor) />
        <PageHeader title=Msg::AlertsTitle />
        <AlertTabs />
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let probes = names.await.unwrap_or_default();
                match loaded.await {
                    Ok(mut edit) => {
                        if edit.id.is_none() {
                            query.with_untracked(|q| {
                                prefill(&mut edit.form, q.get("metric"), q.get("segment"), q.get("expr"))
                            });
                        }
                        view! { <RuleEditor edit probes /> }.into_any()
                    }
                    Err(e) => error_box(e),
                }
            })}
        </Suspense>
    }
}

/// A new rule from a link: a PromQL `expr`, or `metric` (a dashboard card's key or a
/// metric's name; daily ones checked hourly) with its `segment`; unknown keys leave the
/// form as it is.
fn prefill(
    f: &mut RuleForm,
    metric: Option<String>,
    segment: Option<String>,
    expr: Option<String>,
) {
    // From the Technical page's traffic panel: a PromQL rule.
    if let Some(expr) = expr.filter(|e| !e.trim().is_empty()) {
        f.source = "promql".into();
        f.expr = expr;
        return;
    }
    let Some(m) = metric.as_deref().and_then(KpiMetric::for_card) else { return };
    f.source = "kpi".into();
    f.metric = m.as_str().into();
    f.segment = segment.unwrap_or_default();
    if m.is_daily() {
        f.interval = "1h".into();
        f.for_ = "0".into();
    }
    f.summary = "{{ $labels.alertname }}: {{ $value }} (threshold {{ $threshold }})".into();
}

/// The metric picker's label of a metric: its dashboard card's name.
fn metric_label(m: KpiMetric) -> impl Fn() -> String + Send + Sync + 'static {
    let key = m.card_key();
    let locale = crate::i18n::use_locale();
    move || {
        let name = crate::i18n::key_msg(key).map_or(key, |msg| msg.text(locale.get()));
        format!("{name} ({})", m.as_str())
    }
}

/// The picker's groups: the dashboards the metrics are on.
const METRIC_GROUPS: [(Msg, std::ops::Range<usize>); 3] =
    [(Msg::TabUser, 0..10), (Msg::TabProduct, 10..21), (Msg::TabBusiness, 21..31)];

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
                                {METRIC_GROUPS.into_iter().map(|(group, range)| view! {
                                    <optgroup label=t(group)>
                                        {KpiMetric::ALL[range].iter().copied().map(|m| view! {
                                            <option value=m.as_str() selected=move || form.with(|f| f.metric == m.as_str())>{metric_label(m)}</option>
                                        }).collect_view()}
                                    </optgroup>
                                }).collect_view()}
                            </select>
                            <FieldError error=field("metric") />
                        </label>
                        <label class:hidden=move || form.with(|f| KpiMetric::parse(&f.metric).and_then(KpiMetric::segment).is_none())>
                            <span>{move || if form.with(|f| f.metric == "funnel_conversion") { t(Msg::FunnelSteps)() } else { t(Msg::Feature)() }}</span>
                            {text_field(form, "segment", |f| f.segment.clone(), |f, v| f.segment = v)}
                            <FieldError error=field("segment") />
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
