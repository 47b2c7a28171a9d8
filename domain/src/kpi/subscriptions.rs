//! Subscription KPIs from the subscription events of every user: new, cancelled, net,
//! renewal rate, active subscribers, churn, revenue, ARPA and LTV.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubKind {
    Start,
    Renew,
    Cancel,
    Expire,
}

impl SubKind {
    /// From an event name (`subscription_start`, …).
    pub fn from_event(name: &str) -> Option<SubKind> {
        match name {
            "subscription_start" => Some(SubKind::Start),
            "subscription_renew" => Some(SubKind::Renew),
            "subscription_cancel" => Some(SubKind::Cancel),
            "subscription_expire" => Some(SubKind::Expire),
            _ => None,
        }
    }

    fn is_active(self) -> bool {
        matches!(self, SubKind::Start | SubKind::Renew)
    }
}

/// One subscription event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubEvent {
    pub user: u32,
    pub ts_ms: i64,
    pub kind: SubKind,
    /// `amount` of starts and renewals (0 otherwise).
    pub amount: f64,
}

/// Figures of one period `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SubPeriod {
    pub new: u64,
    pub renewals: u64,
    pub cancellations: u64,
    pub expirations: u64,
    /// cancel + expire.
    pub cancelled: u64,
    /// new − cancelled.
    pub net: i64,
    pub revenue: f64,
    /// Active subscribers at `from_ms`.
    pub active_at_start: u64,
    /// Distinct users whose subscription ended (cancel or expire) in the period.
    pub churned_users: u64,
    /// renewals / (renewals + expirations).
    pub renewal_rate: Option<f64>,
    /// churned users / active subscribers at the start; `None` with no subscribers.
    pub churn: Option<f64>,
}

/// Users whose latest subscription event before `t_ms` is a start or a renewal.
pub fn active_subscribers(events: &[SubEvent], t_ms: i64) -> u64 {
    let mut last: BTreeMap<u32, (i64, SubKind)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.ts_ms < t_ms) {
        let entry = last.entry(e.user).or_insert((e.ts_ms, e.kind));
        if e.ts_ms >= entry.0 {
            *entry = (e.ts_ms, e.kind);
        }
    }
    last.values().filter(|(_, k)| k.is_active()).count() as u64
}

/// The figures of `[from_ms, to_ms)`.
pub fn period(events: &[SubEvent], from_ms: i64, to_ms: i64) -> SubPeriod {
    let mut p =
        SubPeriod { active_at_start: active_subscribers(events, from_ms), ..SubPeriod::default() };
    let mut churned = std::collections::BTreeSet::new();
    for e in events.iter().filter(|e| e.ts_ms >= from_ms && e.ts_ms < to_ms) {
        match e.kind {
            SubKind::Start => {
                p.new += 1;
                p.revenue += e.amount;
            }
            SubKind::Renew => {
                p.renewals += 1;
                p.revenue += e.amount;
            }
            SubKind::Cancel => {
                p.cancellations += 1;
                churned.insert(e.user);
            }
            SubKind::Expire => {
                p.expirations += 1;
                churned.insert(e.user);
            }
        }
    }
    p.cancelled = p.cancellations + p.expirations;
    p.net = p.new as i64 - p.cancelled as i64;
    p.churned_users = churned.len() as u64;
    let renew_den = p.renewals + p.expirations;
    p.renewal_rate = (renew_den > 0).then(|| p.renewals as f64 / renew_den as f64);
    p.churn = (p.active_at_start > 0).then(|| p.churned_users as f64 / p.active_at_start as f64);
    p
}

/// ARPA = revenue / MAU at the period's end; `None` when MAU is 0.
pub fn arpa(revenue: f64, mau_at_end: u64) -> Option<f64> {
    (mau_at_end > 0).then(|| revenue / mau_at_end as f64)
}

/// LTV = ARPA / monthly churn; `None` without churn (the lifetime is unbounded).
pub fn ltv(arpa: Option<f64>, churn: Option<f64>) -> Option<f64> {
    match (arpa, churn) {
        (Some(a), Some(c)) if c > 0.0 => Some(a / c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(user: u32, ts_ms: i64, kind: SubKind, amount: f64) -> SubEvent {
        SubEvent { user, ts_ms, kind, amount }
    }

    #[test]
    fn a_month_by_hand() {
        use SubKind::*;
        // Before the month (t < 100): users 1, 2, 3 start; user 3 cancels.
        // In the month [100, 200): user 1 renews (30), user 2 expires, user 4 starts (20),
        // user 5 starts (20) and cancels.
        let events = vec![
            ev(1, 10, Start, 30.0),
            ev(2, 11, Start, 30.0),
            ev(3, 12, Start, 30.0),
            ev(3, 50, Cancel, 0.0),
            ev(1, 110, Renew, 30.0),
            ev(2, 120, Expire, 0.0),
            ev(4, 130, Start, 20.0),
            ev(5, 140, Start, 20.0),
            ev(5, 150, Cancel, 0.0),
        ];
        assert_eq!(active_subscribers(&events, 100), 2, "users 1 and 2");
        assert_eq!(active_subscribers(&events, 200), 2, "users 1 and 4");
        let m = period(&events, 100, 200);
        assert_eq!((m.new, m.renewals, m.cancellations, m.expirations), (2, 1, 1, 1));
        assert_eq!((m.cancelled, m.net), (2, 0));
        assert_eq!(m.revenue, 70.0);
        assert_eq!(m.renewal_rate, Some(0.5));
        // Churned users 2 and 5; active at start 2 → 100 % (user 5 joined and left inside).
        assert_eq!(m.churned_users, 2);
        assert_eq!(m.churn, Some(1.0));
        let a = arpa(m.revenue, 35);
        assert_eq!(a, Some(2.0));
        assert_eq!(ltv(a, m.churn), Some(2.0));
    }

    #[test]
    fn zero_subscribers_and_zero_churn() {
        let m = period(&[], 0, 100);
        assert_eq!(
            m.churn, None,
            "no subscribers: churn undefined, not 0 and not a division by zero"
        );
        assert_eq!(m.renewal_rate, None);
        assert_eq!(arpa(10.0, 0), None);
        assert_eq!(ltv(Some(5.0), Some(0.0)), None);
        assert_eq!(ltv(None, Some(0.1)), None);
    }
}
