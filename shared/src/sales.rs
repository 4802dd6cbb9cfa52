//! The one rule for the author's numbers: what counts as a sale, on which day, for how
//! much, and under which source. `kiosk sales`, `kiosk funnel`, `kiosk report --html`
//! and `kiosk code list` all read orders through [`paid`] and sum them with [`Totals`],
//! so they print the same totals for the same orders.
//!
//! - **A sale** is an order the provider paid (`paid_at` is set), for more than zero,
//!   of which something is kept. It belongs to the UTC day it was **paid**, not the day
//!   its checkout began.
//! - **Its revenue is net**: the amount paid, less what was given back (refunds, partial
//!   or full), and nothing of a dispute that was lost. A sale refunded in full, or whose
//!   dispute was lost, is *reversed*: no longer a sale, its money listed as given back.
//! - **A free copy** (paid at zero) is counted apart, never as a sale.
//! - **Money stays per currency**, in that currency's minor units (a yen has none), and
//!   is only added up within one currency.
//! - **The source** of an order is the source its visitor's page view counted under
//!   (carried from the collect function in the signed visit token), so views and sales
//!   of one visitor read under one source; an order made without one (no `kiosk.js`, an
//!   opted-out visitor, a robot) takes the buy link's `utm_source`, else the referring
//!   site's host, else `direct`. Both are spelled by one rule ([`clean_source`]).
//! - **A conversion** is a visitor with a sale or a free copy: one visitor who bought
//!   twice is one conversion with two sales' revenue. An order without a visitor counts
//!   as a visitor of its own.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::money::{Currency, Money};
use crate::order::{Dispute, Order};

/// The longest source name kept (longer ones are cut).
pub const MAX_SOURCE_LEN: usize = 64;

/// A source as the reports spell it: lower case, letters, digits, `.`, `-` and `_`
/// only, at most [`MAX_SOURCE_LEN`]; `None` when nothing is left.
pub fn clean_source(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(MAX_SOURCE_LEN)
        .collect();
    (!s.is_empty()).then_some(s)
}

/// The host of a referrer as the buy page recorded it (`https://blog.example/post?x`
/// → `blog.example`); a bare host stays as it is.
pub fn referrer_host(referrer: &str) -> &str {
    let rest = referrer
        .split_once("://")
        .map_or(referrer, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

/// The source named by a campaign and a referring host: the campaign, else the host,
/// else `direct`.
pub fn source_named(utm_source: Option<&str>, referrer_host: Option<&str>) -> String {
    utm_source
        .and_then(clean_source)
        .or_else(|| referrer_host.and_then(clean_source))
        .unwrap_or_else(|| "direct".to_owned())
}

/// The source an order counts under (see the module's rule).
pub fn source(o: &Order) -> String {
    if let Some(v) = &o.source.visit {
        return v.source.clone();
    }
    source_named(
        o.source.utm_source.as_deref(),
        o.source.referrer.as_deref().map(referrer_host),
    )
}

/// What became of a paid order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Paid, and something of it kept.
    Sale,
    /// Paid at zero: a free copy.
    Free,
    /// Refunded in full, or its dispute lost: no longer a sale.
    Reversed,
}

/// A paid order as the reports count it.
#[derive(Debug, Clone, Copy)]
pub struct Paid<'a> {
    pub order: &'a Order,
    /// The day it counts on is this time's UTC day.
    pub at: OffsetDateTime,
    pub outcome: Outcome,
    /// What the author keeps: the amount less what was given back.
    pub net: Money,
    /// What was given back: refunds, or the whole amount of a lost dispute.
    pub given_back: Money,
}

/// `o` as the reports count it; `None` for an order that was never paid.
pub fn paid(o: &Order) -> Option<Paid<'_>> {
    let at = o.paid_at()?;
    let amount = o.amount;
    let back = match o.dispute {
        Some(Dispute::Lost) => amount.minor(),
        _ => o.refunded.map_or(0, Money::minor).min(amount.minor()),
    };
    let net = amount.minor() - back;
    let money = |minor| Money::from_minor(minor, amount.currency()).unwrap_or(amount);
    let outcome = if amount.is_zero() {
        Outcome::Free
    } else if net == 0 {
        Outcome::Reversed
    } else {
        Outcome::Sale
    };
    Some(Paid {
        order: o,
        at,
        outcome,
        net: money(net),
        given_back: money(back),
    })
}

/// Who converted: the order's visitor, or the order itself when it has none.
fn buyer(o: &Order) -> String {
    match &o.source.visit {
        Some(v) => format!("v:{}", v.visitor),
        None => format!("o:{}", o.id),
    }
}

