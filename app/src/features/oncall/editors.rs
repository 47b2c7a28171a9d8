//! The schedule editor (layers with their rotation, participants in order and restriction
//! windows) and the escalation policy editor (steps with targets and delays, repeats,
//! channels). Both edit one signal holding the whole definition and save it at once; the
//! server validates and names the field of each error.

use super::server_fns::*;
use crate::components::error_box;
use crate::components::{FieldError, RequirePermission};
use crate::error::AppError;
use crate::i18n::{t, Msg};
use domain::oncall::escalation::{PolicySpec, Step, Target};
use domain::oncall::{Layer, Rotation, RotationKind, ScheduleSpec, Window};
use domain::Permission;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;

const DAYS: [Msg; 7] =
    [Msg::DayMon, Msg::DayTue, Msg::DayWed, Msg::DayThu, Msg::DayFri, Msg::DaySat, Msg::DaySun];

fn id_param() -> Memo<i64> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0))
}

#[component]
pub fn ScheduleEditorPage() -> impl IntoView {
    let id = id_param();
    let data = Resource::new(move || id.get(), schedule_edit);
    view! {
        <Title text=t(Msg::OncallEditSchedule) />
        <RequirePermission can=Permission::EditOncall>
            <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => error_box(e),
                        Ok(d) => schedule_form(id.get_untracked(), d),
                    }
                })}
            </Transition>
        </RequirePermission>
    }
}

fn schedule_form(id: i64, d: ScheduleDraft) -> AnyView {
    let navigate = use_navigate();
    let spec = RwSignal::new(d.spec);
    let people = StoredValue::new(d.people);
    let save = ServerAction::<SaveSchedule>::new();
    let del = ServerAction::<DeleteSchedule>::new();
    {
        let navigate = navigate.clone();
        Effect::new(move |_| {
            if let Some(Ok(new_id)) = save.value().get() {
                navigate(&format!("/oncall/schedules/{new_id}"), NavigateOptions::default());
            }
        });
    }
    Effect::new(move |_| {
        if let Some(Ok(())) = del.value().get() {
            navigate("/oncall", NavigateOptions::default());
        }
    });
    let err = move |name: String| {
        Signal::derive(move || {
            save.value().get().and_then(Result::err).and_then(|e| e.field(&name))
        })
    };
    let other = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .filter(|e| !matches!(e, AppError::Invalid(_)))
            .or_else(|| del.value().get().and_then(Result::err))
    };
    // Only adding or removing a layer redraws the list (inputs keep their focus).
    let count = Memo::new(move |_| spec.with(|s| s.layers.len()));
    let layers = move || {
        (0..count.get()).rev().map(move |i| layer_editor(spec, i, people, err)).collect_view()
    };
    view! {
        <form class="form editor" data-testid="schedule-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            save.dispatch(SaveSchedule { id, version: d.version, spec: spec.get_untracked() });
        }>
            <header class="page-header">
                <h1>{if id == 0 { t(Msg::OncallNewSchedule) } else { t(Msg::OncallEditSchedule) }}</h1>
                <div class="actions">
                    {(id != 0).then(|| view! {
                        <a class="btn" href=format!("/oncall/schedules/{id}")>{t(Msg::Cancel)}</a>
                        <button type="button" class="btn btn-danger" on:click=move |_| { del.dispatch(DeleteSchedule { id }); }>{t(Msg::Delete)}</button>
                    })}
                    <button class="btn btn-primary" type="submit" disabled=move || save.pending().get()>{t(Msg::Save)}</button>
                </div>
            </header>
            {move || other().map(error_box)}
            <section class="card">
                <div class="form-row">
                    <label class="grow"><span>{t(Msg::Name)}</span>
                        <input name="name" required prop:value=move || spec.with(|s| s.name.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.name = v); } />
                        <FieldError error=err("name".into()) />
                    </label>
                    <label><span>{t(Msg::TimeZone)}</span>
                        <input name="time_zone" prop:value=move || spec.with(|s| s.time_zone.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.time_zone = v); } />
                        <FieldError error=err("time_zone".into()) />
                    </label>
                </div>
                <label><span>{t(Msg::Description)}</span>
                    <input name="description" prop:value=move || spec.with(|s| s.description.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.description = v); } />
                </label>
                <FieldError error=err("layers".into()) />
                <p class="muted small">{t(Msg::OncallLayersHint)}</p>
                <button type="button" class="btn" on:click=move |_| spec.update(|s| {
                    let start = s.layers.last().map(|l| l.rotation.start.clone()).unwrap_or_default();
                    s.layers.push(Layer {
                        name: format!("Layer {}", s.layers.len() + 1),
                        participants: vec![],
                        rotation: Rotation { kind: RotationKind::Weekly, every: 1, start },
                        restrictions: vec![],
                    });
                })>{t(Msg::OncallAddLayer)}</button>
            </section>
            {layers}
        </form>
    }
    .into_any()
}

