//! `kiosk report --html`: the funnel as one self-contained HTML file an author opens on a
//! phone or a laptop. Inline SVG and CSS, no script, nothing loaded from elsewhere. Every
//! chart says what it shows in text too (a caption and `role="img"` with an
//! `aria-label`), so a screen reader reads the same numbers.

use kiosk::funnel::{Funnel, Steps};
use kiosk::stats;
use maud::{Markup, PreEscaped, html};

const STYLE: &str = "*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1f2328;background:#f6f8fa}main{max-width:56rem;margin:0 auto;padding:1rem}section{background:#fff;\
border:1px solid #d0d7de;border-radius:12px;padding:1rem 1.25rem;margin:1rem 0}h1{font-size:1.5rem;margin:.5rem 0}\
h2{font-size:1.15rem;margin:0 0 .5rem}p{margin:.4rem 0}.muted{color:#59636e;font-size:.9rem}svg{width:100%;max-width:36rem;height:auto;display:block}.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:right;padding:.3rem .4rem;border-bottom:1px solid #eaeef2}\
th:first-child,td:first-child{text-align:left}.verdict{font-weight:600}figure{margin:0}";

fn money(s: &Steps) -> String {
    match s.revenue_text().as_str() {
        "-" => "0".into(),
        text => text.to_owned(),
    }
}

use kiosk::funnel::percent as pct;

/// `1 visitor`, `2 visitors`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A bar's label as it fits beside the bar (the caption has it whole).
fn short(label: &str) -> String {
    if label.chars().count() <= 16 {
        return label.to_owned();
    }
    let cut: String = label.chars().take(15).collect();
    format!("{cut}…")
}

/// Horizontal bars: (label, value, text shown beside the bar).
fn bars(title: &str, rows: &[(String, f64, String)], color: &str) -> Markup {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1e-9);
    let row_h = 28.0;
    let height = row_h * rows.len() as f64 + 8.0;
    let summary: Vec<String> = rows
        .iter()
        .map(|(label, _, text)| format!("{label}: {text}"))
        .collect();
    html! {
        figure {
            svg viewBox={ "0 0 360 " (height) } role="img" aria-label={ (title) ". " (summary.join("; ")) } {
                @for (i, (label, value, text)) in rows.iter().enumerate() {
                    @let y = 4.0 + row_h * i as f64;
                    @let w = (value / max * 140.0).max(if *value > 0.0 { 2.0 } else { 0.0 });
                    text x="0" y=(y + 15.0) font-size="12" fill="#1f2328" { (short(label)) }
                    rect x="110" y=(y) width=(format!("{w:.1}")) height="20" rx="3" fill=(color) {}
                    text x=(format!("{:.1}", 115.0 + w)) y=(y + 15.0) font-size="12" fill="#59636e" { (text) }
                }
            }
            figcaption class="muted" { (summary.join(" · ")) }
        }
    }
}

/// A test's variants: conversion as a dot with its 95% interval as a line, 0–max scale.
use kiosk::funnel::VariantPoint as VariantRow;

fn intervals(title: &str, rows: &[VariantRow]) -> Markup {
    let top = rows
        .iter()
        .filter_map(|r| r.2.map(|(_, h)| h))
        .fold(0.01_f64, f64::max);
    let x = |v: f64| format!("{:.1}", 110.0 + v / top * 220.0);
    let row_h = 30.0;
    let height = row_h * rows.len() as f64 + 24.0;
    let axis_y = 14.0 + row_h * rows.len() as f64;
    html! {
        svg viewBox={ "0 0 360 " (height) } role="img" aria-label=(title) {
            @for (i, (name, rate, ci)) in rows.iter().enumerate() {
                @let y = 14.0 + row_h * i as f64;
                text x="0" y=(format!("{:.1}", y + 4.0)) font-size="12" { (name) }
                @if let Some((l, h)) = ci {
                    line x1=(x(*l)) x2=(x(*h)) y1=(y) y2=(y) stroke="#8c959f" stroke-width="3" {}
                }
                @if let Some(r) = rate {
                    circle cx=(x(*r)) cy=(y) r="6" fill="#0969da" {}
                }
            }
            text x="110" y=(axis_y) font-size="11" fill="#59636e" { "0%" }
            text x="318" y=(axis_y) font-size="11" fill="#59636e" { (pct(top)) }
        }
    }
}

