//! WeChat Pay end to end in process: the local shop (`make dev`'s server, the same
//! handlers the functions run) against its WeChat Pay stand-in. Checkout creates a
//! Native order and sends the buyer to the shop's own QR page; the phone pays; the
//! signed, encrypted notification fulfils once, however often and however concurrently
//! it arrives; every forgery is refused and changes nothing; reconcile delivers a lost
//! notification and closes an abandoned order.

use std::path::Path;
use std::time::Duration;

use kiosk::rsa::SigningKey;
use kiosk::wechat::ApiV3Key;
use kiosk::wechat::sign::sign_message;
use kiosk::{OrderId, OrderStatus};
use kiosk_e2e::local::LocalShop;
use kiosk_e2e::now;
use serde_json::{Value, json};

async fn local(name: &str) -> (LocalShop, std::path::PathBuf) {
    let keys = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let shop = LocalShop::start(&keys).await.expect("local shop");
    (shop, keys)
}

fn unique_email(tag: &str) -> String {
    let id = OrderId::generate(now())
        .expect("id")
        .as_str()
        .to_lowercase();
    format!("{tag}-{id}@example.com")
}

const DESKTOP: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)";

/// Buy Now with WeChat Pay from a desktop: the order and the shop page it was sent to.
async fn checkout(shop: &LocalShop, email: &str) -> (OrderId, String) {
    let page = checkout_from(shop, email, DESKTOP).await;
    let prefix = format!("{}/return/wechat?order=", shop.base);
    let rest = page
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{page} is not the shop's WeChat page"));
    let id = OrderId::parse(rest.split('&').next().unwrap()).expect("order id");
    (id, page)
}

/// Buy Now with WeChat Pay from a browser that says it is `user_agent`: where it is sent.
async fn checkout_from(shop: &LocalShop, email: &str, user_agent: &str) -> String {
    shop.buy_now(email, "&channel=wechat", Some(user_agent))
        .await
}

#[tokio::test]
async fn a_phone_gets_h5_pay_and_wechats_own_browser_the_qr_page() {
    let (shop, _) = local("wechat-devices").await;
    let iphone =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1";
    let to = checkout_from(&shop, &unique_email("phone"), iphone).await;
    assert!(
        to.starts_with(&format!("{}/sandbox/wechat/h5?pr=", shop.base)),
        "{to}"
    );
    assert!(to.contains("&redirect_url="), "{to}");
    let in_wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
    let to = checkout_from(&shop, &unique_email("in-wechat"), in_wechat).await;
    assert!(
        to.starts_with(&format!("{}/return/wechat?order=", shop.base)),
        "{to}"
    );
    let (_, html) = get(&shop, &to).await;
    assert!(html.contains("inside WeChat"), "{html}");
}

