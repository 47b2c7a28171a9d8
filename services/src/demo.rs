//! A realistic, deterministic demo data set: 90 days of product events for ~50 000 users
//! (≈ 3 M events at scale 1.0) with weekly seasonality, a growth trend, a visible incident
//! dip, a feature launch, AI dialogs, feedback, NPS and subscriptions. Same seed, same data.

use crate::events::{day_start_ms, local_day, ValidEvent};
use crate::Result;
use crate::Services;
use domain::events::Platform;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// What `vigil demo` loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub users: u64,
    pub events: u64,
    pub days: i32,
}

/// Demo shape.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub days: i32,
    /// 1.0 ≈ 50 000 users and 3 M events.
    pub scale: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { seed: 42, days: 90, scale: 1.0 }
    }
}

struct DemoUser {
    id: u32,
    registered_day: Option<i32>,
    engagement: f64,
    subscribed_until: Option<i32>,
    plan: &'static Plan,
}

/// A plan the demo sells: name, price, currency, billing period and its length in days.
struct Plan {
    name: &'static str,
    amount: f64,
    currency: &'static str,
    period: &'static str,
    days: i32,
}

/// Most pay monthly in CNY; some teams, some yearly, some abroad in USD — so the business
/// tab shows two currencies and a yearly plan counted as a twelfth of MRR.
const PLANS: [Plan; 4] = [
    Plan { name: "pro", amount: 99.0, currency: "CNY", period: "month", days: 30 },
    Plan { name: "team", amount: 199.0, currency: "CNY", period: "month", days: 30 },
    Plan { name: "pro", amount: 999.0, currency: "CNY", period: "year", days: 365 },
    Plan { name: "pro", amount: 14.0, currency: "USD", period: "month", days: 30 },
];

fn pick_plan(rng: &mut impl Rng) -> &'static Plan {
    &PLANS[match rng.gen_range(0..100) {
        0..=64 => 0,
        65..=79 => 1,
        80..=89 => 2,
        _ => 3,
    }]
}

fn plan_json(p: &Plan) -> Value {
    json!({"plan": p.name, "amount": p.amount, "currency": p.currency, "period": p.period})
}

const BATCH: usize = 20_000;

