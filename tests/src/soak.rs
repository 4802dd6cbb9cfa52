//! The soak (issue 36, its first part): many buyers through the real handlers while the
//! locked emulator injects faults into their AWS calls, chosen by a seed, then an audit
//! of the books: the store, the mails SES accepted and the stand-in gateway's own book.
//!
//! A buyer checks out (pressing again if the shop answers an error), then pays (the
//! gateway's book says paid) and Alipay notifies one to three times at once, each copy
//! resent until the shop answers 200 as Alipay does; or pays and every notification is
//! lost; or opens the cashier and leaves; or leaves at once. Two reconcile runs overlap
//! the buyers and each other while the faults are on; after them reconcile runs as its
//! schedule would, past the notifications' grace and the orders' lifetime.
//! Time is the clock the library takes: reconcile is run "later", nothing sleeps.
//!
//! Still to come (issue 36): Stripe and WeChat Pay buyers, codes, pay what you want,
//! free copies, refunds, disputes, resends and a new edition in the mix; the stand-in
//! providers' own faults and reordered notifications; processes killed between calls;
//! `make soak` with 2,000 buyers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use kiosk::{OrderId, OrderStatus};

use crate::gateway::Answer;
use crate::{World, WorldOptions, now, read_mails};

/// How often each kind of fault answers a request of the soak's app.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// DynamoDB's `ProvisionedThroughputExceededException`, the others' throttling;
    /// nothing done.
    pub throttle: f64,
    /// A 500; nothing done.
    pub server_error: f64,
    /// Done, and a 500 answered: the caller cannot tell it was applied.
    pub lost_answer: f64,
}

impl Rates {
    pub fn each(rate: f64) -> Rates {
        Rates {
            throttle: rate,
            server_error: rate,
            lost_answer: rate,
        }
    }
}

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
            "lost_answer": rates.lost_answer,
        },
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
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default())
}

/// The buyers' choices, from the seed (splitmix64: the same seed, the same choices).
struct Dice(u64);

