//! Signed acknowledgement links (`/ack/{token}`) and the iCalendar feeds behind secret
//! URLs (`/ical/{token}.ics`).

use super::*;
use crate::Result;

impl crate::Oncall<'_> {
    async fn link_secret(&self) -> Result<Vec<u8>> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        let secret = self.store.setting_or_init("oncall.ack_link_secret", &fresh).await?;
        Ok(secret.into_bytes())
    }

    fn sign(secret: &[u8], msg: &str) -> String {
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map(|mut m| {
                m.update(msg.as_bytes());
                m.finalize().into_bytes()
            })
            .unwrap_or_default();
        hex::encode(&mac[..16])
    }

    /// The signed link that acknowledges run `id` as `user_id` without signing in. It
    /// expires [`ACK_LINK_TTL_MS`] after it is made (every page of a run gets a fresh one).
    pub async fn ack_url(&self, id: i64, user_id: i64) -> Result<String> {
        let expires_s = (self.now_ms() + ACK_LINK_TTL_MS) / 1000;
        let msg = format!("{id}.{user_id}.{expires_s}");
        let sig = Self::sign(&self.link_secret().await?, &format!("ack.{msg}"));
        Ok(format!("{}/ack/{msg}.{sig}", self.public_url))
    }

    /// What a signed link points at, checked: `NotFound` for a bad or forged token, `Gone`
    /// for an expired link or one whose person is disabled.
    async fn check_ack_token(&self, token: &str) -> Result<(Escalation, store::User)> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [id, user, expires_s, sig] = parts[..] else {
            return Err(ServiceError::NotFound);
        };
        let (Ok(id), Ok(user), Ok(expires_s)) =
            (id.parse::<i64>(), user.parse::<i64>(), expires_s.parse::<i64>())
        else {
            return Err(ServiceError::NotFound);
        };
        let want = Self::sign(&self.link_secret().await?, &format!("ack.{id}.{user}.{expires_s}"));
        if !crate::accounts::constant_time_eq(want.as_bytes(), sig.as_bytes()) {
            return Err(ServiceError::NotFound);
        }
        if self.now_ms() / 1000 > expires_s {
            return Err(ServiceError::Gone(
                "this acknowledgement link has expired; acknowledge in the console".into(),
            ));
        }
        let person = self.store.user_by_id(user).await?;
        if !person.is_active() {
            return Err(ServiceError::Gone("the account this link was sent to is disabled".into()));
        }
        Ok((self.store.escalation(id).await?, person))
    }

    /// The run a signed link acknowledges, for its confirmation page.
    pub async fn ack_link_preview(&self, token: &str) -> Result<AckOutcome> {
        let (e, _) = self.check_ack_token(token).await?;
        Ok(AckOutcome {
            title: format!("[{}] {}", e.severity, e.title),
            acknowledged_now: false,
            acked_by: e.acked_by.clone().or(e.resolved_at_ms.map(|_| "recovered".into())),
        })
    }

    /// Acknowledges through a signed link (the link is the credential; audited as the
    /// person it was sent to).
    pub async fn ack_by_link(&self, token: &str) -> Result<AckOutcome> {
        let (e, u) = self.check_ack_token(token).await?;
        let ctx = AuditCtx {
            user_id: Some(u.id),
            actor: format!("{} (signed link)", u.email),
            ip: String::new(),
            at_ms: self.now_ms(),
        };
        let now_acked = self.store.ack_escalation(e.id, &ctx).await?;
        let after = self.store.escalation(e.id).await?;
        Ok(AckOutcome {
            title: format!("[{}] {}", e.severity, e.title),
            acknowledged_now: now_acked,
            acked_by: after.acked_by.or(after.resolved_at_ms.map(|_| "recovered".into())),
        })
    }

    // ---- calendar feeds ------------------------------------------------------------------

    /// Makes a new secret URL for a schedule's feed (editor) or a person's (themselves or
    /// an admin); the previous URL stops working. The URL is shown once.
    pub async fn rotate_feed(
        &self,
        actor: &Caller,
        kind: FeedKind,
        subject_id: i64,
    ) -> Result<String> {
        match kind {
            FeedKind::Schedule => {
                actor.require(Permission::EditOncall)?;
                self.store.schedule(subject_id).await?;
            }
            FeedKind::User => Self::require_self_or_admin(actor, subject_id)?,
        }
        let token = hex::encode(rand::random::<[u8; 24]>());
        self.store
            .rotate_feed(kind, subject_id, &sha256_hex(&token), &self.audit_ctx(actor))
            .await?;
        Ok(format!("{}/ical/{token}.ics", self.public_url))
    }

    /// The iCalendar text behind a secret token: a week back and four weeks ahead, whole
    /// UTC days. `NotFound` for an unknown token.
    pub async fn calendar_feed(&self, token: &str) -> Result<String> {
        let token = token.trim().trim_end_matches(".ics");
        let Some((kind, id)) = self.store.feed_by_hash(&sha256_hex(token)).await? else {
            return Err(ServiceError::NotFound);
        };
        if kind == FeedKind::User && !self.store.user_by_id(id).await?.is_active() {
            return Err(ServiceError::Gone("the account of this calendar is disabled".into()));
        }
        let now = self.now_ms();
        let from = now.div_euclid(DAY_MS) * DAY_MS - 7 * DAY_MS;
        let to = from + 36 * DAY_MS;
        let host = self
            .public_url
            .split("://")
            .nth(1)
            .unwrap_or("vigil")
            .split(['/', ':'])
            .next()
            .unwrap_or("vigil")
            .to_owned();
        let people = self.incidents().people_directory().await?;
        let name_of = |id: i64| {
            people
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| format!("user {id}"), |p| p.name.clone())
        };
        let (name, events) = match kind {
            FeedKind::Schedule => {
                let s = self.store.schedule(id).await?;
                let ovs = self.store.overrides(Some(id), from, to).await?;
                let events: Vec<ical::Event> = final_of(&s, &ovs, from, to)
                    .iter()
                    .filter_map(|x| {
                        let u = x.user_id?;
                        Some(ical::Event {
                            uid: ical::shift_uid(s.id, x, &host),
                            start_ms: x.start_ms,
                            end_ms: x.end_ms,
                            summary: format!("On call: {} ({})", name_of(u), s.spec.name),
                            description: format!("{}/oncall/schedules/{}", self.public_url, s.id),
                        })
                    })
                    .collect();
                (format!("{} on-call", s.spec.name), events)
            }
            FeedKind::User => {
                let events: Vec<ical::Event> = self
                    .shifts_of(id, from, to)
                    .await?
                    .iter()
                    .map(|m| ical::Event {
                        uid: format!(
                            "me-{id}-{}-{}-{}@{host}",
                            m.schedule_id, m.start_ms, m.end_ms
                        ),
                        start_ms: m.start_ms,
                        end_ms: m.end_ms,
                        summary: format!("On call: {}", m.schedule_name),
                        description: format!(
                            "{}/oncall/schedules/{}",
                            self.public_url, m.schedule_id
                        ),
                    })
                    .collect();
                (format!("{} on-call shifts", name_of(id)), events)
            }
        };
        Ok(ical::calendar(&name, &events, now))
    }
}
