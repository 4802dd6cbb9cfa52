//! The visitor funnel as the author reads it (`kiosk funnel`, `kiosk report --html`): the
//! day counters the collect function raised ([`crate::collect`]) joined with the orders,
//! counted by [`crate::sales`]'s rule, and each A/B test's statistics and table.

use time::Date;

use crate::ids::ProductId;
use crate::store::{Store, StoreError, ViewCell};

/// One funnel: visitors → checkouts started → converted (visitors with a sale or a free
/// copy) → downloaded at least once, with the paid orders summed by [`crate::sales`]'s
/// rule (sales, net revenue, refunds) on the days they were paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    pub views: u64,
    pub visitors: u64,
    pub checkouts: u64,
    pub downloaded: u64,
    pub sales: crate::sales::Totals,
}

impl Steps {
    /// The net revenue as an author reads it, each currency on its own
    /// (`9.00 CNY + 500 JPY`); `-` without any.
    pub fn revenue_text(&self) -> String {
        self.sales.net_text()
    }

    /// Visitors who bought or claimed a copy.
    pub fn converted(&self) -> u64 {
        self.sales.converted()
    }

    fn add_counts(&mut self, views: u64, visitors: u64) {
        self.views += views;
        self.visitors += visitors;
    }

    fn add_paid(&mut self, p: &crate::sales::Paid<'_>, downloaded: bool) {
        self.sales.add(p);
        if downloaded && p.outcome != crate::sales::Outcome::Reversed {
            self.downloaded += 1;
        }
    }
}

/// The funnel of a period, per product, source, day and test variant.
#[derive(Debug, Clone, Default)]
pub struct Funnel {
    pub from: Option<Date>,
    pub until: Option<Date>,
    pub by_product: std::collections::BTreeMap<String, Steps>,
    /// (product, source): see [`crate::sales::source`].
    pub by_source: std::collections::BTreeMap<(String, String), Steps>,
    pub by_day: std::collections::BTreeMap<Date, Steps>,
    /// (product, test) → its variants, in name order.
    pub tests:
        std::collections::BTreeMap<(String, String), std::collections::BTreeMap<String, Steps>>,
}

impl Funnel {
    /// Apply `add` to every group an order counts in: its product, its source, the
    /// day, each of its variants.
    fn each(&mut self, o: &crate::order::Order, day: Date, add: impl Fn(&mut Steps)) {
        let p = o.product_id.as_str().to_owned();
        add(self.by_product.entry(p.clone()).or_default());
        add(self
            .by_source
            .entry((p.clone(), crate::sales::source(o)))
            .or_default());
        add(self.by_day.entry(day).or_default());
        let mut seen = std::collections::BTreeSet::new();
        for (test, variant) in &o.variants {
            // An order counts in each test once.
            if seen.insert(test.as_str()) {
                add(self
                    .tests
                    .entry((p.clone(), test.to_string()))
                    .or_default()
                    .entry(variant.to_string())
                    .or_default());
            }
        }
    }
}

/// The funnel of the days `from..=until` (UTC), optionally of one product: the
/// counters of each day (one query a day) and the orders that may have been paid in the
/// period (the `ByCreatedAt` index), with each paid order's link read to see whether it
/// was used.
pub async fn report(
    store: &Store,
    from: Date,
    until: Date,
    product: Option<&ProductId>,
) -> Result<Funnel, StoreError> {
    let mut f = Funnel {
        from: Some(from),
        until: Some(until),
        ..Funnel::default()
    };
    let mut day = from;
    while day <= until {
        for c in store.views_of(day).await? {
            if product.is_some_and(|want| want.as_str() != c.cell.product()) {
                continue;
            }
            match &c.cell {
                ViewCell::Source { product: p, source } => {
                    f.by_product
                        .entry(p.clone())
                        .or_default()
                        .add_counts(c.views, c.visitors);
                    f.by_source
                        .entry((p.clone(), source.clone()))
                        .or_default()
                        .add_counts(c.views, c.visitors);
                    f.by_day
                        .entry(day)
                        .or_default()
                        .add_counts(c.views, c.visitors);
                }
                ViewCell::Test {
                    product: p,
                    test,
                    variant,
                } => {
                    f.tests
                        .entry((p.clone(), test.clone()))
                        .or_default()
                        .entry(variant.clone())
                        .or_default()
                        .add_counts(c.views, c.visitors);
                }
            }
        }
        match day.next_day() {
            Some(d) => day = d,
            None => break,
        }
    }
    let start = from.midnight().assume_utc();
    let end = until.next_day().unwrap_or(until).midnight().assume_utc();
    // Checkouts count on the day they began, sales on the day they were paid
    // (crate::sales): the orders read are those that may have been paid in the period.
    let (orders, _) = store
        .orders_created_since(Some(start - crate::store::LATE_PAYMENT))
        .await?;
    for o in &orders {
        if product.is_some_and(|want| want != &o.product_id) {
            continue;
        }
        if (start..end).contains(&o.created_at) {
            f.each(o, o.created_at.date(), |s| s.checkouts += 1);
        }
        let Some(p) = crate::sales::paid(o).filter(|p| (start..end).contains(&p.at)) else {
            continue;
        };
        let downloaded = match o.grant_token() {
            Some(token) => store
                .get_grant(token)
                .await?
                .is_some_and(|g| g.downloads_left.iter().any(|&n| n < g.download_limit)),
            None => false,
        };
        f.each(o, p.at.date(), |s| s.add_paid(&p, downloaded));
    }
    Ok(f)
}

