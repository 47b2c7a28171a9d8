//! Escalation policies: ordered steps, each paging a schedule's current on-call and/or
//! named users, then waiting its delay for an acknowledgement before the next step; the
//! whole list runs `1 + repeat` times. Timing is a pure function of when the escalation
//! started and how many steps already fired, so the engine loop (or a test's fake clock)
//! only asks "what is due now".

use super::MINUTE_MS;
use crate::errors::FieldErrors;
use serde::{Deserialize, Serialize};

/// Whom a step pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Target {
    /// Whoever the schedule has on call when the step fires.
    Schedule(i64),
    User(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub targets: Vec<Target>,
    /// Minutes to wait for an acknowledgement before the next step (1–1440).
    pub delay_min: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub steps: Vec<Step>,
    /// How many more times the steps run after the first pass (0–9).
    #[serde(default)]
    pub repeat: u32,
    /// Notification channels pages go through: Feishu/Slack for chat pages, email channels'
    /// SMTP servers for email pages, webhooks (an SMS or voice gateway) for phone pages.
    #[serde(default)]
    pub channel_ids: Vec<i64>,
}

/// One step to fire: pass `round` (0-based) and `step` index, due at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueStep {
    /// Position in the whole run (`round * steps + step`).
    pub seq: u32,
    pub round: u32,
    pub step: usize,
    pub at_ms: i64,
}

impl PolicySpec {
    /// Field names: `name`, `steps`, `steps.N.targets`, `steps.N.delay_min`, `repeat`.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            e.required("name");
        } else if name.chars().count() > 100 {
            e.too_long("name", 100);
        }
        if self.description.chars().count() > 2000 {
            e.too_long("description", 2000);
        }
        if self.steps.is_empty() {
            e.add("steps", "needs at least one step");
        } else if self.steps.len() > 20 {
            e.add("steps", "at most 20 steps");
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.targets.is_empty() {
                e.add(&format!("steps.{i}.targets"), "pick a schedule or a person to page");
            }
            if !(1..=1440).contains(&s.delay_min) {
                e.add(&format!("steps.{i}.delay_min"), "must be between 1 and 1440 minutes");
            }
        }
        if self.repeat > 9 {
            e.add("repeat", "must be between 0 and 9");
        }
        e.into_result()
    }

    /// How many steps fire in a full run.
    /// The policy for paging one person or schedule ("page more" from an incident): one
    /// step of `target` with the first step's wait and the policy's repeats and channels.
    pub fn for_one(&self, target: Target) -> PolicySpec {
        let delay_min = self.steps.first().map_or(5, |s| s.delay_min);
        PolicySpec { steps: vec![Step { targets: vec![target], delay_min }], ..self.clone() }
    }

    pub fn total_steps(&self) -> u32 {
        self.steps.len() as u32 * (self.repeat + 1)
    }

    /// When step number `seq` of the run fires, relative to the start: the sum of the delays
    /// of every step before it. `None` past the end of the run.
    pub fn offset_ms(&self, seq: u32) -> Option<i64> {
        if seq >= self.total_steps() || self.steps.is_empty() {
            return None;
        }
        let n = self.steps.len() as u32;
        let per_round: i64 = self.steps.iter().map(|s| i64::from(s.delay_min)).sum();
        let round = seq / n;
        let within: i64 =
            self.steps[..(seq % n) as usize].iter().map(|s| i64::from(s.delay_min)).sum();
        Some((i64::from(round) * per_round + within) * MINUTE_MS)
    }

    /// The steps due at `now` for a run started at `started_ms` of which `fired` steps have
    /// fired already, in order. An acknowledged run has nothing due (the caller stops asking).
    pub fn due(&self, started_ms: i64, fired: u32, now: i64) -> Vec<DueStep> {
        let n = self.steps.len() as u32;
        let mut out = Vec::new();
        let mut seq = fired;
        while let Some(off) = self.offset_ms(seq) {
            let at = started_ms + off;
            if at > now {
                break;
            }
            out.push(DueStep { seq, round: seq / n, step: (seq % n) as usize, at_ms: at });
            seq += 1;
        }
        out
    }

    /// When the next step after `fired` fires (`None`: the run is exhausted).
    pub fn next_at(&self, started_ms: i64, fired: u32) -> Option<i64> {
        self.offset_ms(fired).map(|o| started_ms + o)
    }
}

/// How a person wants to be paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// To the person's address through the policy's email channels.
    Email,
    /// A message naming (and on Feishu, @-mentioning) the person in the policy's Feishu and
    /// Slack channels.
    Chat,
    /// The person's phone number to the policy's webhook channels (an SMS/voice gateway).
    Phone,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Email, Method::Chat, Method::Phone];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Email => "email",
            Method::Chat => "chat",
            Method::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A personal notification rule: page by `method`, `delay_min` minutes after being paged
/// (unless acknowledged by then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRule {
    pub method: Method,
    pub delay_min: u32,
}

/// The rules used for someone who has set none: chat and email at once.
pub fn default_rules() -> Vec<NotifyRule> {
    vec![
        NotifyRule { method: Method::Chat, delay_min: 0 },
        NotifyRule { method: Method::Email, delay_min: 0 },
    ]
}