/// Paid orders summed by the module's rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Orders that count as sales.
    pub sales: u64,
    /// Free copies.
    pub free: u64,
    /// Sales refunded in full or lost to a dispute.
    pub reversed: u64,
    /// Orders with money given back (partly or wholly).
    pub refunds: u64,
    /// Net revenue per currency, in minor units.
    pub net: BTreeMap<Currency, u64>,
    /// Money given back per currency, in minor units.
    pub given_back: BTreeMap<Currency, u64>,
    /// The visitors (or visitor-less orders) with a sale or a free copy.
    buyers: BTreeSet<String>,
}

impl Totals {
    pub fn add(&mut self, p: &Paid<'_>) {
        match p.outcome {
            Outcome::Sale => self.sales += 1,
            Outcome::Free => self.free += 1,
            Outcome::Reversed => self.reversed += 1,
        }
        if p.outcome != Outcome::Reversed {
            self.buyers.insert(buyer(p.order));
        }
        if p.outcome != Outcome::Free {
            *self.net.entry(p.net.currency()).or_default() += p.net.minor();
        }
        if !p.given_back.is_zero() {
            self.refunds += 1;
            *self.given_back.entry(p.given_back.currency()).or_default() += p.given_back.minor();
        }
    }

    /// Made-up totals for previews and rendering tests: `sales` sales by `converted`
    /// visitors, `net` in all.
    pub fn sample(converted: u64, sales: u64, net: Money) -> Totals {
        let mut t = Totals {
            sales,
            ..Totals::default()
        };
        t.net.insert(net.currency(), net.minor());
        t.buyers = (0..converted).map(|i| format!("sample:{i}")).collect();
        t
    }

    /// Visitors who bought or claimed a copy (each at most once).
    pub fn converted(&self) -> u64 {
        self.buyers.len() as u64
    }

    /// Net revenue as an author reads it (`9.00 CNY + 500 JPY`); `-` without any.
    pub fn net_text(&self) -> String {
        money_text(&self.net)
    }

    /// Net revenue per visitor when it is all in one currency, in that currency's
    /// major units (`100` yen, `0.45` yuan).
    pub fn per_visitor(&self, visitors: u64) -> Option<(f64, Currency)> {
        match self.net.iter().collect::<Vec<_>>().as_slice() {
            [(currency, minor)] if visitors > 0 => Some((
                **minor as f64 / 10f64.powi(currency.exponent() as i32) / visitors as f64,
                **currency,
            )),
            _ => None,
        }
    }
}

/// Per-visitor money as the reports print it: the currency's own decimals.
pub fn per_visitor_text((amount, currency): (f64, Currency)) -> String {
    format!(
        "{amount:.prec$} {code}",
        prec = currency.exponent() as usize,
        code = currency.code()
    )
}

/// Sums per currency as an author reads them (`9.00 CNY + 500 JPY`); `-` when empty.
pub fn money_text(by_currency: &BTreeMap<Currency, u64>) -> String {
    let parts: Vec<String> = by_currency
        .iter()
        .filter(|(_, minor)| **minor > 0)
        .map(|(c, minor)| match Money::from_minor(*minor, *c) {
            Ok(m) => format!("{} {}", m.to_decimal(), c.code()),
            Err(_) => format!("{minor} {}", c.code()),
        })
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" + ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_spelled_one_way() {
        assert_eq!(source_named(Some("  NewsLetter "), None), "newsletter");
        assert_eq!(
            source_named(None, Some(referrer_host("https://Blog.Example/p?q=1"))),
            "blog.example"
        );
        assert_eq!(referrer_host("blog.example"), "blog.example");
        assert_eq!(source_named(Some("<>"), None), "direct");
        assert_eq!(clean_source(&"x".repeat(100)).map(|s| s.len()), Some(64));
    }

    #[test]
    fn per_visitor_money_uses_the_currency_s_own_units() {
        let mut t = Totals::default();
        t.net.insert(Currency::Jpy, 1000);
        assert_eq!(t.per_visitor(10), Some((100.0, Currency::Jpy)));
        assert_eq!(per_visitor_text((100.0, Currency::Jpy)), "100 JPY");
        let mut t = Totals::default();
        t.net.insert(Currency::Cny, 900);
        assert_eq!(per_visitor_text(t.per_visitor(20).unwrap()), "0.45 CNY");
        assert_eq!(t.per_visitor(0), None);
        t.net.insert(Currency::Usd, 100);
        assert_eq!(t.per_visitor(20), None, "two currencies do not add up");
    }
}
