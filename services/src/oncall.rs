//! On-call use cases: people's contact methods, schedules and overrides (who is on call
//! now, the final schedule, "my shifts"), escalation policies and the escalation loop the
//! engine runs (start a run for a firing alert routed to a policy, fire due steps, send due
//! pages, stop on acknowledgement or recovery), signed acknowledgement links, and the
//! iCalendar feeds behind secret URLs.

mod demo;

use crate::incidents::Person;
use crate::notify::channels::{self, ChannelConfig, ChannelKind};
use crate::{Caller, ServiceError};
use chrono_tz::Tz;
use domain::alerting::AlertState;
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
pub fn zone(name: &str) -> Result<Tz, ServiceError> {
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
    let mine: Vec<Override> = ovs
        .iter()
        .filter(|o| o.schedule_id == s.id)
        .map(|o| o.ov.clone())
        .collect();
    oc::final_schedule(&s.spec, &mine, &tz, from, to)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl crate::Oncall<'_> {
    fn person_map(people: &[Person]) -> BTreeMap<i64, &Person> {
        people.iter().map(|p| (p.id, p)).collect()
    }

    async fn check_schedule(&self, spec: &ScheduleSpec) -> Result<(), ServiceError> {
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
        errs.into_result().map_err(ServiceError::Invalid)
    }

    /// Creates a schedule (editor).
    pub async fn create_schedule(
        &self,
        actor: &Caller,
        spec: ScheduleSpec,
    ) -> Result<Schedule, ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.check_schedule(&spec).await?;
        Ok(self
            .store
            .create_schedule(&spec, &actor.audit(self.now_ms()))
            .await?)
    }

    /// Replaces a schedule's definition when `version` is current (editor).
    pub async fn update_schedule(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: ScheduleSpec,
    ) -> Result<Schedule, ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.check_schedule(&spec).await?;
        Ok(self
            .store
            .update_schedule(id, version, &spec, &actor.audit(self.now_ms()))
            .await?)
    }

    /// Deletes a schedule (editor); refused while a policy pages it.
    pub async fn delete_schedule(&self, actor: &Caller, id: i64) -> Result<(), ServiceError> {
        actor.require(Permission::EditOncall)?;
        if let Some(p) = self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .find(|p| {
                p.spec
                    .steps
                    .iter()
                    .any(|s| s.targets.contains(&Target::Schedule(id)))
            })
        {
            return Err(ServiceError::Conflict(format!(
                "the escalation policy {:?} pages this schedule; remove it from the policy first",
                p.spec.name
            )));
        }
        self.store
            .delete_schedule(id, &actor.audit(self.now_ms()))
            .await?;
        Ok(())
    }

    /// Every schedule with who is on call now and next (viewer).
    pub async fn schedules(&self, actor: &Caller) -> Result<Vec<ScheduleSummary>, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        self.summaries(None).await
    }

    /// Summaries of every schedule, or of schedule `only`.
    async fn summaries(&self, only: Option<i64>) -> Result<Vec<ScheduleSummary>, ServiceError> {
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
    ) -> Result<ScheduleView, ServiceError> {
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
        let layers = schedule
            .spec
            .layers
            .iter()
            .map(|l| oc::layer_shifts(l, &tz, from_ms, to_ms))
            .collect();
        let final_shifts = final_of(&schedule, &overrides, from_ms, to_ms);
        Ok(ScheduleView {
            layers,
            final_shifts,
            overrides,
            people: self.incidents().people_directory().await?,
            on_call_now: self
                .summaries(Some(id))
                .await?
                .into_iter()
                .next()
                .and_then(|s| s.now),
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
    ) -> Result<OverrideRow, ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.store.schedule(schedule_id).await?;
        let now = self.now_ms();
        let mut errs = oc::validate_override(start_ms, end_ms, now)
            .err()
            .unwrap_or_default();
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
        let ov = Override {
            id: 0,
            start_ms,
            end_ms,
            user_id,
            replaces,
        };
        Ok(self
            .store
            .add_override(schedule_id, &ov, note, &actor.audit(now))
            .await?)
    }

    pub async fn delete_override(&self, actor: &Caller, id: i64) -> Result<(), ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.store
            .delete_override(id, &actor.audit(self.now_ms()))
            .await?;
        Ok(())
    }

    /// The signed-in person's shifts over the next `days` days, across schedules.
    pub async fn my_shifts(&self, actor: &Caller, days: i64) -> Result<Vec<MyShift>, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        let now = self.now_ms();
        let to = now + days.clamp(1, MAX_VIEW_DAYS) * DAY_MS;
        self.shifts_of(actor.person()?, now, to).await
    }

    async fn shifts_of(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<MyShift>, ServiceError> {
        let ovs = self.store.overrides(None, from, to).await?;
        let mut out = Vec::new();
        for s in self.store.schedules().await? {
            for x in final_of(&s, &ovs, from, to) {
                if x.user_id == Some(user_id) {
                    // One stretch even where a layer and an override of the same person meet.
                    match out.last_mut() {
                        Some(MyShift {
                            schedule_id,
                            end_ms,
                            ..
                        }) if *schedule_id == s.id && *end_ms == x.start_ms => *end_ms = x.end_ms,
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

    fn require_self_or_admin(actor: &Caller, user_id: i64) -> Result<(), ServiceError> {
        if actor.user_id() == Some(user_id) {
            actor.require(Permission::ManageOwnAccount)
        } else {
            actor.require(Permission::ManageUsers)
        }
    }

    /// A person's contact settings (themselves, or an admin).
    pub async fn contact(&self, actor: &Caller, user_id: i64) -> Result<ContactView, ServiceError> {
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
            rules: if c.rules.is_empty() {
                escalation::default_rules()
            } else {
                c.rules
            },
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
    ) -> Result<ContactView, ServiceError> {
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
                &actor.audit(self.now_ms()),
            )
            .await?;
        self.contact(actor, user_id).await
    }

    // ---- escalation policies ------------------------------------------------------------

    async fn check_policy(&self, spec: &PolicySpec) -> Result<(), ServiceError> {
        let mut errs = spec.validate().err().unwrap_or_default();
        let people = self.incidents().people_directory().await?;
        let schedules = self.store.schedules().await?;
        for (i, s) in spec.steps.iter().enumerate() {
            for t in &s.targets {
                let ok = match t {
                    Target::User(id) => people.iter().any(|p| p.id == *id),
                    Target::Schedule(id) => schedules.iter().any(|x| x.id == *id),
                };
                if !ok {
                    errs.add(
                        &format!("steps.{i}.targets"),
                        "a schedule or person of this step no longer exists",
                    );
                    break;
                }
            }
        }
        let channels = self.store.channels().await?;
        if spec
            .channel_ids
            .iter()
            .any(|c| !channels.iter().any(|x| x.id == *c))
        {
            errs.add("channels", "pick channels from the list");
        }
        errs.into_result().map_err(ServiceError::Invalid)
    }

    pub async fn create_policy(
        &self,
        actor: &Caller,
        spec: PolicySpec,
    ) -> Result<EscalationPolicy, ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.check_policy(&spec).await?;
        Ok(self
            .store
            .create_escalation_policy(&spec, &actor.audit(self.now_ms()))
            .await?)
    }

    pub async fn update_policy(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: PolicySpec,
    ) -> Result<EscalationPolicy, ServiceError> {
        actor.require(Permission::EditOncall)?;
        self.check_policy(&spec).await?;
        Ok(self
            .store
            .update_escalation_policy(id, version, &spec, &actor.audit(self.now_ms()))
            .await?)
    }

    /// Deletes a policy (editor); refused while alert rules route to it.
    pub async fn delete_policy(&self, actor: &Caller, id: i64) -> Result<(), ServiceError> {
        actor.require(Permission::EditOncall)?;
        let rules = self.store.rules_with_state().await?;
        if let Some(r) = rules
            .iter()
            .find(|r| r.rule.spec.escalation_policy_id == Some(id))
        {
            return Err(ServiceError::Conflict(format!(
                "the alert rule {:?} routes to this policy; change the rule first",
                r.rule.spec.name
            )));
        }
        self.store
            .delete_escalation_policy(id, &actor.audit(self.now_ms()))
            .await?;
        Ok(())
    }

    /// One stored schedule, for its editor (viewer).
    pub async fn schedule(&self, actor: &Caller, id: i64) -> Result<Schedule, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        Ok(self.store.schedule(id).await?)
    }

    /// One stored escalation policy, for its editor (viewer).
    pub async fn escalation_policy(
        &self,
        actor: &Caller,
        id: i64,
    ) -> Result<EscalationPolicy, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        Ok(self.store.escalation_policy(id).await?)
    }

    /// Every policy with the names of its targets (viewer).
    pub async fn policies(&self, actor: &Caller) -> Result<Vec<PolicyView>, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        let people = self.incidents().people_directory().await?;
        let by_id = Self::person_map(&people);
        let schedules = self.store.schedules().await?;
        let channels = self.store.channels().await?;
        let rules = self.store.rules_with_state().await?;
        Ok(self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .map(|p| PolicyView {
                target_names: p
                    .spec
                    .steps
                    .iter()
                    .map(|s| {
                        s.targets
                            .iter()
                            .map(|t| match t {
                                Target::User(id) => by_id
                                    .get(id)
                                    .map_or_else(|| format!("user {id}"), |p| p.name.clone()),
                                Target::Schedule(id) => {
                                    schedules.iter().find(|s| s.id == *id).map_or_else(
                                        || format!("schedule {id}"),
                                        |s| format!("{} (on call)", s.spec.name),
                                    )
                                }
                            })
                            .collect()
                    })
                    .collect(),
                channel_names: p
                    .spec
                    .channel_ids
                    .iter()
                    .filter_map(|c| channels.iter().find(|x| x.id == *c).map(|x| x.name.clone()))
                    .collect(),
                rules: rules
                    .iter()
                    .filter(|r| r.rule.spec.escalation_policy_id == Some(p.id))
                    .map(|r| r.rule.spec.name.clone())
                    .collect(),
                policy: p,
            })
            .collect())
    }

    // ---- escalations -------------------------------------------------------------------

    /// One pass of the escalation loop (engine, leader only): start runs for firing alerts
    /// routed to a policy, resolve runs whose alert recovered, fire due steps, send due
    /// pages.
    pub async fn run_escalations(&self) -> Result<EscalationReport, ServiceError> {
        let mut report = EscalationReport::default();
        let now = self.now_ms();
        let ctx = AuditCtx::system("engine", now);
        // 1. Firing alerts of rules with a policy (without policies, the rules are not read).
        let policies: BTreeMap<i64, EscalationPolicy> = self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let rules = if policies.is_empty() {
            Vec::new()
        } else {
            self.store.rules_with_state().await?
        };
        let policy_of: BTreeMap<i64, i64> = rules
            .iter()
            .filter_map(|r| r.rule.spec.escalation_policy_id.map(|p| (r.rule.id, p)))
            .collect();
        let mut firing = BTreeSet::new();
        if !policy_of.is_empty() {
            for a in crate::alerting::active_alerts_of(&rules) {
                let Some(policy_id) = policy_of.get(&a.rule_id).copied() else {
                    continue;
                };
                if a.state != AlertState::Firing || !policies.contains_key(&policy_id) {
                    continue;
                }
                let key = crate::incidents::episode_key(&a);
                firing.insert(key.clone());
                let new = NewEscalation {
                    policy_id,
                    subject_key: key,
                    rule_id: Some(a.rule_id),
                    title: if a.summary.is_empty() {
                        a.rule_name.clone()
                    } else {
                        format!("{}: {}", a.rule_name, a.summary)
                    },
                    severity: a.severity.as_str().into(),
                    started_at_ms: now,
                };
                if self.store.start_escalation(&new, &ctx).await?.is_some() {
                    report.started += 1;
                }
            }
        }
        // 2. Runs of alerts that stopped firing end; 3. due steps fire.
        let open = self.store.open_escalations().await?;
        if open.is_empty() {
            report.pages_sent += self.send_due_pages(&mut report).await?;
            return Ok(report);
        }
        let mut schedules: Option<(Vec<Schedule>, Vec<OverrideRow>)> = None;
        let mut contacts: Option<Vec<Contact>> = None;
        for e in open {
            if e.rule_id.is_some() && !firing.contains(&e.subject_key) {
                self.store.resolve_escalation(e.id, now).await?;
                report.resolved += 1;
                continue;
            }
            let Some(policy) = policies.get(&e.policy_id) else {
                continue;
            };
            let fired = u32::try_from(e.fired).unwrap_or(u32::MAX);
            let due = policy.spec.due(e.started_at_ms, fired, now);
            if due.is_empty() {
                continue;
            }
            if schedules.is_none() {
                schedules = Some((
                    self.store.schedules().await?,
                    self.store.overrides(None, now, now + 1).await?,
                ));
            }
            if contacts.is_none() {
                contacts = Some(self.store.contacts().await?);
            }
            let (scheds, ovs) = schedules
                .as_ref()
                .map(|(a, b)| (a.as_slice(), b.as_slice()))
                .unwrap_or_default();
            let contacts = contacts.as_deref().unwrap_or_default();
            let mut pages = Vec::new();
            for d in &due {
                let mut users = Vec::new();
                for t in &policy.spec.steps[d.step].targets {
                    let who = match t {
                        Target::User(id) => Some(*id),
                        Target::Schedule(id) => scheds.iter().find(|s| s.id == *id).and_then(|s| {
                            final_of(s, ovs, now, now + 1)
                                .first()
                                .and_then(|x| x.user_id)
                        }),
                    };
                    if let Some(u) = who.filter(|u| !users.contains(u)) {
                        users.push(u);
                    }
                }
                for u in users {
                    let rules = contacts
                        .iter()
                        .find(|c| c.user_id == u)
                        .map(|c| c.rules.clone())
                        .filter(|r| !r.is_empty())
                        .unwrap_or_else(escalation::default_rules);
                    for r in rules {
                        pages.push(NewPage {
                            seq: i64::from(d.seq),
                            user_id: u,
                            method: r.method,
                            due_at_ms: now + i64::from(r.delay_min) * oc::MINUTE_MS,
                        });
                    }
                }
            }
            let new_fired = fired + due.len() as u32;
            if self
                .store
                .record_steps(
                    e.id,
                    e.fired,
                    i64::from(new_fired),
                    policy.spec.next_at(e.started_at_ms, new_fired),
                    &pages,
                    now,
                )
                .await?
            {
                report.steps_fired += due.len();
                tracing::info!(
                    escalation = e.id,
                    steps = due.len(),
                    pages = pages.len(),
                    "escalation steps fired"
                );
            }
        }
        // 4. Pages.
        report.pages_sent += self.send_due_pages(&mut report).await?;
        Ok(report)
    }

    /// Sends every pending page that is due; returns how many were sent.
    async fn send_due_pages(&self, report: &mut EscalationReport) -> Result<usize, ServiceError> {
        let now = self.now_ms();
        let due = self.store.due_pages(now).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let channels = self.store.channels().await?;
        let contacts = self.store.contacts().await?;
        let people = self.incidents().people_directory().await?;
        let mut sent = 0;
        for p in due {
            let e = self.store.escalation(p.escalation_id).await?;
            let Ok(policy) = self.store.escalation_policy(e.policy_id).await else {
                continue;
            };
            let person = people.iter().find(|x| x.id == p.user_id);
            let contact = contacts.iter().find(|c| c.user_id == p.user_id);
            let result = match person {
                None => Err("the person is disabled or deleted".to_owned()),
                Some(person) => {
                    self.deliver_page(&p, &e, &policy.spec, person, contact, &channels)
                        .await
                }
            };
            let at = self.now_ms();
            match result {
                Ok(detail) => {
                    self.store.finish_page(p.id, "sent", &detail, at).await?;
                    sent += 1;
                }
                Err(err) => {
                    tracing::warn!(page = p.id, error = %err, "page not delivered");
                    self.store.finish_page(p.id, "failed", &err, at).await?;
                    report.pages_failed += 1;
                }
            }
        }
        Ok(sent)
    }

    async fn deliver_page(
        &self,
        p: &Page,
        e: &Escalation,
        policy: &PolicySpec,
        person: &Person,
        contact: Option<&Contact>,
        channels: &[store::notify::ChannelRow],
    ) -> Result<String, String> {
        let method = Method::parse(&p.method).ok_or("unknown method")?;
        let ack = self
            .ack_url(e.id, p.user_id)
            .await
            .map_err(|err| err.to_string())?;
        let subject = format!("[{}] {}", e.severity, e.title);
        let text = format!(
            "{subject}\nPaging {} (escalation step {}).\nAcknowledge: {ack}\nConsole: {}/oncall",
            person.name,
            p.seq + 1,
            self.public_url
        );
        let wanted: &[ChannelKind] = match method {
            Method::Chat => &[ChannelKind::Feishu, ChannelKind::Slack],
            Method::Email => &[ChannelKind::Email],
            Method::Phone => &[ChannelKind::Webhook],
        };
        let targets: Vec<&store::notify::ChannelRow> = channels
            .iter()
            .filter(|c| c.enabled && policy.channel_ids.contains(&c.id))
            .filter(|c| ChannelKind::parse(&c.kind).is_some_and(|k| wanted.contains(&k)))
            .collect();
        if targets.is_empty() {
            return Err(format!(
                "the policy has no {} channel for {} pages",
                wanted
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                method.as_str()
            ));
        }
        let key = format!("page-{}", p.id);
        let now = self.now_ms();
        let mut done = Vec::new();
        for c in targets {
            let kind = ChannelKind::parse(&c.kind).ok_or("unknown channel kind")?;
            let mut cfg: ChannelConfig = serde_json::from_str(&c.config)
                .map_err(|err| format!("bad channel settings: {err}"))?;
            let body = match kind {
                ChannelKind::Feishu => {
                    let mention = contact
                        .map(|c| c.feishu_id.trim())
                        .filter(|f| !f.is_empty())
                        .map(|f| format!("<at user_id=\"{f}\">{}</at> ", person.name))
                        .unwrap_or_default();
                    serde_json::json!({"msg_type": "text", "content": {"text": format!("{mention}{text}")}})
                }
                ChannelKind::Slack => serde_json::json!({ "text": text }),
                ChannelKind::Email => {
                    cfg.to = person.email.clone();
                    serde_json::json!({"subject": subject, "text": text})
                }
                ChannelKind::Webhook => serde_json::json!({
                    "version": "vigil.v1",
                    "kind": "page",
                    "idempotency_key": key,
                    "method": method.as_str(),
                    "title": subject,
                    "text": text,
                    "ack_url": ack,
                    "person": {
                        "id": person.id,
                        "name": person.name,
                        "email": person.email,
                        "phone": contact.map(|c| c.phone.clone()).unwrap_or_default(),
                        "feishu_id": contact.map(|c| c.feishu_id.clone()).unwrap_or_default(),
                    },
                }),
            };
            if method == Method::Phone && contact.is_none_or(|c| c.phone.trim().is_empty()) {
                return Err(format!("{} has no phone number", person.name));
            }
            channels::send(&self.http, kind, &cfg, &body, &key, now)
                .await
                .map_err(|err| format!("{}: {err}", c.name))?;
            done.push(c.name.clone());
        }
        Ok(format!("sent via {}", done.join(", ")))
    }

    /// Open runs and the latest others, with their pages (viewer).
    pub async fn escalations(
        &self,
        actor: &Caller,
        limit: i64,
    ) -> Result<Vec<EscalationView>, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        let mut runs = self.store.open_escalations().await?;
        for r in self.store.recent_escalations(limit.clamp(1, 200)).await? {
            if !runs.iter().any(|x| x.id == r.id) {
                runs.push(r);
            }
        }
        let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        let pages = self.store.pages_of(&ids).await?;
        let people = self.incidents().people_directory().await?;
        let policies = self.store.escalation_policies().await?;
        Ok(runs
            .into_iter()
            .map(|e| {
                let policy = policies.iter().find(|p| p.id == e.policy_id);
                EscalationView {
                    policy_name: policy.map(|p| p.spec.name.clone()).unwrap_or_default(),
                    steps_total: policy.map(|p| p.spec.total_steps()).unwrap_or(0),
                    pages: pages
                        .iter()
                        .filter(|p| p.escalation_id == e.id)
                        .map(|p| PageView {
                            name: people
                                .iter()
                                .find(|x| x.id == p.user_id)
                                .map_or_else(|| format!("user {}", p.user_id), |x| x.name.clone()),
                            page: p.clone(),
                        })
                        .collect(),
                    escalation: e,
                }
            })
            .collect())
    }

    /// Runs not yet acknowledged or resolved, by the alert episode they page for
    /// ([`crate::incidents::episode_key`]) — for "Acknowledge" beside firing alerts.
    pub async fn open_escalations_by_alert(
        &self,
        actor: &Caller,
    ) -> Result<BTreeMap<String, i64>, ServiceError> {
        actor.require(Permission::ViewOncall)?;
        Ok(self
            .store
            .open_escalations()
            .await?
            .into_iter()
            .map(|e| (e.subject_key, e.id))
            .collect())
    }

    /// Acknowledges a run from the console (responder): no further pages.
    pub async fn ack_escalation(&self, actor: &Caller, id: i64) -> Result<bool, ServiceError> {
        actor.require(Permission::Acknowledge)?;
        Ok(self
            .store
            .ack_escalation(id, &actor.audit(self.now_ms()))
            .await?)
    }

    async fn link_secret(&self) -> Result<Vec<u8>, ServiceError> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        let secret = self
            .store
            .setting_or_init("oncall.ack_link_secret", &fresh)
            .await?;
        Ok(secret.into_bytes())
    }

    fn sign(secret: &[u8], msg: &str) -> String {
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map(|mut m| {
                m.update(msg.as_bytes());
                m.finalize().into_bytes()
            })
            .unwrap_or_default();
        hex::encode(&mac[..16])
    }

    /// The signed link that acknowledges run `id` as `user_id` without signing in. It
    /// expires [`ACK_LINK_TTL_MS`] after it is made (every page of a run gets a fresh one).
    pub async fn ack_url(&self, id: i64, user_id: i64) -> Result<String, ServiceError> {
        let expires_s = (self.now_ms() + ACK_LINK_TTL_MS) / 1000;
        let msg = format!("{id}.{user_id}.{expires_s}");
        let sig = Self::sign(&self.link_secret().await?, &format!("ack.{msg}"));
        Ok(format!("{}/ack/{msg}.{sig}", self.public_url))
    }

    /// What a signed link points at, checked: `NotFound` for a bad or forged token, `Gone`
    /// for an expired link or one whose person is disabled.
    async fn check_ack_token(
        &self,
        token: &str,
    ) -> Result<(Escalation, store::User), ServiceError> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [id, user, expires_s, sig] = parts[..] else {
            return Err(ServiceError::NotFound);
        };
        let (Ok(id), Ok(user), Ok(expires_s)) = (
            id.parse::<i64>(),
            user.parse::<i64>(),
            expires_s.parse::<i64>(),
        ) else {
            return Err(ServiceError::NotFound);
        };
        let want = Self::sign(
            &self.link_secret().await?,
            &format!("ack.{id}.{user}.{expires_s}"),
        );
        if !crate::accounts::constant_time_eq(want.as_bytes(), sig.as_bytes()) {
            return Err(ServiceError::NotFound);
        }
        if self.now_ms() / 1000 > expires_s {
            return Err(ServiceError::Gone(
                "this acknowledgement link has expired; acknowledge in the console".into(),
            ));
        }
        let person = self.store.user_by_id(user).await?;
        if !person.is_active() {
            return Err(ServiceError::Gone(
                "the account this link was sent to is disabled".into(),
            ));
        }
        Ok((self.store.escalation(id).await?, person))
    }

    /// The run a signed link acknowledges, for its confirmation page.
    pub async fn ack_link_preview(&self, token: &str) -> Result<AckOutcome, ServiceError> {
        let (e, _) = self.check_ack_token(token).await?;
        Ok(AckOutcome {
            title: format!("[{}] {}", e.severity, e.title),
            acknowledged_now: false,
            acked_by: e
                .acked_by
                .clone()
                .or(e.resolved_at_ms.map(|_| "recovered".into())),
        })
    }

    /// Acknowledges through a signed link (the link is the credential; audited as the
    /// person it was sent to).
    pub async fn ack_by_link(&self, token: &str) -> Result<AckOutcome, ServiceError> {
        let (e, u) = self.check_ack_token(token).await?;
        let ctx = AuditCtx {
            user_id: Some(u.id),
            actor: format!("{} (signed link)", u.email),
            ip: String::new(),
            at_ms: self.now_ms(),
        };
        let now_acked = self.store.ack_escalation(e.id, &ctx).await?;
        let after = self.store.escalation(e.id).await?;
        Ok(AckOutcome {
            title: format!("[{}] {}", e.severity, e.title),
            acknowledged_now: now_acked,
            acked_by: after
                .acked_by
                .or(after.resolved_at_ms.map(|_| "recovered".into())),
        })
    }

    // ---- calendar feeds ------------------------------------------------------------------

    /// Makes a new secret URL for a schedule's feed (editor) or a person's (themselves or
    /// an admin); the previous URL stops working. The URL is shown once.
    pub async fn rotate_feed(
        &self,
        actor: &Caller,
        kind: FeedKind,
        subject_id: i64,
    ) -> Result<String, ServiceError> {
        match kind {
            FeedKind::Schedule => {
                actor.require(Permission::EditOncall)?;
                self.store.schedule(subject_id).await?;
            }
            FeedKind::User => Self::require_self_or_admin(actor, subject_id)?,
        }
        let token = hex::encode(rand::random::<[u8; 24]>());
        self.store
            .rotate_feed(
                kind,
                subject_id,
                &sha256_hex(&token),
                &actor.audit(self.now_ms()),
            )
            .await?;
        Ok(format!("{}/ical/{token}.ics", self.public_url))
    }

    /// The iCalendar text behind a secret token: a week back and four weeks ahead, whole
    /// UTC days. `NotFound` for an unknown token.
    pub async fn calendar_feed(&self, token: &str) -> Result<String, ServiceError> {
        let token = token.trim().trim_end_matches(".ics");
        let Some((kind, id)) = self.store.feed_by_hash(&sha256_hex(token)).await? else {
            return Err(ServiceError::NotFound);
        };
        if kind == FeedKind::User && !self.store.user_by_id(id).await?.is_active() {
            return Err(ServiceError::Gone(
                "the account of this calendar is disabled".into(),
            ));
        }
        let now = self.now_ms();
        let from = now.div_euclid(DAY_MS) * DAY_MS - 7 * DAY_MS;
        let to = from + 36 * DAY_MS;
        let host = self
            .public_url
            .split("://")
            .nth(1)
            .unwrap_or("vigil")
            .split(['/', ':'])
            .next()
            .unwrap_or("vigil")
            .to_owned();
        let people = self.incidents().people_directory().await?;
        let name_of = |id: i64| {
            people
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| format!("user {id}"), |p| p.name.clone())
        };
        let (name, events) = match kind {
            FeedKind::Schedule => {
                let s = self.store.schedule(id).await?;
                let ovs = self.store.overrides(Some(id), from, to).await?;
                let events: Vec<ical::Event> = final_of(&s, &ovs, from, to)
                    .iter()
                    .filter_map(|x| {
                        let u = x.user_id?;
                        Some(ical::Event {
                            uid: ical::shift_uid(s.id, x, &host),
                            start_ms: x.start_ms,
                            end_ms: x.end_ms,
                            summary: format!("On call: {} ({})", name_of(u), s.spec.name),
                            description: format!("{}/oncall/schedules/{}", self.public_url, s.id),
                        })
                    })
                    .collect();
                (format!("{} on-call", s.spec.name), events)
            }
            FeedKind::User => {
                let events: Vec<ical::Event> = self
                    .shifts_of(id, from, to)
                    .await?
                    .iter()
                    .map(|m| ical::Event {
                        uid: format!(
                            "me-{id}-{}-{}-{}@{host}",
                            m.schedule_id, m.start_ms, m.end_ms
                        ),
                        start_ms: m.start_ms,
                        end_ms: m.end_ms,
                        summary: format!("On call: {}", m.schedule_name),
                        description: format!(
                            "{}/oncall/schedules/{}",
                            self.public_url, m.schedule_id
                        ),
                    })
                    .collect();
                (format!("{} on-call shifts", name_of(id)), events)
            }
        };
        Ok(ical::calendar(&name, &events, now))
    }
}
