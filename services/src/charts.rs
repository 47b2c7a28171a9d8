//! Charts for the dashboards: plotters → SVG strings, drawn on the server so plotters never
//! enters the WebAssembly bundle. Only numbers and dates are drawn in the SVG (with the
//! embedded DejaVu Sans); titles and legends are HTML, in the user's language.

use crate::Result;
use crate::ServiceError;
use domain::kpi::calendar::format_day;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::Once;

/// Series colours, in order; the HTML legend uses the same list.
pub const PALETTE: [(u8, u8, u8); 4] =
    [(79, 70, 229), (14, 165, 233), (16, 185, 129), (245, 158, 11)];

/// How the y axis is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YFormat {
    Count,
    Percent,
    Millis,
    Money,
    /// Small numbers with one decimal (ratings).
    Decimal,
}

fn y_label(v: f64, f: YFormat) -> String {
    match f {
        YFormat::Percent => format!("{:.0}%", v * 100.0),
        YFormat::Millis => format!("{v:.0} ms"),
        YFormat::Decimal => format!("{v:.1}"),
        YFormat::Count | YFormat::Money => {
            if v.abs() >= 1_000_000.0 {
                format!("{:.1}M", v / 1_000_000.0)
            } else if v.abs() >= 10_000.0 {
                format!("{:.0}k", v / 1_000.0)
            } else if v.abs() >= 1_000.0 {
                format!("{:.1}k", v / 1_000.0)
            } else {
                format!("{v:.0}")
            }
        }
    }
}

static FONT: Once = Once::new();

fn ensure_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

/// One line: points of (day, value); `None` values are gaps.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub points: &'a [(i32, Option<f64>)],
}

fn err(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("chart: {e}"))
}

/// The colour of change markers (dashed vertical lines).
const CHANGE: RGBColor = RGBColor(124, 58, 237);

