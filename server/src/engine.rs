//! Background loops that must run on one replica at a time: HTTP probe checks, alert
//! evaluation, incidents for firing rules that ask for one, then notification dispatch and
//! delivery.
//!
//! Every tick the replica tries to take or renew the `engine` lease in the database (TTL
//! three ticks, at least 15 s); only the holder evaluates. A replica that dies stops
//! renewing and another takes over once the lease expires; a replica that shuts down
//! releases it at once.

use crate::metrics::Metrics;
use services::Services;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ENGINE_LEASE: &str = "engine";

/// A name for this process in the lease table: host, pid and a random suffix.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "vigil".into());
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// Set while a round of probe checks runs (a slow target must not delay rule evaluation,
/// and rounds must not pile up).
#[derive(Debug, Clone, Default)]
pub struct ProbeGate(Arc<AtomicBool>);

impl ProbeGate {
    /// Whether a round is running.
    pub fn busy(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Starts a round of due probe checks in the background unless one is still running.
fn start_probe_round(services: &Services, gate: &ProbeGate, metrics: &Metrics) {
    if gate.0.swap(true, Ordering::SeqCst) {
        return;
    }
    let (svc, gate, metrics) = (services.clone(), gate.clone(), metrics.clone());
    tokio::spawn(async move {
        match svc.probes().run_due_probes().await {
            Ok(r) => metrics.record_probes(&r),
            Err(e) => tracing::warn!(error = %e, "probe round failed"),
        }
        gate.0.store(false, Ordering::SeqCst);
    });
}

/// One tick: renew/take the lease; if we hold it, start due probe checks, evaluate due
/// rules, then dispatch and deliver notifications. Returns whether this replica held the
/// lease.
pub async fn tick(
    services: &Services,
    holder: &str,
    ttl_ms: i64,
    metrics: &Metrics,
    probes: &ProbeGate,
) -> bool {
    let held = match services.try_lease(ENGINE_LEASE, holder, ttl_ms).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "engine lease check failed");
            return false;
        }
    };
    if !held {
        return false;
    }
    start_probe_round(services, probes, metrics);
    let started = Instant::now();
    let mut transitions = 0;
    match services.alerting().evaluate_due_rules().await {
        Ok(r) => {
            transitions = r.transitions;
            metrics.record_engine_cycle(started.elapsed(), &r);
            if r.transitions > 0 || r.errors > 0 {
                tracing::info!(
                    rules = r.rules,
                    transitions = r.transitions,
                    errors = r.errors,
                    ms = started.elapsed().as_millis() as u64,
                    "alert rules evaluated"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "alert evaluation cycle failed"),
    }
    // Rules marked "open an incident when firing": one incident per firing episode. Looked
    // at after a cycle with transitions, and once a minute anyway (a leader that stopped
    // between evaluating and opening is caught up by the next one).
    if let Err(e) = services.incidents().open_incidents_if_due(transitions > 0).await {
        tracing::warn!(error = %e, "opening incidents for firing alerts failed");
    }
    // Escalations: start runs for firing alerts routed to a policy, fire due steps, page.
    match services.oncall().run_escalations().await {
        Ok(r) if r.started + r.steps_fired + r.pages_sent + r.pages_failed + r.resolved > 0 => {
            tracing::info!(
                started = r.started,
                steps = r.steps_fired,
                pages_sent = r.pages_sent,
                pages_failed = r.pages_failed,
                resolved = r.resolved,
                "escalations"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "escalation pass failed"),
    }
    // Digests and reminders due now (each queued once: deterministic idempotency keys).
    match services.notify().run_schedule().await {
        Ok(r) if r.enqueued > 0 => tracing::info!(
            digest_alerts = r.digests,
            postmortems = r.postmortems,
            action_items = r.action_items,
            weekly = r.weekly,
            enqueued = r.enqueued,
            "digests and reminders queued"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "digest and reminder pass failed"),
    }
    // Then notifications: decide and queue, then deliver what is due (retries included).
    match services.notify().dispatch_notifications().await {
        Ok(d) if d.enqueued > 0 => {
            tracing::info!(
                messages = d.messages,
                enqueued = d.enqueued,
                muted = d.muted,
                "notifications queued"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "notification dispatch failed"),
    }
    match services.notify().deliver_notifications().await {
        Ok(r) => metrics.record_deliveries(&r),
        Err(e) => tracing::warn!(error = %e, "notification delivery failed"),
    }
    true
}

/// Runs the loop until the task is aborted.
pub fn spawn(services: Services, tick_secs: u64, metrics: Metrics) -> Option<EngineHandle> {
    if tick_secs == 0 {
        tracing::info!("alerting engine off on this replica (VIGIL_ENGINE_TICK_SECS=0)");
        return None;
    }
    let holder = holder_id();
    let ttl_ms = (tick_secs as i64 * 3_000).max(15_000);
    let h = holder.clone();
    let svc = services.clone();
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(tick_secs));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_leader = false;
        let probes = ProbeGate::default();
        loop {
            every.tick().await;
            let leader = tick(&svc, &h, ttl_ms, &metrics, &probes).await;
            if leader != was_leader {
                tracing::info!(holder = %h, leader, "alerting engine lease changed");
                was_leader = leader;
            }
        }
    });
    Some(EngineHandle { task, services, holder })
}

pub struct EngineHandle {
    task: tokio::task::JoinHandle<()>,
    services: Services,
    holder: String,
}

impl EngineHandle {
    /// Stops the loop and hands the lease over.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        if let Err(e) = self.services.release_lease(ENGINE_LEASE, &self.holder).await {
            tracing::warn!(error = %e, "could not release the engine lease");
        }
    }
}
