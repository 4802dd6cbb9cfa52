//! The author's command line, `kiosk`: products, a new edition mailed to every buyer,
//! orders, sales, resending links, reconciling and refunds. `main.rs` only parses and reports; each command
//! lives in its own module.

pub mod abtests;
pub mod codes;
pub mod funnel;
pub mod html_report;
pub mod license;
pub mod preview;
pub mod products;
pub mod reconcile;
pub mod refund;
pub mod report;
pub mod resend;
pub mod samples;
pub mod target;
pub mod update;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kiosk",
    version,
    about = "Run your Kiosk shop: products, new editions to every buyer, orders, sales, links",
    long_about = "Run your Kiosk shop from the command line: put products on sale, send a new \
edition to every buyer in one command, see orders and sales, and mail a buyer their links.\n\n\
Say which shop with --stack NAME (a deployed stack; uses your AWS credentials and region) or \
--local (the `make dev` shop on this machine). --table, --bucket, --api-url and --sender \
(or KIOSK_TABLE, KIOSK_BUCKET, KIOSK_API_URL, KIOSK_SENDER) override what those give.",
    after_help = "Examples:\n  kiosk --stack shop product list\n  kiosk --stack shop update little-book --file book-v2.pdf --note \"Two new chapters\"\n  kiosk --local sales"
)]
pub struct Cli {
    #[command(flatten)]
    pub target: target::TargetArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, change, list and show products.
    #[command(
        subcommand,
        after_help = "Examples:\n  kiosk --stack shop product add little-book --title \"The Little Book\" --price \"9.00 CNY\" --file book.pdf\n  kiosk --stack shop product list"
    )]
    Product(products::ProductCommand),
    /// The shop's license signing key: make it once, print its public key.
    #[command(
        subcommand,
        after_help = "Examples:\n  kiosk --stack shop license keygen\n  kiosk --stack shop license public-key"
    )]
    License(license::LicenseCommand),
    /// Make, list and disable discount codes.
    #[command(
        subcommand,
        after_help = "Examples:\n  kiosk --stack shop code add LAUNCH --percent 20 --max-uses 100\n  kiosk --stack shop code list"
    )]
    Code(codes::CodeCommand),
    /// Register, list and stop the A/B tests the funnel counts.
    #[command(
        subcommand,
        after_help = "Examples:\n  kiosk --stack shop test add headline --variants a,b\n  kiosk --stack shop test list"
    )]
    Test(abtests::TestCommand),
    /// Upload a new edition and mail every paying buyer a fresh link to it (resumable).
    Update(update::UpdateArgs),
    /// List orders, optionally by product, status and date.
    Orders(report::OrdersArgs),
    /// Sales totals by day, product, channel and source (utm_source or referrer).
    Sales(report::SalesArgs),
    /// The visitor funnel (visitors, checkouts, paid, downloaded) and the A/B tests,
    /// with their statistics and a verdict.
    Funnel(funnel::FunnelArgs),
    /// Write the funnel, the sales and the A/B tests as one self-contained HTML page of
    /// charts.
    Report(funnel::ReportArgs),
    /// Mail a buyer every download link they can still use, now.
    Resend(resend::ResendArgs),
    /// Send every purchase mail that is due and settle pending orders with the payment
    /// channel (what the scheduled reconcile function does).
    Reconcile(reconcile::ReconcileArgs),
    /// Give a buyer their money back; a full refund stops their download links.
    Refund(refund::RefundArgs),
    /// Show any page or mail a buyer sees, in any language, with sample data (no shop
    /// needed): `kiosk preview mail purchase --lang zh-CN`.
    #[command(
        after_help = "Examples:\n  kiosk preview list\n  kiosk preview page download --lang zh-CN > download.html\n  kiosk preview mail purchase --html"
    )]
    Preview(preview::PreviewArgs),
}

/// Run one command. `Ok(false)`: it ran but did not fully succeed (a mail-out with
/// failures or mails left for tomorrow); the process exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    let cli = match cli.command {
        Command::Preview(a) => return preview::run(a).map(|()| true),
        command => Cli { command, ..cli },
    };
    let target = target::resolve(&cli.target).await?;
    let now = kiosk::clock::now();
    match cli.command {
        Command::Product(cmd) => products::run(&target, cmd, now).await.map(|()| true),
        Command::License(cmd) => license::run(&target, cmd).await.map(|()| true),
        Command::Code(cmd) => codes::run(&target, cmd, now).await.map(|()| true),
        Command::Test(cmd) => abtests::run(&target, cmd, now).await.map(|()| true),
        Command::Update(a) => update::run(&target, a, now).await,
        Command::Orders(a) => report::orders(&target, a).await.map(|()| true),
        Command::Sales(a) => report::run_sales(&target, a).await.map(|()| true),
        Command::Funnel(a) => funnel::run(&target, a, now).await.map(|()| true),
        Command::Report(a) => funnel::run_report(&target, a, now).await.map(|()| true),
        Command::Resend(a) => resend::run(&target, a, now).await.map(|()| true),
        Command::Reconcile(a) => reconcile::run(&target, a, now).await,
        Command::Refund(a) => refund::run(&target, a, now).await.map(|()| true),
        Command::Preview(a) => preview::run(a).map(|()| true),
    }
}