impl Services {
    /// Loads the demo set ending today. Progress is reported through `progress(day, of)`.
    pub async fn load_demo(
        &self,
        opts: &DemoOptions,
        mut progress: impl FnMut(i32, i32),
    ) -> Result<DemoReport> {
        let tz = self.events().reporting_tz();
        let today = local_day(self.now_ms(), tz);
        let first_day = today - opts.days + 1;
        let incident_day = today - opts.days / 3; // a visible dip a month ago
        let launch_day = today - 20; // `feature_open_dark_mode` ships
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let mut users: Vec<DemoUser> = Vec::new();
        let mut next_id = 0u32;
        // Users who registered before the window.
        for _ in 0..((12_000.0 * opts.scale) as usize) {
            users.push(DemoUser {
                id: next_id,
                registered_day: None,
                engagement: rng.gen_range(0.2..1.6_f64).powi(2),
                subscribed_until: None,
                plan: &PLANS[0],
            });
            next_id += 1;
        }
        let mut batch: Vec<ValidEvent> = Vec::with_capacity(BATCH);
        let mut report = DemoReport { days: opts.days, ..DemoReport::default() };
        let now = self.now_ms();
        // Some earlier users already subscribe when the window opens (churn needs a base).
        for u in users.iter_mut() {
            if rng.gen_bool(0.06) {
                u.plan = pick_plan(&mut rng);
                let started = first_day - rng.gen_range(1..30.min(u.plan.days));
                u.subscribed_until = Some(started + u.plan.days);
                let Value::Object(properties) = plan_json(u.plan) else { unreachable!() };
                batch.push(ValidEvent {
                    event_id: format!("demo-{}-pre-{}", opts.seed, u.id),
                    event_name: "subscription_start".into(),
                    user_id: format!("demo-user-{}", u.id),
                    session_id: None,
                    ts_ms: day_start_ms(started, tz) + rng.gen_range(9..20) * 3_600_000,
                    platform: Some(Platform::Web),
                    version: Some("3.4.1".into()),
                    properties_json: Some(Value::Object(properties.clone()).to_string()),
                    properties,
                });
            }
        }
        for day in first_day..=today {
            let age = f64::from(day - first_day) / f64::from(opts.days.max(1));
            // Monday = 0 … Sunday = 6 (day 0 was a Thursday).
            let weekday = (day + 3).rem_euclid(7);
            let season = match weekday {
                5 => 0.78,
                6 => 0.72,
                _ => 1.0,
            };
            let dip = if day == incident_day { 0.45 } else { 1.0 };
            let start = day_start_ms(day, tz);
            let new_users =
                (330.0 * opts.scale * (1.0 + 0.6 * age) * season * rng.gen_range(0.9..1.1))
                    as usize;
            let ev =
                |rng: &mut StdRng, user: u32, name: &str, props: Value| -> Option<ValidEvent> {
                    // Afternoon-heavy hours of the local day.
                    let hour = (rng.gen_range(0.0..1.0_f64).powf(0.8) * 15.0
                        + 8.0
                        + rng.gen_range(-2.0..1.0))
                    .clamp(0.0, 23.9);
                    let ts = start + (hour * 3_600_000.0) as i64 + rng.gen_range(0..60_000);
                    if ts > now {
                        return None;
                    }
                    let properties = match props {
                        Value::Object(m) if !m.is_empty() => m,
                        _ => Map::new(),
                    };
                    Some(ValidEvent {
                        event_id: format!(
                            "demo-{}-{}-{}",
                            opts.seed,
                            day - first_day,
                            rng.gen::<u64>()
                        ),
                        event_name: name.to_owned(),
                        user_id: format!("demo-user-{user}"),
                        session_id: None,
                        ts_ms: ts,
                        platform: Some(match user % 4 {
                            0 => Platform::Mobile,
                            1 => Platform::Miniprogram,
                            _ => Platform::Web,
                        }),
                        version: Some("3.4.1".into()),
                        properties_json: (!properties.is_empty())
                            .then(|| Value::Object(properties.clone()).to_string()),
                        properties,
                    })
                };
            for _ in 0..new_users {
                let id = next_id;
                next_id += 1;
                users.push(DemoUser {
                    id,
                    registered_day: Some(day),
                    engagement: rng.gen_range(0.15..1.5_f64).powi(2),
                    subscribed_until: None,
                    plan: &PLANS[0],
                });
                let source = ["ad", "organic", "referral"][rng.gen_range(0..3)];
                batch.extend(ev(&mut rng, id, "user_register_success", json!({"source": source})));
            }
            for u in users.iter_mut() {
                let days_since = u.registered_day.map_or(60, |r| day - r);
                let fresh = if days_since == 0 {
                    1.0
                } else {
                    0.32 + 0.68 * (-f64::from(days_since) / 9.0).exp()
                };
                let p = (0.7 * u.engagement * fresh * season * dip).min(0.92);
                // Subscriptions renew or lapse on their day even when the user is inactive.
                if let Some(until) = u.subscribed_until {
                    if until == day {
                        if rng.gen_bool(0.84) {
                            u.subscribed_until = Some(day + u.plan.days);
                            batch.extend(ev(
                                &mut rng,
                                u.id,
                                "subscription_renew",
                                plan_json(u.plan),
                            ));
                        } else {
                            u.subscribed_until = None;
                            batch.extend(ev(
                                &mut rng,
                                u.id,
                                "subscription_expire",
                                json!({"plan": u.plan.name}),
                            ));
                        }
                    }
                }
                if !(u.registered_day.is_some_and(|r| r == day) || rng.gen_bool(p)) {
                    continue;
                }
                batch.extend(ev(&mut rng, u.id, "user_login_success", json!({})));
                for _ in 0..rng.gen_range(1..5) {
                    batch.extend(ev(&mut rng, u.id, "page_view_home", json!({})));
                }
                if rng.gen_bool(0.22) {
                    batch.extend(ev(&mut rng, u.id, "feature_use_export", json!({})));
                }
                if rng.gen_bool(0.3) {
                    batch.extend(ev(&mut rng, u.id, "feature_use_share", json!({})));
                }
                if day >= launch_day && rng.gen_bool(0.18) {
                    batch.extend(ev(&mut rng, u.id, "feature_open_darkmode", json!({})));
                }
                if rng.gen_bool(0.35) {
                    let dialog = format!("dlg-{}", rng.gen::<u32>());
                    batch.extend(ev(
                        &mut rng,
                        u.id,
                        "ai_dialog_start",
                        json!({"dialog_id": dialog}),
                    ));
                    let ok =
                        rng.gen_bool(if day == incident_day { 0.52 } else { 0.83 + 0.05 * age });
                    let src = match rng.gen_range(0..100) {
                        0..=54 => "knowledge_base",
                        55..=89 => "generated",
                        _ => "human",
                    };
                    let base: f64 = if day == incident_day { 2600.0 } else { 850.0 - 150.0 * age };
                    let ms = (base * (rng.gen_range(-0.9..1.2_f64)).exp()).round();
                    batch.extend(ev(&mut rng, u.id, "ai_dialog_end", json!({"dialog_id": dialog, "success": ok, "response_ms": ms, "answer_source": src})));
                    if rng.gen_bool(0.4) {
                        let rating = if ok {
                            [3, 4, 4, 5, 5, 5][rng.gen_range(0..6)]
                        } else {
                            [1, 1, 2, 2, 3, 4][rng.gen_range(0..6)]
                        };
                        batch.extend(ev(&mut rng, u.id, "ai_dialog_feedback", json!({"dialog_id": dialog, "resolved": ok && rating >= 3, "rating": rating})));
                    }
                }
                if rng.gen_bool(0.012) {
                    let score = [10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 10][rng.gen_range(0..12)];
                    batch.extend(ev(&mut rng, u.id, "nps_survey_submit", json!({"score": score})));
                }
                if u.subscribed_until.is_none() && rng.gen_bool(0.012 * u.engagement.min(2.0)) {
                    u.plan = pick_plan(&mut rng);
                    u.subscribed_until = Some(day + u.plan.days);
                    batch.extend(ev(&mut rng, u.id, "subscription_start", plan_json(u.plan)));
                } else if u.subscribed_until.is_some() && rng.gen_bool(0.004) {
                    u.subscribed_until = None;
                    batch.extend(ev(
                        &mut rng,
                        u.id,
                        "subscription_cancel",
                        json!({"plan": u.plan.name}),
                    ));
                }
            }
            if batch.len() >= BATCH || day == today {
                batch.sort_by_key(|e| e.ts_ms);
                for chunk in batch.chunks(BATCH) {
                    let (accepted, _) = self.events().store_valid_events(chunk).await?;
                    report.events += accepted;
                }
                batch.clear();
            }
            progress(day - first_day + 1, opts.days);
        }
        report.users = users.len() as u64;
        Ok(report)
    }
}

