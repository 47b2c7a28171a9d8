//! The app shell: top bar with navigation, language switch and user menu; the page below.

use crate::components::RoleBadge;
use crate::features::account::server_fns::{logout, set_language};
use crate::features::alerts::server_fns::firing_badge;
use crate::i18n::{t, use_locale, Msg};
use crate::session::use_me;
use domain::{Locale, Permission};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, A};

#[component]
pub fn Layout() -> impl IntoView {
    provide_context(FiringPoll(RwSignal::new(0)));
    view! {
        <div class="app">
            <TopBar />
            <main class="content" id="main">
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <section class="alert alert-error" role="alert">
                            <strong>{t(Msg::ErrGeneric)}</strong>
                            <ul>
                                {move || {
                                    errors
                                        .get()
                                        .into_iter()
                                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                        .collect_view()
                                }}
                            </ul>
                        </section>
                    }
                }>
                    <Outlet />
                </ErrorBoundary>
            </main>
        </div>
    }
}

#[component]
fn TopBar() -> impl IntoView {
    let me = use_me();
    let location = leptos_router::hooks::use_location();
    let locale = use_locale();
    let switch_language = move |_| {
        let next = match locale.get_untracked() {
            Locale::En => Locale::ZhCn,
            Locale::ZhCn => Locale::En,
        };
        // Re-render at once; persist in the background.
        locale.set(next);
        spawn_local(async move {
            let _ = set_language(next.tag().to_owned()).await;
        });
    };
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = logout().await;
            let _ = window().location().assign("/login");
        });
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true"></span>
                <span>{t(Msg::AppName)}</span>
            </a>
            <nav class="nav" aria-label="Main">
                <A href="/" exact=true>{t(Msg::NavHome)}</A>
                <A href="/dashboards">{t(Msg::NavDashboards)}</A>
                <A href="/technical">{t(Msg::NavTechnical)}</A>
                <A href="/alerts">{t(Msg::NavAlerts)}<FiringNavBadge /></A>
                // Action items, reports and changes live beside /incidents: the tab stays current there.
                <a href="/incidents" aria-current=move || {
                    let p = location.pathname.get();
                    (p.starts_with("/incidents") || p == "/action-items" || p == "/incident-reports" || p == "/changes").then_some("page")
                }>{t(Msg::NavIncidents)}</a>
                <A href="/oncall">{t(Msg::NavOncall)}</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let is_admin = matches!(me.await, Ok(Some(m)) if m.can(Permission::ManageUsers));
                        is_admin.then(|| view! { <A href="/admin">{t(Msg::NavAdmin)}</A> })
                    })}
                </Transition>
            </nav>
            <div class="topbar-right">
                <button
                    type="button"
                    class="btn btn-ghost lang-switch"
                    data-testid="lang-switch"
                    on:click=switch_language
                    title=move || t(Msg::Language)()
                >
                    {t(Msg::SwitchLanguage)}
                </button>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().flatten().map(|m| {
                            view! {
                                <div class="user-menu">
                                    <a href="/settings" class="user-name" title=m.email.clone()>
                                        {m.name.clone()}
                                    </a>
                                    <RoleBadge role=m.role />
                                    <button type="button" class="btn btn-ghost" data-testid="sign-out" on:click=sign_out>
                                        {t(Msg::SignOut)}
                                    </button>
                                </div>
                            }
                        })
                    })}
                </Transition>
            </div>
        </header>
    }
}

/// Counts the firing badge's polls: what shows firing alerts (the badge, the home card)
/// asks again when it moves, so they stay current together without a reload.
#[derive(Clone, Copy)]
pub struct FiringPoll(pub RwSignal<u32>);

/// How often the navigation's firing badge asks again.
const BADGE_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// The number of alerts firing now, beside "Alerts" in the navigation, coloured by the
/// worst level; it asks again every 30 seconds without a reload.
#[component]
fn FiringNavBadge() -> impl IntoView {
    let tick = use_context::<FiringPoll>().map_or_else(|| RwSignal::new(0_u32), |p| p.0);
    let badge = Resource::new(move || tick.get(), |_| firing_badge());
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(move || tick.update(|n| *n += 1), BADGE_POLL).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = BADGE_POLL;
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                badge.await.ok().filter(|b| b.firing > 0).map(|b| {
                    let level = b.worst.unwrap_or_default().to_lowercase();
                    view! {
                        <span class=format!("nav-badge sev-{level}") data-testid="firing-badge" title=t(Msg::FiringBadgeTitle)>
                            {b.firing}
                        </span>
                    }
                })
            })}
        </Transition>
    }
}
