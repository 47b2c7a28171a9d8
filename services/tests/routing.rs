//! The routing editor through the services, as the UI uses it: the SPEC's default tree,
//! route-by-route saves (versioned, audited, permission-checked), the label tester as
//! delivery picks channels, Alertmanager YAML out and back in, and the demo's channels.

mod common;

use domain::alerting::routing::{RouteForm, RouteOp};
use services::notify::channels::ChannelConfig;
use services::{ServiceError, Services};

fn field(e: &ServiceError) -> Vec<String> {
    match e {
        ServiceError::Invalid(f) => f.0.iter().map(|x| x.field.clone()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

async fn channel(svc: &Services, admin: &services::Caller, name: &str, enabled: bool) {
    svc.notify()
        .create_channel(
            admin,
            name,
            "webhook",
            ChannelConfig::webhook("http://127.0.0.1:9/hook", ""),
            enabled,
        )
        .await
        .expect("channel");
}

#[tokio::test]
async fn the_tree_edited_route_by_route_tested_and_taken_to_alertmanager_and_back() {
    let svc = common::services_at("routing", chrono_tz::UTC).await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let ops = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let n = svc.notify();

    // Nothing saved: the SPEC's default tree, version 0, readable by a viewer.
    let view = n.routing(&viewer).await.expect("view");
    assert_eq!(view.version, 0);
    let paths: Vec<&str> = view.rows.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, vec!["0", "0.0", "0.1", "0.2", "0.3", "0.4"]);
    assert_eq!(view.rows[2].form.channels, vec!["phone", "feishu"]);
    assert_eq!(view.rows[5].form.channels, vec!["email"]);

    // The tester before any channel exists: P0 would reach nobody, honestly said.
    let t = n.test_routing(&viewer, "severity=P0, service=chat").await.expect("test");
    assert_eq!(t.hits.len(), 1);
    assert_eq!((t.hits[0].path.as_str(), t.hits[0].channels.len()), ("0.1", 0));
    assert_eq!(t.hits[0].repeat_interval, "1m", "P0's default repeat");
    assert_eq!(t.hits[0].group, "alertname=\"\"");

    // With `feishu` and `slack`: P0 reaches feishu (phone does not exist, feishu does); P3
    // names only `email`, which does not exist, so every enabled channel gets it.
    channel(&svc, &admin, "feishu", true).await;
    channel(&svc, &admin, "slack", true).await;
    let t = n.test_routing(&viewer, "{alertname=\"DAU drop\", severity=\"P0\"}").await.expect("t");
    assert_eq!(
        (t.hits[0].channels.clone(), t.hits[0].fell_back),
        (vec!["feishu".to_owned()], false)
    );
    assert_eq!(t.hits[0].group, "alertname=\"DAU drop\"");
    let t = n.test_routing(&viewer, "severity=P3").await.expect("t");
    assert_eq!((t.hits[0].channels.len(), t.hits[0].fell_back), (2, true));
    assert_eq!(field(&n.test_routing(&viewer, "severity").await.expect_err("bad")), vec!["labels"]);

    // A viewer cannot edit; an editor saves one route, and the tester follows at once.
    let mut form = view.rows[4].form.clone(); // P2
    form.channels = vec!["slack".into()];
    form.repeat_interval = "2h".into();
    assert!(matches!(
        n.save_route(&viewer, 0, "0.3", &form).await,
        Err(ServiceError::Forbidden(_))
    ));
    let v1 = n.save_route(&ops, 0, "0.3", &form).await.expect("save");
    assert_eq!(v1, 1);
    let t = n.test_routing(&viewer, "severity=P2").await.expect("t");
    assert_eq!(
        (t.hits[0].channels.clone(), t.hits[0].repeat_interval.as_str()),
        (vec!["slack".to_owned()], "2h")
    );
    // A stale editor (still on version 0) is told, and nothing changes.
    assert!(matches!(
        n.save_route(&ops, 0, "0.3", &RouteForm::default()).await,
        Err(ServiceError::Conflict(_))
    ));
    // Bad input names the field; an unknown escalation policy is refused.
    let mut bad = form.clone();
    bad.group_wait = "soon".into();
    assert_eq!(
        field(&n.save_route(&ops, v1, "0.3", &bad).await.expect_err("bad")),
        vec!["group_wait"]
    );
    bad = form.clone();
    bad.escalation_policy_id = Some(999);
    assert_eq!(field(&n.save_route(&ops, v1, "0.3", &bad).await.expect_err("bad")), vec!["route"]);

    // Add a child under P1 for team db, then move and delete.
    let v2 = n.change_route(&ops, v1, "0.2", RouteOp::AddChild).await.expect("add");
    let child = RouteForm {
        matchers: "team=db".into(),
        channels: vec!["slack".into()],
        ..RouteForm::default()
    };
    let v3 = n.save_route(&ops, v2, "0.2.0", &child).await.expect("child");
    let t = n.test_routing(&viewer, "severity=P1, team=db").await.expect("t");
    assert_eq!((t.hits[0].path.as_str(), t.hits[0].matchers.as_str()), ("0.2.0", "team=\"db\""));
    let v4 = n.change_route(&ops, v3, "0.2", RouteOp::Up).await.expect("up");
    assert_eq!(n.routing(&viewer).await.expect("v").rows[2].path, "0.1");
    assert_eq!(n.routing(&viewer).await.expect("v").rows[3].path, "0.1.0", "moved with its child");
    assert_eq!(
        field(&n.change_route(&ops, v4, "0", RouteOp::Delete).await.expect_err("root")),
        vec!["path"]
    );

    // Out to Alertmanager's format and back: the same tree.
    let before = n.routing(&viewer).await.expect("v");
    let yaml = n.export_routing(&viewer).await.expect("export");
    assert!(yaml.contains("receiver: vigil:all") && yaml.contains("- team=\"db\""), "{yaml}");
    let imported = n.import_routing(&ops, &yaml, v4).await.expect("import");
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    assert_eq!(n.routing(&viewer).await.expect("v").rows, before.rows);
    // A broken file changes nothing and names the place.
    let e = n
        .import_routing(&ops, "route:\n  routes:\n    - matchers: ['a=~\"(\"']\n", imported.version)
        .await
        .expect_err("bad");
    assert_eq!(field(&e), vec!["yaml"]);
    assert!(e.to_string().contains("route.routes[0].matchers[0]"), "{e}");
    assert_eq!(n.routing(&viewer).await.expect("v").version, imported.version);
    assert!(matches!(
        n.import_routing(&viewer, &yaml, imported.version).await,
        Err(ServiceError::Forbidden(_))
    ));

    // A silence covering the labels shows in the tester.
    let s = n
        .create_silence(&ops, "team=db", common::NOW - 60_000, common::NOW + 3_600_000, "migration")
        .await
        .expect("silence");
    let t = n.test_routing(&viewer, "severity=P1, team=db").await.expect("t");
    assert_eq!(t.silenced_by, vec![(s.id, "migration".to_owned())]);
}

#[tokio::test]
async fn the_demo_ships_the_default_trees_channels_disabled_once() {
    let svc = common::services_at("routing-demo", chrono_tz::UTC).await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    assert!(svc.oncall().load_demo_oncall().await.expect("oncall") > 0);
    assert_eq!(svc.notify().load_demo_routing().await.expect("demo"), 3);
    assert_eq!(svc.notify().load_demo_routing().await.expect("again"), 0);
    let view = svc.notify().routing(&viewer).await.expect("view");
    let names: Vec<(&str, bool)> = view.channels.iter().map(|(n, e)| (n.as_str(), *e)).collect();
    assert_eq!(names, vec![("email", false), ("feishu", false), ("phone", false)]);
    let paging = view.policies.iter().find(|(_, n)| n == "P0/P1 paging").expect("demo policy").0;
    let by_path =
        |p: &str| view.rows.iter().find(|r| r.path == p).expect(p).form.escalation_policy_id;
    assert_eq!(
        (by_path("0.1"), by_path("0.2"), by_path("0.3")),
        (Some(paging), Some(paging), None)
    );
}