impl Services {
    /// Two probes of Vigil's own health endpoints (at its public URL) with 30 days of
    /// deterministic history: ~40 ms answers, a 14-minute outage nine days ago, a slow
    /// spell and three failed checks two days ago. Skipped for names that exist. Returns
    /// how many results were stored.
    pub async fn load_demo_probes(&self, seed: u64) -> Result<usize> {
        use domain::probe::{ProbeResult, ProbeSpec};
        const MIN: i64 = 60_000;
        let existing: Vec<String> =
            self.store.probes().await?.into_iter().map(|p| p.spec.name).collect();
        let now = self.now_ms() / MIN * MIN;
        let ctx = store::AuditCtx::system("demo", self.now_ms());
        let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9);
        let mut stored = 0;
        for (name, path, base_ms) in
            [("Vigil web", "/healthz", 38.0), ("Vigil readiness", "/readyz", 55.0)]
        {
            if existing.iter().any(|n| n == name) {
                continue;
            }
            let mut spec = ProbeSpec::new(name, &format!("{}{path}", self.public_url));
            spec.labels.insert("service".into(), "vigil".into());
            let probe = self.store.create_probe(&spec, &ctx).await?;
            let mut results = Vec::with_capacity(30 * 1440);
            for k in (0..30 * 1440).rev() {
                let at = now - k * MIN;
                let minutes_ago = k;
                let outage = (9 * 1440..9 * 1440 + 14).contains(&minutes_ago);
                let blip = [2 * 1440 + 300, 2 * 1440 + 301, 2 * 1440 + 377].contains(&minutes_ago);
                let slow = (2 * 1440 + 280..2 * 1440 + 320).contains(&minutes_ago);
                let jitter: f64 = rng.gen_range(0.7..1.6_f64).powi(2);
                let mut latency = base_ms * jitter;
                if slow {
                    latency *= 20.0;
                }
                if rng.gen_bool(0.01) {
                    latency *= 6.0; // the occasional slow answer (P99)
                }
                let ok = !(outage || blip);
                results.push((
                    probe.id,
                    ProbeResult {
                        at_ms: at,
                        ok,
                        status: if outage { None } else { Some(if ok { 200 } else { 503 }) },
                        latency_ms: if outage { 10_000.0 } else { latency },
                        error: if outage {
                            Some("timed out after 10s".into())
                        } else if blip {
                            Some("unexpected status 503 (expected 2xx)".into())
                        } else {
                            None
                        },
                    },
                ));
            }
            for chunk in results.chunks(5_000) {
                self.store.record_probe_results(chunk).await?;
            }
            stored += results.len();
        }
        Ok(stored)
    }
}
