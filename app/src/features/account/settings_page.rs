//! `/settings`: the user's own language, time zone and password.

use crate::components::{FieldError, PageHeader};
use crate::features::account::server_fns::{time_zones, ChangePassword, SavePreferences};
use crate::i18n::{t, use_locale, Msg};
use crate::session::use_me;
use domain::Locale;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let me = use_me();
    let locale = use_locale();
    let zones = Resource::new(|| (), |_| time_zones());
    let save = ServerAction::<SavePreferences>::new();
    let change = ServerAction::<ChangePassword>::new();
    // Apply the saved language at once.
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(input)) = (save.value().get(), save.input().get_untracked()) {
            if let Some(l) = Locale::from_tag(&input.locale) {
                locale.set(l);
            }
            me.refetch();
        }
    });
    let save_err = move || save.value().get().and_then(Result::err);
    let change_err = move || change.value().get().and_then(Result::err);
    view! {
        <Title text=t(Msg::SettingsTitle) />
        <PageHeader title=Msg::SettingsTitle />
        <Suspense fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                let Ok(Some(m)) = me.await else {
                    return view! { <p class="alert alert-error">{t(Msg::ErrSessionExpired)}</p> }.into_any();
                };
                let zones = zones.await.unwrap_or_default();
                view! {
                    <div class="cards cards-2">
                        <section class="card">
                            <h2>{t(Msg::Preferences)}</h2>
                            <ActionForm action=save attr:class="form">
                                <label>
                                    <span>{t(Msg::Language)}</span>
                                    <select name="locale">
                                        {Locale::ALL
                                            .into_iter()
                                            .map(|l| {
                                                let label = match l {
                                                    Locale::En => "English",
                                                    Locale::ZhCn => "简体中文",
                                                };
                                                view! {
                                                    <option value=l.tag() selected=m.locale == l>{label}</option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                    <FieldError error=Signal::derive(move || save_err().and_then(|e| e.field("locale"))) />
                                </label>
                                <label>
                                    <span>{t(Msg::TimeZone)}</span>
                                    <input name="time_zone" list="tz-list" value=m.time_zone.clone() required />
                                    <datalist id="tz-list">
                                        {zones.into_iter().map(|z| view! { <option value=z></option> }).collect_view()}
                                    </datalist>
                                    <FieldError error=Signal::derive(move || save_err().and_then(|e| e.field("time_zone"))) />
                                </label>
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary" disabled=save.pending()>
                                        {move || if save.pending().get() { t(Msg::Saving)() } else { t(Msg::Save)() }}
                                    </button>
                                    {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <span class="ok">{t(Msg::Saved)}</span> })}
                                </div>
                            </ActionForm>
                        </section>
                        <section class="card">
                            <h2>{t(Msg::ChangePassword)}</h2>
                            <ActionForm action=change attr:class="form">
                                <label>
                                    <span>{t(Msg::CurrentPassword)}</span>
                                    <input type="password" name="current_password" autocomplete="current-password" required />
                                    <FieldError error=Signal::derive(move || change_err().and_then(|e| e.field("current_password"))) />
                                </label>
                                <label>
                                    <span>{t(Msg::NewPassword)}</span>
                                    <input type="password" name="new_password" autocomplete="new-password" minlength="10" required />
                                    <FieldError error=Signal::derive(move || change_err().and_then(|e| e.field("new_password"))) />
                                </label>
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary" disabled=change.pending()>{t(Msg::Save)}</button>
                                    {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! { <span class="ok">{t(Msg::PasswordChanged)}</span> })}
                                </div>
                            </ActionForm>
                        </section>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
        <crate::features::oncall::contact::ContactCard />
    }
}
