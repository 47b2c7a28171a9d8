//! `/login`: email and password, with throttling and error messages in the user's language.

use crate::components::FieldError;
use crate::error::AppError;
use crate::features::account::server_fns::Login;
use crate::i18n::{t, Msg};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    // Signed in: a full load of the next page, so every part of the UI starts from the new
    // session (and its CSRF token).
    Effect::new(move |_| {
        if let Some(Ok(next)) = action.value().get() {
            let _ = window().location().assign(&next);
        }
    });
    let error = move || action.value().get().and_then(Result::err);
    let pending = action.pending();
    view! {
        <Title text=t(Msg::SignInTitle) />
        <main class="login">
            <div class="login-card">
                <div class="brand brand-lg">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span>{t(Msg::AppName)}</span>
                </div>
                <h1>{t(Msg::SignInTitle)}</h1>
                <p class="muted">{t(Msg::SignInSubtitle)}</p>
                <ActionForm action=action attr:class="form" attr:id="login-form">
                    <input type="hidden" name="next" prop:value=next />
                    <label>
                        <span>{t(Msg::Email)}</span>
                        <input
                            type="email"
                            name="email"
                            autocomplete="username"
                            required
                            autofocus
                        />
                        <FieldError error=Signal::derive(move || error().and_then(|e| e.field("email"))) />
                    </label>
                    <label>
                        <span>{t(Msg::Password)}</span>
                        <input type="password" name="password" autocomplete="current-password" required />
                        <FieldError error=Signal::derive(move || error().and_then(|e| e.field("password"))) />
                    </label>
                    {move || {
                        error()
                            .filter(|e| !matches!(e, AppError::Invalid(_)))
                            .map(|e| {
                                let text = match e {
                                    AppError::Unauthorized => t(Msg::ErrInvalidLogin)().to_owned(),
                                    AppError::RateLimited(s) => {
                                        format!("{} {s} {}", t(Msg::ErrRateLimited)(), t(Msg::Seconds)())
                                    }
                                    _ => t(Msg::ErrGeneric)().to_owned(),
                                };
                                view! { <p class="alert alert-error" role="alert">{text}</p> }
                            })
                    }}
                    <button type="submit" class="btn btn-primary btn-block" disabled=pending>
                        {move || if pending.get() { t(Msg::SigningIn)() } else { t(Msg::SignIn)() }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
