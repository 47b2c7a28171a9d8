//! On-call use cases: people's contact methods, schedules and overrides (who is on call
//! now, the final schedule, "my shifts"), escalation policies and the escalation loop the
//! engine runs (start a run for a firing alert routed to a policy, fire due steps, send due
//! pages, stop on acknowledgement or recovery), signed acknowledgement links, and the
//! iCalendar feeds behind secret URLs.

mod demo;
mod links;
mod paging;

use crate::incidents::Person;
use crate::notify::channels::{self, ChannelConfig, ChannelKind};
use crate::Result;
use crate::{Caller, ServiceError};
use chrono_tz::Tz;
use domain::oncall::escalation::{self, Method, NotifyRule, PolicySpec, Target};
use domain::oncall::{self as oc, ical, Override, ScheduleSpec, Shift, DAY_MS};
use domain::Permission;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
/// Which calendar feed (a schedule's or a person's): part of this API.
pub use store::oncall::FeedKind;
use store::oncall::{Contact, EscalationPolicy, NewEscalation, NewPage, OverrideRow};
use store::{AuditCtx, Escalation, Page, Schedule};

/// The longest view of a schedule the UI asks for.
pub const MAX_VIEW_DAYS: i64 = 35;
/// How long a signed acknowledgement link works after it is sent.
pub const ACK_LINK_TTL_MS: i64 = 24 * 3_600_000;

/// Who a schedule has on call over a stretch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnCall {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Put there by an override rather than a layer.
    pub by_override: bool,
}

/// A schedule as the list and the home page show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub layers: usize,
    /// `None`: a gap right now.
    pub now: Option<OnCall>,
    /// The next person after the current stretch (within 4 weeks).
    pub next: Option<OnCall>,
}

/// Everything the schedule page draws for `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub schedule: Schedule,
    pub from_ms: i64,
    pub to_ms: i64,
    pub now_ms: i64,
    /// Each layer's own shifts (index = layer).
    pub layers: Vec<Vec<Shift>>,
    pub final_shifts: Vec<Shift>,
    pub overrides: Vec<OverrideRow>,
    pub people: Vec<Person>,
    /// Who is on call now (whether or not now is in the range shown).
    pub on_call_now: Option<OnCall>,
    /// When the calendar feed's secret URL was made (`None`: no feed yet).
    pub feed_created_at_ms: Option<i64>,
}

/// A stretch the signed-in person is on call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyShift {
    pub schedule_id: i64,
    pub schedule_name: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A person's contact settings with their account's email and zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub phone: String,
    pub feishu_id: String,
    /// The rules in effect (the defaults when none are saved).
    pub rules: Vec<NotifyRule>,
    pub custom_rules: bool,
    pub feed_created_at_ms: Option<i64>,
}

/// A policy with the names of what its steps page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyView {
    pub policy: EscalationPolicy,
    /// Per step, per target: a display name.
    pub target_names: Vec<Vec<String>>,
    pub channel_names: Vec<String>,
    /// Alert rules routed to this policy.
    pub rules: Vec<String>,
}

/// A page with the paged person's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub page: Page,
    pub name: String,
}

/// An escalation run with its policy's name and its pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationView {
    pub escalation: Escalation,
    pub policy_name: String,
    pub steps_total: u32,
    pub pages: Vec<PageView>,
}

/// What one pass of the escalation loop did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EscalationReport {
    pub started: usize,
    pub resolved: usize,
    pub steps_fired: usize,
    pub pages_sent: usize,
    pub pages_failed: usize,
}

/// What a signed acknowledgement link did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckOutcome {
    pub title: String,
    /// False when it was already acknowledged or had recovered.
    pub acknowledged_now: bool,
    pub acked_by: Option<String>,
}

/// The IANA zone of a schedule (`time_zone` error otherwise).
pub fn zone(name: &str) -> Result<Tz> {
    name.trim().parse::<Tz>().map_err(|_| {
        ServiceError::invalid(
            "time_zone",
            format!("{name:?} is not an IANA time zone (e.g. Asia/Shanghai)"),
        )
    })
}

