//! Postmortems (filled from the incident, reviewed, published, exported as Markdown in the
//! seed's template layout) and action items tracked across incidents.

use super::{duration_zh, format_minute, Person};
use crate::Result;
use crate::{Caller, ServiceError};
use chrono_tz::Tz;
use domain::incident::postmortem::{
    lines, ActionKind, ActionSpec, ActionStatus, PmStatus, PmTimelineRow, Postmortem,
};
use domain::incident::{postmortem_due_ms, EntryKind, IncidentRole, Status};
use domain::Permission;

use serde::Serialize;
use std::collections::BTreeMap;
use store::{ActionFilter, ActionItem, AlertLink, Incident, TimelineEntry};

/// A postmortem as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostmortemView {
    pub incident: Incident,
    /// `None` until first saved.
    pub status: Option<PmStatus>,
    pub version: i64,
    pub doc: Postmortem,
    /// Due after resolution, once resolved.
    pub due_ms: Option<i64>,
    pub overdue: bool,
    pub published_at_ms: Option<i64>,
    pub actions: Vec<ActionItem>,
    pub now_ms: i64,
}

/// The postmortem's timeline rows prefilled from the incident's timeline.
pub fn prefill_timeline(entries: &[TimelineEntry]) -> Vec<PmTimelineRow> {
    entries
        .iter()
        .filter(|e| !matches!(e.kind, EntryKind::Postmortem | EntryKind::Edit))
        .map(|e| PmTimelineRow { at_ms: e.at_ms, event: e.body.clone(), owner: e.actor.clone() })
        .collect()
}

/// Today as `YYYY-MM-DD` in `tz`.
pub fn today(now_ms: i64, tz: Tz) -> String {
    crate::timefmt::format_in(now_ms, tz, "%Y-%m-%d").unwrap_or_default()
}

