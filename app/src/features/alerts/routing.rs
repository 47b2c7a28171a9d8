//! The routing editor: the tree as indented routes, a form per route (matchers, channels,
//! escalation policy, grouping, timings, continue), add/move/delete, a label tester, and
//! the tree in Alertmanager's YAML. Every change is one versioned save on the server.

use super::server_fns::{
    export_routing, get_policy, get_routing, route_test, ChangeRoute, ImportRouting, SavePolicy,
    SaveRoute,
};
use crate::components::{error_box, FieldError};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use crate::session::use_me;
use domain::alerting::routing::{RouteRow, RouteTest, RoutingView};
use domain::Permission;
use leptos::prelude::*;

/// One route's line: what it matches, where it sends, how it groups.
fn route_summary(row: &RouteRow, view: &RoutingView) -> impl IntoView {
    let f = &row.form;
    let policy = f.escalation_policy_id.map(|id| {
        view.policies.iter().find(|p| p.0 == id).map_or(format!("#{id}"), |p| p.1.clone())
    });
    let channels = f
        .channels
        .iter()
        .map(|c| {
            let state = view.channels.iter().find(|(n, _)| n == c).map(|(_, on)| *on);
            let (class, note) = match state {
                Some(true) => ("badge badge-ok", None),
                Some(false) => ("badge badge-muted", Some(Msg::RouteChannelOff)),
                None => ("badge badge-warn", Some(Msg::RouteChannelMissing)),
            };
            view! { <span class=class title=note.map(|m| t(m)())>{c.clone()}{note.map(|m| view! { " · "{t(m)}})}</span>" " }
        })
        .collect_view();
    let timings: Vec<String> = [
        ("group_by", &f.group_by),
        ("group_wait", &f.group_wait),
        ("group_interval", &f.group_interval),
        ("repeat_interval", &f.repeat_interval),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k} {v}"))
    .collect();
    view! {
        <div class="route-head">
            {if row.path == "0" {
                view! { <strong>{t(Msg::RouteRoot)}</strong> }.into_any()
            } else if f.matchers.is_empty() {
                view! { <code>{t(Msg::RouteMatchesAll)}</code> }.into_any()
            } else {
                view! { <code>{f.matchers.clone()}</code> }.into_any()
            }}
            " → "
            {if f.channels.is_empty() {
                view! { <span class="muted">{t(if row.path == "0" { Msg::RouteAllChannels } else { Msg::RouteInherits })}</span> }.into_any()
            } else {
                channels.into_any()
            }}
            {policy.map(|p| view! { " "<span class="badge badge-responder">{t(Msg::RoutePolicy)}": "{p}</span> })}
            {f.continue_.then(|| view! { " "<span class="badge">"continue"</span> })}
            {f.digest.then(|| view! { " "<span class="badge badge-muted">{t(Msg::RouteDigest)}</span> })}
            {(!timings.is_empty()).then(|| view! { <div class="muted small">{timings.join(" · ")}</div> })}
        </div>
    }
}

