//! A mint's charts, drawn on the server as SVG with `plotters` (no JavaScript, no font files: the
//! browser renders the text). Per unit: amounts burnt and issued per day, and the outstanding
//! balance (issued minus burnt, cumulated) at the end of each day. Every chart has a title and a
//! description for screen readers, and the page shows the same figures as a table beside it.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

use super::format;
use crate::read::DayActivity;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 240;
const ISSUED: RGBColor = RGBColor(0x2f, 0x6f, 0xb3);
const BURNT: RGBColor = RGBColor(0xc2, 0x41, 0x0c);
const OUTSTANDING: RGBColor = RGBColor(0x1b, 0x7a, 0x3e);

/// One unit's days, in day order.
#[derive(Debug, Clone)]
pub struct UnitSeries {
    /// The unit.
    pub unit: String,
    /// (day, burnt amount, issued amount, outstanding at the end of the day).
    pub days: Vec<(i64, u128, u128, i128)>,
}

/// Splits [`DayActivity`] rows (sorted by unit, then day) into one series per unit, with the
/// running outstanding balance.
pub fn series(rows: &[DayActivity]) -> Vec<UnitSeries> {
    let mut out: Vec<UnitSeries> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|s| s.unit != r.unit) {
            out.push(UnitSeries {
                unit: r.unit.clone(),
                days: Vec::new(),
            });
        }
        if let Some(s) = out.last_mut() {
            let before = s.days.last().map_or(0, |d| d.3);
            let net = to_i128(r.mint_amount) - to_i128(r.burn_amount);
            s.days.push((
                r.day,
                r.burn_amount,
                r.mint_amount,
                before.saturating_add(net),
            ));
        }
    }
    out
}

fn to_i128(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

/// Axis numbers: `950`, `12k`, `3.4M`.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// The x range of `days`, widened so that a single day sits in the middle.
fn day_range(days: &[i64]) -> std::ops::Range<i64> {
    let first = days.iter().copied().min().unwrap_or(0);
    let last = days.iter().copied().max().unwrap_or(0);
    if first == last {
        first - 1..last + 1
    } else {
        first..last
    }
}

/// A y range over `values` that includes 0, with headroom.
fn value_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1.0 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo < 0.0 { lo - pad } else { lo })..hi + pad
}

type Line<'a> = (&'a str, RGBColor, Vec<(i64, f64)>);

/// One line chart as SVG text, or why plotters could not draw it.
fn draw(lines: &[Line<'_>]) -> Result<String, String> {
    let err = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    let days: Vec<i64> = lines
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|(d, _)| *d))
        .collect();
    let x = day_range(&days);
    let y = value_range(lines.iter().flat_map(|(_, _, p)| p.iter().map(|(_, v)| *v)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|d: &i64| format::day(*d).get(5..).unwrap_or("").to_string())
            .y_label_formatter(&|v: &f64| compact(*v))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        for (name, color, points) in lines {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xcc, 0xcc, 0xcc))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// `svg` with a role, a title and a description for assistive technology.
fn labelled(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return String::new();
    };
    let (open, rest) = svg.split_at(open_end);
    let title = html! { (title) }.into_string();
    let desc = html! { (desc) }.into_string();
    format!(
        "{open} role=\"img\" aria-labelledby=\"{id}-t {id}-d\"><title id=\"{id}-t\">{title}</title>\
         <desc id=\"{id}-d\">{desc}</desc>{}",
        rest.strip_prefix('>').unwrap_or(rest)
    )
}

