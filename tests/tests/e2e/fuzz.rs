//! Every parser that takes request data, under generated and arbitrary input (proptest):
//! the domain parsers (form and query strings, emails, money, ids, tokens, networks) and
//! the real handlers of checkout, payment-notify (notify bodies, return queries) and
//! download, behind which the store, SES and the providers are a closed port.
//!
//! The properties: nothing panics; a parser's accepted value reads back as itself; a
//! handler answers a client error (4xx) to anything that is not a valid request, and
//! answers 5xx only when a valid request reached the (unreachable) store or provider --
//! our own trouble, never the input's.
//!
//! `make test` runs each property for proptest's default 256 cases (`PROPTEST_CASES`
//! overrides); `make fuzz` runs them for many more.
//!
//! Over 400 lines: the offline shop fixture and a property per parser; the generators
//! are shared.

use std::sync::OnceLock;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use kiosk::alipay::{AlipayPublicKey, AppPrivateKey, parse_form};
use kiosk::channel::{
    AlipayChannel, AlipayUrls, Channels, StripeChannel, StripeKeys, WechatChannel, WechatKeys,
    WechatUrls,
};
use kiosk::checkout::Checkout;
use kiosk::config::AlipayConfig;
use kiosk::config::WechatConfig;
use kiosk::downloads::Downloads;
use kiosk::mail::Mailer;
use kiosk::resend::Network;
use kiosk::rsa::{SigningKey, VerifyingKey};
use kiosk::shop::Shop;
use kiosk::store::Store;
use kiosk::stripe::webhook::WebhookSecret;
use kiosk::wechat::ApiV3Key;
use kiosk::{Config, Currency, DownloadToken, Email, Money, OrderId, ProductId, Sender};
use kiosk_e2e::{
    APP_ID, BASE_URL, SELLER_ID, SHOP_URL, WECHAT_APIV3_KEY, WECHAT_APPID, WECHAT_MCHID,
    WECHAT_MERCHANT_SERIAL, WECHAT_PUBLIC_KEY_ID, body_string, now, vector_file,
};
use lambda_http::{Body, Request, Response};
use proptest::prelude::*;

/// Nothing listens here: every AWS and provider call fails at once (connection refused).
const NOWHERE: &str = "http://127.0.0.1:9";

fn sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(NOWHERE)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "fuzz", "fuzz", None, None, "fuzz",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

fn config() -> Config {
    Config::new(
        "fuzz-table",
        "fuzz-bucket",
        Sender::parse("shop@example.com").expect("sender"),
        BASE_URL,
        SHOP_URL,
    )
}

/// Both channels (the test vectors' keys) in front of nothing.
fn channels() -> Channels {
    let http = kiosk::channel::http_client().expect("http client");
    let alipay = AlipayChannel::new(
        AlipayConfig {
            app_id: APP_ID.into(),
            gateway_url: format!("{NOWHERE}/gateway.do"),
            seller_id: Some(SELLER_ID.into()),
            app_private_key_param: String::new(),
            alipay_public_key_param: String::new(),
        },
        AlipayUrls::under(BASE_URL, SHOP_URL),
        AppPrivateKey::parse(&vector_file("keys/app_pkcs8.b64")).expect("app key"),
        AlipayPublicKey::parse(&vector_file("keys/alipay_spki.pem")).expect("alipay key"),
        http.clone(),
    );
    let stripe = StripeChannel::new(
        NOWHERE,
        BASE_URL,
        SHOP_URL,
        STRIPE_TAG,
        StripeKeys {
            secret_key: "sk_test_fuzz".into(),
            webhook_secret: Some(WebhookSecret::parse("whsec_fuzz").expect("secret")),
        },
        http,
    );
    let wechat = WechatChannel::new(
        WechatConfig {
            mchid: WECHAT_MCHID.into(),
            appid: WECHAT_APPID.into(),
            merchant_serial_no: WECHAT_MERCHANT_SERIAL.into(),
            public_key_id: WECHAT_PUBLIC_KEY_ID.into(),
            merchant_key_param: String::new(),
            public_key_param: String::new(),
            apiv3_key_param: None,
            api_base: NOWHERE.into(),
        },
        WechatUrls::under(BASE_URL),
        WechatKeys {
            merchant_key: SigningKey::parse(&kiosk_e2e::wechat_vector_file(
                "keys/merchant_private.pem",
            ))
            .expect("merchant key"),
            wechatpay_key: VerifyingKey::parse(&kiosk_e2e::wechat_vector_file(
                "keys/wechatpay_public.pem",
            ))
            .expect("wechat pay key"),
            apiv3_key: Some(ApiV3Key::parse(WECHAT_APIV3_KEY).expect("apiv3 key")),
        },
        kiosk::channel::http_client().expect("http client"),
    );
    Channels::new(Some(alipay), Some(stripe), Some(wechat), None).expect("channels")
}

/// A shop with both channels in front of nothing.
fn shop() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let sdk = sdk();
        let config = config();
        Shop::from_parts(
            config.clone(),
            Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
            Mailer::new(aws_sdk_ses::Client::new(&sdk), config.sender_email.clone()),
            channels(),
        )
    })
}