impl crate::Incidents<'_> {
    /// The postmortem of an incident, prefilled when none was saved yet (viewer).
    pub async fn postmortem(&self, actor: &Caller, code: &str) -> Result<PostmortemView> {
        actor.require(Permission::ViewIncidents)?;
        let incident = self.store.incident_by_code(code).await?;
        let now = self.now_ms();
        let row = self.store.postmortem(incident.id).await?;
        let doc = match &row {
            Some(r) => r.doc.clone(),
            None => Postmortem {
                timeline: prefill_timeline(&self.store.incident_timeline(incident.id).await?),
                links_alerts: self
                    .store
                    .incident_alerts(incident.id)
                    .await?
                    .iter()
                    .filter_map(|a| {
                        a.rule_id
                            .map(|id| format!("{} {}/alerts/rules/{id}", a.title, self.public_url))
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                ..Postmortem::default()
            },
        };
        let due_ms =
            incident.log.resolved_ms().map(|r| r + postmortem_due_ms(incident.fields.severity));
        let status = row.as_ref().map(|r| r.status);
        Ok(PostmortemView {
            overdue: due_ms.is_some_and(|d| now > d) && status != Some(PmStatus::Published),
            version: row.as_ref().map_or(0, |r| r.version),
            published_at_ms: row.as_ref().and_then(|r| r.published_at_ms),
            actions: self
                .store
                .action_items(&ActionFilter {
                    incident_id: Some(incident.id),
                    ..ActionFilter::default()
                })
                .await?,
            status,
            doc,
            due_ms,
            now_ms: now,
            incident,
        })
    }

    /// Saves the postmortem and moves it to `status` (responder). Publishing needs the
    /// incident resolved and the causes written.
    pub async fn save_postmortem(
        &self,
        actor: &Caller,
        code: &str,
        version: i64,
        mut doc: Postmortem,
        status: PmStatus,
    ) -> Result<PostmortemView> {
        actor.require(Permission::EditPostmortems)?;
        let incident = self.store.incident_by_code(code).await?;
        doc.whys = doc.whys.into_iter().map(|w| w.trim().to_owned()).collect();
        while doc.whys.last().is_some_and(String::is_empty) {
            doc.whys.pop();
        }
        doc.timeline.sort_by_key(|r| r.at_ms);
        doc.validate()?;
        let current = self.store.postmortem(incident.id).await?;
        let from = current.as_ref().map_or(PmStatus::Draft, |p| p.status);
        if from != status {
            from.check(status).map_err(|m| ServiceError::invalid("status", m))?;
        }
        if status == PmStatus::Published {
            if incident.status().is_open() {
                return Err(ServiceError::invalid(
                    "status",
                    "resolve the incident before publishing its postmortem",
                ));
            }
            doc.check_publishable()?;
        }
        self.store
            .save_postmortem(&incident, version, &doc, status, &self.audit_ctx(actor))
            .await?;
        self.postmortem(actor, code).await
    }

    /// The postmortem as Markdown in the template's layout (viewer).
    pub async fn postmortem_markdown(&self, actor: &Caller, code: &str) -> Result<String> {
        actor.require(Permission::ViewIncidents)?;
        let view = self.postmortem(actor, code).await?;
        let alerts = self.store.incident_alerts(view.incident.id).await?;
        let people = names(&self.people_directory().await?);
        Ok(render_markdown(&view, &alerts, &people, self.events().reporting_tz()))
    }

    // ----- action items -----

    fn check_action(&self, spec: &ActionSpec) -> Result<ActionSpec> {
        let spec = ActionSpec {
            description: spec.description.trim().to_owned(),
            due_date: spec.due_date.trim().to_owned(),
            ..spec.clone()
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Adds an action item to an incident (responder).
    pub async fn add_action_item(
        &self,
        actor: &Caller,
        code: &str,
        spec: &ActionSpec,
    ) -> Result<ActionItem> {
        actor.require(Permission::EditPostmortems)?;
        let spec = self.check_action(spec)?;
        if let Some(o) = spec.owner_user_id {
            self.check_people(&[o], "owner").await?;
        }
        let incident = self.store.incident_by_code(code).await?;
        Ok(self.store.create_action_item(&incident, &spec, &self.audit_ctx(actor)).await?)
    }

    /// Edits an action item (responder; its kind and code stay).
    pub async fn update_action_item(
        &self,
        actor: &Caller,
        id: i64,
        spec: &ActionSpec,
    ) -> Result<ActionItem> {
        actor.require(Permission::EditPostmortems)?;
        let spec = self.check_action(spec)?;
        if let Some(o) = spec.owner_user_id {
            self.check_people(&[o], "owner").await?;
        }
        Ok(self.store.update_action_item(id, &spec, &self.audit_ctx(actor)).await?)
    }

    /// Moves an action item to `status` (responder; also the item's owner).
    pub async fn set_action_status(
        &self,
        actor: &Caller,
        id: i64,
        status: ActionStatus,
    ) -> Result<ActionItem> {
        actor.require(Permission::ViewIncidents)?;
        let item = self.store.action_item(id).await?;
        // The item's owner may move it even as a viewer; anyone else needs the permission.
        if item.owner_user_id.is_none() || item.owner_user_id != actor.user_id() {
            actor.require(Permission::EditPostmortems)?;
        }
        let spec = ActionSpec {
            kind: item.kind,
            description: item.description,
            owner_user_id: item.owner_user_id,
            due_date: item.due_date,
            status,
        };
        Ok(self.store.update_action_item(id, &spec, &self.audit_ctx(actor)).await?)
    }

    pub async fn delete_action_item(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditPostmortems)?;
        self.store.delete_action_item(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// Action items across incidents (viewer). `overdue` keeps the ones not done whose
    /// due day has passed in the reporting zone.
    pub async fn action_items(
        &self,
        actor: &Caller,
        owner: Option<i64>,
        status: Option<ActionStatus>,
        overdue: bool,
    ) -> Result<Vec<ActionItem>> {
        actor.require(Permission::ViewIncidents)?;
        Ok(self
            .store
            .action_items(&ActionFilter {
                owner_user_id: owner,
                status,
                overdue_on: overdue.then(|| self.today_date()),
                ..ActionFilter::default()
            })
            .await?)
    }

    /// The signed-in user's open action items (home page).
    pub async fn my_action_items(&self, actor: &Caller) -> Result<Vec<ActionItem>> {
        actor.require(Permission::ViewIncidents)?;
        Ok(self
            .store
            .action_items(&ActionFilter {
                owner_user_id: actor.user_id(),
                open_only: true,
                ..ActionFilter::default()
            })
            .await?)
    }

    /// Today in the reporting zone (`YYYY-MM-DD`), for due days.
    pub fn today_date(&self) -> String {
        today(self.now_ms(), self.events().reporting_tz())
    }
}

fn cell(s: &str) -> String {
    let s = s.trim().replace('|', "\\|").replace("\r\n", " ").replace('\n', "<br>");
    if s.is_empty() {
        "—".into()
    } else {
        s
    }
}

fn para(s: &str) -> String {
    if s.trim().is_empty() {
        "—".into()
    } else {
        s.trim().to_owned()
    }
}

fn bullets(s: &str, numbered: bool) -> String {
    let ls = lines(s);
    if ls.is_empty() {
        return if numbered { "1. —".into() } else { "- —".into() };
    }
    ls.iter()
        .enumerate()
        .map(|(i, l)| if numbered { format!("{}. {l}", i + 1) } else { format!("- {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

fn links(s: &str) -> String {
    let ls = lines(s);
    if ls.is_empty() {
        return "- —".into();
    }
    ls.iter()
        .map(|l| match l.rsplit_once(' ') {
            Some((title, url)) => format!("- [{}]({url})", title.trim()),
            None => format!("- <{l}>"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn opt_num(n: Option<u64>) -> String {
    n.map_or_else(|| "—".into(), |n| n.to_string())
}

fn action_table(items: &[&ActionItem], people: &BTreeMap<i64, String>) -> String {
    let mut s = String::from(
        "| ID | 描述 | 负责人 | 截止日期 | 状态 |\n|----|------|-------|---------|------|\n",
    );
    if items.is_empty() {
        s.push_str("| — | — | — | — | — |\n");
    }
    for a in items {
        let owner =
            a.owner_user_id.and_then(|id| people.get(&id).cloned()).unwrap_or_else(|| "—".into());
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            a.code,
            cell(&a.description),
            cell(&owner),
            a.due_date,
            a.status.zh()
        ));
    }
    s
}

/// The postmortem in the layout of seed 003 §2.5.3.
pub fn render_markdown(
    view: &PostmortemView,
    alerts: &[AlertLink],
    people: &BTreeMap<i64, String>,
    tz: Tz,
) -> String {
    let inc = &view.incident;
    let d = &view.doc;
    let f = &inc.fields;
    let start = inc.log.detected_ms();
    let end = inc.log.resolved_ms();
    let name =
        |id: Option<i64>| id.and_then(|id| people.get(&id).cloned()).unwrap_or_else(|| "—".into());
    let ic = name(inc.commander());
    let mut md = String::new();
    md.push_str("# 事故复盘报告\n\n## 基本信息\n\n| 项目 | 内容 |\n|------|------|\n");
    md.push_str(&format!("| 事故 ID | {} |\n", inc.code));
    md.push_str(&format!("| 事故标题 | {} |\n", cell(&f.title)));
    md.push_str(&format!("| 事故级别 | {} |\n", f.severity.as_str()));
    md.push_str(&format!(
        "| 事故时间 | {} - {} |\n",
        format_minute(start, tz),
        end.map_or_else(|| "进行中".into(), |e| format_minute(e, tz))
    ));
    md.push_str(&format!(
        "| 持续时长 | {} |\n",
        end.map_or_else(|| "—".into(), |e| duration_zh(e - start))
    ));
    md.push_str(&format!("| 事故指挥官 (IC) | {} |\n", cell(&ic)));
    md.push_str(&format!("| 影响范围 | {} |\n", cell(&f.impact_scope)));
    md.push_str(&format!("| 用户影响 | {} |\n", cell(&f.user_impact)));

    md.push_str("\n## 事故时间线\n\n| 时间 | 事件 | 负责人 |\n|------|------|-------|\n");
    if d.timeline.is_empty() {
        md.push_str("| — | — | — |\n");
    }
    for r in &d.timeline {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            format_minute(r.at_ms, tz),
            cell(&r.event),
            cell(&r.owner)
        ));
    }

    md.push_str("\n## 根因分析\n\n### 直接原因\n");
    md.push_str(&para(&d.direct_cause));
    md.push_str("\n\n### 根本原因\n");
    let whys: Vec<&String> = d.whys.iter().filter(|w| !w.trim().is_empty()).collect();
    if !d.problem.trim().is_empty() || !whys.is_empty() {
        md.push_str("```\n");
        if !d.problem.trim().is_empty() {
            md.push_str(&format!("问题: {}\n\n", d.problem.trim()));
        }
        for (i, w) in whys.iter().enumerate() {
            md.push_str(&format!("为什么 {}: {}\n", i + 1, w.trim()));
        }
        if !d.root_cause.trim().is_empty() {
            md.push_str(&format!("\n根因: {}\n", d.root_cause.trim()));
        }
        md.push_str("```\n");
    } else {
        md.push_str(&para(&d.root_cause));
        md.push('\n');
    }
    md.push_str("\n### 关联因素\n");
    let factors: Vec<String> = d
        .factors
        .categories()
        .iter()
        .filter(|(_, _, _, v)| !v.trim().is_empty())
        .map(|(_, _, zh, v)| format!("- **{zh}**: {}", v.trim().replace('\n', "; ")))
        .collect();
    md.push_str(&if factors.is_empty() { "—".to_owned() } else { factors.join("\n") });

    md.push_str("\n\n## 影响评估\n\n### 业务影响\n");
    md.push_str(&format!("- 受影响用户数: {}\n", opt_num(d.users_affected)));
    md.push_str(&format!("- 订单损失: {}\n", para(&d.revenue_lost)));
    md.push_str(&format!("- 客户投诉: {}\n", opt_num(d.complaints)));
    for l in lines(&d.business_other) {
        md.push_str(&format!("- {l}\n"));
    }
    md.push_str("\n### 技术影响\n");
    md.push_str(&format!("- 受影响服务: {}\n", para(&d.services_affected)));
    md.push_str(&format!("- 数据影响: {}\n", para(&d.data_impact)));
    md.push_str("\n### 品牌影响\n");
    md.push_str(&format!("- 社交媒体负面评价: {}\n", opt_num(d.negative_mentions)));
    md.push_str(&format!("- 客户流失风险: {}\n", para(&d.churn_risk)));

    md.push_str("\n## 处理过程\n\n### 采取的措施\n");
    md.push_str(&bullets(&d.measures, true));
    md.push_str("\n\n### 修复方案\n");
    md.push_str(&para(&d.fix));
    md.push_str("\n\n### 验证结果\n");
    md.push_str(&para(&d.verification));

    md.push_str("\n\n## 经验教训\n\n### 做得好的地方\n");
    md.push_str(&bullets(&d.went_well, true));
    md.push_str("\n\n### 做得不好的地方\n");
    md.push_str(&bullets(&d.went_badly, true));

    let of_kind = |kind: ActionKind| -> Vec<&ActionItem> {
        view.actions.iter().filter(|a| a.kind == kind).collect()
    };
    md.push_str("\n\n## 改进措施\n\n### 立即行动项\n\n");
    md.push_str(&action_table(&of_kind(ActionKind::Immediate), people));
    md.push_str("\n### 长期改进项\n\n");
    md.push_str(&action_table(&of_kind(ActionKind::LongTerm), people));

    md.push_str("\n## 行动计划\n\n### 技术改进\n");
    md.push_str(&bullets(&d.plan_technical, false));
    md.push_str("\n\n### 流程改进\n");
    md.push_str(&bullets(&d.plan_process, false));
    md.push_str("\n\n### 工具改进\n");
    md.push_str(&bullets(&d.plan_tooling, false));
    md.push_str("\n\n### 培训改进\n");
    md.push_str(&bullets(&d.plan_training, false));

    md.push_str("\n\n## 附录\n\n### 相关日志\n");
    md.push_str(&links(&d.links_logs));
    md.push_str("\n\n### 相关文档\n");
    md.push_str(&links(&d.links_docs));
    md.push_str("\n\n### 相关告警\n");
    let mut alert_lines: Vec<String> = alerts
        .iter()
        .map(|a| format!("- {} ({}, {})", a.title, a.severity.as_str(), a.source))
        .collect();
    if !lines(&d.links_alerts).is_empty() {
        alert_lines.push(links(&d.links_alerts));
    }
    md.push_str(&if alert_lines.is_empty() { "- —".to_owned() } else { alert_lines.join("\n") });

    let reporter = inc
        .roles
        .get(&IncidentRole::Commander)
        .and_then(|v| v.first().copied())
        .and_then(|id| people.get(&id).cloned())
        .unwrap_or_else(|| inc.reporter.clone());
    let date_ms = view.published_at_ms.unwrap_or(view.now_ms);
    md.push_str(&format!("\n\n---\n\n报告人: {}\n日期: {}\n", reporter, today(date_ms, tz)));
    md
}

/// People by id, for labels.
pub fn names(people: &[Person]) -> BTreeMap<i64, String> {
    people.iter().map(|p| (p.id, p.name.clone())).collect()
}

impl crate::Incidents<'_> {
    /// Demo incidents over the last 80 days (skipped when any incident exists): resolved
    /// and closed ones with postmortems and action items, one resolved P1 whose postmortem
    /// is overdue, and two still open. Deterministic for a seed. Returns how many.
    pub async fn load_demo_incidents(&self, seed: u64) -> Result<usize> {
        use domain::alerting::Severity;
        use domain::incident::{
            monitoring_ms, Checkpoint, IncidentFields, Roles, MINUTE_MS as MIN,
        };
        use rand::{rngs::StdRng, Rng, SeedableRng};
        use store::{NewEntry, NewIncident};
        if !self
            .store
            .incidents(&store::IncidentFilter { limit: 1, ..Default::default() })
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        let people = self.people_directory().await?;
        let ic = people.first().map(|p| p.id);
        let now = self.now_ms() / MIN * MIN;
        let ctx = store::AuditCtx::system("demo", self.now_ms());
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0001_cde4_7000);
        let plans: [(i64, Severity, &str, &str); 14] = [
            (
                78,
                Severity::P2,
                "Redis hit rate below 60%",
                "Cache TTL shortened by a config change",
            ),
            (
                71,
                Severity::P1,
                "AI dialog failures above 20%",
                "Model service overloaded after a feature launch",
            ),
            (64, Severity::P3, "Slow admin reports", "Missing index on the reports table"),
            (57, Severity::P2, "API P95 over 5 s", "Slow query after a schema migration"),
            (
                50,
                Severity::P0,
                "Site down: load balancer health checks failing",
                "Expired TLS certificate on the internal LB",
            ),
            (
                43,
                Severity::P2,
                "Knowledge-base coverage dropped to 65%",
                "Index job failed silently for two days",
            ),
            (
                37,
                Severity::P1,
                "Database connections exhausted",
                "Connection leak in the billing worker",
            ),
            (30, Severity::P3, "Typos in the Chinese pricing page", "Copy change skipped review"),
            (
                24,
                Severity::P2,
                "Registrations down 35%",
                "SMS provider throttling verification codes",
            ),
            (18, Severity::P1, "AI answers slow (P99 8 s)", "Knowledge-base search timeouts"),
            (11, Severity::P2, "Payment webhooks delayed", "Queue consumer stuck after a deploy"),
            (4, Severity::P1, "Checkout errors for Alipay users", "Provider API change"),
            (1, Severity::P2, "Satisfaction score below 4.0", ""),
            (0, Severity::P1, "AI success rate below 90%", ""),
        ];
        let mut n = 0;
        for (i, (days_ago, sev, title, cause)) in plans.iter().enumerate() {
            let detected = now
                - days_ago * DAY
                - rng.gen_range(1..12) * 3_600_000
                - rng.gen_range(0..60) * MIN;
            let detected = detected.min(now - 90 * MIN);
            let mut roles = Roles::new();
            if let Some(ic) = ic {
                roles.insert(IncidentRole::Commander, vec![ic]);
            }
            let new = NewIncident {
                fields: IncidentFields {
                    title: (*title).to_owned(),
                    severity: *sev,
                    impact_scope: "Web and app users in mainland China".into(),
                    user_impact: format!("{title}; users see errors or slow pages"),
                    description: format!("{title}. Detected by Vigil's alert rules."),
                    measures_taken: "Rolled back the last release; scaled the affected service"
                        .into(),
                    support_needed: String::new(),
                    contact: "400-000-0000".into(),
                },
                detected_at_ms: detected,
                day: self.incident_day(detected),
                roles,
                reporter_id: ic,
                reporter: "demo".into(),
            };
            let inc = self.store.create_incident(&new, None, &ctx).await?;
            let mut after = inc.clone();
            let ack = detected
                + rng.gen_range(3..(domain::incident::response_ms(*sev) / MIN).min(45)) * MIN;
            let fixing = ack + rng.gen_range(5..40) * MIN;
            let monitoring = fixing + rng.gen_range(10..90) * MIN;
            let resolved = monitoring + monitoring_ms(*sev) + rng.gen_range(0..60) * MIN;
            let open_stage = match i {
                13 => Some(Status::Investigating),
                12 => Some(Status::Monitoring),
                _ => None,
            };
            let mut entries = Vec::new();
            let mut prev = Status::Detecting;
            for (to, at) in [
                (Status::Investigating, ack),
                (Status::Fixing, fixing),
                (Status::Monitoring, monitoring),
                (Status::Resolved, resolved),
            ] {
                if at > now {
                    break;
                }
                after.log.0.push((to, at));
                if to == Status::Fixing {
                    after.checklist.insert(Checkpoint::FixPlan, at);
                }
                entries.push(NewEntry {
                    at_ms: at,
                    kind: EntryKind::Status,
                    body: format!("Status {prev} → {to}"),
                });
                prev = to;
                if Some(to) == open_stage {
                    break;
                }
            }
            for (c, k) in [
                (Checkpoint::LevelAndCommander, 4),
                (Checkpoint::Team, 9),
                (Checkpoint::Impact, 17),
            ] {
                after.checklist.insert(c, detected + k * MIN);
            }
            let resolved_now = after.status() == Status::Resolved;
            // Postmortems: published for all resolved but one (overdue), closed after.
            let publish = resolved_now && i != 11;
            if publish {
                after.log.0.push((Status::Closed, (resolved + 20 * 3_600_000).min(now)));
                entries.push(NewEntry {
                    at_ms: (resolved + 20 * 3_600_000).min(now),
                    kind: EntryKind::Status,
                    body: "Status resolved → closed".into(),
                });
            }
            let stored =
                self.store.save_incident(&inc, &after, &entries, "incident.status", &ctx).await?;
            if publish {
                let timeline = prefill_timeline(&self.store.incident_timeline(stored.id).await?);
                let doc = Postmortem {
                    timeline,
                    direct_cause: (*cause).to_owned(),
                    problem: (*title).to_owned(),
                    whys: vec![
                        (*cause).to_owned(),
                        "The change was not load-tested".into(),
                        "The release checklist does not cover it".into(),
                    ],
                    root_cause: format!("{cause}, and nothing caught it before users did"),
                    went_well: "Alert fired within minutes\nRollback was quick".into(),
                    went_badly: "Status page updated late".into(),
                    plan_process: "Add the change type to the release checklist".into(),
                    ..Postmortem::default()
                };
                let pm_ctx = store::AuditCtx::system("demo", (resolved + 10 * 3_600_000).min(now));
                let row = self
                    .store
                    .save_postmortem(&stored, 0, &doc, PmStatus::InReview, &pm_ctx)
                    .await?;
                self.store
                    .save_postmortem(&stored, row.version, &doc, PmStatus::Published, &pm_ctx)
                    .await?;
                for (kind, what, status) in [
                    (
                        ActionKind::Immediate,
                        format!("Monitor: {title}"),
                        if *days_ago > 20 { ActionStatus::Done } else { ActionStatus::InProgress },
                    ),
                    (
                        ActionKind::LongTerm,
                        "Load test before release".to_owned(),
                        ActionStatus::Todo,
                    ),
                ] {
                    let weeks = if kind == ActionKind::LongTerm { 6 } else { 2 };
                    let due = today(resolved + weeks * 7 * DAY, self.events().reporting_tz());
                    self.store
                        .create_action_item(
                            &stored,
                            &ActionSpec {
                                kind,
                                description: what,
                                owner_user_id: ic,
                                due_date: due,
                                status,
                            },
                            &pm_ctx,
                        )
                        .await?;
                }
            }
            n += 1;
        }
        Ok(n)
    }
}

const DAY: i64 = 86_400_000;
