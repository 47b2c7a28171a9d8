//! Channels: what a message looks like on Feishu/Lark (interactive card coloured by
//! severity, optional signature), Slack (incoming webhook), a generic JSON webhook and
//! email, and how it is sent. Rendering is pure; sending is one HTTP POST or one SMTP
//! transaction.

use super::dispatch::Message;
use base64::Engine;
use domain::alerting::Severity;
use domain::FieldErrors;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Slack,
    Feishu,
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] =
        [ChannelKind::Webhook, ChannelKind::Slack, ChannelKind::Feishu, ChannelKind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A channel's settings (stored as JSON; `secret` never leaves the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    /// The webhook URL; for email the SMTP server: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or plain `smtp://host:25` for a
    /// relay on the same network.
    pub url: String,
    /// Feishu: the bot's signing secret; webhook: sent as `Authorization: Bearer`.
    #[serde(default)]
    pub secret: String,
    /// Email: the sender, e.g. `Vigil <vigil@example.com>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Email: recipients, separated by commas.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
}

impl ChannelConfig {
    /// A webhook-style channel's settings.
    pub fn webhook(url: &str, secret: &str) -> ChannelConfig {
        ChannelConfig {
            url: url.trim().to_owned(),
            secret: secret.trim().to_owned(),
            from: String::new(),
            to: String::new(),
        }
    }

    pub fn validate(&self, kind: ChannelKind) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let u = self.url.trim();
        if kind == ChannelKind::Email {
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                e.add("url", "must be an smtp:// or smtps:// address (e.g. smtp://user:pass@mail.example.com:587)");
            } else if lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(u).is_err() {
                e.add("url", "is not a valid SMTP URL (smtp://user:pass@host:port)");
            }
            if let Err(m) = self.from.trim().parse::<lettre::message::Mailbox>() {
                e.add("from", format!("is not an address ({m})"));
            }
            match self.recipients() {
                Ok(r) if r.is_empty() => e.add("to", "needs at least one address"),
                Ok(r) if r.len() > 50 => e.add("to", "at most 50 addresses"),
                Ok(_) => {}
                Err(m) => e.add("to", m),
            }
        } else if !(u.starts_with("https://") || u.starts_with("http://")) {
            e.not_http_url("url");
        } else if u.len() > 2048 {
            e.too_long("url", 2048);
        }
        if self.secret.len() > 512 {
            e.too_long("secret", 512);
        }
        e.into_result()
    }

    /// The parsed `to` addresses.
    pub fn recipients(&self) -> Result<Vec<lettre::message::Mailbox>, String> {
        self.to
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse::<lettre::message::Mailbox>()
                    .map_err(|err| format!("{a:?} is not an address ({err})"))
            })
            .collect()
    }
}

/// Feishu's custom-bot signature: base64(HMAC-SHA256(key = "{timestamp}\n{secret}",
/// message = "")), timestamp in seconds (Feishu accepts it within one hour).
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .map(|m| m.finalize().into_bytes())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(mac)
}

fn feishu_template(sev: Severity, firing: bool) -> &'static str {
    if !firing {
        return "green";
    }
    match sev {
        Severity::P0 => "red",
        Severity::P1 => "orange",
        Severity::P2 => "blue",
        Severity::P3 => "grey",
    }
}

fn title(m: &Message) -> String {
    let names: Vec<&str> = {
        let mut v: Vec<&str> = m.alerts.iter().map(|a| a.rule_name.as_str()).collect();
        v.dedup();
        v
    };
    let state = if m.firing { "FIRING" } else { "RESOLVED" };
    let firing = m.alerts.iter().filter(|a| a.firing).count();
    let count = if m.firing && firing > 1 { format!(" ×{firing}") } else { String::new() };
    format!("[{}] {state}{count}: {}", m.severity.as_str(), names.join(", "))
}

fn alert_lines(
    m: &Message,
    base_url: &str,
    markdown_link: impl Fn(&str, &str) -> String,
) -> Vec<String> {
    m.alerts
        .iter()
        .map(|a| {
            let mut s = format!(
                "{} {} [{}] {}",
                if a.firing { "🔥" } else { "✅" },
                a.rule_name,
                a.severity.as_str(),
                if a.summary.is_empty() { "" } else { &a.summary }
            );
            s.push_str(&format!("\nvalue: {}", a.value));
            if let Some(t) = &a.threshold {
                s.push_str(&format!(" · threshold: {t}"));
            }
            let labels: Vec<String> = a
                .labels
                .iter()
                .filter(|(k, _)| *k != "alertname" && *k != "severity")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !labels.is_empty() {
                s.push_str(&format!("\nlabels: {}", labels.join(", ")));
            }
            if !a.runbook_url.is_empty() {
                s.push_str(&format!("\n{}", markdown_link("runbook", &a.runbook_url)));
            }
            s.push_str(&format!("\n{}", markdown_link("open in Vigil", &alert_link(base_url, a))));
            s
        })
        .collect()
}