/// Field names: `rules`, `phone`, `feishu_id`.
pub fn validate_contact(
    phone: &str,
    feishu_id: &str,
    rules: &[NotifyRule],
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    let p = phone.trim();
    if !p.is_empty()
        && (p.len() > 32
            || p.chars().filter(char::is_ascii_digit).count() < 5
            || !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)))
    {
        e.add(
            "phone",
            "must be a phone number of digits, spaces, +, - and parentheses (e.g. +86 138 0000 0000)",
        );
    }
    let f = feishu_id.trim();
    if f.len() > 128 {
        e.too_long("feishu_id", 128);
    } else if !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || f.eq_ignore_ascii_case("all")
    {
        // `all` would mention everyone in the chat; quotes would forge markup.
        e.add("feishu_id", "a Feishu user or open id: letters, digits, _ and - (e.g. ou_5a3c…)");
    }
    if rules.len() > 10 {
        e.add("rules", "at most 10 rules");
    }
    if rules.iter().any(|r| r.delay_min > 1440) {
        e.add("rules", "a delay is at most 1440 minutes");
    }
    if rules.iter().any(|r| r.method == Method::Phone) && p.is_empty() {
        e.add("phone", "is needed for a phone rule");
    }
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(delays: &[u32], repeat: u32) -> PolicySpec {
        PolicySpec {
            name: "P0".into(),
            description: String::new(),
            steps: delays
                .iter()
                .enumerate()
                .map(|(i, d)| Step { targets: vec![Target::User(i as i64 + 1)], delay_min: *d })
                .collect(),
            repeat,
            channel_ids: vec![],
        }
    }

    #[test]
    fn steps_fire_after_the_previous_delays_and_repeat() {
        let p = policy(&[5, 10], 1);
        let m = MINUTE_MS;
        let table =
            [(0, Some(0)), (1, Some(5 * m)), (2, Some(15 * m)), (3, Some(20 * m)), (4, None)];
        for (seq, want) in table {
            assert_eq!(p.offset_ms(seq), want, "seq {seq}");
        }
        assert_eq!(p.total_steps(), 4);
    }

    #[test]
    fn due_lists_what_is_due_now_in_order() {
        let p = policy(&[5, 10], 0);
        let t0 = 1_000_000;
        let m = MINUTE_MS;
        let seqs =
            |fired, now| -> Vec<u32> { p.due(t0, fired, now).iter().map(|d| d.seq).collect() };
        assert_eq!(seqs(0, t0), vec![0]);
        assert_eq!(seqs(1, t0 + 4 * m), Vec::<u32>::new());
        assert_eq!(seqs(1, t0 + 5 * m), vec![1]);
        // A late engine catches up with everything due, in order.
        assert_eq!(seqs(0, t0 + 60 * m), vec![0, 1]);
        assert_eq!(seqs(2, t0 + 60 * m), Vec::<u32>::new());
        assert_eq!(p.next_at(t0, 1), Some(t0 + 5 * m));
        assert_eq!(p.next_at(t0, 2), None);
        let d = p.due(t0, 1, t0 + 5 * m)[0];
        assert_eq!((d.round, d.step, d.at_ms), (0, 1, t0 + 5 * m));
    }

    #[test]
    fn validation_names_the_fields() {
        let mut p = policy(&[0], 12);
        p.name = " ".into();
        p.steps[0].targets.clear();
        let e = p.validate().expect_err("invalid");
        for f in ["name", "steps.0.targets", "steps.0.delay_min", "repeat"] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
        assert!(policy(&[5], 2).validate().is_ok());
        let e = PolicySpec { steps: vec![], ..policy(&[], 0) }.validate().expect_err("no steps");
        assert!(e.get("steps").is_some());
    }

    #[test]
    fn contact_rules_need_a_phone_for_phone_pages() {
        let phone = [NotifyRule { method: Method::Phone, delay_min: 5 }];
        assert!(validate_contact("", "", &phone).expect_err("no phone").get("phone").is_some());
        assert!(validate_contact("+86 138 0000 0000", "ou_1", &phone).is_ok());
        assert!(validate_contact("call me", "", &[])
            .expect_err("bad phone")
            .get("phone")
            .is_some());
    }

    #[test]
    fn paging_one_target_keeps_the_channels_repeats_and_first_wait() {
        let p = PolicySpec {
            name: "P".into(),
            description: String::new(),
            steps: vec![
                Step { targets: vec![Target::Schedule(1)], delay_min: 7 },
                Step { targets: vec![Target::User(2)], delay_min: 9 },
            ],
            repeat: 2,
            channel_ids: vec![4],
        };
        let one = p.for_one(Target::User(3));
        assert_eq!(one.steps, vec![Step { targets: vec![Target::User(3)], delay_min: 7 }]);
        assert_eq!((one.repeat, one.channel_ids.clone()), (2, vec![4]));
        assert_eq!(one.total_steps(), 3, "one step, repeated twice");
    }

    #[test]
    fn a_feishu_id_cannot_mention_everyone_or_carry_markup() {
        for bad in ["all", "ALL", "ou_1\" user_id=\"all", "<at>", "ou 1"] {
            let e = validate_contact("", bad, &[]).expect_err(bad);
            assert!(e.get("feishu_id").is_some(), "{bad}");
        }
        assert!(validate_contact("", "ou_7d8a6e6df76-21556ce", &[]).is_ok());
    }
}
