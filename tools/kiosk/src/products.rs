//! `kiosk product add|set|list|show`: arguments parsed and the edition file read here,
//! the workflow in [`kiosk::catalog`] (every input checked before anything is written; a
//! file uploaded only once the product id is known to be free or to exist).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use kiosk::catalog::{CatalogError, EditionFile, NewProduct, PricingChange, ProductChanges};
use kiosk::product::Edition;
use kiosk::{Money, ProductId};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum ProductCommand {
    /// Put a new product on sale: uploads its file and records its price.
    #[command(
        after_help = "Examples:\n  kiosk --stack shop product add little-book \\\n    --title \"The Little Book of Rust\" --price \"9.00 CNY\" --file book.pdf\n  kiosk --stack shop product add zine --title \"A Zine\" \\\n    --suggested \"12.00 CNY\" --min 5.00 --file zine.pdf     # pay what you want\n  kiosk --stack shop product add sampler --title \"Sampler\" \\\n    --price \"0.00 CNY\" --file sampler.pdf                  # free, for an email address"
    )]
    Add(AddArgs),
    /// Change a product's title, price or download limit, or its file for future buyers
    /// (to also mail past buyers the new file, use `kiosk update`).
    #[command(
        after_help = "Example:\n  kiosk --stack shop product set little-book --price \"12.00 CNY\""
    )]
    Set(SetArgs),
    /// List every product.
    #[command(after_help = "Example:\n  kiosk --stack shop product list")]
    List,
    /// Show one product: its file, edition and how many people bought it.
    #[command(after_help = "Example:\n  kiosk --stack shop product show little-book")]
    Show {
        /// The product id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Product id as used by Buy Now forms: lowercase letters, digits and '-'.
    pub id: String,
    /// Title shown on the cashier, the download page and in mails.
    #[arg(long)]
    pub title: String,
    /// Price with its currency, for example "9.00 CNY" ("500 JPY"); "0.00 CNY" gives
    /// the product away for an email address.
    #[arg(long, required_unless_present = "suggested")]
    pub price: Option<String>,
    #[command(flatten)]
    pub pwyw: PwywArgs,
    /// A file buyers download; repeat for several (a PDF, an EPUB and a code archive),
    /// listed on the download page in this order.
    #[arg(long, value_name = "PATH", required = true)]
    pub file: Vec<PathBuf>,
    /// Downloads each purchase allows, of each file.
    #[arg(long, default_value_t = 5)]
    pub limit: u32,
    /// Stamp each buyer's PDFs with their email and order number (a footer line on every
    /// page, the order id in the document information); each PDF is checked now.
    #[arg(long)]
    pub stamp: bool,
    /// Give each paid order a license: a short key checked online (POST /license/verify)
    /// and a signed license programs check offline (run `kiosk license keygen` once).
    #[arg(long)]
    pub license: bool,
    /// Activations each license allows (with --license).
    #[arg(long, requires = "license", value_name = "N")]
    pub seats: Option<u32>,
    /// Label of this first edition.
    #[arg(long, default_value = "v1")]
    pub edition: String,
    /// Content type sent with downloads (default: from the file's extension); with one
    /// --file only.
    #[arg(long)]
    pub content_type: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The product id.
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// New price with its currency, for example "12.00 CNY". Orders already placed keep
    /// the price they were created with.
    #[arg(long)]
    pub price: Option<String>,
    #[command(flatten)]
    pub pwyw: PwywArgs,
    /// Back to a fixed price (no more pay what you want).
    #[arg(long, conflicts_with_all = ["min", "max", "suggested"])]
    pub fixed: bool,
    /// Downloads each future purchase allows, of each file.
    #[arg(long)]
    pub limit: Option<u32>,
    /// New files for future buyers (the whole set; repeat for several); past buyers keep
    /// theirs (see `kiosk update`).
    #[arg(long, value_name = "PATH", requires = "edition")]
    pub file: Vec<PathBuf>,
    /// Stamp future buyers' PDFs with their email and order number (the PDFs are checked).
    #[arg(long, conflicts_with = "no_stamp")]
    pub stamp: bool,
    /// Stop stamping future buyers' PDFs.
    #[arg(long)]
    pub no_stamp: bool,
    /// Give each future paid order a license (see `product add --license`).
    #[arg(long, conflicts_with = "no_license")]
    pub license: bool,
    /// Activations each future license allows (starts licenses if they were off).
    #[arg(long, conflicts_with = "no_license", value_name = "N")]
    pub seats: Option<u32>,
    /// Stop issuing licenses (those issued keep working).
    #[arg(long)]
    pub no_license: bool,
    /// Label of the new file's edition (required with --file).
    #[arg(long)]
    pub edition: Option<String>,
    #[arg(long, requires = "file")]
    pub content_type: Option<String>,
}

