//! What happened: the alert history, silences and the notification log.

use super::pages::{sev_badge, AlertTabs};
use super::reminders::ScheduleCard;
use super::routing::RoutingEditor;
use super::server_fns::{
    alert_history, delivery_log, list_channels, list_rules, list_silences, CreateChannel,
    CreateSilence, DeleteChannel, ExpireSilence, HistoryFilter, TestChannel,
};
use crate::components::error_box;
use crate::components::{FieldError, IfCan, PageHeader};
use crate::i18n::{t, Msg};
use crate::session::use_me;
use domain::alerting::Severity;
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

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
    // "Silence" on a firing alert opens this page with the alert's matchers.
    let query = use_query_map();
    let prefill = Signal::derive(move || query.read().get("matchers").unwrap_or_default());
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
                    <input name="matchers" required value=prefill placeholder="alertname=\"DAU dropped more than 20%\", service=~\"chat|web\"" />
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
    let channels = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_channels(),
    );
    let log = Resource::new(move || test.version().get(), |_| delivery_log(None));
    let err = move || create.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
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
        <section class="card" id="routing"><h2>{t(Msg::RoutingPolicy)}</h2>
            <RoutingEditor />
        </section>
        <section class="card" id="schedule"><h2>{t(Msg::ScheduleTitle)}</h2><ScheduleCard /></section>
        <section class="card"><h2>{t(Msg::DeliveryLog)}</h2>{log_view}</section>
    }
}
