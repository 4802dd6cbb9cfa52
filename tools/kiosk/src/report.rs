//! `kiosk orders` and `kiosk sales`: what sold, when, and where buyers came from.
//!
//! Both read only the orders of the asked range, from the table's `ByCreatedAt` index
//! (`orders`: created since `--since`; `sales`: paid since it, read from the orders
//! created [`kiosk::store::LATE_PAYMENT`] earlier), and say what the read cost, so a
//! report's price grows with the range asked, not with everything the shop ever stored.
//! Without `--since` that range is every order.
//!
//! What counts as a sale, on which day, for how much and under which source is
//! [`kiosk::sales`]'s rule, the same the funnel and the HTML report use: UTC days of the
//! payment, net of refunds and lost disputes. What was given back is listed after the
//! sales, by product.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use kiosk::order::{MailBlockKind, MailState};
use kiosk::sales::Outcome;
use kiosk::text::printable;
use kiosk::{Currency, Order, OrderStatus};
use time::{Date, OffsetDateTime};

use crate::products::{clip, parse_id};
use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop orders --status paid --since 2026-11-01\n  kiosk --stack shop orders --product little-book\n  kiosk --stack shop orders --mail failed\n  kiosk --stack shop orders --mail bounced"
)]
pub struct OrdersArgs {
    /// Only this product's orders.
    #[arg(long)]
    pub product: Option<String>,
    /// Only orders in this state: pending, paid, expired or refunded.
    #[arg(long)]
    pub status: Option<String>,
    /// Only orders created on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only orders whose purchase mail is in this state: due (not sent yet, retried by
    /// reconcile), sent, failed (given up: resend it by hand), bounced (SES reported the
    /// address does not take mail: most often a typo, fix it with `kiosk resend ORDER
    /// --to ADDRESS`) or complained (the buyer marked a mail as spam). Nothing more is
    /// mailed to a bounced or complained address.
    #[arg(long, value_name = "STATE")]
    pub mail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MailFilter {
    Due,
    Sent,
    Failed,
    Bounced,
    Complained,
}

fn parse_mail(s: &str) -> Result<MailFilter> {
    match s.to_ascii_lowercase().as_str() {
        "due" => Ok(MailFilter::Due),
        "sent" => Ok(MailFilter::Sent),
        "failed" => Ok(MailFilter::Failed),
        "bounced" => Ok(MailFilter::Bounced),
        "complained" => Ok(MailFilter::Complained),
        _ => Err(anyhow!(
            "mail {s:?}: use due, sent, failed, bounced or complained"
        )),
    }
}

fn mail_is(o: &Order, f: MailFilter) -> bool {
    let block = o.mail_block.as_ref().map(|b| b.kind);
    match f {
        MailFilter::Bounced => block == Some(MailBlockKind::Bounced),
        MailFilter::Complained => block == Some(MailBlockKind::Complained),
        _ => matches!(
            (o.mail, f),
            (MailState::Due { .. }, MailFilter::Due)
                | (MailState::Sent { .. }, MailFilter::Sent)
                | (MailState::Failed { .. }, MailFilter::Failed)
        ),
    }
}

/// The line under an order whose address takes no more mail: what SES said, and the fix.
fn block_line(o: &Order) -> Option<String> {
    let b = o.mail_block.as_ref()?;
    Some(format!(
        "  ! mail to {} {} on {} ({}); nothing more is mailed there. Fix: kiosk resend {} --to ADDRESS",
        o.email,
        b.kind.what(),
        day(b.at),
        printable(&b.detail),
        o.id
    ))
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop sales\n  kiosk --stack shop sales --since 2026-11-01 --csv > sales.csv"
)]
pub struct SalesArgs {
    /// Only sales paid on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Print CSV (dimension,key,currency,orders,amount) instead of tables.
    #[arg(long)]
    pub csv: bool,
}

pub fn parse_day(s: &str) -> Result<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, fmt).map_err(|_| anyhow!("date {s:?}: write it as YYYY-MM-DD"))
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_status(s: &str) -> Result<OrderStatus> {
    s.to_ascii_uppercase()
        .parse::<OrderStatus>()
        .map_err(|_| anyhow!("status {s:?}: use pending, paid, expired or refunded"))
}

