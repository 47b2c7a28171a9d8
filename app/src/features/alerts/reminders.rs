//! Digests and reminders: each one on/off with its time of day (reporting time zone),
//! the response-deadline check, and the channel of the weekly review. The engine's
//! scheduler reads these on every pass.

use super::server_fns::{schedule_settings, SaveSchedule};
use crate::components::{error_box, FieldError};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use crate::session::use_me;
use domain::alerting::routing::ScheduleSlot;
use domain::Permission;
use leptos::prelude::*;

/// The scheduler's settings card of the notifications page.
#[component]
pub fn ScheduleCard() -> impl IntoView {
    let me = use_me();
    let save = ServerAction::<SaveSchedule>::new();
    let current = Resource::new(move || save.version().get(), |_| schedule_settings());
    let err = move || save.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || err().and_then(|e| e.field(name)));
    // One reminder: on/off, its time, what it does.
    let slot = move |key: &'static str,
                     error: &'static str,
                     label: Msg,
                     s: ScheduleSlot,
                     editor: bool| {
        view! {
            <div class="schedule-row" data-testid=format!("schedule-{key}")>
                <label class="check">
                    <input type="checkbox" name=format!("s[{key}_on]") checked=s.on disabled=!editor />
                    <span>{t(label)}</span>
                </label>
                <label class="schedule-at">
                    <span class="sr-only">{t(Msg::TimeOfDay)}</span>
                    <input type="time" name=format!("s[{key}_at]") value=s.at required disabled=!editor />
                    <FieldError error=field(error) />
                </label>
            </div>
        }
    };
    let body = move || {
        Suspend::new(async move {
            let editor = matches!(me.await, Ok(Some(m)) if m.can(Permission::EditRouting));
            let v = match current.await {
                Err(e) => return error_box(e),
                Ok(v) => v,
            };
            let s = v.settings;
            let chosen = s.weekly_channel.clone();
            let options = v
                .channels
                .into_iter()
                .map(
                    |c| view! { <option selected=c == chosen value=c.clone()>{c.clone()}</option> },
                )
                .collect_view();
            view! {
                <ActionForm action=save attr:class="form schedule-form">
                    <p class="muted small">{t(Msg::ScheduleHint)}" "<strong>{v.time_zone}</strong></p>
                    {slot("digest", "digest.at", Msg::ScheduleDigest, s.digest, editor)}
                    {slot("postmortems", "postmortems.at", Msg::SchedulePostmortems, s.postmortems, editor)}
                    {slot("action_items", "action_items.at", Msg::ScheduleActionItems, s.action_items, editor)}
                    {slot("weekly", "weekly.at", Msg::ScheduleWeekly, s.weekly, editor)}
                    <label class="schedule-channel">
                        <span>{t(Msg::ScheduleWeeklyChannel)}</span>
                        <select name="s[weekly_channel]" disabled=!editor>
                            <option value="">{t(Msg::ScheduleByRouting)}</option>
                            {options}
                        </select>
                        <FieldError error=field("weekly_channel") />
                    </label>
                    <label class="check">
                        <input type="checkbox" name="s[deadlines]" checked=s.deadlines disabled=!editor />
                        <span>{t(Msg::ScheduleDeadlines)}</span>
                    </label>
                    {move || err().filter(|e| !matches!(e, AppError::Invalid(_))).map(error_box)}
                    {editor.then(|| view! {
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" disabled=save.pending()>{t(Msg::Save)}</button>
                            {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <span class="ok" role="status">{t(Msg::Saved)}</span> })}
                        </div>
                    })}
                </ActionForm>
            }
            .into_any()
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>{body}</Transition>
    }
}
