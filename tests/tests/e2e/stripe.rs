//! Stripe as the second channel, end to end in process: the local shop (`make dev`'s
//! server, the same handlers the functions run) against its Stripe stand-in. Checkout
//! creates a Checkout Session; the hosted page pays or declines; the signed webhook
//! fulfils once; the return page confirms by retrieving the session; refusals change
//! nothing; a refund reported by `charge.refunded` (which names only the PaymentIntent)
//! revokes the link. Also: shops with one channel only.
//!
//! Over 400 lines: the second channel end to end, one scenario per event kind.

use std::path::Path;
use std::time::Duration;

use kiosk::channel::Channel;
use kiosk::checkout::{Checkout, CheckoutError, CheckoutRequest};
use kiosk::order::ChannelKind;
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use kiosk::stripe::webhook::WebhookSecret;
use kiosk::{Email, OrderId, OrderStatus, ProductId};
use kiosk_e2e::local::LocalShop;
use kiosk_e2e::{World, WorldOptions, now};
use serde_json::json;

const BOOK: &str = "little-book-of-rust";

async fn local(name: &str) -> LocalShop {
    LocalShop::start(&Path::new(env!("CARGO_TARGET_TMPDIR")).join(name))
        .await
        .expect("local shop")
}

fn unique_email(tag: &str) -> String {
    let id = OrderId::generate(now())
        .expect("id")
        .as_str()
        .to_lowercase();
    format!("{tag}-{id}@example.com")
}

/// Buy Now by card: the order id and the session the shop created for it.
async fn checkout(shop: &LocalShop, email: &str) -> (OrderId, String) {
    let page = shop.buy_now(email, "&channel=stripe", None).await;
    let prefix = format!("{}/sandbox/stripe/pay/", shop.base);
    let session = page
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{page} is not the stand-in's hosted page"))
        .to_owned();
    let s = shop.app.stripe.session(&session).expect("session exists");
    let order = OrderId::parse(&s.form["metadata[order_id]"]).expect("order id");
    (order, session)
}