pub async fn orders(t: &Target, a: OrdersArgs) -> Result<()> {
    let product = a.product.as_deref().map(parse_id).transpose()?;
    let status = a.status.as_deref().map(parse_status).transpose()?;
    let since = a.since.as_deref().map(parse_day).transpose()?;
    let mail = a.mail.as_deref().map(parse_mail).transpose()?;
    let author = t.author()?;
    let (mut all, reads) = author
        .orders_created_since(since.map(|d| d.midnight().assume_utc()))
        .await?;
    // SES's bounces and complaints are kept per address.
    author.with_mail_blocks(&mut all).await?;
    let orders: Vec<Order> = all
        .into_iter()
        .filter(|o| product.as_ref().is_none_or(|p| &o.product_id == p))
        .filter(|o| status.is_none_or(|s| o.status() == s))
        .filter(|o| mail.is_none_or(|m| mail_is(o, m)))
        .collect();
    println!(
        "{:<42} {:<17} {:<20} {:<9} {:>14} {:>14} {:<12}  {:<28} SOURCE",
        "ORDER", "CREATED (UTC)", "PRODUCT", "STATUS", "AMOUNT", "LIST PRICE", "CODE", "EMAIL"
    );
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    for o in &orders {
        println!(
            "{:<42} {:<17} {:<20} {:<9} {:>14} {:>14} {:<12}  {:<28} {}",
            o.id.as_str(),
            o.created_at.format(fmt).unwrap_or_default(),
            clip(o.product_id.as_str(), 20),
            o.status().as_str().to_ascii_lowercase(),
            o.amount.to_string(),
            o.list_price.to_string(),
            clip(o.code.as_ref().map_or("-", |c| c.as_str()), 12),
            clip(
                &email_text(o),
                if o.previous_emails.is_empty() {
                    28
                } else {
                    200
                }
            ),
            printable(&kiosk::sales::source(o))
        );
        if let Some(line) = block_line(o) {
            println!("{line}");
        }
    }
    println!("{} orders", orders.len());
    println!("{}", read_cost(reads));
    Ok(())
}

/// The order's address, and the ones it had before a correction (`kiosk resend --to`):
/// `new@example.org (was old@example.com)`.
fn email_text(o: &Order) -> String {
    match o.previous_emails.last() {
        Some(was) => format!("{} (was {was})", o.email),
        None => o.email.to_string(),
    }
}

/// What a report's read cost, for the author (on stdout after a table, on stderr after
/// CSV).
fn read_cost(r: kiosk::store::Reads) -> String {
    format!(
        "(read {} orders in {} DynamoDB request{})",
        r.items,
        r.requests,
        if r.requests == 1 { "" } else { "s" }
    )
}

/// Totals for one key of one dimension, per currency (minor units).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Total {
    pub orders: u64,
    pub minor: u64,
}

/// dimension -> key -> currency -> total.
pub type Sales = BTreeMap<&'static str, BTreeMap<String, BTreeMap<Currency, Total>>>;

pub const DIMENSIONS: [&str; 5] = ["day", "product", "channel", "source", "code"];

/// Free orders (nothing paid), by product: counted apart from sales.
pub const FREE: &str = "free";

/// Money given back, by product: the "refunds" rows after the sales.
pub const REFUNDS: &str = "refunds";

