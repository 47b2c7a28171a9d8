//! The change log through the services: who may record and read, once per client id,
//! the changes an incident shows (its alerts' services, from 24 h before detection to its
//! resolution), and the days of a dashboard period.

mod common;

use domain::changes::{ChangeKind, ChangeSpec};
use serde_json::json;
use services::{AuthSettings, Caller, FakeClock, ServiceError, Services};
use std::sync::Arc;

const HOUR: i64 = 3_600_000;
/// 2026-11-25T00:00:00Z.
const WED: i64 = 1_795_564_800_000;

fn spec(service: &str, kind: &str, at_ms: i64) -> ChangeSpec {
    ChangeSpec {
        service: service.into(),
        kind: kind.into(),
        version: "v1".into(),
        at_ms: Some(at_ms),
        ..Default::default()
    }
}

#[tokio::test]
async fn changes_are_recorded_by_responders_and_keys_and_shown_around_an_incident() {
    let (store, _dir) = store::testing::sqlite_store("vigil-changes").await;
    let clock = FakeClock::at(WED + 12 * HOUR);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default());
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let responder = common::signed_in(&svc, "oncall@example.com", "responder").await;
    let ch = svc.changes();

    // A viewer reads but does not write; a read key reads; an ingest key does neither.
    assert!(matches!(
        ch.record_change(&viewer, &spec("checkout", "deploy", WED)).await,
        Err(ServiceError::Forbidden(_))
    ));
    let ingest = Caller::api_key(1, "events", domain::ApiScope::Ingest, "127.0.0.1");
    assert!(matches!(
        ch.record_change(&ingest, &spec("checkout", "deploy", WED)).await,
        Err(ServiceError::Forbidden(_))
    ));
    let deployer = Caller::api_key(2, "deploys", domain::ApiScope::Changes, "127.0.0.1");
    // 11:00 a checkout deploy (an hour before), 02:00 a search flag, the day before a
    // checkout config change (more than 24 h before: not shown).
    let mut deploy = spec("checkout", "deploy", WED + 11 * HOUR);
    deploy.id = Some("run-7".into());
    let (first, new) = ch.record_change(&deployer, &deploy).await.expect("deploy");
    assert!(new);
    assert_eq!(first.recorded_by, "api-key:deploys");
    let (again, new) = ch.record_change(&deployer, &deploy).await.expect("retry");
    assert!(!new && again.id == first.id, "a retry records nothing new");
    ch.record_change(&responder, &spec("search", "flag", WED + 2 * HOUR)).await.expect("flag");
    ch.record_change(&responder, &spec("checkout", "config", WED - 13 * HOUR)).await.expect("old");
    match ch.record_change(&responder, &spec("checkout", "rollout", WED)).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("kind").is_some(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    let all = ch.list_changes(&viewer, &Default::default()).await.expect("list");
    assert_eq!(all.len(), 3);
    let read = Caller::api_key(3, "reader", domain::ApiScope::Read, "127.0.0.1");
    assert_eq!(ch.list_changes(&read, &Default::default()).await.expect("read key").len(), 3);

    // An incident opened from an Alertmanager alert of service checkout at 12:00: the
    // checkout changes of the 24 h before — the deploy, not the search flag, not the
    // change of the day before.
    let am = Caller::api_key(4, "alertmanager", domain::ApiScope::Ingest, "127.0.0.1");
    let body = json!({"version": "4", "status": "firing", "receiver": "vigil", "alerts": [
        {"status": "firing", "fingerprint": "f-pay", "labels": {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout"},
         "annotations": {"summary": "5xx 12%"}, "startsAt": "2026-11-25T11:55:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    ]});
    svc.notify().receive_alertmanager(&am, body.to_string().as_bytes()).await.expect("alert");
    let inc = svc
        .incidents()
        .incident_from_alert(&responder, "alertmanager", None, "f-pay")
        .await
        .expect("incident");
    let around = ch.incident_changes(&viewer, &inc.code).await.expect("around");
    assert_eq!(around.services, ["checkout"]);
    let kinds: Vec<(String, ChangeKind)> =
        around.changes.iter().map(|c| (c.service.clone(), c.kind)).collect();
    assert_eq!(kinds, [("checkout".to_owned(), ChangeKind::Deploy)]);
    // A change during the incident shows too (a rollback); one after resolution would not.
    clock.advance_ms(HOUR);
    let mut rollback = spec("checkout", "deploy", WED + 12 * HOUR + 30 * 60_000);
    rollback.description = "Roll back v1".into();
    ch.record_change(&responder, &rollback).await.expect("rollback");
    let around = ch.incident_changes(&viewer, &inc.code).await.expect("around");
    assert_eq!(around.changes.len(), 2);
    assert_eq!(around.changes[0].description, "Roll back v1", "newest first");

    // A declared incident with no alerts looks at every service.
    let declared = svc
        .incidents()
        .declare_incident(
            &responder,
            services::incidents::Declare {
                fields: domain::incident::IncidentFields {
                    title: "Slow pages".into(),
                    severity: domain::alerting::Severity::P2,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("declare");
    let around = ch.incident_changes(&viewer, &declared.code).await.expect("around");
    assert!(around.services.is_empty());
    assert_eq!(around.changes.len(), 3, "every service's changes of the day before");

    // Days of a dashboard period (UTC here): 2026-11-25 holds three, the 24th one.
    let day = (WED / 86_400_000) as i32;
    let days: Vec<i32> = ch
        .changes_in_days(&viewer, day - 1, day)
        .await
        .expect("days")
        .iter()
        .map(|(d, _)| *d)
        .collect();
    assert_eq!(days, [day, day, day, day - 1]);
}
