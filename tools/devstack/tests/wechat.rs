//! The WeChat Pay channel's API calls against the local stand-in over HTTP: Native pay
//! gives a QR code and a return link with a secret; the query follows the payment; the
//! stand-in's signed, encrypted notification is believed; close keeps a paid order and
//! closes an open one; a refund whose answer was lost, rerun, refunds once; H5 pay sends
//! the buyer's address and comes back to the shop; a request signed with another key is
//! refused by the stand-in and nothing is made.

use std::net::SocketAddr;
use std::sync::Arc;

use devstack::wechat::{WechatIds, WechatSandbox};
use kiosk::channel::{
    Channel, ChannelError, CloseOutcome, Device, Notice, ProviderStatus, WechatChannel, WechatKeys,
    WechatUrls,
};
use kiosk::config::WechatConfig;
use kiosk::order::{ChannelKind, Order, Source};
use kiosk::product::{Edition, FileRef, Product};
use kiosk::rsa::{SigningKey, VerifyingKey};
use kiosk::wechat::ApiV3Key;
use kiosk::{Currency, Email, Money, OrderId, ProductId};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

const APIV3: &str = "kioskLocalApiV3Key0123456789abcd";

struct Stand {
    sandbox: Arc<WechatSandbox>,
    base: String,
}

fn ids() -> WechatIds {
    WechatIds {
        mchid: "1900000109".into(),
        appid: "wxd678efh567hg6787".into(),
        merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
        public_key_id: "PUB_KEY_ID_0114232134912410000000000000".into(),
    }
}

/// Made once per run: the tests run in parallel and must share one set.
fn keys() -> &'static devstack::keys::LocalKeys {
    static KEYS: std::sync::OnceLock<devstack::keys::LocalKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wechat-keys");
        devstack::keys::load_or_generate(&dir).expect("keys")
    })
}

