//! Speed budgets (docs/architecture.md, "Speed budgets") for the Alipay hot paths:
//! - build + sign a page-pay URL (budget 0.5 ms; python-alipay-sdk 1.44 ms here)
//! - verify + parse an async notification (budget 40 µs; python-alipay-sdk 0.42 ms here)

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kiosk::alipay::{AlipayPublicKey, AppPrivateKey, query_string};
use kiosk::channel::{AlipayChannel, AlipayUrls, Channel, Device};
use kiosk::config::AlipayConfig;
use kiosk::order::{ChannelKind, Source};
use kiosk::product::FileRef;
use kiosk::{Currency, Email, Money, Order, OrderId, Product, ProductId};
use time::macros::datetime;

fn data(rel: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/data/alipay/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test data")
}

fn channel() -> AlipayChannel {
    let config = AlipayConfig {
        app_id: "2021000000000001".into(),
        gateway_url: "https://openapi.alipay.com/gateway.do".into(),
        seller_id: Some("2088000000000001".into()),
        app_private_key_param: "/bench/app".into(),
        alipay_public_key_param: "/bench/alipay".into(),
    };
    AlipayChannel::new(
        config,
        AlipayUrls::under("https://shop.example.com", "https://example.com/"),
        AppPrivateKey::parse(&data("keys/app_pkcs8.b64")).expect("app key"),
        AlipayPublicKey::parse(&data("keys/alipay_spki.pem")).expect("alipay key"),
        kiosk::channel::http_client().expect("client"),
    )
}

fn order() -> Order {
    let product = Product::new(
        ProductId::parse("little-book-of-rust").unwrap(),
        "The Little Book of Rust",
        Money::parse_decimal("9.00", Currency::Cny).unwrap(),
        kiosk::product::Edition::parse("v1").expect("valid product"),
        kiosk::product::FileSet::one(FileRef {
            key: "products/b/v1/b.pdf".into(),
            name: "b.pdf".into(),
            content_type: "application/pdf".into(),
            sha256: None,
            size: None,
        }),
        5,
    )
    .expect("valid product");
    Order::new_pending(
        OrderId::parse("K20261121A1").unwrap(),
        &product,
        Email::parse("reader@example.com").unwrap(),
        ChannelKind::Alipay,
        Source::default(),
        datetime!(2026-11-21 10:30 UTC),
        time::Duration::minutes(30),
    )
}

fn notify_body() -> String {
    let v: serde_json::Value = serde_json::from_str(&data("vectors.json")).unwrap();
    let paid = v["notifies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "paid")
        .unwrap();
    let params = paid["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    query_string(&params)
}

/// Alipay's payment start only signs (no I/O), so its future is ready at the first poll.
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("start_payment for Alipay does no I/O"),
    }
}

fn benches(c: &mut Criterion) {
    let ch = channel();
    let order = order();
    let now = datetime!(2026-11-21 10:30 UTC);
    c.bench_function("page_pay_url_build_and_sign", |b| {
        b.iter(|| ready(ch.start_payment(black_box(&order), Device::Desktop, None, now)).unwrap())
    });

    let body = notify_body();
    assert!(
        ch.authenticate_notification(body.as_bytes(), &Default::default(), now)
            .is_ok(),
        "the vector must verify"
    );
    c.bench_function("notify_verify_and_parse", |b| {
        b.iter(|| {
            ch.authenticate_notification(black_box(body.as_bytes()), &Default::default(), now)
                .unwrap()
        })
    });
}

criterion_group!(alipay, benches);
criterion_main!(alipay);