fn layer_editor(
    spec: RwSignal<ScheduleSpec>,
    i: usize,
    people: StoredValue<Vec<Option2>>,
    err: impl Fn(String) -> Signal<Option<String>> + Copy + 'static,
) -> AnyView {
    let get = move |f: fn(&Layer) -> String| {
        move || spec.with(|s| s.layers.get(i).map(f).unwrap_or_default())
    };
    let set = move |f: fn(&mut Layer, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            spec.update(|s| {
                if let Some(l) = s.layers.get_mut(i) {
                    f(l, v);
                }
            });
        }
    };
    let name_of = move |id: i64| {
        people.with_value(|ps| {
            ps.iter().find(|p| p.id == id).map_or_else(|| format!("user {id}"), |p| p.name.clone())
        })
    };
    let list = Memo::new(move |_| {
        spec.with(|s| s.layers.get(i).map(|l| l.participants.clone()).unwrap_or_default())
    });
    let participants = move || {
        list.get().into_iter()
            .enumerate()
            .map(|(j, p)| view! {
                <li>{name_of(p)}" "
                    <button type="button" class="btn btn-small" aria-label=t(Msg::OncallMoveUp) disabled=j == 0
                        on:click=move |_| spec.update(|s| if let Some(l) = s.layers.get_mut(i) { l.participants.swap(j - 1, j); })>"↑"</button>
                    <button type="button" class="btn btn-small" aria-label=t(Msg::Remove)
                        on:click=move |_| spec.update(|s| if let Some(l) = s.layers.get_mut(i) { l.participants.remove(j); })>"×"</button>
                </li>
            })
            .collect_view()
    };
    // Redrawn when a window is added or removed; edits inside apply on change.
    let n_windows =
        Memo::new(move |_| spec.with(|s| s.layers.get(i).map_or(0, |l| l.restrictions.len())));
    let windows = move || {
        let list = spec.with_untracked(|s| {
            s.layers.get(i).map(|l| l.restrictions.clone()).unwrap_or_default()
        });
        let _ = n_windows.get();
        list.into_iter().enumerate().map(|(j, w)| window_editor(spec, i, j, w)).collect_view()
    };
    view! {
        <section class="card layer" data-testid="layer">
            <div class="form-row">
                <label class="grow"><span>{t(Msg::OncallLayer)}" "{i + 1}</span>
                    <input prop:value=get(|l| l.name.clone()) on:input=set(|l, v| l.name = v) />
                    <FieldError error=err(format!("layers.{i}.name")) />
                </label>
                <label class="narrow"><span>{t(Msg::OncallRotation)}</span>
                    <select on:change=set(|l, v| if let Some(k) = RotationKind::parse(&v) { l.rotation.kind = k; })>
                        {RotationKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || spec.with(|s| s.layers.get(i).is_some_and(|l| l.rotation.kind == k))>{k.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="narrow"><span>{t(Msg::OncallEvery)}</span>
                    <input type="number" min="1" max="1000" prop:value=get(|l| l.rotation.every.to_string())
                        on:input=set(|l, v| l.rotation.every = v.parse().unwrap_or(0)) />
                    <FieldError error=err(format!("layers.{i}.every")) />
                </label>
                <label><span>{t(Msg::OncallHandoff)}</span>
                    <input type="datetime-local" prop:value=get(|l| l.rotation.start.clone()) on:input=set(|l, v| l.rotation.start = v) />
                    <FieldError error=err(format!("layers.{i}.start")) />
                </label>
                <button type="button" class="btn btn-small btn-danger" on:click=move |_| spec.update(|s| { if i < s.layers.len() { s.layers.remove(i); } })>{t(Msg::Remove)}</button>
            </div>
            <div class="two-col">
                <div>
                    <h3>{t(Msg::OncallParticipants)}</h3>
                    <ol class="participants">{participants}</ol>
                    <select aria-label=t(Msg::OncallAddPerson) on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if let Ok(id) = v.parse::<i64>() {
                            spec.update(|s| if let Some(l) = s.layers.get_mut(i) { l.participants.push(id); });
                        }
                    }>
                        <option value="" selected=true>{t(Msg::OncallAddPerson)}</option>
                        {people.with_value(|ps| ps.iter().map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> }).collect_view())}
                    </select>
                    <FieldError error=err(format!("layers.{i}.participants")) />
                </div>
                <div>
                    <h3>{t(Msg::OncallRestrictions)}</h3>
                    <p class="muted small">{t(Msg::OncallRestrictionsHint)}</p>
                    {windows}
                    <button type="button" class="btn btn-small" on:click=move |_| spec.update(|s| if let Some(l) = s.layers.get_mut(i) {
                        l.restrictions.push(Window { days: vec![0, 1, 2, 3, 4], start: "09:00".into(), end: "18:00".into() });
                    })>{t(Msg::OncallAddWindow)}</button>
                    <FieldError error=err(format!("layers.{i}.restrictions")) />
                </div>
            </div>
        </section>
    }
    .into_any()
}