/// Where the console shows an alert: its rule, or the firing page for an outside alert.
fn alert_link(base_url: &str, a: &crate::notify::NotifyAlert) -> String {
    match a.rule_id {
        Some(id) => format!("{base_url}/alerts/rules/{id}"),
        None => format!("{base_url}/alerts"),
    }
}

/// The JSON body for `kind` (Feishu's signature is added at send time).
pub fn render(kind: ChannelKind, m: &Message, key: &str, base_url: &str) -> Value {
    match kind {
        ChannelKind::Webhook => json!({
            "version": "vigil.v1",
            "idempotency_key": key,
            "status": if m.firing { "firing" } else { "resolved" },
            "severity": m.severity.as_str(),
            "group_key": m.group_key,
            "group_labels": m.group_labels,
            "title": title(m),
            "link": format!("{base_url}/alerts"),
            "alerts": m.alerts.iter().map(|a| json!({
                "status": if a.firing { "firing" } else { "resolved" },
                "rule": a.rule_name,
                "rule_id": a.rule_id,
                "severity": a.severity.as_str(),
                "value": a.value,
                "threshold": a.threshold,
                "summary": a.summary,
                "labels": a.labels,
                "runbook_url": a.runbook_url,
                "starts_at_ms": a.starts_at_ms,
                "ends_at_ms": a.ends_at_ms,
                "fingerprint": a.fingerprint,
                "link": alert_link(base_url, a),
            })).collect::<Vec<_>>(),
        }),
        ChannelKind::Slack => {
            let color = match (m.firing, m.severity) {
                (false, _) => "#16a34a",
                (true, Severity::P0) => "#b91c1c",
                (true, Severity::P1) => "#ea580c",
                (true, Severity::P2) => "#2563eb",
                (true, Severity::P3) => "#6b7280",
            };
            json!({
                "text": title(m),
                "attachments": [{
                    "color": color,
                    "text": alert_lines(m, base_url, |t, u| format!("<{u}|{t}>")).join("\n\n"),
                }],
            })
        }
        ChannelKind::Email => {
            let mut text = alert_lines(m, base_url, |t, u| format!("{t}: {u}")).join("\n\n");
            text.push_str(&format!("\n\n--\nVigil · {base_url}/alerts · notification {key}\n"));
            json!({"subject": title(m), "text": text})
        }
        ChannelKind::Feishu => json!({
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": true},
                "header": {
                    "title": {"tag": "plain_text", "content": title(m)},
                    "template": feishu_template(m.severity, m.firing),
                },
                "elements": [
                    {"tag": "div", "text": {"tag": "lark_md",
                        "content": alert_lines(m, base_url, |t, u| format!("[{t}]({u})")).join("\n\n")}},
                    {"tag": "action", "actions": [{
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": "Open Vigil"},
                        "type": if m.firing { "danger" } else { "default" },
                        "url": format!("{base_url}/alerts"),
                    }]},
                ],
            },
        }),
    }
}

/// A person a message is addressed to: an email channel mails them (instead of the
/// channel's list), Feishu mentions them, a webhook names them; Slack shows the name in
/// the text only (Vigil knows no Slack member ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressee {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub feishu_id: String,
    pub phone: String,
}

/// A Feishu `<at>` mention, or `None` when the id is not a plain Feishu id (`all` would
/// mention everyone in the chat; quotes or angle brackets would forge markup). Angle
/// brackets in the name are dropped.
pub fn feishu_mention(feishu_id: &str, name: &str) -> Option<String> {
    let id = feishu_id.trim();
    let plain = !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !id.eq_ignore_ascii_case("all");
    let name: String = name.chars().filter(|c| !matches!(c, '<' | '>')).collect();
    plain.then(|| format!("<at user_id=\"{id}\">{name}</at>"))
}

/// Addresses a rendered body (as [`super::text_body`] makes it) to a person.
pub fn address(kind: ChannelKind, body: &mut Value, to: &Addressee) {
    match kind {
        ChannelKind::Feishu => {
            if let (Some(m), Some(text)) = (
                feishu_mention(&to.feishu_id, &to.name),
                body.pointer("/content/text").and_then(Value::as_str),
            ) {
                body["content"]["text"] = json!(format!("{m} {text}"));
            }
        }
        ChannelKind::Email => {
            if !to.email.trim().is_empty() {
                body["to"] = json!(to.email.trim());
            }
        }
        ChannelKind::Slack => {}
        ChannelKind::Webhook => {
            body["person"] = json!({
                "id": to.user_id,
                "name": to.name,
                "email": to.email,
                "phone": to.phone,
                "feishu_id": to.feishu_id,
            });
        }
    }
}