/// A line chart over days, with a dashed violet line on each day in `markers` (changes).
/// `None` when there is nothing to draw.
pub fn line_chart(
    lines: &[Line<'_>],
    markers: &[i32],
    y: YFormat,
    width: u32,
    height: u32,
) -> Result<Option<String>> {
    ensure_font();
    let values: Vec<f64> =
        lines.iter().flat_map(|l| l.points.iter().filter_map(|(_, v)| *v)).collect();
    let days: Vec<i32> = lines.iter().flat_map(|l| l.points.iter().map(|(d, _)| *d)).collect();
    let (Some(&x0), Some(&x1)) = (days.iter().min(), days.iter().max()) else {
        return Ok(None);
    };
    if values.is_empty() {
        return Ok(None);
    }
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let y_max = if max <= 0.0 { 1.0 } else { max * 1.12 };
    let x1 = if x1 == x0 { x0 + 1 } else { x1 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..y_max)
            .map_err(err)?;
        let grid = RGBColor(229, 231, 235);
        let text = RGBColor(107, 114, 128);
        chart
            .configure_mesh()
            .light_line_style(grid.mix(0.5))
            .bold_line_style(grid)
            .axis_style(grid)
            .x_labels(7)
            .y_labels(5)
            .x_label_formatter(&|d| format_day(*d)[5..].to_owned())
            .y_label_formatter(&|v| y_label(*v, y))
            .label_style(("sans-serif", 15).into_font().color(&text))
            .draw()
            .map_err(err)?;
        for d in markers.iter().filter(|d| (x0..=x1).contains(*d)) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(*d, 0.0), (*d, y_max)],
                    5,
                    4,
                    CHANGE.stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (i, line) in lines.iter().enumerate() {
            let (r, g, b) = PALETTE[i % PALETTE.len()];
            let color = RGBColor(r, g, b);
            // Split at gaps so a missing day is not drawn as a straight line.
            let mut run: Vec<(i32, f64)> = Vec::new();
            let mut runs = Vec::new();
            for (d, v) in line.points {
                match v {
                    Some(v) => run.push((*d, *v)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for run in runs {
                chart
                    .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?;
                if run.len() <= 45 {
                    chart
                        .draw_series(
                            run.iter().map(|(d, v)| Circle::new((*d, *v), 2, color.filled())),
                        )
                        .map_err(err)?;
                }
            }
        }
        root.present().map_err(err)?;
    }
    Ok(Some(responsive(&svg, width, height)))
}

/// Lets an SVG scale with its container (a viewBox instead of a fixed size).
fn responsive(svg: &str, width: u32, height: u32) -> String {
    svg.replacen(
        &format!("width=\"{width}\" height=\"{height}\""),
        &format!(
            "viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\""
        ),
        1,
    )
}

/// A time chart for the rule editor's backtest and probes: the values (ms, value), the
/// threshold as a dashed red line, spans where the rule was pending (amber) or firing
/// (red) shaded behind, and changes at `markers` as dashed violet lines. `None` when
/// there is nothing to draw.
#[allow(clippy::too_many_arguments)]
pub fn timeline_chart(
    points: &[(i64, f64)],
    threshold: Option<f64>,
    spans: &[(i64, i64, bool)],
    markers: &[i64],
    y: YFormat,
    range_ms: (i64, i64),
    tz: chrono_tz::Tz,
) -> Result<Option<String>> {
    ensure_font();
    if points.is_empty() {
        return Ok(None);
    }
    let (width, height) = (760u32, 280u32);
    let (x0, x1) = range_ms;
    let x1 = if x1 <= x0 { x0 + 1 } else { x1 };
    let mut lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(t) = threshold {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    let lo = if lo >= 0.0 { 0.0 } else { lo * 1.1 };
    let hi = if hi <= lo { lo + 1.0 } else { hi + (hi - lo) * 0.12 };
    let long = x1 - x0 > 3 * 86_400_000;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(err)?;
        let grid = RGBColor(229, 231, 235);
        let text = RGBColor(107, 114, 128);
        let x_fmt = |ms: &i64| {
            use chrono::TimeZone;
            match tz.timestamp_millis_opt(*ms).single() {
                Some(t) if long => t.format("%m-%d").to_string(),
                Some(t) => t.format("%m-%d %H:%M").to_string(),
                None => String::new(),
            }
        };
        chart
            .configure_mesh()
            .light_line_style(grid.mix(0.5))
            .bold_line_style(grid)
            .axis_style(grid)
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| y_label(*v, y))
            .label_style(("sans-serif", 15).into_font().color(&text))
            .draw()
            .map_err(err)?;
        let pending = RGBColor(245, 158, 11);
        let firing = RGBColor(239, 68, 68);
        chart
            .draw_series(spans.iter().map(|(a, b, is_firing)| {
                let c = if *is_firing { firing } else { pending };
                Rectangle::new([(*a, lo), (*b, hi)], c.mix(0.18).filled())
            }))
            .map_err(err)?;
        for m in markers.iter().filter(|m| (x0..=x1).contains(*m)) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(*m, lo), (*m, hi)],
                    5,
                    4,
                    CHANGE.stroke_width(1),
                ))
                .map_err(err)?;
        }
        if let Some(t) = threshold {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, t), (x1, t)],
                    6,
                    4,
                    firing.stroke_width(2),
                ))
                .map_err(err)?;
        }
        let (r, g, b) = PALETTE[0];
        let line = RGBColor(r, g, b);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), line.stroke_width(2)))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(responsive(&svg, width, height)))
}

/// Severity colours for incident charts (P0 red … P3 grey); the HTML legend uses the same.
pub const SEVERITY_COLORS: [(u8, u8, u8); 4] =
    [(185, 28, 28), (234, 88, 12), (37, 99, 235), (107, 114, 128)];