async fn pay(shop: &LocalShop, session: &str, form: &str) -> reqwest::Response {
    shop.http
        .post(format!("{}/sandbox/stripe/pay/{session}", shop.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("pay")
}

/// One pass of reconcile over the pending orders, as if it ran at `at`.
async fn reconcile_at(shop: &LocalShop, at: time::OffsetDateTime) -> kiosk::reconcile::PendingRun {
    shop.app
        .reconciler
        .pending(
            at,
            kiosk::deadline::Deadline::after(Duration::from_secs(20)),
        )
        .await
        .unwrap()
}

/// A reconcile run just past the grace reconcile leaves a fresh checkout.
async fn reconcile_after_grace(shop: &LocalShop) -> kiosk::reconcile::PendingRun {
    reconcile_at(
        shop,
        now() + kiosk::reconcile::GRACE + time::Duration::seconds(5),
    )
    .await
}

/// The tag the local shop puts on its Stripe objects (`metadata[kiosk_shop]`).
fn tag(shop: &LocalShop) -> String {
    shop.app.shop.config().table_name.clone()
}

/// A session event as Stripe sends it about session `cs` of this shop (`tag`).
#[allow(clippy::too_many_arguments)]
fn tagged_session_event(
    evt: &str,
    kind: &str,
    cs: &str,
    tag: &str,
    order: &str,
    amount: u64,
    currency: &str,
    payment_status: &str,
) -> String {
    json!({
        "id": evt,
        "object": "event",
        "type": kind,
        "data": {"object": {
            "id": cs,
            "object": "checkout.session",
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": order,
            "metadata": {"order_id": order, "kiosk_shop": tag},
            "payment_intent": format!("pi_test_{evt}"),
            "payment_status": payment_status,
            "status": "complete",
        }},
    })
    .to_string()
}

/// A `charge.refunded` as Stripe sends it: `metadata` is the PaymentIntent's.
fn charge_refunded(evt: &str, pi: &str, refunded: u64, metadata: serde_json::Value) -> String {
    json!({"id": evt, "type": "charge.refunded", "data": {"object": {
        "id": format!("ch_{}", pi.trim_start_matches("pi_")), "object": "charge", "amount": 900,
        "amount_refunded": refunded, "currency": "cny", "payment_intent": pi,
        "refunded": refunded == 900, "metadata": metadata,
    }}})
    .to_string()
}

/// POST a webhook to the shop; `header` is the `Stripe-Signature` (or none).
async fn post_webhook(shop: &LocalShop, body: &str, header: Option<String>) -> (u16, String) {
    let mut req = shop
        .http
        .post(format!("{}/notify/stripe", shop.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(h) = header {
        req = req.header("stripe-signature", h);
    }
    let resp = req.send().await.expect("webhook");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

fn sign(shop: &LocalShop, body: &str, t: i64) -> String {
    WebhookSecret::parse(&shop.app.stripe_webhook_secret)
        .expect("secret")
        .header(t, body.as_bytes())
}

#[tokio::test]
async fn a_card_purchase_pays_once_mails_once_and_allows_five_downloads() {
    let shop = local("stripe-flow-keys").await;
    let email = unique_email("card");
    let (id, session) = checkout(&shop, &email).await;

    // The order is pending, by Stripe, and knows its session; the session is priced from
    // the product and carries the order id.
    let pending = shop.order(&id).await;
    assert_eq!(pending.status(), OrderStatus::Pending);
    assert_eq!(pending.channel, ChannelKind::Stripe);
    assert_eq!(pending.checkout_ref.as_deref(), Some(session.as_str()));
    let s = shop.app.stripe.session(&session).unwrap();
    assert_eq!(s.amount, 900);
    assert_eq!(s.currency, "cny");
    assert_eq!(s.form["customer_email"], email);
    // Back to the shop page (SHOP_URL: the example site, on its own origin).
    assert_eq!(s.form["cancel_url"], format!("{}/", shop.app.site_url));

    // The hosted page shows product and price; a declined card leaves the order pending.
    let page = shop
        .http
        .get(format!("{}/sandbox/stripe/pay/{session}", shop.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("The Little Book of Rust") && page.contains("9.00 CNY"),
        "{page}"
    );
    let declined = pay(&shop, &session, "card=4000+0000+0000+0002").await;
    assert_eq!(declined.status(), 200);
    assert!(declined.text().await.unwrap().contains("declined"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Pending);
    assert_eq!(shop.mails_to(&email).await, 0);

    // The good card: back to the shop's return page; the webhook pays the order.
    let paid = pay(&shop, &session, "card=4242+4242+4242+4242").await;
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        back,
        format!("{}/return/stripe?session_id={session}", shop.base)
    );
    let o = shop.wait_for(&id, OrderStatus::Paid).await;
    let pi = shop.app.stripe.session(&session).unwrap().payment_intent;
    assert_eq!(
        o.provider_txn_id(),
        pi.as_deref(),
        "the PaymentIntent is the payment's id"
    );
    assert_eq!(o.all_grants().len(), 1);
    let ret = shop.http.get(&back).send().await.unwrap();
    assert_eq!(ret.status(), 200);
    let token = o.grant_token().cloned().unwrap();
    let link = format!("{}/download/{}", shop.base, token.expose());
    assert!(ret.text().await.unwrap().contains(&link));
    for _ in 0..50 {
        if shop.mails_to(&email).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shop.mails_to(&email).await, 1, "one purchase mail");

    // Five downloads, then the link is used up.
    for n in 1..=5 {
        let r = shop.http.post(&link).send().await.unwrap();
        assert_eq!(r.status(), 303, "download {n}");
    }
    assert_eq!(shop.http.post(&link).send().await.unwrap().status(), 410);

    // The stand-in's webhook was acknowledged once; nothing else was granted or mailed.
    let acked = shop.app.stripe.delivered_about(&session);
    assert_eq!(acked.len(), 1, "{acked:?}");
    assert_eq!(shop.order(&id).await.all_grants().len(), 1);
    assert_eq!(shop.mails_to(&email).await, 1);

    // `kiosk refund`'s path: Stripe refunds, and its `charge.refunded` (naming only the
    // PaymentIntent) revokes the link.
    let o = shop.order(&id).await;
    let channel = shop.app.shop.channel_for(&o).unwrap();
    let total = channel
        .refund(&o, o.amount, &format!("{id}R900"), Some("asked"), now())
        .await
        .expect("refund");
    assert_eq!(total, o.amount);
    shop.wait_for(&id, OrderStatus::Refunded).await;
    assert_eq!(shop.http.post(&link).send().await.unwrap().status(), 410);
    // The same request again (a retried command) refunds nothing more at Stripe.
    let again = channel
        .refund(&o, o.amount, &format!("{id}R900"), Some("asked"), now())
        .await;
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(shop.app.stripe.session(&session).unwrap().refunded, 900);
}

#[tokio::test]
async fn forged_stale_or_mismatched_webhooks_change_nothing_and_duplicates_pay_once() {
    let shop = local("stripe-refusals-keys").await;
    let email = unique_email("hooks");
    let (id, cs) = checkout(&shop, &email).await;
    let oid = id.as_str();
    let t = now().unix_timestamp();
    let tag = tag(&shop);
    let session_event =
        |evt: &str, kind: &str, order: &str, amount, currency: &str, status: &str| {
            tagged_session_event(evt, kind, &cs, &tag, order, amount, currency, status)
        };
    let good = session_event(
        "evt_good",
        "checkout.session.completed",
        oid,
        900,
        "cny",
        "paid",
    );
    let other_secret = WebhookSecret::parse("whsec_not_the_shops_secret")
        .unwrap()
        .header(t, good.as_bytes());
    let unknown_order = OrderId::generate(now()).unwrap();
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("no signature", good.clone(), None, 400),
        ("wrong secret", good.clone(), Some(other_secret), 400),
        (
            "stale timestamp",
            good.clone(),
            Some(sign(&shop, &good, t - 301)),
            400,
        ),
        (
            "tampered body",
            good.replace("900", "1"),
            Some(sign(&shop, &good, t)),
            400,
        ),
        (
            "another amount",
            session_event(
                "evt_a",
                "checkout.session.completed",
                oid,
                800,
                "cny",
                "paid",
            ),
            None,
            400,
        ),
        (
            "another currency",
            session_event(
                "evt_c",
                "checkout.session.completed",
                oid,
                900,
                "usd",
                "paid",
            ),
            None,
            400,
        ),
        (
            "unknown order",
            session_event(
                "evt_u",
                "checkout.session.completed",
                unknown_order.as_str(),
                900,
                "cny",
                "paid",
            ),
            None,
            400,
        ),
        (
            "another session of this shop than the order's",
            tagged_session_event(
                "evt_s",
                "checkout.session.completed",
                "cs_test_another",
                &tag,
                oid,
                900,
                "cny",
                "paid",
            ),
            None,
            400,
        ),
        (
            "a body over 64 KiB (valid JSON, correctly signed)",
            format!("{good}{}", " ".repeat(64 * 1024)),
            None,
            413,
        ),
        (
            "unpaid",
            session_event(
                "evt_p",
                "checkout.session.completed",
                oid,
                900,
                "cny",
                "unpaid",
            ),
            None,
            200,
        ),
        (
            "an event type Kiosk does not use",
            json!({"id": "evt_x", "type": "customer.created", "data": {"object": {}}}).to_string(),
            None,
            200,
        ),
    ];
    for (what, body, header, want) in cases {
        // Cases without a header of their own are signed correctly: only the field differs.
        let header = header.or_else(|| Some(sign(&shop, &body, t)));
        let header = if what == "no signature" { None } else { header };
        let (status, text) = post_webhook(&shop, &body, header).await;
        assert_eq!(status, want, "{what}: {text}");
        let o = shop.order(&id).await;
        assert_eq!(o.status(), OrderStatus::Pending, "{what}");
        assert!(o.grant_token().is_none(), "{what}");
    }
    assert_eq!(shop.mails_to(&email).await, 0);

    // Ten copies of the real event at once: one payment, one grant, one mail.
    let header = sign(&shop, &good, t);
    let replies = futures::future::join_all(
        (0..10).map(|_| post_webhook(&shop, &good, Some(header.clone()))),
    )
    .await;
    assert!(
        replies.iter().all(|(s, _)| *s == 200),
        "every copy is acknowledged: {replies:?}"
    );
    let o = shop.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Paid);
    assert_eq!(o.provider_txn_id(), Some("pi_test_evt_good"));
    assert_eq!(o.all_grants().len(), 1);
    assert_eq!(shop.mails_to(&email).await, 1);
    // And a replay later changes nothing.
    assert_eq!(post_webhook(&shop, &good, Some(header)).await.0, 200);
    assert_eq!(shop.order(&id).await, o);

    // A partial refund keeps access; the full one (found by its PaymentIntent: a charge
    // made before Kiosk tagged its objects carries no tag) revokes it.
    let refund =
        |evt: &str, refunded: u64| charge_refunded(evt, "pi_test_evt_good", refunded, json!({}));
    let partial = refund("evt_r1", 300);
    assert_eq!(
        post_webhook(&shop, &partial, Some(sign(&shop, &partial, t)))
            .await
            .0,
        200
    );
    let o = shop.order(&id).await;
    assert_eq!(
        (o.status(), o.refunded.map(|m| m.minor())),
        (OrderStatus::Paid, Some(300))
    );
    let full = refund("evt_r2", 900);
    assert_eq!(
        post_webhook(&shop, &full, Some(sign(&shop, &full, t)))
            .await
            .0,
        200
    );
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Refunded);
    // A refund of our order naming another payment than the order's is refused.
    let wrong = charge_refunded(
        "evt_r3",
        "pi_test_someone_else",
        900,
        json!({"order_id": oid, "kiosk_shop": tag}),
    );
    assert_eq!(
        post_webhook(&shop, &wrong, Some(sign(&shop, &wrong, t)))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn other_integrations_objects_are_acknowledged_and_change_nothing() {
    let shop = local("stripe-foreign-keys").await;
    let email = unique_email("foreign");
    let (id, cs) = checkout(&shop, &email).await;
    let t = now().unix_timestamp();
    // A Payment Link's session whose client_reference_id happens to be a number, and
    // one whose metadata even names our order (another app's own `order_id`); another
    // Kiosk shop's session on the same account; a refund of a PaymentIntent this shop
    // never made.
    let numeric = json!({"id": "evt_f1", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_link", "object": "checkout.session", "amount_total": 900, "currency": "cny",
        "client_reference_id": "12345", "metadata": {}, "payment_intent": "pi_test_link",
        "payment_status": "paid", "status": "complete"}}})
    .to_string();
    let their_order_id =
        json!({"id": "evt_f2", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_app", "object": "checkout.session", "amount_total": 100, "currency": "usd",
        "client_reference_id": id.as_str(), "metadata": {"order_id": id.as_str()},
        "payment_intent": "pi_test_app", "payment_status": "paid", "status": "complete"}}})
        .to_string();
    let other_shop = tagged_session_event(
        "evt_f3",
        "checkout.session.completed",
        &cs,
        "kiosk-another-shop",
        id.as_str(),
        900,
        "cny",
        "paid",
    );
    let unknown_refund = charge_refunded("evt_f4", "pi_test_never_ours", 900, json!({}));
    for (what, body) in [
        ("numeric client_reference_id", numeric),
        ("another app's order_id", their_order_id),
        ("another Kiosk shop", other_shop),
        ("an unknown PaymentIntent", unknown_refund),
    ] {
        let (status, text) = post_webhook(&shop, &body, Some(sign(&shop, &body, t))).await;
        assert_eq!(status, 200, "{what}: {text}");
        // Not a refusal, so the refused-notification alarm does not count it.
        let mut headers = kiosk::channel::Headers::new();
        headers.insert("stripe-signature", sign(&shop, &body, t).parse().unwrap());
        let outcome = shop
            .app
            .shop
            .notify("stripe", body.as_bytes(), &headers, now())
            .await;
        assert!(
            matches!(outcome, Ok(kiosk::shop::NotifyOutcome::Irrelevant)),
            "{what}: {outcome:?}"
        );
        let o = shop.order(&id).await;
        assert_eq!(o.status(), OrderStatus::Pending, "{what}");
        assert!(o.grant_token().is_none(), "{what}");
    }
    assert_eq!(shop.mails_to(&email).await, 0);
}

#[tokio::test]
async fn a_refund_before_the_payment_wins_by_webhook_and_by_reconcile() {
    let shop = local("stripe-refund-first-keys").await;
    let t = now().unix_timestamp();

    // `charge.refunded` arrives before `checkout.session.completed`.
    let email = unique_email("first");
    let (id, session) = checkout(&shop, &email).await;
    assert_eq!(
        pay(&shop, &session, "card=4242424242424242&lose_webhook=1")
            .await
            .status(),
        303
    );
    let pi = shop
        .app
        .stripe
        .session(&session)
        .unwrap()
        .payment_intent
        .unwrap();
    let refunded = charge_refunded(
        "evt_first_refund",
        &pi,
        900,
        json!({"order_id": id.as_str(), "kiosk_shop": tag(&shop)}),
    );
    let (status, text) = post_webhook(&shop, &refunded, Some(sign(&shop, &refunded, t))).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Refunded);
    let completed = tagged_session_event(
        "evt_late_completed",
        "checkout.session.completed",
        &session,
        &tag(&shop),
        id.as_str(),
        900,
        "cny",
        "paid",
    )
    .replace("pi_test_evt_late_completed", &pi);
    for _ in 0..2 {
        let (status, text) =
            post_webhook(&shop, &completed, Some(sign(&shop, &completed, t))).await;
        assert_eq!(status, 200, "{text}");
    }
    // The browser's return, too, shows the refund.
    let ret = shop
        .http
        .get(format!("{}/return/stripe?session_id={session}", shop.base))
        .send()
        .await
        .unwrap();
    assert!(ret.text().await.unwrap().contains("refunded"));
    let o = shop.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.provider_txn_id(), Some(pi.as_str()));
    assert!(o.all_grants().is_empty(), "no working link");
    assert_eq!(shop.mails_to(&email).await, 0, "no purchase mail");

    // Paid and refunded at Stripe with every webhook lost: reconcile asks, sees the
    // charge refunded (expanded), and records the refund before the payment.
    let email = unique_email("recon-refunded");
    let (id, session) = checkout(&shop, &email).await;
    pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
    shop.app.stripe.refund_quietly(&session, 900);
    let run = reconcile_after_grace(&shop).await;
    assert!(run.refunded >= 1, "{run:?}");
    let o = shop.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert!(o.all_grants().is_empty());
    assert_eq!(shop.mails_to(&email).await, 0);
}