/// The report: the period's revenue and sales per day, the funnel of each product as
/// bars, each A/B test's conversion with its interval and verdict, the top sources.
/// Made by [`maud::html!`]: every value is escaped; only the stylesheet, a constant, is
/// written unescaped, by name.
pub fn html(f: &Funnel) -> String {
    let period = match (f.from, f.until) {
        (Some(a), Some(b)) => format!("{a} to {b} (UTC)"),
        _ => String::new(),
    };
    let days: Vec<(String, f64, String)> = f
        .by_day
        .iter()
        .map(|(d, s)| {
            (
                d.to_string(),
                s.sales.sales as f64,
                format!("{} sold, {}", s.sales.sales, money(s)),
            )
        })
        .collect();
    let mut sources: Vec<(&(String, String), &Steps)> = f.by_source.iter().collect();
    sources.sort_by(|a, b| {
        b.1.visitors
            .cmp(&a.1.visitors)
            .then(b.1.sales.sales.cmp(&a.1.sales.sales))
    });
    let top: Vec<(String, f64, String)> = sources
        .iter()
        .take(10)
        .map(|((p, src), s)| {
            (
                format!("{src} ({p})"),
                s.visitors as f64,
                format!(
                    "{}, {} converted, {} paid",
                    count(s.visitors, "visitor", "visitors"),
                    s.converted(),
                    s.sales.sales
                ),
            )
        })
        .collect();
    html! {
        (PreEscaped("<!doctype html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { "Shop report " (period) }
                style { (PreEscaped(STYLE)) }
            }
            body { main {
                h1 { "Your shop, " (period) }
                @if f.by_product.is_empty() {
                    section { p { "No visitors or orders in this period." } }
                }
                @if !days.is_empty() {
                    section { h2 { "Sales per day" } (bars("Sales per day", &days, "#1a7f37")) }
                }
                @for (product, s) in &f.by_product {
                    section {
                        h2 { (product) }
                        p {
                            "Revenue " (money(s)) " (net of refunds)"
                            @if let Some(v) = s.sales.per_visitor(s.visitors) {
                                ", " (kiosk::sales::per_visitor_text(v)) " per visitor"
                            }
                            "; refunds " (s.sales.refunds) "."
                        }
                        (bars(&format!("Funnel of {product}"), &funnel_rows(s), "#0969da"))
                    }
                }
                @for ((product, test), variants) in &f.tests {
                    @let model = kiosk::funnel::ab_table(variants);
                    section {
                        h2 { "A/B test " (test) " on " (product) }
                        (intervals(&format!("Conversion of each variant of {test}, with its 95% interval"), &model.points))
                        div class="scroll" { table {
                            tr { @for c in kiosk::funnel::AB_COLUMNS { th { (c) } } }
                            @for r in &model.rows { tr { @for c in r { td { (c) } } } }
                        } }
                        @for v in &model.verdicts { p class="verdict" { (v) } }
                        p class="muted" { (stats::PEEKING_WARNING) }
                    }
                }
                @if !top.is_empty() {
                    section { h2 { "Top sources" } (bars("Top sources by visitors", &top, "#8250df")) }
                }
            } }
        }
    }
    .into_string()
}

/// A product's funnel steps as bars.
fn funnel_rows(s: &Steps) -> Vec<(String, f64, String)> {
    [
        ("Visitors", s.visitors),
        ("Checkouts", s.checkouts),
        ("Converted", s.converted()),
        ("Paid", s.sales.sales),
        ("Downloaded", s.downloaded),
    ]
    .into_iter()
    .map(|(label, n)| (label.to_owned(), n as f64, n.to_string()))
    .collect()
}
