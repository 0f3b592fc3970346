//! Charts and maps as SVG text, drawn by the project (no library, no script, no network):
//! bars with CI whiskers, stacked bars, lines with a CI band and a zero line, and a map of
//! zones coloured by a value with counting points sized by ÅDT.
//!
//! Every element that draws a data value carries `class="mark"`: a bar, a segment of a
//! stacked bar, a line's polyline (one mark per point of it), a zone with a value, a counting
//! point. Gridlines, whiskers, CI bands, legends, outlines and clip rectangles do not, so the
//! browser test of the report can count the data each chart really draws.

use std::fmt::Write;

use geo::{BoundingRect, MultiPolygon};

/// The palette (colour-blind safe, Okabe–Ito).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

/// Escapes text for SVG/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How numbers are written for people: the decimal mark (a point in English; a comma in
/// bokmål, as Språkrådet writes it) and a thin space between thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decimal {
    /// `1 234.5`
    #[default]
    Point,
    /// `1 234,5`
    Comma,
}

impl Decimal {
    /// `v` with `digits` decimals; `–` when it is not finite.
    ///
    /// ```
    /// use mobility_report::svg::Decimal;
    /// assert_eq!(Decimal::Comma.num(1234.56, 1), "1\u{2009}234,6");
    /// assert_eq!(Decimal::Point.num(-0.25, 2), "−0.25");
    /// ```
    pub fn num(self, v: f64, digits: usize) -> String {
        if !v.is_finite() {
            return "–".into();
        }
        let s = format!("{:.*}", digits, v.abs());
        let (int, frac) = s
            .split_once('.')
            .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push('\u{2009}');
            }
            out.push(c);
        }
        if let Some(f) = frac {
            out.push(match self {
                Decimal::Point => '.',
                Decimal::Comma => ',',
            });
            out.push_str(f);
        }
        if v < 0.0 { format!("−{out}") } else { out }
    }
}

/// A number for people with a decimal point ([`Decimal::num`]).
pub fn num(v: f64, digits: usize) -> String {
    Decimal::Point.num(v, digits)
}

/// One bar: label, estimate, CI, and whether it is suppressed (drawn pale).
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub suppressed: bool,
}