#[tokio::test]
async fn a_dispute_suspends_the_links_and_a_won_one_restores_them() {
    let shop = local("stripe-dispute-keys").await;
    let email = unique_email("dispute");
    let (id, session) = checkout(&shop, &email).await;
    pay(&shop, &session, "card=4242424242424242").await;
    let o = shop.wait_for(&id, OrderStatus::Paid).await;
    let link = format!(
        "{}/download/{}",
        shop.base,
        o.grant_token().cloned().unwrap().expose()
    );
    let get = |url: String| {
        let http = shop.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get(link.clone()).await.0, 200);

    let wait_page = |want: u16| {
        let link = link.clone();
        async move {
            for _ in 0..100 {
                let (status, page) = get(link.clone()).await;
                if status == want {
                    return page;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the link never answered {want}");
        }
    };
    shop.app.stripe.dispute(&session, "needs_response");
    let page = wait_page(410).await;
    assert!(page.contains("disputed"), "{page}");
    assert_eq!(shop.http.post(&link).send().await.unwrap().status(), 410);
    assert_eq!(
        shop.order(&id).await.dispute,
        Some(kiosk::order::Dispute::Open)
    );

    shop.app.stripe.dispute(&session, "won");
    wait_page(200).await;
    assert_eq!(shop.http.post(&link).send().await.unwrap().status(), 303);
    assert_eq!(
        shop.order(&id).await.dispute,
        Some(kiosk::order::Dispute::Won)
    );

    // Another purchase whose dispute is lost stays off.
    let (lost, session) = checkout(&shop, &unique_email("lost")).await;
    pay(&shop, &session, "card=4242424242424242").await;
    let o = shop.wait_for(&lost, OrderStatus::Paid).await;
    shop.app.stripe.dispute(&session, "needs_response");
    shop.app.stripe.dispute(&session, "lost");
    let token = o.grant_token().cloned().unwrap();
    for _ in 0..100 {
        if shop.order(&lost).await.dispute == Some(kiosk::order::Dispute::Lost) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        shop.order(&lost).await.dispute,
        Some(kiosk::order::Dispute::Lost)
    );
    let g = shop.app.store.get_grant(&token).await.unwrap().unwrap();
    assert!(g.suspended && g.usable(now()).is_err());
}

/// Waits until the stand-in's webhook `kind` about `session` was acknowledged.
async fn acknowledged(shop: &LocalShop, kind: &str, session: &str) {
    for _ in 0..200 {
        let delivered = shop.app.stripe.delivered_about(session);
        if delivered.iter().any(|(k, _)| k == kind) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{kind} about {session} was never acknowledged");
}

/// A dispute in any order (issue 34): the dispute's webhook arrives before the payment
/// is recorded (the payment's own webhook was lost). It is kept for the payment, which
/// records it: the order is paid with the dispute open and its link suspended from the
/// start, never live. Lost, the sale counts as given back, not as a sale.
#[tokio::test]
async fn a_dispute_before_its_payment_keeps_the_links_off_from_the_start() {
    let shop = local("stripe-dispute-first-keys").await;
    let email = unique_email("dispute-first");
    let (id, session) = checkout(&shop, &email).await;
    pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
    shop.app.stripe.dispute(&session, "needs_response");
    acknowledged(&shop, "charge.dispute.created", &session).await;
    let o = shop.order(&id).await;
    assert_eq!((o.status(), o.dispute), (OrderStatus::Pending, None));

    // Reconcile finds the session paid and records the payment, with its dispute.
    let run = reconcile_after_grace(&shop).await;
    assert!(run.fulfilled >= 1, "{run:?}");
    let o = shop.order(&id).await;
    assert_eq!(
        (o.status(), o.dispute),
        (OrderStatus::Paid, Some(kiosk::order::Dispute::Open))
    );
    let token = o.grant_token().cloned().unwrap();
    let g = shop.app.store.get_grant(&token).await.unwrap().unwrap();
    assert!(
        g.suspended && g.usable(now()).is_err(),
        "suspended from the start"
    );
    let link = format!("{}/download/{}", shop.base, token.expose());
    let r = shop.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("disputed"));

    // Lost: the links stay off, and the reports count it as given back.
    shop.app.stripe.dispute(&session, "lost");
    acknowledged(&shop, "charge.dispute.closed", &session).await;
    let o = shop.order(&id).await;
    assert_eq!(o.dispute, Some(kiosk::order::Dispute::Lost));
    let p = kiosk::sales::paid(&o).unwrap();
    assert_eq!(p.outcome, kiosk::sales::Outcome::Reversed);
    assert_eq!((p.net.minor(), p.given_back.minor()), (0, o.amount.minor()));
}

/// A dispute opened and closed before its payment is recorded: both webhooks are
/// acknowledged (the second finds the held dispute, not an order), and the payment is
/// recorded with the dispute as it ended: lost, its link never live; won, its link works.
#[tokio::test]
async fn a_dispute_closed_before_its_payment_is_recorded_as_it_ended() {
    let shop = local("stripe-dispute-closed-first-keys").await;
    for (status, suspended) in [("lost", true), ("won", false)] {
        let (id, session) = checkout(&shop, &unique_email(&format!("dispute-{status}"))).await;
        pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
        shop.app.stripe.dispute(&session, "needs_response");
        acknowledged(&shop, "charge.dispute.created", &session).await;
        shop.app.stripe.dispute(&session, status);
        acknowledged(&shop, "charge.dispute.closed", &session).await;
        // A late copy of the opening does not reopen it.
        shop.app.stripe.dispute(&session, "needs_response");
        let run = reconcile_after_grace(&shop).await;
        assert!(run.fulfilled >= 1, "{run:?}");
        let o = shop.order(&id).await;
        let want = if suspended {
            kiosk::order::Dispute::Lost
        } else {
            kiosk::order::Dispute::Won
        };
        assert_eq!((o.status(), o.dispute), (OrderStatus::Paid, Some(want)));
        let g = shop
            .app
            .store
            .get_grant(o.grant_token().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.suspended, suspended, "{status}");
    }
}

#[tokio::test]
async fn a_session_completed_unpaid_is_neither_expired_nor_an_error() {
    let shop = local("stripe-delayed-keys").await;
    let (id, session) = checkout(&shop, &unique_email("delayed")).await;
    // Cards only at Stripe, so a bank debit cannot start; should one complete unpaid
    // all the same, it is waited for.
    assert_eq!(
        shop.app.stripe.session(&session).unwrap().form["payment_method_types[0]"],
        "card"
    );
    shop.app.stripe.complete_unpaid(&session);
    let past_expiry = now() + time::Duration::hours(2);
    let run = reconcile_at(&shop, past_expiry).await;
    assert_eq!(
        (run.errors, run.expired, run.still_open),
        (0, 0, 1),
        "{run:?}"
    );
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Pending);
    assert_eq!(
        shop.app.stripe.session(&session).unwrap().status,
        "complete"
    );

    // An open session past its own expires_at takes no payment at Stripe: the order is
    // expired here without asking Stripe to expire it.
    let (abandoned, session) = checkout(&shop, &unique_email("past")).await;
    let run = reconcile_at(&shop, past_expiry).await;
    assert!(run.expired >= 1, "{run:?}");
    assert_eq!(shop.order(&abandoned).await.status(), OrderStatus::Expired);
    assert_eq!(
        shop.app.stripe.session(&session).unwrap().status,
        "open",
        "no expire call for a session past its own expiry"
    );
}

#[tokio::test]
async fn the_return_page_confirms_with_stripe_and_never_trusts_the_query() {
    let shop = local("stripe-return-keys").await;
    let ret = |session: &str| {
        let url = format!("{}/return/stripe?session_id={session}", shop.base);
        let http = shop.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Pending and unpaid: the confirming page.
    let email = unique_email("ret");
    let (id, session) = checkout(&shop, &email).await;
    let (status, page) = ret(&session).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirming your payment"), "{page}");
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Pending);

    // Paid at Stripe but every webhook lost: the return page retrieves the session and
    // fulfils (one grant, one mail).
    let paid = pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
    assert_eq!(paid.status(), 303);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Pending);
    let (status, page) = ret(&session).await;
    assert_eq!(status, 200);
    let o = shop.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Paid);
    assert!(
        page.contains(o.grant_token().cloned().unwrap().expose()),
        "{page}"
    );
    // Paid: the link again, nothing new.
    let (_, again) = ret(&session).await;
    assert!(again.contains(o.grant_token().cloned().unwrap().expose()));
    assert_eq!(shop.order(&id).await.all_grants().len(), 1);
    assert_eq!(shop.mails_to(&email).await, 1);

    // A session Stripe does not know, and query strings that are not session ids.
    for bad in ["cs_test_unknown", "pi_123", "cs_..%2Fv1%2Frefunds", ""] {
        let (status, _) = ret(bad).await;
        assert_eq!(status, 400, "session_id={bad}");
    }

    // A paid session that names a pending order of this shop but is not the one the
    // order started (made with the same account by something else): it pays nothing.
    let (pending, _) = checkout(&shop, &unique_email("other-session")).await;
    let expires = (kiosk::clock::now_exact() + time::Duration::hours(1)).unix_timestamp();
    let made = shop
        .http
        .post(format!("{}/sandbox/stripe/v1/checkout/sessions", shop.base))
        .bearer_auth(devstack::setup::STRIPE_SECRET_KEY)
        .header("stripe-version", kiosk::stripe::checkout::API_VERSION)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "mode=payment&success_url=https%3A%2F%2Fx%2Fr&line_items[0][quantity]=1\
             &line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=900\
             &line_items[0][price_data][product_data][name]=Book&expires_at={expires}\
             &metadata[order_id]={pending}&metadata[kiosk_shop]={}",
            tag(&shop)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let other: serde_json::Value = serde_json::from_str(&made.text().await.unwrap()).unwrap();
    let other = other["id"].as_str().unwrap().to_owned();
    pay(&shop, &other, "card=4242424242424242&lose_webhook=1").await;
    let (status, page) = ret(&other).await;
    assert_ne!(status, 200, "{page}");
    let o = shop.order(&pending).await;
    assert_eq!(o.status(), OrderStatus::Pending);
    assert!(o.grant_token().is_none());
}