/// Grouped bars: one group per category (a month), one bar per series (a severity, in
/// `colors` order). `None` values leave a gap. `None` when there is nothing to draw.
pub fn grouped_bar_chart(
    categories: &[String],
    series: &[Vec<Option<f64>>],
    colors: &[(u8, u8, u8)],
    y_label_of: &dyn Fn(f64) -> String,
    width: u32,
    height: u32,
) -> Result<Option<String>> {
    ensure_font();
    let max = series.iter().flatten().flatten().copied().fold(0.0_f64, f64::max);
    if categories.is_empty() || series.iter().flatten().all(Option::is_none) {
        return Ok(None);
    }
    let y_max = if max <= 0.0 { 1.0 } else { max * 1.15 };
    let groups = categories.len() as f64;
    let per = series.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..groups, 0.0..y_max)
            .map_err(err)?;
        let grid = RGBColor(229, 231, 235);
        let text = RGBColor(107, 114, 128);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .light_line_style(grid.mix(0.5))
            .bold_line_style(grid)
            .axis_style(grid)
            .y_labels(5)
            .y_label_formatter(&|v| y_label_of(*v))
            .label_style(("sans-serif", 15).into_font().color(&text))
            .draw()
            .map_err(err)?;
        // Category names under the centre of each group, in pixels.
        let style = ("sans-serif", 15).into_font().color(&text).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ),
        );
        for (i, c) in categories.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(c.clone(), (px, py + 8), style.clone())).map_err(err)?;
        }
        let bar_w = 0.8 / per;
        for (s, values) in series.iter().enumerate() {
            let (r, g, b) = colors[s % colors.len()];
            let color = RGBColor(r, g, b);
            chart
                .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v)?;
                    let x0 = i as f64 + 0.1 + s as f64 * bar_w;
                    Some(Rectangle::new([(x0, 0.0), (x0 + bar_w * 0.9, v)], color.filled()))
                }))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(Some(responsive(&svg, width, height)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lines_with_axes_and_gaps() {
        let a = [(100, Some(10.0)), (101, Some(30.0)), (102, None), (103, Some(20.0))];
        let b = [(100, Some(5.0)), (101, Some(6.0)), (102, Some(7.0)), (103, Some(8.0))];
        let svg =
            line_chart(&[Line { points: &a }, Line { points: &b }], &[], YFormat::Count, 720, 260)
                .expect("chart")
                .expect("svg");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("viewBox=\"0 0 720 260\""));
        assert!(svg.contains("04-11"), "x axis shows MM-DD of day 100 (1970-04-11)");
        assert!(svg.contains("<polyline"), "lines are drawn");
        assert!(
            svg.contains("#4F46E5") || svg.contains("#4f46e5") || svg.contains("79,70,229"),
            "palette colour used"
        );
    }

    #[test]
    fn changes_are_dashed_violet_lines_inside_the_range_only() {
        let a = [(100, Some(10.0)), (101, Some(30.0)), (102, Some(20.0))];
        let violet = |svg: &str| svg.matches("#7C3AED").count() + svg.matches("#7c3aed").count();
        let plain = line_chart(&[Line { points: &a }], &[], YFormat::Count, 720, 260)
            .expect("chart")
            .expect("svg");
        assert_eq!(violet(&plain), 0);
        // One marker inside, one outside the days drawn.
        let marked = line_chart(&[Line { points: &a }], &[101, 300], YFormat::Count, 720, 260)
            .expect("chart")
            .expect("svg");
        assert!(violet(&marked) >= 1, "a dashed line for day 101");
        let h = 3_600_000;
        let pts: Vec<(i64, f64)> = (0..10).map(|i| (i * h, 1.0)).collect();
        let t = |m: &[i64]| {
            timeline_chart(&pts, None, &[], m, YFormat::Count, (0, 9 * h), chrono_tz::UTC)
                .expect("chart")
                .expect("svg")
        };
        assert_eq!(violet(&t(&[])), 0);
        assert!(violet(&t(&[4 * h])) >= 1);
        assert_eq!(violet(&t(&[20 * h])), 0, "outside the range: not drawn");
    }

    #[test]
    fn nothing_to_draw() {
        assert_eq!(line_chart(&[], &[], YFormat::Count, 10, 10).expect("ok"), None);
        let empty = [(1, None)];
        assert_eq!(
            line_chart(&[Line { points: &empty }], &[], YFormat::Percent, 10, 10).expect("ok"),
            None
        );
    }

    #[test]
    fn timeline_draws_threshold_and_spans() {
        let h = 3_600_000;
        let pts: Vec<(i64, f64)> = (0..10).map(|i| (i * h, 0.95 - 0.02 * i as f64)).collect();
        let svg = timeline_chart(
            &pts,
            Some(0.9),
            &[(3 * h, 5 * h, false), (5 * h, 9 * h, true)],
            &[],
            YFormat::Percent,
            (0, 9 * h),
            chrono_tz::UTC,
        )
        .expect("chart")
        .expect("svg");
        assert!(svg.contains("<polyline"), "the series is drawn");
        // x labels are MM-DD HH:MM in the given zone (1970-01-01, hours 00–09).
        let label = regex::Regex::new(r"01-01 0\d:\d\d").expect("regex");
        assert!(label.is_match(&svg), "hours on x");
        // Two shaded spans (amber then red) behind the line.
        let rects = svg.matches("<rect").count();
        assert!(rects >= 3, "background + two spans, got {rects}");
        assert!(timeline_chart(&[], None, &[], &[], YFormat::Count, (0, h), chrono_tz::UTC)
            .expect("ok")
            .is_none());
    }

    #[test]
    fn y_labels() {
        assert_eq!(y_label(0.256, YFormat::Percent), "26%");
        assert_eq!(y_label(12_600.0, YFormat::Count), "13k");
        assert_eq!(y_label(2_500_000.0, YFormat::Count), "2.5M");
        assert_eq!(y_label(240.0, YFormat::Millis), "240 ms");
    }
}