/// Horizontal bars with CI whiskers; `scale` turns values into shown numbers (100 for %).
pub fn bars(bars: &[Bar], scale: f64, unit: &str, digits: usize, dec: Decimal) -> String {
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0) as f64;
    let (w, row, right) = (640.0, 26.0, 90.0);
    let left = (longest * 7.0 + 12.0).clamp(80.0, 330.0);
    let h = row * bars.len() as f64 + 30.0;
    let max = bars
        .iter()
        .map(|b| b.hi.unwrap_or(b.value).max(b.value))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let x = |v: f64| left + (w - left - right) * (v / max).clamp(0.0, 1.0);
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 10.0 + row * i as f64;
        let fill = if b.suppressed { "#bbbbbb" } else { PALETTE[0] };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><rect class="mark" x="{left}" y="{y}" width="{:.1}" height="{}" fill="{fill}"><title>{}: {} {unit}</title></rect>"#,
            left - 6.0,
            y + 15.0,
            esc(&b.label),
            x(b.value) - left,
            row - 8.0,
            esc(&b.label),
            dec.num(b.value * scale, digits)
        );
        if let (Some(lo), Some(hi)) = (b.lo, b.hi) {
            let ym = y + (row - 8.0) / 2.0;
            let _ = write!(
                s,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{ym}" y2="{ym}" stroke="#333" stroke-width="1.5"/><line x1="{:.1}" x2="{:.1}" y1="{}" y2="{}" stroke="#333"/><line x1="{:.1}" x2="{:.1}" y1="{}" y2="{}" stroke="#333"/>"##,
                x(lo.max(0.0)),
                x(hi),
                x(lo.max(0.0)),
                x(lo.max(0.0)),
                ym - 5.0,
                ym + 5.0,
                x(hi),
                x(hi),
                ym - 5.0,
                ym + 5.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="12">{}{}</text>"#,
            x(b.hi.unwrap_or(b.value).max(b.value)) + 6.0,
            y + 15.0,
            dec.num(b.value * scale, digits),
            if b.suppressed { " *" } else { "" }
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked horizontal bars of shares (each row sums to about 1), with a legend.
pub fn stacked(rows: &[(String, Vec<f64>)], series: &[String], dec: Decimal) -> String {
    let (w, row, left) = (640.0, 24.0, 90.0);
    let legend_rows = series.len().div_ceil(4);
    let h = row * rows.len() as f64 + 20.0 + 18.0 * legend_rows as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, (label, shares)) in rows.iter().enumerate() {
        let y = 6.0 + row * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text>"#,
            left - 6.0,
            y + 14.0,
            esc(label)
        );
        let mut x0 = left;
        for (k, v) in shares.iter().enumerate() {
            let wd = (w - left - 10.0) * v.max(0.0);
            let _ = write!(
                s,
                r#"<rect class="mark" x="{x0:.1}" y="{y}" width="{wd:.1}" height="{}" fill="{}"><title>{}: {} %</title></rect>"#,
                row - 6.0,
                PALETTE[k % PALETTE.len()],
                esc(&series[k]),
                dec.num(v * 100.0, 1)
            );
            x0 += wd;
        }
    }
    let ly = 10.0 + row * rows.len() as f64;
    for (k, name) in series.iter().enumerate() {
        let (lx, lyy) = (left + 140.0 * (k % 4) as f64, ly + 18.0 * (k / 4) as f64);
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{lyy}" width="12" height="12" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            PALETTE[k % PALETTE.len()],
            lx + 16.0,
            lyy + 11.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A line series: name, values by x, and an optional CI band.
pub struct Line {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub band: Option<Vec<Option<(f64, f64)>>>,
}

/// Lines over labelled x positions, with a CI band, a zero line if zero is in range, and a
/// legend.
pub fn lines(x_labels: &[String], lines: &[Line], y_unit: &str, dec: Decimal) -> String {
    let axes = LineAxes::new(x_labels.len(), lines);
    let (w, h) = (axes.w, axes.h);
    let legend = 18.0 * lines.len().div_ceil(3) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">"#,
        h + legend
    );
    axes.draw_axes(&mut s, x_labels, y_unit, dec);
    for (k, l) in lines.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        if let Some(band) = &l.band {
            axes.draw_band(&mut s, band, colour);
        }
        axes.draw_line(&mut s, &l.values, colour);
        axes.draw_legend_entry(&mut s, k, &l.name, colour);
    }
    s.push_str("</svg>");
    s
}

/// The frame of a [`lines`] chart: the plot area in pixels, the number of x positions and the
/// y range with its tick step.
struct LineAxes {
    w: f64,
    h: f64,
    left: f64,
    bottom: f64,
    top: f64,
    /// The number of x positions, at least 2.
    n: usize,
    lo: f64,
    hi: f64,
    step: f64,
}

impl LineAxes {
    /// The frame for `n_x` x positions and the values and bands of `lines`.
    fn new(n_x: usize, lines: &[Line]) -> Self {
        let (w, h, left, bottom, top) = (640.0, 260.0, 56.0, 40.0, 12.0);
        let (lo, hi, step) = y_range(lines);
        let n = n_x.max(2);
        LineAxes {
            w,
            h,
            left,
            bottom,
            top,
            n,
            lo,
            hi,
            step,
        }
    }

    /// The x pixel of the `i`-th x position.
    fn x(&self, i: usize) -> f64 {
        let LineAxes { w, left, n, .. } = *self;
        left + (w - left - 10.0) * i as f64 / (n - 1) as f64
    }