async fn stand() -> Stand {
    let k = keys();
    // The local "app" pair plays the merchant's, the "alipay" pair WeChat Pay's.
    let sandbox = Arc::new(WechatSandbox::new(
        ids(),
        VerifyingKey::parse(&k.app_public_pem).unwrap(),
        SigningKey::parse(&k.alipay_private_pem).unwrap(),
        ApiV3Key::parse(APIV3).unwrap(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    sandbox.clone().serve(listener);
    Stand {
        sandbox,
        base: format!("http://{addr}"),
    }
}

fn channel(stand: &Stand, merchant_private: &str) -> WechatChannel {
    let k = keys();
    let i = ids();
    WechatChannel::new(
        WechatConfig {
            mchid: i.mchid,
            appid: i.appid,
            merchant_serial_no: i.merchant_serial_no,
            public_key_id: i.public_key_id,
            api_base: stand.base.clone(),
            merchant_key_param: "/t/wechat/merchant-key".into(),
            public_key_param: "/t/wechat/public-key".into(),
            apiv3_key_param: Some("/t/wechat/apiv3-key".into()),
        },
        WechatUrls::under("https://shop.example.com"),
        WechatKeys {
            merchant_key: SigningKey::parse(merchant_private).unwrap(),
            wechatpay_key: VerifyingKey::parse(&k.alipay_public_pem).unwrap(),
            apiv3_key: Some(ApiV3Key::parse(APIV3).unwrap()),
        },
        reqwest::Client::new(),
    )
}

fn cny(s: &str) -> Money {
    Money::parse_decimal(s, Currency::Cny).unwrap()
}

fn order() -> Order {
    let id = ProductId::parse("book").unwrap();
    let edition = Edition::parse("v1").unwrap();
    let file = FileRef::for_edition(&id, &edition, "book.pdf", "application/pdf", None, None);
    let file = kiosk::product::FileSet::one(file);
    let product = Product::new(id, "小书 The Little Book", cny("9.00"), edition, file, 5).unwrap();
    let now = OffsetDateTime::now_utc();
    Order::new_pending(
        OrderId::generate(now).unwrap(),
        &product,
        Email::parse("buyer@example.com").unwrap(),
        ChannelKind::Wechat,
        Source::default(),
        now,
        time::Duration::minutes(30),
    )
}

fn header_map(h: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in h {
        map.insert(
            HeaderName::from_static(k.to_ascii_lowercase().leak()),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

#[tokio::test]
async fn the_channel_pays_queries_closes_and_refunds_once_against_the_stand_in() {
    let stand = stand().await;
    let ch = channel(&stand, &keys().app_private_pem);
    let now = OffsetDateTime::now_utc();
    let o = order();

    // Native pay: a QR code for the shop's page, and a return link with a secret.
    let r = ch
        .start_payment(&o, Device::Desktop, None, now)
        .await
        .expect("native");
    assert!(
        r.pay_code
            .as_deref()
            .is_some_and(|c| c.starts_with("weixin://wxpay/bizpayurl?pr="))
    );
    let secret = r.checkout_ref.clone().expect("a return secret");
    assert!(secret.len() >= 22);
    assert_eq!(
        r.url,
        format!(
            "https://shop.example.com/return/wechat?order={}&ref={secret}",
            o.id
        )
    );
    // The same order again is the same trade at WeChat Pay.
    assert!(
        ch.start_payment(&o, Device::Desktop, None, now)
            .await
            .is_ok()
    );
    assert_eq!(ch.query(&o, now).await.unwrap(), ProviderStatus::Waiting);

    // The phone pays; the notification is believed; the query agrees.
    let note = stand
        .sandbox
        .pay(o.id.as_str(), now)
        .expect("an open order");
    let Notice::Payment(event) = ch
        .authenticate_notification(note.body.as_bytes(), &header_map(&note.headers), now)
        .expect("authentic")
    else {
        panic!("a payment")
    };
    let ProviderStatus::Paid(paid) = event.status else {
        panic!("paid")
    };
    assert_eq!(paid.amount, cny("9.00"));
    assert_eq!(
        ch.query(&o, now).await.unwrap(),
        ProviderStatus::Paid(paid.clone())
    );
    // Closing a paid order keeps it: the shop asks again.
    assert_eq!(ch.close(&o, now).await.unwrap(), CloseOutcome::NotOpen);

    // A refund whose answer is lost (the channel retries the same out_refund_no), then
    // the command rerun: one refund of 3.00 at WeChat Pay.
    stand.sandbox.lose_next_refund_answer();
    let total = ch
        .refund(&o, cny("3.00"), &format!("{}RF1", o.id), Some("asked"), now)
        .await;
    assert_eq!(total.unwrap(), cny("3.00"));
    assert!(
        !stand.sandbox.refund_answer_to_lose(),
        "the answer was lost once"
    );
    let again = ch
        .refund(&o, cny("3.00"), &format!("{}RF1", o.id), None, now)
        .await;
    assert_eq!(again.unwrap(), cny("3.00"));
    // The rest: 6.00 more is all that is left; 0.01 more is refused by the stand-in.
    let mut after = o.clone();
    after.refunded = Some(cny("3.00"));
    assert_eq!(
        ch.refund(&after, cny("6.00"), &format!("{}RF2", o.id), None, now)
            .await
            .unwrap(),
        cny("9.00")
    );
    after.refunded = Some(cny("9.00"));
    assert!(
        ch.refund(&after, cny("0.01"), &format!("{}RF3", o.id), None, now)
            .await
            .is_err()
    );

    // An open order closes, and stays closed.
    let open = order();
    ch.start_payment(&open, Device::Desktop, None, now)
        .await
        .unwrap();
    assert_eq!(ch.close(&open, now).await.unwrap(), CloseOutcome::Closed);
    assert_eq!(ch.query(&open, now).await.unwrap(), ProviderStatus::Closed);
    assert!(
        stand.sandbox.pay(open.id.as_str(), now).is_none(),
        "closed orders cannot be paid"
    );
    assert_eq!(stand.sandbox.refused(), 0);
}

#[tokio::test]
async fn h5_pay_sends_the_buyers_address_and_comes_back_to_the_shop() {
    let stand = stand().await;
    let ch = channel(&stand, &keys().app_private_pem);
    let now = OffsetDateTime::now_utc();
    let o = order();
    // Without the buyer's address a phone is shown the QR code (Native pay).
    let native = ch
        .start_payment(&o, Device::Mobile, None, now)
        .await
        .unwrap();
    assert!(native.pay_code.is_some());
    let o = order();
    let payer = kiosk::net::PayerAddress::of(Some("203.0.113.7"));
    let r = ch
        .start_payment(&o, Device::Mobile, payer, now)
        .await
        .expect("h5");
    assert!(r.pay_code.is_none());
    let back = format!(
        "redirect_url=https%3A%2F%2Fshop.example.com%2Freturn%2Fwechat%3Forder%3D{}%26ref%3D{}",
        o.id,
        r.checkout_ref.as_deref().unwrap()
    );
    assert!(
        r.url.starts_with("https://wx.tenpay.com/") && r.url.ends_with(&back),
        "{}",
        r.url
    );
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused_and_makes_nothing() {
    let stand = stand().await;
    // The local "alipay" private key is not the merchant's.
    let forger = channel(&stand, &keys().alipay_private_pem);
    let now = OffsetDateTime::now_utc();
    let o = order();
    let err = forger
        .start_payment(&o, Device::Desktop, None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Provider { code, sub_code, .. } if code == "401" && sub_code == "SIGN_ERROR"),
        "{err:?}"
    );
    assert_eq!(stand.sandbox.refused(), 1);
    // Nothing was made: the honest merchant's query finds no such order.
    let honest = channel(&stand, &keys().app_private_pem);
    assert_eq!(
        honest.query(&o, now).await.unwrap(),
        ProviderStatus::Waiting
    );
    assert!(stand.sandbox.pay(o.id.as_str(), now).is_none());
}
