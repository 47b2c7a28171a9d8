//! The small design system: layout pieces, empty states, field errors, role guards.

use crate::i18n::{role_msg, t, Msg};
use crate::session::use_me;
use domain::{Permission, Role};
use leptos::prelude::*;

/// A server function's error that belongs to no one field, as an alert box.
pub fn error_box(e: crate::error::AppError) -> AnyView {
    let locale = crate::i18n::use_locale();
    view! { <p class="alert alert-error" role="alert">{move || e.text(locale.get())}</p> }
        .into_any()
}

/// A validation message under an input (nothing when `error` is `None`).
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <span class="field-error" role="alert">{e}</span> })
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

/// Inline SVG icons (stroke paths in a 24×24 box): no icon font, no emoji font needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Icon {
    #[default]
    Chart,
    Bell,
    Siren,
    Calendar,
    Lock,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Icon::Chart => "M3 3v18h18M7 15l4-4 3 3 5-6",
            Icon::Bell => "M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10 21h4",
            Icon::Siren => {
                "M12 3v2M4.9 6.3l1.4 1.4M19.1 6.3l-1.4 1.4M7 18v-5a5 5 0 0 1 10 0v5M4 21h16v-3H4z"
            }
            Icon::Calendar => "M4 5h16v16H4zM4 10h16M8 3v4M16 3v4",
            Icon::Lock => "M6 11h12v10H6zM8 11V7a4 4 0 0 1 8 0v4",
        }
    }
}

#[component]
pub fn IconSvg(icon: Icon) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="40" height="40" fill="none" stroke="currentColor"
            stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
            <path d=icon.path() />
        </svg>
    }
}

/// An empty state: what will be here and how to get it there.
#[component]
pub fn EmptyState(title: Msg, body: Msg, #[prop(optional)] icon: Icon) -> impl IntoView {
    view! {
        <section class="empty-state">
            <div class="empty-icon"><IconSvg icon /></div>
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
            <div class="empty-icon"><IconSvg icon=Icon::Lock /></div>
            <h2>{t(Msg::ErrForbidden)}</h2>
            <p class="muted">{t(Msg::ErrForbiddenHint)}</p>
            <a class="btn" href="/">{t(Msg::BackHome)}</a>
        </section>
    }
}

/// Renders `children` only for users whose role holds permission `can`; the service
/// methods the children call check it again (the UI hides, the server decides).
#[component]
pub fn RequirePermission(can: Permission, children: ChildrenFn) -> impl IntoView {
    let me = use_me();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) if me.can(can) => children.with_value(|c| c()).into_any(),
                    Ok(Some(_)) => view! { <Forbidden /> }.into_any(),
                    _ => view! { <p class="alert alert-error">{t(Msg::ErrSessionExpired)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Renders `children` when the signed-in user's role holds permission `can`, else
/// `fallback`.
/// Waits for the session inside a `Transition`, so the server and the browser decide the
/// same way during hydration (reading the session signal directly outside a suspense
/// boundary renders "no user" on the server and the real user in the browser: a
/// hydration panic).
#[component]
pub fn IfCan(
    can: Permission,
    children: ChildrenFn,
    #[prop(optional, into)] fallback: Option<ViewFn>,
) -> impl IntoView {
    let me = use_me();
    let children = StoredValue::new(children);
    let fallback = StoredValue::new(fallback);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                if matches!(me.await, Ok(Some(m)) if m.can(can)) {
                    children.with_value(|c| c()).into_any()
                } else {
                    fallback.with_value(|f| f.as_ref().map(|f| f.run())).into_any()
                }
            })}
        </Transition>
    }
}

/// Percent-encodes everything but unreserved characters (query values, `data:` URLs).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