    /// The y pixel of the value `v`.
    fn y(&self, v: f64) -> f64 {
        let LineAxes {
            h,
            bottom,
            top,
            lo,
            hi,
            ..
        } = *self;
        top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo))
    }

    /// The gridlines with their tick labels, the zero line when zero is inside the range, the
    /// x labels (about seven at most) and the y unit.
    fn draw_axes(&self, s: &mut String, x_labels: &[String], y_unit: &str, dec: Decimal) {
        let LineAxes {
            w,
            h,
            left,
            bottom,
            top,
            lo,
            hi,
            step,
            ..
        } = *self;
        let px = |i: usize| self.x(i);
        let py = |v: f64| self.y(v);
        let ticks = ((hi - lo) / step).round() as usize;
        for k in 0..=ticks {
            let v = lo + step * k as f64;
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                w - 10.0,
                left - 4.0,
                py(v) + 4.0,
                dec.num(v, if step < 1.0 { 1 } else { 0 }),
                y = py(v)
            );
        }
        if lo < 0.0 && hi > 0.0 {
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#000" stroke-width="1.2"/>"##,
                w - 10.0,
                y = py(0.0)
            );
        }
        let every = x_labels.len().div_ceil(7).max(1);
        for (i, l) in x_labels.iter().enumerate().step_by(every) {
            let anchor = if i + 1 == x_labels.len() && i > 0 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="{anchor}" font-size="11">{}</text>"#,
                px(i),
                h - bottom + 16.0,
                esc(l)
            );
        }
        let _ = write!(
            s,
            r#"<text x="4" y="{}" font-size="11">{}</text>"#,
            top + 2.0,
            esc(y_unit)
        );
    }

    /// A line's CI band: a closed path along the highs and back along the lows of the x
    /// positions that have one; nothing when none has.
    fn draw_band(&self, s: &mut String, band: &[Option<(f64, f64)>], colour: &str) {
        let px = |i: usize| self.x(i);
        let py = |v: f64| self.y(v);
        let pts: Vec<(usize, (f64, f64))> = band
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.map(|b| (i, b)))
            .collect();
        if !pts.is_empty() {
            let mut d = String::new();
            for (j, (i, (_, b))) in pts.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if j == 0 { "M" } else { "L" },
                    px(*i),
                    py(*b)
                );
            }
            for (i, (a, _)) in pts.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", px(*i), py(*a));
            }
            let _ = write!(
                s,
                r#"<path d="{d}Z" fill="{colour}" fill-opacity="0.18" stroke="none"/>"#
            );
        }
    }

    /// A line's values as one polyline (the data mark), with a dot on each point when there
    /// are fewer than 16.
    fn draw_line(&self, s: &mut String, values: &[Option<f64>], colour: &str) {
        let px = |i: usize| self.x(i);
        let py = |v: f64| self.y(v);
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", px(i), py(v))))
            .collect();
        if !pts.is_empty() {
            let _ = write!(
                s,
                r#"<polyline class="mark" points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
        if pts.len() < 16 {
            for p in &pts {
                let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>"#);
            }
        }
    }

    /// The legend entry of the `k`-th line, three to a row below the plot.
    fn draw_legend_entry(&self, s: &mut String, k: usize, name: &str, colour: &str) {
        let LineAxes { h, left, .. } = *self;
        let (lx, ly) = (
            left + 190.0 * (k % 3) as f64,
            h + 4.0 + 18.0 * (k / 3) as f64,
        );
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            lx + 16.0,
            ly + 11.0,
            esc(name)
        );
    }
}

/// The y range of a [`lines`] chart and its tick step: over every value and band end, down to
/// zero for positive data whose low is under half its high, up to zero for negative data, 1
/// wide where it would be flat, and widened to whole steps.
fn y_range(lines: &[Line]) -> (f64, f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for l in lines {
        for v in l.values.iter().flatten() {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        for (a, b) in l.band.iter().flatten().flatten() {
            lo = lo.min(*a);
            hi = hi.max(*b);
        }
    }
    if !lo.is_finite() {
        lo = 0.0;
        hi = 1.0;
    }
    if lo < 0.0 && hi < 0.0 {
        hi = 0.0;
    }
    if lo > 0.0 && lo < hi * 0.5 {
        // Volumes and other positive data start at zero.
        lo = 0.0;
    }
    if (hi - lo).abs() < 1e-9 {
        hi = lo + 1.0;
    }
    let step = nice_step((hi - lo) / 4.0);
    let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    (lo, hi, step)
}

/// A round step (1, 2 or 5 × 10ᵏ) near `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    p * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A zone on the map: its outline, a value (or none) and whether the value is suppressed.
pub struct MapZone {
    pub label: String,
    pub geometry: MultiPolygon<f64>,
    pub value: Option<f64>,
    pub suppressed: bool,
}

/// A point on the map, sized by `size` (e.g. ÅDT).
pub struct MapPoint {
    pub label: String,
    pub lon: f64,
    pub lat: f64,
    pub size: f64,
}

/// An SVG path of a multipolygon's rings (the holes too when `holes`), projected by `px`, `py`.
fn outline(
    g: &MultiPolygon<f64>,
    holes: bool,
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) -> String {
    let mut d = String::new();
    for poly in &g.0 {
        let rings =
            std::iter::once(poly.exterior()).chain(poly.interiors().iter().filter(|_| holes));
        for ring in rings {
            for (i, c) in ring.coords().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    px(c.x),
                    py(c.y)
                );
            }
            d.push('Z');
        }
    }
    d
}