/// Sends a rendered body. `Ok` on a 2xx answer (and, for Feishu, `code` 0 in the body);
/// the error text goes into the delivery log.
pub async fn send(
    client: &reqwest::Client,
    kind: ChannelKind,
    cfg: &ChannelConfig,
    body: &Value,
    key: &str,
    now_ms: i64,
) -> Result<(), String> {
    if kind == ChannelKind::Email {
        return send_email(cfg, body, key).await;
    }
    let mut body = body.clone();
    if kind == ChannelKind::Feishu && !cfg.secret.is_empty() {
        let ts = now_ms / 1000;
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(feishu_sign(ts, &cfg.secret));
    }
    let mut req = client.post(cfg.url.trim()).header("Idempotency-Key", key).json(&body);
    if kind == ChannelKind::Webhook && !cfg.secret.is_empty() {
        req = req.bearer_auth(&cfg.secret);
    }
    let res = req.send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            format!("cannot connect: {}", root_cause(&e))
        } else {
            root_cause(&e)
        }
    })?;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("HTTP {}: {}", status.as_u16(), clip(&text)));
    }
    if kind == ChannelKind::Feishu {
        // Feishu answers 200 with a non-zero `code` for a bad signature or payload.
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            let code = v.get("code").or_else(|| v.get("StatusCode")).and_then(Value::as_i64);
            if let Some(c) = code.filter(|c| *c != 0) {
                let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
                return Err(format!("Feishu code {c}: {msg}"));
            }
        }
    }
    Ok(())
}

