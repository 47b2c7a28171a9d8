//! `/changes`: the change log with filters in the URL, and a form for responders.

use super::server_fns::{list_changes, ChangeRow, RecordChange};
use crate::components::{error_box, urlencode, FieldError, IfCan, PageHeader};
use crate::features::incidents::pages::IncidentTabs;
use crate::i18n::{t, Msg};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

/// `42m`, `3h 05m`, `2d 4h`.
pub fn span_text(ms: i64) -> String {
    let m = ms.abs() / 60_000;
    match (m / 1440, (m / 60) % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn kind_msg(kind: &str) -> Msg {
    match kind {
        "config" => Msg::ChangeConfig,
        "flag" => Msg::ChangeFlag,
        _ => Msg::ChangeDeploy,
    }
}

/// One change as a list item: when, kind, service and version, what, who, link.
pub fn change_item(c: ChangeRow) -> impl IntoView {
    let offset = c.offset_ms.map(|o| {
        let (m, s) = if o <= 0 {
            (Msg::BeforeDetection, span_text(o))
        } else {
            (Msg::AfterDetection, span_text(o))
        };
        view! { <span class="muted small">" · "{s}" "{t(m)}</span> }
    });
    view! {
        <li class="change" data-testid="change">
            <div class="change-head">
                <span class=format!("badge change-{}", c.kind)>{t(kind_msg(&c.kind))}</span>" "
                <strong>{c.service.clone()}</strong>
                {(!c.version.is_empty()).then(|| view! { " "<code>{c.version.clone()}</code> })}
                <span class="muted small">" · "<time>{c.at.clone()}</time>" · "{c.author.clone()}</span>
                {offset}
            </div>
            {(!c.description.is_empty()).then(|| view! { <p class="change-text">{c.description.clone()}</p> })}
            {(!c.url.is_empty()).then(|| view! {
                <a class="small" href=c.url.clone() rel="noopener noreferrer nofollow" target="_blank">{c.url.clone()}</a>
            })}
        </li>
    }
}

#[component]
pub fn ChangesPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let get = move |k: &'static str| Memo::new(move |_| query.read().get(k).unwrap_or_default());
    let (range, service, kind, q) = (get("range"), get("service"), get("kind"), get("q"));
    let record = ServerAction::<RecordChange>::new();
    let data = Resource::new(
        move || (range.get(), service.get(), kind.get(), q.get(), record.version().get()),
        |(r, s, k, q, _)| list_changes(r, s, k, q),
    );
    // The filter form: its fields go to the URL, so a filtered list can be shared.
    let (f_service, f_q) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    Effect::new(move || {
        f_service.set(service.get());
        f_q.set(q.get());
    });
    let go = move |r: String, k: String| {
        let mut parts = Vec::new();
        for (name, v) in [
            ("range", r),
            ("service", f_service.get_untracked()),
            ("kind", k),
            ("q", f_q.get_untracked()),
        ] {
            if !v.trim().is_empty() {
                parts.push(format!("{name}={}", urlencode(v.trim())));
            }
        }
        navigate(&format!("/changes?{}", parts.join("&")), NavigateOptions::default());
    };
    let (g1, g2, g3) = (go.clone(), go.clone(), go);
    let err = move || record.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
    let list = move || {
        Suspend::new(async move {
            match data.await {
                Err(e) => error_box(e),
                Ok(rows) if rows.is_empty() => view! {
                    <div class="empty-inline muted" data-testid="changes-empty">
                        <p>{t(Msg::NoChanges)}</p>
                        <p class="small">{t(Msg::ChangesHowTo)}</p>
                        <pre class="code small">"curl -X POST -H 'Authorization: Bearer $VIGIL_API_KEY' \\\n  -d '{\"service\":\"checkout\",\"kind\":\"deploy\",\"version\":\"v1.4.2\"}' \\\n  https://vigil.example.com/api/v1/changes"</pre>
                    </div>
                }.into_any(),
                Ok(rows) => view! {
                    <p class="muted small">{rows.len()}" "{t(Msg::ChangesShown)}</p>
                    <ul class="changes" data-testid="changes-list">{rows.into_iter().map(change_item).collect_view()}</ul>
                }.into_any(),
            }
        })
    };
    view! {
        <Title text=t(Msg::Changes) />
        <PageHeader title=Msg::IncidentsTitle />
        <IncidentTabs />
        <div class="admin-grid">
            <section class="card">
                <h2>{t(Msg::Changes)}</h2>
                <form class="filters" role="search" on:submit=move |ev| { ev.prevent_default(); g1(range.get_untracked(), kind.get_untracked()); }>
                    <label>{t(Msg::Period)}
                        <select name="range" on:change=move |ev| g2(event_target_value(&ev), kind.get_untracked())>
                            {[("24h", Msg::Range24h), ("", Msg::Range7), ("30d", Msg::Range30), ("90d", Msg::Range90)].into_iter().map(|(v, m)| view! {
                                <option value=v selected=move || range.get() == v>{t(m)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>{t(Msg::Kind)}
                        <select name="kind" on:change=move |ev| g3(range.get_untracked(), event_target_value(&ev))>
                            <option value="">{t(Msg::All)}</option>
                            {["deploy", "config", "flag"].into_iter().map(|k| view! {
                                <option value=k selected=move || kind.get() == k>{t(kind_msg(k))}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>{t(Msg::Service)}
                        <input name="service" placeholder="checkout, search" prop:value=f_service on:input=move |ev| f_service.set(event_target_value(&ev)) />
                    </label>
                    <label>{t(Msg::Search)}
                        <input name="q" type="search" prop:value=f_q on:input=move |ev| f_q.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit" class="btn">{t(Msg::Filter)}</button>
                </form>
                <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>{list}</Transition>
            </section>
            <section class="card">
                <h2>{t(Msg::RecordChange)}</h2>
                <IfCan can=Permission::RecordChanges fallback=|| view! { <p class="muted">{t(Msg::ChangesNeedResponder)}</p> }>
                    <ActionForm action=record attr:class="form" attr:data-testid="change-form">
                        <div class="form-row">
                            <label><span>{t(Msg::Service)}</span><input name="service" required placeholder="checkout" /><FieldError error=field("service") /></label>
                            <label><span>{t(Msg::Kind)}</span>
                                <select name="kind">
                                    {["deploy", "config", "flag"].into_iter().map(|k| view! { <option value=k>{t(kind_msg(k))}</option> }).collect_view()}
                                </select>
                                <FieldError error=field("kind") />
                            </label>
                        </div>
                        <label><span>{t(Msg::Version)}</span><input name="version" placeholder="v1.4.2" /><FieldError error=field("version") /></label>
                        <label><span>{t(Msg::Description)}</span><textarea name="description" rows="3"></textarea><FieldError error=field("description") /></label>
                        <label><span>{t(Msg::Link)}</span><input name="url" type="url" placeholder="https://ci.example.com/runs/42" /><FieldError error=field("url") /></label>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" disabled=record.pending()>{t(Msg::RecordChange)}</button>
                            {move || matches!(record.value().get(), Some(Ok(_))).then(|| view! { <span class="ok" role="status">{t(Msg::Saved)}</span> })}
                        </div>
                    </ActionForm>
                </IfCan>
            </section>
        </div>
    }
}
