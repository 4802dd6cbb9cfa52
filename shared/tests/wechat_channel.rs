//! The WeChat Pay channel's notification and return handling, with the keys and
//! notifications of the wechatpayv3 vectors (tests/data/wechat): what an authentic
//! notification becomes, and every forgery the issue names refused: another key,
//! another key id, a stale timestamp, a body changed after signing, a changed
//! ciphertext or associated data, another merchant or app, another currency.

use kiosk::channel::{
    Channel, ChannelError, Notice, OrderRef, ProviderStatus, Rejection, WechatChannel, WechatKeys,
    WechatUrls,
};
use kiosk::config::WechatConfig;
use kiosk::rsa::{SigningKey, VerifyingKey};
use kiosk::wechat::ApiV3Key;
use kiosk::wechat::sign::sign_message;
use kiosk::{Currency, Money};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wechat");

fn vectors() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/vectors.json")).unwrap()).unwrap()
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/keys/{name}")).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key}"))
}

fn config(v: &Value) -> WechatConfig {
    WechatConfig {
        mchid: s(v, "mchid").into(),
        appid: s(v, "appid").into(),
        merchant_serial_no: s(v, "merchant_serial_no").into(),
        public_key_id: s(v, "wechatpay_public_key_id").into(),
        api_base: "http://127.0.0.1:9".into(),
        merchant_key_param: "/t/wechat/merchant-key".into(),
        public_key_param: "/t/wechat/public-key".into(),
        apiv3_key_param: Some("/t/wechat/apiv3-key".into()),
    }
}

fn channel_with(config: WechatConfig, apiv3: Option<&str>) -> WechatChannel {
    WechatChannel::new(
        config,
        WechatUrls::under("https://shop.example.com"),
        WechatKeys {
            merchant_key: SigningKey::parse(&key_text("merchant_private.pem")).unwrap(),
            wechatpay_key: VerifyingKey::parse(&key_text("wechatpay_public.pem")).unwrap(),
            apiv3_key: apiv3.map(|k| ApiV3Key::parse(k).unwrap()),
        },
        reqwest::Client::new(),
    )
}

fn channel() -> WechatChannel {
    let v = vectors();
    channel_with(config(&v), Some(s(&v, "apiv3_key")))
}

fn headers(h: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, val) in h.as_object().unwrap() {
        map.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(val.as_str().unwrap()).unwrap(),
        );
    }
    map
}

fn at(h: &Value, offset: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(
        s(h, "Wechatpay-Timestamp").parse::<i64>().unwrap() + offset,
    )
    .unwrap()
}

fn cny(s: &str) -> Money {
    Money::parse_decimal(s, Currency::Cny).unwrap()
}

fn rejected(r: Result<Notice, ChannelError>) -> bool {
    matches!(r, Err(ChannelError::Rejected(_)))
}

/// A notification as WeChat Pay would send it about `plaintext`, signed by `signer`.
fn notification(
    plaintext: &Value,
    event_type: &str,
    signer: &str,
    now: i64,
) -> (Vec<u8>, HeaderMap) {
    let v = vectors();
    let apiv3 = ApiV3Key::parse(s(&v, "apiv3_key")).unwrap();
    let kind = if event_type.starts_with("REFUND") {
        "refund"
    } else {
        "transaction"
    };
    let nonce = "abcdefghijkl";
    let ciphertext = apiv3
        .encrypt(nonce, kind, plaintext.to_string().as_bytes())
        .unwrap();
    let body = serde_json::json!({
        "id": "n-1", "create_time": "2026-12-07T11:20:05+08:00",
        "resource_type": "encrypt-resource", "event_type": event_type, "summary": "",
        "resource": {"original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": ciphertext, "associated_data": kind, "nonce": nonce}
    })
    .to_string()
    .into_bytes();
    let key = SigningKey::parse(&key_text(signer)).unwrap();
    let sig = sign_message(&key, now, "nonce-1", &body).unwrap();
    let h = serde_json::json!({
        "Wechatpay-Timestamp": now.to_string(), "Wechatpay-Nonce": "nonce-1",
        "Wechatpay-Serial": s(&v, "wechatpay_public_key_id"),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Wechatpay-Signature": sig,
    });
    (body, headers(&h))
}

#[test]
fn authentic_notifications_become_payments_and_refunds() {
    let v = vectors();
    let ch = channel();
    let paid = &v["notifications"][0];
    let Ok(Notice::Payment(e)) = ch.authenticate_notification(
        s(paid, "body").as_bytes(),
        &headers(&paid["headers"]),
        at(&paid["headers"], 1),
    ) else {
        panic!("a payment")
    };
    assert_eq!(
        e.order,
        OrderRef::Id(kiosk::OrderId::parse("K20261207111856acb868913e997e5").unwrap())
    );
    assert_eq!(e.event_id, "d455b889aee19ad9c9744d2ab50c3d943486");
    let ProviderStatus::Paid(p) = e.status else {
        panic!("paid")
    };
    assert_eq!(
        (p.provider_txn_id.as_str(), p.amount),
        ("4200002026120700000000374032", cny("9.00"))
    );

    let refund = &v["notifications"][1];
    let Ok(Notice::Payment(e)) = ch.authenticate_notification(
        s(refund, "body").as_bytes(),
        &headers(&refund["headers"]),
        at(&refund["headers"], 1),
    ) else {
        panic!("a refund")
    };
    assert_eq!(
        e.status,
        ProviderStatus::Refunded {
            total: cny("9.00"),
            payment: Some("4200002026120700000000374032".into())
        }
    );
}