/// The checkout function's handle over the same nothing.
fn checkout() -> &'static Checkout {
    static CHECKOUT: OnceLock<Checkout> = OnceLock::new();
    CHECKOUT.get_or_init(|| {
        let sdk = sdk();
        let config = config();
        Checkout::from_parts(
            config.checkout(),
            Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
            channels(),
            // Free orders go to a fulfiller as unreachable as the store.
            Some(kiosk::free::FreeFulfilment::InProcess(std::sync::Arc::new(
                |_| Box::pin(async { Err("unreachable".to_owned()) }),
            ))),
        )
    })
}

fn downloads() -> &'static Downloads {
    static APP: OnceLock<Downloads> = OnceLock::new();
    APP.get_or_init(|| {
        let sdk = sdk();
        let config = config();
        Downloads::new(&sdk, config)
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
    .block_on(f)
}

fn request(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Body,
) -> Request {
    let mut b = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("{BASE_URL}{path_and_query}"));
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(body).expect("request")
}

/// Percent-encode everything but unreserved characters (as a browser's form would).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The body as the handlers read it: text if it is UTF-8.
fn text_of(body: &Body) -> Option<&str> {
    std::str::from_utf8(body.as_ref()).ok()
}

fn status(r: &Response<Body>) -> u16 {
    r.status().as_u16()
}

/// Any bytes, as text or binary bodies arrive.
fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Empty),
        any::<String>().prop_map(Body::Text),
        prop::collection::vec(any::<u8>(), 0..2048).prop_map(Body::Binary),
        form().prop_map(Body::Text),
    ]
}

/// Text with the characters that matter to our parsers more often than chance would.
fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9@%+=&._~#:/ \u{0}-\u{1f}\u{7f}\u{202e}\u{4e2d}-]{0,40}",
    ]
}

/// `k=v&...` with our field names and hostile values, percent-encoded or not.
fn form() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("email"),
        Just("product_id"),
        Just("device"),
        Just("channel"),
        Just("utm_source"),
        Just("sign"),
        Just("sign_type"),
        Just("out_trade_no"),
        Just("trade_status"),
        Just("total_amount"),
        Just("app_id"),
        Just("seller_id"),
        Just("session_id"),
        Just("x"),
    ];
    prop::collection::vec((name, tricky(), any::<bool>()), 0..10).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v, encode)| {
                let v = if encode { enc(&v) } else { v };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn content_type() -> impl Strategy<Value = Vec<(String, String)>> {
    prop_oneof![
        Just(vec![]),
        Just(vec![("content-type".into(), "application/json".into())]),
        Just(vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into()
        )]),
        Just(vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into())
        ]),
        "[ -~]{0,40}".prop_map(|v| vec![("content-type".into(), v)]),
    ]
}

