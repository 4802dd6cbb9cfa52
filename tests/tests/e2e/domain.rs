//! A shop on the author's own domain (issue 27, part 1): the functions configured as the
//! template configures them with `DomainName` set sign Alipay's `notify_url` and
//! `return_url` on that domain and mail download links there.

use kiosk::checkout::Checkout;
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use kiosk_e2e::events::{EventStack, ORDER};
use kiosk_e2e::{body_string, form, now};
use lambda_http::Body;

const DOMAIN: &str = "books.example.org";

#[tokio::test]
async fn a_shop_on_its_own_domain_signs_callbacks_and_mails_links_there() {
    let stack = EventStack::start().await.unwrap();
    let mut values = stack.values();
    for (k, v) in [
        ("DomainName", DOMAIN),
        (
            "CertificateArn",
            "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        values.params.insert(k.to_owned(), v.to_owned());
    }
    let functions =
        kiosk_localaws::functions::functions(kiosk_localaws::TEMPLATE, &values).unwrap();
    let env_of = |name: &str| {
        let f = functions.iter().find(|f| f.name == name).unwrap();
        let env = f.env.clone();
        move |k: &str| env.get(k).cloned()
    };
    let sdk = kiosk_localaws::emulator_config().await.unwrap();

    // Checkout, configured as the deployed function is: Alipay's callbacks on the domain.
    let env = env_of("CheckoutFunction");
    let config = kiosk::config::CheckoutConfig::from(&env).unwrap();
    assert_eq!(config.public_base_url, format!("https://{DOMAIN}"));
    let checkout = Checkout::new(&sdk, config, ChannelsConfig::from(&env).unwrap())
        .await
        .unwrap();
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://{DOMAIN}/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(Body::Text(format!(
            "product_id={}&email=domain-{}%40example.com",
            kiosk_e2e::events::PRODUCT,
            stack.w.tag
        )))
        .unwrap();
    let resp = checkout::handler::handle(&checkout, req, now()).await;
    assert_eq!(resp.status(), 303, "{}", body_string(&resp));
    let pay_url = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, query) = pay_url.split_once('?').unwrap();
    let params = kiosk::alipay::parse_form(query).unwrap();
    assert_eq!(
        params["notify_url"],
        format!("https://{DOMAIN}/notify/alipay")
    );
    assert_eq!(
        params["return_url"],
        format!("https://{DOMAIN}/return/alipay")
    );
    // The signature covers them: the pay URL verifies with the app's public key.
    let unsigned = kiosk::alipay::string_to_sign_request(&params);
    assert!(
        stack
            .w
            .app_public
            .verify(unsigned.as_bytes(), &params["sign"])
            .is_ok()
    );

    // Payment-notify, configured the same way: the purchase mail's link is on the domain.
    let env = env_of("PaymentNotifyFunction");
    let shop = Shop::new(
        &sdk,
        kiosk::Config::from(&env).unwrap(),
        ChannelsConfig::from(&env).unwrap(),
    )
    .await
    .unwrap();
    let notify = form(&stack.w.notify_params(ORDER, "9.00", "TRADE_SUCCESS"));
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://{DOMAIN}/notify/alipay"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::Text(notify))
        .unwrap();
    let resp = payment_notify::handler::handle(&shop, req, now()).await;
    assert_eq!(body_string(&resp), "success");
    let mails = stack.w.mails_to(stack.order.email.as_str()).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .body
            .contains(&format!("https://{DOMAIN}/download/")),
        "{}",
        mails[0].body
    );
}
