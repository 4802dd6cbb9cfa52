//! `kiosk test add|list|stop`: the A/B tests the funnel counts ([`kiosk::abtest`]). A
//! page's `data-kiosk-test` counts only once its test is registered here, with the same
//! variants.

use anyhow::{Result, anyhow, bail};
use kiosk::abtest::{AbTest, MAX_RUNNING, parse_variants};
use kiosk::visit::Name;
use time::OffsetDateTime;

use crate::products::parse_id;
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum TestCommand {
    /// Register a test: the page marks its variants with data-kiosk-test="NAME" and
    /// data-kiosk-variant="a" (and "b", ...); only registered tests are counted.
    #[command(
        after_help = "Examples:\n  kiosk --stack shop test add headline --variants a,b\n  kiosk --stack shop test add price-box --variants x,y --product little-book"
    )]
    Add {
        /// The test's name, as in data-kiosk-test (lowercase letters, digits, '-').
        name: String,
        /// Its variants, as in data-kiosk-variant, the first the baseline (2 to 4).
        #[arg(long, value_name = "A,B")]
        variants: String,
        /// Count it only on pages about this product (default: every product on them).
        #[arg(long, value_name = "ID")]
        product: Option<String>,
    },
    /// Every test: variants, product, running or stopped.
    #[command(after_help = "Example:\n  kiosk --stack shop test list")]
    List,
    /// Stop counting a test (its numbers stay in `kiosk funnel`).
    #[command(after_help = "Example:\n  kiosk --stack shop test stop headline")]
    Stop {
        /// The test's name.
        name: String,
    },
}

fn parse_name(raw: &str) -> Result<Name> {
    Name::parse(raw)
        .ok_or_else(|| anyhow!("test {raw:?}: use 1-32 lowercase letters, digits and '-'"))
}

pub async fn run(t: &Target, cmd: TestCommand, now: OffsetDateTime) -> Result<()> {
    let author = t.author()?;
    match cmd {
        TestCommand::Add {
            name,
            variants,
            product,
        } => {
            let name = parse_name(&name)?;
            let variants = parse_variants(&variants).map_err(|e| anyhow!("--variants: {e}"))?;
            let product = product.as_deref().map(parse_id).transpose()?;
            if let Some(p) = &product
                && author.product(p).await?.is_none()
            {
                bail!("no product {p}");
            }
            let running = author.tests().await?.iter().filter(|t| t.running()).count();
            if running >= MAX_RUNNING {
                bail!(
                    "{running} tests are running already (at most {MAX_RUNNING}); stop one first"
                );
            }
            let test = AbTest {
                name: name.clone(),
                variants,
                product,
                created_at: now,
                stopped_at: None,
            };
            if !author.add_test(&test).await? {
                bail!("test {name} exists already (a stopped test keeps its name and numbers)");
            }
            println!("added {}", describe(&test));
        }
        TestCommand::List => {
            let tests = author.tests().await?;
            if tests.is_empty() {
                println!("no tests yet; register one with `kiosk test add`");
            }
            for test in &tests {
                println!("{}", describe(test));
            }
        }
        TestCommand::Stop { name } => {
            let name = parse_name(&name)?;
            if !author.stop_test(&name, now).await? {
                bail!("no running test {name}");
            }
            println!("stopped {name}: its views are no longer counted");
        }
    }
    Ok(())
}

/// `headline: a, b, every product, running since 2026-12-01`
fn describe(t: &AbTest) -> String {
    let variants: Vec<&str> = t.variants.iter().map(Name::as_str).collect();
    let product = t
        .product
        .as_ref()
        .map_or_else(|| "every product".to_owned(), |p| p.to_string());
    let state = match t.stopped_at {
        None => format!("running since {}", t.created_at.date()),
        Some(at) => format!("stopped {}", at.date()),
    };
    format!("{}: {}, {product}, {state}", t.name, variants.join(", "))
}
