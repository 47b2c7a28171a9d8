//! The demo on-call setup: a small team, the seeds' roster as "Primary on-call" with a
//! "Weekend backup" schedule, contact details, and a P0/P1 paging policy.

use crate::Result;
use domain::oncall::escalation::{Method, NotifyRule, PolicySpec, Step, Target};
use domain::oncall::{self as oc, Layer, Rotation, RotationKind, ScheduleSpec, Window, DAY_MS};
use domain::{Locale, Role};
use store::oncall::Contact;
use store::{AuditCtx, NewUser};

/// (email, name, role): product/dev, night ops, and who also covers weekends.
const TEAM: [(&str, &str, Role); 7] = [
    ("lin.xiao@demo.vigil", "林晓 Lin Xiao", Role::Responder),
    ("wang.lei@demo.vigil", "王磊 Wang Lei", Role::Responder),
    ("chen.jing@demo.vigil", "陈静 Chen Jing", Role::Responder),
    ("zhao.min@demo.vigil", "赵敏 Zhao Min", Role::Responder),
    ("zhou.ning@demo.vigil", "周宁 Zhou Ning", Role::Responder),
    ("wu.hao@demo.vigil", "吴昊 Wu Hao", Role::Responder),
    ("sun.li@demo.vigil", "孙丽 Sun Li (ops lead)", Role::Editor),
];

impl crate::Oncall<'_> {
    /// Adds the demo team, schedules and policy unless a schedule exists; returns how many
    /// schedules it added. Demo accounts cannot sign in (no password) until an admin sets one.
    pub async fn load_demo_oncall(&self) -> Result<usize> {
        if !self.store.schedules().await?.is_empty() {
            return Ok(0);
        }
        let ctx = AuditCtx::system("demo", self.now_ms());
        let existing = self.store.list_users().await?;
        let mut ids = Vec::new();
        for (i, (email, name, role)) in TEAM.iter().enumerate() {
            let id = match existing.iter().find(|u| u.email == *email) {
                Some(u) => u.id,
                None => {
                    self.store
                        .create_user(
                            &NewUser {
                                email: (*email).into(),
                                name: (*name).into(),
                                role: *role,
                                // Not a PHC string: no password verifies against it.
                                password_hash: "!demo-account-without-password".into(),
                                locale: Locale::ZhCn,
                                time_zone: oc::DEFAULT_TIME_ZONE.into(),
                            },
                            &ctx,
                        )
                        .await?
                        .id
                }
            };
            self.store
                .save_contact(
                    &Contact {
                        user_id: id,
                        phone: format!("+86 138 0000 {:04}", 1001 + i),
                        feishu_id: format!(
                            "ou_demo_{}",
                            email.split(['.', '@']).next().unwrap_or("x")
                        ),
                        rules: vec![
                            NotifyRule { method: Method::Chat, delay_min: 0 },
                            NotifyRule { method: Method::Email, delay_min: 0 },
                            NotifyRule { method: Method::Phone, delay_min: 5 },
                        ],
                    },
                    &ctx,
                )
                .await?;
            ids.push(id);
        }
        // Rotations started on the Monday five weeks ago (Shanghai).
        let tz = crate::oncall::zone(oc::DEFAULT_TIME_ZONE)?;
        let local_today = oc::Zone::to_local(&tz, self.now_ms()).div_euclid(DAY_MS);
        let monday = local_today - i64::from(oc::weekday(local_today)) - 35;
        let monday = oc::format_local(monday * DAY_MS)[..10].to_owned();
        let (day, night, weekend) = (
            vec![ids[0], ids[1], ids[2], ids[3]],
            vec![ids[4], ids[5]],
            vec![ids[1], ids[2], ids[5]],
        );
        let primary = self
            .store
            .create_schedule(
                &oc::seed_roster("Primary on-call", &monday, day, night, weekend),
                &ctx,
            )
            .await?;
        let saturday = oc::format_local(oc::parse_local(&monday).unwrap_or(0) + 5 * DAY_MS);
        let backup = self
            .store
            .create_schedule(
                &ScheduleSpec {
                    name: "Weekend backup".into(),
                    description:
                        "The backup phone for weekends: one of the weekend rota, a week behind"
                            .into(),
                    time_zone: oc::DEFAULT_TIME_ZONE.into(),
                    layers: vec![Layer {
                        name: "Weekend backup".into(),
                        participants: vec![ids[5], ids[1], ids[2]],
                        rotation: Rotation {
                            kind: RotationKind::Weekly,
                            every: 1,
                            start: format!("{}T09:00", &saturday[..10]),
                        },
                        restrictions: vec![Window {
                            days: vec![5, 6],
                            start: "09:00".into(),
                            end: "09:00".into(),
                        }],
                    }],
                },
                &ctx,
            )
            .await?;
        self.store
            .create_escalation_policy(
                &PolicySpec {
                    name: "P0/P1 paging".into(),
                    description: "Primary on-call first; after 5 minutes without an acknowledgement the weekend backup and the ops lead".into(),
                    steps: vec![
                        Step {
                            targets: vec![Target::Schedule(primary.id)],
                            delay_min: 5,
                        },
                        Step {
                            targets: vec![Target::Schedule(backup.id), Target::User(ids[6])],
                            delay_min: 10,
                        },
                    ],
                    repeat: 2,
                    channel_ids: vec![],
                },
                &ctx,
            )
            .await?;
        Ok(2)
    }
}