fn window_editor(spec: RwSignal<ScheduleSpec>, i: usize, j: usize, w: Window) -> AnyView {
    let edit = move |f: Box<dyn Fn(&mut Window)>| {
        spec.update(|s| {
            if let Some(w) = s.layers.get_mut(i).and_then(|l| l.restrictions.get_mut(j)) {
                f(w);
            }
        })
    };
    view! {
        <div class="window">
            {DAYS.iter().enumerate().map(|(d, m)| {
                let d = d as u8;
                let checked = w.days.contains(&d);
                view! {
                    <label class="check"><input type="checkbox" checked=checked on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        edit(Box::new(move |w| { w.days.retain(|x| *x != d); if on { w.days.push(d); w.days.sort_unstable(); } }));
                    } />{t(*m)}</label>
                }
            }).collect_view()}
            <input type="time" value=w.start.clone() aria-label=t(Msg::OncallFrom) on:change=move |ev| {
                let v = event_target_value(&ev); edit(Box::new(move |w| w.start = v.clone()));
            } />
            "–"
            <input type="time" value=w.end.clone() aria-label=t(Msg::OncallTo) on:change=move |ev| {
                let v = event_target_value(&ev); edit(Box::new(move |w| w.end = v.clone()));
            } />
            <button type="button" class="btn btn-small" aria-label=t(Msg::Remove) on:click=move |_| spec.update(|s| {
                if let Some(l) = s.layers.get_mut(i) { if j < l.restrictions.len() { l.restrictions.remove(j); } }
            })>"×"</button>
        </div>
    }
    .into_any()
}

#[component]
pub fn PolicyEditorPage() -> impl IntoView {
    let id = id_param();
    let data = Resource::new(move || id.get(), policy_edit);
    view! {
        <Title text=t(Msg::OncallPolicy) />
        <Transition fallback=|| view! { <p class="muted">{t(Msg::Loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => error_box(e),
                    Ok(d) => policy_form(id.get_untracked(), d),
                }
            })}
        </Transition>
    }
}

