//! `/technical` (probe cards: status, availability, latency, error budget, burn-rate
//! alerts, a 24-hour latency chart) and `/technical/probes/:id` (`new` for a new probe).

use super::form::ProbeForm;
use super::server_fns::{
    api_traffic, get_probe, technical_overview, BurnRow, DeleteProbe, ProbeCard, ProbeEdit,
    SaveProbe, TestProbe, TrafficView,
};
use crate::components::error_box;
use crate::components::{EmptyState, FieldError, Icon, IfCan, PageHeader};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::probe::METHODS;
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

/// `/technical`.
#[component]
pub fn TechnicalPage() -> impl IntoView {
    let cards = Resource::new(|| (), |_| technical_overview());
    let traffic = Resource::new(|| (), |_| api_traffic());
    view! {
        <Title text=t(Msg::TechnicalTitle) />
        <PageHeader title=Msg::TechnicalTitle subtitle=Msg::TechnicalSubtitle />
        <div class="toolbar">
            <IfCan can=Permission::EditProbes>
                <a class="btn btn-primary" href="/technical/probes/new" data-testid="new-probe">{t(Msg::NewProbe)}</a>
            </IfCan>
        </div>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match cards.await {
                    Err(e) => error_box(e),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title=Msg::ProbesEmpty body=Msg::ProbesEmptyBody icon=Icon::Chart />
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="probe-list" data-testid="probe-list">
                            {rows.into_iter().map(probe_card).collect_view()}
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match traffic.await {
                    Err(e) => error_box(e),
                    Ok(v) => traffic_panel(v),
                }
            })}
        </Transition>
    }
}