/// The two charts of one unit, each with its figures as a table, as page markup. `index` makes
/// the element ids unique on the page.
pub fn unit_charts(s: &UnitSeries, index: usize) -> Markup {
    let burnt: Vec<(i64, f64)> = s.days.iter().map(|d| (d.0, d.1 as f64)).collect();
    let issued: Vec<(i64, f64)> = s.days.iter().map(|d| (d.0, d.2 as f64)).collect();
    let outstanding: Vec<(i64, f64)> = s.days.iter().map(|d| (d.0, d.3 as f64)).collect();
    let (first, last) = (
        s.days.first().map_or(0, |d| d.0),
        s.days.last().map_or(0, |d| d.0),
    );
    let span = format!("{} to {}", format::day(first), format::day(last));
    let total_burnt: u128 = s.days.iter().map(|d| d.1).sum();
    let total_issued: u128 = s.days.iter().map(|d| d.2).sum();
    let end = s.days.last().map_or(0, |d| d.3);
    let flows = draw(&[("issued", ISSUED, issued), ("burnt", BURNT, burnt)]).map(|svg| {
        labelled(
            &svg,
            &format!("flow-{index}"),
            &format!("Amounts issued and burnt per day, {}", s.unit),
            &format!(
                "{} days from {span}: {} {} issued and {} {} burnt in all.",
                s.days.len(),
                format::amount(total_issued),
                s.unit,
                format::amount(total_burnt),
                s.unit
            ),
        )
    });
    let balance = draw(&[("outstanding", OUTSTANDING, outstanding)]).map(|svg| {
        labelled(
            &svg,
            &format!("out-{index}"),
            &format!("Outstanding balance over time, {}", s.unit),
            &format!(
                "Issued minus burnt, cumulated from {span}; {} {} at the end.",
                format::thousands(end),
                s.unit
            ),
        )
    });
    html! {
        h3 { "Unit " code { (s.unit) } }
        @match flows {
            Ok(svg) => figure.chart {
                (PreEscaped(svg))
                figcaption { "Amounts issued (blue) and burnt (orange) per UTC day, in " (s.unit) "." }
            },
            Err(why) => p.muted { "The chart could not be drawn: " (why) },
        }
        @match balance {
            Ok(svg) => figure.chart {
                (PreEscaped(svg))
                figcaption { "Outstanding balance (issued minus burnt) at the end of each UTC day, in " (s.unit) "." }
            },
            Err(why) => p.muted { "The chart could not be drawn: " (why) },
        }
        details {
            summary { "The figures of these charts, as a table" }
            div.table-wrap {
                table {
                    caption.muted { "Per UTC day, " (s.unit) }
                    thead { tr { th scope="col" { "Day" } th.num scope="col" { "Issued" } th.num scope="col" { "Burnt" } th.num scope="col" { "Outstanding" } } }
                    tbody {
                        @for (day, b, m, o) in &s.days {
                            tr { td { (format::day(*day)) } td.num { (format::amount(*m)) } td.num { (format::amount(*b)) } td.num { (format::thousands(*o)) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i64, unit: &str, burnt: u128, issued: u128) -> DayActivity {
        DayActivity {
            day,
            unit: unit.into(),
            burn_amount: burnt,
            mint_amount: issued,
        }
    }

    #[test]
    fn outstanding_is_cumulated_per_unit() {
        let s = series(&[
            day(10, "sat", 5, 100),
            day(11, "sat", 50, 10),
            day(10, "usd", 1, 2),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].days, vec![(10, 5, 100, 95), (11, 50, 10, 55)]);
        assert_eq!(s[1].unit, "usd");
        assert_eq!(s[1].days, vec![(10, 1, 2, 1)]);
    }

    #[test]
    fn charts_are_labelled_svg() {
        let s = series(&[day(20_000, "sat", 5, 100), day(20_001, "sat", 50, 10)]);
        let html = unit_charts(&s[0], 0).into_string();
        assert_eq!(html.matches("<svg").count(), 2, "{html}");
        assert!(html.contains("role=\"img\" aria-labelledby=\"flow-0-t flow-0-d\""));
        assert!(html.contains("<title id=\"out-0-t\">Outstanding balance over time, sat</title>"));
        assert!(html.contains("<polyline"), "a line is drawn");
        assert!(html.contains("10-04"), "dates label the x axis");
    }
}
