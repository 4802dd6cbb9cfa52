//! The soak's card buyers: Stripe, through the local shop (`make dev`'s server, in
//! process, with its Stripe stand-in), whose handles send the soak's app id so the
//! emulator's faults reach them too.
//!
//! A card buyer checks out from a network of their own (again on an error), then pays
//! (the stand-in posts `checkout.session.completed` and retries it until the shop
//! answers 2xx), or pays with every webhook lost (reconcile's retrieve must find it),
//! or opens the hosted page and leaves, or leaves at once. The author refunds some
//! payers with `kiosk refund` (in full or in part, racing the payment's webhook: a
//! refund asked for before the shop knows of the payment is refused and asked for
//! again), while the stand-in fails some refund answers after making the refund. Some
//! buyers' banks dispute the payment; some disputes are then won, some lost.
//!
//! The audit reads the local shop's store, its mails and the stand-in's sessions and
//! refunds; the bank's side of a dispute is the soak's own record (the stand-in keeps
//! no dispute book).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use kiosk::{OrderId, OrderStatus};

use super::Soak;
use crate::dice::Dice;
use crate::local::LocalShop;

/// What the bank said last about a disputed payment (by order id).
#[derive(Default)]
pub(super) struct Banks(Mutex<BTreeMap<String, &'static str>>);

/// What one card buyer did, for the report.
#[derive(Default)]
pub(super) struct CardDid {
    pub order: Option<OrderId>,
    pub refund: Option<bool>,
    pub disputed: bool,
}

/// One card buyer's way through the local shop.
pub(super) async fn buyer(shop: &LocalShop, banks: &Banks, soak: Soak, i: usize) -> CardDid {
    let mut dice = Dice::new(soak.seed ^ 0xCA4D, i);
    let mut did = CardDid::default();
    let email = format!("card-{}-{i}@example.com", shop.app.names.table);
    let body = crate::order_form(super::BOOK, &email, &[("channel", "stripe")]);
    let ip = super::network_in(200, i);
    let mut order = None;
    for _ in 0..3 {
        let resp = crate::checkout_from(&shop.app.checkout, &body, "application/json", &ip).await;
        if resp.status() == 200 {
            let v: serde_json::Value =
                serde_json::from_str(&crate::body_string(&resp)).unwrap_or_default();
            order = v["order_id"].as_str().and_then(|s| OrderId::parse(s).ok());
            break;
        }
    }
    let Some(id) = order else {
        return did;
    };
    did.order = Some(id.clone());
    let Some(session) = shop.app.stripe.session_for_order(id.as_str()) else {
        return did;
    };
    let how = dice.below(100);
    if how >= 70 {
        // Opens the hosted page and leaves, or leaves at once: nothing at Stripe.
        return did;
    }
    let lose = if how >= 55 { "&lose_webhook=1" } else { "" };
    let _ = shop.app.stripe.pay(
        &session.id,
        &format!("card={}{lose}", devstack::stripe::CARD_PAYS),
    );
    if dice.chance(0.15) {
        let full = dice.below(3) < 2;
        did.refund = Some(full);
        let half = kiosk::Money::from_minor(session.amount / 2, kiosk::Currency::Cny)
            .map(|m| m.to_decimal())
            .ok();
        tokio::time::sleep(Duration::from_millis(dice.below(200))).await;
        // The stand-in loses or fails the answer of some refunds it makes.
        if dice.chance(soak.rates.lost_answer + soak.rates.server_error) {
            let fault = if dice.below(2) == 0 {
                devstack::stripe::Fault::LoseAnswer
            } else {
                devstack::stripe::Fault::ServerError
            };
            shop.app.stripe.fail_refunds(&[fault]);
        }
        // `kiosk refund`, run again until it says done (a refund asked for before the
        // shop knows of the payment is refused: not paid yet).
        for _ in 0..40 {
            let amount = if full { None } else { half.as_deref() };
            // The run may be stopped part-way (between its calls to Stripe and the
            // store), as a closed laptop or a killed process would stop it.
            let cut = dice
                .chance(soak.rates.kill)
                .then(|| super::kill_after(&mut dice));
            let run =
                kiosk::deadline::Deadline::after(Duration::from_millis(cut.unwrap_or(60_000)))
                    .run(Box::pin(shop.app.refunds.refund_order(
                        &id,
                        kiosk::refund::RefundAsk {
                            amount,
                            reason: Some("soak"),
                            again: false,
                        },
                        crate::now(),
                    )))
                    .await;
            match run {
                Some(Ok(_)) => break,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    } else if dice.chance(0.08) {
        did.disputed = true;
        shop.app.stripe.dispute(&session.id, "needs_response");
        let mut last = "needs_response";
        if dice.below(3) < 2 {
            tokio::time::sleep(Duration::from_millis(dice.below(300))).await;
            last = if dice.below(2) == 0 { "won" } else { "lost" };
            shop.app.stripe.dispute(&session.id, last);
        }
        banks
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), last);
    }
    did
}

/// The card buyers' books: the local shop's store against the stand-in's sessions and
/// refunds, the banks' disputes and the mails SES accepted.
pub(super) async fn audit(
    shop: &LocalShop,
    banks: &Banks,
    at: time::OffsetDateTime,
    by_status: &mut BTreeMap<String, usize>,
    problems: &mut Vec<String>,
) -> Result<usize> {
    let (orders, _) = shop.app.store.orders_created_since(None).await?;
    let table = crate::TestTable::named(&shop.app.names.table).await?;
    let mut links: BTreeMap<String, Vec<(bool, bool)>> = BTreeMap::new();
    for g in table.scan_entity("grant").await? {
        let flag = |name: &str| {
            g.get(name)
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false)
        };
        let order = g
            .get("order_id")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        links
            .entry(order)
            .or_default()
            .push((flag("revoked"), flag("suspended")));
    }
    let mails = kiosk_localaws::sent_mail_containing(
        &shop.http,
        &std::env::var("AWS_ENDPOINT_URL")?,
        &format!("card-{}-", shop.app.names.table),
    )
    .await?;
    let all_mails = &mails;
    let mut purchase_mails: BTreeMap<String, usize> = BTreeMap::new();
    for m in &mails {
        if m.subject.starts_with("Your download:") {
            for to in &m.to {
                *purchase_mails.entry(to.clone()).or_insert(0) += 1;
            }
        }
    }
    let banks = banks.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let none = Vec::new();
    for o in &orders {
        let id = &o.id;
        let status = o.status();
        *by_status.entry(format!("card {status}")).or_insert(0) += 1;
        let l = links.get(id.as_str()).unwrap_or(&none);
        let live = l.iter().filter(|(r, s)| !r && !s).count();
        let mails = purchase_mails.get(o.email.as_str()).copied().unwrap_or(0);
        let session = shop.app.stripe.session_for_order(id.as_str());
        let Some(s) = session.filter(|s| s.payment_status == "paid") else {
            // Never paid: expired in the shop, no link, no mail, and closed at Stripe:
            // expired, or open past its own `expires_at` (by the soak's clock, `at`),
            // when Stripe takes no payment for it and expires it itself.
            let closed = shop
                .app
                .stripe
                .session_for_order(id.as_str())
                .is_none_or(|s| {
                    s.status == "expired"
                        || s.form
                            .get("expires_at")
                            .and_then(|t| t.parse::<i64>().ok())
                            .is_some_and(|t| t <= at.unix_timestamp())
                });
            if status != OrderStatus::Expired || !l.is_empty() || !closed {
                problems.push(format!(
                    "{id}: never paid by card, {status} with {} links in the shop (session closed: {closed})",
                    l.len()
                ));
            }
            continue;
        };
        if o.provider_txn_id() != s.payment_intent.as_deref() || o.amount.minor() != s.amount {
            problems.push(format!(
                "{id}: not Stripe's payment: {:?} {} (Stripe: {:?} {})",
                o.provider_txn_id(),
                o.amount,
                s.payment_intent,
                s.amount
            ));
        }
        if s.refunds.len() > 1 {
            problems.push(format!(
                "{id}: refunded {} times at Stripe for one refund asked",
                s.refunds.len()
            ));
        }
        if l.len() != 1 {
            problems.push(format!("{id}: {} links for one card payment", l.len()));
        }
        let bank = banks.get(id.as_str()).copied();
        if s.refunded == s.amount {
            if status != OrderStatus::Refunded || live != 0 || mails > 1 {
                problems.push(format!(
                    "{id}: refunded in full at Stripe, {status} with {live} live links and {mails} purchase mails"
                ));
            }
            continue;
        }
        if status != OrderStatus::Paid || mails != 1 {
            let sent: Vec<&str> = all_mails
                .iter()
                .filter(|m| m.to.iter().any(|t| t == o.email.as_str()))
                .map(|m| m.subject.as_str())
                .collect();
            problems.push(format!(
                "{id}: paid by card, {status} with {mails} purchase mails ({sent:?}); {:?} mail {:?} dispute {:?} refunded {:?}; the bank {bank:?}; Stripe refunded {}",
                o.state(),
                o.mail,
                o.dispute,
                o.refunded,
                s.refunded
            ));
        }
        if s.refunded > 0 && o.refunded.map(|m| m.minor()) != Some(s.refunded) {
            problems.push(format!(
                "{id}: {} refunded in part at Stripe, {:?} in the shop",
                s.refunded, o.refunded
            ));
        }
        // A dispute open or lost suspends the link; one won gives it back.
        let want_live = usize::from(!matches!(bank, Some("needs_response" | "lost")));
        if live != want_live {
            problems.push(format!(
                "{id}: the bank says {bank:?}, the shop has {live} live links ({:?})",
                o.dispute
            ));
        }
    }
    Ok(orders.len())
}

/// Reconcile the local shop as its schedule would, at `at`.
pub(super) async fn reconcile(shop: &LocalShop, at: time::OffsetDateTime) -> Result<()> {
    shop.app
        .reconciler
        .run(
            at,
            kiosk::deadline::Deadline::after(Duration::from_secs(60)),
        )
        .await?;
    Ok(())
}

/// How many card buyers of `buyers`: about three in ten.
pub(super) fn is_card(seed: u64, i: usize) -> bool {
    Dice::new(seed ^ 0xCA4D_0000, i).below(10) < 3
}
