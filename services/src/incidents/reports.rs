//! Incident reports: count, MTTA (detection → response started) and MTTR (detection →
//! resolved) by severity and month in the reporting zone, and postmortems overdue; with
//! plotters charts.

use crate::charts::{grouped_bar_chart, SEVERITY_COLORS};
use crate::Caller;
use crate::Result;
use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use domain::alerting::Severity;
use domain::incident::postmortem::PmStatus;
use domain::incident::{postmortem_due_ms, response_times};
use domain::Permission;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::{Incident, IncidentFilter};

/// One month × severity cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub count: usize,
    /// Mean time to acknowledge (response started), over incidents that have one.
    pub mtta_ms: Option<i64>,
    /// Mean time to resolve, over resolved incidents.
    pub mttr_ms: Option<i64>,
}

/// A postmortem past its due time and not published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverduePostmortem {
    pub code: String,
    pub title: String,
    pub severity: Severity,
    pub due_ms: i64,
    pub status: Option<PmStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// `YYYY-MM`, oldest first.
    pub months: Vec<String>,
    /// `cells[month][severity]`.
    pub cells: Vec<[Cell; 4]>,
    /// Totals per severity over the whole range.
    pub totals: [Cell; 4],
    pub overdue: Vec<OverduePostmortem>,
    pub count_svg: Option<String>,
    pub mtta_svg: Option<String>,
    pub mttr_svg: Option<String>,
}

fn month_of(ms: i64, tz: Tz) -> String {
    crate::timefmt::format_in(ms, tz, "%Y-%m").unwrap_or_default()
}

/// The first instant of the month `months_back` months before the one holding `now_ms`.
fn month_start(now_ms: i64, months_back: u32, tz: Tz) -> i64 {
    let Some(now) = Utc.timestamp_millis_opt(now_ms).single() else {
        return 0;
    };
    let local = now.with_timezone(&tz);
    let total = local.year() * 12 + local.month0() as i32 - months_back as i32;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    tz.with_ymd_and_hms(y, m, 1, 0, 0, 0).earliest().map_or(0, |t| t.timestamp_millis())
}

fn mean(v: &[i64]) -> Option<i64> {
    (!v.is_empty()).then(|| v.iter().sum::<i64>() / v.len() as i64)
}

/// Aggregates incidents into month × severity cells (pure; months in `tz`).
pub fn aggregate(incidents: &[Incident], months: &[String], tz: Tz) -> (Vec<[Cell; 4]>, [Cell; 4]) {
    type Acc = (usize, Vec<i64>, Vec<i64>);
    let mut acc: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    let mut tot: BTreeMap<usize, Acc> = BTreeMap::new();
    for inc in incidents {
        let m = month_of(inc.log.detected_ms(), tz);
        let Some(mi) = months.iter().position(|x| *x == m) else {
            continue;
        };
        let si = inc.fields.severity as usize;
        let (ack, res) = response_times(&inc.log);
        for a in [acc.entry((mi, si)).or_default(), tot.entry(si).or_default()] {
            a.0 += 1;
            a.1.extend(ack);
            a.2.extend(res);
        }
    }
    let cell = |a: Option<&Acc>| {
        a.map_or_else(Cell::default, |a| Cell {
            count: a.0,
            mtta_ms: mean(&a.1),
            mttr_ms: mean(&a.2),
        })
    };
    let cells =
        (0..months.len()).map(|mi| std::array::from_fn(|si| cell(acc.get(&(mi, si))))).collect();
    let totals = std::array::from_fn(|si| cell(tot.get(&si)));
    (cells, totals)
}

pub(crate) fn minutes_label(v: f64) -> String {
    if v >= 60.0 {
        format!("{:.1} h", v / 60.0)
    } else {
        format!("{v:.0} min")
    }
}

/// A resolved incident whose postmortem is owed: required by its level (or started anyway)
/// and not published.
pub(crate) struct Outstanding {
    pub incident: store::incidents::Incident,
    pub due_ms: i64,
    pub status: Option<PmStatus>,
}

