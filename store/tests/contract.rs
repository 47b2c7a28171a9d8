//! The store contract: every scenario runs on SQLite and on PostgreSQL, each on a fresh
//! database. PostgreSQL comes from `VIGIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is unreachable the Postgres
//! half fails under `CI=true` and is skipped loudly otherwise.

use domain::{ApiScope, Locale, Role};
use store::{
    AuditCtx, AuditQuery, ConnectOptions, NewApiKey, NewSession, NewUser, Store, StoreError,
};

fn ctx(at_ms: i64) -> AuditCtx {
    AuditCtx { user_id: Some(1), actor: "admin@example.com".into(), ip: "127.0.0.1".into(), at_ms }
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
    let store = Store::connect(&db.url, &ConnectOptions::default()).await.expect("connect test db");
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
    oncall_schedules_policies_and_overrides_version_conflict_cascade_and_audit,
    oncall_contacts_default_upsert_and_list,
    oncall_escalations_start_once_record_steps_page_ack_and_resolve,
    oncall_calendar_feeds_rotate_and_settings_init_once,
    external_alerts_firing_and_recently_ended,
    changes_record_once_per_client_id_filter_and_audit,
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

    let found = store.user_by_email("ada@example.com").await.expect("by email").expect("exists");
    assert_eq!(found.user, u);
    assert!(found.password_hash.starts_with("$argon2id$"));
    assert!(store.user_by_email("nobody@example.com").await.expect("query").is_none());
    assert!(matches!(store.user_by_id(9_999).await, Err(StoreError::NotFound)));

    let promoted = store.set_user_role(u.id, Role::Editor, &ctx(2_000)).await.expect("role");
    assert_eq!(promoted.role, Role::Editor);
    assert_eq!(promoted.updated_at_ms, 2_000);
    let prefs = store
        .set_user_preferences(u.id, Locale::ZhCn, "Asia/Shanghai", &ctx(3_000))
        .await
        .expect("prefs");
    assert_eq!((prefs.locale, prefs.time_zone.as_str()), (Locale::ZhCn, "Asia/Shanghai"));
    store.set_user_password_hash(u.id, "$argon2id$new", None, &ctx(4_000)).await.expect("pw");
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
    assert_eq!(actions, ["user.password", "user.preferences", "user.role", "user.create"]);
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
    assert!(log.iter().all(|e| !e.after_json.clone().unwrap_or_default().contains("argon2")));
}

async fn duplicate_email_is_a_conflict_and_writes_nothing(store: &Store) {
    store.create_user(&new_user("ops@example.com", Role::Editor), &ctx(1)).await.expect("first");
    let err = store
        .create_user(&new_user("ops@example.com", Role::Admin), &ctx(2))
        .await
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.count_users().await.expect("count"), 1);
    let log =
        store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.expect("audit");
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
        expires_at_ms: 10_000,
        ip: "10.0.0.1".into(),
        user_agent: "test".into(),
    };
    store.create_session(&s, &u, &ctx(1_000)).await.expect("session");
    let live = store.session_user("h1", 5_000).await.expect("q").expect("live");
    assert_eq!((live.user_id, live.role, live.expires_at_ms), (u.id, Role::Responder, 10_000));
    assert!(store.session_user("h1", 10_000).await.expect("q").is_none(), "expired at its end");
    assert!(store.session_user("nope", 5_000).await.expect("q").is_none());

    store.touch_session("h1", 9_000, 20_000).await.expect("touch");
    assert!(store.session_user("h1", 15_000).await.expect("q").is_some(), "sliding expiry");

    store.set_user_disabled(u.id, true, &ctx(16_000)).await.expect("disable");
    assert!(
        store.session_user("h1", 16_500).await.expect("q").is_none(),
        "disabled users lose sessions"
    );

    store.set_user_disabled(u.id, false, &ctx(17_000)).await.expect("enable");
    let s2 = NewSession { token_hash: "h2".into(), expires_at_ms: 30_000, ..s };
    store.create_session(&s2, &u, &ctx(17_500)).await.expect("session 2");
    let s3 = NewSession { token_hash: "h3".into(), ..s2.clone() };
    store.create_session(&s3, &u, &ctx(17_600)).await.expect("session 3");
    // A password change ends every session of the user but the one named.
    assert_eq!(
        store
            .set_user_password_hash(u.id, "$argon2id$other", Some("h2"), &ctx(17_700))
            .await
            .expect("password"),
        1
    );
    assert!(store.session_user("h3", 17_800).await.expect("q").is_none());
    assert!(store.session_user("h2", 17_800).await.expect("q").is_some());
    store.delete_session("h2", u.id, &ctx(18_000)).await.expect("logout");
    assert!(store.session_user("h2", 18_500).await.expect("q").is_none());
    assert_eq!(store.delete_expired_sessions(100_000).await.expect("gc"), 0);

    let log =
        store.audit_entries(&AuditQuery { limit: 20, ..Default::default() }).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "session.logout",
            "user.password",
            "session.login",
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
    let found = store.api_key_by_hash("keyhash").await.expect("q").expect("found");
    assert_eq!(found.id, key.id);
    store.touch_api_key(key.id, 50).await.expect("touch");
    assert_eq!(store.list_api_keys().await.expect("list")[0].last_used_at_ms, Some(50));
    // A disabled creator's key is not found; enabled again, it is.
    store.set_user_disabled(admin.id, true, &ctx(60)).await.expect("disable");
    assert!(store.api_key_by_hash("keyhash").await.expect("q").is_none());
    store.set_user_disabled(admin.id, false, &ctx(70)).await.expect("enable");
    assert!(store.api_key_by_hash("keyhash").await.expect("q").is_some());

    let revoked = store.revoke_api_key(key.id, &ctx(100)).await.expect("revoke");
    assert_eq!(revoked.revoked_at_ms, Some(100));
    let again = store.revoke_api_key(key.id, &ctx(200)).await.expect("revoke again");
    assert_eq!(again.revoked_at_ms, Some(100), "first revocation time is kept");
    assert!(store.api_key_by_hash("keyhash").await.expect("q").is_none());
    assert!(matches!(store.revoke_api_key(777, &ctx(300)).await, Err(StoreError::NotFound)));
}