/// A flow between two places on a flow map: a line whose width grows with `value`.
pub struct FlowLine {
    pub label: String,
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub value: f64,
    pub suppressed: bool,
}

/// A flow map: zone outlines as background, each flow a line from its origin to its
/// destination (lon/lat, the same projection as [`map`]) with a width proportional to the
/// square root of its value (so areas, not widths, compare) and an arrowhead; suppressed flows
/// dashed. Every line is a data mark.
pub fn flows(zones: &[MapZone], lines: &[FlowLine], unit: &str, dec: Decimal) -> String {
    let mut xs = Vec::new();
    for z in zones {
        if let Some(r) = z.geometry.bounding_rect() {
            xs.push((r.min().x, r.min().y));
            xs.push((r.max().x, r.max().y));
        }
    }
    for l in lines {
        xs.push(l.from);
        xs.push(l.to);
    }
    if lines.is_empty() || xs.is_empty() {
        return String::new();
    }
    let (x0, y0, x1, y1) = xs.iter().fold(
        (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
    );
    let k = ((y0 + y1) / 2.0).to_radians().cos();
    let (bw, bh) = (((x1 - x0) * k).max(1e-9), (y1 - y0).max(1e-9));
    let w = 640.0;
    let map_h = (w * bh / bw).clamp(200.0, 520.0);
    let s_xy = (w / bw).min(map_h / bh);
    let px = |x: f64| (x - x0) * k * s_xy;
    let py = |y: f64| (y1 - y) * s_xy;
    let max = lines.iter().map(|l| l.value).fold(0.0_f64, f64::max);
    let width = |v: f64| 1.0 + 11.0 * (v / max.max(1e-12)).max(0.0).sqrt();
    let h = map_h + 30.0;
    let mut out = format!(
        r##"<svg viewBox="0 0 {w} {h:.0}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#0072B2"/></marker></defs>"##
    );
    for z in zones {
        let d = outline(&z.geometry, false, &px, &py);
        let _ = write!(
            out,
            r##"<path d="{d}" fill="#f7f7f7" stroke="#bbbbbb" stroke-width="0.6"><title>{}</title></path>"##,
            esc(&z.label)
        );
    }
    for z in zones {
        if let Some(c) = geo::Centroid::centroid(&z.geometry) {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
                px(c.x()),
                py(c.y()) + 18.0,
                esc(&z.label)
            );
        }
    }
    let mut order: Vec<&FlowLine> = lines.iter().collect();
    order.sort_by(|a, b| b.value.total_cmp(&a.value));
    for l in order.iter().rev() {
        // Bent a little to the right of the direction of travel, so A→B and B→A both show.
        let (ax, ay, bx, by) = (px(l.from.0), py(l.from.1), px(l.to.0), py(l.to.1));
        let (mx, my) = ((ax + bx) / 2.0, (ay + by) / 2.0);
        let (dx, dy) = (bx - ax, by - ay);
        let (cx, cy) = (mx - dy * 0.12, my + dx * 0.12);
        let dash = if l.suppressed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<path class="mark" d="M{ax:.1},{ay:.1}Q{cx:.1},{cy:.1} {bx:.1},{by:.1}" fill="none" stroke="#0072B2" stroke-opacity="0.75" stroke-width="{:.1}" marker-end="url(#arrow)"{dash}><title>{}: {} {}</title></path>"##,
            width(l.value),
            esc(&l.label),
            dec.num(l.value, 0),
            esc(unit)
        );
    }
    let _ = write!(
        out,
        r##"<text x="4" y="{:.0}" font-size="11" fill="#555">{}: {} {}</text></svg>"##,
        map_h + 20.0,
        esc(&order[0].label),
        dec.num(order[0].value, 0),
        esc(unit)
    );
    out
}

