//! The email channel against an in-process SMTP sink (a minimal SMTP server speaking
//! EHLO/MAIL/RCPT/DATA/QUIT): the test message and a real firing notification arrive as
//! mail with the subject, recipients, body and the idempotency key as Message-ID; a sink
//! that refuses the mail leaves the delivery retrying with the server's answer logged.

mod common;

use domain::alerting::{CompareOp, KpiMetric, RuleSpec, Severity};
use serde_json::json;
use services::notify::channels::ChannelConfig;
use services::notify::policy::Policy;
use services::{AuthSettings, FakeClock, ServiceError, Services};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const NOW: i64 = 1_795_599_312_000;
const MIN: i64 = 60_000;

/// One received mail: envelope recipients and the DATA text.
#[derive(Debug, Clone)]
struct Mail {
    rcpt: Vec<String>,
    data: String,
}

#[derive(Clone, Default)]
struct Sink {
    mails: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<AtomicBool>,
}

async fn session(sock: tokio::net::TcpStream, sink: Sink) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut rcpt = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            w.write_all(b"250-sink.test\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            if sink.refuse.load(Ordering::SeqCst) {
                w.write_all(b"554 5.7.1 relay refused by policy\r\n").await?;
                continue;
            }
            w.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
            }
            sink.mails.lock().expect("lock").push(Mail { rcpt: rcpt.clone(), data });
            w.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            break;
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else {
            w.write_all(b"502 not implemented\r\n").await?;
        }
    }
    Ok(())
}

async fn sink() -> (Sink, String) {
    let s = Sink::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s2 = s.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let s = s2.clone();
            tokio::spawn(async move {
                let _ = session(sock, s).await;
            });
        }
    });
    (s, format!("smtp://{addr}"))
}

fn email_config(url: &str) -> ChannelConfig {
    let mut c = ChannelConfig::webhook(url, "");
    c.from = "Vigil <vigil@example.com>".into();
    c.to = "oncall@example.com, sre@example.com".into();
    c
}

#[tokio::test]
async fn email_channel_delivers_test_and_alert_mail() {
    let (store, _dir) = store::testing::sqlite_store("vigil-email").await;
    let clock = FakeClock::at(NOW);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_public_url("https://vigil.example");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let ops = common::signed_in(&svc, "ops@example.com", "editor").await;
    let (rx, url) = sink().await;

    // Field errors name the inputs; editors cannot add channels.
    let mut bad = email_config("https://mail.example.com");
    bad.to = "nobody".into();
    match svc.notify().create_channel(&admin, "mail", "email", bad, true).await {
        Err(ServiceError::Invalid(e)) => {
            assert!(e.get("url").is_some() && e.get("to").is_some(), "{e}")
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    assert!(matches!(
        svc.notify().create_channel(&ops, "mail", "email", email_config(&url), true).await,
        Err(ServiceError::Forbidden(_))
    ));
    let ch = svc
        .notify()
        .create_channel(&admin, "mail", "email", email_config(&url), true)
        .await
        .expect("channel");
    // The list shows the server and recipients, never credentials.
    assert!(ch.url_host.contains("127.0.0.1") && ch.url_host.contains("oncall@example.com"));

    // "Send test".
    svc.notify().test_channel(&ops, ch.id).await.expect("test mail");
    {
        let mails = rx.mails.lock().expect("lock");
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].rcpt, vec!["oncall@example.com", "sre@example.com"]);
        assert!(mails[0].data.contains("Subject: [P3] FIRING: Vigil test notification"));
    }

    // A real alert through the outbox.
    let mut p = Policy::default();
    p.route.group_wait_ms = Some(0);
    svc.notify().set_notification_policy(&ops, &p, 0).await.expect("policy");
    let events: Vec<_> = (0..10)
        .map(|i| json!({"event_id": format!("e{i}"), "event_name": "ai_dialog_end", "user_id": "u",
            "timestamp": NOW - 5 * MIN, "properties": {"dialog_id": format!("d{i}"), "success": i < 6,
            "response_ms": 500, "answer_source": "generated"}}))
        .collect();
    common::ingest(&svc, &events).await;
    let mut spec = RuleSpec::kpi_threshold(
        "AI success low",
        Severity::P1,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        0.9,
    );
    spec.runbook_url = "https://wiki.example/ai".into();
    svc.alerting().create_rule(&ops, spec).await.expect("rule");
    // Refused first: the delivery stays queued with the server's answer.
    rx.refuse.store(true, Ordering::SeqCst);
    svc.alerting().evaluate_due_rules().await.expect("eval");
    svc.notify().dispatch_notifications().await.expect("dispatch");
    svc.notify().deliver_notifications().await.expect("deliver");
    let log = svc.notify().delivery_log(&ops, None).await.expect("log");
    let d = log.iter().find(|d| d.kind == "firing").expect("firing delivery");
    assert_ne!(d.status, "sent");
    let err = d.last_error.clone().unwrap_or_default();
    assert!(err.contains("relay refused by policy"), "{err}");
    // Accepted at the retry (30 s later): one mail, Message-ID = idempotency key.
    rx.refuse.store(false, Ordering::SeqCst);
    clock.advance_ms(MIN);
    svc.notify().deliver_notifications().await.expect("deliver again");
    let mails = rx.mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let m = &mails[1].data;
    for part in [
        "Subject: [P1] FIRING: AI success low",
        "runbook: https://wiki.example/ai",
        "https://vigil.example/alerts/rules/",
        &format!("Message-ID: <{}@vigil>", d.idempotency_key),
    ] {
        assert!(m.contains(part), "{part} in {m}");
    }
    let log = svc.notify().delivery_log(&ops, None).await.expect("log");
    assert_eq!(log.iter().find(|x| x.id == d.id).map(|x| x.status.as_str()), Some("sent"));
}

