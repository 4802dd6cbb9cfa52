//! `kiosk funnel`: the visitor funnel (visitors → checkouts → paid → downloaded, with
//! revenue and refunds) per product and source, and each A/B test's variants with their
//! conversion, 95% interval, revenue per visitor, the probability to beat the first
//! variant and a plain verdict.

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use kiosk::funnel::{Funnel, Steps};
use kiosk::stats;
use kiosk::text::printable;
use time::{Date, Duration};

use crate::target::Target;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop funnel\n  kiosk --stack shop funnel --product little-book --since 2026-11-01 --test headline"
)]
pub struct FunnelArgs {
    /// Only this product.
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// The first day (YYYY-MM-DD, UTC); default 30 days ago.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The last day (YYYY-MM-DD, UTC); default today.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only this A/B test.
    #[arg(long, value_name = "TEST")]
    pub test: Option<String>,
}

fn parse_day(s: &str) -> Result<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, fmt).map_err(|_| anyhow!("date {s:?}: write it as YYYY-MM-DD"))
}

/// The period the arguments name.
pub fn period(since: Option<&str>, until: Option<&str>, today: Date) -> Result<(Date, Date)> {
    let until = until.map(parse_day).transpose()?.unwrap_or(today);
    let from = since
        .map(parse_day)
        .transpose()?
        .unwrap_or(until - Duration::days(29));
    if from > until {
        bail!("--since {from} is after --until {until}");
    }
    Ok((from, until))
}

pub async fn run(t: &Target, a: FunnelArgs, now: time::OffsetDateTime) -> Result<()> {
    let (from, until) = period(a.since.as_deref(), a.until.as_deref(), now.date())?;
    let product = a
        .product
        .as_deref()
        .map(kiosk::ProductId::parse)
        .transpose()
        .context("--product")?;
    let f = t.author()?.funnel(from, until, product.as_ref()).await?;
    print!("{}", render(&f, a.test.as_deref()));
    Ok(())
}

