//! Subscription KPIs from the subscription events of every user (SPEC §1): new,
//! cancelled, net, renewal rate, active subscribers, churn, revenue, MRR, ARPA and LTV.
//!
//! Money is kept per currency and never summed across currencies. Churn, ARPA and LTV are
//! monthly figures of calendar months (the caller picks the months; see
//! [`MonthFigures`]); nothing is rescaled linearly from a shorter or longer range.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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

    /// As stored (`start`, `renew`, `cancel`, `expire`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubKind::Start => "start",
            SubKind::Renew => "renew",
            SubKind::Cancel => "cancel",
            SubKind::Expire => "expire",
        }
    }

    pub fn parse(s: &str) -> Option<SubKind> {
        [SubKind::Start, SubKind::Renew, SubKind::Cancel, SubKind::Expire]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    fn is_active(self) -> bool {
        matches!(self, SubKind::Start | SubKind::Renew)
    }
}

/// How long a payment buys: the event's `period` property (`month` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BillingPeriod {
    #[default]
    Month,
    Year,
}

impl BillingPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingPeriod::Month => "month",
            BillingPeriod::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<BillingPeriod> {
        match s {
            "month" => Some(BillingPeriod::Month),
            "year" => Some(BillingPeriod::Year),
            _ => None,
        }
    }

    /// Months one payment covers.
    pub fn months(self) -> f64 {
        match self {
            BillingPeriod::Month => 1.0,
            BillingPeriod::Year => 12.0,
        }
    }
}

/// A currency code as events carry it: three ASCII letters, upper-cased; `None` for
/// anything else (the caller names the field).
pub fn currency_code(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// One subscription event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubEvent {
    pub user: u32,
    pub ts_ms: i64,
    pub kind: SubKind,
    /// `amount` of starts and renewals (0 otherwise).
    pub amount: f64,
    /// ISO 4217 code of `amount` (empty when the event named none).
    pub currency: String,
    pub plan: String,
    pub period: BillingPeriod,
}

/// Amounts per currency code (never summed across codes).
pub type Money = BTreeMap<String, f64>;

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
    /// Sum of `amount` of starts and renewals, per currency.
    pub revenue: Money,
    /// Active subscribers at `from_ms`.
    pub active_at_start: u64,
    /// Of those, the users whose subscription ended (cancel or expire) in the period.
    pub churned_users: u64,
    /// renewals / (renewals + expirations).
    pub renewal_rate: Option<f64>,
    /// churned users / active subscribers at the start (0–1); `None` with no subscribers.
    pub churn: Option<f64>,
}

/// Each user's latest subscription event before `t_ms`.
fn latest_before(events: &[SubEvent], t_ms: i64) -> BTreeMap<u32, &SubEvent> {
    let mut last: BTreeMap<u32, &SubEvent> = BTreeMap::new();
    for e in events.iter().filter(|e| e.ts_ms < t_ms) {
        let entry = last.entry(e.user).or_insert(e);
        if e.ts_ms >= entry.ts_ms {
            *entry = e;
        }
    }
    last
}

/// Users whose latest subscription event before `t_ms` is a start or a renewal.
pub fn active_set(events: &[SubEvent], t_ms: i64) -> BTreeSet<u32> {
    latest_before(events, t_ms)
        .into_iter()
        .filter(|(_, e)| e.kind.is_active())
        .map(|(u, _)| u)
        .collect()
}

/// How many users are active subscribers at `t_ms`.
pub fn active_subscribers(events: &[SubEvent], t_ms: i64) -> u64 {
    active_set(events, t_ms).len() as u64
}

/// Monthly recurring revenue at `t_ms`, per currency: each active subscriber's latest
/// payment per month (a yearly payment counts amount/12).
pub fn mrr(events: &[SubEvent], t_ms: i64) -> Money {
    let mut out = Money::new();
    for e in latest_before(events, t_ms).values().filter(|e| e.kind.is_active()) {
        *out.entry(e.currency.clone()).or_default() += e.amount / e.period.months();
    }
    out
}