/// Sum the sales paid on or after `since` by [`kiosk::sales`]'s rule (the funnel and the
/// HTML report count the same): net of refunds and lost disputes, on the day paid, under
/// the order's source. Under [`REFUNDS`], what was given back of orders paid then; under
/// [`FREE`], the free copies.
pub fn sales(orders: &[Order], since: Option<Date>) -> Sales {
    let mut out: Sales = BTreeMap::new();
    let mut add = |dim: &'static str, key: String, money: kiosk::Money, count: bool| {
        let t = out
            .entry(dim)
            .or_default()
            .entry(key)
            .or_default()
            .entry(money.currency())
            .or_default();
        t.orders += u64::from(count);
        t.minor += money.minor();
    };
    for p in orders.iter().filter_map(kiosk::sales::paid) {
        if since.is_some_and(|d| p.at.date() < d) {
            continue;
        }
        let o = p.order;
        if !p.given_back.is_zero() {
            add(
                REFUNDS,
                o.product_id.as_str().to_owned(),
                p.given_back,
                true,
            );
        }
        match p.outcome {
            Outcome::Reversed => continue,
            Outcome::Free => {
                add(FREE, o.product_id.as_str().to_owned(), p.net, true);
                continue;
            }
            Outcome::Sale => {}
        }
        let keys = [
            day(p.at),
            o.product_id.as_str().to_owned(),
            o.channel.as_str().to_owned(),
            kiosk::sales::source(o),
            o.code
                .as_ref()
                .map_or_else(|| "(no code)".to_owned(), |c| c.to_string()),
        ];
        for (dim, key) in DIMENSIONS.iter().zip(keys) {
            add(dim, key, p.net, true);
        }
    }
    out
}

fn amount(minor: u64, currency: Currency) -> String {
    kiosk::Money::from_minor(minor, currency)
        .map(|m| m.to_decimal())
        .unwrap_or_else(|_| minor.to_string())
}

pub async fn run_sales(t: &Target, a: SalesArgs) -> Result<()> {
    let since = a.since.as_deref().map(parse_day).transpose()?;
    let (orders, reads) = t
        .author()?
        .orders_paid_since(since.map(|d| d.midnight().assume_utc()))
        .await?;
    let s = sales(&orders, since);
    if a.csv {
        eprintln!("{}", read_cost(reads));
        println!("dimension,key,currency,orders,amount");
        for dim in DIMENSIONS.into_iter().chain([REFUNDS, FREE]) {
            for (key, by_cur) in s.get(dim).into_iter().flatten() {
                for (cur, total) in by_cur {
                    println!(
                        "{dim},{},{},{},{}",
                        csv_field(&printable(key)),
                        cur.code(),
                        total.orders,
                        amount(total.minor, *cur)
                    );
                }
            }
        }
        return Ok(());
    }
    if s.is_empty() {
        println!("no sales yet");
        println!("{}", read_cost(reads));
        return Ok(());
    }
    for dim in DIMENSIONS.into_iter().chain([REFUNDS, FREE]) {
        if matches!(dim, REFUNDS | FREE) && !s.contains_key(dim) {
            continue;
        }
        if dim == REFUNDS {
            println!(
                "\nGiven back, by product (refunds and lost disputes; the sales above are net of them):"
            );
        } else if dim == FREE {
            println!("\nFree copies, by product (given for an email address; not sales):");
        } else {
            println!("\nBy {dim}:");
        }
        println!(
            "  {:<32} {:>7} {:>16}",
            dim.to_ascii_uppercase(),
            "ORDERS",
            "AMOUNT"
        );
        for (key, by_cur) in s.get(dim).into_iter().flatten() {
            for (cur, total) in by_cur {
                println!(
                    "  {:<32} {:>7} {:>16}",
                    clip(&printable(key), 32),
                    total.orders,
                    format!("{} {}", amount(total.minor, *cur), cur.code())
                );
            }
        }
    }
    println!("\n{}", read_cost(reads));
    Ok(())
}

/// A CSV field a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be read as a formula (`=HYPERLINK(...)` from a buyer's
/// `utm_source`), so it gets a leading `'` (OWASP's advice); then quoted when it needs
/// it (RFC 4180).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("blog"), "blog");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://evil.example\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""
        );
        for bad in ["+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"] {
            let f = csv_field(bad);
            let cell = f.trim_start_matches('"');
            assert!(cell.starts_with('\''), "{bad:?} became {f:?}");
        }
        assert_eq!(csv_field("newsletter"), "newsletter");
    }

    #[test]
    fn days_parse_strictly() {
        assert!(parse_day("2026-11-01").is_ok());
        assert!(parse_day("2026-13-01").is_err());
        assert!(parse_day("yesterday").is_err());
    }
}
