//! The store contract: every scenario runs on SQLite and on PostgreSQL, each on a fresh
//! database. PostgreSQL comes from `VIGIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is unreachable the Postgres
//! half fails under `CI=true` and is skipped loudly otherwise.

use domain::{ApiScope, Locale, Role};
use store::{
    AuditCtx, AuditQuery, ConnectOptions, NewApiKey, NewSession, NewUser, Store, StoreError,
};

fn ctx(at_ms: i64) -> AuditCtx {
    AuditCtx {
        user_id: Some(1),
        actor: "admin@example.com".into(),
        ip: "127.0.0.1".into(),
        at_ms,
    }
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("User {email}"),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        locale: Locale::En,
        time_zone: "UTC".into(),
    }
}

async fn sqlite_store() -> (Store, std::path::PathBuf) {
    store::testing::sqlite_store("vigil-contract").await
}

/// A fresh, migrated Postgres database for one test; `None` when skipped (never in CI).
async fn postgres_store() -> Option<(Store, store::testing::PostgresDb)> {
    let db = store::testing::postgres_db("vigil_test").await?;
    let store = Store::connect(&db.url, &ConnectOptions::default())
        .await
        .expect("connect test db");
    let applied = store.migrate().await.expect("migrate postgres");
    assert!(applied >= 1);
    Some((store, db))
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, dir) = super::sqlite_store().await;
                    super::$name(&store).await;
                    store.close().await;
                    let _ = std::fs::remove_dir_all(dir);
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some((store, db)) = super::postgres_store().await {
                        super::$name(&store).await;
                        store.close().await;
                        db.drop_db().await;
                    }
                }
            )*
        }
    };
}

contract!(
    migrations_are_idempotent,
    users_create_read_update_and_audit,
    duplicate_email_is_a_conflict_and_writes_nothing,
    sessions_expire_and_follow_disabled_users,
    api_keys_hash_lookup_and_revoke,
    audit_log_pages_and_filters,
    events_rollups_and_settings,
    rules_versions_conflicts_and_audit,
    evaluations_store_state_and_history,
    leases_have_one_holder_at_a_time,
    probes_claims_results_and_pruning,
    incidents_are_numbered_per_day_with_timeline_alerts_notes_and_audit,
    incident_saves_refuse_stale_versions_and_filters_follow_the_copied_columns,
    incident_postmortems_and_action_items_version_publish_number_and_filter,
);

async fn migrations_are_idempotent(store: &Store) {
    assert_eq!(store.migrate().await.expect("second migrate"), 0);
    store.ping().await.expect("ping");
}

async fn users_create_read_update_and_audit(store: &Store) {
    assert_eq!(store.count_users().await.expect("count"), 0);
    let u = store
        .create_user(&new_user("ada@example.com", Role::Viewer), &ctx(1_000))
        .await
        .expect("create");
    assert_eq!(u.email, "ada@example.com");
    assert_eq!(u.role, Role::Viewer);
    assert!(u.is_active());
    assert_eq!(u.created_at_ms, 1_000);

    let found = store
        .user_by_email("ada@example.com")
        .await
        .expect("by email")
        .expect("exists");
    assert_eq!(found.user, u);
    assert!(found.password_hash.starts_with("$argon2id$"));
    assert!(store
        .user_by_email("nobody@example.com")
        .await
        .expect("query")
        .is_none());
    assert!(matches!(
        store.user_by_id(9_999).await,
        Err(StoreError::NotFound)
    ));

    let promoted = store
        .set_user_role(u.id, Role::Editor, &ctx(2_000))
        .await
        .expect("role");
    assert_eq!(promoted.role, Role::Editor);
    assert_eq!(promoted.updated_at_ms, 2_000);
    let prefs = store
        .set_user_preferences(u.id, Locale::ZhCn, "Asia/Shanghai", &ctx(3_000))
        .await
        .expect("prefs");
    assert_eq!(
        (prefs.locale, prefs.time_zone.as_str()),
        (Locale::ZhCn, "Asia/Shanghai")
    );
    store
        .set_user_password_hash(u.id, "$argon2id$new", &ctx(4_000))
        .await
        .expect("pw");
    assert!(matches!(
        store.set_user_role(424_242, Role::Admin, &ctx(5_000)).await,
        Err(StoreError::NotFound)
    ));

    let log = store
        .audit_entries(&AuditQuery {
            action_prefix: Some("user.".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.password",
            "user.preferences",
            "user.role",
            "user.create"
        ]
    );
    let role_change = &log[2];
    assert_eq!(role_change.target, format!("user:{}", u.id));
    assert_eq!(role_change.actor, "admin@example.com");
    let before: serde_json::Value =
        serde_json::from_str(role_change.before_json.as_deref().expect("before")).expect("json");
    let after: serde_json::Value =
        serde_json::from_str(role_change.after_json.as_deref().expect("after")).expect("json");
    assert_eq!(before["role"], "viewer");
    assert_eq!(after["role"], "editor");
    // The password hash never reaches the audit log.
    assert!(log
        .iter()
        .all(|e| !e.after_json.clone().unwrap_or_default().contains("argon2")));
}

async fn duplicate_email_is_a_conflict_and_writes_nothing(store: &Store) {
    store
        .create_user(&new_user("ops@example.com", Role::Editor), &ctx(1))
        .await
        .expect("first");
    let err = store
        .create_user(&new_user("ops@example.com", Role::Admin), &ctx(2))
        .await
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.count_users().await.expect("count"), 1);
    let log = store
        .audit_entries(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(log.len(), 1, "the refused write left no audit entry");
}

async fn sessions_expire_and_follow_disabled_users(store: &Store) {
    let u = store
        .create_user(&new_user("ic@example.com", Role::Responder), &ctx(1))
        .await
        .expect("user");
    let s = NewSession {
        token_hash: "h1".into(),
        user_id: u.id,
        csrf_token: "csrf1".into(),
        expires_at_ms: 10_000,
        ip: "10.0.0.1".into(),
        user_agent: "test".into(),
    };
    store
        .create_session(&s, &u, &ctx(1_000))
        .await
        .expect("session");
    let live = store
        .session_user("h1", 5_000)
        .await
        .expect("q")
        .expect("live");
    assert_eq!(
        (live.user_id, live.role, live.csrf_token.as_str()),
        (u.id, Role::Responder, "csrf1")
    );
    assert!(
        store.session_user("h1", 10_000).await.expect("q").is_none(),
        "expired at its end"
    );
    assert!(store
        .session_user("nope", 5_000)
        .await
        .expect("q")
        .is_none());

    store
        .touch_session("h1", 9_000, 20_000)
        .await
        .expect("touch");
    assert!(
        store.session_user("h1", 15_000).await.expect("q").is_some(),
        "sliding expiry"
    );

    store
        .set_user_disabled(u.id, true, &ctx(16_000))
        .await
        .expect("disable");
    assert!(
        store.session_user("h1", 16_500).await.expect("q").is_none(),
        "disabled users lose sessions"
    );

    store
        .set_user_disabled(u.id, false, &ctx(17_000))
        .await
        .expect("enable");
    let s2 = NewSession {
        token_hash: "h2".into(),
        expires_at_ms: 30_000,
        ..s
    };
    store
        .create_session(&s2, &u, &ctx(17_500))
        .await
        .expect("session 2");
    store
        .delete_session("h2", u.id, &ctx(18_000))
        .await
        .expect("logout");
    assert!(store.session_user("h2", 18_500).await.expect("q").is_none());
    assert_eq!(store.delete_expired_sessions(100_000).await.expect("gc"), 0);

    let log = store
        .audit_entries(&AuditQuery {
            limit: 20,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "session.logout",
            "session.login",
            "user.enable",
            "user.disable",
            "session.login",
            "user.create"
        ]
    );
}

async fn api_keys_hash_lookup_and_revoke(store: &Store) {
    let admin = store
        .create_user(&new_user("root@example.com", Role::Admin), &ctx(1))
        .await
        .expect("admin");
    let key = store
        .create_api_key(
            &NewApiKey {
                name: "web ingest".into(),
                scope: ApiScope::Ingest,
                prefix: "vgl_abcd".into(),
                token_hash: "keyhash".into(),
                created_by: Some(admin.id),
            },
            &ctx(2),
        )
        .await
        .expect("key");
    assert_eq!(key.scope, ApiScope::Ingest);
    let found = store
        .api_key_by_hash("keyhash")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(found.id, key.id);
    store.touch_api_key(key.id, 50).await.expect("touch");
    assert_eq!(
        store.list_api_keys().await.expect("list")[0].last_used_at_ms,
        Some(50)
    );

    let revoked = store
        .revoke_api_key(key.id, &ctx(100))
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at_ms, Some(100));
    let again = store
        .revoke_api_key(key.id, &ctx(200))
        .await
        .expect("revoke again");
    assert_eq!(
        again.revoked_at_ms,
        Some(100),
        "first revocation time is kept"
    );
    assert!(store.api_key_by_hash("keyhash").await.expect("q").is_none());
    assert!(matches!(
        store.revoke_api_key(777, &ctx(300)).await,
        Err(StoreError::NotFound)
    ));
}