proptest! {
    #[test]
    fn forms_and_queries_parse_or_refuse(text in any::<String>()) {
        if let Ok(params) = parse_form(&text) {
            for (k, v) in &params {
                // What parsed is what a browser would send back encoded.
                let again = format!(
                    "{}={}",
                    enc(k),
                    enc(v)
                );
                let reparsed = parse_form(&again).expect("re-encoded pair parses");
                prop_assert_eq!(reparsed.get(k), Some(v));
            }
        }
    }

    #[test]
    fn emails_parse_to_an_address_ses_can_send_to(text in tricky()) {
        if let Ok(e) = Email::parse(&text) {
            let s = e.as_str();
            prop_assert!(s.is_ascii() && s.len() <= 254, "{s:?}");
            prop_assert_eq!(s.matches('@').count(), 1);
            prop_assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace()), "{s:?}");
            prop_assert_eq!(Email::parse(s).expect("its own text parses"), e.clone());
        }
    }

    #[test]
    fn money_parses_to_what_it_prints(text in "[0-9.,+ eE-]{0,24}|\\PC{0,12}", cny in any::<bool>()) {
        let currency = if cny { Currency::Cny } else { Currency::Usd };
        if let Ok(m) = Money::parse_decimal(&text, currency) {
            let printed = m.to_decimal();
            prop_assert_eq!(Money::parse_decimal(&printed, currency).expect("printed parses"), m);
        }
    }

    #[test]
    fn ids_and_tokens_parse_to_themselves(text in tricky()) {
        if let Ok(t) = DownloadToken::parse(&text) {
            prop_assert_eq!(DownloadToken::parse(t.expose()).expect("reparse"), t);
        }
        if let Ok(id) = OrderId::parse(&text) {
            prop_assert!(id.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            prop_assert_eq!(OrderId::parse(id.as_str()).expect("reparse"), id);
        }
        if let Ok(id) = ProductId::parse(&text) {
            prop_assert_eq!(ProductId::parse(id.as_str()).expect("reparse"), id);
        }
        let net = Network::of(Some(&text));
        prop_assert!(!net.text_for_tests().is_empty() && net.text_for_tests().is_ascii());
    }

    /// No notification authenticates without the provider's key, so none reaches the
    /// store: always a 4xx, and never the channel's ack.
    #[test]
    fn notify_bodies_are_refused_with_a_client_error(
        channel in prop_oneof![Just("alipay".to_owned()), Just("stripe".to_owned()), "[a-z%./]{0,12}"],
        body in body(),
        mut headers in content_type(),
        signature in prop::option::of(tricky()),
    ) {
        if let Some(sig) = signature.filter(|s| lambda_http::http::HeaderValue::from_str(s).is_ok()) {
            headers.push(("stripe-signature".into(), sig));
        }
        let path = format!("/notify/{channel}");
        if lambda_http::http::Uri::try_from(format!("{BASE_URL}{path}")).is_err() {
            return Ok(());
        }
        let resp = block_on(payment_notify::handler::handle(shop(), request("POST", &path, &headers, body), now()));
        let s = status(&resp);
        prop_assert!((400..500).contains(&s), "{s}: {}", body_string(&resp));
        prop_assert_ne!(body_string(&resp), "success");
    }

    /// A Stripe event signed with the webhook secret, of any shape, against an oracle of
    /// its own (`stripe_oracle`, written from Stripe's object shapes and Kiosk's rules,
    /// not from the channel's code): acknowledged when it is nothing this shop acts on
    /// (another integration's object, an event type Kiosk does not use), refused when it
    /// is malformed or claims to be ours and is not, and only a well-formed event about
    /// one of our orders goes on to the store (here unreachable: our 500).
    #[test]
    fn signed_stripe_events_of_any_shape(
        kind in prop_oneof![
            Just("checkout.session.completed"),
            Just("checkout.session.async_payment_succeeded"),
            Just("checkout.session.expired"),
            Just("charge.refunded"),
            Just("customer.created"),
        ],
        metadata in prop_oneof![
            Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012"})),
            Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012", "kiosk_shop": STRIPE_TAG})),
            Just(serde_json::json!({"order_id": "not an order id!", "kiosk_shop": STRIPE_TAG})),
            Just(serde_json::json!({"kiosk_shop": STRIPE_TAG})),
            Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012", "kiosk_shop": "another-shop"})),
            Just(serde_json::json!({})),
        ],
        paid in any::<bool>(),
        removed in prop::collection::vec(
            prop_oneof![
                Just("id"), Just("payment_status"), Just("amount_total"), Just("currency"),
                Just("payment_intent"), Just("amount"), Just("amount_refunded"), Just("metadata"),
            ],
            0..3,
        ),
        overrides in prop::collection::btree_map(
            prop_oneof![
                Just("id"), Just("client_reference_id"), Just("payment_status"),
                Just("amount_total"), Just("currency"), Just("payment_intent"),
                Just("amount"), Just("amount_refunded"), Just("metadata"), Just("status"),
            ],
            prop_oneof![
                tricky().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012"})),
                Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012", "kiosk_shop": STRIPE_TAG})),
                Just(serde_json::json!({"order_id": "not an order id!", "kiosk_shop": STRIPE_TAG})),
                Just(serde_json::json!({"kiosk_shop": STRIPE_TAG})),
                Just(serde_json::json!({"order_id": "K20261121093015123abc4567def89012", "kiosk_shop": "another-shop"})),
                Just(serde_json::json!({"id": "pi_expanded"})),
                Just(serde_json::Value::from("paid")),
                Just(serde_json::Value::from("cny")),
                Just(serde_json::Value::from(900)),
                Just(serde_json::Value::Null),
            ],
            0..4,
        ),
        raw in prop::option::of(prop::collection::vec(any::<u8>(), 0..256)),
    ) {
        // A well-formed object of the event's type (most cases get far into the rules),
        // then fields removed and replaced by anything.
        let mut object = if kind == "charge.refunded" {
            serde_json::json!({"id": "ch_fuzz", "object": "charge", "amount": 900,
                "amount_refunded": 900, "currency": "cny", "payment_intent": "pi_fuzz"})
        } else {
            serde_json::json!({"id": "cs_fuzz", "object": "checkout.session",
                "payment_status": if paid { "paid" } else { "unpaid" }, "amount_total": 900,
                "currency": "cny", "payment_intent": "pi_fuzz", "status": "complete"})
        };
        object["metadata"] = metadata;
        if let Some(o) = object.as_object_mut() {
            for k in removed {
                o.remove(k);
            }
            for (k, v) in overrides {
                o.insert(k.to_owned(), v);
            }
        }
        let payload = match raw {
            Some(bytes) => bytes,
            None => serde_json::json!({"id": "evt_fuzz", "type": kind, "data": {"object": object}})
                .to_string()
                .into_bytes(),
        };
        let t = now().unix_timestamp();
        let header = WebhookSecret::parse("whsec_fuzz").expect("secret").header(t, &payload);
        let headers = vec![("stripe-signature".to_owned(), header)];
        let want = stripe_oracle(&payload);
        let resp = block_on(payment_notify::handler::handle(
            shop(),
            request("POST", "/notify/stripe", &headers, Body::Binary(payload)),
            now(),
        ));
        prop_assert_eq!(status(&resp), want, "{}", body_string(&resp));
    }

    /// An Alipay notification signed with Alipay's key, of any field values, against an
    /// oracle of its own (`alipay_oracle`, from Alipay's notification fields and Kiosk's
    /// rules): refused unless it is for our app and seller with an order id, a notify id
    /// and a trade status that make sense (a payment with its trade_no and amount, a
    /// refund with its refund_fee); otherwise it goes on to the store (our 500).
    #[test]
    fn signed_alipay_notifications_of_any_values(
        trade_status in prop_oneof![
            Just("TRADE_SUCCESS"), Just("TRADE_FINISHED"), Just("TRADE_CLOSED"),
            Just("WAIT_BUYER_PAY"), Just("TRADE_PENDING"),
        ],
        refund in any::<bool>(),
        removed in prop::collection::vec(
            prop_oneof![
                Just("out_trade_no"), Just("trade_status"), Just("total_amount"),
                Just("trade_no"), Just("notify_id"), Just("app_id"), Just("seller_id"),
                Just("refund_fee"),
            ],
            0..3,
        ),
        overrides in prop::collection::btree_map(
            prop_oneof![
                Just("out_trade_no"), Just("trade_status"), Just("total_amount"),
                Just("trade_no"), Just("notify_id"), Just("app_id"), Just("seller_id"),
                Just("refund_fee"), Just("gmt_refund"), Just("notify_type"), Just("charset"),
            ],
            prop_oneof![
                tricky(),
                Just(String::new()),
                Just("TRADE_SUCCESS".to_owned()),
                Just("TRADE_CLOSED".to_owned()),
                Just(APP_ID.to_owned()),
                Just("2021000000000002".to_owned()),
                Just(SELLER_ID.to_owned()),
                Just("K20261121093015123abc4567def89012".to_owned()),
                Just("9.00".to_owned()),
                Just("09.00".to_owned()),
                Just("1000000000.00".to_owned()),
            ],
            0..3,
        ),
    ) {
        static SIGNER: OnceLock<AppPrivateKey> = OnceLock::new();
        let signer = SIGNER.get_or_init(|| {
            AppPrivateKey::parse(&vector_file("keys/alipay_pkcs1.pem")).expect("alipay key")
        });
        // A well-formed notification, then fields removed and replaced by anything.
        let mut params: kiosk::alipay::Params = [
            ("app_id", APP_ID), ("seller_id", SELLER_ID), ("charset", "utf-8"),
            ("notify_type", "trade_status_sync"), ("notify_id", "N-fuzz"),
            ("out_trade_no", "K20261121093015123abc4567def89012"), ("trade_no", "T-fuzz"),
            ("total_amount", "9.00"), ("trade_status", trade_status),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if refund {
            params.insert("refund_fee".into(), "3.00".into());
        }
        for k in removed {
            params.remove(k);
        }
        for (k, v) in overrides {
            params.insert(k.to_owned(), v);
        }
        let want = alipay_oracle(&params);
        let body = kiosk_e2e::form(&kiosk_e2e::sign_callback(params, signer));
        let resp = block_on(payment_notify::handler::handle(
            shop(),
            request("POST", "/notify/alipay", &[], Body::Text(body)),
            now(),
        ));
        prop_assert_eq!(status(&resp), want, "{}", body_string(&resp));
    }

    /// WeChat Pay's notifications, signed and encrypted with its keys, about resources of
    /// any values: fields of the transaction or the refund removed or replaced by
    /// anything (other types, null, other merchants and apps, other states, currencies
    /// and amounts). The handler answers what `wechat_oracle` (written from WeChat Pay's
    /// documented shapes and Kiosk's rules, not from the channel's code) says: 400 for
    /// what is not a payment or refund of ours, 200 for an event that moves no money,
    /// and 500 only for a valid one, which reached the unreachable store.
    #[test]
    fn signed_wechat_notifications_of_any_values(
        event in prop_oneof![
            Just("TRANSACTION.SUCCESS"), Just("REFUND.SUCCESS"),
            Just("REFUND.ABNORMAL"), Just("REFUND.CLOSED"),
        ],
        removed in prop::collection::vec(wechat_field(), 0..3),
        overrides in prop::collection::btree_map(wechat_field(), wechat_value(), 0..3),
    ) {
        let mut plain = if event.starts_with("TRANSACTION") {
            serde_json::json!({
                "mchid": WECHAT_MCHID, "appid": WECHAT_APPID,
                "out_trade_no": "K20261121093015123abc4567def89012",
                "transaction_id": "4200002026120700000000374032", "trade_type": "NATIVE",
                "trade_state": "SUCCESS", "trade_state_desc": "", "bank_type": "OTHERS",
                "success_time": "2026-12-07T11:20:03+08:00", "payer": {"openid": "o1"},
                "amount": {"total": 900, "payer_total": 900, "currency": "CNY", "payer_currency": "CNY"}
            })
        } else {
            serde_json::json!({
                "mchid": WECHAT_MCHID, "out_trade_no": "K20261121093015123abc4567def89012",
                "transaction_id": "4200002026120700000000374032",
                "out_refund_no": "K20261121093015123abc4567def89012RF1",
                "refund_id": "50300002026120700000000001", "refund_status": "SUCCESS",
                "amount": {"total": 900, "refund": 300, "payer_total": 900, "payer_refund": 300}
            })
        };
        for path in &removed {
            remove_path(&mut plain, path);
        }
        for (path, value) in &overrides {
            set_path(&mut plain, path, value.clone());
        }
        let want = wechat_oracle(event, &plain);
        let (body, headers) = wechat_notification(event, &plain);
        let resp = block_on(payment_notify::handler::handle(
            shop(),
            request("POST", "/notify/wechat", &headers, Body::Text(body)),
            now(),
        ));
        prop_assert_eq!(status(&resp), want, "{} {}: {}", event, plain, body_string(&resp));
    }

    /// A return query that does not verify is a 400; one that only names a Stripe
    /// session is checked with Stripe (here unreachable: the confirming page). WeChat Pay
    /// signs no return: one naming an order id and a checkout secret goes on to the
    /// order (here an unreachable store: our own 500), anything else is a 400.
    #[test]
    fn return_queries_never_fail_on_the_server(
        channel in prop_oneof![Just("alipay"), Just("stripe"), Just("wechat")],
        query in prop_oneof![
            form(),
            // A WeChat Pay page's own shape: an order id and a checkout secret.
            ("K[0-9a-f]{4,30}", "[A-Za-z0-9_-]{0,30}").prop_map(|(o, r)| format!("order={o}&ref={r}")),
        ],
    ) {
        let path = format!("/return/{channel}?{query}");
        if lambda_http::http::Uri::try_from(format!("{BASE_URL}{path}")).is_err() {
            return Ok(());
        }
        let resp = block_on(payment_notify::handler::handle(shop(), request("GET", &path, &[], Body::Empty), now()));
        let s = status(&resp);
        let names_a_wechat_order = channel == "wechat"
            && parse_form(&query).is_ok_and(|p| {
                p.get("order").is_some_and(|o| OrderId::parse(o).is_ok())
                    && p.get("ref").is_some_and(|r| !r.is_empty())
            });
        if names_a_wechat_order {
            prop_assert_eq!(s, 500, "{}", body_string(&resp));
            return Ok(());
        }
        prop_assert!(s == 200 || s == 400 || s == 404, "{s}: {}", body_string(&resp));
        if s == 200 {
            prop_assert!(body_string(&resp).contains("Confirming your payment"));
        }
    }

    /// Checkout answers every request it cannot parse with a 4xx naming the problem; only
    /// a request with a valid product id and email goes on to the store (here
    /// unreachable: our own 500).
    #[test]
    fn checkout_requests_parse_or_get_a_client_error(
        body in prop_oneof![
            body(),
            (tricky(), tricky(), prop::option::of(tricky())).prop_map(|(p, e, c)| {
                Body::Text(serde_json::json!({"product_id": p, "email": e, "channel": c}).to_string())
            }),
        ],
        headers in content_type(),
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
    ) {
        let fields = text_of(&body).and_then(|t| {
            serde_json::from_str::<serde_json::Value>(t)
                .ok()
                .map(|v| (v["product_id"].as_str().map(str::to_owned), v["email"].as_str().map(str::to_owned)))
                .or_else(|| parse_form(t).ok().map(|mut f| (f.remove("product_id"), f.remove("email"))))
        });
        let resp = block_on(checkout::handler::handle(checkout(), request(method, "/checkout", &headers, body), now()));
        let s = status(&resp);
        if s >= 500 {
            let (p, e) = fields.unwrap_or_default();
            prop_assert!(
                p.is_some_and(|p| ProductId::parse(p.trim()).is_ok())
                    && e.is_some_and(|e| Email::parse(&e).is_ok()),
                "{s} for a request that does not parse: {}", body_string(&resp)
            );
        } else {
            prop_assert!((400..500).contains(&s), "{s}: {}", body_string(&resp));
        }
    }

    /// A path segment that is not a token is a 404 without asking DynamoDB; "email me my
    /// links" refuses a body without a valid address with a 400.
    #[test]
    fn download_paths_and_resend_bodies(segment in tricky(), body in body(), method in prop_oneof![Just("GET"), Just("POST"), Just("HEAD")]) {
        let encoded = enc(&segment);
        if encoded == "resend" {
            return Ok(());
        }
        let path = format!("/download/{encoded}");
        let resp = block_on(download::handler::handle(downloads(), request(method, &path, &[], Body::Empty), now()));
        let s = status(&resp);
        if s >= 500 {
            prop_assert!(DownloadToken::parse(&encoded).is_ok(), "{s} for {encoded:?}");
        } else {
            prop_assert!(s == 404 || s == 405, "{s} for {encoded:?}");
        }

        let headers = vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
        let email = text_of(&body)
            .and_then(|t| parse_form(t).ok())
            .and_then(|mut f| f.remove("email"));
        let resp = block_on(download::handler::handle(downloads(), request("POST", "/download/resend", &headers, body), now()));
        let s = status(&resp);
        match email.map(|e| Email::parse(&e)) {
            Some(Ok(_)) => prop_assert_eq!(s, 200),
            _ => prop_assert_eq!(s, 400),
        }
    }
}

/// The properties above are not vacuous: a valid request does get past the parsers to
/// the store (here unreachable), which is the only way to a 5xx.
#[test]
fn a_valid_request_reaches_the_store() {
    let json = vec![("content-type".to_owned(), "application/json".to_owned())];
    let body = Body::Text(r#"{"product_id":"book","email":"reader@example.com"}"#.into());
    let resp = block_on(checkout::handler::handle(
        checkout(),
        request("POST", "/checkout", &json, body),
        now(),
    ));
    assert_eq!(status(&resp), 500, "{}", body_string(&resp));

    let token = DownloadToken::generate().expect("token");
    let path = format!("/download/{}", token.expose());
    let resp = block_on(download::handler::handle(
        downloads(),
        request("GET", &path, &[], Body::Empty),
        now(),
    ));
    assert_eq!(status(&resp), 500, "{}", body_string(&resp));
}

/// The fuzz shop's Stripe tag (`metadata[kiosk_shop]` on what it creates).
const STRIPE_TAG: &str = "kiosk-fuzz";

/// What the shop must answer to a correctly signed Stripe webhook `payload`, worked out
/// from the shapes of Stripe's objects and Kiosk's rules (README, "How a purchase
/// works"), independently of the channel's code: 400 for a body that is not an event or
/// an object without the fields its type has, or one that claims to be this shop's and
/// is not usable; 200 for what is not this shop's or not an event it uses; 500 for an
/// event about one of our orders (the store behind the fuzz shop is unreachable).
fn stripe_oracle(payload: &[u8]) -> u16 {
    use serde_json::Value;
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return 400;
    };
    let envelope = v.get("id").is_some_and(Value::is_string)
        && v.get("data").is_some_and(|d| d.get("object").is_some());
    let (true, Some(kind)) = (envelope, v.get("type").and_then(Value::as_str)) else {
        return 400;
    };
    let o = &v["data"]["object"];
    let opt_str = |k: &str| matches!(o.get(k), None | Some(Value::Null | Value::String(_)));
    let str_of = |k: &str| o.get(k).and_then(Value::as_str);
    let opt_u64 = |k: &str| match o.get(k) {
        None | Some(Value::Null) => true,
        Some(x) => x.as_u64().is_some(),
    };
    // Metadata: absent, or an object whose order_id and kiosk_shop are strings or null.
    let metadata_ok = match o.get("metadata") {
        None => true,
        Some(Value::Object(m)) => ["order_id", "kiosk_shop"]
            .iter()
            .all(|k| matches!(m.get(*k), None | Some(Value::Null | Value::String(_)))),
        Some(_) => false,
    };
    let meta = |k: &str| {
        o.get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
    };
    let ours = meta("kiosk_shop") == Some(STRIPE_TAG);
    let order_id_ok = |id: Option<&str>| {
        id.is_some_and(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    let money_ok = |minor: Option<u64>, currency: Option<&str>| {
        minor.is_some_and(|m| m <= 10_000_000_000)
            && currency.is_some_and(|c| {
                ["CNY", "USD", "EUR", "GBP"].contains(&c.to_ascii_uppercase().as_str())
            })
    };
    let pi = match o.get("payment_intent") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(Value::Object(p)) => p
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty()),
        _ => None,
    };
    match kind {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            let intent_ok = match o.get("payment_intent") {
                None | Some(Value::Null | Value::String(_)) => true,
                Some(Value::Object(p)) => p.get("id").is_some_and(Value::is_string),
                Some(_) => false,
            };
            let session = o.get("id").is_some_and(Value::is_string)
                && o.get("payment_status").is_some_and(Value::is_string)
                && opt_str("client_reference_id")
                && opt_str("currency")
                && opt_u64("amount_total")
                && intent_ok
                && metadata_ok;
            if !session {
                return 400;
            }
            if !ours {
                return 200;
            }
            if !order_id_ok(meta("order_id")) {
                return 400;
            }
            let pays = matches!(
                kind,
                "checkout.session.completed" | "checkout.session.async_payment_succeeded"
            ) && str_of("payment_status") == Some("paid");
            if pays
                && !(pi.is_some()
                    && money_ok(
                        o.get("amount_total").and_then(Value::as_u64),
                        str_of("currency"),
                    ))
            {
                return 400;
            }
            500
        }
        "charge.refunded" => {
            let charge = o.get("id").is_some_and(Value::is_string)
                && o.get("amount").and_then(Value::as_u64).is_some()
                && o.get("amount_refunded").and_then(Value::as_u64).is_some()
                && o.get("currency").is_some_and(Value::is_string)
                && opt_str("payment_intent")
                && metadata_ok;
            if !charge
                || !money_ok(
                    o.get("amount_refunded").and_then(Value::as_u64),
                    str_of("currency"),
                )
            {
                return 400;
            }
            match (ours, pi) {
                (true, Some(_)) if order_id_ok(meta("order_id")) => 500,
                (true, _) => 400,
                // Untagged: only a payment this shop recorded counts (the lookup needs
                // the store); without a PaymentIntent there is nothing to look up.
                (false, Some(_)) => 500,
                (false, None) => 200,
            }
        }
        _ => 200,
    }
}