/// The figures of `[from_ms, to_ms)`.
pub fn period(events: &[SubEvent], from_ms: i64, to_ms: i64) -> SubPeriod {
    let active = active_set(events, from_ms);
    let mut p = SubPeriod { active_at_start: active.len() as u64, ..SubPeriod::default() };
    let mut churned = BTreeSet::new();
    for e in events.iter().filter(|e| e.ts_ms >= from_ms && e.ts_ms < to_ms) {
        match e.kind {
            SubKind::Start => p.new += 1,
            SubKind::Renew => p.renewals += 1,
            SubKind::Cancel => p.cancellations += 1,
            SubKind::Expire => p.expirations += 1,
        }
        if e.kind.is_active() {
            *p.revenue.entry(e.currency.clone()).or_default() += e.amount;
        } else if active.contains(&e.user) {
            churned.insert(e.user);
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

/// ARPA = revenue / MAU at the period's end, per currency; `None` (undefined) when MAU
/// is 0.
pub fn arpa(revenue: &Money, mau_at_end: u64) -> Option<Money> {
    (mau_at_end > 0)
        .then(|| revenue.iter().map(|(c, r)| (c.clone(), r / mau_at_end as f64)).collect())
}

/// LTV = ARPA / monthly churn, per currency; `None` (undefined) without ARPA or without
/// churn (the lifetime is unbounded).
pub fn ltv(arpa: Option<&Money>, churn: Option<f64>) -> Option<Money> {
    match (arpa, churn) {
        (Some(arpa), Some(c)) if c > 0.0 => {
            Some(arpa.iter().map(|(k, a)| (k.clone(), a / c)).collect())
        }
        _ => None,
    }
}

/// The monthly figures of one calendar month (or of its first days, `to_date`, when the
/// range asked for ends inside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// The month ends after the range (or today): figures of its first days only.
    pub to_date: bool,
    pub active_at_start: u64,
    pub churned_users: u64,
    pub churn: Option<f64>,
    pub revenue: Money,
    pub mau_at_end: u64,
    /// `None`: undefined (no MAU).
    pub arpa: Option<Money>,
    /// `None`: undefined (no ARPA, or no churn).
    pub ltv: Option<Money>,
}

impl MonthFigures {
    /// From the month's [`period`] and the MAU of its last day (counted).
    pub fn of(month: String, to_date: bool, p: &SubPeriod, mau_at_end: u64) -> MonthFigures {
        let arpa = arpa(&p.revenue, mau_at_end);
        let ltv = ltv(arpa.as_ref(), p.churn);
        MonthFigures {
            month,
            to_date,
            active_at_start: p.active_at_start,
            churned_users: p.churned_users,
            churn: p.churn,
            revenue: p.revenue.clone(),
            mau_at_end,
            arpa,
            ltv,
        }
    }
}

/// The amount in `currency`, or `None` when there is none.
pub fn in_currency(m: &Money, currency: &str) -> Option<f64> {
    m.get(currency).copied()
}

/// The reporting currency: `setting` when set, else the currency with the most
/// revenue-carrying events (starts and renewals), else `USD`.
pub fn reporting_currency(setting: &str, events: &[SubEvent]) -> String {
    if let Some(c) = currency_code(setting) {
        return c;
    }
    let mut n: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind.is_active() && !e.currency.is_empty()) {
        *n.entry(e.currency.as_str()).or_default() += 1;
    }
    n.into_iter()
        .max_by_key(|(c, k)| (*k, std::cmp::Reverse(*c)))
        .map(|(c, _)| c.to_owned())
        .unwrap_or_else(|| "USD".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(user: u32, ts_ms: i64, kind: SubKind, amount: f64) -> SubEvent {
        SubEvent {
            user,
            ts_ms,
            kind,
            amount,
            currency: if amount > 0.0 { "CNY".into() } else { String::new() },
            plan: "pro".into(),
            period: BillingPeriod::Month,
        }
    }

    fn money(pairs: &[(&str, f64)]) -> Money {
        pairs.iter().map(|(c, a)| ((*c).to_owned(), *a)).collect()
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
        assert_eq!(m.revenue, money(&[("CNY", 70.0)]));
        assert_eq!(m.renewal_rate, Some(0.5));
        // Of the 2 active at the start (users 1 and 2), user 2 ended: 50 %. User 5 joined
        // and left inside the month: a cancellation, but not churn of the month's base.
        assert_eq!(m.churned_users, 1);
        assert_eq!(m.churn, Some(0.5));
        let a = arpa(&m.revenue, 35);
        assert_eq!(a, Some(money(&[("CNY", 2.0)])));
        assert_eq!(ltv(a.as_ref(), m.churn), Some(money(&[("CNY", 4.0)])));
    }

    #[test]
    fn churn_never_exceeds_the_base() {
        use SubKind::*;
        // One subscriber at the start; ten others join and leave inside the period.
        let mut events = vec![ev(1, 0, Start, 10.0)];
        for u in 2..12 {
            events.push(ev(u, 100 + i64::from(u), Start, 10.0));
            events.push(ev(u, 150 + i64::from(u), Cancel, 0.0));
        }
        let m = period(&events, 50, 200);
        assert_eq!(m.cancelled, 10);
        assert_eq!(m.churn, Some(0.0), "the one subscriber of the start stayed");
        events.push(ev(1, 190, Expire, 0.0));
        assert_eq!(period(&events, 50, 200).churn, Some(1.0));
    }

    #[test]
    fn currencies_are_never_summed_and_a_yearly_plan_is_a_twelfth_of_mrr() {
        use SubKind::*;
        let mut usd_year = ev(2, 20, Start, 120.0);
        usd_year.currency = "USD".into();
        usd_year.period = BillingPeriod::Year;
        let events = vec![ev(1, 10, Start, 30.0), usd_year, ev(3, 30, Start, 30.0)];
        let p = period(&events, 0, 100);
        assert_eq!(p.revenue, money(&[("CNY", 60.0), ("USD", 120.0)]), "cash as paid");
        assert_eq!(mrr(&events, 100), money(&[("CNY", 60.0), ("USD", 10.0)]));
        assert_eq!(arpa(&p.revenue, 3), Some(money(&[("CNY", 20.0), ("USD", 40.0)])));
        assert_eq!(reporting_currency("", &events), "CNY", "most payments");
        assert_eq!(reporting_currency("usd", &events), "USD", "the setting wins");
        assert_eq!(reporting_currency("", &[]), "USD");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(currency_code(" cny ").as_deref(), Some("CNY"));
        assert_eq!(currency_code("US$"), None);
        assert_eq!(currency_code("EURO"), None);
        assert_eq!(currency_code(""), None);
    }

    #[test]
    fn zero_subscribers_and_zero_churn() {
        let m = period(&[], 0, 100);
        assert_eq!(
            m.churn, None,
            "no subscribers: churn undefined, not 0 and not a division by zero"
        );
        assert_eq!(m.renewal_rate, None);
        assert_eq!(arpa(&money(&[("CNY", 10.0)]), 0), None);
        assert_eq!(ltv(Some(&money(&[("CNY", 5.0)])), Some(0.0)), None);
        assert_eq!(ltv(None, Some(0.1)), None);
    }
}