/// A reminder addressed to a person (here: an overdue action item) is mailed to its
/// owner alone, not to the channel's list.
#[tokio::test]
async fn an_overdue_action_item_is_mailed_to_its_owner() {
    use domain::incident::postmortem::{ActionKind, ActionSpec, ActionStatus};
    // 2026-11-25T10:00:00Z, a Wednesday: the action items' slot.
    const WED_10: i64 = 1_795_564_800_000 + 10 * 3_600_000;
    let (store, _dir) = store::testing::sqlite_store("vigil-email-owner").await;
    let clock = FakeClock::at(WED_10 - 3_600_000);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_public_url("https://vigil.example");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let owner = common::signed_in(&svc, "owner@example.com", "responder").await;
    let (rx, url) = sink().await;
    svc.notify()
        .create_channel(&admin, "email", "email", email_config(&url), true)
        .await
        .expect("channel");
    let fields = domain::incident::IncidentFields {
        title: "Checkout answers 502".into(),
        severity: Severity::P2,
        ..Default::default()
    };
    let declare = services::incidents::Declare {
        fields,
        commander_id: owner.user_id(),
        ..Default::default()
    };
    let inc = svc.incidents().declare_incident(&owner, declare).await.expect("declare");
    let item = ActionSpec {
        kind: ActionKind::Immediate,
        description: "Alert on gateway 502s".into(),
        owner_user_id: owner.user_id(),
        due_date: "2026-11-24".into(),
        status: ActionStatus::Todo,
    };
    svc.incidents().add_action_item(&owner, &inc.code, &item).await.expect("item");
    clock.set_ms(WED_10);
    let r = svc.notify().run_schedule().await.expect("schedule");
    assert_eq!(r.action_items, 1, "{r:?}");
    svc.notify().deliver_notifications().await.expect("deliver");
    let mails = rx.mails.lock().expect("lock").clone();
    let reminder = mails
        .iter()
        .find(|m| m.data.contains("overdue action item"))
        .unwrap_or_else(|| panic!("no reminder mail in {mails:#?}"));
    assert_eq!(reminder.rcpt, vec!["owner@example.com"]);
    // (quoted-printable: the bullet and dash are encoded)
    assert!(reminder.data.contains("Alert on gateway 502s"), "{}", reminder.data);
    assert!(reminder.data.contains("https://vigil.example/action-items"), "{}", reminder.data);
}
