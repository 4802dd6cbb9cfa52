//! `kiosk code add|list|disable`: discount codes. Arguments are parsed here; the rules
//! (what a code takes off, when it works, how uses are reserved) are
//! [`kiosk::pricing`]'s and the store's.

use anyhow::{Result, anyhow, bail};
use kiosk::pricing::{Code, CodeName, Discount, NewCode};
use time::OffsetDateTime;

use crate::products::{clip, parse_id, parse_price};
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum CodeCommand {
    /// Make a discount code. Codes are case-insensitive; they do not apply to
    /// pay-what-you-want products.
    #[command(
        after_help = "Examples:\n  kiosk --stack shop code add LAUNCH --percent 20 --max-uses 100 --expires 2026-12-31\n  kiosk --stack shop code add FRIENDS --off \"2.00 CNY\" --product little-book-of-rust\n  kiosk --stack shop code add --random --percent 100 --max-uses 1   (a private code: unguessable)"
    )]
    Add(AddArgs),
    /// Every code: its discount, uses, limits and the revenue of its paid orders.
    #[command(after_help = "Example:\n  kiosk --stack shop code list")]
    List,
    /// Stop a code working for new orders (orders already made keep their price).
    #[command(after_help = "Example:\n  kiosk --stack shop code disable LAUNCH")]
    Disable {
        /// The code.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The code buyers type: 1-32 letters, digits, '-' and '_'. A name anyone could
    /// guess (LAUNCH, FRIENDS) suits a public code; for a private one, use --random.
    #[arg(required_unless_present = "random", conflicts_with = "random")]
    pub name: Option<String>,
    /// Make an unguessable name instead (16 characters, 80 random bits), printed once
    /// it is stored: what a private code (a review copy, a 100% code) should be.
    #[arg(long)]
    pub random: bool,
    /// Percent off the list price (1-100; 100 gives the product away for an email
    /// address). The price is rounded half up to the currency's minor unit.
    #[arg(long, conflicts_with = "off", required_unless_present = "off")]
    pub percent: Option<u8>,
    /// A fixed amount off, with its currency ("2.00 CNY"); applies to products in that
    /// currency only.
    #[arg(long)]
    pub off: Option<String>,
    /// Only for this product (repeat for several; default: every product).
    #[arg(long = "product", value_name = "ID")]
    pub products: Vec<String>,
    /// How many orders may use it (default: no limit). An order that expires unpaid
    /// gives its use back; a refunded one does not.
    #[arg(long)]
    pub max_uses: Option<u32>,
    /// The last day it works (YYYY-MM-DD; it stops at the end of that day, UTC).
    #[arg(long, value_name = "DAY")]
    pub expires: Option<String>,
}

pub async fn run(t: &Target, cmd: CodeCommand, now: OffsetDateTime) -> Result<()> {
    match cmd {
        CodeCommand::Add(a) => add(t, a, now).await,
        CodeCommand::List => list(t, now).await,
        CodeCommand::Disable { name } => {
            let name = parse_name(&name)?;
            if !t.author()?.disable_code(&name).await? {
                bail!("no code {name}");
            }
            println!("disabled {name}: new orders can no longer use it");
            Ok(())
        }
    }
}

fn parse_name(raw: &str) -> Result<CodeName> {
    CodeName::parse(raw)
        .ok_or_else(|| anyhow!("code {raw:?}: use 1-32 letters, digits, '-' and '_'"))
}

async fn add(t: &Target, a: AddArgs, now: OffsetDateTime) -> Result<()> {
    let name = match &a.name {
        Some(n) => parse_name(n)?,
        None => CodeName::random().ok_or_else(|| anyhow!("no randomness from the OS"))?,
    };
    let discount = match (a.percent, &a.off) {
        (Some(p), None) => Discount::Percent(p),
        (None, Some(off)) => Discount::Off(parse_price(off)?),
        _ => bail!("give one of --percent and --off"),
    };
    let expires_at = a
        .expires
        .as_deref()
        .map(|d| crate::report::parse_day(d).map(kiosk::pricing::end_of_day))
        .transpose()?;
    let products = a
        .products
        .iter()
        .map(|p| parse_id(p))
        .collect::<Result<Vec<_>>>()?;
    let spec = NewCode {
        name,
        discount,
        products,
        max_uses: a.max_uses,
        expires_at,
    };
    let code = t.author()?.add_code(spec, now).await?;
    println!("added {}: {}", code.name(), describe(&code));
    Ok(())
}

/// `20% off, every product, 0/100 uses, until 2026-12-31`
fn describe(c: &Code) -> String {
    let products = if c.products().is_empty() {
        "every product".to_owned()
    } else {
        c.products()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let uses = match c.max_uses() {
        Some(max) => format!("{}/{max} uses", c.uses()),
        None => format!("{} uses", c.uses()),
    };
    let until = c
        .expires_at()
        .map(|t| {
            let d = (t - time::Duration::seconds(1)).date();
            format!(
                ", until {:04}-{:02}-{:02}",
                d.year(),
                u8::from(d.month()),
                d.day()
            )
        })
        .unwrap_or_default();
    format!("{}, {products}, {uses}{until}", c.discount())
}

async fn list(t: &Target, now: OffsetDateTime) -> Result<()> {
    let author = t.author()?;
    let codes = author.codes().await?;
    if codes.is_empty() {
        println!("no codes yet; make one with `kiosk code add`");
        return Ok(());
    }
    let since = codes.iter().map(|c| c.created_at()).min();
    let (orders, _) = author.orders_created_since(since).await?;
    let stats = kiosk::catalog::code_stats(&orders);
    println!(
        "{:<16} {:<8} {:>10} {:>6}  {:<20} DISCOUNT",
        "CODE", "STATE", "USES", "PAID", "REVENUE"
    );
    for c in &codes {
        let state = match c.check(now) {
            Ok(()) => "active",
            Err(kiosk::pricing::PriceError::DisabledCode(_)) => "disabled",
            Err(kiosk::pricing::PriceError::ExpiredCode(_)) => "expired",
            Err(_) => "used up",
        };
        let s = stats.get(c.name()).cloned().unwrap_or_default();
        let revenue = s.net_text();
        let uses = match c.max_uses() {
            Some(max) => format!("{}/{max}", c.uses()),
            None => c.uses().to_string(),
        };
        println!(
            "{:<16} {:<8} {:>10} {:>6}  {:<20} {}",
            clip(c.name().as_str(), 16),
            state,
            uses,
            s.sales,
            revenue,
            describe(c)
        );
    }
    Ok(())
}
