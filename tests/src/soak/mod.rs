//! The soak (issue 36): many buyers through the real handlers while the locked emulator
//! and the stand-in Alipay gateway inject faults, chosen by a seed, then an audit of the
//! books: the store, the mails SES accepted and the gateway's own book.
//!
//! A buyer picks the book or the pay-what-you-want zine (at an amount of their own), may
//! give the 20 %-off code (which has 30 uses; a buyer it is refused to tries without it)
//! or the 100 %-off one (a free copy, mailed at once), and checks out from a network of
//! their own, pressing Buy Now again when the shop answers an error. Then they pay (the
//! gateway's book says paid) and Alipay notifies one to three times, each copy resent
//! until the shop answers 200 as Alipay does; or pay and every notification is lost; or
//! open the cashier and leave; or leave at once. Some payers are refunded by the author
//! in Alipay's console, in full or in part, and Alipay reports it: the refund's
//! notifications race the payment's (so a refund can arrive first). Some payers press
//! "email me my links". Every notification and reconcile run may be killed part-way:
//! run as Lambda runs it, with a deadline cut to at most 1.5 s, so its work stops
//! wherever it has got to (between two AWS calls or during one) as at a Lambda timeout;
//! then it is rerun (Alipay resends; reconcile's schedule runs again). Two reconcile
//! runs overlap the buyers and each other while the faults are on; after them
//! reconcile runs as its schedule would, past the notifications' grace and the orders'
//! lifetime.
//!
//! Four instances of the checkout and payment-notify handles serve the Alipay buyers,
//! as Lambda runs several under load: a buyer checks out on one, and each notification
//! reaches whichever. `kiosk refund` and `kiosk update` runs are stopped part-way too
//! (anywhere, at a cut deadline) and run again.
//!
//! Time is the clock the library takes: reconcile is run "later", nothing sleeps. The
//! AWS SDK's attempt timeout is compressed (1 s instead of the functions' 3 s) so the
//! emulator's slow answers (1.1 s) pass it without slowing the soak much.
//!
//! About three buyers in ten pay by card instead, through the local shop's Stripe
//! stand-in ([`card`]): refunds with `kiosk refund` and disputes are theirs. Once half
//! the buyers have started, the author sends a new edition of the book (`kiosk update`,
//! stopped part-way at times and run again until it finishes), and once more after the
//! buyers, for those who paid after its list was read.
//!
//! Not in the mix yet (README, "The soak"): WeChat Pay buyers, faults in Stripe's API
//! beyond its refunds, exact replay of a seed's interleaving.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use kiosk::{OrderId, OrderStatus};

mod card;

use crate::dice::Dice;
use crate::gateway::{Answer, GatewayFaults};
use crate::{World, WorldOptions, now};

/// How often each kind of fault answers a request of the soak's app.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// DynamoDB's `ProvisionedThroughputExceededException`, the others' throttling;
    /// nothing done.
    pub throttle: f64,
    /// A 500; nothing done. At the gateway: a 502.
    pub server_error: f64,
    /// Done (DynamoDB), its answer held past the SDK's attempt timeout.
    pub slow_answer: f64,
    /// Done, and a 500 answered: the caller cannot tell it was applied. At the gateway:
    /// the connection dropped after the request was applied.
    pub lost_answer: f64,
    /// A notification's or reconcile run's process stopped part-way (its Lambda
    /// timeout cut to at most 1.5 s), then rerun.
    pub kill: f64,
}

impl Rates {
    pub fn each(rate: f64) -> Rates {
        Rates {
            throttle: rate,
            server_error: rate,
            slow_answer: rate,
            lost_answer: rate,
            kill: rate,
        }
    }
}

/// The soak's SDK attempt timeout and the emulator's slow answer, past it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1000);
const SLOW_SECONDS: f64 = 1.1;

/// Start injecting faults into the requests of SDKs whose app id starts with `app`.
pub async fn set_faults(
    http: &reqwest::Client,
    endpoint: &str,
    seed: u64,
    app: &str,
    rates: Rates,
) -> Result<()> {
    let plan = serde_json::json!({
        "seed": seed,
        "app": app,
        "rates": {
            "throttle": rates.throttle,
            "server_error": rates.server_error,
            "slow_answer": rates.slow_answer,
            "lost_answer": rates.lost_answer,
        },
        "slow_seconds": SLOW_SECONDS,
    });
    let resp = http
        .put(format!("{endpoint}/_kiosk/faults"))
        .header("content-type", "application/json")
        .body(plan.to_string())
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "the emulator refused the fault plan: {}",
            resp.text().await?
        );
    }
    Ok(())
}