/// One SMTP transaction (30 s budget). The idempotency key is the `Message-ID`, so a
/// retried delivery is recognisable as the same message.
async fn send_email(cfg: &ChannelConfig, body: &Value, key: &str) -> Result<(), String> {
    use lettre::message::{header::ContentType, Message as Mail};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let subject = body.get("subject").and_then(Value::as_str).unwrap_or("Vigil");
    let text = body.get("text").and_then(Value::as_str).unwrap_or("");
    let from = cfg.from.trim().parse().map_err(|e| format!("bad sender address: {e}"))?;
    let mut mail = Mail::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(format!("<{key}@vigil>")))
        .header(ContentType::TEXT_PLAIN);
    // A message addressed to a person goes to them alone; otherwise to the channel's list.
    let person = body.get("to").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let recipients = match person {
        Some(to) => vec![to.parse().map_err(|e| format!("{to:?} is not an address ({e})"))?],
        None => cfg.recipients()?,
    };
    for to in recipients {
        mail = mail.to(to);
    }
    let mail = mail.body(text.to_owned()).map_err(|e| format!("cannot build the email: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(cfg.url.trim())
        .map_err(|e| format!("bad SMTP URL: {e}"))?
        .timeout(Some(std::time::Duration::from_secs(30)))
        .build();
    transport.send(mail).await.map(|_| ()).map_err(|e| format!("SMTP: {}", root_cause(&e)))
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::dispatch::NotifyAlert;
    use domain::alerting::Labels;

    #[test]
    fn mentions_are_plain_ids_only() {
        assert_eq!(
            feishu_mention("ou_1a-2", "Li <b>Wei</b>").as_deref(),
            Some("<at user_id=\"ou_1a-2\">Li bWei/b</at>")
        );
        for bad in ["", "all", "All", "ou_1\" user_id=\"all", "a b", "<at>"] {
            assert_eq!(feishu_mention(bad, "x"), None, "{bad}");
        }
    }

    #[test]
    fn a_body_is_addressed_per_channel_kind() {
        let to = Addressee {
            user_id: 7,
            name: "Li Wei".into(),
            email: "li@example.com".into(),
            feishu_id: "ou_li".into(),
            phone: String::new(),
        };
        let body = |k| {
            let mut b = crate::notify::text_body(k, "Subject", "Text", "key", "reminder");
            address(k, &mut b, &to);
            b
        };
        assert_eq!(
            body(ChannelKind::Feishu)["content"]["text"],
            "<at user_id=\"ou_li\">Li Wei</at> Text"
        );
        assert_eq!(body(ChannelKind::Email)["to"], "li@example.com");
        assert_eq!(body(ChannelKind::Webhook)["person"]["id"], 7);
        assert_eq!(body(ChannelKind::Slack), json!({"text": "Text"}));
        // Without a Feishu id, the text is left as it is.
        let mut b = crate::notify::text_body(ChannelKind::Feishu, "S", "Text", "k", "r");
        address(ChannelKind::Feishu, &mut b, &Addressee::default());
        assert_eq!(b["content"]["text"], "Text");
    }

    fn msg(firing: bool) -> Message {
        let mut labels = Labels::new();
        labels.insert("service".into(), "chat".into());
        labels.insert("alertname".into(), "AI success low".into());
        Message {
            group_key: "0:alertname=\"AI success low\"".into(),
            group_created_at_ms: 0,
            seq: 1,
            channels: vec![],
            digest: false,
            firing,
            severity: Severity::P1,
            group_labels: Labels::new(),
            alerts: vec![NotifyAlert {
                fingerprint: "f1".into(),
                rule_id: Some(7),
                rule_name: "AI success low".into(),
                labels,
                severity: Severity::P1,
                firing,
                value: "86.5%".into(),
                threshold: Some("90.0%".into()),
                summary: "success 86.5%".into(),
                runbook_url: "https://wiki/ai".into(),
                starts_at_ms: 0,
                ends_at_ms: None,
                acknowledged: false,
            }],
        }
    }

    #[test]
    fn feishu_card_is_coloured_by_severity_and_carries_everything() {
        let v = render(ChannelKind::Feishu, &msg(true), "k1", "https://vigil.example");
        assert_eq!(v["msg_type"], "interactive");
        assert_eq!(v["card"]["header"]["template"], "orange");
        let title = v["card"]["header"]["title"]["content"].as_str().expect("title");
        assert_eq!(title, "[P1] FIRING: AI success low");
        let body = v["card"]["elements"][0]["text"]["content"].as_str().expect("body");
        for part in [
            "86.5%",
            "threshold: 90.0%",
            "service=chat",
            "[runbook](https://wiki/ai)",
            "https://vigil.example/alerts/rules/7",
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
        let resolved = render(ChannelKind::Feishu, &msg(false), "k2", "https://v");
        assert_eq!(resolved["card"]["header"]["template"], "green");
        assert!(resolved["card"]["header"]["title"]["content"]
            .as_str()
            .expect("t")
            .contains("RESOLVED"));
    }

    #[test]
    fn feishu_signature_matches_the_documented_scheme() {
        // HMAC-SHA256 with key "1700000000\nsecret" over an empty message, base64.
        let sig = feishu_sign(1_700_000_000, "secret");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"1700000000\nsecret").expect("key");
        mac.update(b"");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sig, want);
        assert_eq!(sig.len(), 44, "32 bytes in base64");
        assert_ne!(sig, feishu_sign(1_700_000_001, "secret"));
    }

    #[test]
    fn slack_and_webhook_bodies() {
        let s = render(ChannelKind::Slack, &msg(true), "k", "https://v");
        assert_eq!(s["text"], "[P1] FIRING: AI success low");
        assert_eq!(s["attachments"][0]["color"], "#ea580c");
        assert!(s["attachments"][0]["text"]
            .as_str()
            .expect("t")
            .contains("<https://wiki/ai|runbook>"));
        let w = render(ChannelKind::Webhook, &msg(false), "key-1", "https://v");
        assert_eq!(w["status"], "resolved");
        assert_eq!(w["idempotency_key"], "key-1");
        assert_eq!(w["alerts"][0]["value"], "86.5%");
        assert_eq!(w["alerts"][0]["labels"]["service"], "chat");
    }

    #[test]
    fn config_validation_names_fields() {
        let bad = ChannelConfig::webhook("hooks.slack.com/x", "");
        assert!(bad.validate(ChannelKind::Slack).expect_err("url").get("url").is_some());
        let mut mail = ChannelConfig::webhook("smtp://mail.example.com:587", "");
        mail.from = "Vigil <vigil@example.com>".into();
        mail.to = "ops@example.com, sre@example.com".into();
        assert_eq!(mail.validate(ChannelKind::Email), Ok(()));
        assert_eq!(mail.recipients().expect("to").len(), 2);
        mail.url = "https://mail.example.com".into();
        mail.from = "not an address".into();
        mail.to = String::new();
        let e = mail.validate(ChannelKind::Email).expect_err("email");
        for f in ["url", "from", "to"] {
            assert!(e.get(f).is_some(), "{f}: {e}");
        }
    }

    #[test]
    fn email_has_subject_text_and_key() {
        let v = render(ChannelKind::Email, &msg(true), "key-9", "https://v");
        assert_eq!(v["subject"], "[P1] FIRING: AI success low");
        let text = v["text"].as_str().expect("text");
        for part in ["86.5%", "threshold: 90.0%", "runbook: https://wiki/ai", "key-9"] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }
}