/// Pay what you want: the buyer names the amount. Amounts in the price's currency, with
/// or without it ("5.00" or "5.00 CNY").
#[derive(Debug, clap::Args)]
pub struct PwywArgs {
    /// Sell at a price the buyer names, at least this (0 allows free copies).
    #[arg(long)]
    pub min: Option<String>,
    /// The amount filled in for the buyer (the product's price; instead of --price).
    #[arg(long, conflicts_with = "price")]
    pub suggested: Option<String>,
    /// The most a buyer may pay (default 100 × the suggested price, so a typo cannot
    /// charge 9,000).
    #[arg(long)]
    pub max: Option<String>,
}

impl PwywArgs {
    /// The price `--suggested` gives, if any.
    fn suggested(&self, currency: Option<kiosk::Currency>) -> Result<Option<Money>> {
        self.suggested
            .as_deref()
            .map(|s| amount_in(s, currency, "--suggested"))
            .transpose()
    }

    /// The pricing change these flags ask for, in `currency`.
    fn change(&self, currency: kiosk::Currency) -> Result<Option<PricingChange>> {
        if self.min.is_none() && self.max.is_none() && self.suggested.is_none() {
            return Ok(None);
        }
        let parse = |v: &Option<String>, flag| {
            v.as_deref()
                .map(|s| amount_in(s, Some(currency), flag))
                .transpose()
        };
        Ok(Some(PricingChange::PayWhatYouWant {
            min: parse(&self.min, "--min")?,
            max: parse(&self.max, "--max")?,
        }))
    }
}

/// An amount as an author types it: "5.00 CNY", or "5.00" in `currency`.
fn amount_in(s: &str, currency: Option<kiosk::Currency>, flag: &str) -> Result<Money> {
    let m = match (s.trim().contains(' '), currency) {
        (true, _) => parse_price(s)?,
        (false, Some(c)) => {
            Money::parse_decimal(s.trim(), c).map_err(|e| anyhow!("{flag} {s:?}: {e}"))?
        }
        (false, None) => bail!("{flag} {s:?}: give the currency, like \"12.00 CNY\""),
    };
    if currency.is_some_and(|c| c != m.currency()) {
        bail!("{flag} {s:?} is not in the product's currency");
    }
    Ok(m)
}

/// Read every `--file` whole, in order; `--content-type` only with one.
pub fn read_files(paths: &[PathBuf], content_type: Option<&str>) -> Result<Vec<EditionFile>> {
    if content_type.is_some() && paths.len() > 1 {
        bail!(
            "--content-type names one file's type: give one --file, or let each file's extension decide"
        );
    }
    paths.iter().map(|p| read_file(p, content_type)).collect()
}