async fn audit_log_pages_and_filters(store: &Store) {
    for i in 0..7 {
        store
            .audit_event(
                &ctx(i),
                "session.login_failed",
                &format!("email:u{i}@example.com"),
                None,
            )
            .await
            .expect("event");
    }
    store
        .audit_event(
            &AuditCtx::system("cli", 99),
            "settings.update",
            "settings",
            Some(&serde_json::json!({"k": 1})),
        )
        .await
        .expect("event");
    let page1 = store
        .audit_entries(&AuditQuery {
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("p1");
    assert_eq!(page1.len(), 5);
    assert_eq!(page1[0].action, "settings.update");
    assert_eq!(page1[0].actor_user_id, None);
    assert_eq!(page1[0].after_json.as_deref(), Some(r#"{"k":1}"#));
    let page2 = store
        .audit_entries(&AuditQuery {
            limit: 5,
            before_id: Some(page1[4].id),
            ..Default::default()
        })
        .await
        .expect("p2");
    assert_eq!(page2.len(), 3);
    assert!(page2.iter().all(|e| e.id < page1[4].id));
    let failed = store
        .audit_entries(&AuditQuery {
            action_prefix: Some("session.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("filter");
    assert_eq!(failed.len(), 7);
}

async fn events_rollups_and_settings(store: &Store) {
    use store::events::NewEvent;
    let mut tx = store.begin_ingest().await.expect("begin");
    let first = tx.users(&["user-a"], 1_000).await.expect("user");
    let again = tx
        .users(&["user-a", "user-b"], 2_000)
        .await
        .expect("same user, and a new one");
    let (u1, u2) = (first["user-a"], again["user-b"]);
    assert_eq!(u1, again["user-a"], "one index per user_id");
    assert_ne!(u1.idx, u2.idx);
    let e = NewEvent {
        event_id: "ev-1",
        user_idx: u1.idx,
        event_name: "user_register_success",
        ts_ms: 5_000,
        session_id: None,
        platform: Some("web"),
        version: None,
        properties: Some(r#"{"source":"ad"}"#),
        received_at_ms: 6_000,
    };
    let new = tx
        .insert_events(std::slice::from_ref(&e))
        .await
        .expect("insert");
    assert!(new.contains("ev-1"));
    let again = tx
        .insert_events(std::slice::from_ref(&e))
        .await
        .expect("duplicate");
    assert!(again.is_empty(), "same event_id is a duplicate");
    tx.set_registered(u1.idx, 5_000).await.expect("registered");
    tx.put_day_users(10, "active", &[1, 2, 3, 255], 7)
        .await
        .expect("put");
    tx.put_day_users(10, "active", &[9, 9], 8)
        .await
        .expect("upsert");
    tx.put_day_users(11, "feature:export", &[4], 1)
        .await
        .expect("put");
    tx.put_hourly(100, "ai", r#"{"n":1}"#)
        .await
        .expect("hourly");
    tx.put_hourly(100, "ai", r#"{"n":2}"#)
        .await
        .expect("hourly upsert");
    tx.insert_subscription("ev-s", u2.idx, 7_000, "start", 99.5)
        .await
        .expect("sub");
    assert_eq!(
        tx.day_users(10, "active").await.expect("read in tx"),
        Some((vec![9, 9], 8))
    );
    tx.commit().await.expect("commit");

    assert_eq!(store.count_events().await.expect("count"), 1);
    let rows = store.day_users("active", 0, 20).await.expect("range");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].day, rows[0].users.clone(), rows[0].events),
        (10, vec![9, 9], 8)
    );
    assert_eq!(
        store.rollup_keys("feature:", 0, 20).await.expect("keys"),
        ["feature:export"]
    );
    assert_eq!(
        store.hourly("ai", 0, 200).await.expect("hourly"),
        [(100, r#"{"n":2}"#.to_owned())]
    );
    let subs = store.subscription_events(10_000).await.expect("subs");
    assert_eq!(subs, [(u2.idx, 7_000, "start".to_owned(), 99.5)]);
    let funnel = store
        .events_of("user_register_success", 0, 10_000)
        .await
        .expect("funnel rows");
    assert_eq!(funnel, [(u1.idx, 5_000)]);
    assert!(store
        .events_of("user_register_success", 5_001, 10_000)
        .await
        .expect("empty range")
        .is_empty());
    assert_eq!(
        store
            .rollup_counts(&["active".to_owned(), "event:none".to_owned()], 0, 20)
            .await
            .expect("counts"),
        [(10, "active".to_owned(), 8)]
    );

    // A rolled-back batch leaves nothing behind.
    let mut tx = store.begin_ingest().await.expect("begin");
    tx.put_day_users(12, "active", &[1], 1).await.expect("put");
    drop(tx);
    assert!(store
        .day_users("active", 12, 12)
        .await
        .expect("range")
        .is_empty());

    assert_eq!(store.setting("reporting_tz").await.expect("get"), None);
    store.set_setting("reporting_tz", "UTC").await.expect("set");
    store
        .set_setting("reporting_tz", "Asia/Shanghai")
        .await
        .expect("overwrite");
    assert_eq!(
        store.setting("reporting_tz").await.expect("get").as_deref(),
        Some("Asia/Shanghai")
    );

    assert_eq!(
        store.delete_events_before(6_000).await.expect("retention"),
        1
    );
    assert_eq!(
        store
            .delete_rollups_before(11, 101)
            .await
            .expect("rollup retention"),
        2
    );
    assert_eq!(
        store
            .day_users("feature:export", 0, 20)
            .await
            .expect("kept")
            .len(),
        1
    );
}

fn rule_spec(name: &str, threshold: f64) -> domain::alerting::RuleSpec {
    domain::alerting::RuleSpec::kpi_threshold(
        name,
        domain::alerting::Severity::P1,
        domain::alerting::KpiMetric::AiSuccessRate,
        domain::alerting::CompareOp::Lt,
        threshold,
    )
}

async fn rules_versions_conflicts_and_audit(store: &Store) {
    let admin = store
        .create_user(&new_user("ops@example.com", Role::Editor), &ctx(1))
        .await
        .expect("user");
    let c = AuditCtx {
        user_id: Some(admin.id),
        ..ctx(1_000)
    };
    let r = store
        .create_rule(&rule_spec("AI low", 0.9), &c)
        .await
        .expect("create");
    assert_eq!((r.version, r.updated_by), (1, Some(admin.id)));
    assert_eq!(
        store.rule(r.id).await.expect("get").spec,
        rule_spec("AI low", 0.9)
    );
    // Same name → Conflict naming the rule, nothing written.
    match store.create_rule(&rule_spec("AI low", 0.5), &c).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("AI low"), "{m}"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.count_rules().await.expect("count"), 1);
    let u = store
        .update_rule(r.id, 1, &rule_spec("AI low", 0.8), &ctx(2_000))
        .await
        .expect("update");
    assert_eq!(u.version, 2);
    // A stale version is refused.
    assert!(matches!(
        store
            .update_rule(r.id, 1, &rule_spec("AI low", 0.1), &ctx(3_000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .update_rule(999, 1, &rule_spec("x", 0.1), &ctx(3_000))
            .await,
        Err(StoreError::NotFound)
    ));
    let listed = store.rules_with_state().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next_eval_at_ms, 0, "an edit makes the rule due");
    store.delete_rule(r.id, &ctx(4_000)).await.expect("delete");
    assert!(store.rules_with_state().await.expect("list").is_empty());
    let audit = store
        .audit_entries(&AuditQuery {
            action_prefix: Some("rule.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["rule.delete", "rule.update", "rule.create"]);
    assert!(audit[1]
        .before_json
        .as_deref()
        .unwrap_or("")
        .contains("0.9"));
    assert!(audit[1].after_json.as_deref().unwrap_or("").contains("0.8"));
}

async fn evaluations_store_state_and_history(store: &Store) {
    use domain::alerting::{AlertState, RuleState, RuleTiming, Sample};
    let r = store
        .create_rule(&rule_spec("AI low", 0.9), &AuditCtx::system("system", 0))
        .await
        .expect("create");
    assert_eq!(store.due_rules(0).await.expect("due").len(), 1);
    let mut state = RuleState::default();
    let mut labels = domain::alerting::Labels::new();
    labels.insert("service".into(), "chat".into());
    let t = state.evaluate(
        RuleTiming::default(),
        60_000,
        &[Sample {
            labels: labels.clone(),
            value: 0.7,
        }],
    );
    let e = store::Evaluated {
        rule_id: r.id,
        version: r.version,
        rule_name: "AI low",
        severity: domain::alerting::Severity::P1,
        state: &state,
        at_ms: 60_000,
        next_eval_at_ms: 120_000,
        last_value: Some(0.7),
        last_error: None,
        transitions: &t,
    };
    assert!(store.record_evaluation(&e).await.expect("record"));
    assert!(store.due_rules(119_999).await.expect("due").is_empty());
    let due = store.due_rules(120_000).await.expect("due");
    assert_eq!(due[0].state, state, "state round-trips");
    assert_eq!(due[0].last_value, Some(0.7));
    // A result for an older version is dropped (the rule was edited meanwhile).
    store
        .update_rule(
            r.id,
            1,
            &rule_spec("AI low", 0.5),
            &AuditCtx::system("system", 1),
        )
        .await
        .expect("edit");
    assert!(!store.record_evaluation(&e).await.expect("stale"));
    let h = store
        .alert_history(&store::HistoryQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("history");
    // No `for`: one evaluation went inactive → pending → firing; the stale one wrote nothing.
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (h[0].rule_name.as_str(), h[0].from, h[0].to, h[0].value),
        (
            "AI low",
            Some(AlertState::Pending),
            Some(AlertState::Firing),
            Some(0.7)
        )
    );
    assert_eq!((h[1].from, h[1].to), (None, Some(AlertState::Pending)));
    assert_eq!(h[0].labels, labels);
    for (q, n) in [
        (
            store::HistoryQuery {
                rule_id: Some(r.id),
                severity: Some(domain::alerting::Severity::P1),
                to: Some(Some(AlertState::Firing)),
                from_ms: Some(60_000),
                to_ms: Some(60_001),
                limit: 10,
                ..Default::default()
            },
            1,
        ),
        (
            store::HistoryQuery {
                severity: Some(domain::alerting::Severity::P0),
                limit: 10,
                ..Default::default()
            },
            0,
        ),
        (
            store::HistoryQuery {
                to: Some(Some(AlertState::Inactive)),
                limit: 10,
                ..Default::default()
            },
            0,
        ),
    ] {
        assert_eq!(
            store.alert_history(&q).await.expect("filtered").len(),
            n,
            "{q:?}"
        );
    }
}

async fn leases_have_one_holder_at_a_time(store: &Store) {
    assert!(store
        .try_lease("engine", "a", 1_000, 10_000)
        .await
        .expect("a takes"));
    assert!(!store
        .try_lease("engine", "b", 2_000, 10_000)
        .await
        .expect("b waits"));
    assert!(store
        .try_lease("engine", "a", 5_000, 10_000)
        .await
        .expect("a renews"));
    // a's renewal runs to 15 000: b still waits at 14 999, takes over after.
    assert!(!store
        .try_lease("engine", "b", 14_999, 10_000)
        .await
        .expect("b waits"));
    assert!(store
        .try_lease("engine", "b", 15_001, 10_000)
        .await
        .expect("b takes over"));
    assert!(!store
        .try_lease("engine", "a", 16_000, 10_000)
        .await
        .expect("a lost it"));
    store.release_lease("engine", "b").await.expect("release");
    assert!(store
        .try_lease("engine", "a", 16_001, 10_000)
        .await
        .expect("a again"));
    // Leases are per name.
    assert!(store
        .try_lease("other", "b", 16_001, 10_000)
        .await
        .expect("other"));
}

async fn probes_claims_results_and_pruning(store: &Store) {
    use domain::probe::{ProbeResult, ProbeSpec};
    let spec = ProbeSpec::new("API health", "http://127.0.0.1:9/health");
    let p = store
        .create_probe(&spec, &AuditCtx::system("test", 1_000))
        .await
        .expect("create");
    assert_eq!((p.version, p.next_run_at_ms), (1, 0));
    assert!(matches!(
        store.create_probe(&spec, &AuditCtx::system("test", 1_000)).await,
        Err(store::StoreError::Conflict(m)) if m.contains("API health")
    ));
    // Due at once; claimed once; next run one interval later, then on the same cadence.
    let due = store.claim_due_probes(10_000).await.expect("claim");
    assert_eq!(due.len(), 1);
    assert!(store
        .claim_due_probes(10_001)
        .await
        .expect("again")
        .is_empty());
    assert_eq!(store.probe(p.id).await.expect("get").next_run_at_ms, 70_000);
    assert_eq!(store.claim_due_probes(75_000).await.expect("late").len(), 1);
    assert_eq!(
        store.probe(p.id).await.expect("get").next_run_at_ms,
        130_000
    );
    // Results, windows, counts.
    let results: Vec<(i64, ProbeResult)> = (1..=10)
        .map(|i| {
            (
                p.id,
                ProbeResult {
                    at_ms: i * 60_000,
                    ok: i != 4 && i != 7,
                    status: if i == 7 { None } else { Some(200) },
                    latency_ms: i as f64 * 1.5,
                    error: (i == 4 || i == 7).then(|| "timed out".to_owned()),
                },
            )
        })
        .collect();
    store.record_probe_results(&results).await.expect("record");
    // A deleted probe's late result is dropped.
    store
        .record_probe_results(&[(p.id + 1000, results[0].1.clone())])
        .await
        .expect("orphan");
    let got = store
        .probe_results(Some(&[p.id]), 3 * 60_000, 10 * 60_000)
        .await
        .expect("window");
    let rows = &got[&p.id];
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].at_ms, 4 * 60_000);
    assert!(!rows[0].ok && rows[3].status.is_none() && rows[6].latency_ms == 15.0);
    assert_eq!(
        store
            .probe_results(None, 0, i64::MAX)
            .await
            .expect("all")
            .len(),
        1
    );
    assert_eq!(
        store.probe_counts(0, i64::MAX).await.expect("counts")[&p.id],
        (10, 2)
    );
    // Edits bump the version and run again at once; stale edits conflict.
    let mut edited = spec.clone();
    edited.interval_ms = 30_000;
    let e = store
        .update_probe(p.id, 1, &edited, &AuditCtx::system("test", 2_000))
        .await
        .expect("update");
    assert_eq!((e.version, e.next_run_at_ms), (2, 0));
    assert!(matches!(
        store
            .update_probe(p.id, 1, &edited, &AuditCtx::system("test", 2_000))
            .await,
        Err(store::StoreError::Conflict(_))
    ));
    assert_eq!(
        store.prune_probe_results(5 * 60_000).await.expect("prune"),
        4
    );
    store
        .delete_probe(p.id, &AuditCtx::system("test", 3_000))
        .await
        .expect("delete");
    assert!(store.probes().await.expect("list").is_empty());
    assert!(store
        .probe_results(None, 0, i64::MAX)
        .await
        .expect("gone")
        .is_empty());
    let audit = store
        .audit_entries(&store::AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for a in ["probe.create", "probe.update", "probe.delete"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

// ----- incidents -----

/// 2026-02-14T01:00:00Z.
const T0: i64 = 1_771_030_800_000;
const MIN: i64 = domain::incident::MINUTE_MS;
const HOUR: i64 = domain::incident::HOUR_MS;
const DAY: i64 = domain::incident::DAY_MS;

fn as_user(u: &store::User, at_ms: i64) -> AuditCtx {
    AuditCtx {
        user_id: Some(u.id),
        actor: u.email.clone(),
        ip: "10.0.0.7".into(),
        at_ms,
    }
}

async fn user(store: &Store, email: &str) -> store::User {
    store
        .create_user(
            &new_user(email, Role::Responder),
            &AuditCtx::system("cli", 1),
        )
        .await
        .expect("user")
}

fn declared(
    title: &str,
    severity: domain::alerting::Severity,
    day: &str,
    detected_at_ms: i64,
    commander: Option<&store::User>,
) -> store::NewIncident {
    use domain::incident::{IncidentFields, IncidentRole, Roles};
    let mut roles = Roles::new();
    if let Some(c) = commander {
        roles.insert(IncidentRole::Commander, vec![c.id]);
    }
    store::NewIncident {
        fields: IncidentFields {
            title: title.into(),
            severity,
            ..IncidentFields::default()
        },
        detected_at_ms,
        day: day.into(),
        roles,
        reporter_id: commander.map(|c| c.id),
        reporter: commander.map_or_else(|| "system".to_owned(), |c| c.email.clone()),
    }
}

async fn incident_actions(store: &Store, prefix: &str) -> Vec<store::AuditEntry> {
    store
        .audit_entries(&AuditQuery {
            action_prefix: Some(prefix.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
}

async fn incidents_are_numbered_per_day_with_timeline_alerts_notes_and_audit(store: &Store) {
    use domain::alerting::Severity;
    use domain::incident::{EntryKind, IncidentFields, IncidentRole, Roles, Status, StatusLog};
    use store::{AlertLink, NewEntry, NewIncident, TimelineEntry};
    let ic = user(store, "ic@example.com").await;
    let eng1 = user(store, "eng1@example.com").await;
    let eng2 = user(store, "eng2@example.com").await;

    let fields = IncidentFields {
        title: "Chat replies time out".into(),
        severity: Severity::P1,
        impact_scope: "Chat, all regions".into(),
        user_impact: "Replies take 30 s, then fail — 用户无法收到回复".into(),
        description: "AI gateway p99 above 30 s since 00:55".into(),
        measures_taken: "Scaled the gateway".into(),
        support_needed: "DBA on call".into(),
        contact: "feishu: @ic".into(),
    };
    let mut roles = Roles::new();
    roles.insert(IncidentRole::Commander, vec![ic.id]);
    roles.insert(IncidentRole::Engineer, vec![eng2.id, eng1.id]);
    let alert = AlertLink {
        fingerprint: "fp-chat-1".into(),
        source: "vigil".into(),
        rule_id: Some(42),
        title: "AI low".into(),
        severity: Severity::P1,
        labels: [("service".to_owned(), "chat".to_owned())].into(),
        linked_at_ms: T0 + 1_000,
    };
    let new = NewIncident {
        fields: fields.clone(),
        detected_at_ms: T0,
        day: "20260214".into(),
        roles: roles.clone(),
        reporter_id: Some(ic.id),
        reporter: "ic@example.com".into(),
    };
    let a = store
        .create_incident(&new, Some(&alert), &as_user(&ic, T0 + 5_000))
        .await
        .expect("declare a");
    assert_eq!(a.code, "INC-20260214-001");
    assert_eq!(a.fields, fields);
    assert_eq!(a.roles, roles);
    assert_eq!(a.log, StatusLog::new(T0));
    assert_eq!(a.status(), Status::Detecting);
    assert_eq!(a.commander(), Some(ic.id));
    assert!(a.checklist.is_empty());
    assert_eq!(
        (a.reporter_id, a.reporter.as_str(), a.version),
        (Some(ic.id), "ic@example.com", 1)
    );
    assert_eq!((a.created_at_ms, a.updated_at_ms), (T0 + 5_000, T0 + 5_000));
    assert_eq!(store.incident(a.id).await.expect("get"), a);
    assert_eq!(
        store
            .incident_by_code(" inc-20260214-001 ")
            .await
            .expect("by code"),
        a
    );
    assert!(matches!(
        store.incident_by_code("INC-20260214-009").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.incident(a.id + 1_000).await,
        Err(StoreError::NotFound)
    ));

    // Same day → next number; another day starts at 001; back on the first day → 003.
    let sys = AuditCtx::system("system", T0 + 6_000);
    let b = store
        .create_incident(
            &declared(
                "Payment webhook errors",
                Severity::P0,
                "20260214",
                T0 + HOUR,
                None,
            ),
            None,
            &sys,
        )
        .await
        .expect("declare b");
    let c = store
        .create_incident(
            &declared(
                "Search lag",
                Severity::P3,
                "20260215",
                T0 + DAY,
                Some(&eng1),
            ),
            None,
            &sys,
        )
        .await
        .expect("declare c");
    let d = store
        .create_incident(
            &declared("Login slow", Severity::P2, "20260214", T0 + 2 * HOUR, None),
            None,
            &sys,
        )
        .await
        .expect("declare d");
    assert_eq!(
        [b.code.as_str(), c.code.as_str(), d.code.as_str()],
        ["INC-20260214-002", "INC-20260215-001", "INC-20260214-003"]
    );
    assert_eq!((b.reporter_id, b.commander()), (None, None));
    assert_eq!(c.commander(), Some(eng1.id));

    // The declaration and the alert it came from are on the timeline, written by the actor.
    let timeline = store.incident_timeline(a.id).await.expect("timeline");
    let declared_entry = TimelineEntry {
        id: timeline[0].id,
        incident_id: a.id,
        at_ms: T0,
        kind: EntryKind::Declared,
        body: "INC-20260214-001 declared as P1 by ic@example.com".into(),
        actor: "ic@example.com".into(),
        actor_user_id: Some(ic.id),
        created_at_ms: T0 + 5_000,
        edited_at_ms: None,
    };
    assert_eq!(
        timeline,
        [
            declared_entry.clone(),
            TimelineEntry {
                id: timeline[1].id,
                at_ms: T0 + 1_000,
                kind: EntryKind::Alert,
                body: "Alert linked: AI low (P1, vigil)".into(),
                ..declared_entry.clone()
            }
        ]
    );
    let b_timeline = store.incident_timeline(b.id).await.expect("timeline b");
    assert_eq!(b_timeline.len(), 1);
    assert_eq!(
        (
            b_timeline[0].kind,
            b_timeline[0].body.as_str(),
            b_timeline[0].actor.as_str(),
            b_timeline[0].actor_user_id
        ),
        (
            EntryKind::Declared,
            "INC-20260214-002 declared as P0 by system",
            "system",
            None
        )
    );

    // Alert links: stored with labels, found by fingerprint, once per incident.
    assert_eq!(
        store.incident_alerts(a.id).await.expect("alerts"),
        std::slice::from_ref(&alert)
    );
    assert!(store.incident_alerts(b.id).await.expect("none").is_empty());
    assert_eq!(
        store
            .incident_for_alert("fp-chat-1")
            .await
            .expect("for alert"),
        Some(a.id)
    );
    assert_eq!(
        store
            .incident_for_alert("fp-other")
            .await
            .expect("for alert"),
        None
    );
    let relinked = AlertLink {
        linked_at_ms: T0 + DAY + MIN,
        ..alert.clone()
    };
    assert!(store
        .link_alert(&c, &relinked, &sys)
        .await
        .expect("link to c"));
    assert!(!store
        .link_alert(&c, &relinked, &sys)
        .await
        .expect("already linked"));
    assert_eq!(
        store.incident_for_alert("fp-chat-1").await.expect("newest"),
        Some(c.id)
    );
    assert_eq!(
        store
            .incident_timeline(c.id)
            .await
            .expect("timeline c")
            .len(),
        2,
        "one link entry for one link"
    );

    // Notes are editable; automatic entries are not.
    let after_note = store
        .add_timeline_entries(
            &a,
            &[NewEntry {
                at_ms: T0 + 7 * MIN,
                kind: EntryKind::Note,
                body: "Restarted the gateway pods".into(),
            }],
            &as_user(&eng1, T0 + 8 * MIN),
        )
        .await
        .expect("note");
    assert_eq!(after_note.len(), 3);
    let note = after_note[2].clone();
    assert_eq!(
        (
            note.kind,
            note.at_ms,
            note.actor_user_id,
            note.created_at_ms
        ),
        (EntryKind::Note, T0 + 7 * MIN, Some(eng1.id), T0 + 8 * MIN)
    );
    let edited = store
        .update_note(
            note.id,
            "Restarted the gateway pods in all regions",
            T0 - 2 * MIN,
            &as_user(&ic, T0 + 9 * MIN),
        )
        .await
        .expect("edit note");
    assert_eq!(
        edited,
        TimelineEntry {
            body: "Restarted the gateway pods in all regions".into(),
            at_ms: T0 - 2 * MIN,
            edited_at_ms: Some(T0 + 9 * MIN),
            ..note.clone()
        }
    );
    assert_eq!(store.timeline_entry(note.id).await.expect("read"), edited);
    match store
        .update_note(
            declared_entry.id,
            "rewritten",
            T0,
            &as_user(&ic, T0 + 10 * MIN),
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("only notes"), "{m}"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(
        store.timeline_entry(declared_entry.id).await.expect("read"),
        declared_entry,
        "the refused edit changed nothing"
    );
    assert!(matches!(
        store
            .update_note(note.id + 1_000, "x", T0, &as_user(&ic, T0))
            .await,
        Err(StoreError::NotFound)
    ));
    // The note now describes a symptom before detection: the timeline is in event order.
    let kinds: Vec<EntryKind> = store
        .incident_timeline(a.id)
        .await
        .expect("timeline")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EntryKind::Note, EntryKind::Declared, EntryKind::Alert]
    );

    let log = incident_actions(store, "incident.").await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "incident.note.update",
                format!("incident-entry:{}", note.id).as_str()
            ),
            ("incident.timeline.add", "incident:INC-20260214-001"),
            ("incident.alert.link", "incident:INC-20260215-001"),
            ("incident.create", "incident:INC-20260214-003"),
            ("incident.create", "incident:INC-20260215-001"),
            ("incident.create", "incident:INC-20260214-002"),
            ("incident.create", "incident:INC-20260214-001"),
        ]
    );
    let created = &log[6];
    assert_eq!(
        (created.actor.as_str(), created.actor_user_id, created.at_ms),
        ("ic@example.com", Some(ic.id), T0 + 5_000)
    );
    assert_eq!(created.before_json, None);
    let audited: store::Incident =
        serde_json::from_str(created.after_json.as_deref().expect("after")).expect("json");
    assert_eq!(audited, a);
}

async fn incident_saves_refuse_stale_versions_and_filters_follow_the_copied_columns(store: &Store) {
    use domain::alerting::Severity;
    use domain::incident::{Checkpoint, EntryKind, IncidentRole, Status};
    use store::{IncidentFilter, NewEntry};
    let ic1 = user(store, "ic1@example.com").await;
    let ic2 = user(store, "ic2@example.com").await;
    let sys = AuditCtx::system("system", T0);
    let a = store
        .create_incident(
            &declared(
                "Chat replies time out",
                Severity::P1,
                "20260214",
                T0,
                Some(&ic1),
            ),
            None,
            &sys,
        )
        .await
        .expect("a");
    let b = store
        .create_incident(
            &declared(
                "Payment webhook errors",
                Severity::P0,
                "20260214",
                T0 + HOUR,
                None,
            ),
            None,
            &sys,
        )
        .await
        .expect("b");
    let c = store
        .create_incident(
            &declared(
                "Search index lagging",
                Severity::P3,
                "20260215",
                T0 + DAY,
                Some(&ic2),
            ),
            None,
            &sys,
        )
        .await
        .expect("c");

    // Acknowledge, raise to P0, hand over to ic2, tick a checkpoint.
    let mut next = a.clone();
    next.log
        .change(
            Severity::P1,
            Status::Investigating,
            T0 + 10 * MIN,
            T0 + 20 * MIN,
            None,
        )
        .expect("transition");
    next.fields.severity = Severity::P0;
    next.fields.title = "Chat replies time out (all regions)".into();
    next.roles.insert(IncidentRole::Commander, vec![ic2.id]);
    next.checklist
        .insert(Checkpoint::LevelAndCommander, T0 + 3 * MIN);
    let entry = NewEntry {
        at_ms: T0 + 10 * MIN,
        kind: EntryKind::Status,
        body: "detecting → investigating".into(),
    };
    let saved = store
        .save_incident(
            &a,
            &next,
            std::slice::from_ref(&entry),
            "incident.status",
            &as_user(&ic1, T0 + 20 * MIN),
        )
        .await
        .expect("save");
    assert_eq!(saved.version, 2);
    assert_eq!(
        (saved.created_at_ms, saved.updated_at_ms),
        (T0, T0 + 20 * MIN)
    );
    assert_eq!(saved.status(), Status::Investigating);
    assert_eq!(saved.commander(), Some(ic2.id));
    assert_eq!(
        (&saved.fields, &saved.log, &saved.roles),
        (&next.fields, &next.log, &next.roles)
    );
    assert_eq!(saved.checklist, next.checklist);
    assert_eq!((saved.code.as_str(), saved.id), ("INC-20260214-001", a.id));
    assert_eq!(store.incident(a.id).await.expect("get"), saved);

    // A save based on version 1 is refused and leaves incident, timeline and audit as they were.
    let audit_before = incident_actions(store, "").await.len();
    let timeline_before = store.incident_timeline(a.id).await.expect("timeline");
    let mut stale = a.clone();
    stale.fields.title = "Overwritten".into();
    match store
        .save_incident(
            &a,
            &stale,
            std::slice::from_ref(&entry),
            "incident.edit",
            &as_user(&ic2, T0 + 21 * MIN),
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(
            m.contains("version 2 is current") && m.contains("based on 1"),
            "{m}"
        ),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.incident(a.id).await.expect("get"), saved);
    assert_eq!(
        store.incident_timeline(a.id).await.expect("timeline"),
        timeline_before
    );
    assert_eq!(incident_actions(store, "").await.len(), audit_before);
    assert_eq!(
        timeline_before
            .iter()
            .map(|e| (e.kind, e.at_ms))
            .collect::<Vec<_>>(),
        [
            (EntryKind::Declared, T0),
            (EntryKind::Status, T0 + 10 * MIN)
        ]
    );

    // Monitor and resolve (P0 watches 4 h): a leaves the open list.
    let mut next = saved.clone();
    next.log
        .change(
            Severity::P0,
            Status::Monitoring,
            T0 + 30 * MIN,
            T0 + 5 * HOUR,
            None,
        )
        .expect("monitor");
    next.log
        .change(
            Severity::P0,
            Status::Resolved,
            T0 + 5 * HOUR,
            T0 + 5 * HOUR,
            None,
        )
        .expect("resolve");
    let resolved = store
        .save_incident(
            &saved,
            &next,
            &[],
            "incident.status",
            &as_user(&ic2, T0 + 5 * HOUR),
        )
        .await
        .expect("resolve");
    assert_eq!((resolved.version, resolved.status()), (3, Status::Resolved));
    assert_eq!(resolved.log.resolved_ms(), Some(T0 + 5 * HOUR));

    let audit = incident_actions(store, "incident.status").await;
    assert_eq!(audit.len(), 2);
    let version_of = |j: Option<&str>| -> i64 {
        serde_json::from_str::<serde_json::Value>(j.expect("json")).expect("json")["version"]
            .as_i64()
            .expect("version")
    };
    assert_eq!(
        (
            version_of(audit[1].before_json.as_deref()),
            version_of(audit[1].after_json.as_deref()),
            audit[1].target.as_str(),
            audit[1].actor_user_id
        ),
        (1, 2, "incident:INC-20260214-001", Some(ic1.id))
    );

    let codes = |f: IncidentFilter| async move {
        store
            .incidents(&f)
            .await
            .expect("list")
            .into_iter()
            .map(|i| i.code)
            .collect::<Vec<_>>()
    };
    let (ca, cb, cc) = (a.code.clone(), b.code.clone(), c.code.clone());
    let table: Vec<(IncidentFilter, Vec<String>)> = vec![
        (
            IncidentFilter::default(),
            vec![cc.clone(), cb.clone(), ca.clone()],
        ),
        (
            IncidentFilter {
                open: Some(true),
                ..Default::default()
            },
            vec![cc.clone(), cb.clone()],
        ),
        (
            IncidentFilter {
                open: Some(false),
                ..Default::default()
            },
            vec![ca.clone()],
        ),
        (
            IncidentFilter {
                status: Some(Status::Resolved),
                ..Default::default()
            },
            vec![ca.clone()],
        ),
        (
            IncidentFilter {
                status: Some(Status::Detecting),
                ..Default::default()
            },
            vec![cc.clone(), cb.clone()],
        ),
        (
            IncidentFilter {
                status: Some(Status::Investigating),
                ..Default::default()
            },
            vec![],
        ),
        // a was raised from P1 to P0.
        (
            IncidentFilter {
                severity: Some(Severity::P0),
                ..Default::default()
            },
            vec![cb.clone(), ca.clone()],
        ),
        (
            IncidentFilter {
                severity: Some(Severity::P1),
                ..Default::default()
            },
            vec![],
        ),
        // a was handed over from ic1 to ic2.
        (
            IncidentFilter {
                commander_id: Some(ic2.id),
                ..Default::default()
            },
            vec![cc.clone(), ca.clone()],
        ),
        (
            IncidentFilter {
                commander_id: Some(ic1.id),
                ..Default::default()
            },
            vec![],
        ),
        (
            IncidentFilter {
                q: Some("  CHAT Replies ".into()),
                ..Default::default()
            },
            vec![ca.clone()],
        ),
        (
            IncidentFilter {
                q: Some("all regions".into()),
                ..Default::default()
            },
            vec![ca.clone()],
        ),
        (
            IncidentFilter {
                q: Some("Overwritten".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            IncidentFilter {
                q: Some("inc-20260214".into()),
                ..Default::default()
            },
            vec![cb.clone(), ca.clone()],
        ),
        (
            IncidentFilter {
                q: Some("20260215-001".into()),
                ..Default::default()
            },
            vec![cc.clone()],
        ),
        // From inclusive, to exclusive.
        (
            IncidentFilter {
                from_ms: Some(T0 + HOUR),
                to_ms: Some(T0 + DAY),
                ..Default::default()
            },
            vec![cb.clone()],
        ),
        (
            IncidentFilter {
                from_ms: Some(T0 + 1),
                ..Default::default()
            },
            vec![cc.clone(), cb.clone()],
        ),
        (
            IncidentFilter {
                open: Some(true),
                severity: Some(Severity::P0),
                ..Default::default()
            },
            vec![cb.clone()],
        ),
        (
            IncidentFilter {
                q: Some("e".into()),
                commander_id: Some(ic2.id),
                status: Some(Status::Detecting),
                ..Default::default()
            },
            vec![cc.clone()],
        ),
        (
            IncidentFilter {
                limit: 2,
                ..Default::default()
            },
            vec![cc.clone(), cb.clone()],
        ),
    ];
    for (f, want) in table {
        assert_eq!(codes(f.clone()).await, want, "{f:?}");
    }
}

async fn incident_postmortems_and_action_items_version_publish_number_and_filter(store: &Store) {
    use domain::alerting::Severity;
    use domain::incident::postmortem::{
        ActionKind, ActionSpec, ActionStatus, Fishbone, PmStatus, PmTimelineRow, Postmortem,
    };
    use domain::incident::EntryKind;
    use store::ActionFilter;
    let ic = user(store, "ic@example.com").await;
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;
    let sys = AuditCtx::system("system", T0);
    let a = store
        .create_incident(
            &declared(
                "Chat replies time out",
                Severity::P1,
                "20260214",
                T0,
                Some(&ic),
            ),
            None,
            &sys,
        )
        .await
        .expect("a");
    let b = store
        .create_incident(
            &declared(
                "Payment webhook errors",
                Severity::P0,
                "20260214",
                T0 + HOUR,
                None,
            ),
            None,
            &sys,
        )
        .await
        .expect("b");

    // ----- postmortem -----
    assert_eq!(store.postmortem(a.id).await.expect("none yet"), None);
    let mut doc = Postmortem {
        timeline: vec![
            PmTimelineRow {
                at_ms: T0,
                event: "Alert fired".into(),
                owner: "vigil".into(),
            },
            PmTimelineRow {
                at_ms: T0 + 10 * MIN,
                event: "Gateway scaled".into(),
                owner: "ic".into(),
            },
        ],
        direct_cause: "Gateway connection pool exhausted".into(),
        whys: vec!["Pool too small".into(), "Defaults never tuned".into()],
        factors: Fishbone {
            methods: "No load test before launch".into(),
            ..Fishbone::default()
        },
        users_affected: Some(1_200),
        complaints: Some(0),
        links_docs: "runbook https://wiki.example.com/chat".into(),
        ..Postmortem::default()
    };
    // Nothing to replace yet: only expected version 0 creates.
    assert!(matches!(
        store
            .save_postmortem(&a, 1, &doc, PmStatus::Draft, &as_user(&ic, T0 + DAY))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.postmortem(a.id).await.expect("still none"), None);
    let v1 = store
        .save_postmortem(&a, 0, &doc, PmStatus::Draft, &as_user(&ic, T0 + DAY))
        .await
        .expect("create");
    assert_eq!(
        v1,
        store::PostmortemRow {
            incident_id: a.id,
            status: PmStatus::Draft,
            doc: doc.clone(),
            version: 1,
            published_at_ms: None,
            created_at_ms: T0 + DAY,
            updated_at_ms: T0 + DAY,
        }
    );
    assert_eq!(
        store.postmortem(a.id).await.expect("read"),
        Some(v1.clone())
    );
    // A second "create" (expected 0) is stale now and writes nothing.
    let mut other = doc.clone();
    other.direct_cause = "Someone else's text".into();
    match store
        .save_postmortem(&a, 0, &other, PmStatus::Draft, &as_user(&ann, T0 + DAY + 1))
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(
            m.contains("version 1 is current") && m.contains("based on 0"),
            "{m}"
        ),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(
        store.postmortem(a.id).await.expect("read"),
        Some(v1.clone())
    );

    doc.root_cause = "Connection pool sized for 2024 traffic".into();
    let t = |h: i64| T0 + DAY + h * HOUR;
    let v2 = store
        .save_postmortem(&a, 1, &doc, PmStatus::InReview, &as_user(&ic, t(1)))
        .await
        .expect("review");
    assert_eq!(
        (
            v2.version,
            v2.status,
            v2.published_at_ms,
            v2.created_at_ms,
            v2.updated_at_ms
        ),
        (2, PmStatus::InReview, None, T0 + DAY, t(1))
    );
    assert_eq!(v2.doc.root_cause, "Connection pool sized for 2024 traffic");
    let v3 = store
        .save_postmortem(&a, 2, &doc, PmStatus::Published, &as_user(&ann, t(2)))
        .await
        .expect("publish");
    assert_eq!((v3.version, v3.published_at_ms), (3, Some(t(2))));
    // Saving a published postmortem keeps its publication time.
    doc.went_well = "Alert fired within a minute".into();
    let v4 = store
        .save_postmortem(&a, 3, &doc, PmStatus::Published, &as_user(&ann, t(3)))
        .await
        .expect("edit published");
    assert_eq!(
        (v4.version, v4.status, v4.published_at_ms, v4.updated_at_ms),
        (4, PmStatus::Published, Some(t(2)), t(3))
    );
    assert_eq!(v4.doc, doc);
    assert!(matches!(
        store
            .save_postmortem(&a, 3, &doc, PmStatus::Draft, &as_user(&bob, t(4)))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Back to draft for corrections, then published again: a new publication time.
    let v5 = store
        .save_postmortem(&a, 4, &doc, PmStatus::Draft, &as_user(&ic, t(5)))
        .await
        .expect("to draft");
    assert_eq!((v5.version, v5.published_at_ms), (5, None));
    store
        .save_postmortem(&a, 5, &doc, PmStatus::InReview, &as_user(&ic, t(6)))
        .await
        .expect("review again");
    let v7 = store
        .save_postmortem(&a, 6, &doc, PmStatus::Published, &as_user(&ann, t(7)))
        .await
        .expect("publish again");
    assert_eq!((v7.version, v7.published_at_ms), (7, Some(t(7))));
    assert_eq!(store.postmortem(a.id).await.expect("read"), Some(v7));
    assert_eq!(store.postmortem(b.id).await.expect("b has none"), None);
    assert_eq!(
        store.postmortem_statuses().await.expect("statuses"),
        [(a.id, PmStatus::Published)].into()
    );
    // Status changes (not plain saves) go on the incident's timeline.
    let pm_entries: Vec<(String, i64, Option<i64>)> = store
        .incident_timeline(a.id)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind == EntryKind::Postmortem)
        .map(|e| (e.body, e.at_ms, e.actor_user_id))
        .collect();
    assert_eq!(
        pm_entries,
        [
            (
                "Postmortem started (draft)".to_owned(),
                T0 + DAY,
                Some(ic.id)
            ),
            ("Postmortem draft → in_review".to_owned(), t(1), Some(ic.id)),
            (
                "Postmortem in_review → published".to_owned(),
                t(2),
                Some(ann.id)
            ),
            ("Postmortem published → draft".to_owned(), t(5), Some(ic.id)),
            ("Postmortem draft → in_review".to_owned(), t(6), Some(ic.id)),
            (
                "Postmortem in_review → published".to_owned(),
                t(7),
                Some(ann.id)
            ),
        ]
    );
    assert_eq!(incident_actions(store, "postmortem.save").await.len(), 7);

    // ----- action items -----
    let spec = |kind, description: &str, owner: &store::User, due: &str, status| ActionSpec {
        kind,
        description: description.into(),
        owner_user_id: Some(owner.id),
        due_date: due.into(),
        status,
    };
    use ActionKind::{Immediate, LongTerm};
    use ActionStatus::{Done, InProgress, Todo};
    let a1 = store
        .create_action_item(
            &a,
            &spec(Immediate, "  Add a load test  ", &ann, " 2026-02-20 ", Todo),
            &as_user(&ic, t(8)),
        )
        .await
        .expect("AI-001");
    assert_eq!(
        a1,
        store::ActionItem {
            id: a1.id,
            incident_id: a.id,
            incident_code: "INC-20260214-001".into(),
            incident_title: "Chat replies time out".into(),
            code: "AI-001".into(),
            kind: Immediate,
            description: "Add a load test".into(),
            owner_user_id: Some(ann.id),
            due_date: "2026-02-20".into(),
            status: Todo,
            done_at_ms: None,
            created_at_ms: t(8),
            updated_at_ms: t(8),
        }
    );
    let a2 = store
        .create_action_item(
            &a,
            &spec(
                Immediate,
                "Raise the pool size",
                &bob,
                "2026-02-18",
                InProgress,
            ),
            &as_user(&ic, t(8)),
        )
        .await
        .expect("AI-002");
    let l1 = store
        .create_action_item(
            &a,
            &spec(
                LongTerm,
                "Capacity review each quarter",
                &ann,
                "2026-03-31",
                Todo,
            ),
            &as_user(&ic, t(8)),
        )
        .await
        .expect("LI-001");
    let b1 = store
        .create_action_item(
            &b,
            &spec(Immediate, "Retry webhooks", &ann, "2026-02-16", Done),
            &as_user(&ic, t(9)),
        )
        .await
        .expect("b AI-001");
    assert_eq!(
        [a2.code.as_str(), l1.code.as_str(), b1.code.as_str()],
        ["AI-002", "LI-001", "AI-001"],
        "numbered per incident and kind"
    );
    assert_eq!(
        (b1.incident_code.as_str(), b1.done_at_ms),
        ("INC-20260214-002", Some(t(9)))
    );

    // Done stamps done_at; staying done keeps it; reopening clears it. Kind and code stay.
    let done = store
        .update_action_item(
            a1.id,
            &spec(LongTerm, "Add a load test", &ann, "2026-02-20", Done),
            &as_user(&ann, t(10)),
        )
        .await
        .expect("done");
    assert_eq!(
        (
            done.status,
            done.done_at_ms,
            done.updated_at_ms,
            done.kind,
            done.code.as_str()
        ),
        (Done, Some(t(10)), t(10), Immediate, "AI-001")
    );
    let still = store
        .update_action_item(
            a1.id,
            &spec(
                Immediate,
                "Add a load test (chat + search)",
                &bob,
                "2026-02-21",
                Done,
            ),
            &as_user(&ann, t(11)),
        )
        .await
        .expect("edit done");
    assert_eq!(
        (
            still.done_at_ms,
            still.description.as_str(),
            still.owner_user_id,
            still.due_date.as_str()
        ),
        (
            Some(t(10)),
            "Add a load test (chat + search)",
            Some(bob.id),
            "2026-02-21"
        )
    );
    let reopened = store
        .update_action_item(
            a1.id,
            &spec(
                Immediate,
                "Add a load test (chat + search)",
                &ann,
                "2026-02-21",
                InProgress,
            ),
            &as_user(&ann, t(12)),
        )
        .await
        .expect("reopen");
    assert_eq!((reopened.status, reopened.done_at_ms), (InProgress, None));
    assert_eq!(store.action_item(a1.id).await.expect("read"), reopened);
    assert!(matches!(
        store
            .update_action_item(
                a1.id + 1_000,
                &spec(Immediate, "x", &ann, "2026-02-21", Todo),
                &sys
            )
            .await,
        Err(StoreError::NotFound)
    ));

    let listed = |f: ActionFilter| async move {
        store
            .action_items(&f)
            .await
            .expect("list")
            .into_iter()
            .map(|i| format!("{}/{}", i.incident_code, i.code))
            .collect::<Vec<_>>()
    };
    let (a_ai1, a_ai2, a_li1, b_ai1) = (
        "INC-20260214-001/AI-001",
        "INC-20260214-001/AI-002",
        "INC-20260214-001/LI-001",
        "INC-20260214-002/AI-001",
    );
    // Due days now: b AI-001 02-16 (done), a AI-002 02-18, a AI-001 02-21, a LI-001 03-31.
    let table: Vec<(ActionFilter, Vec<&str>)> = vec![
        (ActionFilter::default(), vec![b_ai1, a_ai2, a_ai1, a_li1]),
        (
            ActionFilter {
                incident_id: Some(a.id),
                ..Default::default()
            },
            vec![a_ai2, a_ai1, a_li1],
        ),
        (
            ActionFilter {
                owner_user_id: Some(ann.id),
                ..Default::default()
            },
            vec![b_ai1, a_ai1, a_li1],
        ),
        (
            ActionFilter {
                owner_user_id: Some(bob.id),
                ..Default::default()
            },
            vec![a_ai2],
        ),
        (
            ActionFilter {
                owner_user_id: Some(ic.id),
                ..Default::default()
            },
            vec![],
        ),
        (
            ActionFilter {
                status: Some(Done),
                ..Default::default()
            },
            vec![b_ai1],
        ),
        (
            ActionFilter {
                status: Some(InProgress),
                ..Default::default()
            },
            vec![a_ai2, a_ai1],
        ),
        // Before the due day, not on it; done items are never overdue.
        (
            ActionFilter {
                overdue_on: Some("2026-02-21".into()),
                ..Default::default()
            },
            vec![a_ai2],
        ),
        (
            ActionFilter {
                overdue_on: Some("2026-02-22".into()),
                ..Default::default()
            },
            vec![a_ai2, a_ai1],
        ),
        (
            ActionFilter {
                overdue_on: Some("2026-02-17".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            ActionFilter {
                open_only: true,
                ..Default::default()
            },
            vec![a_ai2, a_ai1, a_li1],
        ),
        (
            ActionFilter {
                owner_user_id: Some(ann.id),
                open_only: true,
                ..Default::default()
            },
            vec![a_ai1, a_li1],
        ),
        (
            ActionFilter {
                incident_id: Some(b.id),
                open_only: true,
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (f, want) in table {
        assert_eq!(listed(f.clone()).await, want, "{f:?}");
    }

    let deleted = store
        .delete_action_item(a2.id, &as_user(&ic, t(13)))
        .await
        .expect("delete");
    assert_eq!(deleted, a2);
    assert!(matches!(
        store.action_item(a2.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_action_item(a2.id, &as_user(&ic, t(14))).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        listed(ActionFilter {
            incident_id: Some(a.id),
            ..Default::default()
        })
        .await,
        [a_ai1, a_li1]
    );

    let audit = incident_actions(store, "action_item.").await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("action_item.delete", "action-item:INC-20260214-001/AI-002"),
            ("action_item.update", "action-item:INC-20260214-001/AI-001"),
            ("action_item.update", "action-item:INC-20260214-001/AI-001"),
            ("action_item.update", "action-item:INC-20260214-001/AI-001"),
            ("action_item.create", "action-item:INC-20260214-002/AI-001"),
            ("action_item.create", "action-item:INC-20260214-001/LI-001"),
            ("action_item.create", "action-item:INC-20260214-001/AI-002"),
            ("action_item.create", "action-item:INC-20260214-001/AI-001"),
        ]
    );
    assert_eq!(
        (
            audit[0].before_json.is_some(),
            audit[0].after_json.as_deref()
        ),
        (true, None)
    );
}