async fn get(shop: &LocalShop, url: &str) -> (u16, String) {
    let r = shop.http.get(url).send().await.expect("get");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn notify(shop: &LocalShop, body: &str, headers: &[(&'static str, String)]) -> u16 {
    let mut req = shop
        .http
        .post(format!("{}/notify/wechat", shop.base))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.body(body.to_owned())
        .send()
        .await
        .expect("notify")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_desktop_buyer_scans_pays_and_lands_on_the_purchase_once() {
    let (shop, _) = local("wechat-pay").await;
    let email = unique_email("wechat");
    let (id, page) = checkout(&shop, &email).await;

    // The shop's own page: the QR code (SVG, drawn here), the amount, the time left.
    let (status, html) = get(&shop, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Scan with WeChat"), "{html}");
    assert!(html.contains("<svg") && html.contains("id=\"wechat-qr\""));
    assert!(html.contains("¥9.00"));
    assert!(html.contains("minutes left to pay"));
    assert!(html.contains("http-equiv=\"refresh\""), "the page polls");
    let o = shop.order(&id).await;
    let code_url = o.pay_code.clone().expect("code_url kept");
    assert!(html.contains(&code_url));
    // Another checkout secret than the order's: nothing about the order.
    let (status, forged) = get(
        &shop,
        &format!("{}/return/wechat?order={id}&ref=guess", shop.base),
    )
    .await;
    assert_ne!(status, 200, "{forged}");
    assert!(!forged.contains("svg"));

    // Ten copies of the payment's notification at once: one grant, one mail.
    let note = shop
        .app
        .wechat
        .pay(id.as_str(), now())
        .expect("an open order");
    let sends = (0..10).map(|_| notify(&shop, &note.body, &note.headers));
    let statuses = futures::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let paid = shop.wait_for(&id, OrderStatus::Paid).await;
    assert_eq!(paid.all_grants().len(), 1);
    assert_eq!(shop.mails_to(&email).await, 1);
    let token = paid.grant_token().cloned().expect("grant");

    // The same page now is the purchase's.
    let (status, html) = get(&shop, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains(token.expose()), "{html}");
}

/// A notification's body and headers.
type Signed = (String, Vec<(&'static str, String)>);

/// A notification about `plaintext` as WeChat Pay sends it, signed with `signer` under
/// `serial` at `ts`.
fn notification(plaintext: &Value, signer: &SigningKey, serial: &str, ts: i64) -> Signed {
    event("TRANSACTION.SUCCESS", plaintext, signer, serial, ts)
}

/// A notification of `event_type` about `plaintext`.
fn event(
    event_type: &str,
    plaintext: &Value,
    signer: &SigningKey,
    serial: &str,
    ts: i64,
) -> Signed {
    let kind = if event_type.starts_with("REFUND") {
        "refund"
    } else {
        "transaction"
    };
    let apiv3 = ApiV3Key::parse(devstack::setup::WECHAT_APIV3_KEY).unwrap();
    let nonce = "forgery00001";
    let ciphertext = apiv3
        .encrypt(nonce, kind, plaintext.to_string().as_bytes())
        .unwrap();
    let body = json!({
        "id": format!("EV-{event_type}-{ts}"), "create_time": "2026-12-07T12:00:00+08:00",
        "resource_type": "encrypt-resource", "event_type": event_type, "summary": "",
        "resource": {"original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": ciphertext, "associated_data": kind, "nonce": nonce}
    })
    .to_string();
    let sig = sign_message(signer, ts, "n", body.as_bytes()).unwrap();
    let headers = vec![
        ("Wechatpay-Timestamp", ts.to_string()),
        ("Wechatpay-Nonce", "n".into()),
        ("Wechatpay-Serial", serial.to_owned()),
        (
            "Wechatpay-Signature-Type",
            "WECHATPAY2-SHA256-RSA2048".into(),
        ),
        ("Wechatpay-Signature", sig),
    ];
    (body, headers)
}

#[tokio::test]
async fn every_forged_notification_is_refused_and_changes_nothing() {
    let (shop, keys) = local("wechat-forgeries").await;
    let email = unique_email("forged");
    let (id, _) = checkout(&shop, &email).await;
    let local_keys = devstack::keys::load_or_generate(&keys).unwrap();
    let wechatpay = SigningKey::parse(&local_keys.wechatpay_private_pem).unwrap();
    let stranger = SigningKey::parse(&local_keys.app_private_pem).unwrap();
    let serial = devstack::setup::WECHAT_PUBLIC_KEY_ID;
    let t = now().unix_timestamp();
    let paid = |f: &dyn Fn(&mut Value)| {
        let mut p = json!({
            "mchid": devstack::setup::WECHAT_MCHID, "appid": devstack::setup::WECHAT_APPID,
            "out_trade_no": id.as_str(), "transaction_id": "4200000000000000000000000001",
            "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "",
            "success_time": "2026-12-07T12:00:00+08:00",
            "amount": {"total": 900, "payer_total": 900, "currency": "CNY", "payer_currency": "CNY"}
        });
        f(&mut p);
        p
    };
    let unknown = OrderId::generate(now()).unwrap();
    let cases: Vec<(&str, Signed)> = vec![
        (
            "another key",
            notification(&paid(&|_| {}), &stranger, serial, t),
        ),
        (
            "another serial",
            notification(
                &paid(&|_| {}),
                &wechatpay,
                "PUB_KEY_ID_0000000000000000000000000001",
                t,
            ),
        ),
        (
            "6 minutes old",
            notification(&paid(&|_| {}), &wechatpay, serial, t - 360),
        ),
        (
            "another merchant",
            notification(
                &paid(&|p| p["mchid"] = "1900000999".into()),
                &wechatpay,
                serial,
                t,
            ),
        ),
        (
            "another app",
            notification(
                &paid(&|p| p["appid"] = "wx0000000000000000".into()),
                &wechatpay,
                serial,
                t,
            ),
        ),
        (
            "another amount",
            notification(
                &paid(&|p| p["amount"]["total"] = 1.into()),
                &wechatpay,
                serial,
                t,
            ),
        ),
        (
            "another currency",
            notification(
                &paid(&|p| p["amount"]["currency"] = "USD".into()),
                &wechatpay,
                serial,
                t,
            ),
        ),
        (
            "an unknown order",
            notification(
                &paid(&|p| p["out_trade_no"] = unknown.as_str().into()),
                &wechatpay,
                serial,
                t,
            ),
        ),
        ("body changed after signing", {
            let (body, h) = notification(&paid(&|_| {}), &wechatpay, serial, t);
            (body.replace("EV-TRANSACTION", "EV-TRANSACTIOn"), h)
        }),
        ("ciphertext changed", {
            let (body, _) = notification(&paid(&|_| {}), &wechatpay, serial, t);
            let mut v: Value = serde_json::from_str(&body).unwrap();
            let c = v["resource"]["ciphertext"].as_str().unwrap().to_owned();
            let flipped = if c.starts_with('A') {
                c.replacen('A', "B", 1)
            } else {
                format!("A{}", &c[1..])
            };
            v["resource"]["ciphertext"] = flipped.into();
            let body = v.to_string();
            let sig = sign_message(&wechatpay, t, "n", body.as_bytes()).unwrap();
            let (_, mut h) = notification(&paid(&|_| {}), &wechatpay, serial, t);
            h[4].1 = sig;
            (body, h)
        }),
        ("associated data changed", {
            let (body, _) = notification(&paid(&|_| {}), &wechatpay, serial, t);
            let body = body.replace(
                "\"associated_data\":\"transaction\"",
                "\"associated_data\":\"refund\"",
            );
            let sig = sign_message(&wechatpay, t, "n", body.as_bytes()).unwrap();
            let (_, mut h) = notification(&paid(&|_| {}), &wechatpay, serial, t);
            h[4].1 = sig;
            (body, h)
        }),
    ];
    for (what, (body, headers)) in &cases {
        let status = notify(&shop, body, headers).await;
        assert!((400..600).contains(&status), "{what}: {status}");
        let o = shop.order(&id).await;
        assert_eq!(o.status(), OrderStatus::Pending, "{what}");
        assert!(o.all_grants().is_empty(), "{what}");
    }
    assert_eq!(shop.mails_to(&email).await, 0);
    // The genuine one, made the same way, is believed: the cases above were refused for
    // what they changed, not for how they were made.
    let (body, headers) = notification(&paid(&|_| {}), &wechatpay, serial, t);
    assert_eq!(notify(&shop, &body, &headers).await, 200);
    shop.wait_for(&id, OrderStatus::Paid).await;
}

/// The stored order as if it had been made `by` earlier (created and expiring then). The
/// shop is not time-travelled instead: WeChat Pay (and its stand-in) refuses requests
/// signed more than 5 minutes from its own clock.
async fn age(shop: &LocalShop, id: &OrderId, by: time::Duration) {
    let mut o = shop.order(id).await;
    o.created_at -= by;
    o.expires_at -= by;
    kiosk_e2e::rewrite_order(&shop.app.store, &o).await;
}

async fn reconcile(shop: &LocalShop) {
    shop.app
        .reconciler
        .pending(
            now(),
            kiosk::deadline::Deadline::after(Duration::from_secs(20)),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn reconcile_delivers_a_lost_payment_and_closes_an_abandoned_order() {
    let (shop, _) = local("wechat-reconcile").await;
    let email = unique_email("lost");
    let (lost, _) = checkout(&shop, &email).await;
    let (abandoned, _) = checkout(&shop, &unique_email("gone")).await;
    // Paid at WeChat Pay; the notification never arrives.
    assert!(shop.app.wechat.pay(lost.as_str(), now()).is_some());
    age(
        &shop,
        &lost,
        kiosk::reconcile::GRACE + time::Duration::seconds(5),
    )
    .await;
    // Past its lifetime, never paid.
    let lifetime = shop.order(&abandoned).await.expires_at - now();
    age(&shop, &abandoned, lifetime + time::Duration::minutes(1)).await;
    reconcile(&shop).await;
    let o = shop.wait_for(&lost, OrderStatus::Paid).await;
    assert_eq!(o.all_grants().len(), 1);
    assert_eq!(shop.mails_to(&email).await, 1);
    // Closed at WeChat Pay (it can no longer be paid) and expired here.
    assert_eq!(shop.order(&abandoned).await.status(), OrderStatus::Expired);
    assert!(
        shop.app.wechat.pay(abandoned.as_str(), now()).is_none(),
        "closed at WeChat Pay"
    );
}

#[tokio::test]
async fn a_refund_reported_before_the_payment_wins() {
    let (shop, keys) = local("wechat-refund-first").await;
    let email = unique_email("refund-first");
    let (id, _) = checkout(&shop, &email).await;
    let wechatpay = SigningKey::parse(
        &devstack::keys::load_or_generate(&keys)
            .unwrap()
            .wechatpay_private_pem,
    )
    .unwrap();
    let serial = devstack::setup::WECHAT_PUBLIC_KEY_ID;
    let t = now().unix_timestamp();
    let txn = "4200000000000000000000000077";
    let refund = json!({
        "mchid": devstack::setup::WECHAT_MCHID, "out_trade_no": id.as_str(),
        "transaction_id": txn, "out_refund_no": "console-1", "refund_id": "503000000001",
        "refund_status": "SUCCESS", "success_time": "2026-12-07T12:00:00+08:00",
        "amount": {"total": 900, "refund": 900, "payer_total": 900, "payer_refund": 900}
    });
    let (body, headers) = event("REFUND.SUCCESS", &refund, &wechatpay, serial, t);
    assert_eq!(notify(&shop, &body, &headers).await, 200);
    assert_eq!(shop.order(&id).await.status(), OrderStatus::Refunded);
    let paid = json!({
        "mchid": devstack::setup::WECHAT_MCHID, "appid": devstack::setup::WECHAT_APPID,
        "out_trade_no": id.as_str(), "transaction_id": txn, "trade_state": "SUCCESS",
        "amount": {"total": 900, "currency": "CNY"}
    });
    let (body, headers) = notification(&paid, &wechatpay, serial, t);
    assert_eq!(notify(&shop, &body, &headers).await, 200);
    let o = shop.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.provider_txn_id(), Some(txn), "the payment is recorded");
    assert!(o.all_grants().is_empty(), "no link for money given back");
    assert_eq!(shop.mails_to(&email).await, 0);
}
