//! Escalation policies, and the escalation loop the engine runs: start a run for a firing
//! alert routed to a policy, fire due steps, send due pages, stop on acknowledgement or
//! recovery.

use super::*;
use crate::Result;

impl crate::Oncall<'_> {
    // ---- escalation policies ------------------------------------------------------------

    /// Validates `spec`; the audit stamp for writing it.
    async fn check_policy(&self, actor: &Caller, spec: &PolicySpec) -> Result<store::AuditCtx> {
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
        if spec.channel_ids.iter().any(|c| !channels.iter().any(|x| x.id == *c)) {
            errs.add("channels", "pick channels from the list");
        }
        errs.into_result().map_err(ServiceError::Invalid)?;
        Ok(self.audit_ctx(actor))
    }

    pub async fn create_policy(
        &self,
        actor: &Caller,
        spec: PolicySpec,
    ) -> Result<EscalationPolicy> {
        actor.require(Permission::EditOncall)?;
        let ctx = self.check_policy(actor, &spec).await?;
        Ok(self.store.create_escalation_policy(&spec, &ctx).await?)
    }

    pub async fn update_policy(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: PolicySpec,
    ) -> Result<EscalationPolicy> {
        actor.require(Permission::EditOncall)?;
        let ctx = self.check_policy(actor, &spec).await?;
        Ok(self.store.update_escalation_policy(id, version, &spec, &ctx).await?)
    }

    /// Deletes a policy (editor); refused while alert rules route to it.
    pub async fn delete_policy(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditOncall)?;
        let rules = self.store.rules_with_state().await?;
        if let Some(r) = rules.iter().find(|r| r.rule.spec.escalation_policy_id == Some(id)) {
            return Err(ServiceError::Conflict(format!(
                "the alert rule {:?} routes to this policy; change the rule first",
                r.rule.spec.name
            )));
        }
        self.store.delete_escalation_policy(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// One stored schedule, for its editor (viewer).
    pub async fn schedule(&self, actor: &Caller, id: i64) -> Result<Schedule> {
        actor.require(Permission::ViewOncall)?;
        Ok(self.store.schedule(id).await?)
    }

    /// One stored escalation policy, for its editor (viewer).
    pub async fn escalation_policy(&self, actor: &Caller, id: i64) -> Result<EscalationPolicy> {
        actor.require(Permission::ViewOncall)?;
        Ok(self.store.escalation_policy(id).await?)
    }

    /// Every policy with the names of its targets (viewer).
    pub async fn policies(&self, actor: &Caller) -> Result<Vec<PolicyView>> {
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

    /// Who is on call now on the first schedule the policy's first step pages, else the
    /// first person it names: the incident commander an incident starts with.
    pub(crate) async fn first_responder(&self, policy: &EscalationPolicy) -> Result<Option<i64>> {
        let Some(step) = policy.spec.steps.first() else { return Ok(None) };
        let now = self.now_ms();
        let schedules = self.store.schedules().await?;
        let overrides = self.store.overrides(None, now, now + 1).await?;
        let by_schedule = step.targets.iter().find_map(|t| match t {
            Target::Schedule(id) => on_call_now(&schedules, &overrides, *id, now),
            Target::User(_) => None,
        });
        Ok(by_schedule.or_else(|| {
            step.targets.iter().find_map(|t| match t {
                Target::User(id) => Some(*id),
                Target::Schedule(_) => None,
            })
        }))
    }

    // ---- escalations -------------------------------------------------------------------

    /// One pass of the escalation loop (engine, leader only): start runs for firing alerts
    /// routed to a policy, resolve runs whose alert recovered, fire due steps, send due
    /// pages.
    pub async fn run_escalations(&self) -> Result<EscalationReport> {
        let mut report = EscalationReport::default();
        let now = self.now_ms();
        let ctx = AuditCtx::system("engine", now);
        // 1. Firing alerts with an escalation policy — the rule's own, else the one of the
        //    route that takes it — from every source: Vigil's rules and outside alerts.
        //    (Without policies, no alert is read.)
        let policies: BTreeMap<i64, EscalationPolicy> =
            self.store.escalation_policies().await?.into_iter().map(|p| (p.id, p)).collect();
        let mut firing = BTreeSet::new();
        if !policies.is_empty() {
            let (routing, _) = self.notify().policy_in_force().await?;
            let rules = self.store.rules_with_state().await?;
            let own: BTreeMap<i64, i64> = rules
                .iter()
                .filter_map(|r| r.rule.spec.escalation_policy_id.map(|p| (r.rule.id, p)))
                .collect();
            for a in self.notify().notify_alerts_of(&rules).await?.into_iter().filter(|a| a.firing)
            {
                let policy_id = a
                    .rule_id
                    .and_then(|id| own.get(&id).copied())
                    .or_else(|| routing.escalation_for(&a.labels));
                let Some(policy_id) = policy_id.filter(|p| policies.contains_key(p)) else {
                    continue;
                };
                let key = crate::notify::episode_key(&a);
                firing.insert(key.clone());
                let new = NewEscalation {
                    policy_id,
                    target: None,
                    subject_key: key,
                    rule_id: a.rule_id,
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
            let of_alert = e.rule_id.is_some()
                || e.subject_key.starts_with(crate::notify::external::OUTSIDE_KEY_PREFIX);
            if of_alert && !firing.contains(&e.subject_key) {
                self.store.resolve_escalation(e.id, now).await?;
                report.resolved += 1;
                continue;
            }
            let Some(policy) = policies.get(&e.policy_id) else {
                continue;
            };
            // A run for one person or schedule pages it alone, as its policy would.
            let spec = match e.target {
                Some(t) => std::borrow::Cow::Owned(policy.spec.for_one(t)),
                None => std::borrow::Cow::Borrowed(&policy.spec),
            };
            let fired = u32::try_from(e.fired).unwrap_or(u32::MAX);
            let due = spec.due(e.started_at_ms, fired, now);
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
            let (scheds, ovs) =
                schedules.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice())).unwrap_or_default();
            let contacts = contacts.as_deref().unwrap_or_default();
            let mut pages = Vec::new();
            for d in &due {
                let mut users = Vec::new();
                for t in &spec.steps[d.step].targets {
                    let who = match t {
                        Target::User(id) => Some(*id),
                        Target::Schedule(id) => on_call_now(scheds, ovs, *id, now),
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
                    spec.next_at(e.started_at_ms, new_fired),
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
    async fn send_due_pages(&self, report: &mut EscalationReport) -> Result<usize> {
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
                    self.deliver_page(&p, &e, &policy.spec, person, contact, &channels).await
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
        let ack = self.ack_url(e.id, p.user_id).await.map_err(|err| err.to_string())?;
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
                wanted.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("/"),
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
                        .and_then(|c| channels::feishu_mention(&c.feishu_id, &person.name))
                        .map(|m| m + " ")
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
    pub async fn escalations(&self, actor: &Caller, limit: i64) -> Result<Vec<EscalationView>> {
        actor.require(Permission::ViewOncall)?;
        let mut runs = self.store.open_escalations().await?;
        for r in self.store.recent_escalations(limit.clamp(1, 200)).await? {
            if !runs.iter().any(|x| x.id == r.id) {
                runs.push(r);
            }
        }
        self.escalation_views(runs).await
    }

    /// Runs with their policy's name and their pages, as the pages show them.
    pub(crate) async fn escalation_views(
        &self,
        runs: Vec<Escalation>,
    ) -> Result<Vec<EscalationView>> {
        let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        let pages = self.store.pages_of(&ids).await?;
        let people = self.incidents().people_directory().await?;
        let policies = self.store.escalation_policies().await?;
        Ok(runs
            .into_iter()
            .map(|e| {
                let policy = policies.iter().find(|p| p.id == e.policy_id);
                let spec = policy.map(|p| match e.target {
                    Some(t) => p.spec.for_one(t),
                    None => p.spec.clone(),
                });
                EscalationView {
                    policy_name: policy.map(|p| p.spec.name.clone()).unwrap_or_default(),
                    steps_total: spec.map_or(0, |s| s.total_steps()),
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

    /// Acknowledges a run from the console (responder): no further pages.
    pub async fn ack_escalation(&self, actor: &Caller, id: i64) -> Result<bool> {
        actor.require(Permission::Acknowledge)?;
        Ok(self.store.ack_escalation(id, &self.audit_ctx(actor)).await?)
    }
}

/// Who is on call now on schedule `id` (after overrides); `None` for a gap or no such
/// schedule.
fn on_call_now(
    schedules: &[Schedule],
    overrides: &[OverrideRow],
    id: i64,
    now: i64,
) -> Option<i64> {
    let s = schedules.iter().find(|s| s.id == id)?;
    final_of(s, overrides, now, now + 1).first().and_then(|x| x.user_id)
}