/// A map in an equirectangular projection scaled by cos(latitude): zones coloured on a
/// sequential scale with a legend, suppressed zones hatched, points as circles with area
/// proportional to `size`.
pub fn map(
    zones: &[MapZone],
    points: &[MapPoint],
    legend_title: &str,
    scale: f64,
    digits: usize,
    dec: Decimal,
) -> String {
    let Some(b) = map_bounds(zones, points) else {
        return String::new();
    };
    let frame = MapFrame::new(b);
    let values: Vec<f64> = zones
        .iter()
        .filter(|z| !z.suppressed)
        .filter_map(|z| z.value)
        .collect();
    let colours = ColourScale::new(&values);
    let (w, map_h) = (frame.w, frame.map_h);
    let h = map_h + 50.0;
    let mut s = format!(
        r##"<svg viewBox="0 0 {w} {h:.0}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg"><clipPath id="mapclip"><rect width="{w}" height="{map_h:.0}"/></clipPath><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>"##
    );
    map_zones(&mut s, zones, &frame, &colours, scale, digits, dec);
    map_points(&mut s, points, &frame, dec);
    if !values.is_empty() {
        map_legend(&mut s, legend_title, &colours, map_h, scale, digits, dec);
    }
    s.push_str("</svg>");
    s
}

/// `b` grown to cover `r`, or `r` when there is no `b` yet.
fn cover(b: Option<geo::Rect<f64>>, r: geo::Rect<f64>) -> geo::Rect<f64> {
    match b {
        None => r,
        Some(b) => geo::Rect::new(
            geo::coord! { x: b.min().x.min(r.min().x), y: b.min().y.min(r.min().y) },
            geo::coord! { x: b.max().x.max(r.max().x), y: b.max().y.max(r.max().y) },
        ),
    }
}

/// What a [`map`] shows, in lon/lat: the points with a margin when there are any (zones beyond
/// them are clipped), else all the zones; `None` when there is nothing to show.
fn map_bounds(zones: &[MapZone], points: &[MapPoint]) -> Option<geo::Rect<f64>> {
    let mut bbox: Option<geo::Rect<f64>> = None;
    for z in zones.iter().filter(|_| points.is_empty()) {
        if let Some(r) = z.geometry.bounding_rect() {
            bbox = Some(cover(bbox, r));
        }
    }
    for p in points {
        let r = geo::Rect::new(
            geo::coord! { x: p.lon, y: p.lat },
            geo::coord! { x: p.lon, y: p.lat },
        );
        bbox = Some(cover(bbox, r));
    }
    let mut b = bbox?;
    if !points.is_empty() {
        // Around the points, with a margin; zones beyond are clipped by the view box.
        let (dx, dy) = (
            ((b.max().x - b.min().x) * 0.15).max(0.02),
            ((b.max().y - b.min().y) * 0.15).max(0.01),
        );
        b = geo::Rect::new(
            geo::coord! { x: b.min().x - dx, y: b.min().y - dy },
            geo::coord! { x: b.max().x + dx, y: b.max().y + dy },
        );
    }
    Some(b)
}

/// The projection of a [`map`]: lon/lat to pixels, x scaled by cos(latitude) at the middle of
/// the bounds, fitted into a 640 pixel wide map whose height follows the bounds (200 to 520).
struct MapFrame {
    /// The west edge of the bounds (lon).
    west: f64,
    /// The north edge of the bounds (lat).
    north: f64,
    /// cos(latitude) at the middle of the bounds.
    k: f64,
    /// Pixels per degree of latitude.
    s_xy: f64,
    /// The width of the map in pixels.
    w: f64,
    /// The height of the map in pixels (the legend comes below).
    map_h: f64,
}

impl MapFrame {
    /// The projection that fits `b` (lon/lat) into the map.
    fn new(b: geo::Rect<f64>) -> Self {
        let k = ((b.min().y + b.max().y) / 2.0).to_radians().cos();
        let (bw, bh) = (
            ((b.max().x - b.min().x) * k).max(1e-9),
            (b.max().y - b.min().y).max(1e-9),
        );
        let w = 640.0;
        let map_h = (w * bh / bw).clamp(200.0, 520.0);
        let s_xy = (w / bw).min(map_h / bh);
        MapFrame {
            west: b.min().x,
            north: b.max().y,
            k,
            s_xy,
            w,
            map_h,
        }
    }

    /// The x pixel of the longitude `x`.
    fn x(&self, x: f64) -> f64 {
        (x - self.west) * self.k * self.s_xy
    }

    /// The y pixel of the latitude `y`.
    fn y(&self, y: f64) -> f64 {
        (self.north - y) * self.s_xy
    }
}

