//! Pages of capabilities still to come: real empty states that say what will be here.

use crate::components::{EmptyState, Icon, PageHeader};
use crate::i18n::{t, Msg};
use crate::session::use_me;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let me = use_me();
    view! {
        <Title text=t(Msg::HomeTitle) />
        <header class="page-header">
            <h1>
                {t(Msg::HomeWelcome)}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().flatten().map(|m| format!(", {}", m.name))
                    })}
                </Transition>
            </h1>
        </header>
        <div class="cards">
            <section class="card">
                <h2>{t(Msg::HomeOnCallNow)}</h2>
                <p class="muted">{t(Msg::HomeOnCallEmpty)}</p>
            </section>
            <section class="card">
                <h2>{t(Msg::HomeFiringAlerts)}</h2>
                <p class="muted">{t(Msg::HomeFiringAlertsEmpty)}</p>
            </section>
            <section class="card">
                <h2>{t(Msg::HomeOpenIncidents)}</h2>
                <p class="muted">{t(Msg::HomeOpenIncidentsEmpty)}</p>
            </section>
        </div>
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    view! {
        <Title text=t(Msg::IncidentsTitle) />
        <PageHeader title=Msg::IncidentsTitle />
        <EmptyState title=Msg::IncidentsEmpty body=Msg::IncidentsEmptyBody icon=Icon::Siren />
    }
}

#[component]
pub fn OncallPage() -> impl IntoView {
    view! {
        <Title text=t(Msg::OncallTitle) />
        <PageHeader title=Msg::OncallTitle />
        <EmptyState title=Msg::OncallEmpty body=Msg::OncallEmptyBody icon=Icon::Calendar />
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=t(Msg::NotFoundTitle) />
        <main class="login">
            <section class="empty-state" data-testid="not-found">
                <div class="empty-icon" aria-hidden="true">"404"</div>
                <h1>{t(Msg::NotFoundTitle)}</h1>
                <p class="muted">{t(Msg::NotFoundBody)}</p>
                <a class="btn btn-primary" href="/">{t(Msg::BackHome)}</a>
            </section>
        </main>
    }
}