/// What the shop must answer to an Alipay notification with these (correctly signed)
/// `params`, from the notification's documented fields and Kiosk's rules
/// (docs/architecture.md, "Alipay (RSA2), as implemented"), independently of the
/// channel's code: 400 unless it is for our `app_id` and `seller_id`, names an order id
/// and a `notify_id`, and its `trade_status` makes sense (a payment carries `trade_no`
/// and a `total_amount` written `9.00`; a refund, `refund_fee` with TRADE_SUCCESS or
/// TRADE_CLOSED, carries `trade_no` and a `refund_fee` written the same way); 500 for
/// the rest, which reach the (unreachable) store to find the order.
fn alipay_oracle(p: &kiosk::alipay::Params) -> u16 {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let amount = |v: Option<&str>| {
        v.and_then(|v| v.split_once('.'))
            .is_some_and(|(int, frac)| {
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                digits(int)
                    && digits(frac)
                    && frac.len() == 2
                    && (int.len() == 1 || !int.starts_with('0'))
                    && int.len() <= 9
                    && int
                        .parse::<u64>()
                        .is_ok_and(|u| u * 100 + frac.parse::<u64>().unwrap_or(0) <= 10_000_000_000)
            })
    };
    let order_id = get("out_trade_no").is_some_and(|id| {
        id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if p.get("app_id").map(String::as_str) != Some(APP_ID)
        || p.get("seller_id").map(String::as_str) != Some(SELLER_ID)
        || !order_id
        || get("notify_id").is_none()
    {
        return 400;
    }
    let refund_fee = get("refund_fee");
    let ok = match (get("trade_status"), refund_fee) {
        (Some("TRADE_SUCCESS" | "TRADE_CLOSED"), Some(_)) => {
            amount(refund_fee) && get("trade_no").is_some()
        }
        (Some("TRADE_SUCCESS" | "TRADE_FINISHED"), _) => {
            get("trade_no").is_some() && amount(get("total_amount"))
        }
        (Some("WAIT_BUYER_PAY"), _) | (Some("TRADE_CLOSED"), None) => true,
        _ => false,
    };
    if ok { 500 } else { 400 }
}

/// A path into a WeChat Pay resource (`amount.total`).
fn wechat_field() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("mchid"),
        Just("appid"),
        Just("out_trade_no"),
        Just("transaction_id"),
        Just("trade_state"),
        Just("refund_status"),
        Just("out_refund_no"),
        Just("refund_id"),
        Just("amount"),
        Just("amount.total"),
        Just("amount.refund"),
        Just("amount.currency"),
    ]
}

