//! Refunds reported by Alipay's notifications, against the locked emulator: a partial
//! refund is recorded and keeps access; a full one refunds the order and revokes every
//! download link of the purchase (a new edition's too) in one go, so the pages answer
//! 410 "refunded", "email me my links" has nothing to send and the author's update
//! skips the buyer; repeats and impossible refunds change nothing. A refund that
//! arrives before its payment wins over it; a refund racing a new edition's link
//! leaves no live link.

use kiosk::alipay::Params;
use kiosk::grant::Unusable;
use kiosk::order::OrderStatus;
use kiosk::{DownloadToken, Grant, Order};
use kiosk_e2e::{World, WorldOptions, body_string, form, now};

/// A refund as Alipay reports it: the trade's notification with `refund_fee` (refunded
/// so far) and `gmt_refund`; TRADE_CLOSED once everything is refunded.
fn refund_notification(w: &World, order: &Order, status: &str, refund_fee: &str) -> String {
    let mut p: Params = w.notify_params(order.id.as_str(), "9.00", status);
    p.insert("refund_fee".into(), refund_fee.into());
    p.insert("gmt_refund".into(), "2026-11-22 10:00:00".into());
    p.insert(
        "notify_id".into(),
        format!("N-refund-{}-{refund_fee}", order.id),
    );
    form(&w.sign_as_alipay(p))
}

async fn download_page(w: &World, token: &DownloadToken) -> (u16, String) {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let app = kiosk::downloads::Downloads::new(&sdk, w.shop.config().clone());
    let req = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!(
            "{}/download/{}",
            kiosk_e2e::BASE_URL,
            token.expose()
        ))
        .body(lambda_http::Body::Empty)
        .unwrap();
    let resp = download::handler::handle(&app, req, now()).await;
    (resp.status().as_u16(), body_string(&resp))
}

async fn revoked(w: &World, token: &DownloadToken) -> bool {
    let g = w.t.store.get_grant(token).await.unwrap().unwrap();
    g.revoked && g.usable(now()) == Err(Unusable::Revoked)
}

/// A paid purchase that also got a new edition's link (as `kiosk update` gives it).
async fn paid_with_two_editions(w: &World, email: &str) -> (Order, DownloadToken, DownloadToken) {
    paid_with_two_editions_of(w, email, "rust-book").await
}

async fn paid_with_two_editions_of(
    w: &World,
    email: &str,
    product: &str,
) -> (Order, DownloadToken, DownloadToken) {
    let product = w.add_product(product, "9.00").await;
    let order = w.pending(&product, email).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    let paid = w.order(&order.id).await;
    let first = paid.grant_token().cloned().unwrap();
    let mut v2 = Grant::for_order(&paid, DownloadToken::generate().unwrap(), None, now());
    v2.edition = kiosk::product::Edition::parse("v2").unwrap();
    w.t.store
        .claim_edition_mail(&paid, &v2, now())
        .await
        .unwrap();
    let paid = w.order(&order.id).await;
    assert_eq!(paid.grant_token(), Some(&v2.token));
    assert_eq!(paid.all_grants().len(), 2);
    (paid, first, v2.token)
}

#[tokio::test]
async fn a_partial_refund_keeps_access_and_a_full_one_revokes_every_link() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let email = w.buyer(1);
    let (order, first, second) = paid_with_two_editions(&w, &email).await;

    // Part of it: recorded, access kept; the same report again changes nothing.
    let partial = refund_notification(&w, &order, "TRADE_SUCCESS", "3.00");
    for _ in 0..2 {
        assert_eq!(w.notify(&partial).await, (200, "success".to_owned()));
        let o = w.order(&order.id).await;
        assert_eq!(o.status(), OrderStatus::Paid);
        assert_eq!(o.refunded.map(|m| m.minor()), Some(300));
    }
    assert_eq!(download_page(&w, &first).await.0, 200);
    assert_eq!(download_page(&w, &second).await.0, 200);

    // All of it: the order is refunded and both links stop, once.
    let full = refund_notification(&w, &order, "TRADE_CLOSED", "9.00");
    for _ in 0..2 {
        assert_eq!(w.notify(&full).await, (200, "success".to_owned()));
    }
    let o = w.order(&order.id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.refunded.map(|m| m.minor()), Some(900));
    assert!(o.refunded_at().is_some());
    for token in [&first, &second] {
        assert!(revoked(&w, token).await);
        let (status, page) = download_page(&w, token).await;
        assert_eq!(status, 410);
        assert!(page.contains("refunded"), "{page}");
    }

    // "Email me my links" has nothing to send; new editions skip the buyer.
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let author = kiosk::author::Author::new(
        &sdk,
        kiosk::author::AuthorSettings {
            table: w.shop.config().table_name.clone(),
            bucket: None,
            sender: Some(w.shop.config().sender_email.clone()),
            public_base_url: Some(w.shop.config().public_base_url.clone()),
            support: None,
            mail_configuration_set: None,
            default_lang: kiosk::i18n::Lang::EN,
        },
    );
    let mails_before = w.mails_to(&email).await.len();
    let to = kiosk::author::ResendTo::Address(kiosk::Email::parse(&email).unwrap());
    assert_eq!(author.resend_links(to, now()).await.unwrap().1, 0);
    assert_eq!(w.mails_to(&email).await.len(), mails_before);
    let buyers = w.t.store.buyers_of(&order.product_id).await.unwrap();
    assert!(buyers.iter().all(|b| b.id != order.id));

    // A late partial report after the full refund changes nothing.
    assert_eq!(w.notify(&partial).await, (200, "success".to_owned()));
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Refunded);
}

