//! Scenario tests of the account rules on a real (SQLite) store and a fake clock.

mod common;

use domain::{ApiScope, Permission, Role};
use services::accounts::CreateUser;
use services::{AuthSettings, Caller, FakeClock, ServiceError, Services};
use std::sync::Arc;
use store::AuditQuery;

async fn setup() -> (Services, FakeClock, std::path::PathBuf) {
    let (store, dir) = store::testing::sqlite_store("vigil-svc").await;
    let clock = FakeClock::at(1_800_000_000_000);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default());
    (svc, clock, dir)
}

#[tokio::test]
async fn login_throttles_after_five_failures_per_account_and_ip() {
    let (svc, clock, _dir) = setup().await;
    common::signed_in(&svc, "pm@example.com", "viewer").await;
    for i in 0..5 {
        let err = svc
            .accounts()
            .login("pm@example.com", "wrong password!", "1.2.3.4", "t")
            .await
            .expect_err("bad pw");
        assert!(matches!(err, ServiceError::Unauthorized), "attempt {i}: {err:?}");
        clock.advance_ms(1_000);
    }
    // Sixth attempt inside the minute: refused without checking, even with the right password.
    let err = svc
        .accounts()
        .login("pm@example.com", "correct horse battery", "1.2.3.4", "t")
        .await
        .expect_err("locked");
    match err {
        ServiceError::RateLimited(secs) => assert!((1..=60).contains(&secs), "retry after {secs}"),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // Another IP is not locked out.
    svc.accounts()
        .login("pm@example.com", "correct horse battery", "5.6.7.8", "t")
        .await
        .expect("other ip");
    // After the window passes, the right password works again.
    clock.advance_ms(60_000);
    svc.accounts()
        .login("pm@example.com", "correct horse battery", "1.2.3.4", "t")
        .await
        .expect("unlocked");
    let failed = svc
        .store()
        .audit_entries(&AuditQuery {
            action_prefix: Some("session.login_failed".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(failed.len(), 5, "each failed sign-in is audited");
}

#[tokio::test]
async fn unknown_email_and_disabled_users_cannot_sign_in() {
    let (svc, _clock, _dir) = setup().await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    assert!(matches!(
        svc.accounts().login("ghost@example.com", "whatever12345", "1.1.1.1", "t").await,
        Err(ServiceError::Unauthorized)
    ));
    svc.accounts()
        .set_user_disabled(&admin, viewer.user_id().expect("a person"), true)
        .await
        .expect("disable");
    assert!(matches!(
        svc.accounts().login("pm@example.com", "correct horse battery", "1.1.1.1", "t").await,
        Err(ServiceError::Unauthorized)
    ));
    assert!(matches!(
        svc.accounts().login("", "", "1.1.1.1", "t").await,
        Err(ServiceError::Invalid(e)) if e.get("email").is_some() && e.get("password").is_some()
    ));
}

#[tokio::test]
async fn permissions_are_enforced_on_every_write() {
    let (svc, _clock, _dir) = setup().await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let editor = common::signed_in(&svc, "sre@example.com", "editor").await;

    assert!(matches!(
        svc.accounts().list_users(&viewer).await,
        Err(ServiceError::Forbidden(Permission::ManageUsers))
    ));
    assert!(matches!(
        svc.accounts().set_user_role(&editor, viewer.user_id().expect("a person"), "admin").await,
        Err(ServiceError::Forbidden(Permission::ManageUsers))
    ));
    assert!(matches!(
        svc.accounts().create_api_key(&viewer, "k", "ingest").await,
        Err(ServiceError::Forbidden(_))
    ));
    let u = svc
        .accounts()
        .set_user_role(&admin, viewer.user_id().expect("a person"), "editor")
        .await
        .expect("ok");
    assert_eq!(u.role, Role::Editor);
    assert!(matches!(
        svc.accounts().set_user_role(&admin, viewer.user_id().expect("a person"), "owner").await,
        Err(ServiceError::Invalid(e)) if e.get("role").is_some()
    ));
    // The last admin cannot be demoted, nor disable itself.
    assert!(matches!(
        svc.accounts().set_user_role(&admin, admin.user_id().expect("a person"), "viewer").await,
        Err(ServiceError::Invalid(e)) if e.get("role") == Some("the last admin cannot be demoted")
    ));
    assert!(svc
        .accounts()
        .set_user_disabled(&admin, admin.user_id().expect("a person"), true)
        .await
        .is_err());
}

#[tokio::test]
async fn user_creation_validates_every_field() {
    let (svc, _clock, _dir) = setup().await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let err = svc
        .accounts()
        .create_user(
            &admin,
            &CreateUser {
                email: "nope".into(),
                name: " ".into(),
                role: "boss".into(),
                password: "short".into(),
            },
        )
        .await
        .expect_err("invalid");
    let ServiceError::Invalid(e) = err else { panic!("expected Invalid") };
    for field in ["email", "name", "role", "password"] {
        assert!(e.get(field).is_some(), "{field} named: {e}");
    }
    let dup = svc
        .accounts()
        .create_user(
            &admin,
            &CreateUser {
                email: "ADMIN@example.com".into(),
                name: "A".into(),
                role: "viewer".into(),
                password: "long enough pw".into(),
            },
        )
        .await
        .expect_err("duplicate");
    assert!(
        matches!(dup, ServiceError::Invalid(e) if e.get("email") == Some("is already used by another account"))
    );
    assert_eq!(svc.accounts().list_users(&admin).await.expect("list").len(), 1);
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revocable() {
    let (svc, _clock, _dir) = setup().await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let created = svc.accounts().create_api_key(&admin, "web", "ingest").await.expect("key");
    assert!(created.secret.starts_with("vgl_") && created.secret.len() == 52);
    assert!(created.secret.starts_with(&created.key.prefix));
    let caller =
        svc.accounts().authenticate_api_key(&created.secret, "10.0.0.1").await.expect("auth");
    assert!(matches!(
        caller.principal,
        services::Principal::ApiKey { key_id, scope: ApiScope::Ingest } if key_id == created.key.id
    ));
    // What a key may do is its scope: an ingest key ingests and reads nothing.
    assert!(caller.require(Permission::Ingest).is_ok());
    assert!(matches!(
        caller.require(Permission::ViewDashboards),
        Err(ServiceError::Forbidden(Permission::ViewDashboards))
    ));
    assert!(matches!(
        svc.accounts().authenticate_api_key("vgl_wrong", "10.0.0.1").await,
        Err(ServiceError::Unauthorized)
    ));
    svc.accounts().revoke_api_key(&admin, created.key.id).await.expect("revoke");
    assert!(matches!(
        svc.accounts().authenticate_api_key(&created.secret, "10.0.0.1").await,
        Err(ServiceError::Unauthorized)
    ));
    // The stored row never holds the secret.
    let listed = svc.accounts().list_api_keys(&admin).await.expect("list");
    assert!(!format!("{listed:?}").contains(&created.secret));
}

#[tokio::test]
async fn preferences_password_and_logout() {
    let (svc, _clock, _dir) = setup().await;
    let pm = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let err = svc.accounts().set_preferences(&pm, "fr", "Mars/Base").await.expect_err("invalid");
    assert!(
        matches!(&err, ServiceError::Invalid(e) if e.get("locale").is_some() && e.get("time_zone").is_some())
    );
    let u = svc.accounts().set_preferences(&pm, "zh-CN", "Asia/Shanghai").await.expect("prefs");
    assert_eq!((u.locale.tag(), u.time_zone.as_str()), ("zh-CN", "Asia/Shanghai"));

    let err = svc
        .accounts()
        .change_password(&pm, "wrong current", "another long pw")
        .await
        .expect_err("current");
    assert!(matches!(&err, ServiceError::Invalid(e) if e.get("current_password").is_some()));
    svc.accounts()
        .change_password(&pm, "correct horse battery", "another long pw")
        .await
        .expect("change");
    let ok = svc
        .accounts()
        .login("pm@example.com", "another long pw", "1.1.1.1", "t")
        .await
        .expect("new pw");
    let actor = svc
        .accounts()
        .session_actor(&ok.session_token, "1.1.1.1")
        .await
        .expect("q")
        .expect("actor");
    svc.accounts().logout(&actor, &ok.session_token).await.expect("logout");
    assert!(svc.accounts().session_actor(&ok.session_token, "1.1.1.1").await.expect("q").is_none());
}

#[tokio::test]
async fn bootstrap_creates_one_admin_once() {
    let (svc, _clock, _dir) = setup().await;
    let pw = svc
        .accounts()
        .bootstrap_admin("admin@vigil.local", None)
        .await
        .expect("boot")
        .expect("created");
    assert!(pw.len() >= 10);
    assert!(svc
        .accounts()
        .bootstrap_admin("admin@vigil.local", None)
        .await
        .expect("again")
        .is_none());
    svc.accounts()
        .login("admin@vigil.local", &pw, "1.1.1.1", "t")
        .await
        .expect("login with printed password");
}

/// `scripts/run.sh` runs `vigil demo` before the first `vigil serve`: the demo team (seven
/// accounts without passwords, none an admin) must not stop the first-start admin.
#[tokio::test]
async fn bootstrap_creates_the_admin_after_the_demo_team() {
    let (svc, _clock, _dir) = setup().await;
    assert!(svc.oncall().load_demo_oncall().await.expect("demo roster") > 0);
    let pw = svc
        .accounts()
        .bootstrap_admin("admin@vigil.local", None)
        .await
        .expect("boot")
        .expect("an admin is created although users exist");
    svc.accounts()
        .login("admin@vigil.local", &pw, "1.1.1.1", "t")
        .await
        .expect("login with printed password");
    assert!(svc
        .accounts()
        .bootstrap_admin("admin@vigil.local", None)
        .await
        .expect("second start")
        .is_none());
}

/// The configured admin email belongs to an account that is not an admin, and there is no
/// admin: nothing is created and the error names the setting and the way out.
#[tokio::test]
async fn bootstrap_names_the_way_out_when_the_email_is_taken() {
    let (svc, _clock, _dir) = setup().await;
    svc.accounts()
        .create_user(
            &services::Caller::system("test"),
            &services::accounts::CreateUser {
                email: "admin@vigil.local".into(),
                name: "Not an admin".into(),
                role: "viewer".into(),
                password: "correct horse battery".into(),
            },
        )
        .await
        .expect("viewer");
    match svc.accounts().bootstrap_admin("admin@vigil.local", None).await {
        Err(services::ServiceError::Invalid(e)) => {
            let m = e.get("admin_email").expect("names admin_email");
            assert!(m.contains("vigil user add --role admin"), "{m}");
        }
        other => panic!("expected an error naming admin_email, got {other:?}"),
    }
}

/// A password change ends every other session of that user (whoever else knew the old
/// password is out), and keeps the one that made the change.
#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let (svc, _clock, _dir) = setup().await;
    let _ = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let here_session = svc
        .accounts()
        .login("pm@example.com", "correct horse battery", "1.1.1.1", "laptop")
        .await
        .expect("this session");
    let here = svc
        .accounts()
        .session_actor(&here_session.session_token, "1.1.1.1")
        .await
        .expect("q")
        .expect("actor");
    let elsewhere = svc
        .accounts()
        .login("pm@example.com", "correct horse battery", "9.9.9.9", "phone")
        .await
        .expect("second session");
    let other_user = common::signed_in(&svc, "ops@example.com", "viewer").await;
    let _ = other_user;
    let ops_again = svc
        .accounts()
        .login("ops@example.com", "correct horse battery", "9.9.9.9", "t")
        .await
        .expect("ops");
    svc.accounts()
        .change_password(&here, "correct horse battery", "a new long password")
        .await
        .expect("change");
    assert!(
        svc.accounts()
            .session_actor(&elsewhere.session_token, "9.9.9.9")
            .await
            .expect("q")
            .is_none(),
        "the other session of the user ended"
    );
    // The session that made the change still works.
    let me = svc
        .accounts()
        .session_actor(&here_session.session_token, "1.1.1.1")
        .await
        .expect("q")
        .expect("the changing session stays");
    assert_eq!(me.session_hash(), here.session_hash());
    assert_eq!(me.user_id().expect("a person"), here.user_id().expect("a person"));
    // Other users are untouched.
    assert!(svc
        .accounts()
        .session_actor(&ops_again.session_token, "9.9.9.9")
        .await
        .expect("q")
        .is_some());
}

/// Over-long sign-in input is refused by its length, before any lookup, hash or audit.
#[tokio::test]
async fn sign_in_refuses_over_long_input_before_hashing() {
    let (svc, _clock, _dir) = setup().await;
    let long_email = format!("{}@example.com", "a".repeat(300));
    match svc.accounts().login(&long_email, "whatever12", "1.1.1.1", "t").await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("email").is_some(), "{e}"),
        other => panic!("expected an email error, got {other:?}"),
    }
    let long_password = "p".repeat(1025);
    match svc.accounts().login("pm@example.com", &long_password, "1.1.1.1", "t").await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("password").is_some(), "{e}"),
        other => panic!("expected a password error, got {other:?}"),
    }
    let audited = svc
        .store()
        .audit_entries(&AuditQuery {
            action_prefix: Some("session.".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(audited.is_empty(), "nothing audited: {audited:?}");
}

/// At most N password hashes run at once; beyond that, a caller waits at most half a
/// second and is then told to retry (429), instead of queueing behind the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_is_bounded_and_refuses_fast_when_saturated() {
    let (store, _dir) = store::testing::sqlite_store("vigil-hash").await;
    let svc = Services::new(
        store,
        Arc::new(FakeClock::at(1_800_000_000_000)),
        AuthSettings { login_max_failures: 1_000, ..AuthSettings::default() },
    )
    .with_hash_concurrency(1);
    let started = std::time::Instant::now();
    let tries: Vec<_> = (0..40)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move {
                let t = std::time::Instant::now();
                let r = svc
                    .accounts()
                    .login(&format!("u{i}@example.com"), "wrong password", "1.1.1.1", "t")
                    .await;
                (r, t.elapsed())
            })
        })
        .collect();
    let mut refused = 0;
    let mut checked = 0;
    for t in tries {
        let (r, took) = t.await.expect("task");
        match r {
            Err(ServiceError::RateLimited(1)) => {
                refused += 1;
                assert!(
                    took < std::time::Duration::from_secs(5),
                    "a refusal must not wait for the queue: {took:?}"
                );
            }
            Err(ServiceError::Unauthorized) => checked += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    println!(
        "40 parallel sign-ins, 1 hashing permit: {checked} checked, {refused} refused in {:?}",
        started.elapsed()
    );
    assert!(checked >= 1, "some sign-ins are checked");
    assert!(refused >= 1, "the rest are refused, not queued");
}

/// An API key stops working when the person who made it is disabled, and works again when
/// they are enabled; keys made with the CLI belong to nobody and keep working.
#[tokio::test]
async fn a_disabled_persons_api_keys_stop_working() {
    let (svc, _clock, _dir) = setup().await;
    let boss = common::signed_in(&svc, "boss@example.com", "admin").await;
    let leaver = common::signed_in(&svc, "leaver@example.com", "admin").await;
    let key = svc
        .accounts()
        .create_api_key(&leaver, "leaver's exporter", "read")
        .await
        .expect("key")
        .secret;
    let cli = svc
        .accounts()
        .create_api_key(&Caller::system("cli"), "cron job", "read")
        .await
        .expect("cli key")
        .secret;
    svc.accounts()
        .authenticate_api_key(&key, "10.0.0.1")
        .await
        .expect("works while the owner is enabled");
    svc.accounts()
        .set_user_disabled(&boss, leaver.user_id().expect("a person"), true)
        .await
        .expect("disable");
    assert!(matches!(
        svc.accounts().authenticate_api_key(&key, "10.0.0.1").await,
        Err(ServiceError::Unauthorized)
    ));
    svc.accounts()
        .authenticate_api_key(&cli, "10.0.0.1")
        .await
        .expect("a CLI key has no owner to lose");
    svc.accounts()
        .set_user_disabled(&boss, leaver.user_id().expect("a person"), false)
        .await
        .expect("enable");
    svc.accounts().authenticate_api_key(&key, "10.0.0.1").await.expect("works again");
}