async fn audit_log_pages_and_filters(store: &Store) {
    for i in 0..7 {
        store
            .audit_event(&ctx(i), "session.login_failed", &format!("email:u{i}@example.com"), None)
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
    let page1 =
        store.audit_entries(&AuditQuery { limit: 5, ..Default::default() }).await.expect("p1");
    assert_eq!(page1.len(), 5);
    assert_eq!(page1[0].action, "settings.update");
    assert_eq!(page1[0].actor_user_id, None);
    assert_eq!(page1[0].after_json.as_deref(), Some(r#"{"k":1}"#));
    let page2 = store
        .audit_entries(&AuditQuery { limit: 5, before_id: Some(page1[4].id), ..Default::default() })
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
    let again = tx.users(&["user-a", "user-b"], 2_000).await.expect("same user, and a new one");
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
    let new = tx.insert_events(std::slice::from_ref(&e)).await.expect("insert");
    assert!(new.contains("ev-1"));
    let again = tx.insert_events(std::slice::from_ref(&e)).await.expect("duplicate");
    assert!(again.is_empty(), "same event_id is a duplicate");
    tx.set_registered(u1.idx, 5_000).await.expect("registered");
    tx.put_day_users(10, "active", &[1, 2, 3, 255], 7).await.expect("put");
    tx.put_day_users(10, "active", &[9, 9], 8).await.expect("upsert");
    tx.put_day_users(11, "feature:export", &[4], 1).await.expect("put");
    tx.put_hourly(100, "ai", r#"{"n":1}"#).await.expect("hourly");
    tx.put_hourly(100, "ai", r#"{"n":2}"#).await.expect("hourly upsert");
    let sub = domain::kpi::subscriptions::SubEvent {
        user: u32::try_from(u2.idx).expect("idx"),
        ts_ms: 7_000,
        kind: domain::kpi::subscriptions::SubKind::Start,
        amount: 99.5,
        currency: "USD".into(),
        plan: "team".into(),
        period: domain::kpi::subscriptions::BillingPeriod::Year,
    };
    tx.insert_subscription("ev-s", &sub).await.expect("sub");
    tx.insert_subscription("ev-s", &sub).await.expect("a repeated event id is ignored");
    assert_eq!(tx.day_users(10, "active").await.expect("read in tx"), Some((vec![9, 9], 8)));
    tx.commit().await.expect("commit");

    assert_eq!(store.count_events().await.expect("count"), 1);
    let rows = store.day_users("active", 0, 20).await.expect("range");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].day, rows[0].users.clone(), rows[0].events), (10, vec![9, 9], 8));
    assert_eq!(store.rollup_keys("feature:", 0, 20).await.expect("keys"), ["feature:export"]);
    assert_eq!(store.hourly("ai", 0, 200).await.expect("hourly"), [(100, r#"{"n":2}"#.to_owned())]);
    let subs = store.subscription_events(10_000).await.expect("subs");
    assert_eq!(subs, [sub], "currency, plan and period kept");
    let funnel = store.events_of("user_register_success", 0, 10_000).await.expect("funnel rows");
    assert_eq!(funnel, [(u1.idx, 5_000)]);
    assert!(store
        .events_of("user_register_success", 5_001, 10_000)
        .await
        .expect("empty range")
        .is_empty());
    let packed = store.event_slice("user_register_success", 1_000, 10_000).await.expect("slice");
    assert_eq!(packed, [(4_000u64 << 32) | u64::try_from(u1.idx).expect("idx")]);
    assert!(store
        .event_slice("user_register_success", 5_001, 10_000)
        .await
        .expect("empty slice")
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
    assert!(store.day_users("active", 12, 12).await.expect("range").is_empty());

    assert_eq!(store.setting("reporting_tz").await.expect("get"), None);
    store.set_setting("reporting_tz", "UTC").await.expect("set");
    store.set_setting("reporting_tz", "Asia/Shanghai").await.expect("overwrite");
    assert_eq!(store.setting("reporting_tz").await.expect("get").as_deref(), Some("Asia/Shanghai"));
    // A setting a person changes is written with its audit line (before and after).
    let ctx = AuditCtx::system("test", 7_000);
    store.put_setting_audited("schedule", "{\"a\":1}", &ctx).await.expect("put");
    store.put_setting_audited("schedule", "{\"a\":2}", &ctx).await.expect("put again");
    assert_eq!(store.setting("schedule").await.expect("get").as_deref(), Some("{\"a\":2}"));
    assert_eq!(
        actions_and_targets(store, "setting.").await,
        [
            ("setting.update".to_owned(), "setting:schedule".to_owned()),
            ("setting.update".to_owned(), "setting:schedule".to_owned()),
        ]
    );

    assert_eq!(store.delete_events_before(6_000).await.expect("retention"), 1);
    assert_eq!(store.delete_rollups_before(11, 101).await.expect("rollup retention"), 2);
    assert_eq!(store.day_users("feature:export", 0, 20).await.expect("kept").len(), 1);
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
    let admin =
        store.create_user(&new_user("ops@example.com", Role::Editor), &ctx(1)).await.expect("user");
    let c = AuditCtx { user_id: Some(admin.id), ..ctx(1_000) };
    let r = store.create_rule(&rule_spec("AI low", 0.9), &c).await.expect("create");
    assert_eq!((r.version, r.updated_by), (1, Some(admin.id)));
    assert_eq!(store.rule(r.id).await.expect("get").spec, rule_spec("AI low", 0.9));
    // Same name → Conflict naming the rule, nothing written.
    match store.create_rule(&rule_spec("AI low", 0.5), &c).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("AI low"), "{m}"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.count_rules().await.expect("count"), 1);
    let u =
        store.update_rule(r.id, 1, &rule_spec("AI low", 0.8), &ctx(2_000)).await.expect("update");
    assert_eq!(u.version, 2);
    // A stale version is refused.
    assert!(matches!(
        store.update_rule(r.id, 1, &rule_spec("AI low", 0.1), &ctx(3_000)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.update_rule(999, 1, &rule_spec("x", 0.1), &ctx(3_000)).await,
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
    assert!(audit[1].before_json.as_deref().unwrap_or("").contains("0.9"));
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
        &[Sample { labels: labels.clone(), value: 0.7 }],
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
        .update_rule(r.id, 1, &rule_spec("AI low", 0.5), &AuditCtx::system("system", 1))
        .await
        .expect("edit");
    assert!(!store.record_evaluation(&e).await.expect("stale"));
    let h = store
        .alert_history(&store::HistoryQuery { limit: 10, ..Default::default() })
        .await
        .expect("history");
    // No `for`: one evaluation went inactive → pending → firing; the stale one wrote nothing.
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (h[0].rule_name.as_str(), h[0].from, h[0].to, h[0].value),
        ("AI low", Some(AlertState::Pending), Some(AlertState::Firing), Some(0.7))
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
        assert_eq!(store.alert_history(&q).await.expect("filtered").len(), n, "{q:?}");
    }
}

async fn leases_have_one_holder_at_a_time(store: &Store) {
    assert!(store.try_lease("engine", "a", 1_000, 10_000).await.expect("a takes"));
    assert!(!store.try_lease("engine", "b", 2_000, 10_000).await.expect("b waits"));
    assert!(store.try_lease("engine", "a", 5_000, 10_000).await.expect("a renews"));
    // a's renewal runs to 15 000: b still waits at 14 999, takes over after.
    assert!(!store.try_lease("engine", "b", 14_999, 10_000).await.expect("b waits"));
    assert!(store.try_lease("engine", "b", 15_001, 10_000).await.expect("b takes over"));
    assert!(!store.try_lease("engine", "a", 16_000, 10_000).await.expect("a lost it"));
    store.release_lease("engine", "b").await.expect("release");
    assert!(store.try_lease("engine", "a", 16_001, 10_000).await.expect("a again"));
    // Leases are per name.
    assert!(store.try_lease("other", "b", 16_001, 10_000).await.expect("other"));
}

async fn probes_claims_results_and_pruning(store: &Store) {
    use domain::probe::{ProbeResult, ProbeSpec};
    let spec = ProbeSpec::new("API health", "http://127.0.0.1:9/health");
    let p = store.create_probe(&spec, &AuditCtx::system("test", 1_000)).await.expect("create");
    assert_eq!((p.version, p.next_run_at_ms), (1, 0));
    assert!(matches!(
        store.create_probe(&spec, &AuditCtx::system("test", 1_000)).await,
        Err(store::StoreError::Conflict(m)) if m.contains("API health")
    ));
    // Due at once; claimed once; next run one interval later, then on the same cadence.
    let due = store.claim_due_probes(10_000).await.expect("claim");
    assert_eq!(due.len(), 1);
    assert!(store.claim_due_probes(10_001).await.expect("again").is_empty());
    assert_eq!(store.probe(p.id).await.expect("get").next_run_at_ms, 70_000);
    assert_eq!(store.claim_due_probes(75_000).await.expect("late").len(), 1);
    assert_eq!(store.probe(p.id).await.expect("get").next_run_at_ms, 130_000);
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
    store.record_probe_results(&[(p.id + 1000, results[0].1.clone())]).await.expect("orphan");
    let got = store.probe_results(Some(&[p.id]), 3 * 60_000, 10 * 60_000).await.expect("window");
    let rows = &got[&p.id];
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].at_ms, 4 * 60_000);
    assert!(!rows[0].ok && rows[3].status.is_none() && rows[6].latency_ms == 15.0);
    assert_eq!(store.probe_results(None, 0, i64::MAX).await.expect("all").len(), 1);
    assert_eq!(store.probe_counts(0, i64::MAX).await.expect("counts")[&p.id], (10, 2));
    // Edits bump the version and run again at once; stale edits conflict.
    let mut edited = spec.clone();
    edited.interval_ms = 30_000;
    let e = store
        .update_probe(p.id, 1, &edited, &AuditCtx::system("test", 2_000))
        .await
        .expect("update");
    assert_eq!((e.version, e.next_run_at_ms), (2, 0));
    assert!(matches!(
        store.update_probe(p.id, 1, &edited, &AuditCtx::system("test", 2_000)).await,
        Err(store::StoreError::Conflict(_))
    ));
    assert_eq!(store.prune_probe_results(5 * 60_000).await.expect("prune"), 4);
    store.delete_probe(p.id, &AuditCtx::system("test", 3_000)).await.expect("delete");
    assert!(store.probes().await.expect("list").is_empty());
    assert!(store.probe_results(None, 0, i64::MAX).await.expect("gone").is_empty());
    let audit = store
        .audit_entries(&store::AuditQuery { limit: 10, ..Default::default() })
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
    AuditCtx { user_id: Some(u.id), actor: u.email.clone(), ip: "10.0.0.7".into(), at_ms }
}

async fn user(store: &Store, email: &str) -> store::User {
    store
        .create_user(&new_user(email, Role::Responder), &AuditCtx::system("cli", 1))
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
        fields: IncidentFields { title: title.into(), severity, ..IncidentFields::default() },
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
    assert_eq!((a.reporter_id, a.reporter.as_str(), a.version), (Some(ic.id), "ic@example.com", 1));
    assert_eq!((a.created_at_ms, a.updated_at_ms), (T0 + 5_000, T0 + 5_000));
    assert_eq!(store.incident(a.id).await.expect("get"), a);
    assert_eq!(store.incident_by_code(" inc-20260214-001 ").await.expect("by code"), a);
    assert!(matches!(store.incident_by_code("INC-20260214-009").await, Err(StoreError::NotFound)));
    assert!(matches!(store.incident(a.id + 1_000).await, Err(StoreError::NotFound)));

    // Same day → next number; another day starts at 001; back on the first day → 003.
    let sys = AuditCtx::system("system", T0 + 6_000);
    let b = store
        .create_incident(
            &declared("Payment webhook errors", Severity::P0, "20260214", T0 + HOUR, None),
            None,
            &sys,
        )
        .await
        .expect("declare b");
    let c = store
        .create_incident(
            &declared("Search lag", Severity::P3, "20260215", T0 + DAY, Some(&eng1)),
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
        (EntryKind::Declared, "INC-20260214-002 declared as P0 by system", "system", None)
    );

    // Alert links: stored with labels, found by fingerprint, once per incident.
    assert_eq!(store.incident_alerts(a.id).await.expect("alerts"), std::slice::from_ref(&alert));
    assert!(store.incident_alerts(b.id).await.expect("none").is_empty());
    assert_eq!(store.incident_for_alert("fp-chat-1").await.expect("for alert"), Some(a.id));
    assert_eq!(store.incident_for_alert("fp-other").await.expect("for alert"), None);
    let relinked = AlertLink { linked_at_ms: T0 + DAY + MIN, ..alert.clone() };
    assert!(store.link_alert(&c, &relinked, &sys).await.expect("link to c"));
    assert!(!store.link_alert(&c, &relinked, &sys).await.expect("already linked"));
    assert_eq!(store.incident_for_alert("fp-chat-1").await.expect("newest"), Some(c.id));
    assert_eq!(
        store.incident_timeline(c.id).await.expect("timeline c").len(),
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
        (note.kind, note.at_ms, note.actor_user_id, note.created_at_ms),
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
    match store.update_note(declared_entry.id, "rewritten", T0, &as_user(&ic, T0 + 10 * MIN)).await
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
        store.update_note(note.id + 1_000, "x", T0, &as_user(&ic, T0)).await,
        Err(StoreError::NotFound)
    ));
    // The note now describes a symptom before detection: the timeline is in event order.
    let kinds: Vec<EntryKind> =
        store.incident_timeline(a.id).await.expect("timeline").iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EntryKind::Note, EntryKind::Declared, EntryKind::Alert]);

    let log = incident_actions(store, "incident.").await;
    let actions: Vec<(&str, &str)> =
        log.iter().map(|e| (e.action.as_str(), e.target.as_str())).collect();
    assert_eq!(
        actions,
        [
            ("incident.note.update", format!("incident-entry:{}", note.id).as_str()),
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
            &declared("Chat replies time out", Severity::P1, "20260214", T0, Some(&ic1)),
            None,
            &sys,
        )
        .await
        .expect("a");
    let b = store
        .create_incident(
            &declared("Payment webhook errors", Severity::P0, "20260214", T0 + HOUR, None),
            None,
            &sys,
        )
        .await
        .expect("b");
    let c = store
        .create_incident(
            &declared("Search index lagging", Severity::P3, "20260215", T0 + DAY, Some(&ic2)),
            None,
            &sys,
        )
        .await
        .expect("c");

    // Acknowledge, raise to P0, hand over to ic2, tick a checkpoint.
    let mut next = a.clone();
    next.log
        .change(Severity::P1, Status::Investigating, T0 + 10 * MIN, T0 + 20 * MIN, None)
        .expect("transition");
    next.fields.severity = Severity::P0;
    next.fields.title = "Chat replies time out (all regions)".into();
    next.roles.insert(IncidentRole::Commander, vec![ic2.id]);
    next.checklist.insert(Checkpoint::LevelAndCommander, T0 + 3 * MIN);
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
    assert_eq!((saved.created_at_ms, saved.updated_at_ms), (T0, T0 + 20 * MIN));
    assert_eq!(saved.status(), Status::Investigating);
    assert_eq!(saved.commander(), Some(ic2.id));
    assert_eq!((&saved.fields, &saved.log, &saved.roles), (&next.fields, &next.log, &next.roles));
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
        Err(StoreError::Conflict(m)) => {
            assert!(m.contains("version 2 is current") && m.contains("based on 1"), "{m}")
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.incident(a.id).await.expect("get"), saved);
    assert_eq!(store.incident_timeline(a.id).await.expect("timeline"), timeline_before);
    assert_eq!(incident_actions(store, "").await.len(), audit_before);
    assert_eq!(
        timeline_before.iter().map(|e| (e.kind, e.at_ms)).collect::<Vec<_>>(),
        [(EntryKind::Declared, T0), (EntryKind::Status, T0 + 10 * MIN)]
    );

    // Monitor and resolve (P0 watches 4 h): a leaves the open list.
    let mut next = saved.clone();
    next.log
        .change(Severity::P0, Status::Monitoring, T0 + 30 * MIN, T0 + 5 * HOUR, None)
        .expect("monitor");
    next.log
        .change(Severity::P0, Status::Resolved, T0 + 5 * HOUR, T0 + 5 * HOUR, None)
        .expect("resolve");
    let resolved = store
        .save_incident(&saved, &next, &[], "incident.status", &as_user(&ic2, T0 + 5 * HOUR))
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
        store.incidents(&f).await.expect("list").into_iter().map(|i| i.code).collect::<Vec<_>>()
    };
    let (ca, cb, cc) = (a.code.clone(), b.code.clone(), c.code.clone());
    let table: Vec<(IncidentFilter, Vec<String>)> = vec![
        (IncidentFilter::default(), vec![cc.clone(), cb.clone(), ca.clone()]),
        (IncidentFilter { open: Some(true), ..Default::default() }, vec![cc.clone(), cb.clone()]),
        (IncidentFilter { open: Some(false), ..Default::default() }, vec![ca.clone()]),
        (IncidentFilter { status: Some(Status::Resolved), ..Default::default() }, vec![ca.clone()]),
        (
            IncidentFilter { status: Some(Status::Detecting), ..Default::default() },
            vec![cc.clone(), cb.clone()],
        ),
        (IncidentFilter { status: Some(Status::Investigating), ..Default::default() }, vec![]),
        // a was raised from P1 to P0.
        (
            IncidentFilter { severity: Some(Severity::P0), ..Default::default() },
            vec![cb.clone(), ca.clone()],
        ),
        (IncidentFilter { severity: Some(Severity::P1), ..Default::default() }, vec![]),
        // a was handed over from ic1 to ic2.
        (
            IncidentFilter { commander_id: Some(ic2.id), ..Default::default() },
            vec![cc.clone(), ca.clone()],
        ),
        (IncidentFilter { commander_id: Some(ic1.id), ..Default::default() }, vec![]),
        (
            IncidentFilter { q: Some("  CHAT Replies ".into()), ..Default::default() },
            vec![ca.clone()],
        ),
        (IncidentFilter { q: Some("all regions".into()), ..Default::default() }, vec![ca.clone()]),
        (IncidentFilter { q: Some("Overwritten".into()), ..Default::default() }, vec![]),
        (
            IncidentFilter { q: Some("inc-20260214".into()), ..Default::default() },
            vec![cb.clone(), ca.clone()],
        ),
        (IncidentFilter { q: Some("20260215-001".into()), ..Default::default() }, vec![cc.clone()]),
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
            IncidentFilter { from_ms: Some(T0 + 1), ..Default::default() },
            vec![cc.clone(), cb.clone()],
        ),
        (
            IncidentFilter { open: Some(true), severity: Some(Severity::P0), ..Default::default() },
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
        (IncidentFilter { limit: 2, ..Default::default() }, vec![cc.clone(), cb.clone()]),
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
            &declared("Chat replies time out", Severity::P1, "20260214", T0, Some(&ic)),
            None,
            &sys,
        )
        .await
        .expect("a");
    let b = store
        .create_incident(
            &declared("Payment webhook errors", Severity::P0, "20260214", T0 + HOUR, None),
            None,
            &sys,
        )
        .await
        .expect("b");

    // ----- postmortem -----
    assert_eq!(store.postmortem(a.id).await.expect("none yet"), None);
    let mut doc = Postmortem {
        timeline: vec![
            PmTimelineRow { at_ms: T0, event: "Alert fired".into(), owner: "vigil".into() },
            PmTimelineRow {
                at_ms: T0 + 10 * MIN,
                event: "Gateway scaled".into(),
                owner: "ic".into(),
            },
        ],
        direct_cause: "Gateway connection pool exhausted".into(),
        whys: vec!["Pool too small".into(), "Defaults never tuned".into()],
        factors: Fishbone { methods: "No load test before launch".into(), ..Fishbone::default() },
        users_affected: Some(1_200),
        complaints: Some(0),
        links_docs: "runbook https://wiki.example.com/chat".into(),
        ..Postmortem::default()
    };
    // Nothing to replace yet: only expected version 0 creates.
    assert!(matches!(
        store.save_postmortem(&a, 1, &doc, PmStatus::Draft, &as_user(&ic, T0 + DAY)).await,
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
    assert_eq!(store.postmortem(a.id).await.expect("read"), Some(v1.clone()));
    // A second "create" (expected 0) is stale now and writes nothing.
    let mut other = doc.clone();
    other.direct_cause = "Someone else's text".into();
    match store.save_postmortem(&a, 0, &other, PmStatus::Draft, &as_user(&ann, T0 + DAY + 1)).await
    {
        Err(StoreError::Conflict(m)) => {
            assert!(m.contains("version 1 is current") && m.contains("based on 0"), "{m}")
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(store.postmortem(a.id).await.expect("read"), Some(v1.clone()));

    doc.root_cause = "Connection pool sized for 2024 traffic".into();
    let t = |h: i64| T0 + DAY + h * HOUR;
    let v2 = store
        .save_postmortem(&a, 1, &doc, PmStatus::InReview, &as_user(&ic, t(1)))
        .await
        .expect("review");
    assert_eq!(
        (v2.version, v2.status, v2.published_at_ms, v2.created_at_ms, v2.updated_at_ms),
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
        store.save_postmortem(&a, 3, &doc, PmStatus::Draft, &as_user(&bob, t(4))).await,
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
            ("Postmortem started (draft)".to_owned(), T0 + DAY, Some(ic.id)),
            ("Postmortem draft → in_review".to_owned(), t(1), Some(ic.id)),
            ("Postmortem in_review → published".to_owned(), t(2), Some(ann.id)),
            ("Postmortem published → draft".to_owned(), t(5), Some(ic.id)),
            ("Postmortem draft → in_review".to_owned(), t(6), Some(ic.id)),
            ("Postmortem in_review → published".to_owned(), t(7), Some(ann.id)),
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
            &spec(Immediate, "Raise the pool size", &bob, "2026-02-18", InProgress),
            &as_user(&ic, t(8)),
        )
        .await
        .expect("AI-002");
    let l1 = store
        .create_action_item(
            &a,
            &spec(LongTerm, "Capacity review each quarter", &ann, "2026-03-31", Todo),
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
    assert_eq!((b1.incident_code.as_str(), b1.done_at_ms), ("INC-20260214-002", Some(t(9))));

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
        (done.status, done.done_at_ms, done.updated_at_ms, done.kind, done.code.as_str()),
        (Done, Some(t(10)), t(10), Immediate, "AI-001")
    );
    let still = store
        .update_action_item(
            a1.id,
            &spec(Immediate, "Add a load test (chat + search)", &bob, "2026-02-21", Done),
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
        (Some(t(10)), "Add a load test (chat + search)", Some(bob.id), "2026-02-21")
    );
    let reopened = store
        .update_action_item(
            a1.id,
            &spec(Immediate, "Add a load test (chat + search)", &ann, "2026-02-21", InProgress),
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
        (ActionFilter { incident_id: Some(a.id), ..Default::default() }, vec![a_ai2, a_ai1, a_li1]),
        (
            ActionFilter { owner_user_id: Some(ann.id), ..Default::default() },
            vec![b_ai1, a_ai1, a_li1],
        ),
        (ActionFilter { owner_user_id: Some(bob.id), ..Default::default() }, vec![a_ai2]),
        (ActionFilter { owner_user_id: Some(ic.id), ..Default::default() }, vec![]),
        (ActionFilter { status: Some(Done), ..Default::default() }, vec![b_ai1]),
        (ActionFilter { status: Some(InProgress), ..Default::default() }, vec![a_ai2, a_ai1]),
        // Before the due day, not on it; done items are never overdue.
        (ActionFilter { overdue_on: Some("2026-02-21".into()), ..Default::default() }, vec![a_ai2]),
        (
            ActionFilter { overdue_on: Some("2026-02-22".into()), ..Default::default() },
            vec![a_ai2, a_ai1],
        ),
        (ActionFilter { overdue_on: Some("2026-02-17".into()), ..Default::default() }, vec![]),
        (ActionFilter { open_only: true, ..Default::default() }, vec![a_ai2, a_ai1, a_li1]),
        (
            ActionFilter { owner_user_id: Some(ann.id), open_only: true, ..Default::default() },
            vec![a_ai1, a_li1],
        ),
        (ActionFilter { incident_id: Some(b.id), open_only: true, ..Default::default() }, vec![]),
    ];
    for (f, want) in table {
        assert_eq!(listed(f.clone()).await, want, "{f:?}");
    }

    let deleted = store.delete_action_item(a2.id, &as_user(&ic, t(13))).await.expect("delete");
    assert_eq!(deleted, a2);
    assert!(matches!(store.action_item(a2.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.delete_action_item(a2.id, &as_user(&ic, t(14))).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        listed(ActionFilter { incident_id: Some(a.id), ..Default::default() }).await,
        [a_ai1, a_li1]
    );

    let audit = incident_actions(store, "action_item.").await;
    let actions: Vec<(&str, &str)> =
        audit.iter().map(|e| (e.action.as_str(), e.target.as_str())).collect();
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
    assert_eq!((audit[0].before_json.is_some(), audit[0].after_json.as_deref()), (true, None));
}

// ----- on-call -----

/// 2026-11-02T01:00:00Z (09:00 on a Monday in Shanghai).
const OC0: i64 = 1_793_581_200_000;

fn oncall_schedule(name: &str, people: &[i64]) -> domain::oncall::ScheduleSpec {
    domain::oncall::seed_roster(
        name,
        "2026-11-02",
        people.to_vec(),
        people.to_vec(),
        people.to_vec(),
    )
}

fn oncall_policy(name: &str, user: i64, delay_min: u32) -> domain::oncall::escalation::PolicySpec {
    use domain::oncall::escalation::{PolicySpec, Step, Target};
    PolicySpec {
        name: name.into(),
        description: String::new(),
        steps: vec![Step { targets: vec![Target::User(user)], delay_min }],
        repeat: 0,
        channel_ids: vec![],
    }
}

fn oncall_override(start_ms: i64, end_ms: i64, user_id: i64) -> domain::oncall::Override {
    domain::oncall::Override { id: 0, start_ms, end_ms, user_id, replaces: None }
}

async fn actions_and_targets(store: &Store, prefix: &str) -> Vec<(String, String)> {
    incident_actions(store, prefix).await.into_iter().map(|e| (e.action, e.target)).collect()
}

async fn oncall_schedules_policies_and_overrides_version_conflict_cascade_and_audit(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;

    // Schedules: create, list by name, get.
    let primary = store
        .create_schedule(&oncall_schedule("Primary", &[ann.id, bob.id]), &as_user(&ann, OC0))
        .await
        .expect("create primary");
    assert_eq!((primary.version, primary.created_at_ms, primary.updated_at_ms), (1, OC0, OC0));
    assert_eq!(primary.spec, oncall_schedule("Primary", &[ann.id, bob.id]));
    let backup = store
        .create_schedule(&oncall_schedule("Backup", &[bob.id]), &as_user(&ann, OC0 + 1))
        .await
        .expect("create backup");
    assert_ne!(primary.id, backup.id);
    let names: Vec<String> =
        store.schedules().await.expect("list").into_iter().map(|s| s.spec.name).collect();
    assert_eq!(names, ["Backup", "Primary"], "listed by name");
    assert_eq!(store.schedule(primary.id).await.expect("get"), primary);
    assert!(matches!(store.schedule(987_654).await, Err(StoreError::NotFound)));

    // A duplicate name is a conflict and writes nothing.
    let err = store
        .create_schedule(&oncall_schedule("Primary", &[bob.id]), &as_user(&bob, OC0 + 2))
        .await
        .expect_err("duplicate name");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.schedules().await.expect("list").len(), 2);

    // Update with the current version bumps it; a stale version is a conflict.
    let mut renamed = oncall_schedule("Primary (day)", &[bob.id, ann.id]);
    renamed.description = "swapped order".into();
    let updated = store
        .update_schedule(primary.id, 1, &renamed, &as_user(&bob, OC0 + 10))
        .await
        .expect("update");
    assert_eq!((updated.version, updated.created_at_ms, updated.updated_at_ms), (2, OC0, OC0 + 10));
    assert_eq!(updated.spec, renamed);
    let err = store
        .update_schedule(
            primary.id,
            1,
            &oncall_schedule("Stale", &[ann.id]),
            &as_user(&ann, OC0 + 11),
        )
        .await
        .expect_err("stale version");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Renaming onto another schedule's name is a conflict too.
    let err = store
        .update_schedule(
            primary.id,
            2,
            &oncall_schedule("Backup", &[ann.id]),
            &as_user(&ann, OC0 + 12),
        )
        .await
        .expect_err("name taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let current = store.schedule(primary.id).await.expect("get");
    assert_eq!((current.version, current.spec.name.as_str()), (2, "Primary (day)"));
    assert!(matches!(
        store.update_schedule(987_654, 1, &renamed, &as_user(&ann, OC0 + 13)).await,
        Err(StoreError::NotFound)
    ));

    // Overrides: add, list by window (overlap, half-open), per schedule or all.
    let h = HOUR;
    let o1 = store
        .add_override(
            primary.id,
            &oncall_override(OC0 + 10 * h, OC0 + 20 * h, bob.id),
            "  dentist  ",
            &as_user(&ann, OC0 + 20),
        )
        .await
        .expect("override 1");
    assert_eq!(o1.schedule_id, primary.id);
    assert_eq!(
        (o1.ov.start_ms, o1.ov.end_ms, o1.ov.user_id, o1.ov.replaces),
        (OC0 + 10 * h, OC0 + 20 * h, bob.id, None)
    );
    assert_eq!(
        (o1.note.as_str(), o1.created_by.as_str(), o1.created_at_ms),
        ("dentist", "ann@example.com", OC0 + 20)
    );
    assert!(o1.ov.id > 0);
    let o2 = store
        .add_override(
            primary.id,
            &domain::oncall::Override {
                replaces: Some(bob.id),
                ..oncall_override(OC0 + 30 * h, OC0 + 40 * h, ann.id)
            },
            "",
            &as_user(&ann, OC0 + 21),
        )
        .await
        .expect("override 2");
    assert_eq!(o2.ov.replaces, Some(bob.id));
    let o3 = store
        .add_override(
            backup.id,
            &oncall_override(OC0 + 15 * h, OC0 + 16 * h, ann.id),
            "backup",
            &as_user(&bob, OC0 + 22),
        )
        .await
        .expect("override 3");
    let ids = |rows: Vec<store::OverrideRow>| rows.iter().map(|r| r.ov.id).collect::<Vec<_>>();
    let window = |sid: Option<i64>, from: i64, to: i64| store.overrides(sid, from, to);
    assert_eq!(
        ids(window(Some(primary.id), OC0, OC0 + 100 * h).await.expect("all")),
        [o1.ov.id, o2.ov.id]
    );
    assert_eq!(
        ids(window(None, OC0, OC0 + 100 * h).await.expect("every schedule")),
        [o1.ov.id, o3.ov.id, o2.ov.id],
        "by start"
    );
    assert_eq!(window(Some(primary.id), OC0, OC0 + 100 * h).await.expect("rows")[0], o1);
    // Touching the window's edges is no overlap: [from, to) against [start, end).
    assert!(window(Some(primary.id), OC0 + 20 * h, OC0 + 30 * h)
        .await
        .expect("between")
        .is_empty());
    assert!(window(None, OC0, OC0 + 10 * h).await.expect("before").is_empty());
    assert_eq!(
        ids(window(None, OC0 + 20 * h - 1, OC0 + 30 * h + 1).await.expect("one ms each side")),
        [o1.ov.id, o2.ov.id]
    );
    assert_eq!(
        ids(window(Some(backup.id), OC0 + 15 * h + 1, OC0 + 15 * h + 2).await.expect("inside")),
        [o3.ov.id]
    );

    // Deleting an override.
    let gone =
        store.delete_override(o2.ov.id, &as_user(&bob, OC0 + 30)).await.expect("delete override");
    assert_eq!(gone, o2);
    assert_eq!(ids(window(Some(primary.id), OC0, OC0 + 100 * h).await.expect("after")), [o1.ov.id]);
    assert!(matches!(
        store.delete_override(o2.ov.id, &as_user(&bob, OC0 + 31)).await,
        Err(StoreError::NotFound)
    ));

    // Deleting a schedule takes its overrides along, and only its own.
    let deleted =
        store.delete_schedule(primary.id, &as_user(&ann, OC0 + 40)).await.expect("delete schedule");
    assert_eq!(deleted.version, 2);
    assert!(matches!(store.schedule(primary.id).await, Err(StoreError::NotFound)));
    assert_eq!(ids(window(None, 0, i64::MAX).await.expect("left")), [o3.ov.id]);
    assert!(matches!(
        store.delete_override(o1.ov.id, &as_user(&ann, OC0 + 41)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_schedule(primary.id, &as_user(&ann, OC0 + 42)).await,
        Err(StoreError::NotFound)
    ));
    let names: Vec<String> =
        store.schedules().await.expect("list").into_iter().map(|s| s.spec.name).collect();
    assert_eq!(names, ["Backup"]);

    // Escalation policies share the same rules.
    let p0 = store
        .create_escalation_policy(&oncall_policy("P0 pager", ann.id, 5), &as_user(&ann, OC0 + 50))
        .await
        .expect("policy");
    assert_eq!((p0.version, p0.spec.steps[0].delay_min), (1, 5));
    store
        .create_escalation_policy(
            &oncall_policy("Business hours", bob.id, 30),
            &as_user(&ann, OC0 + 51),
        )
        .await
        .expect("policy 2");
    let names: Vec<String> =
        store.escalation_policies().await.expect("list").into_iter().map(|p| p.spec.name).collect();
    assert_eq!(names, ["Business hours", "P0 pager"]);
    assert!(matches!(
        store
            .create_escalation_policy(
                &oncall_policy("P0 pager", bob.id, 1),
                &as_user(&ann, OC0 + 52)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let p0v2 = store
        .update_escalation_policy(
            p0.id,
            1,
            &oncall_policy("P0 pager", bob.id, 10),
            &as_user(&bob, OC0 + 53),
        )
        .await
        .expect("update policy");
    assert_eq!((p0v2.version, p0v2.spec.steps[0].delay_min, p0v2.updated_at_ms), (2, 10, OC0 + 53));
    assert!(matches!(
        store
            .update_escalation_policy(
                p0.id,
                1,
                &oncall_policy("P0 pager", ann.id, 1),
                &as_user(&bob, OC0 + 54)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.escalation_policy(p0.id).await.expect("get"), p0v2);
    store.delete_escalation_policy(p0.id, &as_user(&bob, OC0 + 55)).await.expect("delete policy");
    assert!(matches!(store.escalation_policy(p0.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.escalation_policies().await.expect("list").len(), 1);

    // Every successful write is in the audit log, newest first; refused ones are not.
    let p = format!("schedule:{}", primary.id);
    let b = format!("schedule:{}", backup.id);
    let want: Vec<(String, String)> = [
        ("schedule.delete", p.as_str()),
        ("schedule.override.delete", p.as_str()),
        ("schedule.override.create", b.as_str()),
        ("schedule.override.create", p.as_str()),
        ("schedule.override.create", p.as_str()),
        ("schedule.update", p.as_str()),
        ("schedule.create", b.as_str()),
        ("schedule.create", p.as_str()),
    ]
    .iter()
    .map(|(a, t)| ((*a).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(actions_and_targets(store, "schedule.").await, want);
    let log = incident_actions(store, "schedule.").await;
    let update = &log[5];
    assert_eq!(
        (update.actor.as_str(), update.actor_user_id, update.at_ms),
        ("bob@example.com", Some(bob.id), OC0 + 10)
    );
    let before: serde_json::Value =
        serde_json::from_str(update.before_json.as_deref().expect("before")).expect("json");
    let after: serde_json::Value =
        serde_json::from_str(update.after_json.as_deref().expect("after")).expect("json");
    assert_eq!(
        (&before["version"], &after["version"]),
        (&serde_json::json!(1), &serde_json::json!(2))
    );
    assert_eq!(after["spec"]["name"], "Primary (day)");
    assert!(log[0].after_json.is_none() && log[0].before_json.is_some());
    let pol = format!("policy:{}", p0.id);
    let policy_actions = actions_and_targets(store, "policy.").await;
    assert_eq!(policy_actions.len(), 4);
    assert_eq!(policy_actions[0], ("policy.delete".to_owned(), pol.clone()));
    assert_eq!(policy_actions[1], ("policy.update".to_owned(), pol));
}

async fn oncall_contacts_default_upsert_and_list(store: &Store) {
    use domain::oncall::escalation::{Method, NotifyRule};
    use store::Contact;
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;

    // Nobody saved anything yet: defaults, and nothing listed.
    assert_eq!(
        store.contact(ann.id).await.expect("default"),
        Contact { user_id: ann.id, phone: String::new(), feishu_id: String::new(), rules: vec![] }
    );
    assert!(store.contacts().await.expect("list").is_empty());

    let rules = vec![
        NotifyRule { method: Method::Chat, delay_min: 0 },
        NotifyRule { method: Method::Phone, delay_min: 5 },
    ];
    let bob_c = Contact {
        user_id: bob.id,
        phone: "+86 138 0000 0000".into(),
        feishu_id: "ou_bob".into(),
        rules: rules.clone(),
    };
    assert_eq!(store.save_contact(&bob_c, &as_user(&bob, OC0)).await.expect("save"), bob_c);
    assert_eq!(store.contact(bob.id).await.expect("read"), bob_c);

    // Saving again replaces the row (one per person).
    let bob_c2 = Contact {
        phone: "+86 139 1111 2222".into(),
        rules: vec![NotifyRule { method: Method::Email, delay_min: 3 }],
        ..bob_c.clone()
    };
    store.save_contact(&bob_c2, &as_user(&bob, OC0 + 1)).await.expect("upsert");
    let ann_c = Contact {
        user_id: ann.id,
        phone: String::new(),
        feishu_id: "ou_ann".into(),
        rules: vec![],
    };
    store.save_contact(&ann_c, &as_user(&ann, OC0 + 2)).await.expect("save ann");
    assert_eq!(
        store.contacts().await.expect("list"),
        [ann_c.clone(), bob_c2.clone()],
        "one row each, by user id"
    );
    assert_eq!(store.contact(bob.id).await.expect("read"), bob_c2);

    // Audited with the contact before and after.
    let log = incident_actions(store, "user.contact.").await;
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[1].target.clone(), log[1].actor.clone()),
        (format!("user:{}", bob.id), "bob@example.com".to_owned())
    );
    let before: Contact =
        serde_json::from_str(log[1].before_json.as_deref().expect("before")).expect("json");
    let after: Contact =
        serde_json::from_str(log[1].after_json.as_deref().expect("after")).expect("json");
    assert_eq!((before, after), (bob_c, bob_c2));
    let first: Contact =
        serde_json::from_str(log[2].before_json.as_deref().expect("before")).expect("json");
    assert_eq!(first.phone, "", "the first save's before is the default");
}

async fn oncall_escalations_start_once_record_steps_page_ack_and_resolve(store: &Store) {
    use domain::oncall::escalation::Method;
    use store::{NewEscalation, NewPage};
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;
    let policy = store
        .create_escalation_policy(&oncall_policy("P0 pager", ann.id, 5), &as_user(&ann, OC0))
        .await
        .expect("policy");
    let engine = AuditCtx::system("engine", OC0 + MIN);
    let new = |key: &str, started: i64| NewEscalation {
        policy_id: policy.id,
        target: None,
        subject_key: key.into(),
        rule_id: Some(7),
        title: format!("AI failures ({key})"),
        severity: "P1".into(),
        started_at_ms: started,
    };

    // One run per subject.
    let a = store
        .start_escalation(&new("rule:7:100", OC0 + MIN), &engine)
        .await
        .expect("start")
        .expect("new run");
    assert_eq!(
        (a.policy_id, a.subject_key.as_str(), a.rule_id, a.title.as_str(), a.severity.as_str()),
        (policy.id, "rule:7:100", Some(7), "AI failures (rule:7:100)", "P1")
    );
    assert_eq!(
        (a.started_at_ms, a.fired, a.next_at_ms, a.acked_at_ms, a.resolved_at_ms),
        (OC0 + MIN, 0, Some(OC0 + MIN), None, None)
    );
    assert!(a.is_open());
    assert_eq!(a.target, None);
    assert!(store
        .start_escalation(&new("rule:7:100", OC0 + 2 * MIN), &engine)
        .await
        .expect("again")
        .is_none());
    let b = store
        .start_escalation(&new("rule:7:200", OC0 + 2 * MIN), &engine)
        .await
        .expect("start b")
        .expect("new run b");
    let c = store
        .start_escalation(&new("rule:7:300", OC0 + 3 * MIN), &engine)
        .await
        .expect("start c")
        .expect("new run c");
    let open_ids = |v: Vec<store::Escalation>| v.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(open_ids(store.open_escalations().await.expect("open")), [a.id, b.id, c.id]);

    // Steps fire at the expected count only.
    let page = |seq: i64, user_id: i64, method: Method, due: i64| NewPage {
        seq,
        user_id,
        method,
        due_at_ms: due,
    };
    let now = OC0 + 5 * MIN;
    assert!(store
        .record_steps(
            a.id,
            0,
            1,
            Some(now + 5 * MIN),
            &[page(0, ann.id, Method::Chat, now), page(0, ann.id, Method::Phone, now + 3 * MIN),],
            now,
        )
        .await
        .expect("record"));
    let a1 = store.escalation(a.id).await.expect("get");
    assert_eq!((a1.fired, a1.next_at_ms), (1, Some(now + 5 * MIN)));
    assert!(
        !store
            .record_steps(
                a.id,
                0,
                1,
                Some(now + 5 * MIN),
                &[page(0, bob.id, Method::Email, now)],
                now,
            )
            .await
            .expect("stale"),
        "another replica already fired step 0"
    );
    assert_eq!(store.escalation(a.id).await.expect("get"), a1);
    assert!(store
        .record_steps(b.id, 0, 1, None, &[page(0, bob.id, Method::Email, now)], now)
        .await
        .expect("record b"));
    assert!(store
        .record_steps(c.id, 0, 1, None, &[page(0, bob.id, Method::Chat, now + MIN)], now)
        .await
        .expect("record c"));

    let pages_a = store.pages_of(&[a.id]).await.expect("pages");
    assert_eq!(pages_a.len(), 2, "the stale write added no page");
    assert_eq!(
        pages_a
            .iter()
            .map(|p| (
                p.escalation_id,
                p.seq,
                p.user_id,
                p.method.as_str(),
                p.due_at_ms,
                p.status.as_str(),
                p.sent_at_ms
            ))
            .collect::<Vec<_>>(),
        [
            (a.id, 0, ann.id, "chat", now, "pending", None),
            (a.id, 0, ann.id, "phone", now + 3 * MIN, "pending", None),
        ]
    );
    assert!(store.pages_of(&[]).await.expect("none").is_empty());
    assert_eq!(store.pages_of(&[a.id, b.id, c.id]).await.expect("all").len(), 4);

    // Only pending pages that are due.
    let due_ids = |v: Vec<store::Page>| v.iter().map(|p| p.id).collect::<Vec<_>>();
    let pb = store.pages_of(&[b.id]).await.expect("b")[0].clone();
    let pc = store.pages_of(&[c.id]).await.expect("c")[0].clone();
    assert!(store.due_pages(now - 1).await.expect("early").is_empty());
    assert_eq!(due_ids(store.due_pages(now).await.expect("due")), [pages_a[0].id, pb.id]);
    store.finish_page(pb.id, "sent", "sent via Feishu", now + 1).await.expect("sent");
    store.finish_page(pb.id, "failed", "too late", now + 2).await.expect("already finished: no-op");
    let pb2 = store.pages_of(&[b.id]).await.expect("b")[0].clone();
    assert_eq!(
        (pb2.status.as_str(), pb2.detail.as_str(), pb2.sent_at_ms),
        ("sent", "sent via Feishu", Some(now + 1))
    );
    assert_eq!(
        due_ids(store.due_pages(now + 10 * MIN).await.expect("due later")),
        [pages_a[0].id, pc.id, pages_a[1].id]
    );

    // Acknowledging: once, pending pages cancelled, no more steps.
    store.finish_page(pages_a[0].id, "sent", "ok", now + 1).await.expect("sent a0");
    assert!(store.ack_escalation(a.id, &as_user(&bob, now + 2 * MIN)).await.expect("ack"));
    let acked = store.escalation(a.id).await.expect("get");
    assert_eq!(
        (
            acked.acked_at_ms,
            acked.acked_by.as_deref(),
            acked.acked_user_id,
            acked.next_at_ms,
            acked.resolved_at_ms
        ),
        (Some(now + 2 * MIN), Some("bob@example.com"), Some(bob.id), None, None)
    );
    assert!(!acked.is_open());
    assert!(!store.ack_escalation(a.id, &as_user(&ann, now + 3 * MIN)).await.expect("ack again"));
    assert_eq!(
        store.escalation(a.id).await.expect("get").acked_by.as_deref(),
        Some("bob@example.com"),
        "the first acknowledgement stays"
    );
    let statuses: Vec<(String, String)> = store
        .pages_of(&[a.id])
        .await
        .expect("pages")
        .into_iter()
        .map(|p| (p.status, p.detail))
        .collect();
    assert_eq!(
        statuses,
        [("sent".to_owned(), "ok".to_owned()), ("cancelled".to_owned(), "acknowledged".to_owned())]
    );
    assert!(!store
        .record_steps(a.id, 1, 2, None, &[page(1, bob.id, Method::Chat, now)], now)
        .await
        .expect("after ack"));
    assert_eq!(store.pages_of(&[a.id]).await.expect("pages").len(), 2);

    // Resolving: pending pages cancelled, the run closes; acking it then changes nothing.
    store.resolve_escalation(c.id, now + 4 * MIN).await.expect("resolve");
    let resolved = store.escalation(c.id).await.expect("get");
    assert_eq!(
        (resolved.resolved_at_ms, resolved.next_at_ms, resolved.acked_at_ms),
        (Some(now + 4 * MIN), None, None)
    );
    let pc2 = store.pages_of(&[c.id]).await.expect("c")[0].clone();
    assert_eq!((pc2.status.as_str(), pc2.detail.as_str()), ("cancelled", "resolved"));
    assert!(!store
        .ack_escalation(c.id, &as_user(&ann, now + 5 * MIN))
        .await
        .expect("ack resolved"));
    store.resolve_escalation(c.id, now + 9 * MIN).await.expect("resolve again");
    assert_eq!(
        store.escalation(c.id).await.expect("get").resolved_at_ms,
        Some(now + 4 * MIN),
        "the first recovery time stays"
    );

    assert_eq!(open_ids(store.open_escalations().await.expect("open")), [b.id]);
    assert_eq!(open_ids(store.recent_escalations(2).await.expect("recent")), [c.id, b.id]);
    // The firing list reads unresolved runs, acknowledged ones included; an incident's
    // runs are found by the prefix of their key.
    assert_eq!(open_ids(store.unresolved_escalations().await.expect("unresolved")), [a.id, b.id]);
    assert_eq!(
        open_ids(store.escalations_with_prefix("rule:7:").await.expect("prefix")),
        [a.id, b.id, c.id]
    );
    assert_eq!(open_ids(store.escalations_with_prefix("rule:7:2").await.expect("prefix")), [b.id]);
    assert!(store.escalations_with_prefix("rule:8").await.expect("none").is_empty());
    assert!(store.due_pages(now + 60 * MIN).await.expect("nothing pending").is_empty());
    assert!(matches!(store.escalation(424_242).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.ack_escalation(424_242, &as_user(&ann, now)).await,
        Err(StoreError::NotFound)
    ));

    let log = actions_and_targets(store, "escalation.").await;
    let e = |id: i64| format!("escalation:{id}");
    assert_eq!(
        log,
        [
            ("escalation.ack".to_owned(), e(a.id)),
            ("escalation.start".to_owned(), e(c.id)),
            ("escalation.start".to_owned(), e(b.id)),
            ("escalation.start".to_owned(), e(a.id)),
        ]
    );

    // Alert acknowledgements are by firing episode: acknowledging b's episode stops its run
    // (once: a second one is refused), an episode nobody pages can be acknowledged too, and
    // taking it back makes b's run page again from now.
    let late = now + 30 * MIN;
    let (by_ann, by_bob) = (as_user(&ann, late), as_user(&bob, late));
    assert!(store.ack_alert("rule:7:200", &by_ann).await.expect("ack"));
    assert!(!store.ack_alert("rule:7:200", &by_bob).await.expect("twice"));
    let b_acked = store.escalation(b.id).await.expect("b");
    assert_eq!(
        (b_acked.acked_at_ms, b_acked.acked_by.as_deref(), b_acked.next_at_ms),
        (Some(late), Some(by_ann.actor.as_str()), None)
    );
    assert!(store.ack_alert("rule:9:1", &by_bob).await.expect("not paged"));
    let acks: Vec<(String, String)> = store
        .alert_acks()
        .await
        .expect("acks")
        .into_iter()
        .map(|a| (a.subject_key, a.acked_by))
        .collect();
    assert_eq!(
        acks,
        [("rule:7:200".into(), by_ann.actor.clone()), ("rule:9:1".into(), by_bob.actor.clone())]
    );
    assert!(store.unack_alert("rule:7:200", &as_user(&ann, late + MIN)).await.expect("undo"));
    let b_again = store.escalation(b.id).await.expect("b");
    assert_eq!((b_again.acked_at_ms, b_again.next_at_ms), (None, Some(late + MIN)));
    assert!(!store
        .unack_alert("rule:7:200", &as_user(&ann, late + MIN))
        .await
        .expect("nothing left"));
    let log = actions_and_targets(store, "alert.").await;
    assert_eq!(
        log,
        [
            ("alert.unack".to_owned(), "alert:rule:7:200".to_owned()),
            ("alert.ack".to_owned(), "alert:rule:9:1".to_owned()),
            ("alert.ack".to_owned(), "alert:rule:7:200".to_owned()),
        ]
    );

    // Deleting the policy takes its runs and their pages along.
    store
        .delete_escalation_policy(policy.id, &as_user(&ann, now + 60 * MIN))
        .await
        .expect("delete policy");
    assert!(store.open_escalations().await.expect("open").is_empty());
    assert!(matches!(store.escalation(a.id).await, Err(StoreError::NotFound)));
    assert!(store.pages_of(&[a.id, b.id, c.id]).await.expect("pages").is_empty());
    // A missed response deadline brings the open runs' next steps forward to now, once;
    // an acknowledged run stays as it is.
    let p2 = store
        .create_escalation_policy(&oncall_policy("P1 pager", ann.id, 5), &as_user(&ann, now))
        .await
        .expect("policy");
    let run = |key: &str| NewEscalation { policy_id: p2.id, ..new(key, now + 10 * MIN) };
    let mut ids = Vec::new();
    for key in ["incident:INC-T:5", "incident:INC-T:6"] {
        let r = store.start_escalation(&run(key), &engine).await.expect("start").expect("new");
        assert!(store
            .record_steps(r.id, 0, 1, Some(now + 40 * MIN), &[], now + 10 * MIN)
            .await
            .expect("step"));
        ids.push(r.id);
    }
    assert!(store.ack_escalation(ids[1], &as_user(&bob, now + 11 * MIN)).await.expect("ack"));
    let acked = store.escalation(ids[1]).await.expect("acked");
    let t = now + 12 * MIN;
    assert_eq!(
        store.hurry_runs_once("deadline:x", "incident:INC-T:", t).await.expect("hurry"),
        Some(1)
    );
    assert_eq!(store.escalation(ids[0]).await.expect("run").next_at_ms, Some(t));
    assert_eq!(store.escalation(ids[1]).await.expect("run"), acked, "acknowledged: untouched");
    assert_eq!(
        store.hurry_runs_once("deadline:x", "incident:INC-T:", t + MIN).await.expect("again"),
        None
    );
    assert_eq!(store.escalation(ids[0]).await.expect("run").next_at_ms, Some(t), "once");
    // A run for one person keeps its target.
    let one = domain::oncall::escalation::Target::User(bob.id);
    let b = store
        .start_escalation(
            &NewEscalation { target: Some(one), ..run("incident:INC-X:1:user:2") },
            &engine,
        )
        .await
        .expect("start")
        .expect("new run");
    assert_eq!(store.escalation(b.id).await.expect("read").target, Some(one));
}

async fn oncall_calendar_feeds_rotate_and_settings_init_once(store: &Store) {
    use store::FeedKind;
    let ann = user(store, "ann@example.com").await;
    let s = store
        .create_schedule(&oncall_schedule("Primary", &[ann.id]), &as_user(&ann, OC0))
        .await
        .expect("schedule");

    assert_eq!(store.feed_by_hash("h-1").await.expect("none"), None);
    assert_eq!(store.feed_created_at(FeedKind::Schedule, s.id).await.expect("none yet"), None);
    store
        .rotate_feed(FeedKind::Schedule, s.id, "h-1", &as_user(&ann, OC0 + 1))
        .await
        .expect("rotate");
    assert_eq!(store.feed_by_hash("h-1").await.expect("found"), Some((FeedKind::Schedule, s.id)));
    assert_eq!(store.feed_created_at(FeedKind::Schedule, s.id).await.expect("made"), Some(OC0 + 1));
    // A person's feed with the same subject id is another feed.
    store
        .rotate_feed(FeedKind::User, s.id, "u-1", &as_user(&ann, OC0 + 2))
        .await
        .expect("rotate user");
    assert_eq!(store.feed_by_hash("u-1").await.expect("found"), Some((FeedKind::User, s.id)));

    // Rotating replaces the token: the old one stops working at once.
    store
        .rotate_feed(FeedKind::Schedule, s.id, "h-2", &as_user(&ann, OC0 + 3))
        .await
        .expect("rotate again");
    assert_eq!(store.feed_by_hash("h-1").await.expect("old"), None);
    assert_eq!(store.feed_by_hash("h-2").await.expect("new"), Some((FeedKind::Schedule, s.id)));
    assert_eq!(store.feed_created_at(FeedKind::Schedule, s.id).await.expect("made"), Some(OC0 + 3));
    assert_eq!(store.feed_by_hash("u-1").await.expect("untouched"), Some((FeedKind::User, s.id)));
    // A token hash opens one feed only.
    let err = store
        .rotate_feed(FeedKind::User, ann.id + 1_000, "h-2", &as_user(&ann, OC0 + 4))
        .await
        .expect_err("hash in use");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let log = actions_and_targets(store, "calendar_feed.").await;
    let sch = format!("schedule:{}", s.id);
    let usr = format!("user:{}", s.id);
    assert_eq!(
        log,
        [
            ("calendar_feed.rotate".to_owned(), sch.clone()),
            ("calendar_feed.rotate".to_owned(), usr),
            ("calendar_feed.rotate".to_owned(), sch),
        ]
    );

    // Deleting the schedule removes its feed.
    store.delete_schedule(s.id, &as_user(&ann, OC0 + 5)).await.expect("delete");
    assert_eq!(store.feed_by_hash("h-2").await.expect("gone"), None);
    assert_eq!(store.feed_by_hash("u-1").await.expect("kept"), Some((FeedKind::User, s.id)));

    // Settings initialised once: the first value wins.
    assert_eq!(
        store.setting_or_init("oncall.ack_link_secret", "first").await.expect("init"),
        "first"
    );
    assert_eq!(
        store.setting_or_init("oncall.ack_link_secret", "second").await.expect("again"),
        "first"
    );
    assert_eq!(
        store.setting("oncall.ack_link_secret").await.expect("get").as_deref(),
        Some("first")
    );
}

/// Received alerts: firing ones (Alertmanager's `endsAt` still ahead, or none) and, for
/// resolved notices, those that ended after a given time; newest first.
async fn external_alerts_firing_and_recently_ended(store: &Store) {
    use store::notify::ExternalAlert;
    let alert = |fp: &str, firing: bool, starts: i64, ends: Option<i64>| ExternalAlert {
        source: "alertmanager".into(),
        fingerprint: fp.into(),
        firing,
        labels: format!(r#"{{"alertname":"{fp}"}}"#),
        annotations: "{}".into(),
        starts_at_ms: starts,
        ends_at_ms: ends,
        generator_url: String::new(),
        received_at_ms: starts,
    };
    let batch = [
        alert("a", true, 4_000, None),
        // Firing, but Alertmanager's endsAt (its resolve timeout) is at 10 000.
        alert("b", true, 3_000, Some(10_000)),
        alert("c", false, 2_000, Some(8_000)),
        alert("d", false, 1_000, Some(1_500)),
    ];
    store.upsert_external_alerts(&batch, &AuditCtx::system("test", 4_000)).await.expect("upsert");
    let view = |v: Vec<ExternalAlert>| {
        v.into_iter().map(|a| (a.fingerprint, a.firing)).collect::<Vec<_>>()
    };
    let owned =
        |v: &[(&str, bool)]| v.iter().map(|(f, b)| ((*f).to_owned(), *b)).collect::<Vec<_>>();
    assert_eq!(
        view(store.firing_external_alerts(5_000).await.expect("firing")),
        owned(&[("a", true), ("b", true)])
    );
    assert_eq!(
        view(store.external_alerts_since(5_000, 2_000).await.expect("since")),
        owned(&[("a", true), ("b", true), ("c", false)])
    );
    // Later: b is past its endsAt (not firing, still in view), c ended before `since`.
    assert_eq!(
        view(store.external_alerts_since(20_000, 9_000).await.expect("since")),
        owned(&[("a", true), ("b", false)])
    );
    assert_eq!(
        view(store.firing_external_alerts(20_000).await.expect("firing")),
        owned(&[("a", true)])
    );
}

async fn changes_record_once_per_client_id_filter_and_audit(store: &Store) {
    use domain::changes::ChangeKind;
    use store::changes::{ChangeQuery, NewChange};
    // A key of the new scope can be stored (the migration widened the check).
    let key = store
        .create_api_key(
            &NewApiKey {
                name: "deploys".into(),
                scope: ApiScope::Changes,
                prefix: "vgl_chg".into(),
                token_hash: "changeshash".into(),
                created_by: None,
            },
            &ctx(1),
        )
        .await
        .expect("changes key");
    assert_eq!(key.scope, ApiScope::Changes);
    let change = |at_ms: i64, service: &str, kind: ChangeKind, id: Option<&str>| NewChange {
        at_ms,
        service: service.into(),
        kind,
        version: format!("v{at_ms}"),
        author: "ci".into(),
        description: format!("{kind:?} of {service}"),
        url: String::new(),
        external_id: id.map(Into::into),
    };
    let (first, new) = store
        .record_change(&change(100, "checkout", ChangeKind::Deploy, Some("run-1")), &ctx(5))
        .await
        .expect("record");
    assert!(new);
    assert_eq!(
        (first.service.as_str(), first.recorded_by.as_str()),
        ("checkout", "admin@example.com")
    );
    // The same client id again: nothing new, the first one back.
    let (again, new) = store
        .record_change(&change(999, "search", ChangeKind::Flag, Some("run-1")), &ctx(6))
        .await
        .expect("again");
    assert!(!new);
    assert_eq!(again, first);
    // Without an id, every call records.
    for (at, svc, kind) in [
        (200, "search", ChangeKind::Config),
        (300, "checkout", ChangeKind::Flag),
        (400, "search", ChangeKind::Deploy),
    ] {
        store.record_change(&change(at, svc, kind, None), &ctx(at)).await.expect("record");
    }
    let all = store.changes(&ChangeQuery::default()).await.expect("all");
    assert_eq!(all.iter().map(|c| c.at_ms).collect::<Vec<_>>(), [400, 300, 200, 100]);
    let q = ChangeQuery {
        from_ms: Some(150),
        to_ms: Some(400),
        services: vec!["checkout".into(), "search".into()],
        ..ChangeQuery::default()
    };
    assert_eq!(
        store.changes(&q).await.expect("q").iter().map(|c| c.at_ms).collect::<Vec<_>>(),
        [300, 200]
    );
    let q = ChangeQuery {
        services: vec!["checkout".into()],
        kind: Some(ChangeKind::Flag),
        ..ChangeQuery::default()
    };
    assert_eq!(store.changes(&q).await.expect("q").len(), 1);
    let q = ChangeQuery { q: Some("CONFIG OF".into()), ..ChangeQuery::default() };
    assert_eq!(
        store.changes(&q).await.expect("q").iter().map(|c| c.at_ms).collect::<Vec<_>>(),
        [200]
    );
    let q = ChangeQuery { limit: 2, ..ChangeQuery::default() };
    assert_eq!(store.changes(&q).await.expect("q").len(), 2);
    // Four records, four audit entries (the repeat wrote nothing).
    let audit = store
        .audit_entries(&AuditQuery {
            action_prefix: Some("change.".into()),
            before_id: None,
            limit: 100,
        })
        .await
        .expect("audit");
    assert_eq!(audit.len(), 4);
}