#[tokio::test]
async fn impossible_refunds_are_refused_and_change_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let email = w.buyer(1);
    let (order, first, _) = paid_with_two_editions(&w, &email).await;

    // More than was paid.
    let too_much = refund_notification(&w, &order, "TRADE_CLOSED", "10.00");
    assert_eq!(w.notify(&too_much).await.0, 400);
    // A refund report with a forged signature.
    let mut forged: Params =
        kiosk::alipay::parse_form(&refund_notification(&w, &order, "TRADE_CLOSED", "9.00"))
            .unwrap();
    forged.insert("refund_fee".into(), "0.01".into());
    assert_eq!(w.notify(&form(&forged)).await.0, 400);
    // A timeout close (no refund_fee) of a paid order is not a refund.
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_CLOSED")
            .await,
        (200, "success".to_owned())
    );

    let o = w.order(&order.id).await;
    assert_eq!(o.status(), OrderStatus::Paid);
    assert_eq!(o.refunded, None);
    assert!(!revoked(&w, &first).await);

    // A refund of another trade than the one the order was paid by is refused.
    let mut other: Params = w.notify_params(order.id.as_str(), "9.00", "TRADE_CLOSED");
    other.insert("refund_fee".into(), "9.00".into());
    other.insert("trade_no".into(), "T-someone-else".into());
    other.insert("notify_id".into(), "N-other-trade".into());
    assert_eq!(w.notify(&form(&w.sign_as_alipay(other))).await.0, 400);
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Paid);
}

