//! Incident scenarios on a real (SQLite) store with a fake clock: declare, walk the status
//! machine with its time rules, SLA clocks across a Shanghai day boundary, roles and the
//! checklist, postmortem review and close rules, Markdown export against a golden file,
//! action items, reports, and incidents opened by firing rules.

mod common;

use domain::alerting::{CompareOp, KpiMetric, RuleSpec, Severity};
use domain::incident::postmortem::{ActionKind, ActionSpec, ActionStatus, PmStatus, Postmortem};
use domain::incident::{Checkpoint, ClockState, IncidentFields, IncidentRole, Roles, Status};
use serde_json::{json, Value};
use services::incidents::{format_minute, Declare};
use services::{AuthSettings, Caller, FakeClock, ServiceError, Services};
use std::sync::Arc;
use store::{AuditQuery, IncidentFilter};

const MIN: i64 = 60_000;
const H: i64 = 3_600_000;
/// 2026-02-14T16:30:00Z = 2026-02-15 00:30 in Shanghai (the UTC day is still the 14th).
const T0: i64 = 1_771_086_600_000;

fn shanghai() -> chrono_tz::Tz {
    "Asia/Shanghai".parse().expect("tz")
}

async fn setup(tag: &str) -> (Services, FakeClock, Caller, Caller) {
    let (store, _dir) = store::testing::sqlite_store(&format!("vigil-inc-{tag}")).await;
    let clock = FakeClock::at(T0);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_event_settings(services::events::EventSettings {
            reporting_tz: shanghai(),
            ..Default::default()
        })
        .with_public_url("https://vigil.example.com");
    let ic = common::signed_in(&svc, "ic@example.com", "responder").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    (svc, clock, ic, viewer)
}

fn fields(title: &str, sev: Severity) -> IncidentFields {
    IncidentFields {
        title: title.into(),
        severity: sev,
        impact_scope: "AI chat, all users".into(),
        user_impact: "Answers fail for about 40% of requests".into(),
        description: "AI dialog failure rate jumped at 00:25".into(),
        measures_taken: "Scaled the model service from 4 to 8 replicas".into(),
        support_needed: "DBA on standby".into(),
        contact: "138-0000-0000".into(),
    }
}

fn invalid_field(r: Result<impl std::fmt::Debug, ServiceError>, field: &str) -> String {
    match r {
        Err(ServiceError::Invalid(e)) => {
            e.get(field).unwrap_or_else(|| panic!("no error on {field}: {e}")).to_owned()
        }
        other => panic!("expected an invalid {field}, got {other:?}"),
    }
}