/// Anything a field could be made to hold.
fn wechat_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    prop_oneof![
        tricky().prop_map(Value::String),
        Just(Value::Null),
        Just(Value::String(WECHAT_MCHID.into())),
        Just(Value::String("1900000999".into())),
        Just(Value::String("wx0000000000000000".into())),
        Just(Value::String("SUCCESS".into())),
        Just(Value::String("NOTPAY".into())),
        Just(Value::String("REFUND".into())),
        Just(Value::String("PROCESSING".into())),
        Just(Value::String("CNY".into())),
        Just(Value::String("USD".into())),
        Just(Value::String(String::new())),
        Just(Value::String("K1".into())),
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(300),
            Just(900),
            Just(901),
            Just(10_000_000_001)
        ]
        .prop_map(|n| Value::Number(n.into())),
        Just(serde_json::json!({"total": 900, "currency": "CNY"})),
    ]
}

fn remove_path(v: &mut serde_json::Value, path: &str) {
    match path.split_once('.') {
        Some((head, rest)) => {
            if let Some(inner) = v.get_mut(head) {
                remove_path(inner, rest);
            }
        }
        None => {
            if let Some(map) = v.as_object_mut() {
                map.remove(path);
            }
        }
    }
}

fn set_path(v: &mut serde_json::Value, path: &str, value: serde_json::Value) {
    match path.split_once('.') {
        Some((head, rest)) => {
            if let Some(inner) = v.get_mut(head) {
                set_path(inner, rest, value);
            }
        }
        None => {
            if let Some(map) = v.as_object_mut() {
                map.insert(path.to_owned(), value);
            }
        }
    }
}