#[tokio::test]
async fn a_refund_reported_before_the_payment_wins_over_it() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;

    // All of it refunded before the payment's own notification got through: the order
    // is refunded, and the payment that follows grants nothing and mails nothing.
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    let full = refund_notification(&w, &order, "TRADE_CLOSED", "9.00");
    assert_eq!(w.notify(&full).await, (200, "success".to_owned()));
    let o = w.order(&order.id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.refunded.map(|m| m.minor()), Some(900));
    for _ in 0..2 {
        assert_eq!(
            w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
                .await,
            (200, "success".to_owned()),
            "acknowledged, so Alipay stops sending it"
        );
    }
    let o = w.order(&order.id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(
        o.provider_txn_id(),
        Some(format!("T-{}", order.id).as_str())
    );
    assert!(o.grant_token().is_none() && o.all_grants().is_empty());
    assert_eq!(w.grants_for(&order.id).await, 0, "no working link");
    assert!(w.mails_to(&email).await.is_empty(), "no purchase mail");
    // The browser's return shows the refund, not a link.
    let ret = kiosk_e2e::return_params(order.id.as_str(), "9.00", &format!("T-{}", order.id));
    let (status, page) = w.return_page(&form(&w.sign_as_alipay(ret))).await;
    assert_eq!(status, 200);
    assert!(page.contains("refunded"), "{page}");

    // Part of it first: kept when the payment arrives, and the buyer has access.
    let email = w.buyer(2);
    let part = w.pending(&product, &email).await;
    let partial = refund_notification(&w, &part, "TRADE_SUCCESS", "3.00");
    assert_eq!(w.notify(&partial).await, (200, "success".to_owned()));
    let o = w.order(&part.id).await;
    assert_eq!(
        (o.status(), o.refunded.map(|m| m.minor())),
        (OrderStatus::Pending, Some(300))
    );
    assert_eq!(
        w.notify_signed(part.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    let o = w.order(&part.id).await;
    assert_eq!(
        (o.status(), o.refunded.map(|m| m.minor())),
        (OrderStatus::Paid, Some(300))
    );
    assert_eq!(w.grants_for(&part.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);

    // An expired order's full refund is recorded too (no longer dropped), and wins over
    // a payment that comes after.
    let late = w.pending(&product, &w.buyer(3)).await;
    w.t.store.expire_order(&late, now()).await.unwrap();
    let full = refund_notification(&w, &late, "TRADE_CLOSED", "9.00");
    assert_eq!(w.notify(&full).await, (200, "success".to_owned()));
    assert_eq!(w.order(&late.id).await.status(), OrderStatus::Refunded);
    assert_eq!(
        w.notify_signed(late.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    assert_eq!(w.order(&late.id).await.status(), OrderStatus::Refunded);
    assert_eq!(w.grants_for(&late.id).await, 0);
}

/// Found by the soak: an order refunded in full before its payment was recorded kept
/// its discount code's use, while one refunded after its link was granted (a sale) and
/// one that expired are told apart; the code's uses must equal its pending, paid and
/// granted-then-refunded orders. Refunded while pending, the use goes back (as at
/// expiry), and a payment that follows does not take it again.
#[tokio::test]
async fn a_refund_before_the_payment_gives_the_codes_use_back() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let launch = kiosk_e2e::sample_code("LAUNCH", kiosk::pricing::Discount::Percent(20), Some(2));
    assert!(w.t.store.create_code(&launch).await.unwrap());
    let uses = || w.code_uses(launch.name());
    let mut orders = Vec::new();
    for n in 0..2 {
        let resp = w
            .checkout_from(
                &kiosk_e2e::order_form("rust-book", &w.buyer(n), &[("code", "LAUNCH")]),
                "application/json",
                &format!("198.51.100.{n}"),
            )
            .await;
        assert_eq!(resp.status(), 200, "{}", body_string(&resp));
        let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
        let id = kiosk::OrderId::parse(v["order_id"].as_str().unwrap()).unwrap();
        orders.push(w.order(&id).await);
    }
    assert_eq!(uses().await, 2);
    // The first is paid, granted, then refunded in full: it was a sale, its use stays.
    let sold = &orders[0];
    assert_eq!(
        w.notify_signed(sold.id.as_str(), "7.20", "TRADE_SUCCESS")
            .await
            .0,
        200
    );
    let full = refund_notification(&w, sold, "TRADE_CLOSED", "7.20");
    assert_eq!(w.notify(&full).await.0, 200);
    assert_eq!(w.order(&sold.id).await.status(), OrderStatus::Refunded);
    assert_eq!(uses().await, 2);
    // The second is refunded before its payment is recorded: its use goes back, and the
    // payment's notification that follows takes none.
    let never = &orders[1];
    let full = refund_notification(&w, never, "TRADE_CLOSED", "7.20");
    assert_eq!(w.notify(&full).await.0, 200);
    assert_eq!(w.order(&never.id).await.status(), OrderStatus::Refunded);
    assert_eq!(uses().await, 1);
    assert_eq!(
        w.notify_signed(never.id.as_str(), "7.20", "TRADE_SUCCESS")
            .await
            .0,
        200
    );
    assert_eq!(uses().await, 1);
    assert_eq!(w.grants_for(&never.id).await, 0);
}

#[tokio::test]
async fn a_full_refund_racing_a_new_edition_leaves_no_live_link() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let email = w.buyer(1);
    let (order, first, second) = paid_with_two_editions(&w, &email).await;

    // The refund read the order (two links); a third edition's link lands before its
    // write. The write must not succeed over a link set it did not read.
    let stale = w.order(&order.id).await;
    let mut v3 = Grant::for_order(&stale, DownloadToken::generate().unwrap(), None, now());
    v3.edition = kiosk::product::Edition::parse("v3").unwrap();
    w.t.store
        .claim_edition_mail(&stale, &v3, now())
        .await
        .unwrap();
    let outcome = stale.record_refund(stale.amount, now()).unwrap();
    assert!(
        w.t.store.apply_refund(&outcome, now()).await.is_err(),
        "a refund computed before the new link must not be written"
    );
    assert!(!revoked(&w, &v3.token).await);
    // Through the shop, which reads again: every link, the new one included, is dead.
    let (_, changed) = w
        .shop
        .record_refund(stale.clone(), stale.amount, now())
        .await
        .unwrap();
    assert!(changed);
    for token in [&first, &second, &v3.token] {
        assert!(
            revoked(&w, token).await,
            "no live link may outlive the refund"
        );
    }

    // The race itself, a few rounds: a refund and `kiosk update`'s claim at once.
    for round in 0..4 {
        let email = w.buyer(10 + round);
        let (order, ..) = paid_with_two_editions_of(&w, &email, &format!("race{round}")).await;
        let paid = w.order(&order.id).await;
        let mut next = Grant::for_order(&paid, DownloadToken::generate().unwrap(), None, now());
        next.edition = kiosk::product::Edition::parse("v3").unwrap();
        let (claimed, refunded) = tokio::join!(
            w.t.store.claim_edition_mail(&paid, &next, now()),
            w.shop.record_refund(paid.clone(), paid.amount, now()),
        );
        refunded.unwrap();
        let o = w.order(&order.id).await;
        assert_eq!(o.status(), OrderStatus::Refunded, "round {round}");
        for token in o.all_grants() {
            assert!(revoked(&w, &token).await, "round {round}: {claimed:?}");
        }
        if let Some(g) = w.t.store.get_grant(&next.token).await.unwrap() {
            assert!(
                g.revoked,
                "round {round}: the racing edition's link is revoked too"
            );
        }
    }
}