fn policy_form(id: i64, d: PolicyDraft) -> AnyView {
    let navigate = use_navigate();
    let spec = RwSignal::new(d.spec);
    let choices = StoredValue::new((d.schedules, d.people, d.channels));
    let save = ServerAction::<SavePolicy>::new();
    let del = ServerAction::<DeletePolicy>::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) || matches!(del.value().get(), Some(Ok(()))) {
            navigate("/oncall", NavigateOptions::default());
        }
    });
    let err = move |name: String| {
        Signal::derive(move || {
            save.value().get().and_then(Result::err).and_then(|e| e.field(&name))
        })
    };
    let other = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .filter(|e| !matches!(e, AppError::Invalid(_)))
            .or_else(|| del.value().get().and_then(Result::err))
    };
    let count = Memo::new(move |_| spec.with(|s| s.steps.len()));
    let steps =
        move || (0..count.get()).map(move |i| step_editor(spec, i, choices, err)).collect_view();
    view! {
        <form class="form editor" data-testid="policy-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            save.dispatch(SavePolicy { id, version: d.version, spec: spec.get_untracked() });
        }>
            <header class="page-header">
                <h1>{t(Msg::OncallPolicy)}</h1>
                <div class="actions">
                    <a class="btn" href="/oncall">{t(Msg::Cancel)}</a>
                    {(id != 0).then(|| view! {
                        <button type="button" class="btn btn-danger" on:click=move |_| { del.dispatch(DeletePolicy { id }); }>{t(Msg::Delete)}</button>
                    })}
                    <button class="btn btn-primary" type="submit" disabled=move || save.pending().get()>{t(Msg::Save)}</button>
                </div>
            </header>
            {move || other().map(error_box)}
            <section class="card">
                <div class="form-row">
                    <label class="grow"><span>{t(Msg::Name)}</span>
                        <input name="name" required prop:value=move || spec.with(|s| s.name.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.name = v); } />
                        <FieldError error=err("name".into()) />
                    </label>
                    <label class="narrow"><span>{t(Msg::OncallRepeat)}</span>
                        <input type="number" min="0" max="9" prop:value=move || spec.with(|s| s.repeat.to_string())
                            on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.repeat = v.parse().unwrap_or(0)); } />
                        <FieldError error=err("repeat".into()) />
                    </label>
                </div>
                <label><span>{t(Msg::Description)}</span>
                    <input name="description" prop:value=move || spec.with(|s| s.description.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| s.description = v); } />
                </label>
                <fieldset>
                    <legend>{t(Msg::OncallChannels)}</legend>
                    <p class="muted small">{t(Msg::OncallChannelsHint)}</p>
                    {choices.with_value(|(_, _, cs)| cs.is_empty()).then(|| view! {
                        <p class="muted small">{t(Msg::OncallNoChannels)}" "<a href="/alerts/notifications">{t(Msg::OncallAddChannels)}</a></p>
                    })}
                    {choices.with_value(|(_, _, cs)| cs.iter().map(|c| {
                        let cid = c.id;
                        view! { <label class="check"><input type="checkbox" checked=move || spec.with(|s| s.channel_ids.contains(&cid))
                            on:change=move |ev| { let on = event_target_checked(&ev); spec.update(|s| { s.channel_ids.retain(|x| *x != cid); if on { s.channel_ids.push(cid); } }); } />{c.name.clone()}</label> }
                    }).collect_view())}
                    <FieldError error=err("channels".into()) />
                </fieldset>
                <FieldError error=err("steps".into()) />
            </section>
            {steps}
            <button type="button" class="btn" on:click=move |_| spec.update(|s| s.steps.push(Step { targets: vec![], delay_min: 10 }))>{t(Msg::OncallAddStep)}</button>
        </form>
    }
    .into_any()
}

type Choices = (Vec<Option2>, Vec<Option2>, Vec<Option2>);

fn step_editor(
    spec: RwSignal<PolicySpec>,
    i: usize,
    choices: StoredValue<Choices>,
    err: impl Fn(String) -> Signal<Option<String>> + Copy + 'static,
) -> AnyView {
    let target_box = move |target: Target, name: String| {
        view! {
            <label class="check"><input type="checkbox" checked=move || spec.with(|s| s.steps.get(i).is_some_and(|st| st.targets.contains(&target)))
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    spec.update(|s| if let Some(st) = s.steps.get_mut(i) { st.targets.retain(|x| *x != target); if on { st.targets.push(target); } });
                } />{name}</label>
        }
    };
    view! {
        <section class="card step" data-testid="step">
            <div class="form-row">
                <h3 class="grow">{t(Msg::OncallStep)}" "{i + 1}</h3>
                <label class="narrow"><span>{t(Msg::OncallWaitMinutes)}</span>
                    <input type="number" min="1" max="1440" prop:value=move || spec.with(|s| s.steps.get(i).map(|st| st.delay_min.to_string()).unwrap_or_default())
                        on:input=move |ev| { let v = event_target_value(&ev); spec.update(|s| if let Some(st) = s.steps.get_mut(i) { st.delay_min = v.parse().unwrap_or(0); }); } />
                    <FieldError error=err(format!("steps.{i}.delay_min")) />
                </label>
                <button type="button" class="btn btn-small btn-danger" on:click=move |_| spec.update(|s| { if i < s.steps.len() { s.steps.remove(i); } })>{t(Msg::Remove)}</button>
            </div>
            <div class="two-col">
                <fieldset><legend>{t(Msg::OncallSchedulesOnCall)}</legend>
                    {choices.with_value(|(ss, _, _)| ss.iter().map(|s| target_box(Target::Schedule(s.id), s.name.clone())).collect_view())}
                </fieldset>
                <fieldset><legend>{t(Msg::OncallPeople)}</legend>
                    {choices.with_value(|(_, ps, _)| ps.iter().map(|p| target_box(Target::User(p.id), p.name.clone())).collect_view())}
                </fieldset>
            </div>
            <FieldError error=err(format!("steps.{i}.targets")) />
        </section>
    }
    .into_any()
}
