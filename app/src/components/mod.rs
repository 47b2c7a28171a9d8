//! The small design system: layout pieces, empty states, field errors, role guards.

use crate::i18n::{role_msg, t, Msg};
use crate::session::use_me;
use domain::Role;
use leptos::prelude::*;

/// A validation message under an input (nothing when `error` is `None`).
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|e| view! { <span class="field-error" role="alert">{e}</span> })
    }
}

/// A page title with an optional subtitle.
#[component]
pub fn PageHeader(title: Msg, #[prop(optional)] subtitle: Option<Msg>) -> impl IntoView {
    view! {
        <header class="page-header">
            <h1>{t(title)}</h1>
            {subtitle.map(|s| view! { <p class="muted">{t(s)}</p> })}
        </header>
    }
}

/// An empty state: what will be here and how to get it there.
#[component]
pub fn EmptyState(title: Msg, body: Msg, #[prop(optional)] icon: &'static str) -> impl IntoView {
    view! {
        <section class="empty-state">
            <div class="empty-icon" aria-hidden="true">{icon}</div>
            <h2>{t(title)}</h2>
            <p class="muted">{t(body)}</p>
        </section>
    }
}

/// A role label.
#[component]
pub fn RoleBadge(role: Role) -> impl IntoView {
    view! { <span class=format!("badge badge-{}", role.as_str())>{t(role_msg(role))}</span> }
}

/// The "no access" view, shown when the role is too low.
#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <section class="empty-state forbidden" data-testid="forbidden">
            <div class="empty-icon" aria-hidden="true">"🔒"</div>
            <h2>{t(Msg::ErrForbidden)}</h2>
            <p class="muted">{t(Msg::ErrForbiddenHint)}</p>
            <a class="btn" href="/">{t(Msg::BackHome)}</a>
        </section>
    }
}

/// Renders `children` only for users whose role includes `role`; the server functions the
/// children call check the role again (the UI hides, the server decides).
#[component]
pub fn RequireRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let me = use_me();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) if me.can(role) => children.with_value(|c| c()).into_any(),
                    Ok(Some(_)) => view! { <Forbidden /> }.into_any(),
                    _ => view! { <p class="alert alert-error">{t(Msg::ErrSessionExpired)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