/// One variant of a test, with its statistics.
#[derive(Debug, Clone)]
pub struct VariantStats<'a> {
    pub name: &'a str,
    pub steps: &'a Steps,
    /// Converted visitors / visitors.
    pub conversion: Option<f64>,
    /// Its 95% Wilson interval.
    pub interval: Option<(f64, f64)>,
    /// Net revenue per visitor in the currency's major units, when it is all in one
    /// currency ([`crate::sales::Totals::per_visitor`]).
    pub revenue_per_visitor: Option<(f64, crate::money::Currency)>,
    /// The probability it converts better than the first variant (`None` for the first).
    pub beats_first: Option<f64>,
}

/// A test's variants (in name order, the first the baseline) with their statistics, and
/// the verdict on each later variant against the first.
pub fn test_stats(
    variants: &std::collections::BTreeMap<String, Steps>,
) -> (Vec<VariantStats<'_>>, Vec<crate::stats::Verdict>) {
    use crate::stats::{self, Observed};
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    let mut first: Option<(&str, Observed)> = None;
    for (name, s) in variants {
        // A visitor counted on a day the beacon did not reach (a late answer, a tab left
        // open) can convert without a counted visit: never above 100%.
        let o = Observed {
            visitors: s.visitors,
            conversions: s.converted().min(s.visitors),
        };
        rows.push(VariantStats {
            name,
            steps: s,
            conversion: (s.visitors > 0).then(|| o.conversions as f64 / s.visitors as f64),
            interval: stats::wilson(o.conversions, o.visitors),
            revenue_per_visitor: s.sales.per_visitor(s.visitors),
            beats_first: first.and_then(|(_, a)| stats::probability_to_beat(a, o)),
        });
        match first {
            None => first = Some((name, o)),
            Some((a_name, a)) => verdicts.push(stats::verdict(a_name, a, name, o)),
        }
    }
    (rows, verdicts)
}

/// An A/B test as a table, the one model the terminal and the HTML report both render:
/// a row per variant (already formatted), the verdicts and the conversion chart's data.
#[derive(Debug, Clone)]
pub struct AbTable {
    pub rows: Vec<[String; AB_COLUMNS.len()]>,
    pub verdicts: Vec<String>,
    /// Each variant's conversion and interval, for a chart.
    pub points: Vec<VariantPoint>,
}

/// (variant, conversion, its 95% interval).
pub type VariantPoint = (String, Option<f64>, Option<(f64, f64)>);

/// The A/B table's columns.
pub const AB_COLUMNS: [&str; 8] = [
    "variant",
    "visitors",
    "converted",
    "paid",
    "conversion",
    "95% interval",
    "revenue/visitor",
    "P(beats 1st)",
];

/// A share as the reports print it: `8.0%`.
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The table of one test's variants.
pub fn ab_table(variants: &std::collections::BTreeMap<String, Steps>) -> AbTable {
    let (stats, verdicts) = test_stats(variants);
    let dash = || "-".to_owned();
    AbTable {
        rows: stats
            .iter()
            .map(|v| {
                [
                    v.name.to_owned(),
                    v.steps.visitors.to_string(),
                    v.steps.converted().to_string(),
                    v.steps.sales.sales.to_string(),
                    v.conversion.map(percent).unwrap_or_else(dash),
                    v.interval
                        .map(|(l, h)| format!("{}–{}", percent(l), percent(h)))
                        .unwrap_or_else(dash),
                    v.revenue_per_visitor
                        .map(crate::sales::per_visitor_text)
                        .unwrap_or_else(dash),
                    v.beats_first.map(percent).unwrap_or_else(dash),
                ]
            })
            .collect(),
        verdicts: verdicts.iter().map(ToString::to_string).collect(),
        points: stats
            .iter()
            .map(|v| (v.name.to_owned(), v.conversion, v.interval))
            .collect(),
    }
}