/// The form for one route, prefilled.
fn route_form(row: RouteRow, view: &RoutingView, save: ServerAction<SaveRoute>) -> impl IntoView {
    let err = move || save.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
    let root = row.path == "0";
    let f = row.form;
    let known = view.channels.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>().join(", ");
    let version = view.version.to_string();
    let chosen = f.escalation_policy_id;
    let options = view
        .policies
        .iter()
        .map(|(id, name)| {
            view! { <option value=id.to_string() selected=chosen == Some(*id)>{name.clone()}</option> }
        })
        .collect_view();
    view! {
        <ActionForm action=save attr:class="form route-form">
            <input type="hidden" name="version" value=version />
            <input type="hidden" name="path" value=row.path.clone() />
            <label class:hidden=root>
                <span>{t(Msg::RouteMatchers)}</span>
                <input name="route[matchers]" value=f.matchers.clone() placeholder="severity=\"P1\", team=~\"db|infra\"" />
                <FieldError error=field("matchers") />
            </label>
            <label>
                <span>{t(Msg::Channels)}</span>
                <input name="route[channels]" value=f.channels.join(", ") placeholder="feishu, phone" />
                <span class="muted small">{t(Msg::RouteChannelsHint)}" "{known}</span>
            </label>
            <label>
                <span>{t(Msg::RoutePolicy)}</span>
                <select name="route[escalation_policy_id]">
                    <option value="">{t(Msg::RouteNoPolicy)}</option>
                    {options}
                </select>
                <FieldError error=field("escalation_policy_id") />
                <FieldError error=field("route") />
            </label>
            <div class="form-row">
                <label><span>"group_by"</span><input name="route[group_by]" value=f.group_by.clone() placeholder="alertname, service" /><FieldError error=field("group_by") /></label>
                <label><span>"group_wait"</span><input name="route[group_wait]" value=f.group_wait.clone() placeholder="30s" /><FieldError error=field("group_wait") /></label>
            </div>
            <div class="form-row">
                <label><span>"group_interval"</span><input name="route[group_interval]" value=f.group_interval.clone() placeholder="5m" /><FieldError error=field("group_interval") /></label>
                <label><span>"repeat_interval"</span><input name="route[repeat_interval]" value=f.repeat_interval.clone() placeholder=t(Msg::RouteRepeatDefault) /><FieldError error=field("repeat_interval") /></label>
            </div>
            <label class="check" class:hidden=root>
                <input type="checkbox" name="route[continue_]" checked=f.continue_ />
                <span>{t(Msg::RouteContinue)}</span>
            </label>
            <label class="check">
                <input type="checkbox" name="route[digest]" checked=f.digest />
                <span>{t(Msg::RouteDigestHint)}</span>
            </label>
            <p class="muted small">{t(Msg::RouteInheritHint)}</p>
            {move || err().filter(|e| !matches!(e, AppError::Invalid(_))).map(error_box)}
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=save.pending()>{t(Msg::Save)}</button>
            </div>
        </ActionForm>
    }
}

