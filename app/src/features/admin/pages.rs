//! `/admin`, `/admin/api-keys`, `/admin/audit`.

use super::server_fns::{
    audit_log, list_api_keys, list_users, set_user_disabled, set_user_role, CreateApiKey,
    CreateUser, RevokeApiKey,
};
use crate::components::{FieldError, PageHeader, RequirePermission};
use crate::error::AppError;
use crate::i18n::{role_msg, t, Msg};
use crate::session::use_me;
use domain::{Permission, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
fn AdminTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Administration">
            <A href="/admin" exact=true>{t(Msg::AdminUsers)}</A>
            <A href="/admin/api-keys">{t(Msg::AdminApiKeys)}</A>
            <A href="/admin/audit">{t(Msg::AdminAudit)}</A>
        </nav>
    }
}

/// Title, header, the page's permission guard and the tabs around one admin page.
#[component]
fn AdminFrame(title: Msg, can: Permission, children: ChildrenFn) -> impl IntoView {
    view! {
        <Title text=t(title) />
        <PageHeader title=Msg::AdminTitle />
        <RequirePermission can=can>
            <AdminTabs />
            {children()}
        </RequirePermission>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    view! { <AdminFrame title=Msg::AdminUsers can=Permission::ManageUsers><UsersAdmin /></AdminFrame> }
}

#[component]
fn UsersAdmin() -> impl IntoView {
    let me = use_me();
    let create = ServerAction::<CreateUser>::new();
    let changed = RwSignal::new(0u32);
    let row_error = RwSignal::new(None::<AppError>);
    let users = Resource::new(move || (create.version().get(), changed.get()), |_| list_users());
    let create_err = move || create.value().get().and_then(Result::err);
    let field =
        move |name: &'static str| Signal::derive(move || create_err().and_then(|e| e.field(name)));
    let my_id = move || me.get_untracked().and_then(Result::ok).flatten().map(|m| m.user_id);

    let change_role = move |user_id: i64, role: String| {
        spawn_local(async move {
            row_error.set(set_user_role(user_id, role).await.err());
            changed.update(|n| *n += 1);
        });
    };
    let toggle = move |user_id: i64, disabled: bool| {
        spawn_local(async move {
            row_error.set(set_user_disabled(user_id, disabled).await.err());
            changed.update(|n| *n += 1);
        });
    };

    view! {
        <div class="admin-grid">
            <section class="card">
                <h2>{t(Msg::AdminUsers)}</h2>
                {move || row_error.get().map(|e| {
                    let text = e.field("role").or_else(|| e.field("user")).unwrap_or_else(|| e.text_now());
                    view! { <p class="alert alert-error" role="alert">{text}</p> }
                })}
                <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Err(e) => view! { <p class="alert alert-error">{e.text_now()}</p> }.into_any(),
                            Ok(rows) => view! {
                                <div class="table-wrap">
                                <table class="table" data-testid="users-table">
                                    <thead>
                                        <tr>
                                            <th>{t(Msg::Name)}</th>
                                            <th>{t(Msg::Email)}</th>
                                            <th>{t(Msg::Role)}</th>
                                            <th>{t(Msg::Status)}</th>
                                            <th>{t(Msg::Created)}</th>
                                            <th>{t(Msg::Actions)}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows.into_iter().map(|u| {
                                            let id = u.id;
                                            let is_me = my_id() == Some(id);
                                            view! {
                                                <tr class:row-disabled=!u.active>
                                                    <td>{u.name.clone()}{is_me.then(|| view! { <span class="muted">" ("{t(Msg::You)}")"</span> })}</td>
                                                    <td>{u.email.clone()}</td>
                                                    <td>
                                                        <select
                                                            aria-label=format!("role of {}", u.email)
                                                            on:change=move |ev| change_role(id, event_target_value(&ev))
                                                        >
                                                            {Role::ALL.into_iter().map(|r| view! {
                                                                <option value=r.as_str() selected=r == u.role>{t(role_msg(r))}</option>
                                                            }).collect_view()}
                                                        </select>
                                                    </td>
                                                    <td>
                                                        {if u.active {
                                                            view! { <span class="badge badge-ok">{t(Msg::Active)}</span> }.into_any()
                                                        } else {
                                                            view! { <span class="badge badge-muted">{t(Msg::Disabled)}</span> }.into_any()
                                                        }}
                                                    </td>
                                                    <td class="nowrap">{u.created.clone()}</td>
                                                    <td>
                                                        {(!is_me).then(|| {
                                                            let active = u.active;
                                                            view! {
                                                                <button type="button" class="btn btn-small" on:click=move |_| toggle(id, active)>
                                                                    {if active { t(Msg::Disable)() } else { t(Msg::Enable)() }}
                                                                </button>
                                                            }
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
            </section>
            <section class="card">
                <h2>{t(Msg::AddUser)}</h2>
                <ActionForm action=create attr:class="form" attr:data-testid="create-user-form">
                    <label>
                        <span>{t(Msg::Email)}</span>
                        <input type="email" name="email" required />
                        <FieldError error=field("email") />
                    </label>
                    <label>
                        <span>{t(Msg::Name)}</span>
                        <input name="name" required />
                        <FieldError error=field("name") />
                    </label>
                    <label>
                        <span>{t(Msg::Role)}</span>
                        <select name="role">
                            {Role::ALL.into_iter().map(|r| view! {
                                <option value=r.as_str() selected=r == Role::Viewer>{t(role_msg(r))}</option>
                            }).collect_view()}
                        </select>
                        <FieldError error=field("role") />
                    </label>
                    <label>
                        <span>{t(Msg::InitialPassword)}</span>
                        <input type="password" name="password" autocomplete="new-password" minlength="10" required />
                        <FieldError error=field("password") />
                    </label>
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" disabled=create.pending()>{t(Msg::Create)}</button>
                        {move || matches!(create.value().get(), Some(Ok(_))).then(|| view! { <span class="ok">{t(Msg::UserCreated)}</span> })}
                    </div>
                </ActionForm>
            </section>
        </div>
    }
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    view! { <AdminFrame title=Msg::AdminApiKeys can=Permission::ManageApiKeys><ApiKeysAdmin /></AdminFrame> }
}

#[component]
fn ApiKeysAdmin() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let create_err = move || create.value().get().and_then(Result::err);
    let field =
        move |name: &'static str| Signal::derive(move || create_err().and_then(|e| e.field(name)));
    view! {
        <div class="admin-grid">
            <section class="card">
                <h2>{t(Msg::AdminApiKeys)}</h2>
                <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {move || Suspend::new(async move {
                        match keys.await {
                            Err(e) => view! { <p class="alert alert-error">{e.text_now()}</p> }.into_any(),
                            Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline">{t(Msg::NoApiKeys)}</p> }.into_any(),
                            Ok(rows) => view! {
                                <div class="table-wrap">
                                <table class="table">
                                    <thead><tr>
                                        <th>{t(Msg::ApiKeyName)}</th><th>{t(Msg::Scope)}</th><th>{t(Msg::Prefix)}</th>
                                        <th>{t(Msg::Created)}</th><th>{t(Msg::LastUsed)}</th><th>{t(Msg::Actions)}</th>
                                    </tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|k| {
                                            let id = k.id;
                                            view! {
                                                <tr class:row-disabled=k.revoked>
                                                    <td>{k.name.clone()}</td>
                                                    <td><code>{k.scope.as_str()}</code></td>
                                                    <td><code>{k.prefix.clone()}"…"</code></td>
                                                    <td class="nowrap">{k.created.clone()}</td>
                                                    <td class="nowrap">{k.last_used.clone().unwrap_or_else(|| t(Msg::Never)().to_owned())}</td>
                                                    <td>
                                                        {if k.revoked {
                                                            view! { <span class="badge badge-muted">{t(Msg::Revoked)}</span> }.into_any()
                                                        } else {
                                                            view! {
                                                                <button type="button" class="btn btn-small btn-danger"
                                                                    on:click=move |_| { revoke.dispatch(RevokeApiKey { id }); }>
                                                                    {t(Msg::Revoke)}
                                                                </button>
                                                            }.into_any()
                                                        }}
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
            </section>
            <section class="card">
                <h2>{t(Msg::CreateKey)}</h2>
                <ActionForm action=create attr:class="form">
                    <label>
                        <span>{t(Msg::ApiKeyName)}</span>
                        <input name="name" required placeholder="web-app ingest" />
                        <FieldError error=field("name") />
                    </label>
                    <label>
                        <span>{t(Msg::Scope)}</span>
                        <select name="scope">
                            <option value="ingest">{t(Msg::ScopeIngest)}</option>
                            <option value="read">{t(Msg::ScopeRead)}</option>
                            <option value="changes">{t(Msg::ScopeChanges)}</option>
                        </select>
                        <FieldError error=field("scope") />
                    </label>
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" disabled=create.pending()>{t(Msg::CreateKey)}</button>
                    </div>
                </ActionForm>
                {move || create.value().get().and_then(Result::ok).map(|secret| view! {
                    <div class="alert alert-ok secret" role="status">
                        <p>{t(Msg::KeyShownOnce)}</p>
                        <code data-testid="new-api-key">{secret}</code>
                    </div>
                })}
            </section>
        </div>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    view! { <AdminFrame title=Msg::AdminAudit can=Permission::ViewAudit><AuditLog /></AdminFrame> }
}

#[component]
fn AuditLog() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let applied = RwSignal::new(String::new());
    let before = RwSignal::new(None::<i64>);
    let entries = Resource::new(
        move || (applied.get(), before.get()),
        |(action, before_id)| audit_log((!action.is_empty()).then_some(action), before_id),
    );
    view! {
        <section class="card">
            <form class="form-inline" on:submit=move |ev| {
                ev.prevent_default();
                before.set(None);
                applied.set(filter.get_untracked().trim().to_owned());
            }>
                <input
                    type="search"
                    placeholder=move || t(Msg::FilterAction)()
                    aria-label=move || t(Msg::FilterAction)()
                    bind:value=filter
                />
                <button type="submit" class="btn">{t(Msg::Filter)}</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Err(e) => view! { <p class="alert alert-error">{e.text_now()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! { <p class="muted empty-inline">{t(Msg::NoAuditEntries)}</p> }.into_any(),
                        Ok(rows) => {
                            let last = rows.last().map(|r| r.id);
                            let full = rows.len() >= 50;
                            view! {
                                <div class="table-wrap">
                                <table class="table audit" data-testid="audit-table">
                                    <thead><tr>
                                        <th>{t(Msg::When)}</th><th>{t(Msg::Who)}</th><th>{t(Msg::Action)}</th>
                                        <th>{t(Msg::Target)}</th><th>{t(Msg::Change)}</th>
                                    </tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| view! {
                                            <tr>
                                                <td class="nowrap">{r.at}</td>
                                                <td>{r.actor}<div class="muted small">{r.ip}</div></td>
                                                <td><code>{r.action}</code></td>
                                                <td><code>{r.target}</code></td>
                                                <td class="diff">
                                                    <ul class="changes">
                                                        {r.changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                                                    </ul>
                                                    {(r.before.is_some() || r.after.is_some()).then(|| view! {
                                                        <details>
                                                            <summary>"JSON"</summary>
                                                            {r.before.map(|b| view! { <div class="before">"− "{b}</div> })}
                                                            {r.after.map(|a| view! { <div class="after">"+ "{a}</div> })}
                                                        </details>
                                                    })}
                                                </td>
                                            </tr>
                                        }.into_any()).collect_view()}
                                    </tbody>
                                </table>
                                </div>
                                {full.then(|| view! {
                                    <button type="button" class="btn" on:click=move |_| before.set(last)>{t(Msg::OlderEntries)}</button>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