impl crate::Incidents<'_> {
    /// Every resolved incident that still owes its postmortem, with the due time.
    pub(crate) async fn postmortems_outstanding(&self) -> Result<Vec<Outstanding>> {
        let pms = self.store.postmortem_statuses().await?;
        let resolved = self
            .store
            .incidents(&IncidentFilter {
                open: Some(false),
                limit: 5000,
                ..IncidentFilter::default()
            })
            .await?;
        Ok(resolved
            .into_iter()
            .filter_map(|i| {
                let status = pms.get(&i.id).copied();
                let owed =
                    domain::incident::postmortem_required(i.fields.severity) || status.is_some();
                let due_ms = i.log.resolved_ms()? + postmortem_due_ms(i.fields.severity);
                (owed && status != Some(PmStatus::Published)).then_some(Outstanding {
                    incident: i,
                    due_ms,
                    status,
                })
            })
            .collect())
    }
}

impl crate::Incidents<'_> {
    /// The reports page: the last `months` months (1–24, default 6) (viewer).
    pub async fn incident_report_stats(
        &self,
        actor: &Caller,
        months: u32,
    ) -> Result<IncidentReport> {
        actor.require(Permission::ViewIncidents)?;
        let months_n = months.clamp(1, 24);
        let tz = self.events().reporting_tz();
        let now = self.now_ms();
        let from = month_start(now, months_n - 1, tz);
        let months: Vec<String> =
            (0..months_n).rev().map(|k| month_of(month_start(now, k, tz), tz)).collect();
        let incidents = self
            .store
            .incidents(&IncidentFilter {
                from_ms: Some(from),
                limit: 5000,
                ..IncidentFilter::default()
            })
            .await?;
        let (cells, totals) = aggregate(&incidents, &months, tz);
        // Overdue postmortems over every resolved incident, not only the range.
        let mut overdue: Vec<OverduePostmortem> = self
            .postmortems_outstanding()
            .await?
            .into_iter()
            .filter(|o| now > o.due_ms)
            .map(|o| OverduePostmortem {
                code: o.incident.code.clone(),
                title: o.incident.fields.title.clone(),
                severity: o.incident.fields.severity,
                due_ms: o.due_ms,
                status: o.status,
            })
            .collect();
        overdue.sort_by_key(|o| o.due_ms);
        let series = |f: &dyn Fn(&Cell) -> Option<f64>| -> Vec<Vec<Option<f64>>> {
            (0..4).map(|si| cells.iter().map(|row: &[Cell; 4]| f(&row[si])).collect()).collect()
        };
        let count = series(&|c| (c.count > 0).then_some(c.count as f64));
        let mtta = series(&|c| c.mtta_ms.map(|v| v as f64 / 60_000.0));
        let mttr = series(&|c| c.mttr_ms.map(|v| v as f64 / 60_000.0));
        let count_label = |v: f64| format!("{v:.0}");
        Ok(IncidentReport {
            count_svg: grouped_bar_chart(
                &months,
                &count,
                &SEVERITY_COLORS,
                &count_label,
                720,
                260,
            )?,
            mtta_svg: grouped_bar_chart(
                &months,
                &mtta,
                &SEVERITY_COLORS,
                &minutes_label,
                720,
                260,
            )?,
            mttr_svg: grouped_bar_chart(
                &months,
                &mttr,
                &SEVERITY_COLORS,
                &minutes_label,
                720,
                260,
            )?,
            months,
            cells,
            totals,
            overdue,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_in_zone() {
        let sh: Tz = "Asia/Shanghai".parse().expect("tz");
        // 2026-11-30T17:00Z is 2026-12-01 01:00 in Shanghai.
        let now = 1_796_058_000_000;
        assert_eq!(month_of(now, sh), "2026-12");
        assert_eq!(month_of(now, Tz::UTC), "2026-11");
        assert_eq!(month_of(month_start(now, 0, sh), sh), "2026-12");
        assert_eq!(month_of(month_start(now, 12, sh), sh), "2025-12");
        assert_eq!(mean(&[60_000, 120_000]), Some(90_000));
        assert_eq!(mean(&[]), None);
    }
}