#[test]
fn every_forgery_is_refused() {
    let v = vectors();
    let ch = channel();
    let paid = &v["notifications"][0];
    let body = s(paid, "body").as_bytes();
    let h = headers(&paid["headers"]);
    // Six minutes old, or six minutes ahead.
    assert!(rejected(ch.authenticate_notification(
        body,
        &h,
        at(&paid["headers"], 360)
    )));
    assert!(rejected(ch.authenticate_notification(
        body,
        &h,
        at(&paid["headers"], -360)
    )));
    // Another key id than the one configured.
    let mut other = config(&v);
    other.public_key_id = "PUB_KEY_ID_0000000000000000000000000000000000".into();
    let other_serial = channel_with(other, Some(s(&v, "apiv3_key")));
    assert!(rejected(other_serial.authenticate_notification(
        body,
        &h,
        at(&paid["headers"], 0)
    )));
    // The vectors' tampered copies: body changed, another key, another timestamp,
    // ciphertext or associated data changed.
    for t in v["tampered"].as_array().unwrap() {
        let r = ch.authenticate_notification(
            s(t, "body").as_bytes(),
            &headers(&t["headers"]),
            at(&t["headers"], 0),
        );
        assert!(rejected(r), "{}", s(t, "why"));
    }
    // Another merchant, another app, another currency, signed and encrypted right.
    let plain: Value = serde_json::from_str(s(paid, "plaintext")).unwrap();
    let now = at(&paid["headers"], 0).unix_timestamp();
    let mut cases = Vec::new();
    for (field, value) in [("mchid", "1900000999"), ("appid", "wx0000000000000000")] {
        let mut p = plain.clone();
        p[field] = value.into();
        cases.push((field.to_owned(), p));
    }
    let mut usd = plain.clone();
    usd["amount"]["currency"] = "USD".into();
    cases.push(("currency".into(), usd));
    for (what, p) in &cases {
        let (body, h) = notification(p, "TRANSACTION.SUCCESS", "wechatpay_private.pem", now);
        assert!(
            rejected(ch.authenticate_notification(&body, &h, at(&paid["headers"], 0))),
            "{what}"
        );
    }
    // The same notification, made right, is accepted (the helper is not what refuses);
    // from a stranger's key it is not.
    let (body, h) = notification(&plain, "TRANSACTION.SUCCESS", "wechatpay_private.pem", now);
    assert!(
        ch.authenticate_notification(&body, &h, at(&paid["headers"], 0))
            .is_ok()
    );
    let (body, h) = notification(&plain, "TRANSACTION.SUCCESS", "stranger_private.pem", now);
    assert!(rejected(ch.authenticate_notification(
        &body,
        &h,
        at(&paid["headers"], 0)
    )));
    // Without the APIv3 key nothing can be read, so nothing is believed.
    let no_key = channel_with(config(&v), None);
    assert!(matches!(
        no_key.authenticate_notification(
            s(paid, "body").as_bytes(),
            &headers(&paid["headers"]),
            at(&paid["headers"], 0)
        ),
        Err(ChannelError::Rejected(Rejection::Uncheckable(_)))
    ));
}

#[test]
fn events_that_move_no_money_are_acknowledged_as_irrelevant() {
    let v = vectors();
    let plain = serde_json::json!({"mchid": s(&v, "mchid")});
    let now = 1_796_645_400;
    let (body, h) = notification(&plain, "REFUND.ABNORMAL", "wechatpay_private.pem", now);
    let t = OffsetDateTime::from_unix_timestamp(now).unwrap();
    assert!(matches!(
        channel().authenticate_notification(&body, &h, t),
        Ok(Notice::Irrelevant { .. })
    ));
}

#[tokio::test]
async fn a_return_names_its_order_and_checkout_secret() {
    let ch = channel();
    let now = OffsetDateTime::now_utc();
    let r = ch
        .authenticate_return("order=K20261207111856acb868913e997e5&ref=abc_DEF-123", now)
        .await
        .unwrap();
    assert_eq!(r.order_id.as_str(), "K20261207111856acb868913e997e5");
    assert_eq!(r.checkout_ref.as_deref(), Some("abc_DEF-123"));
    assert!(
        r.status.is_none(),
        "the payment is asked of WeChat Pay, never read from the link"
    );
    for bad in ["order=K1", "ref=x", "order=K%2F1&ref=x", ""] {
        assert!(ch.authenticate_return(bad, now).await.is_err(), "{bad}");
    }
}
