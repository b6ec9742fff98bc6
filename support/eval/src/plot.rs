//! The figures, drawn with plotters' SVG backend: `fig1b.svg` (the paper's Figure 1(b): achieved
//! throughput against offered load with the throughput = load diagonal, and CPU against offered
//! load below it, one series per configuration) and `fig1a.svg` (Figure 1(a): the execution
//! profile as one bar per category) when a profile was measured.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::results::{ConfigKey, ProfileRow, Row};
use crate::summary::configs;

/// Name of the diagonal in the legend.
pub const DIAGONAL: &str = "throughput = load";

const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x4e, 0xb4), // sel4 (system.xml's hold-off): blue
    RGBColor(0x2a, 0xa0, 0xd8), // sel4 at hold-off 0: light blue
    RGBColor(0x2c, 0x9a, 0x3c), // co-located: green
    RGBColor(0xc8, 0x2a, 0x2a), // linux: red
    RGBColor(0x8e, 0x44, 0xad), // without VT-d: purple
    RGBColor(0xd3, 0x84, 0x0b), // anything else: orange
];

fn colour(k: &ConfigKey) -> RGBColor {
    if k.system == "linux" {
        PALETTE[3]
    } else if k.system == "sel4-colocated" {
        PALETTE[2]
    } else if k.system == "sel4-noiommu" {
        PALETTE[4]
    } else if k.holdoff_us == Some(0) {
        PALETTE[1]
    } else if k.system == "sel4" {
        PALETTE[0]
    } else {
        PALETTE[5]
    }
}

fn points(rows: &[Row], k: &ConfigKey, y: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> =
        rows.iter().filter(|r| r.key() == *k).filter_map(|r| y(r).map(|v| (r.offered_mbps, v))).collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p
}

/// Draws `fig1b.svg` at `path` from the results.
pub fn fig1b(rows: &[Row], path: &Path) -> Result<(), String> {
    draw_fig1b(rows, path).map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

fn draw_fig1b(rows: &[Row], path: &Path) -> Result<(), Box<dyn Error>> {
    if rows.is_empty() {
        return Err("there are no results to plot".into());
    }
    let keys = configs(rows);
    let xmax = rows.iter().map(|r| r.offered_mbps).fold(10.0, f64::max) * 1.05;
    let ymax = rows.iter().map(|r| r.achieved_mbps).fold(xmax, f64::max);
    let root = SVGBackend::new(path, (900, 960)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(520);

    let mut chart = ChartBuilder::on(&top)
        .caption("Figure 1(b): UDP echo, 1024-byte payload (QEMU TCG)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart.configure_mesh().x_desc("offered load (Mb/s)").y_desc("achieved throughput (Mb/s)").draw()?;
    let grey = RGBColor(0x80, 0x80, 0x80);
    chart
        .draw_series(LineSeries::new(vec![(0.0, 0.0), (xmax, xmax)], grey.stroke_width(1)))?
        .label(DIAGONAL)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    for k in &keys {
        let c = colour(k);
        let p = points(rows, k, |r| Some(r.achieved_mbps));
        chart
            .draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))?
            .label(k.label())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(p.into_iter().map(|q| Circle::new(q, 3, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    let mut cpu = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..xmax, 0f64..100f64)?;
    cpu.configure_mesh().x_desc("offered load (Mb/s)").y_desc("CPU utilisation (%)").draw()?;
    let mut any = false;
    for k in &keys {
        let p = points(rows, k, |r| r.cpu_pct);
        if p.is_empty() {
            continue;
        }
        any = true;
        let c = colour(k);
        cpu.draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))?
            .label(format!("{} CPU", k.label()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        cpu.draw_series(p.into_iter().map(|q| TriangleMarker::new(q, 4, c.filled())))?;
    }
    let missing: Vec<String> =
        keys.iter().filter(|k| points(rows, k, |r| r.cpu_pct).is_empty()).map(|k| k.label()).collect();
    if any {
        cpu.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    if !missing.is_empty() {
        bottom.draw(&Text::new(
            format!("CPU not measured: {}", missing.join(", ")),
            (90, 30),
            ("sans-serif", 15).into_font().color(&BLACK),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// Draws `fig1a.svg` at `path`: one horizontal bar per profile category.
pub fn fig1a(profile: &[ProfileRow], path: &Path) -> Result<(), String> {
    draw_fig1a(profile, path).map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

fn draw_fig1a(profile: &[ProfileRow], path: &Path) -> Result<(), Box<dyn Error>> {
    if profile.is_empty() {
        return Err("the profile has no categories".into());
    }
    let n = profile.len();
    let xmax = profile.iter().map(|r| r.share_pct).fold(10.0, f64::max) * 1.15;
    let height = 120 + 36 * n as u32;
    let root = SVGBackend::new(path, (800, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<String> = profile.iter().map(|r| r.category.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Figure 1(a): execution profile (share of cycles)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(120)
        .build_cartesian_2d(0f64..xmax, (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("share of all cycles (%)")
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    chart.draw_series(profile.iter().enumerate().map(|(i, r)| {
        let c = if r.category.eq_ignore_ascii_case("Idle") { RGBColor(0xb0, 0xb0, 0xb0) } else { PALETTE[0] };
        let mut bar =
            Rectangle::new([(0.0, SegmentValue::Exact(i)), (r.share_pct, SegmentValue::Exact(i + 1))], c.filled());
        bar.set_margin(6, 6, 0, 0);
        bar
    }))?;
    chart.draw_series(profile.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!("{:.1}%", r.share_pct),
            (r.share_pct + xmax * 0.01, SegmentValue::CenterOf(i)),
            ("sans-serif", 14),
        )
    }))?;
    root.present()?;
    Ok(())
}