/// `plaintext` as WeChat Pay notifies it: encrypted under the APIv3 key, the envelope
/// signed with WeChat Pay's key (the vectors'), timestamped now.
fn wechat_notification(
    event: &str,
    plaintext: &serde_json::Value,
) -> (String, Vec<(String, String)>) {
    let kind = if event.starts_with("REFUND") {
        "refund"
    } else {
        "transaction"
    };
    let apiv3 = ApiV3Key::parse(WECHAT_APIV3_KEY).expect("apiv3 key");
    let ciphertext = apiv3
        .encrypt("fuzz00000001", kind, plaintext.to_string().as_bytes())
        .expect("seal");
    let body = serde_json::json!({
        "id": "EV-fuzz", "create_time": "2026-12-07T12:00:00+08:00",
        "resource_type": "encrypt-resource", "event_type": event, "summary": "",
        "resource": {"original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": ciphertext, "associated_data": kind, "nonce": "fuzz00000001"}
    })
    .to_string();
    static SIGNER: OnceLock<SigningKey> = OnceLock::new();
    let signer = SIGNER.get_or_init(|| {
        SigningKey::parse(&kiosk_e2e::wechat_vector_file("keys/wechatpay_private.pem"))
            .expect("wechat pay key")
    });
    let ts = now().unix_timestamp();
    let sig =
        kiosk::wechat::sign::sign_message(signer, ts, "fuzz-nonce", body.as_bytes()).expect("sign");
    let headers = vec![
        ("wechatpay-timestamp".to_owned(), ts.to_string()),
        ("wechatpay-nonce".to_owned(), "fuzz-nonce".to_owned()),
        (
            "wechatpay-serial".to_owned(),
            WECHAT_PUBLIC_KEY_ID.to_owned(),
        ),
        (
            "wechatpay-signature-type".to_owned(),
            "WECHATPAY2-SHA256-RSA2048".to_owned(),
        ),
        ("wechatpay-signature".to_owned(), sig),
    ];
    (body, headers)
}