/// A shop set up like the local one but with only the channels given.
async fn shop_with(local: &LocalShop, alipay: bool, stripe: bool) -> Shop {
    shop_configured(local, alipay, stripe, local.app.shop.config().clone()).await
}

async fn shop_configured(
    local: &LocalShop,
    alipay: bool,
    stripe: bool,
    config: kiosk::Config,
) -> Shop {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    Shop::new(&sdk, config, channels_of(local, alipay, stripe))
        .await
        .unwrap()
}

/// The checkout function's handle for a shop like [`shop_configured`]'s.
async fn checkout_configured(
    local: &LocalShop,
    alipay: bool,
    stripe: bool,
    config: kiosk::config::CheckoutConfig,
) -> Checkout {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    Checkout::new(&sdk, config, channels_of(local, alipay, stripe))
        .await
        .unwrap()
}

fn channels_of(local: &LocalShop, alipay: bool, stripe: bool) -> ChannelsConfig {
    let base = &local.base;
    let alipay = alipay.then(|| kiosk::config::AlipayConfig {
        app_id: devstack::setup::APP_ID.into(),
        gateway_url: format!("{base}/sandbox/alipay/gateway.do"),
        seller_id: Some(devstack::setup::SELLER_ID.into()),
        app_private_key_param: local.app.names.alipay_private_key.clone(),
        alipay_public_key_param: local.app.names.alipay_public_key.clone(),
    });
    let stripe = stripe.then(|| kiosk::config::StripeConfig {
        secret_key_param: local.app.names.stripe_secret_key.clone(),
        webhook_secret_param: Some(local.app.names.stripe_webhook_secret.clone()),
        api_base: format!("{base}/sandbox/stripe"),
    });
    ChannelsConfig {
        alipay,
        stripe,
        wechat: None,
        default: None,
    }
}