/// Real API traffic from Prometheus, per service, with "Alert on this" on each figure.
fn traffic_panel(v: TrafficView) -> AnyView {
    let alert = |key: &str| {
        v.queries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, q)| format!("/alerts/rules/new?expr={}", crate::components::urlencode(q)))
    };
    let head = |msg: Msg, key: &'static str| {
        let href = alert(key);
        view! {
            <th>
                {t(msg)}
                {href.map(|h| view! {
                    <IfCan can=Permission::EditRules>
                        " "<a class="muted small" href=h.clone() data-testid=format!("traffic-alert-{key}") title=t(Msg::AlertOnThis)>"⚑"</a>
                    </IfCan>
                })}
            </th>
        }
    };
    view! {
        <section class="card traffic" data-testid="traffic">
            <h2>{t(Msg::TrafficTitle)}</h2>
            {if !v.configured {
                view! { <p class="muted">{t(Msg::TrafficNotConfigured)}</p> }.into_any()
            } else if let Some(e) = v.error.clone() {
                view! { <p class="alert alert-error" role="alert">{e}</p> }.into_any()
            } else if v.rows.is_empty() {
                view! { <p class="muted">{t(Msg::TrafficEmpty)}" "<code>{v.metrics.clone()}</code></p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="traffic-table">
                            <thead><tr>
                                <th>{t(Msg::Service)}</th>
                                {head(Msg::RequestRate, "rate")}
                                {head(Msg::ErrorRate, "error_rate")}
                                {head(Msg::P50, "p50")}
                                {head(Msg::P95, "p95")}
                                {head(Msg::P99, "p99")}
                            </tr></thead>
                            <tbody>
                                {v.rows.clone().into_iter().map(|(s, r, e, p50, p95, p99)| view! {
                                    <tr><td><code>{s}</code></td><td>{r}</td><td>{e}</td><td>{p50}</td><td>{p95}</td><td>{p99}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <p class="muted small">{t(Msg::TrafficHint)}" "<code>{v.metrics.clone()}</code></p>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

fn status_badge(c: &ProbeCard) -> AnyView {
    match (c.enabled, c.up) {
        (false, _) => view! { <span class="badge badge-muted">{t(Msg::Disabled)}</span> }.into_any(),
        (true, Some(true)) => view! { <span class="badge state-ok" data-testid="probe-up">{t(Msg::ProbeUp)}</span> }.into_any(),
        (true, Some(false)) => view! { <span class="badge state-firing" data-testid="probe-down">{t(Msg::ProbeDown)}</span> }.into_any(),
        (true, None) => view! { <span class="badge badge-muted">{t(Msg::NotCheckedYet)}</span> }.into_any(),
    }
}

fn budget_bar(left: Option<f64>, text: String) -> AnyView {
    let Some(left) = left else {
        return view! { <div class="stat-value">"—"</div> }.into_any();
    };
    let pct = (left * 100.0).clamp(0.0, 100.0);
    let class = if left <= 0.0 {
        "budget-bar over"
    } else if left < 0.25 {
        "budget-bar low"
    } else {
        "budget-bar"
    };
    view! {
        <div class="stat-value" data-testid="budget-left">{format!("{:.1}%", left * 100.0)}</div>
        <div class=class role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{pct:.0}")>
            <span style=format!("width:{pct:.1}%")></span>
        </div>
        <div class="muted small">{text}</div>
    }
    .into_any()
}

fn burn_table(burns: Vec<BurnRow>) -> AnyView {
    view! {
        <table class="table compact burn-table">
            <thead><tr>
                <th>{t(Msg::BurnAlert)}</th><th>{t(Msg::LongRate)}</th><th>{t(Msg::ShortRate)}</th><th>{t(Msg::Status)}</th>
            </tr></thead>
            <tbody>
                {burns.into_iter().map(|b| view! {
                    <tr>
                        <td>{b.label}" "
                            <span class="badge badge-muted">{if b.page { t(Msg::PageAlert) } else { t(Msg::TicketAlert) }}</span>
                        </td>
                        <td class="nowrap">{b.long}</td>
                        <td class="nowrap">{b.short}</td>
                        <td>{if b.firing {
                            view! { <span class="badge state-firing">{t(Msg::StateFiring)}</span> }.into_any()
                        } else {
                            view! { <span class="badge state-ok">{t(Msg::StateOk)}</span> }.into_any()
                        }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn probe_card(c: ProbeCard) -> impl IntoView {
    let badge = status_badge(&c);
    let head = view! {
        <div class="probe-head">
            <h2><a href=format!("/technical/probes/{}", c.id)>{c.name.clone()}</a></h2>
            {badge}
            <code class="small muted">{format!("{} {}", c.method, c.url)}</code>
            <span class="muted small">{format!("· {}", c.interval)}</span>
        </div>
        <p class="muted small">
            {t(Msg::LastCheck)}": "
            {c.last_at.clone().unwrap_or_else(|| "—".into())}
            {c.last_status.clone().map(|s| format!(" · {s}"))}
            {c.last_error.clone().map(|e| view! { " · "<span class="field-error inline">{e}</span> })}
        </p>
    }
    .into_any();
    let stats = view! {
        <div class="stat-grid">
            <div class="stat"><div class="stat-label">{t(Msg::Availability24h)}</div><div class="stat-value">{c.availability_24h.clone()}</div></div>
            <div class="stat"><div class="stat-label">{t(Msg::Availability30d)}</div><div class="stat-value">{c.availability_30d.clone()}</div></div>
            <div class="stat"><div class="stat-label">{t(Msg::LatencyPercentiles)}</div>
                <div class="stat-value">{c.latency.clone()}</div></div>
            <div class="stat"><div class="stat-label">{t(Msg::ErrorRate1h)}</div><div class="stat-value">{c.error_rate_1h.clone()}</div></div>
            <div class="stat"><div class="stat-label">{t(Msg::Downtime24h)}</div><div class="stat-value">{c.downtime_24h.clone()}</div></div>
            <div class="stat"><div class="stat-label">{t(Msg::ErrorBudget)}</div>{budget_bar(c.budget_left, c.budget_text.clone())}</div>
        </div>
    }
    .into_any();
    let lower = view! {
        <div class="probe-lower">
            <div>
                <h3>{t(Msg::LatencyChart)}</h3>
                {match c.svg.clone() {
                    Some(svg) => view! { <div class="chart" inner_html=svg></div> }.into_any(),
                    None => view! { <p class="muted empty-inline">{t(Msg::NoDataInRange)}</p> }.into_any(),
                }}
            </div>
            <div>
                <h3>{t(Msg::BurnRates)}</h3>
                {burn_table(c.burns.clone())}
            </div>
        </div>
    }
    .into_any();
    view! {
        <section class="card probe-card" data-testid="probe-card">
            {head}
            {stats}
            {lower}
        </section>
    }
}

/// `/technical/probes/:id` (`new` for a new probe).
#[component]
pub fn ProbeEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    let loaded = Resource::new(move || id.get(), get_probe);
    view! {
        <Title text=t(Msg::EditProbe) />
        <PageHeader title=Msg::TechnicalTitle subtitle=Msg::TechnicalSubtitle />
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(edit) => view! { <ProbeEditor edit /> }.into_any(),
                    Err(e) => error_box(e),
                }
            })}
        </Suspense>
    }
}

fn input(
    form: RwSignal<ProbeForm>,
    name: &'static str,
    get: fn(&ProbeForm) -> String,
    set: fn(&mut ProbeForm, String),
) -> impl IntoView {
    view! {
        <input
            name=name
            id=format!("probe-{name}")
            prop:value=move || form.with(get)
            on:input=move |ev| {
                let v = event_target_value(&ev);
                form.update(|f| set(f, v));
            }
        />
    }
}

#[component]
fn ProbeEditor(edit: ProbeEdit) -> impl IntoView {
    let navigate = use_navigate();
    let form = RwSignal::new(edit.form.clone());
    let (id, version) = (edit.id, edit.version);
    let save = ServerAction::<SaveProbe>::new();
    let delete = ServerAction::<DeleteProbe>::new();
    let test = ServerAction::<TestProbe>::new();
    let nav = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            nav("/technical", Default::default());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/technical", Default::default());
        }
    });
    let field = move |name: &'static str| {
        Signal::derive(move || {
            save.value()
                .get()
                .and_then(Result::err)
                .or_else(|| test.value().get().and_then(Result::err))
                .and_then(|e| e.field(name))
        })
    };
    let other_err = move || {
        save.value().get().and_then(Result::err).filter(|e| !matches!(e, AppError::Invalid(_)))
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveProbe { id, version, form: form.get_untracked() });
    };
    let top = view! {
        <h2>{if id.is_some() { t(Msg::EditProbe) } else { t(Msg::NewProbe) }}</h2>
        {move || other_err().map(error_box)}
        <div class="form-row">
            <label>
                <span>{t(Msg::Name)}</span>
                {input(form, "name", |f| f.name.clone(), |f, v| f.name = v)}
                <FieldError error=field("name") />
            </label>
            <label>
                <span>{t(Msg::Labels)}</span>
                {input(form, "labels", |f| f.labels.clone(), |f, v| f.labels = v)}
                <FieldError error=field("labels") />
            </label>
        </div>
        <div class="form-row">
            <label class="narrow">
                <span>{t(Msg::Method)}</span>
                <select name="method" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.method = v); }>
                    {METHODS.into_iter().map(|m| view! {
                        <option value=m selected=move || form.with(|f| f.method == m)>{m}</option>
                    }).collect_view()}
                </select>
                <FieldError error=field("method") />
            </label>
            <label class="grow">
                <span>{t(Msg::Url)}</span>
                {input(form, "url", |f| f.url.clone(), |f, v| f.url = v)}
                <FieldError error=field("url") />
            </label>
        </div>
    }
    .into_any();
    let mid = view! {
        <div class="form-row">
            <label>
                <span>{t(Msg::CheckEvery)}</span>
                {input(form, "interval", |f| f.interval.clone(), |f, v| f.interval = v)}
                <FieldError error=field("interval") />
            </label>
            <label>
                <span>{t(Msg::Timeout)}</span>
                {input(form, "timeout", |f| f.timeout.clone(), |f, v| f.timeout = v)}
                <FieldError error=field("timeout") />
            </label>
            <label>
                <span>{t(Msg::ExpectedStatus)}</span>
                {input(form, "expected_status", |f| f.expected_status.clone(), |f, v| f.expected_status = v)}
                <span class="muted small">{t(Msg::ExpectedStatusHint)}</span>
                <FieldError error=field("expected_status") />
            </label>
        </div>
        <label class="check">
            <input type="checkbox" name="enabled" prop:checked=move || form.with(|f| f.enabled)
                on:change=move |ev| { let v = event_target_checked(&ev); form.update(|f| f.enabled = v); } />
            <span>{t(Msg::ProbeEnabled)}</span>
        </label>
    }
    .into_any();
    let actions = view! {
        <div class="form-actions">
            <IfCan can=Permission::EditProbes fallback=|| view! { <p class="muted">{t(Msg::ReadOnlyProbe)}</p> }>
                <button type="submit" class="btn btn-primary" disabled=save.pending() data-testid="save-probe">
                    {move || if save.pending().get() { t(Msg::Saving)() } else { t(Msg::Save)() }}
                </button>
                <button type="button" class="btn" disabled=test.pending() data-testid="test-probe"
                    on:click=move |_| { test.dispatch(TestProbe { form: form.get_untracked() }); }>
                    {move || if test.pending().get() { t(Msg::Testing)() } else { t(Msg::TestNow)() }}
                </button>
                {id.map(|id| view! {
                    <button type="button" class="btn btn-danger"
                        on:click=move |_| { delete.dispatch(DeleteProbe { id }); }>
                        {t(Msg::Delete)}
                    </button>
                })}
            </IfCan>
            <a class="btn btn-ghost" href="/technical">{t(Msg::Cancel)}</a>
        </div>
        {move || test.value().get().map(|r| match r {
            Ok((ok, text)) => view! {
                <p class=if ok { "alert alert-ok" } else { "alert alert-error" } role="status" data-testid="probe-test-result">{text}</p>
            }.into_any(),
            Err(AppError::Invalid(_)) => ().into_any(),
            Err(e) => error_box(e),
        })}
    }
    .into_any();
    view! {
        <form class="card form probe-form" on:submit=on_submit data-testid="probe-form">
            {top}
            {mid}
            {actions}
        </form>
    }
}