/// What the shop must answer to an authentic WeChat Pay notification of `event` about
/// `p`, from WeChat Pay's documented resource shapes (API v3, transaction and refund)
/// and Kiosk's rules: our merchant and app, CNY, a paid transaction or a successful
/// refund of no more than was paid, amounts within what Kiosk's money holds, an order
/// id of ours. A valid one goes on to the store (unreachable here: 500).
fn wechat_oracle(event: &str, p: &serde_json::Value) -> u16 {
    use serde_json::Value;
    let absent_or_null = |k: &str| p.get(k).is_none_or(Value::is_null);
    fn string(v: Option<&serde_json::Value>) -> Option<&str> {
        v.and_then(serde_json::Value::as_str)
    }
    let opt_string = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.is_string());
    let number = |v: Option<&Value>| v.and_then(Value::as_u64);
    let order_id = |v: Option<&str>| {
        v.is_some_and(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    match event {
        "TRANSACTION.SUCCESS" => {
            let states = [
                "SUCCESS",
                "REFUND",
                "NOTPAY",
                "CLOSED",
                "REVOKED",
                "USERPAYING",
                "PAYERROR",
            ];
            let amount = p.get("amount");
            let amount_parses = amount.is_none_or(|a| {
                a.is_null()
                    || (a.is_object()
                        && number(a.get("total")).is_some()
                        && string(a.get("currency")).is_some())
            });
            let parses = string(p.get("appid")).is_some()
                && string(p.get("mchid")).is_some()
                && string(p.get("out_trade_no")).is_some()
                && string(p.get("trade_state")).is_some_and(|s| states.contains(&s))
                && opt_string(p.get("transaction_id"))
                && amount_parses;
            if !parses
                || string(p.get("mchid")) != Some(WECHAT_MCHID)
                || string(p.get("appid")) != Some(WECHAT_APPID)
                || string(p.get("trade_state")) != Some("SUCCESS")
                || absent_or_null("amount")
                || string(p.get("transaction_id")).is_none_or(|t| t.is_empty())
            {
                return 400;
            }
            let total = number(amount.and_then(|a| a.get("total"))).unwrap_or(u64::MAX);
            let cny = string(amount.and_then(|a| a.get("currency"))) == Some("CNY");
            if !cny || total > Money::MAX_MINOR || !order_id(string(p.get("out_trade_no"))) {
                return 400;
            }
            500
        }
        "REFUND.SUCCESS" => {
            let statuses = ["SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL"];
            let amount = p.get("amount");
            let amount_parses = amount.is_some_and(|a| {
                a.is_object()
                    && number(a.get("total")).is_some()
                    && number(a.get("refund")).is_some()
                    && a.get("currency")
                        .is_none_or(|c| c.is_null() || c.is_string())
            });
            let parses = string(p.get("out_trade_no")).is_some()
                && string(p.get("transaction_id")).is_some()
                && string(p.get("out_refund_no")).is_some()
                && string(p.get("refund_id")).is_some()
                && string(p.get("refund_status")).is_some_and(|s| statuses.contains(&s))
                && opt_string(p.get("mchid"))
                && amount_parses;
            if !parses
                || string(p.get("mchid")) != Some(WECHAT_MCHID)
                || string(p.get("refund_status")) != Some("SUCCESS")
            {
                return 400;
            }
            let total = number(amount.and_then(|a| a.get("total"))).unwrap_or(u64::MAX);
            let refund = number(amount.and_then(|a| a.get("refund"))).unwrap_or(u64::MAX);
            if total > Money::MAX_MINOR
                || refund > total
                || !order_id(string(p.get("out_trade_no")))
            {
                return 400;
            }
            500
        }
        // Authentic, and moves no money: acknowledged.
        _ => 200,
    }
}