/// Stop injecting faults; how many of each kind were injected.
pub async fn clear_faults(http: &reqwest::Client, endpoint: &str) -> Result<BTreeMap<String, u64>> {
    let before: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{endpoint}/_kiosk/faults"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    http.delete(format!("{endpoint}/_kiosk/faults"))
        .send()
        .await?;
    Ok(before["injected"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (format!("aws {k}"), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default())
}

/// Where the emulator's time went: the operations that held its lock longest.
async fn emulator_stats(http: &reqwest::Client, endpoint: &str) -> Result<Vec<(String, u64, f64)>> {
    let v: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{endpoint}/_kiosk/stats"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let mut out: Vec<(String, u64, f64)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        s["calls"].as_u64().unwrap_or(0),
                        s["seconds"].as_f64().unwrap_or(0.0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out.truncate(6);
    Ok(out)
}

/// A Lambda context deadline (milliseconds since the epoch) `ms` from now plus the
/// functions' reply margin: the handler's own work is cut `ms` from now, where it is,
/// as Lambda's timeout would cut it.
fn deadline_in(ms: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    now + kiosk::deadline::REPLY_MARGIN.as_millis() as u64 + ms
}

/// Processes stopped part-way (notification deliveries, reconcile runs, `kiosk refund`
/// and `kiosk update` runs).
static KILLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a killed process runs: up to 1.5 s, cut wherever its work has got to.
fn kill_after(dice: &mut Dice) -> u64 {
    KILLED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    dice.below(1500)
}

/// Alipay's notification delivered to payment-notify as Lambda runs it: with its
/// function's timeout (10 s), or (killed) a much shorter one; the status.
async fn notify_as_lambda(shop: &kiosk::shop::Shop, body: &str, kill: Option<u64>) -> u16 {
    let work = Duration::from_millis(kill.unwrap_or(10_000));
    crate::notify_within(shop, body, kiosk::deadline::REPLY_MARGIN + work).await
}

/// One soak: how many buyers, the seed, the faults.
#[derive(Debug, Clone, Copy)]
pub struct Soak {
    pub seed: u64,
    pub buyers: usize,
    pub rates: Rates,
    /// Buyers at once.
    pub concurrency: usize,
}

/// What a soak did and what the audit found.
#[derive(Debug)]
pub struct Report {
    pub seed: u64,
    pub buyers: usize,
    pub orders: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Free copies, orders with the limited code, refunds reported (full, partial),
    /// "email me my links" pressed.
    pub mix: BTreeMap<&'static str, usize>,
    pub faults: BTreeMap<String, u64>,
    /// Reconcile runs made while the buyers were buying (two at a time).
    pub reconcile_runs: u32,
    /// Buyers whose three checkouts all failed (the faults'), so who made no order they
    /// know of.
    pub gave_up: usize,
    pub took: Duration,
    /// The emulator's busiest operations: calls and seconds holding its lock.
    pub emulator: Vec<(String, u64, f64)>,
    /// Each broken promise, naming the order.
    pub problems: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "soak seed {} buyers {} ({} gave up at checkout): {} orders {:?}, {:?}, in {:.1} s ({:.0} buyers a minute); faults injected {:?}; {} overlapping reconcile runs; emulator's busiest {:?}; audit: {}",
            self.seed,
            self.buyers,
            self.gave_up,
            self.orders,
            self.by_status,
            self.mix,
            self.took.as_secs_f64(),
            self.buyers as f64 * 60.0 / self.took.as_secs_f64().max(0.001),
            self.faults,
            self.reconcile_runs,
            self.emulator,
            if self.problems.is_empty() {
                "every promise kept".to_owned()
            } else {
                format!("{} broken: {:#?}", self.problems.len(), self.problems)
            }
        )
    }
}

const BOOK: &str = "little-book-of-rust";
const ZINE: &str = "zine";
const LIMITED_CODE: &str = "LAUNCH";
const LIMITED_USES: u32 = 30;
const FREE_CODE: &str = "GIFT";

/// Free copies are limited shop-wide per hour and day; the soak's are many more.
const FREE_LIMITS: kiosk::config::FreeLimits = kiosk::config::FreeLimits {
    per_network_hour: 5,
    per_hour: 100_000,
    per_day: 100_000,
};

/// How many instances of the checkout and payment-notify handles serve the Alipay
/// buyers at once (as Lambda runs several of each under load).
const INSTANCES: usize = 4;

/// One instance of each HTTP function's handle, as one Lambda instance builds it.
struct Instance {
    checkout: kiosk::checkout::Checkout,
    shop: kiosk::shop::Shop,
}

/// A buyer's way: by Alipay through the world, or by card through the local shop.
enum Either {
    Alipay(Did),
    Card(card::CardDid),
}

/// What one buyer did, for the report.
#[derive(Default)]
struct Did {
    order: Option<OrderId>,
    free: bool,
    limited_code: bool,
    refund: Option<bool>,
    resent: bool,
}

/// The buyer's own network: every buyer a different address (the per-network limits
/// are not what the soak is about).
fn network_of(i: usize) -> String {
    network_in(0, i)
}

/// Buyer `i`'s address in block `block` (10.`block`.x.y; the card buyers have their
/// own block).
fn network_in(block: u8, i: usize) -> String {
    format!("10.{block}.{}.{}", (i >> 8) & 255, i & 255)
}

/// A form checkout from the buyer's network, pressing again on an error (three times at
/// most): the JSON answer.
async fn check_out(
    checkout: &kiosk::checkout::Checkout,
    email: &str,
    i: usize,
    dice: &mut Dice,
) -> Option<serde_json::Value> {
    let ip = network_of(i);
    let zine = dice.below(4) == 0;
    let product = if zine { ZINE } else { BOOK };
    let amount = format!("{}.{:02}", 5 + dice.below(20), dice.below(100));
    let mut code = match dice.below(100) {
        0..=7 => Some(LIMITED_CODE),
        8..=12 if !zine => Some(FREE_CODE),
        _ => None,
    };
    for _ in 0..3 {
        let mut fields: Vec<(&str, String)> = Vec::new();
        if zine {
            fields.push(("amount", amount.clone()));
        }
        if let Some(c) = code {
            fields.push(("code", c.to_owned()));
        }
        if code == Some(FREE_CODE) {
            // A free copy needs the buy page's claim (the page may fail too).
            let (status, page) =
                crate::buy_page_from(checkout, &format!("/buy/{product}"), &ip).await;
            match crate::claim_of(&page) {
                Some(claim) if status == 200 => fields.push(("claim", claim)),
                _ => continue,
            }
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = crate::order_form(product, email, &fields);
        let resp = crate::checkout_from(checkout, &body, "application/json", &ip).await;
        let v: serde_json::Value =
            serde_json::from_str(&crate::body_string(&resp)).unwrap_or_default();
        match resp.status().as_u16() {
            200 => return Some(v),
            400 if v["error"]["field"] == "code" => code = None,
            _ => {}
        }
    }
    None
}

/// Alipay's notification of a refund of `refund_fee` so far (TRADE_CLOSED once all of
/// the payment is refunded), signed as Alipay signs it.
fn refund_notification(w: &World, id: &OrderId, total: &str, refund_fee: &str) -> String {
    let status = if refund_fee == total {
        "TRADE_CLOSED"
    } else {
        "TRADE_SUCCESS"
    };
    let mut p = w.notify_params(id.as_str(), total, status);
    p.insert("refund_fee".into(), refund_fee.into());
    p.insert("gmt_refund".into(), "2026-12-07 10:00:00".into());
    p.insert("notify_id".into(), format!("N-refund-{id}-{refund_fee}"));
    crate::form(&w.sign_as_alipay(p))
}

/// "Email me my links", pressed on the download page from the buyer's network.
async fn resend(downloads: &kiosk::downloads::Downloads, email: &str, ip: &str) {
    download::handler::handle(downloads, crate::resend_request(email, ip), now()).await;
}

/// One buyer's way through the shop.
async fn buyer(
    w: &World,
    instances: &[Instance],
    downloads: &kiosk::downloads::Downloads,
    soak: Soak,
    i: usize,
) -> Did {
    let mut dice = Dice::new(soak.seed, i);
    let email = format!("soak-{}-{i}@example.com", w.tag);
    let mut did = Did::default();
    let Some(v) = check_out(
        &instances[i % instances.len()].checkout,
        &email,
        i,
        &mut dice,
    )
    .await
    else {
        return did;
    };
    if v.get("mailed_to").is_some() {
        did.free = true;
        return did;
    }
    let Some(id) = v["order_id"].as_str().and_then(|s| OrderId::parse(s).ok()) else {
        return did;
    };
    did.order = Some(id.clone());
    let Ok(Some(order)) = w.t.store.get_order(&id).await else {
        return did;
    };
    did.limited_code = order.code.as_ref().map(|c| c.as_str()) == Some(LIMITED_CODE);
    let total = order.amount.to_decimal();
    let trade_no = format!("T-{id}");
    let how = dice.below(100);
    if how >= 70 {
        // Opens the cashier and leaves, or leaves at once.
        if how < 80 {
            w.gateway.set(id.as_str(), Answer::Waiting);
        }
        return did;
    }
    let notified = how < 55;
    // Some payers are refunded (in full or in part) by the author in Alipay's console.
    let refund = dice.chance(0.15).then(|| {
        if dice.below(3) < 2 {
            total.clone()
        } else {
            kiosk::Money::from_minor(order.amount.minor() / 2, order.amount.currency())
                .map(|m| m.to_decimal())
                .unwrap_or_else(|_| total.clone())
        }
    });
    did.refund = refund.as_ref().map(|fee| *fee == total);
    w.gateway.set(
        id.as_str(),
        match &refund {
            Some(fee) => Answer::Refunded {
                trade_no,
                total_amount: total.clone(),
                refund_fee: fee.clone(),
            },
            None => Answer::Paid {
                trade_no,
                total_amount: total.clone(),
            },
        },
    );
    // The notifications, in no set order: the payment's (one to three copies, unless
    // lost) and the refund's (one or two), each after a little while, each resent until
    // answered 200, each delivery possibly killed.
    let mut bodies = Vec::new();
    if notified {
        for _ in 0..1 + dice.below(3) {
            bodies.push(crate::form(&w.notify_params(
                id.as_str(),
                &total,
                "TRADE_SUCCESS",
            )));
        }
    }
    if let Some(fee) = &refund {
        for _ in 0..1 + dice.below(2) {
            bodies.push(refund_notification(w, &id, &total, fee));
        }
    }
    let sends = bodies.into_iter().map(|body| {
        let mut d = Dice::of(dice.roll());
        async move {
            // Each delivery reaches whichever instance Lambda gives it.
            let shop = &instances[d.below(instances.len() as u64) as usize].shop;
            tokio::time::sleep(Duration::from_millis(d.below(30))).await;
            for _ in 0..10 {
                let kill = d.chance(soak.rates.kill).then(|| kill_after(&mut d));
                if notify_as_lambda(shop, &body, kill).await == 200 {
                    return;
                }
            }
        }
    });
    futures::future::join_all(sends).await;
    if dice.chance(0.05) {
        did.resent = true;
        resend(downloads, &email, &network_of(i)).await;
    }
    did
}

/// The new edition's label.
const NEW_EDITION: &str = "2";

/// `kiosk update` for the book, through the library the command calls, on the soak's
/// faulty SDK: each run may be stopped part-way (as a crash after a mail), and a run
/// that stops or fails is run again, as the author would, up to `runs` times. How many
/// runs it made and whether the last finished.
///
/// Mid-run, a run can fail at any of its hundreds of calls, and every handle in this
/// one process shares the SDK's retry quota per service, which 20 % faults drain (a
/// deployed function and the author's CLI each have their own): runs that fail there
/// leave their work part-done, and the run after the faults finishes it.
async fn new_edition(
    author: &kiosk::author::Author,
    seed: u64,
    rates: Rates,
    runs: u32,
) -> Result<(u32, bool)> {
    let req = kiosk::mailout::UpdateRequest {
        product: kiosk::ProductId::parse(BOOK).context("the book's id")?,
        files: vec![
            kiosk::catalog::EditionFile::new(
                "book-2.pdf",
                b"%PDF-1.4 the second edition".to_vec(),
                None,
            )
            .context("the new file")?,
        ],
        edition: Some(kiosk::product::Edition::parse(NEW_EDITION).context("the label")?),
        note: Some("Two new chapters".into()),
    };
    let mut dice = Dice::new(seed ^ 0xED17, 0);
    let mut outcomes = Vec::new();
    for run in 1..=runs {
        let crash_after = dice
            .chance(rates.kill * 4.0)
            .then(|| dice.below(20) as usize);
        let mut watch = |p: kiosk::mailout::Progress<'_>| match p {
            kiosk::mailout::Progress::Buyer { summary, .. }
                if Some(summary.sent) == crash_after =>
            {
                std::ops::ControlFlow::Break(())
            }
            _ => std::ops::ControlFlow::Continue(()),
        };
        // Stopped after a few mails at times (the watcher), or anywhere at others (its
        // deadline, between any two calls).
        let cut = dice.chance(rates.kill).then(|| kill_after(&mut dice));
        let Some(outcome) =
            kiosk::deadline::Deadline::after(Duration::from_millis(cut.unwrap_or(600_000)))
                .run(Box::pin(author.run_update(&req, now(), &mut watch)))
                .await
        else {
            outcomes.push("stopped at its deadline".into());
            continue;
        };
        match outcome {
            Ok(summary) if summary.ok() => return Ok((run, true)),
            Ok(summary) => outcomes.push(format!(
                "sent {} failed {} stopped {} deferred {}: {:?}",
                summary.sent,
                summary.failed.len(),
                summary.stopped,
                summary.deferred,
                summary.failed.first()
            )),
            Err(e) => outcomes.push(format!("{e:#}")),
        }
    }
    if rates.kill == 0.0 {
        bail!(
            "kiosk update never finished in {runs} runs without faults; the last: {:#?}",
            &outcomes[outcomes.len().saturating_sub(5)..]
        )
    }
    Ok((runs, false))
}

/// Run the soak and audit it.
pub async fn run(soak: Soak) -> Result<Report> {
    let started = Instant::now();
    let app = format!("kiosk-soak-{}", soak.seed);
    let mut w = World::new(WorldOptions {
        app: Some(app.clone()),
        attempt_timeout: Some(ATTEMPT_TIMEOUT),
        checkouts_per_network_hour: 100_000,
        ..WorldOptions::default()
    })
    .await?;
    w.add_product(BOOK, "9.00").await;
    let zine = crate::product(ZINE, "12.00")
        .with_pay_what_you_want(Some(kiosk::pricing::PayWhatYouWant {
            min: kiosk::Money::from_minor(500, kiosk::Currency::Cny)?,
            max: kiosk::Money::from_minor(120_000, kiosk::Currency::Cny)?,
        }))
        .context("the zine")?;
    w.t.store.create_product(&zine, now()).await?;
    for code in [
        crate::sample_code(
            LIMITED_CODE,
            kiosk::pricing::Discount::Percent(20),
            Some(LIMITED_USES),
        ),
        crate::sample_code(FREE_CODE, kiosk::pricing::Discount::Percent(100), None),
    ] {
        w.t.store.create_code(&code).await?;
    }
    w.reconfigure_checkout(|c| c.free = FREE_LIMITS).await?;
    let downloads = kiosk::downloads::Downloads::new(&w.handles_sdk, w.shop.config().clone());
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        let mut config = w.shop.config().checkout();
        config.free = FREE_LIMITS;
        instances.push(Instance {
            checkout: kiosk::checkout::Checkout::new(
                &w.handles_sdk,
                config,
                w.channels_config.clone(),
            )
            .await?
            .with_free_fulfilment(w.fulfiller.clone()),
            shop: kiosk::shop::Shop::new(
                &w.handles_sdk,
                w.shop.config().clone(),
                w.channels_config.clone(),
            )
            .await?,
        });
    }
    let bucket = format!("kiosk-soak-{}", w.tag);
    kiosk::files::s3_client(&kiosk_localaws::emulator_config().await?)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await?;
    let settings = kiosk::author::AuthorSettings {
        table: w.t.name.clone(),
        bucket: Some(bucket),
        sender: Some(kiosk::Sender::parse(crate::VERIFIED_SENDER)?),
        public_base_url: Some(crate::BASE_URL.to_owned()),
        support: None,
        mail_configuration_set: Some(crate::MAIL_CONFIGURATION_SET.to_owned()),
        default_lang: kiosk::i18n::Lang::EN,
    };
    let author = kiosk::author::Author::new(&w.handles_sdk, settings.clone());
    // After the faults the author and the schedule's reconcile run with the SDK's own
    // timeouts: the compressed one is there for the slow answers, and at thousands of
    // orders the emulator's biggest pages take longer than it.
    let plain = kiosk_localaws::emulator_config().await?;
    let author_after = kiosk::author::Author::new(&plain, settings);
    let reconciler_after = kiosk::reconcile::Reconciler::new(
        kiosk::shop::Shop::new(&plain, w.shop.config().clone(), w.channels_config.clone()).await?,
    );
    let started_buyers = std::sync::atomic::AtomicUsize::new(0);
    // The card buyers' shop: the local one, its handles on the soak's app id, without
    // its own reconcile schedule: that one goes by the real clock, and beside the soak's
    // runs (minutes ahead) it would see every mail lease as long expired -- two clocks
    // no deployed shop has (found by the soak: a purchase mail sent three times).
    let local = crate::local::LocalShop::start_as(
        &std::env::temp_dir().join(format!("kiosk-soak-keys-{}", soak.seed)),
        Some(app.clone()),
        Some(ATTEMPT_TIMEOUT),
        None,
    )
    .await?;
    let banks = card::Banks::default();
    let _ = w
        .http
        .delete(format!("{}/_kiosk/stats", w.endpoint))
        .send()
        .await;
    KILLED.store(0, std::sync::atomic::Ordering::SeqCst);
    set_faults(&w.http, &w.endpoint, soak.seed, &app, soak.rates).await?;
    w.gateway.set_faults(GatewayFaults {
        seed: soak.seed,
        unavailable: soak.rates.server_error,
        lost_answer: soak.rates.lost_answer,
    });
    local.app.stripe.set_faults(devstack::stripe::Faults {
        seed: soak.seed,
        throttle: soak.rates.throttle,
        server_error: soak.rates.server_error,
        lost_answer: soak.rates.lost_answer,
        // Twice the rate: a card buyer's events are few (a payment, a refund or a
        // dispute), and the short soak in `make test` must see both kinds.
        duplicate_webhook: 2.0 * soak.rates.lost_answer,
        delay_webhook: 2.0 * soak.rates.slow_answer,
    });

    let deadline = || kiosk::deadline::Deadline::after(Duration::from_secs(60));
    let buyers_done = std::sync::atomic::AtomicBool::new(false);
    // Two reconcile lanes overlapping each other and the buyers, each run as if a little
    // after the notifications' grace, of the Alipay shop and then the card shop: they
    // settle the orders whose notifications are late or lost, racing the notifications
    // still arriving (their errors are the faults'). Each run may be killed part-way.
    let reconcile_meanwhile = |lane: usize| {
        let (w, local, buyers_done) = (&w, &local, &buyers_done);
        async move {
            let mut dice = Dice::new(soak.seed ^ 0x5EED, usize::MAX - lane);
            let mut runs = 0u32;
            while !buyers_done.load(std::sync::atomic::Ordering::SeqCst) {
                for reconciler in [&w.reconciler, &local.app.reconciler] {
                    let at = now() + kiosk::reconcile::GRACE + time::Duration::seconds(5);
                    let timeout = if dice.chance(soak.rates.kill) {
                        kill_after(&mut dice)
                    } else {
                        60_000
                    };
                    let _ =
                        reconcile::handler::run_invocation(reconciler, at, deadline_in(timeout))
                            .await;
                }
                runs += 1;
                // A pause between runs: the emulator serves one request at a time, so
                // back-to-back runs would starve the buyers.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            runs
        }
    };
    // The author sends a new edition of the book once half the buyers have started.
    let edition_mid_run = async {
        while started_buyers.load(std::sync::atomic::Ordering::SeqCst) < soak.buyers / 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Box::pin(new_edition(&author, soak.seed, soak.rates, 20)).await
    };
    let buyers = async {
        let did = futures::stream::iter(0..soak.buyers)
            .map(|i| {
                started_buyers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (w, local, downloads, banks, instances) =
                    (&w, &local, &downloads, &banks, &instances);
                async move {
                    if card::is_card(soak.seed, i) {
                        Either::Card(Box::pin(card::buyer(local, banks, soak, i)).await)
                    } else {
                        Either::Alipay(Box::pin(buyer(w, instances, downloads, soak, i)).await)
                    }
                }
            })
            .buffer_unordered(soak.concurrency)
            .collect::<Vec<_>>()
            .await;
        buyers_done.store(true, std::sync::atomic::Ordering::SeqCst);
        did
    };
    let (did, runs_a, runs_b, update_runs) = tokio::join!(
        buyers,
        reconcile_meanwhile(0),
        reconcile_meanwhile(1),
        edition_mid_run
    );
    let (mut update_runs, finished_mid_run) = update_runs?;
    let reconcile_runs = runs_a + runs_b;
    let (did, card_did): (Vec<Did>, Vec<card::CardDid>) =
        did.into_iter()
            .fold((Vec::new(), Vec::new()), |(mut a, mut c), d| {
                match d {
                    Either::Alipay(d) => a.push(d),
                    Either::Card(d) => c.push(d),
                }
                (a, c)
            });
    // Alipay's notifications are the buyers' own tasks, all done; the Stripe stand-in's
    // webhooks may still be retried (its schedule, 64 steps of 50 ms): reconcile after the
    // faults runs minutes ahead, so it must not race a payment's own handling.
    for _ in 0..300 {
        if local.app.stripe.webhooks_pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut faults = clear_faults(&w.http, &w.endpoint).await?;
    let [unavailable, lost] = w.gateway.clear_faults();
    faults.insert("gateway unavailable".into(), unavailable);
    faults.insert("gateway lost_answer".into(), lost);
    let stripe = local.app.stripe.clear_faults();
    for (kind, n) in [
        "stripe throttle",
        "stripe server_error",
        "stripe lost_answer",
        "stripe webhook twice",
        "stripe webhook late",
    ]
    .into_iter()
    .zip(stripe)
    {
        faults.insert(kind.into(), n);
    }
    faults.insert(
        "processes stopped".into(),
        KILLED.swap(0, std::sync::atomic::Ordering::SeqCst),
    );
    // Reconcile after the faults, as its schedule would: past the notifications' grace,
    // and past the orders' lifetime.
    let after_grace = now() + kiosk::reconcile::GRACE + time::Duration::seconds(5);
    let after_lifetime = now() + time::Duration::minutes(31);
    // A run that fails is run again, as the schedule would (the SDK's retry quota,
    // which every handle in this process shares, may still be drained).
    for at in [after_grace, after_grace, after_lifetime, after_lifetime] {
        let mut left = 5;
        loop {
            let done = async {
                reconciler_after.run(at, deadline()).await?;
                card::reconcile(&local, at).await
            }
            .await;
            match done {
                Ok(()) => break,
                Err(e) if left == 0 => return Err(e.context("reconcile after the faults")),
                Err(_) => left -= 1,
            }
        }
    }
    // The author runs `kiosk update` once more, for the orders paid after the mid-run
    // one read its list (they bought the first edition at checkout).
    update_runs += Box::pin(new_edition(
        &author_after,
        soak.seed ^ 1,
        Rates::each(0.0),
        5,
    ))
    .await?
    .0;
    let emulator = emulator_stats(&w.http, &w.endpoint).await?;
    let mut mix = BTreeMap::new();
    mix.insert("free copies", did.iter().filter(|d| d.free).count());
    mix.insert(
        "limited code",
        did.iter().filter(|d| d.limited_code).count(),
    );
    mix.insert(
        "refunds in full",
        did.iter().filter(|d| d.refund == Some(true)).count(),
    );
    mix.insert(
        "refunds in part",
        did.iter().filter(|d| d.refund == Some(false)).count(),
    );
    mix.insert("links resent", did.iter().filter(|d| d.resent).count());
    mix.insert("kiosk update runs", update_runs as usize);
    mix.insert(
        "kiosk update finished mid-run",
        usize::from(finished_mid_run),
    );
    mix.insert("card buyers", card_did.len());
    mix.insert(
        "card refunds in full",
        card_did.iter().filter(|d| d.refund == Some(true)).count(),
    );
    mix.insert(
        "card refunds in part",
        card_did.iter().filter(|d| d.refund == Some(false)).count(),
    );
    mix.insert("disputes", card_did.iter().filter(|d| d.disputed).count());
    let gave_up = card_did.iter().filter(|d| d.order.is_none()).count()
        + did.iter().filter(|d| d.order.is_none() && !d.free).count();
    let mut report = Box::pin(audit(&w)).await?;
    report.orders += card::audit(
        &local,
        &banks,
        after_lifetime,
        &mut report.by_status,
        &mut report.problems,
    )
    .await?;
    report.seed = soak.seed;
    report.buyers = soak.buyers;
    report.mix = mix;
    report.faults = faults;
    report.reconcile_runs = reconcile_runs;
    report.gave_up = gave_up;
    report.emulator = emulator;
    report.took = started.elapsed();
    Ok(report)
}

/// One download link, as the audit reads it.
struct Link {
    revoked: bool,
    edition: String,
}

/// The audit: the store against the gateway's book and the mails SES accepted. It
/// reads each once (one scan of the grants, one read of the mails), not once per order.
async fn audit(w: &World) -> Result<Report> {
    let (orders, _) = w.t.store.orders_created_since(None).await?;
    let mut grants: BTreeMap<String, Vec<Link>> = BTreeMap::new();
    for g in w.t.scan_entity("grant").await? {
        let text = |name: &str| {
            g.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let revoked = g
            .get("revoked")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false);
        grants.entry(text("order_id")).or_default().push(Link {
            revoked,
            edition: text("edition"),
        });
    }
    let mails = kiosk_localaws::sent_mail_containing(&w.http, &w.endpoint, &w.tag).await?;
    // Per buyer: purchase mails, new-edition mails.
    let mut mailed: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in &mails {
        for to in &m.to {
            let e = mailed.entry(to.clone()).or_insert((0, 0));
            if m.subject.starts_with("Your download:") {
                e.0 += 1;
            } else if m.subject.starts_with("New edition:") {
                e.1 += 1;
            }
        }
    }
    let mut by_status = BTreeMap::new();
    let mut problems = Vec::new();
    // Per buyer: (purchases paid and granted, granted then refunded in full, live
    // new-edition links, all new-edition links).
    let mut owed: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut limited_held = 0u32;
    let none = Vec::new();
    for o in &orders {
        let id = &o.id;
        let status = o.status();
        *by_status.entry(status.to_string()).or_insert(0) += 1;
        let links = grants.get(id.as_str()).unwrap_or(&none);
        // The purchase's own link (its edition at checkout) and the new edition's.
        let own: Vec<&Link> = links
            .iter()
            .filter(|l| l.edition == o.edition.as_str())
            .collect();
        let newer: Vec<&Link> = links
            .iter()
            .filter(|l| l.edition == NEW_EDITION && o.edition.as_str() != NEW_EDITION)
            .collect();
        if own.len() + newer.len() != links.len() {
            problems.push(format!("{id}: a link of an edition it never had"));
        }
        let live = links.iter().filter(|l| !l.revoked).count();
        let debts = owed.entry(o.email.as_str().to_owned()).or_insert([0; 4]);
        if !own.is_empty() {
            match status {
                OrderStatus::Refunded => debts[1] += 1,
                _ => debts[0] += 1,
            }
        }
        debts[2] += newer.iter().filter(|l| !l.revoked).count();
        debts[3] += newer.len();
        // A code's use is held by a pending order, a paid one, and one refunded after
        // its link was granted; an expired order's went back, as did one refunded
        // before its payment was recorded.
        let holds_use = match status {
            OrderStatus::Pending | OrderStatus::Paid => true,
            OrderStatus::Refunded => o.grant_token().is_some(),
            OrderStatus::Expired => false,
        };
        if o.code.as_ref().map(|c| c.as_str()) == Some(LIMITED_CODE) && holds_use {
            limited_held += 1;
        }
        // A purchase that stands: one live link of its own edition and, bought before
        // the new edition, one live link of that.
        let stands = |problems: &mut Vec<String>, what: &str| {
            let wanted_newer =
                usize::from(o.product_id.as_str() == BOOK && o.edition.as_str() != NEW_EDITION);
            if own.len() != 1 || newer.len() != wanted_newer || live != 1 + wanted_newer {
                problems.push(format!(
                    "{id}: {what}, {status} with {} links of its edition and {} of the new one ({live} live)",
                    own.len(),
                    newer.len()
                ));
            }
        };
        if o.amount.minor() == 0 {
            // A free copy: granted at once, never at a provider.
            if status != OrderStatus::Paid {
                problems.push(format!("{id}: a free copy, {status}"));
            }
            stands(&mut problems, "a free copy");
            continue;
        }
        match w.gateway.trade(id.as_str()) {
            Answer::Paid {
                trade_no,
                total_amount,
            } => {
                if status != OrderStatus::Paid {
                    problems.push(format!("{id}: paid at the provider, {status} in the shop"));
                }
                if o.provider_txn_id() != Some(trade_no.as_str())
                    || o.amount.to_decimal() != total_amount
                {
                    problems.push(format!(
                        "{id}: not the provider's payment: {:?} {} (the provider: {trade_no} {total_amount})",
                        o.provider_txn_id(),
                        o.amount
                    ));
                }
                stands(&mut problems, "paid");
            }
            Answer::Refunded {
                total_amount,
                refund_fee,
                ..
            } if refund_fee == total_amount => {
                if status != OrderStatus::Refunded {
                    problems.push(format!(
                        "{id}: refunded in full at the provider, {status} in the shop"
                    ));
                }
                if own.len() > 1 || newer.len() > 1 || live != 0 {
                    problems.push(format!(
                        "{id}: refunded in full with {} links, {live} of them live",
                        links.len()
                    ));
                }
            }
            Answer::Refunded { refund_fee, .. } => {
                let recorded = o.refunded.map(|m| m.to_decimal());
                if status != OrderStatus::Paid || recorded.as_deref() != Some(refund_fee.as_str()) {
                    problems.push(format!(
                        "{id}: {refund_fee} refunded in part at the provider, {status} with {recorded:?} refunded in the shop"
                    ));
                }
                stands(&mut problems, "refunded in part");
            }
            open @ (Answer::Waiting | Answer::PaysAtClose { .. } | Answer::Silent) => {
                problems.push(format!(
                    "{id}: {status} in the shop and still open at the provider ({open:?}) past its lifetime"
                ));
            }
            Answer::Closed | Answer::NotExist => {
                if status != OrderStatus::Expired || !links.is_empty() {
                    problems.push(format!(
                        "{id}: never paid at the provider, {status} with {} links in the shop",
                        links.len()
                    ));
                }
            }
        }
    }
    // Per buyer: one purchase mail per purchase that stands (a purchase refunded in full
    // may have had its mail, if the refund came after it, or not), and one new-edition
    // mail per live new-edition link (one revoked by a refund may have had its mail).
    for (email, [paid, refunded, newer_live, newer_all]) in &owed {
        let (purchase, edition) = mailed.get(email).copied().unwrap_or((0, 0));
        if purchase < *paid
            || purchase > paid + refunded
            || edition < *newer_live
            || edition > *newer_all
        {
            let states: Vec<String> = orders
                .iter()
                .filter(|o| o.email.as_str() == email)
                .map(|o| format!("{} {} {:?}", o.id, o.status(), o.mail))
                .collect();
            problems.push(format!(
                "{email}: {purchase} purchase mails for {paid} purchases and {refunded} refunded; {edition} new-edition mails for {newer_live} live links of it ({newer_all} in all): {states:?}"
            ));
        }
    }
    let code = kiosk::pricing::CodeName::parse(LIMITED_CODE).context("the code name")?;
    match w.t.store.get_code(&code).await? {
        Some(c) if c.uses() != limited_held => {
            let holders: Vec<String> = orders
                .iter()
                .filter(|o| o.code.as_ref().map(|c| c.as_str()) == Some(LIMITED_CODE))
                .map(|o| format!("{} {:?}", o.id, o.state()))
                .collect();
            problems.push(format!(
                "{LIMITED_CODE}: {} uses counted, {limited_held} orders hold one: {holders:#?}",
                c.uses()
            ))
        }
        Some(c) if c.uses() > LIMITED_USES => problems.push(format!(
            "{LIMITED_CODE}: {} uses of {LIMITED_USES}",
            c.uses()
        )),
        Some(_) => {}
        None => problems.push(format!("{LIMITED_CODE}: gone")),
    }
    Ok(Report {
        seed: 0,
        buyers: 0,
        orders: orders.len(),
        by_status,
        mix: BTreeMap::new(),
        faults: BTreeMap::new(),
        reconcile_runs: 0,
        gave_up: 0,
        took: Duration::ZERO,
        emulator: Vec::new(),
        problems,
    })
}