/// The sequential colour scale of a [`map`]: white-ish at the smallest value to deep blue at
/// the largest (the middle colour when they are equal).
struct ColourScale {
    vmin: f64,
    vmax: f64,
}

impl ColourScale {
    /// The scale over `values` (infinite bounds when there are none).
    fn new(values: &[f64]) -> Self {
        let (vmin, vmax) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, c), v| {
                (a.min(*v), c.max(*v))
            });
        ColourScale { vmin, vmax }
    }

    /// The colour of `v`, as `#rrggbb`.
    fn colour(&self, v: f64) -> String {
        let ColourScale { vmin, vmax } = *self;
        let t = if vmax > vmin {
            (v - vmin) / (vmax - vmin)
        } else {
            0.5
        };
        // White-ish to deep blue.
        let lerp = |a: f64, c: f64| (a + (c - a) * t).round() as u8;
        format!(
            "#{:02x}{:02x}{:02x}",
            lerp(239.0, 8.0),
            lerp(243.0, 69.0),
            lerp(255.0, 148.0)
        )
    }
}

/// The zones of a [`map`], clipped to it: coloured by value (a data mark), hatched when
/// suppressed, pale background when without a value; each with its label and value as title.
fn map_zones(
    s: &mut String,
    zones: &[MapZone],
    frame: &MapFrame,
    colours: &ColourScale,
    scale: f64,
    digits: usize,
    dec: Decimal,
) {
    let px = |x: f64| frame.x(x);
    let py = |y: f64| frame.y(y);
    for z in zones {
        let d = outline(&z.geometry, true, &px, &py);
        // Outlines without a value are background, not data.
        let class = if z.value.is_some() {
            r#" class="mark""#
        } else {
            ""
        };
        let fill = match (z.value, z.suppressed) {
            (_, true) => "url(#hatch)".to_string(),
            (Some(v), false) => colours.colour(v),
            (None, false) => "#f7f7f7".into(),
        };
        let title = match z.value {
            Some(v) => format!(
                "{}: {}{}",
                z.label,
                dec.num(v * scale, digits),
                if z.suppressed { " *" } else { "" }
            ),
            None => z.label.clone(),
        };
        let _ = write!(
            s,
            r##"<path{class} d="{d}" fill="{fill}" fill-rule="evenodd" stroke="#666" stroke-width="0.6" clip-path="url(#mapclip)"><title>{}</title></path>"##,
            esc(&title)
        );
    }
}

/// The points of a [`map`]: circles (data marks) with area proportional to `size`, each
/// labelled with its name and size, the label left of the point in the right third of the map.
fn map_points(s: &mut String, points: &[MapPoint], frame: &MapFrame, dec: Decimal) {
    let px = |x: f64| frame.x(x);
    let py = |y: f64| frame.y(y);
    let w = frame.w;
    let max_size = points
        .iter()
        .map(|p| p.size)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    for p in points {
        let r = 3.0 + 14.0 * (p.size / max_size).sqrt();
        let _ = write!(
            s,
            r##"<circle class="mark" cx="{:.1}" cy="{:.1}" r="{r:.1}" fill="#D55E00" fill-opacity="0.75" stroke="#fff"><title>{}: {}</title></circle><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="{}">{} {}</text>"##,
            px(p.lon),
            py(p.lat),
            esc(&p.label),
            dec.num(p.size, 0),
            // Labels in the right third of the map stand left of their point.
            if px(p.lon) > w * 0.66 {
                px(p.lon) - r - 3.0
            } else {
                px(p.lon) + r + 3.0
            },
            py(p.lat) + 4.0,
            if px(p.lon) > w * 0.66 { "end" } else { "start" },
            esc(&p.label),
            dec.num(p.size, 0)
        );
    }
}

