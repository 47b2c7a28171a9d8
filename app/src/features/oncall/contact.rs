//! The settings page's "Paging and calendar" card: phone, Feishu id, personal notification
//! rules, and the link to subscribe to one's own shifts.

use super::server_fns::*;
use crate::components::FieldError;
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::oncall::escalation::{Method, NotifyRule};
use leptos::prelude::*;

fn method_msg(m: Method) -> Msg {
    match m {
        Method::Chat => Msg::OncallMethodChat,
        Method::Email => Msg::OncallMethodEmail,
        Method::Phone => Msg::OncallMethodPhone,
    }
}

#[component]
pub fn ContactCard() -> impl IntoView {
    let data = Resource::new(|| (), |_| my_contact());
    view! {
        <section class="card spaced" data-testid="contact-card">
            <h2>{t(Msg::OncallContact)}</h2>
            <p class="muted small">{t(Msg::OncallContactHint)}</p>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(c) => contact_form(c).into_any(),
                        Err(e) => view! { <p class="alert alert-error">{e.text_now()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn contact_form(c: ContactData) -> impl IntoView {
    let phone = RwSignal::new(c.phone);
    let feishu = RwSignal::new(c.feishu_id);
    let rules = RwSignal::new(c.rules);
    let save = ServerAction::<SaveMyContact>::new();
    let field = move |name: &'static str| {
        Signal::derive(move || save.value().get().and_then(Result::err).and_then(|e| e.field(name)))
    };
    let other = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .filter(|e| !matches!(e, AppError::Invalid(_)))
            .map(|e| view! { <p class="alert alert-error">{e.text_now()}</p> })
    };
    let count = Memo::new(move |_| rules.with(Vec::len));
    let rule_rows = move || {
        (0..count.get())
            .map(|i| {
                let cur = rules.with_untracked(|r| r.get(i).copied());
                let (method, delay) = cur.map_or((Method::Chat, 0), |r| (r.method, r.delay_min));
                view! {
                    <div class="form-row rule-row">
                        <select aria-label=t(Msg::Method) on:change=move |ev| {
                            if let Some(m) = Method::parse(&event_target_value(&ev)) {
                                rules.update(|r| if let Some(x) = r.get_mut(i) { x.method = m; });
                            }
                        }>
                            {Method::ALL.into_iter().map(|m| view! { <option value=m.as_str() selected=m == method>{t(method_msg(m))}</option> }).collect_view()}
                        </select>
                        <input type="number" min="0" max="1440" class="narrow" value=delay.to_string() aria-label=t(Msg::OncallAfterMinutes)
                            on:change=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); rules.update(|r| if let Some(x) = r.get_mut(i) { x.delay_min = v; }); } />
                        <span class="muted small">{t(Msg::OncallAfterMinutes)}</span>
                        <button type="button" class="btn btn-small" aria-label=t(Msg::Remove)
                            on:click=move |_| rules.update(|r| { if i < r.len() { r.remove(i); } })>"×"</button>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <form class="form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            save.dispatch(SaveMyContact { phone: phone.get_untracked(), feishu_id: feishu.get_untracked(), rules: rules.get_untracked() });
        }>
            {other}
            <p class="muted small">{c.email}" · "{c.time_zone}</p>
            <div class="form-row">
                <label><span>{t(Msg::Phone)}</span>
                    <input name="phone" type="tel" prop:value=phone on:input=move |ev| phone.set(event_target_value(&ev)) />
                    <FieldError error=field("phone") />
                </label>
                <label><span>{t(Msg::FeishuId)}</span>
                    <input name="feishu_id" prop:value=feishu on:input=move |ev| feishu.set(event_target_value(&ev)) />
                    <FieldError error=field("feishu_id") />
                </label>
            </div>
            <h3>{t(Msg::OncallRules)}</h3>
            {rule_rows}
            <FieldError error=field("rules") />
            <div class="form-actions">
                <button type="button" class="btn btn-small" on:click=move |_| rules.update(|r| r.push(NotifyRule { method: Method::Email, delay_min: 5 }))>{t(Msg::OncallAddRule)}</button>
                <button type="submit" class="btn btn-primary" disabled=save.pending()>{t(Msg::Save)}</button>
                {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <span class="ok">{t(Msg::Saved)}</span> })}
            </div>
        </form>
        {c.feed_made.map(|m| view! { <p class="muted small">{t(Msg::OncallFeedMade)}" "{m}</p> })}
        {super::pages::feed_button(0)}
    }
}