/// The routing section of the notifications page.
#[component]
pub fn RoutingEditor() -> impl IntoView {
    let me = use_me();
    let save = ServerAction::<SaveRoute>::new();
    let change = ServerAction::<ChangeRoute>::new();
    let import = ServerAction::<ImportRouting>::new();
    let save_json = ServerAction::<SavePolicy>::new();
    // Every view of the tree (rows, YAML, JSON) is fetched again after any of the four
    // ways to change it, so none of them saves against a stale version.
    let changed = move || {
        (
            save.version().get(),
            change.version().get(),
            import.version().get(),
            save_json.version().get(),
        )
    };
    let tree = Resource::new(changed, |_| get_routing());
    // Resources (not bare calls in the Suspend): their values are sent with the page, so
    // the browser hydrates the same text the server rendered.
    let yaml = Resource::new(changed, |_| export_routing());
    let json = Resource::new(changed, |_| get_policy());
    let editing = RwSignal::new(None::<String>);
    Effect::new(move || {
        if matches!(save.value().get(), Some(Ok(_))) {
            editing.set(None);
        }
    });
    let tree_view = move || {
        Suspend::new(async move {
            let editor = matches!(me.await, Ok(Some(m)) if m.can(Permission::EditRouting));
            let view = match tree.await {
                Err(e) => return error_box(e),
                Ok(v) => v,
            };
            let version = view.version;
            let rows = view.rows.clone();
            view! {
                {(version == 0).then(|| view! { <p class="muted small" data-testid="routing-default">{t(Msg::RouteDefaultTree)}</p> })}
                <ol class="route-tree" data-testid="route-tree">
                    {rows.into_iter().map(|row| {
                        let path = row.path.clone();
                        let op = move |name: &'static str| {
                            let path = path.clone();
                            move |_| { change.dispatch(ChangeRoute { version, path: path.clone(), op: name.into() }); }
                        };
                        let p = row.path.clone();
                        let open = Signal::derive(move || editing.get().as_deref() == Some(p.as_str()));
                        let p2 = row.path.clone();
                        let root = row.path == "0";
                        let form = route_form(row.clone(), &view, save).into_any();
                        view! {
                            <li class="route-row" style=format!("margin-left: {}rem", row.depth as f32 * 1.25) data-path=row.path.clone()>
                                {route_summary(&row, &view)}
                                {editor.then(|| view! {
                                    <div class="route-actions">
                                        <button type="button" class="btn btn-small" aria-expanded=move || open.get().to_string()
                                            on:click=move |_| editing.set(if open.get_untracked() { None } else { Some(p2.clone()) })>{t(Msg::Edit)}</button>
                                        <button type="button" class="btn btn-small" on:click=op("add_child")>{t(Msg::RouteAddChild)}</button>
                                        {(!root).then(|| view! {
                                            <button type="button" class="btn btn-small" disabled=row.first on:click=op("up") aria-label=t(Msg::MoveUp)>"↑"</button>
                                            <button type="button" class="btn btn-small" disabled=row.last on:click=op("down") aria-label=t(Msg::MoveDown)>"↓"</button>
                                            <button type="button" class="btn btn-small btn-danger" on:click=op("delete")>{t(Msg::Delete)}</button>
                                        })}
                                    </div>
                                })}
                                <div class:hidden=move || !open.get()>{form}</div>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                {move || change.value().get().and_then(Result::err).map(error_box)}
                {editor.then(|| import_form(import, version))}
            }
            .into_any()
        })
    };
    view! {
        <p class="muted small">{t(Msg::RouteHint)}</p>
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>{tree_view}</Transition>
        <RouteTester />
        <details class="route-yaml">
            <summary>{t(Msg::RouteExport)}</summary>
            <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match yaml.await {
                        Err(e) => error_box(e),
                        Ok(yaml) => {
                            let text = yaml.clone();
                            view! { <textarea class="code" rows="14" readonly spellcheck="false" data-testid="routing-yaml" prop:value=yaml>{text}</textarea> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </details>
        <details class="route-yaml">
            <summary>{t(Msg::RouteJson)}</summary>
            {json_editor(json, save_json)}
        </details>
    }
}

/// The whole policy as JSON: the one place to edit inhibition rules.
fn json_editor(
    json: Resource<Result<(String, i64), AppError>>,
    save: ServerAction<SavePolicy>,
) -> impl IntoView {
    let me = use_me();
    let err = move || save.value().get().and_then(Result::err);
    view! {
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let editor = matches!(me.await, Ok(Some(m)) if m.can(Permission::EditRouting));
                match json.await {
                    Err(e) => error_box(e),
                    // `prop:value` as well as the text: a re-rendered textarea keeps the value
                    // it had otherwise, and the next save would send the stale tree.
                    Ok((doc, version)) => { let text = doc.clone(); view! {
                        <ActionForm action=save attr:class="form">
                            <input type="hidden" name="version" value=version.to_string() />
                            <textarea name="policy" rows="18" class="code" spellcheck="false" readonly=!editor data-testid="routing-json" prop:value=doc>{text}</textarea>
                            <FieldError error=Signal::derive(move || err().and_then(|e| e.field("policy").or_else(|| e.field("route")).or_else(|| e.field("inhibit")))) />
                            {move || err().filter(|e| matches!(e, AppError::Conflict(_))).map(error_box)}
                            <p class="muted small">{t(Msg::PolicyHint)}</p>
                            {editor.then(|| view! {
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary" disabled=save.pending()>{t(Msg::Save)}</button>
                                    {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! { <span class="ok">{t(Msg::Saved)}</span> })}
                                </div>
                            })}
                        </ActionForm>
                    }.into_any() }
                }
            })}
        </Suspense>
    }
}

fn import_form(import: ServerAction<ImportRouting>, version: i64) -> impl IntoView {
    let yaml = RwSignal::new(String::new());
    view! {
        <details class="route-yaml">
            <summary>{t(Msg::RouteImport)}</summary>
            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                import.dispatch(ImportRouting { yaml: yaml.get_untracked(), version });
            }>
                <textarea class="code" rows="10" spellcheck="false" placeholder="route:\n  receiver: feishu\n  routes: …"
                    prop:value=yaml on:input=move |ev| yaml.set(event_target_value(&ev))></textarea>
                <FieldError error=Signal::derive(move || import.value().get().and_then(Result::err).and_then(|e| e.field("yaml"))) />
                {move || import.value().get().map(|r| match r {
                    Ok(skipped) => view! {
                        <div class="alert alert-ok" role="status">{t(Msg::RouteImported)}
                            {(!skipped.is_empty()).then(|| view! { <ul>{skipped.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul> })}
                        </div>
                    }.into_any(),
                    Err(e) if e.field("yaml").is_none() => error_box(e),
                    Err(_) => ().into_any(),
                })}
                <div class="form-actions">
                    <button type="submit" class="btn" disabled=import.pending()>{t(Msg::RouteImport)}</button>
                </div>
            </form>
        </details>
    }
}

/// Labels in, routes out: where an alert would go, as delivery would pick its channels.
#[component]
fn RouteTester() -> impl IntoView {
    let labels = RwSignal::new("alertname=\"DAU drop\", severity=P1, service=chat".to_owned());
    let run = Action::new(move |l: &String| route_test(l.clone()));
    let result = move || -> Option<AnyView> {
        Some(match run.value().get()? {
            Err(e) => match e.field("labels") {
                Some(m) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                None => error_box(e),
            },
            Ok(r) => tester_result(r).into_any(),
        })
    };
    view! {
        <h3>{t(Msg::RouteTester)}</h3>
        <form class="form tester" on:submit=move |ev| { ev.prevent_default(); run.dispatch(labels.get_untracked()); }>
            <div class="form-row">
                <label>
                    <span>{t(Msg::Labels)}</span>
                    <input name="labels" prop:value=labels on:input=move |ev| labels.set(event_target_value(&ev)) data-testid="route-test-labels" />
                </label>
            </div>
            <div class="form-actions"><button type="submit" class="btn" disabled=run.pending()>{t(Msg::RouteTest)}</button></div>
        </form>
        <div data-testid="route-test-result" aria-live="polite">{result}</div>
    }
}

fn tester_result(r: RouteTest) -> impl IntoView {
    view! {
        {(!r.silenced_by.is_empty()).then(|| view! {
            <p class="alert alert-error">{t(Msg::RouteSilenced)}" "
                {r.silenced_by.iter().map(|(id, c)| format!("#{id} ({c})")).collect::<Vec<_>>().join(", ")}</p>
        })}
        <ul class="route-hits">
            {r.hits.into_iter().map(|h| view! {
                <li>
                    <code>{h.path.clone()}</code>" "<code>{if h.matchers.is_empty() { "*".to_owned() } else { h.matchers.clone() }}</code>" → "
                    {if h.channels.is_empty() {
                        view! { <span class="badge badge-warn">{t(Msg::RouteNobody)}</span> }.into_any()
                    } else {
                        h.channels.iter().map(|c| view! { <span class="badge badge-ok">{c.clone()}</span>" " }).collect_view().into_any()
                    }}
                    {h.fell_back.then(|| view! { <span class="muted small">{t(Msg::RouteFellBack)}</span> })}
                    {h.escalation_policy.clone().map(|p| view! { " "<span class="badge badge-responder">{t(Msg::RoutePolicy)}": "{p}</span> })}
                    <div class="muted small">
                        {format!("group {{{}}} · wait {} · interval {} · repeat {}", h.group, h.group_wait, h.group_interval,
                            if h.repeat_interval.is_empty() { "—".to_owned() } else { h.repeat_interval.clone() })}
                    </div>
                </li>
            }).collect_view()}
        </ul>
    }
}