/// The legend of a [`map`] below it (`map_h` pixels down): its title, five swatches from the
/// smallest value to the largest, and the hatch of suppressed values.
fn map_legend(
    s: &mut String,
    legend_title: &str,
    colours: &ColourScale,
    map_h: f64,
    scale: f64,
    digits: usize,
    dec: Decimal,
) {
    let ColourScale { vmin, vmax } = *colours;
    let ly = map_h + 14.0;
    let _ = write!(
        s,
        r#"<text x="0" y="{}" font-size="12">{}</text>"#,
        ly + 10.0,
        esc(legend_title)
    );
    for i in 0..5 {
        let v = vmin + (vmax - vmin) * i as f64 / 4.0;
        let lx = 200.0 + 70.0 * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{lx}" y="{ly}" width="20" height="12" fill="{}" stroke="#666" stroke-width="0.5"/><text x="{}" y="{}" font-size="11">{}</text>"##,
            colours.colour(v),
            lx + 24.0,
            ly + 10.0,
            dec.num(v * scale, digits)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="560" y="{ly}" width="20" height="12" fill="url(#hatch)" stroke="#666" stroke-width="0.5"/><text x="584" y="{}" font-size="11">*</text>"##,
        ly + 10.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(num(1234567.891, 1), "1\u{2009}234\u{2009}567.9");
        assert_eq!(num(-0.5, 2), "−0.50");
        assert_eq!(num(f64::NAN, 1), "–");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn charts_have_their_marks() {
        let b = bars(
            &[Bar {
                label: "car".into(),
                value: 0.5,
                lo: Some(0.45),
                hi: Some(0.55),
                suppressed: false,
            }],
            100.0,
            "%",
            1,
            Decimal::Point,
        );
        assert!(
            b.contains("<rect") && b.contains("<line") && b.contains("50.0"),
            "{b}"
        );
        let l = lines(
            &["a".into(), "b".into()],
            &[Line {
                name: "x".into(),
                values: vec![Some(-1.0), Some(1.0)],
                band: Some(vec![Some((-2.0, 0.0)), Some((0.0, 2.0))]),
            }],
            "%",
            Decimal::Point,
        );
        assert!(
            l.contains("<polyline") && l.contains("<path") && l.contains(r##"stroke="#000""##),
            "zero line: {l}"
        );
    }

    fn marks(svg: &str) -> usize {
        svg.matches(r#"class="mark""#).count()
    }

    #[test]
    fn only_data_carries_the_mark_class() {
        // Two bars, one with whiskers: two marks; the whiskers and labels are not.
        let b = bars(
            &[
                Bar {
                    label: "car".into(),
                    value: 0.5,
                    lo: Some(0.45),
                    hi: Some(0.55),
                    suppressed: false,
                },
                Bar {
                    label: "bike".into(),
                    value: 0.1,
                    lo: None,
                    hi: None,
                    suppressed: true,
                },
            ],
            100.0,
            "%",
            1,
            Decimal::Point,
        );
        assert_eq!(marks(&b), 2, "{b}");
        // Two rows of three series: six segments; the three legend swatches are not marks.
        let series: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let st = stacked(
            &[
                ("x".into(), vec![0.5, 0.3, 0.2]),
                ("y".into(), vec![0.1, 0.0, 0.9]),
            ],
            &series,
            Decimal::Point,
        );
        assert_eq!(marks(&st), 6, "{st}");
        // Two lines (one with a gap) and a band: one polyline each, gridlines and band are not.
        let l = lines(
            &["a".into(), "b".into(), "c".into()],
            &[
                Line {
                    name: "x".into(),
                    values: vec![Some(1.0), None, Some(3.0)],
                    band: Some(vec![Some((0.0, 2.0)), None, Some((2.0, 4.0))]),
                },
                Line {
                    name: "y".into(),
                    values: vec![Some(2.0), Some(2.5), Some(2.0)],
                    band: None,
                },
            ],
            "%",
            Decimal::Point,
        );
        assert_eq!(marks(&l), 2, "{l}");
        assert_eq!(l.matches("<polyline").count(), 2, "{l}");
        // A map: the zone with a value and the point are marks; the outline, the clip
        // rectangle, the hatch pattern and the legend are not.
        let square = |x: f64| {
            MultiPolygon::new(vec![
                geo::Rect::new(
                    geo::coord! { x: x, y: 59.9 },
                    geo::coord! { x: x + 0.1, y: 60.0 },
                )
                .to_polygon(),
            ])
        };
        let m = map(
            &[
                MapZone {
                    label: "1".into(),
                    geometry: square(10.5),
                    value: Some(0.4),
                    suppressed: false,
                },
                MapZone {
                    label: "2".into(),
                    geometry: square(10.6),
                    value: None,
                    suppressed: false,
                },
            ],
            &[MapPoint {
                label: "p".into(),
                lon: 10.55,
                lat: 59.95,
                size: 1000.0,
            }],
            "%",
            100.0,
            0,
            Decimal::Point,
        );
        assert_eq!(marks(&m), 2, "{m}");
    }
}