impl Dice {
    fn new(seed: u64, buyer: usize) -> Dice {
        Dice(seed ^ (buyer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
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
    pub faults: BTreeMap<String, u64>,
    /// Reconcile runs made while the buyers were buying (two at a time).
    pub reconcile_runs: u32,
    /// Buyers whose three checkouts all failed (the faults'), so who made no order they
    /// know of.
    pub gave_up: usize,
    pub took: Duration,
    /// Each broken promise, naming the order.
    pub problems: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "soak seed {} buyers {} ({} gave up at checkout): {} orders {:?} in {:.1} s; faults injected {:?}; {} overlapping reconcile runs; audit: {}",
            self.seed,
            self.buyers,
            self.gave_up,
            self.orders,
            self.by_status,
            self.took.as_secs_f64(),
            self.faults,
            self.reconcile_runs,
            if self.problems.is_empty() {
                "every promise kept".to_owned()
            } else {
                format!("{} broken: {:#?}", self.problems.len(), self.problems)
            }
        )
    }
}

const UA: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15";

/// One buyer's way through the shop; the orders it made.
async fn buyer(w: &World, seed: u64, i: usize) -> Vec<OrderId> {
    let mut dice = Dice::new(seed, i);
    let email = format!("soak-{}-{i}@example.com", w.tag);
    let body = crate::order_form("little-book-of-rust", &email, &[]);
    // Checkout; on an error the buyer presses Buy Now again (up to three times).
    let mut made = Vec::new();
    let mut order = None;
    for _ in 0..3 {
        let resp = w
            .checkout(
                &body,
                "application/x-www-form-urlencoded",
                "application/json",
                UA,
            )
            .await;
        if resp.status() == 200 {
            let v: serde_json::Value =
                serde_json::from_str(&crate::body_string(&resp)).unwrap_or_default();
            order = v["order_id"].as_str().and_then(|s| OrderId::parse(s).ok());
            break;
        }
    }
    let Some(id) = order else {
        return made;
    };
    made.push(id.clone());
    let paid = Answer::Paid {
        trade_no: format!("T-{id}"),
        total_amount: "9.00".into(),
    };
    match dice.below(100) {
        // Pays; Alipay notifies one to three times at once, each resent until a 200.
        0..=64 => {
            w.gateway.set(id.as_str(), paid);
            let copies = 1 + dice.below(3);
            let sends = (0..copies).map(|_| async {
                for _ in 0..8 {
                    if w.notify_signed(id.as_str(), "9.00", "TRADE_SUCCESS")
                        .await
                        .0
                        == 200
                    {
                        return;
                    }
                }
            });
            futures::future::join_all(sends).await;
        }
        // Pays; every notification is lost (reconcile must find the payment).
        65..=79 => w.gateway.set(id.as_str(), paid),
        // Opens the cashier and leaves.
        80..=89 => w.gateway.set(id.as_str(), Answer::Waiting),
        // Leaves at once.
        _ => {}
    }
    made
}

/// Run the soak and audit it.
pub async fn run(soak: Soak) -> Result<Report> {
    let started = Instant::now();
    let app = format!("kiosk-soak-{}", soak.seed);
    let w = World::new(WorldOptions {
        app: Some(app.clone()),
        // Every buyer here shares the network "unknown" (no source address): the
        // per-network rate is not what the soak is about.
        checkouts_per_network_hour: 100_000,
        ..WorldOptions::default()
    })
    .await?;
    w.add_product("little-book-of-rust", "9.00").await;
    set_faults(&w.http, &w.endpoint, soak.seed, &app, soak.rates).await?;

    let deadline = || kiosk::deadline::Deadline::after(Duration::from_secs(60));
    let buyers_done = std::sync::atomic::AtomicBool::new(false);
    // Two reconcile runs overlapping each other and the buyers, each as if a little
    // after the notifications' grace: they settle the orders whose notifications are
    // late or lost, racing the notifications still arriving (their errors are the
    // faults').
    let reconcile_meanwhile = || async {
        let mut runs = 0u32;
        while !buyers_done.load(std::sync::atomic::Ordering::SeqCst) {
            let at = now() + kiosk::reconcile::GRACE + time::Duration::seconds(5);
            let _ = w.reconciler.run(at, deadline()).await;
            runs += 1;
            // A pause between runs: the emulator serves one request at a time and scans
            // its indexes, so back-to-back runs would starve the buyers.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        runs
    };
    let buyers = async {
        let made = futures::stream::iter(0..soak.buyers)
            .map(|i| buyer(&w, soak.seed, i))
            .buffer_unordered(soak.concurrency)
            .collect::<Vec<_>>()
            .await;
        buyers_done.store(true, std::sync::atomic::Ordering::SeqCst);
        made.iter().filter(|orders| orders.is_empty()).count()
    };
    let (gave_up, runs_a, runs_b) =
        tokio::join!(buyers, reconcile_meanwhile(), reconcile_meanwhile());
    let reconcile_runs = runs_a + runs_b;
    // Reconcile after the faults, as its schedule would: past the notifications' grace,
    // and past the orders' lifetime.
    let after_grace = now() + kiosk::reconcile::GRACE + time::Duration::seconds(5);
    let faults = clear_faults(&w.http, &w.endpoint).await?;
    let after_lifetime = now() + time::Duration::minutes(31);
    for at in [after_grace, after_grace, after_lifetime, after_lifetime] {
        w.reconciler
            .run(at, deadline())
            .await
            .context("reconcile after the faults")?;
    }

    let (orders, _) = w.t.store.orders_created_since(None).await?;
    let mut by_status = BTreeMap::new();
    let mut problems = Vec::new();
    let mut mails_by_buyer: BTreeMap<String, usize> = BTreeMap::new();
    for o in &orders {
        *by_status.entry(o.status().to_string()).or_insert(0) += 1;
        let grants = w.grants_for(&o.id).await;
        let paid_at_provider = matches!(w.gateway.trade(o.id.as_str()), Answer::Paid { .. });
        if paid_at_provider {
            if o.status() != OrderStatus::Paid {
                problems.push(format!(
                    "{}: paid at the provider, {} in the shop",
                    o.id,
                    o.status()
                ));
            }
            if o.provider_txn_id() != Some(format!("T-{}", o.id).as_str())
                || o.amount.to_decimal() != "9.00"
            {
                problems.push(format!(
                    "{}: not the provider's payment: {:?} {}",
                    o.id,
                    o.provider_txn_id(),
                    o.amount
                ));
            }
            if grants != 1 {
                problems.push(format!("{}: {grants} grants for one payment", o.id));
            }
            *mails_by_buyer
                .entry(o.email.as_str().to_owned())
                .or_insert(0) += 1;
        } else {
            if o.status() == OrderStatus::Paid || grants != 0 {
                problems.push(format!(
                    "{}: {} with {grants} grants, never paid at the provider",
                    o.id,
                    o.status()
                ));
            }
            if o.status() != OrderStatus::Expired {
                problems.push(format!(
                    "{}: {} past its lifetime (not expired)",
                    o.id,
                    o.status()
                ));
            }
            if !matches!(
                w.gateway.trade(o.id.as_str()),
                Answer::Closed | Answer::NotExist
            ) {
                problems.push(format!("{}: expired but still open at the provider", o.id));
            }
        }
    }
    for (email, paid) in &mails_by_buyer {
        let mails = read_mails(&w.http, &w.endpoint, email).await.len();
        if mails != *paid {
            problems.push(format!(
                "{email}: {mails} purchase mails for {paid} paid orders"
            ));
        }
    }
    Ok(Report {
        seed: soak.seed,
        buyers: soak.buyers,
        orders: orders.len(),
        by_status,
        faults,
        reconcile_runs,
        gave_up,
        took: started.elapsed(),
        problems,
    })
}
