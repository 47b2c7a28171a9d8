//! Vigil's Leptos UI, rendered on the server (`ssr`) and hydrated in the browser
//! (`hydrate`). Server functions live beside the pages that use them, under `/rpc`.

#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod access;
pub mod components;
pub mod error;
pub mod features;
pub mod i18n;
pub mod layout;
pub mod session;

use features::account::login_page::LoginPage;
use features::account::settings_page::SettingsPage;
use features::admin::{ApiKeysPage, AuditPage, UsersPage};
use features::alerts::{
    AlertHistoryPage, AlertsPage, NotificationsPage, RuleEditorPage, RulesPage, SilencesPage,
};
use features::changes::ChangesPage;
use features::dashboards::DashboardsPage;
use features::incidents::{
    ActionItemsPage, IncidentPage, IncidentReportsPage, IncidentsPage, PostmortemPage,
};
use features::oncall::editors::{PolicyEditorPage, ScheduleEditorPage};
use features::oncall::pages::{OncallPage, SchedulePage};
use features::placeholders::{HomePage, NotFoundPage};
use features::technical::{ProbeEditorPage, TechnicalPage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let locale = RwSignal::new(i18n::initial_locale());
    provide_context(locale);
    let me: session::MeResource = Resource::new(|| (), |_| session::get_me());
    provide_context(me);

    view! {
        <Html attr:lang=move || locale.get().tag() />
        <Stylesheet id="leptos" href="/pkg/vigil.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="color-scheme" content="light" />
        <Title formatter=|text: String| {
            if text.is_empty() { "Vigil".to_owned() } else { format!("{text} · Vigil") }
        } />
        <Router>
            <Routes fallback=|| view! { <NotFoundPage /> }>
                <Route path=path!("/login") view=LoginPage />
                <ParentRoute path=path!("") view=layout::Layout>
                    <Route path=path!("") view=HomePage />
                    <Route path=path!("dashboards") view=DashboardsPage />
                    <Route path=path!("alerts") view=AlertsPage />
                    <Route path=path!("alerts/rules") view=RulesPage />
                    <Route path=path!("alerts/rules/:id") view=RuleEditorPage />
                    <Route path=path!("alerts/history") view=AlertHistoryPage />
                    <Route path=path!("alerts/silences") view=SilencesPage />
                    <Route path=path!("alerts/notifications") view=NotificationsPage />
                    <Route path=path!("technical") view=TechnicalPage />
                    <Route path=path!("technical/probes/:id") view=ProbeEditorPage />
                    <Route path=path!("incidents") view=IncidentsPage />
                    <Route path=path!("incidents/:code") view=IncidentPage />
                    <Route path=path!("incidents/:code/postmortem") view=PostmortemPage />
                    <Route path=path!("action-items") view=ActionItemsPage />
                    <Route path=path!("incident-reports") view=IncidentReportsPage />
                    <Route path=path!("changes") view=ChangesPage />
                    <Route path=path!("oncall") view=OncallPage />
                    <Route path=path!("oncall/schedules/:id") view=SchedulePage />
                    <Route path=path!("oncall/schedules/:id/edit") view=ScheduleEditorPage />
                    <Route path=path!("oncall/policies/:id") view=PolicyEditorPage />
                    <Route path=path!("settings") view=SettingsPage />
                    // Async SSR: the role check finishes before the status line is sent, so a
                    // viewer gets a real 403.
                    <Route path=path!("admin") view=UsersPage ssr=SsrMode::Async />
                    <Route path=path!("admin/api-keys") view=ApiKeysPage ssr=SsrMode::Async />
                    <Route path=path!("admin/audit") view=AuditPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
