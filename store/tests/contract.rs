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
