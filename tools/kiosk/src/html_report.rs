//! `kiosk report --html`: the funnel as one self-contained HTML file an author opens on a
//! phone or a laptop. Inline SVG and CSS, no script, nothing loaded from elsewhere. Every
//! chart says what it shows in text too (a caption and `role="img"` with an
//! `aria-label`), so a screen reader reads the same numbers.

use kiosk::funnel::{Funnel, Steps};
use kiosk::stats;
use kiosk::text::html_escape as e;

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
fn bars(title: &str, rows: &[(String, f64, String)], color: &str) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1e-9);
    let row_h = 28.0;
    let height = row_h * rows.len() as f64 + 8.0;
    let summary: Vec<String> = rows
        .iter()
        .map(|(label, _, text)| format!("{label}: {text}"))
        .collect();
    let mut svg = format!(
        "<svg viewBox=\"0 0 360 {height}\" role=\"img\" aria-label=\"{label}\">",
        label = e(&format!("{title}. {}", summary.join("; ")))
    );
    for (i, (label, value, text)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (value / max * 140.0).max(if *value > 0.0 { 2.0 } else { 0.0 });
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{ty}\" font-size=\"12\" fill=\"#1f2328\">{label}</text>\
             <rect x=\"110\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" rx=\"3\" fill=\"{color}\"></rect>\
             <text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"12\" fill=\"#59636e\">{text}</text>",
            ty = y + 15.0,
            tx = 115.0 + w,
            label = e(&short(label)),
            text = e(text),
        ));
    }
    svg.push_str("</svg>");
    format!(
        "<figure>{svg}<figcaption class=\"muted\">{}</figcaption></figure>",
        e(&summary.join(" · "))
    )
}

/// A test's variants: conversion as a dot with its 95% interval as a line, 0–max scale.
use kiosk::funnel::VariantPoint as VariantRow;

fn intervals(title: &str, rows: &[VariantRow]) -> String {
    let top = rows
        .iter()
        .filter_map(|r| r.2.map(|(_, h)| h))
        .fold(0.01_f64, f64::max);
    let x = |v: f64| 110.0 + v / top * 220.0;
    let row_h = 30.0;
    let height = row_h * rows.len() as f64 + 24.0;
    let mut svg = format!(
        "<svg viewBox=\"0 0 360 {height}\" role=\"img\" aria-label=\"{}\">",
        e(title)
    );
    for (i, (name, rate, ci)) in rows.iter().enumerate() {
        let y = 14.0 + row_h * i as f64;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            y + 4.0,
            e(name)
        ));
        if let Some((l, h)) = ci {
            svg.push_str(&format!(
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#8c959f\" stroke-width=\"3\"></line>",
                x(*l),
                x(*h)
            ));
        }
        if let Some(r) = rate {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{y}\" r=\"6\" fill=\"#0969da\"></circle>",
                x(*r)
            ));
        }
    }
    let axis_y = 14.0 + row_h * rows.len() as f64;
    svg.push_str(&format!(
        "<text x=\"110\" y=\"{axis_y}\" font-size=\"11\" fill=\"#59636e\">0%</text>\
         <text x=\"318\" y=\"{axis_y}\" font-size=\"11\" fill=\"#59636e\">{}</text></svg>",
        pct(top)
    ));
    svg
}

/// The report: the period's revenue and sales per day, the funnel of each product as
/// bars, each A/B test's conversion with its interval and verdict, the top sources.
pub fn html(f: &Funnel) -> String {
    let period = match (f.from, f.until) {
        (Some(a), Some(b)) => format!("{a} to {b} (UTC)"),
        _ => String::new(),
    };
    let mut body = format!("<h1>Your shop, {}</h1>", e(&period));
    if f.by_product.is_empty() {
        body.push_str("<section><p>No visitors or orders in this period.</p></section>");
    }
    if !f.by_day.is_empty() {
        let rows: Vec<(String, f64, String)> = f
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
        body.push_str(&format!(
            "<section><h2>Sales per day</h2>{}</section>",
            bars("Sales per day", &rows, "#1a7f37")
        ));
    }
    for (product, s) in &f.by_product {
        let rows = vec![
            (
                "Visitors".to_owned(),
                s.visitors as f64,
                s.visitors.to_string(),
            ),
            (
                "Checkouts".to_owned(),
                s.checkouts as f64,
                s.checkouts.to_string(),
            ),
            (
                "Converted".to_owned(),
                s.converted() as f64,
                s.converted().to_string(),
            ),
            (
                "Paid".to_owned(),
                s.sales.sales as f64,
                s.sales.sales.to_string(),
            ),
            (
                "Downloaded".to_owned(),
                s.downloaded as f64,
                s.downloaded.to_string(),
            ),
        ];
        body.push_str(&format!(
            "<section><h2>{p}</h2><p>Revenue {m} (net of refunds){pv}; refunds {r}.</p>{chart}</section>",
            p = e(product),
            m = e(&money(s)),
            pv = s
                .sales
                .per_visitor(s.visitors)
                .map(|v| format!(", {} per visitor", e(&kiosk::sales::per_visitor_text(v))))
                .unwrap_or_default(),
            r = s.sales.refunds,
            chart = bars(&format!("Funnel of {product}"), &rows, "#0969da"),
        ));
    }
    for ((product, test), variants) in &f.tests {
        let model = kiosk::funnel::ab_table(variants);
        let mut table = String::from("<div class=\"scroll\"><table><tr>");
        for c in kiosk::funnel::AB_COLUMNS {
            table.push_str(&format!("<th>{}</th>", e(c)));
        }
        table.push_str("</tr>");
        for r in &model.rows {
            table.push_str("<tr>");
            for c in r {
                table.push_str(&format!("<td>{}</td>", e(c)));
            }
            table.push_str("</tr>");
        }
        let rows = model.points;
        table.push_str("</table></div>");
        let verdicts: String = model
            .verdicts
            .iter()
            .map(|v| format!("<p class=\"verdict\">{}</p>", e(v)))
            .collect();
        body.push_str(&format!(
            "<section><h2>A/B test {t} on {p}</h2>{chart}{table}{verdicts}<p class=\"muted\">{warn}</p></section>",
            t = e(test),
            p = e(product),
            chart = intervals(&format!("Conversion of each variant of {test}, with its 95% interval"), &rows),
            warn = e(stats::PEEKING_WARNING),
        ));
    }
    let mut sources: Vec<(&(String, String), &Steps)> = f.by_source.iter().collect();
    sources.sort_by(|a, b| {
        b.1.visitors
            .cmp(&a.1.visitors)
            .then(b.1.sales.sales.cmp(&a.1.sales.sales))
    });
    if !sources.is_empty() {
        let rows: Vec<(String, f64, String)> = sources
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
        body.push_str(&format!(
            "<section><h2>Top sources</h2>{}</section>",
            bars("Top sources by visitors", &rows, "#8250df")
        ));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Shop report {period}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        period = e(&period),
    )
}