#[tokio::test]
async fn card_checkouts_fit_stripes_expiry_window_at_any_order_ttl() {
    let local = local("stripe-ttl-keys").await;
    // The stand-in measures the window from its own receipt of the request, with no
    // slack, as Stripe does: exactly 30 minutes computed a moment earlier is refused.
    let form = |expires_at: i64| {
        format!(
            "mode=payment&success_url=https%3A%2F%2Fx%2Fr&line_items[0][quantity]=1\
             &line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=900\
             &line_items[0][price_data][product_data][name]=Book&expires_at={expires_at}"
        )
    };
    let api = |body: String| {
        let http = local.http.clone();
        let url = format!("{}/sandbox/stripe/v1/checkout/sessions", local.base);
        async move {
            let r = http
                .post(url)
                .bearer_auth(local_secret_key())
                .header("stripe-version", kiosk::stripe::checkout::API_VERSION)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let t = kiosk::clock::now_exact();
    let exactly_30 = (t + time::Duration::minutes(30)).unix_timestamp();
    let (status, text) = api(form(exactly_30)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("at least 30 minutes"), "{text}");
    let over_24h = (t + time::Duration::hours(24)).unix_timestamp() + 2;
    assert_eq!(api(form(over_24h)).await.0, 400);
    let (status, text) = api(form(exactly_30 + 120)).await;
    assert_eq!(status, 200, "{text}");

    // The shop's checkouts pass at the default TTL, just above the minimum, and a day.
    for minutes in [30, 31, 1440] {
        let mut config = local.app.shop.config().clone();
        config.order_ttl = time::Duration::minutes(minutes);
        let shop = checkout_configured(&local, false, true, config.checkout()).await;
        let email = unique_email(&format!("ttl{minutes}"));
        let started = shop
            .start(request(&email, None), kiosk::clock::now())
            .await
            .unwrap_or_else(|e| panic!("ORDER_TTL_MINUTES={minutes}: {e:?}"))
            .pay()
            .expect("a sale, not a free order");
        let session = started.pay_url.rsplit('/').next().unwrap().to_owned();
        let s = local.app.stripe.session(&session).unwrap();
        let expires: i64 = s.form["expires_at"].parse().unwrap();
        let lead = expires - s.created;
        assert!(
            (31 * 60 - 1..=24 * 3600 - 60).contains(&lead),
            "ORDER_TTL_MINUTES={minutes}: the session lives {lead} s"
        );
    }
}

fn local_secret_key() -> String {
    devstack::setup::STRIPE_SECRET_KEY.to_owned()
}

fn request(email: &str, channel: Option<ChannelKind>) -> CheckoutRequest {
    CheckoutRequest {
        amount: None,
        code: None,
        claim: None,
        lang: kiosk::i18n::Lang::EN,
        variants: None,
        variants_shown: true,
        product_id: ProductId::parse(BOOK).unwrap(),
        email: Email::parse(email).unwrap(),
        device: kiosk::channel::Device::Desktop,
        channel,
        source: Default::default(),
        network: kiosk::resend::Network::of(None),
        payer: None,
    }
}

#[tokio::test]
async fn a_shop_with_only_stripe_sells_by_card_and_refuses_alipay() {
    let local = local("stripe-only-keys").await;
    let shop = shop_with(&local, false, true).await;
    assert_eq!(
        shop.default_channel(),
        ChannelKind::Stripe,
        "the only channel"
    );
    let checkout =
        checkout_configured(&local, false, true, local.app.shop.config().checkout()).await;
    let email = unique_email("only-stripe");

    let err = checkout
        .start(request(&email, Some(ChannelKind::Alipay)), now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckoutError::ChannelOff("alipay")),
        "{err:?}"
    );

    // Without a channel: Stripe. Paid with the webhook lost, confirmed on return.
    let started = checkout
        .start(request(&email, None), now())
        .await
        .unwrap()
        .pay()
        .expect("a sale");
    let session = started.pay_url.rsplit('/').next().unwrap().to_owned();
    assert!(session.starts_with("cs_"), "{}", started.pay_url);
    assert_eq!(
        pay(&local, &session, "card=4242424242424242&lose_webhook=1")
            .await
            .status(),
        303
    );
    let view = shop
        .return_page("stripe", &format!("session_id={session}"), now())
        .await
        .unwrap();
    assert!(
        matches!(view, kiosk::shop::ReturnView::Paid { .. }),
        "{view:?}"
    );
    assert_eq!(
        local.order(&started.order_id).await.status(),
        OrderStatus::Paid
    );
    assert!(
        shop.return_page("alipay", "out_trade_no=x", now())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_alipay_only_shop_refuses_stripe_and_other_currencies_before_writing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let usd = kiosk_e2e::product("usd-book", "9.00")
        .with_price(kiosk::Money::from_minor(900, kiosk::Currency::Usd).unwrap())
        .unwrap();
    w.t.store.create_product(&usd, now()).await.unwrap();
    let email = w.buyer(1);

    for (body, field, needle) in [
        (
            format!("product_id=usd-book&email={email}"),
            "channel",
            "USD",
        ),
        (
            format!("product_id=rust-book&channel=stripe&email={email}"),
            "channel",
            "stripe",
        ),
        (
            format!("product_id=rust-book&channel=paypal&email={email}"),
            "channel",
            "paypal",
        ),
    ] {
        let resp = w
            .checkout(
                &body.replace('@', "%40"),
                "application/x-www-form-urlencoded",
                "application/json",
                "",
            )
            .await;
        let text = kiosk_e2e::body_string(&resp);
        assert_eq!(resp.status(), 400, "{body}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["field"], field, "{text}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{text}"
        );
    }
    // Nothing was written (this test's own table holds only the two products).
    assert!(w.t.scan_entity("order").await.unwrap().is_empty());
    // Alipay itself still works here.
    let started = w
        .checkout
        .start(
            CheckoutRequest {
                lang: kiosk::i18n::Lang::EN,
                variants: None,
                variants_shown: true,
                product_id: ProductId::parse("rust-book").unwrap(),
                ..request(&email, None)
            },
            now(),
        )
        .await
        .unwrap()
        .pay()
        .expect("a sale");
    assert!(started.pay_url.starts_with(&w.gateway.url));
}

#[tokio::test]
async fn reconcile_finds_a_lost_card_payment_and_abandoned_sessions_are_expired() {
    let shop = local("stripe-reconcile-keys").await;
    let email = unique_email("recon");

    // Paid, every webhook lost: reconcile's retrieve finds it (one grant, one mail).
    let (lost, session) = checkout(&shop, &email).await;
    pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
    let run = reconcile_after_grace(&shop).await;
    assert!(run.fulfilled >= 1, "{run:?}");
    let o = shop.order(&lost).await;
    assert_eq!(o.status(), OrderStatus::Paid);
    assert_eq!(o.all_grants().len(), 1);

    // Abandoned: closing expires the session at Stripe, whose `checkout.session.expired`
    // expires the order; asked again, Stripe says closed.
    let (abandoned, session) = checkout(&shop, &email).await;
    let pending = shop.order(&abandoned).await;
    let channel = shop.app.shop.channel_for(&pending).unwrap();
    assert_eq!(
        channel.close(&pending, now()).await.unwrap(),
        kiosk::channel::CloseOutcome::Closed
    );
    assert_eq!(shop.app.stripe.session(&session).unwrap().status, "expired");
    shop.wait_for(&abandoned, OrderStatus::Expired).await;
    assert_eq!(
        channel.query(&pending, now()).await.unwrap(),
        kiosk::channel::ProviderStatus::Closed
    );
    assert_eq!(
        channel.close(&pending, now()).await.unwrap(),
        kiosk::channel::CloseOutcome::Closed,
        "closing twice is still closed"
    );

    // Paid just before the close: Stripe refuses to expire it, so reconcile asks again.
    let (late, session) = checkout(&shop, &email).await;
    pay(&shop, &session, "card=4242424242424242&lose_webhook=1").await;
    let pending = shop.order(&late).await;
    assert_eq!(
        channel.close(&pending, now()).await.unwrap(),
        kiosk::channel::CloseOutcome::NotOpen
    );
    assert!(matches!(
        channel.query(&pending, now()).await.unwrap(),
        kiosk::channel::ProviderStatus::Paid(_)
    ));
}