/// The funnel as the terminal shows it.
pub fn render(f: &Funnel, only_test: Option<&str>) -> String {
    let mut out = String::new();
    if let (Some(from), Some(until)) = (f.from, f.until) {
        out.push_str(&format!("Funnel {from} to {until} (UTC)\n"));
    }
    if f.by_product.is_empty() {
        out.push_str("no visitors or orders in this period\n");
        return out;
    }
    let header = format!(
        "  {:<28} {:>9} {:>9} {:>9} {:>6} {:>10}  {:<18} {:>14} {:>7}\n",
        "",
        "visitors",
        "checkouts",
        "converted",
        "paid",
        "downloaded",
        "revenue",
        "per visitor",
        "refunds"
    );
    let line = |name: &str, s: &Steps| {
        format!(
            "  {:<28} {:>9} {:>9} {:>9} {:>6} {:>10}  {:<18} {:>14} {:>7}\n",
            printable(name),
            s.visitors,
            s.checkouts,
            s.converted(),
            s.sales.sales,
            s.downloaded,
            s.revenue_text(),
            s.sales
                .per_visitor(s.visitors)
                .map(kiosk::sales::per_visitor_text)
                .unwrap_or_else(|| "-".into()),
            s.sales.refunds
        )
    };
    for (product, steps) in &f.by_product {
        out.push_str(&format!("\n{}\n", printable(product)));
        out.push_str(&header);
        out.push_str(&line("all", steps));
        for ((p, source), s) in &f.by_source {
            if p == product {
                out.push_str(&line(&format!("from {source}"), s));
            }
        }
    }
    out.push_str(
        "\nA sale counts on the day it was paid, net of refunds; a visitor who bought twice is one\n\
         conversion with two sales, under the source their visit came from.\n",
    );
    for ((product, test), variants) in &f.tests {
        if only_test.is_some_and(|t| t != test) {
            continue;
        }
        out.push_str(&format!(
            "\nA/B test {} on {}\n",
            printable(test),
            printable(product)
        ));
        let table = kiosk::funnel::ab_table(variants);
        let row = |cells: &[String]| {
            format!(
                "  {:<10} {:>9} {:>9} {:>6} {:>11} {:>17} {:>16} {:>12}\n",
                printable(&cells[0]),
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                cells[5],
                cells[6],
                cells[7]
            )
        };
        out.push_str(&row(&kiosk::funnel::AB_COLUMNS.map(str::to_owned)));
        for r in &table.rows {
            out.push_str(&row(r));
        }
        for v in &table.verdicts {
            out.push_str(&format!("  verdict: {v}\n"));
        }
        out.push_str(&format!("  {}\n", stats::PEEKING_WARNING));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(visitors: u64, paid: u64, minor: u64) -> Steps {
        Steps {
            visitors,
            views: visitors,
            checkouts: paid,
            sales: kiosk::sales::Totals::sample(
                paid,
                paid,
                kiosk::Money::from_minor(minor, kiosk::Currency::Cny).unwrap(),
            ),
            ..Steps::default()
        }
    }

    #[test]
    fn the_table_shows_the_funnel_the_tests_and_a_verdict() {
        let mut f = Funnel {
            from: Some(time::macros::date!(2026 - 11 - 01)),
            until: Some(time::macros::date!(2026 - 11 - 28)),
            ..Funnel::default()
        };
        f.by_product
            .insert("rust-book".into(), steps(2000, 130, 117_000));
        f.by_source.insert(
            ("rust-book".into(), "newsletter".into()),
            steps(500, 50, 45_000),
        );
        let mut variants = std::collections::BTreeMap::new();
        variants.insert("a".to_owned(), steps(1000, 50, 45_000));
        variants.insert("b".to_owned(), steps(1000, 80, 72_000));
        f.tests
            .insert(("rust-book".into(), "headline".into()), variants);
        let table = render(&f, None);
        for want in [
            "Funnel 2026-11-01 to 2026-11-28 (UTC)",
            "1170.00 CNY",
            "from newsletter",
            "A/B test headline on rust-book",
            "8.0%",
            "verdict: b sells better, 99% sure",
            "Decide how many visitors",
        ] {
            assert!(table.contains(want), "{want} in\n{table}");
        }
        assert!(!render(&f, Some("other")).contains("A/B test"));
        let html = crate::html_report::html(&f);
        for want in [
            "<svg",
            "role=\"img\"",
            "A/B test headline on rust-book",
            "b sells better, 99% sure",
            "Funnel of rust-book. Visitors: 2000; Checkouts: 130; Converted: 130; Paid: 130",
            "<th>revenue/visitor</th>",
            "0.72 CNY",
        ] {
            assert!(html.contains(want), "{want}");
        }
        assert!(
            !html.contains("<script") && !html.contains("src=\"http"),
            "self-contained"
        );
        // Escaped by construction (maud): whatever a key holds reaches the page as text.
        let mut hostile = f.clone();
        hostile.by_source.insert(
            ("rust-book".into(), "<script>alert(1)</script>".into()),
            steps(1, 0, 0),
        );
        let page = crate::html_report::html(&hostile);
        assert!(!page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)"));
        // One visitor who bought twice reads as such (issue 34), in the report's words.
        let mut once = Funnel::default();
        let mut s = steps(1, 2, 1800);
        s.sales = kiosk::sales::Totals::sample(
            1,
            2,
            kiosk::Money::from_minor(1800, kiosk::Currency::Cny).unwrap(),
        );
        once.by_product.insert("rust-book".into(), s.clone());
        once.by_source
            .insert(("rust-book".into(), "forum.example.org".into()), s);
        assert!(
            crate::html_report::html(&once)
                .contains("forum.example.org (rust-book): 1 visitor, 1 converted, 2 paid")
        );
        // For looking at (target/ is never committed).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("report-sample.html"), &html);
        }
        assert_eq!(
            period(
                None,
                Some("2026-11-28"),
                time::macros::date!(2026 - 12 - 01)
            )
            .unwrap(),
            (
                time::macros::date!(2026 - 10 - 30),
                time::macros::date!(2026 - 11 - 28)
            )
        );
        assert!(
            period(
                Some("2026-12-02"),
                Some("2026-12-01"),
                time::macros::date!(2026 - 12 - 01)
            )
            .is_err()
        );
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiosk --stack shop report --html shop.html --since 2026-11-01")]
pub struct ReportArgs {
    /// Write the report to this HTML file (self-contained: open it anywhere, offline).
    #[arg(long, value_name = "FILE")]
    pub html: std::path::PathBuf,
    /// The first day (YYYY-MM-DD, UTC); default 30 days ago.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The last day (YYYY-MM-DD, UTC); default today.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

pub async fn run_report(t: &Target, a: ReportArgs, now: time::OffsetDateTime) -> Result<()> {
    let (from, until) = period(a.since.as_deref(), a.until.as_deref(), now.date())?;
    let f = t.author()?.funnel(from, until, None).await?;
    std::fs::write(&a.html, crate::html_report::html(&f))
        .with_context(|| format!("writing {}", a.html.display()))?;
    println!("wrote {} ({from} to {until})", a.html.display());
    Ok(())
}