fn final_of(s: &Schedule, ovs: &[OverrideRow], from: i64, to: i64) -> Vec<Shift> {
    let Ok(tz) = zone(&s.spec.time_zone) else {
        return Vec::new();
    };
    let mine: Vec<Override> =
        ovs.iter().filter(|o| o.schedule_id == s.id).map(|o| o.ov.clone()).collect();
    oc::final_schedule(&s.spec, &mine, &tz, from, to)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl crate::Oncall<'_> {
    fn person_map(people: &[Person]) -> BTreeMap<i64, &Person> {
        people.iter().map(|p| (p.id, p)).collect()
    }

    /// Validates `spec`; the audit stamp for writing it.
    async fn check_schedule(&self, actor: &Caller, spec: &ScheduleSpec) -> Result<store::AuditCtx> {
        let mut errs = spec.validate().err().unwrap_or_default();
        if !spec.time_zone.trim().is_empty() {
            if let Err(ServiceError::Invalid(e)) = zone(&spec.time_zone) {
                errs.0.extend(e.0);
            }
        }
        let people = self.incidents().people_directory().await?;
        for (i, l) in spec.layers.iter().enumerate() {
            let field = format!("layers.{i}.participants");
            if let Err(ServiceError::Invalid(e)) =
                crate::incidents::check_ids(&people, &l.participants, &field)
            {
                errs.0.extend(e.0);
            }
        }
        errs.into_result().map_err(ServiceError::Invalid)?;
        Ok(self.audit_ctx(actor))
    }

    /// Creates a schedule (editor).
    pub async fn create_schedule(&self, actor: &Caller, spec: ScheduleSpec) -> Result<Schedule> {
        actor.require(Permission::EditOncall)?;
        let ctx = self.check_schedule(actor, &spec).await?;
        Ok(self.store.create_schedule(&spec, &ctx).await?)
    }

    /// Replaces a schedule's definition when `version` is current (editor).
    pub async fn update_schedule(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: ScheduleSpec,
    ) -> Result<Schedule> {
        actor.require(Permission::EditOncall)?;
        let ctx = self.check_schedule(actor, &spec).await?;
        Ok(self.store.update_schedule(id, version, &spec, &ctx).await?)
    }

    /// Deletes a schedule (editor); refused while a policy pages it.
    pub async fn delete_schedule(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditOncall)?;
        if let Some(p) = self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .find(|p| p.spec.steps.iter().any(|s| s.targets.contains(&Target::Schedule(id))))
        {
            return Err(ServiceError::Conflict(format!(
                "the escalation policy {:?} pages this schedule; remove it from the policy first",
                p.spec.name
            )));
        }
        self.store.delete_schedule(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// Every schedule with who is on call now and next (viewer).
    pub async fn schedules(&self, actor: &Caller) -> Result<Vec<ScheduleSummary>> {
        actor.require(Permission::ViewOncall)?;
        self.summaries(None).await
    }

    /// Summaries of every schedule, or of schedule `only`.
    async fn summaries(&self, only: Option<i64>) -> Result<Vec<ScheduleSummary>> {
        let now = self.now_ms();
        let horizon = now + 28 * DAY_MS;
        let schedules = match only {
            Some(id) => vec![self.store.schedule(id).await?],
            None => self.store.schedules().await?,
        };
        let ovs = self.store.overrides(only, now, horizon).await?;
        let people = self.incidents().people_directory().await?;
        let contacts = self.store.contacts().await?;
        let by_id = Self::person_map(&people);
        let on_call = |s: &Shift| -> Option<OnCall> {
            let p = by_id.get(&s.user_id?)?;
            Some(OnCall {
                user_id: p.id,
                name: p.name.clone(),
                email: p.email.clone(),
                phone: contacts
                    .iter()
                    .find(|c| c.user_id == p.id)
                    .map(|c| c.phone.clone())
                    .unwrap_or_default(),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                by_override: matches!(s.source, oc::Source::Override(_)),
            })
        };
        Ok(schedules
            .iter()
            .map(|s| {
                let fin = final_of(s, &ovs, now, horizon);
                let current = fin.first().and_then(&on_call);
                let next = fin
                    .iter()
                    .skip(1)
                    .find(|x| {
                        x.user_id.is_some() && x.user_id != current.as_ref().map(|c| c.user_id)
                    })
                    .and_then(&on_call);
                ScheduleSummary {
                    id: s.id,
                    name: s.spec.name.clone(),
                    description: s.spec.description.clone(),
                    time_zone: s.spec.time_zone.clone(),
                    layers: s.spec.layers.len(),
                    now: current,
                    next,
                }
            })
            .collect())
    }

    /// A schedule's layers, overrides and final schedule for `days` days from `from_ms`
    /// (viewer).
    pub async fn schedule_view(
        &self,
        actor: &Caller,
        id: i64,
        from_ms: i64,
        days: i64,
    ) -> Result<ScheduleView> {
        actor.require(Permission::ViewOncall)?;
        if !(1..=MAX_VIEW_DAYS).contains(&days) {
            return Err(ServiceError::invalid(
                "days",
                format!("must be between 1 and {MAX_VIEW_DAYS}"),
            ));
        }
        let schedule = self.store.schedule(id).await?;
        let tz = zone(&schedule.spec.time_zone)?;
        let to_ms = from_ms + days * DAY_MS;
        let overrides = self.store.overrides(Some(id), from_ms, to_ms).await?;
        let layers =
            schedule.spec.layers.iter().map(|l| oc::layer_shifts(l, &tz, from_ms, to_ms)).collect();
        let final_shifts = final_of(&schedule, &overrides, from_ms, to_ms);
        Ok(ScheduleView {
            layers,
            final_shifts,
            overrides,
            people: self.incidents().people_directory().await?,
            on_call_now: self.summaries(Some(id)).await?.into_iter().next().and_then(|s| s.now),
            now_ms: self.now_ms(),
            feed_created_at_ms: self.store.feed_created_at(FeedKind::Schedule, id).await?,
            schedule,
            from_ms,
            to_ms,
        })
    }

    /// Puts `user_id` on call for `[start_ms, end_ms)` on a schedule (editor); with
    /// `replaces`, only where that person was on call.
    #[expect(clippy::too_many_arguments)]
    pub async fn add_override(
        &self,
        actor: &Caller,
        schedule_id: i64,
        start_ms: i64,
        end_ms: i64,
        user_id: i64,
        replaces: Option<i64>,
        note: &str,
    ) -> Result<OverrideRow> {
        actor.require(Permission::EditOncall)?;
        self.store.schedule(schedule_id).await?;
        let now = self.now_ms();
        let mut errs = oc::validate_override(start_ms, end_ms, now).err().unwrap_or_default();
        let people = self.incidents().people_directory().await?;
        if !people.iter().any(|p| p.id == user_id) {
            errs.add("user", "pick an active person");
        }
        if let Some(r) = replaces {
            if r == user_id {
                errs.add("replaces", "cannot replace a person with themselves");
            } else if !people.iter().any(|p| p.id == r) {
                errs.add("replaces", "pick an active person");
            }
        }
        if note.chars().count() > 500 {
            errs.too_long("note", 500);
        }
        errs.into_result().map_err(ServiceError::Invalid)?;
        let ov = Override { id: 0, start_ms, end_ms, user_id, replaces };
        Ok(self.store.add_override(schedule_id, &ov, note, &actor.audit(now)).await?)
    }

    pub async fn delete_override(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditOncall)?;
        self.store.delete_override(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// The signed-in person's shifts over the next `days` days, across schedules.
    pub async fn my_shifts(&self, actor: &Caller, days: i64) -> Result<Vec<MyShift>> {
        actor.require(Permission::ViewOncall)?;
        let now = self.now_ms();
        let to = now + days.clamp(1, MAX_VIEW_DAYS) * DAY_MS;
        self.shifts_of(actor.person()?, now, to).await
    }

    async fn shifts_of(&self, user_id: i64, from: i64, to: i64) -> Result<Vec<MyShift>> {
        let ovs = self.store.overrides(None, from, to).await?;
        let mut out = Vec::new();
        for s in self.store.schedules().await? {
            for x in final_of(&s, &ovs, from, to) {
                if x.user_id == Some(user_id) {
                    // One stretch even where a layer and an override of the same person meet.
                    match out.last_mut() {
                        Some(MyShift { schedule_id, end_ms, .. })
                            if *schedule_id == s.id && *end_ms == x.start_ms =>
                        {
                            *end_ms = x.end_ms
                        }
                        _ => out.push(MyShift {
                            schedule_id: s.id,
                            schedule_name: s.spec.name.clone(),
                            start_ms: x.start_ms,
                            end_ms: x.end_ms,
                        }),
                    }
                }
            }
        }
        out.sort_by_key(|m| (m.start_ms, m.schedule_id));
        Ok(out)
    }

    // ---- people ----------------------------------------------------------------------

    fn require_self_or_admin(actor: &Caller, user_id: i64) -> Result<()> {
        if actor.user_id() == Some(user_id) {
            actor.require(Permission::ManageOwnAccount)
        } else {
            actor.require(Permission::ManageUsers)
        }
    }

    /// A person's contact settings (themselves, or an admin).
    pub async fn contact(&self, actor: &Caller, user_id: i64) -> Result<ContactView> {
        Self::require_self_or_admin(actor, user_id)?;
        let u = self.store.user_by_id(user_id).await?;
        let c = self.store.contact(user_id).await?;
        Ok(ContactView {
            user_id,
            name: u.name,
            email: u.email,
            time_zone: u.time_zone,
            phone: c.phone,
            feishu_id: c.feishu_id,
            custom_rules: !c.rules.is_empty(),
            rules: if c.rules.is_empty() { escalation::default_rules() } else { c.rules },
            feed_created_at_ms: self.store.feed_created_at(FeedKind::User, user_id).await?,
        })
    }

    /// Saves a person's phone, Feishu id and notification rules (themselves, or an admin).
    pub async fn save_contact(
        &self,
        actor: &Caller,
        user_id: i64,
        phone: &str,
        feishu_id: &str,
        rules: Vec<NotifyRule>,
    ) -> Result<ContactView> {
        Self::require_self_or_admin(actor, user_id)?;
        escalation::validate_contact(phone, feishu_id, &rules).map_err(ServiceError::Invalid)?;
        self.store.user_by_id(user_id).await?;
        let mut rules = rules;
        rules.sort_by_key(|r| (r.delay_min, r.method));
        rules.dedup();
        self.store
            .save_contact(
                &Contact {
                    user_id,
                    phone: phone.trim().into(),
                    feishu_id: feishu_id.trim().into(),
                    rules,
                },
                &self.audit_ctx(actor),
            )
            .await?;
        self.contact(actor, user_id).await
    }
}