/// `files`' keys and sizes, for what the commands print.
fn files_text(p: &kiosk::product::Product) -> String {
    p.files()
        .iter()
        .map(|f| match f.size {
            Some(n) => format!("{} ({n} bytes)", f.key),
            None => f.key.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read `path` whole into an edition file (the library checks the rest).
pub fn read_file(path: &Path, content_type: Option<&str>) -> Result<EditionFile> {
    if !path.is_file() {
        bail!("file {} does not exist (or is not a file)", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    EditionFile::new(name, bytes, content_type).map_err(|e| anyhow!("file {}: {e}", path.display()))
}

pub fn parse_id(id: &str) -> Result<ProductId> {
    ProductId::parse(id).map_err(|e| anyhow!("product id {id:?}: {e}"))
}

pub fn parse_price(price: &str) -> Result<Money> {
    Money::parse_price(price)
        .map_err(|e| anyhow!("price {price:?}: {e} (write it like \"9.00 CNY\")"))
}

pub fn parse_edition(label: &str) -> Result<Edition> {
    Edition::parse(label).map_err(|e| anyhow!("{e}"))
}

/// A catalog failure in the author's words.
fn explain(e: CatalogError) -> anyhow::Error {
    match e {
        CatalogError::Missing(m) => crate::target::explain(m),
        e => anyhow!(kiosk::error_chain(&e)),
    }
}

pub async fn run(t: &Target, cmd: ProductCommand, now: OffsetDateTime) -> Result<()> {
    match cmd {
        ProductCommand::Add(a) => add(t, a, now).await,
        ProductCommand::Set(a) => set(t, a, now).await,
        ProductCommand::List => list(t).await,
        ProductCommand::Show { id } => show(t, &id).await,
    }
}

async fn add(t: &Target, a: AddArgs, now: OffsetDateTime) -> Result<()> {
    let price = match (&a.price, a.pwyw.suggested(None)?) {
        (Some(p), None) => parse_price(p)?,
        (None, Some(suggested)) => suggested,
        _ => bail!("give --price, or --suggested for pay what you want"),
    };
    let new = NewProduct {
        id: parse_id(&a.id)?,
        title: a.title,
        pricing: a.pwyw.change(price.currency())?,
        price,
        edition: parse_edition(&a.edition)?,
        download_limit: a.limit,
        stamp: a.stamp,
        license: match a.license {
            true => Some(parse_seats(a.seats)?),
            false => None,
        },
    };
    let files = read_files(&a.file, a.content_type.as_deref())?;
    let product = t
        .author()?
        .add_product(new, &files, now)
        .await
        .map_err(explain)?;
    println!(
        "added {}: {} at {}, {} downloads per purchase{}{}{}, {}: {}",
        product.id(),
        product.title(),
        pricing_text(&product),
        product.download_limit(),
        if files.len() > 1 { " of each file" } else { "" },
        if product.stamp() {
            ", PDFs stamped"
        } else {
            ""
        },
        license_text(&product),
        if files.len() > 1 { "files" } else { "file" },
        files_text(&product),
    );
    for f in &files {
        println!("  {} sha256 {}", f.name(), f.sha256());
    }
    Ok(())
}

async fn set(t: &Target, a: SetArgs, now: OffsetDateTime) -> Result<()> {
    let id = parse_id(&a.id)?;
    let files = match (a.file.is_empty(), &a.edition) {
        (false, Some(e)) => Some((
            parse_edition(e)?,
            read_files(&a.file, a.content_type.as_deref())?,
        )),
        _ => None,
    };
    let price = match (&a.price, a.pwyw.suggested(None)?) {
        (Some(p), _) => Some(parse_price(p)?),
        (None, suggested) => suggested,
    };
    // Bounds without a currency are in the new price's, else the product's.
    let currency = match price {
        Some(p) => Some(p.currency()),
        None if a.pwyw.min.is_some() || a.pwyw.max.is_some() => Some(
            t.author()?
                .product(&id)
                .await?
                .ok_or_else(|| anyhow!("no product {id}; add it with `kiosk product add {id}`"))?
                .price()
                .currency(),
        ),
        None => None,
    };
    let pricing = match (a.fixed, currency) {
        (true, _) => Some(PricingChange::Fixed),
        (false, Some(c)) => a.pwyw.change(c)?,
        (false, None) => None,
    };
    let changes = ProductChanges {
        title: a.title,
        pricing,
        price,
        download_limit: a.limit,
        files,
        stamp: match (a.stamp, a.no_stamp) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        license: match (a.license || a.seats.is_some(), a.no_license) {
            (true, _) => Some(Some(parse_seats(a.seats)?)),
            (_, true) => Some(None),
            _ => None,
        },
    };
    if changes.is_empty() {
        bail!(
            "nothing to change: give --title, --price, --min/--suggested/--max, --fixed, --limit, --stamp/--no-stamp, --license/--seats/--no-license or --file with --edition"
        );
    }
    let product = t
        .author()?
        .change_product(&id, changes, now)
        .await
        .map_err(explain)?;
    println!(
        "updated {}: {} at {}, {} downloads per purchase{}{}, edition {} ({})",
        product.id(),
        product.title(),
        pricing_text(&product),
        product.download_limit(),
        if product.stamp() {
            ", PDFs stamped"
        } else {
            ""
        },
        license_text(&product),
        product.edition(),
        files_text(&product)
    );
    Ok(())
}

async fn list(t: &Target) -> Result<()> {
    let products = t.author()?.products().await?;
    if products.is_empty() {
        println!("no products yet; add one with `kiosk product add`");
        return Ok(());
    }
    println!(
        "{:<24} {:<32} {:>14} {:>6}  EDITION",
        "ID", "TITLE", "PRICE", "LIMIT"
    );
    for p in products {
        println!(
            "{:<24} {:<32} {:>14} {:>6}  {}",
            p.id().as_str(),
            clip(p.title(), 32),
            pricing_text(&p),
            p.download_limit(),
            p.edition()
        );
    }
    Ok(())
}

async fn show(t: &Target, id: &str) -> Result<()> {
    let id = parse_id(id)?;
    let o = t
        .author()?
        .product_overview(&id)
        .await
        .map_err(|e| match e {
            CatalogError::NotFound(id) => anyhow!("no product {id}"),
            e => explain(e),
        })?;
    let p = &o.product;
    println!("id:              {}", p.id());
    println!("title:           {}", p.title());
    println!("price:           {}", pricing_text(p));
    println!("downloads:       {} per purchase", p.download_limit());
    println!("edition:         {}", p.edition());
    for f in p.files() {
        println!("file:            {} ({})", f.key, f.content_type);
        println!(
            "  sha256:        {}",
            f.sha256.as_deref().unwrap_or("(not recorded)")
        );
    }
    println!("stamped PDFs:    {}", if p.stamp() { "yes" } else { "no" });
    println!(
        "licenses:        {}",
        match p.license() {
            Some(seats) => format!("yes, {} seat(s) each", seats.get()),
            None => "no".to_owned(),
        }
    );
    println!("paying buyers:   {}", o.paying_buyers);
    Ok(())
}

/// `, a license of N seats with each order`, or nothing.
fn license_text(p: &kiosk::product::Product) -> String {
    match p.license() {
        Some(seats) => format!(
            ", a license of {} seat{} with each order",
            seats.get(),
            if seats.get() == 1 { "" } else { "s" }
        ),
        None => String::new(),
    }
}

/// `--seats` (1 when not given), checked.
fn parse_seats(seats: Option<u32>) -> Result<kiosk::product::Seats> {
    kiosk::product::Seats::new(seats.unwrap_or(1)).map_err(|e| anyhow!("--seats: {e}"))
}

/// A product's price as the author reads it: `9.00 CNY`, `free (0.00 CNY)`, or
/// `pay what you want: 5.00-1200.00 CNY, suggested 12.00`.
pub fn pricing_text(p: &kiosk::product::Product) -> String {
    match p.pay_what_you_want() {
        Some(b) => format!(
            "pay what you want: {}-{} {}, suggested {}",
            b.min.to_decimal(),
            b.max.to_decimal(),
            p.price().currency(),
            p.price().to_decimal()
        ),
        None if p.is_free() => format!("free ({})", p.price()),
        None => p.price().to_string(),
    }
}

/// Cut `s` to `n` characters for a table column.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