#[tokio::test]
async fn an_incident_walks_every_status_with_its_rules() {
    let (svc, clock, ic, viewer) = setup("walk").await;

    // Viewers read, responders write.
    assert!(matches!(
        svc.incidents()
            .declare_incident(
                &viewer,
                Declare { fields: fields("x", Severity::P1), ..Default::default() }
            )
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert_eq!(
        invalid_field(
            svc.incidents()
                .declare_incident(
                    &ic,
                    Declare { fields: fields(" ", Severity::P1), ..Default::default() }
                )
                .await,
            "title"
        ),
        "is required: say in a few words what is wrong"
    );

    let inc = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare {
                fields: fields("AI answers failing", Severity::P1),
                detected_at_ms: None,
                commander_id: Some(ic.user_id().expect("a person")),
                escalation_policy_id: None,
            },
        )
        .await
        .expect("declare");
    // The code takes the Shanghai day (the 15th), not the UTC one (the 14th).
    assert_eq!(inc.code, "INC-20260215-001");
    assert_eq!(inc.status(), Status::Detecting);
    let second = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare { fields: fields("Second", Severity::P3), ..Default::default() },
        )
        .await
        .expect("declare");
    assert_eq!(second.code, "INC-20260215-002");
    let code = inc.code.clone();

    // Naming the IC ticked the first checkpoint.
    let d = svc.incidents().incident_detail(&viewer, &code).await.expect("detail");
    assert_eq!(d.checklist[0].checkpoint, Checkpoint::LevelAndCommander);
    assert_eq!(d.checklist[0].state, ClockState::Met);
    assert_eq!(d.next, vec![Status::Investigating, Status::Fixing, Status::Monitoring]);

    // Invalid transitions and out-of-order times are refused with a clear error.
    assert_eq!(
        invalid_field(
            svc.incidents().change_incident_status(&ic, &code, Status::Resolved, None, None).await,
            "status"
        ),
        "resolve from monitoring: watch the recovery before resolving"
    );
    assert_eq!(
        invalid_field(
            svc.incidents()
                .change_incident_status(&ic, &code, Status::Investigating, Some(T0 - MIN), None)
                .await,
            "at"
        ),
        "investigating time must not be before the detection time"
    );
    assert!(matches!(
        svc.incidents()
            .change_incident_status(&viewer, &code, Status::Investigating, None, None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));

    clock.advance_ms(4 * MIN);
    svc.incidents()
        .change_incident_status(&ic, &code, Status::Investigating, None, None)
        .await
        .expect("investigating");
    clock.advance_ms(10 * MIN);
    assert_eq!(
        invalid_field(
            svc.incidents()
                .change_incident_status(&ic, &code, Status::Fixing, Some(T0 + 2 * MIN), None)
                .await,
            "at"
        ),
        "fixing time must not be before the investigating time"
    );
    svc.incidents()
        .change_incident_status(&ic, &code, Status::Fixing, None, None)
        .await
        .expect("fixing");
    let d = svc.incidents().incident_detail(&viewer, &code).await.expect("detail");
    let fix_plan = d.checklist.iter().find(|c| c.checkpoint == Checkpoint::FixPlan).expect("step");
    assert_eq!(
        (fix_plan.done_ms, fix_plan.state),
        (Some(T0 + 14 * MIN), ClockState::Met),
        "fixing ticks the fix-plan step"
    );
    svc.incidents()
        .add_incident_note(&ic, &code, "Rolled back release 2.31", Some(T0 + 12 * MIN))
        .await
        .expect("note with an earlier event time");
    clock.advance_ms(20 * MIN);
    svc.incidents()
        .change_incident_status(&ic, &code, Status::Monitoring, None, None)
        .await
        .expect("monitoring");
    let d = svc.incidents().incident_detail(&viewer, &code).await.expect("detail");
    assert_eq!(d.sla.monitoring_until_ms, Some(T0 + 34 * MIN + 2 * H));
    assert_eq!(d.sla.response, ClockState::Met, "responded after 4 min of 60");

    // P1 monitors at least 2 h: an early resolve needs a reason.
    clock.advance_ms(30 * MIN);
    assert!(invalid_field(
        svc.incidents().change_incident_status(&ic, &code, Status::Resolved, None, None).await,
        "override_reason"
    )
    .contains("at least 2h"));
    clock.advance_ms(2 * H);
    svc.incidents()
        .change_incident_status(&ic, &code, Status::Resolved, None, None)
        .await
        .expect("resolved after 2h30m of monitoring");

    // Closing a P1 without a published postmortem is refused, naming the rule.
    let msg = invalid_field(
        svc.incidents().change_incident_status(&ic, &code, Status::Closed, None, None).await,
        "status",
    );
    assert!(msg.contains("requires a published postmortem"), "{msg}");

    // Postmortem: prefilled timeline; draft → review → published.
    let pm = svc.incidents().postmortem(&viewer, &code).await.expect("postmortem");
    assert_eq!(pm.status, None);
    assert!(pm.doc.timeline.iter().any(|r| r.event == "Status fixing → monitoring"));
    assert!(pm.doc.timeline.iter().any(|r| r.event == "Rolled back release 2.31"));
    assert_eq!(pm.due_ms, Some(T0 + 34 * MIN + 30 * MIN + 2 * H + 48 * H));
    let mut doc = pm.doc.clone();
    doc.problem = "AI dialog failures rose".into();
    doc.whys =
        vec!["500s from the model".into(), "overloaded".into(), "5x traffic".into(), "".into()];
    assert_eq!(
        invalid_field(
            svc.incidents().save_postmortem(&ic, &code, 0, doc.clone(), PmStatus::Published).await,
            "status"
        ),
        "send the postmortem for review before publishing"
    );
    let saved = svc
        .incidents()
        .save_postmortem(&ic, &code, 0, doc.clone(), PmStatus::InReview)
        .await
        .expect("in review");
    assert_eq!(saved.doc.whys.len(), 3, "trailing empty whys dropped");
    assert_eq!(
        invalid_field(
            svc.incidents()
                .save_postmortem(&ic, &code, saved.version, doc.clone(), PmStatus::Published)
                .await,
            "direct_cause"
        ),
        "is required to publish"
    );
    // A stale version is a conflict, not a silent overwrite.
    assert!(matches!(
        svc.incidents().save_postmortem(&ic, &code, 0, doc.clone(), PmStatus::InReview).await,
        Err(ServiceError::Conflict(_))
    ));
    doc.direct_cause = "The model service ran out of capacity".into();
    for (kind, what) in
        [(ActionKind::Immediate, "Add load test"), (ActionKind::LongTerm, "Autoscale")]
    {
        svc.incidents()
            .add_action_item(
                &ic,
                &code,
                &ActionSpec {
                    kind,
                    description: what.into(),
                    owner_user_id: Some(ic.user_id().expect("a person")),
                    due_date: "2026-02-20".into(),
                    status: ActionStatus::Todo,
                },
            )
            .await
            .expect("action item");
    }
    let published = svc
        .incidents()
        .save_postmortem(&ic, &code, saved.version, doc, PmStatus::Published)
        .await
        .expect("publish");
    assert_eq!(published.status, Some(PmStatus::Published));
    assert_eq!(
        published.actions.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        vec!["AI-001", "LI-001"]
    );

    svc.incidents()
        .change_incident_status(&ic, &code, Status::Closed, None, None)
        .await
        .expect("closed");
    assert!(invalid_field(
        svc.incidents().change_incident_status(&ic, &code, Status::Investigating, None, None).await,
        "status"
    )
    .contains("closed incident"));

    // The timeline recorded every change; the audit log every write.
    let d = svc.incidents().incident_detail(&viewer, &code).await.expect("detail");
    let statuses: Vec<&str> = d
        .timeline
        .iter()
        .filter(|e| e.kind == domain::incident::EntryKind::Status)
        .map(|e| e.body.as_str())
        .collect();
    assert_eq!(
        statuses,
        vec![
            "Status detecting → investigating",
            "Status investigating → fixing",
            "Status fixing → monitoring",
            "Status monitoring → resolved",
            "Status resolved → closed",
        ]
    );
    let audit = svc
        .store()
        .audit_entries(&AuditQuery {
            action_prefix: Some("incident.".into()),
            before_id: None,
            limit: 100,
        })
        .await
        .expect("audit");
    assert!(audit.iter().filter(|a| a.action == "incident.status").count() >= 5);

    // My action items; overdue after the due day (Shanghai calendar).
    assert_eq!(svc.incidents().my_action_items(&ic).await.expect("mine").len(), 2);
    clock.set_ms(T0 + 8 * 24 * H);
    let overdue = svc.incidents().action_items(&viewer, None, None, true).await.expect("overdue");
    assert_eq!(overdue.len(), 2);
    let first = overdue[0].id;
    svc.incidents().set_action_status(&ic, first, ActionStatus::Done).await.expect("done");
    assert_eq!(
        svc.incidents().action_items(&viewer, None, None, true).await.expect("overdue").len(),
        1
    );
    assert!(matches!(
        svc.incidents().set_action_status(&viewer, first, ActionStatus::Todo).await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn sla_due_times_cross_the_day_boundary_in_shanghai() {
    let (svc, _clock, ic, viewer) = setup("sla").await;
    // Detected 2026-02-14 23:50 Shanghai (15:50 UTC).
    let detected = T0 - 40 * MIN;
    let inc = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare {
                fields: fields("Site down", Severity::P0),
                detected_at_ms: Some(detected),
                commander_id: None,
                escalation_policy_id: None,
            },
        )
        .await
        .expect("declare");
    assert_eq!(inc.code, "INC-20260214-001", "the day of detection in Shanghai");
    let d = svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail");
    let tz = shanghai();
    assert_eq!(format_minute(d.sla.response_due_ms, tz), "2026-02-15 00:20");
    // Now (00:30) the 30-min response is overdue; the checklist steps each at their time.
    assert_eq!(d.sla.response, ClockState::Overdue);
    let due: Vec<(String, ClockState)> =
        d.checklist.iter().map(|c| (format_minute(c.due_ms, tz), c.state)).collect();
    assert_eq!(
        due,
        vec![
            ("2026-02-14 23:55".into(), ClockState::Overdue),
            ("2026-02-15 00:00".into(), ClockState::Overdue),
            ("2026-02-15 00:05".into(), ClockState::Overdue),
            ("2026-02-15 00:20".into(), ClockState::Overdue),
            ("2026-02-15 00:50".into(), ClockState::Pending),
        ]
    );
    // A P3 detected at the same time is due a day later.
    let p3 = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare {
                fields: fields("Typo on pricing page", Severity::P3),
                detected_at_ms: Some(detected),
                commander_id: None,
                escalation_policy_id: None,
            },
        )
        .await
        .expect("declare");
    let d = svc.incidents().incident_detail(&viewer, &p3.code).await.expect("detail");
    assert_eq!(format_minute(d.sla.response_due_ms, tz), "2026-02-15 23:50");
    assert_eq!(d.checklist.len(), 4, "no progress notice for P3");
    // Ticking a step records when; a P3 cannot tick the P0/P1-only step.
    svc.incidents().set_checkpoint(&ic, &p3.code, Checkpoint::Team, true).await.expect("tick");
    assert!(invalid_field(
        svc.incidents().set_checkpoint(&ic, &p3.code, Checkpoint::ProgressNotice, true).await,
        "checkpoint"
    )
    .contains("P0/P1"));
}

#[tokio::test]
async fn roles_notes_report_and_field_edits() {
    let (svc, _clock, ic, viewer) = setup("roles").await;
    let eng = common::signed_in(&svc, "eng@example.com", "responder").await;
    let inc = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare { fields: fields("Slow API", Severity::P2), ..Default::default() },
        )
        .await
        .expect("declare");
    let mut roles = Roles::new();
    roles.insert(
        IncidentRole::Commander,
        vec![ic.user_id().expect("a person"), eng.user_id().expect("a person")],
    );
    assert_eq!(
        invalid_field(
            svc.incidents().set_incident_roles(&ic, &inc.code, roles.clone()).await,
            "commander"
        ),
        "Incident commander is one person"
    );
    roles.insert(IncidentRole::Commander, vec![ic.user_id().expect("a person")]);
    roles.insert(IncidentRole::Engineer, vec![eng.user_id().expect("a person"), 9999]);
    assert!(invalid_field(
        svc.incidents().set_incident_roles(&ic, &inc.code, roles.clone()).await,
        "engineer"
    )
    .contains("9999"));
    roles.insert(IncidentRole::Engineer, vec![eng.user_id().expect("a person")]);
    let after = svc.incidents().set_incident_roles(&ic, &inc.code, roles).await.expect("roles");
    assert_eq!(after.commander(), Some(ic.user_id().expect("a person")));
    let d = svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail");
    let role_entries: Vec<&str> = d
        .timeline
        .iter()
        .filter(|e| e.kind == domain::incident::EntryKind::Role)
        .map(|e| e.body.as_str())
        .collect();
    assert_eq!(
        role_entries,
        vec!["Incident commander: nobody → ic@example.com", "Engineers: nobody → eng@example.com"]
    );
    assert_eq!(d.checklist[0].state, ClockState::Met, "IC named → first step done");

    // Notes: text required; an edit changes text and event time; automatic entries stay.
    assert_eq!(
        invalid_field(svc.incidents().add_incident_note(&ic, &inc.code, "  ", None).await, "text"),
        "is required"
    );
    let tl = svc
        .incidents()
        .add_incident_note(&ic, &inc.code, "Looking at slow queries", None)
        .await
        .expect("note");
    let note = tl.iter().find(|e| e.body == "Looking at slow queries").expect("note");
    let edited = svc
        .incidents()
        .edit_incident_note(&eng, &inc.code, note.id, "Found a slow query", T0 - 5 * MIN)
        .await
        .expect("edit");
    assert_eq!((edited.body.as_str(), edited.at_ms), ("Found a slow query", T0 - 5 * MIN));
    let declared =
        tl.iter().find(|e| e.kind == domain::incident::EntryKind::Declared).expect("declared");
    assert!(invalid_field(
        svc.incidents().edit_incident_note(&ic, &inc.code, declared.id, "x", T0).await,
        "entry"
    )
    .contains("only notes"));

    // Severity change through an edit is its own timeline entry; stale edits conflict.
    let cur = svc.incidents().incident(&viewer, &inc.code).await.expect("get");
    let mut f = cur.fields.clone();
    f.severity = Severity::P1;
    f.user_impact = "All API calls slow".into();
    svc.incidents().update_incident(&ic, &inc.code, cur.version, f.clone()).await.expect("edit");
    assert!(matches!(
        svc.incidents().update_incident(&ic, &inc.code, cur.version, f).await,
        Err(ServiceError::Conflict(_))
    ));
    let d = svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail");
    assert!(d.timeline.iter().any(|e| e.body == "Severity P2 → P1"));
    assert!(d.timeline.iter().any(|e| e.body == "Updated user impact"));

    // The report follows the seed's template.
    let report = svc.incidents().incident_report(&viewer, &inc.code).await.expect("report");
    assert!(report.starts_with("【事故报告】P1 - Slow API\n"), "{report}");
    for line in [
        "事故级别: P1",
        "影响范围: AI chat, all users",
        "事故时间: 2026-02-15 00:30 (Asia/Shanghai)",
        "报告人: ic@example.com",
        "联系方式: 138-0000-0000",
        "事故描述:\nAI dialog failure rate jumped at 00:25",
        "影响评估:\nAll API calls slow",
        "已采取的措施:\nScaled the model service from 4 to 8 replicas",
        "需要支持:\nDBA on standby",
        "详情: https://vigil.example.com/incidents/INC-20260215-001",
    ] {
        assert!(report.contains(line), "missing {line:?} in\n{report}");
    }

    // Filters and search.
    let found = svc
        .incidents()
        .list_incidents(&viewer, &IncidentFilter { q: Some("slow".into()), ..Default::default() })
        .await
        .expect("list");
    assert_eq!(found.len(), 1);
    let none = svc
        .incidents()
        .list_incidents(
            &viewer,
            &IncidentFilter { severity: Some(Severity::P0), ..Default::default() },
        )
        .await
        .expect("list");
    assert!(none.is_empty());
    let by_ic = svc
        .incidents()
        .list_incidents(
            &viewer,
            &IncidentFilter {
                commander_id: Some(ic.user_id().expect("a person")),
                open: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(by_ic.len(), 1);
}

#[tokio::test]
async fn postmortem_markdown_matches_the_template_golden_file() {
    let (svc, clock, ic, _viewer) = setup("golden").await;
    let inc = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare {
                fields: fields("AI dialog failures", Severity::P0),
                detected_at_ms: Some(T0 - 30 * MIN),
                commander_id: Some(ic.user_id().expect("a person")),
                escalation_policy_id: None,
            },
        )
        .await
        .expect("declare");
    let code = inc.code.clone();
    for (to, at) in [
        (Status::Investigating, T0 - 25 * MIN),
        (Status::Fixing, T0 - 10 * MIN),
        (Status::Monitoring, T0),
    ] {
        svc.incidents()
            .change_incident_status(&ic, &code, to, Some(at), None)
            .await
            .expect("status");
    }
    clock.advance_ms(4 * H);
    svc.incidents()
        .change_incident_status(&ic, &code, Status::Resolved, None, None)
        .await
        .expect("resolve");
    let pm = svc.incidents().postmortem(&ic, &code).await.expect("pm");
    let doc = Postmortem {
        timeline: pm.doc.timeline.clone(),
        direct_cause: "The AI model service returned 500 for 40% of requests.".into(),
        problem: "AI dialog failure rate rose suddenly".into(),
        whys: vec![
            "The model service returned many 500 errors".into(),
            "The model service was overloaded".into(),
            "Requests grew fivefold".into(),
            "A new feature called the model in a loop".into(),
            "No load test before release".into(),
        ],
        root_cause: "The feature shipped without a load test and overloaded the model service"
            .into(),
        factors: domain::incident::postmortem::Fishbone {
            people: "On-call unfamiliar with the model service".into(),
            measurement: "No alert on model latency".into(),
            ..Default::default()
        },
        users_affected: Some(12_000),
        revenue_lost: "¥3,000".into(),
        complaints: Some(37),
        business_other: "Two enterprise customers asked for a credit".into(),
        services_affected: "ai-model-service, chat-api".into(),
        data_impact: "None".into(),
        negative_mentions: Some(4),
        churn_risk: "Low".into(),
        measures: "Scaled out the model service\nRolled back release 2.31".into(),
        fix: "Remove the loop; cap model calls per dialog".into(),
        verification: "Failure rate back under 1% for 4 hours".into(),
        went_well: "Alert fired within 2 minutes".into(),
        went_badly: "Rollback took 20 minutes".into(),
        plan_technical: "Rate-limit model calls".into(),
        plan_process: "Load test before every release".into(),
        plan_tooling: "Latency alert on the model service".into(),
        plan_training: "Model service runbook walkthrough".into(),
        links_logs: "Model errors https://logs.example.com/q/123".into(),
        links_docs: "Runbook https://wiki.example.com/ai-runbook".into(),
        links_alerts: String::new(),
    };
    let v = svc
        .incidents()
        .save_postmortem(&ic, &code, 0, doc.clone(), PmStatus::InReview)
        .await
        .expect("save");
    for (kind, what, status) in [
        (
            ActionKind::Immediate,
            "Add a load test to the release pipeline",
            ActionStatus::InProgress,
        ),
        (ActionKind::Immediate, "Alert on model latency P95", ActionStatus::Todo),
        (ActionKind::LongTerm, "Autoscale the model service", ActionStatus::Todo),
    ] {
        svc.incidents()
            .add_action_item(
                &ic,
                &code,
                &ActionSpec {
                    kind,
                    description: what.into(),
                    owner_user_id: Some(ic.user_id().expect("a person")),
                    due_date: "2026-02-21".into(),
                    status,
                },
            )
            .await
            .expect("action");
    }
    svc.incidents()
        .save_postmortem(&ic, &code, v.version, doc, PmStatus::Published)
        .await
        .expect("publish");
    let md = svc.incidents().postmortem_markdown(&ic, &code).await.expect("markdown");
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/postmortem.md");
    if std::env::var("VIGIL_UPDATE_GOLDEN").is_ok() {
        std::fs::write(golden_path, &md).expect("write golden");
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden file");
    assert_eq!(md, golden, "Markdown differs from tests/golden/postmortem.md (VIGIL_UPDATE_GOLDEN=1 rewrites it; review the diff)");
}

#[tokio::test]
async fn a_firing_rule_marked_open_incident_opens_one_incident() {
    let (svc, clock, ic, viewer) = setup("auto").await;
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    // 10 dialogs, 3 successful, in the hour before now: success 0.3 < 0.9.
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({"event_id": format!("d-{i}"), "event_name": "ai_dialog_end",
                   "user_id": format!("u{i}"), "timestamp": T0 - 5 * MIN,
                   "properties": {"dialog_id": format!("d-{i}"), "success": i < 3,
                                  "response_ms": 800, "answer_source": "generated"}})
        })
        .collect();
    common::ingest(&svc, &events).await;
    let mut spec = RuleSpec::kpi_threshold(
        "AI success low",
        Severity::P0,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        0.9,
    );
    spec.for_ms = 0;
    spec.open_incident = true;
    svc.alerting().create_rule(&editor, spec).await.expect("rule");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    // The engine's first look (no earlier one) opens it even without a "changed" hint.
    let opened = svc.incidents().open_incidents_if_due(false).await.expect("open");
    assert_eq!(opened.len(), 1, "one incident for the firing alert");
    // Idempotent: the next cycles open nothing more for the same firing episode.
    clock.advance_ms(MIN);
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert!(svc.incidents().open_incidents_if_due(true).await.expect("open").is_empty());
    // A second rule fires: within a minute of the last look and without the cycle's
    // "changed" hint nothing is read; with it, the incident opens.
    let mut spec2 = RuleSpec::kpi_threshold(
        "AI success very low",
        Severity::P0,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        0.5,
    );
    spec2.for_ms = 0;
    spec2.open_incident = true;
    svc.alerting().create_rule(&editor, spec2).await.expect("rule");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert!(svc.incidents().open_incidents_if_due(false).await.expect("skip").is_empty());
    assert_eq!(svc.incidents().open_incidents_if_due(true).await.expect("open").len(), 1);
    let d = svc.incidents().incident_detail(&viewer, &opened[0]).await.expect("detail");
    assert_eq!(d.incident.fields.severity, Severity::P0);
    assert_eq!(d.alerts.len(), 1);
    assert_eq!(d.alerts[0].source, "vigil");
    assert!(d.timeline.iter().any(|e| e.kind == domain::incident::EntryKind::Alert));
    assert_eq!(d.incident.reporter, "Vigil (alert rule)");

    // Declaring from the same alert by hand returns the incident it already has.
    let active = svc.alerting().active_alerts(&viewer).await.expect("alerts");
    let first =
        active.iter().find(|a| a.rule_name == "AI success low").expect("first rule's alert");
    let fp = services::notify::alert_fingerprint(first.rule_id, &first.labels);
    let same = svc
        .incidents()
        .incident_from_alert(&ic, "vigil", Some(first.rule_id), &fp)
        .await
        .expect("from alert");
    assert_eq!(same.code, opened[0]);

    // Reports count it, with MTTA/MTTR once it moves.
    let r = svc.incidents().incident_report_stats(&viewer, 3).await.expect("report");
    assert_eq!(r.months.len(), 3);
    assert_eq!(r.totals[0].count, 2, "two P0 incidents, one per rule");
    assert!(r.count_svg.as_deref().is_some_and(|s| s.starts_with("<svg")));
}

#[tokio::test]
async fn demo_incidents_fill_the_reports_once() {
    let (svc, _clock, _ic, viewer) = setup("demo").await;
    assert_eq!(svc.incidents().load_demo_incidents(42).await.expect("demo"), 14);
    assert_eq!(svc.incidents().load_demo_incidents(42).await.expect("again"), 0, "only once");
    let all =
        svc.incidents().list_incidents(&viewer, &IncidentFilter::default()).await.expect("list");
    assert_eq!(all.len(), 14);
    let open: Vec<Status> =
        all.iter().filter(|i| i.status().is_open()).map(|i| i.status()).collect();
    assert_eq!(open, vec![Status::Investigating, Status::Monitoring]);
    // Every stored history is consistent (allowed steps, times in order).
    for i in &all {
        assert!(i.log.validate().is_ok(), "{}: {:?}", i.code, i.log);
    }
    let r = svc.incidents().incident_report_stats(&viewer, 3).await.expect("report");
    // The last three months (Shanghai calendar) hold the incidents detected in them.
    let in_range = all
        .iter()
        .filter(|i| {
            r.months.contains(&format_minute(i.log.detected_ms(), shanghai())[..7].to_owned())
        })
        .count();
    assert!(in_range > 0 && in_range < 14, "{in_range}");
    assert_eq!(r.totals.iter().map(|c| c.count).sum::<usize>(), in_range);
    assert_eq!(r.overdue.len(), 1, "the resolved P1 without a postmortem");
    assert!(r.mttr_svg.is_some() && r.mtta_svg.is_some());
}

#[tokio::test]
async fn the_report_is_sent_to_a_channel_and_recorded() {
    let (svc, _clock, ic, viewer) = setup("send").await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let (url, got) = common::receiver().await;
    let channel = svc
        .notify()
        .create_channel(
            &admin,
            "Incident room",
            "feishu",
            services::notify::channels::ChannelConfig::webhook(&url, ""),
            true,
        )
        .await
        .expect("channel");
    let inc = svc
        .incidents()
        .declare_incident(
            &ic,
            Declare { fields: fields("Payments failing", Severity::P0), ..Default::default() },
        )
        .await
        .expect("declare");
    assert!(matches!(
        svc.incidents().send_incident_report(&viewer, &inc.code, channel.id).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert_eq!(
        invalid_field(svc.incidents().send_incident_report(&ic, &inc.code, 9999).await, "channel"),
        "no such channel"
    );
    svc.incidents().send_incident_report(&ic, &inc.code, channel.id).await.expect("sent");
    let bodies = got.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["msg_type"], "text");
    let text = bodies[0]["content"]["text"].as_str().expect("text");
    assert!(text.starts_with("【事故报告】P0 - Payments failing"), "{text}");
    let d = svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail");
    assert!(d.timeline.iter().any(|e| e.kind == domain::incident::EntryKind::Report
        && e.body == "Incident report sent to Incident room"));
}
