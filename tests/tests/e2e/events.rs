//! The API Gateway (HTTP API, payload 2.0) events in `events/` (for `make invoke` and
//! `sam local invoke -e`).
//!
//! They are generated here (signatures are deterministic, so regeneration is exact) and
//! the committed files must equal what this generator makes; run with
//! `KIOSK_WRITE_EVENTS=1` to rewrite them after a deliberate change. Each event is then
//! loaded with `lambda_http::request::from_str`, as the runtime decodes it, and passed to
//! the handler in process; `bootstraps.rs` sends the same files to the real binaries.

use kiosk::OrderId;
use kiosk::alipay::{AppPrivateKey, Params};
use kiosk::order::OrderStatus;
use kiosk_e2e::events::{
    BOUNCE_BUYER, CODE, COMPLAINT_BUYER, DOWNLOAD_BUYER, EXHAUSTED_GRANT, FREE_PRODUCT, GRANT,
    ORDER, PRODUCT, TRADE_NO, UNKNOWN_GRANT, events_dir,
};
use kiosk_e2e::{
    AlipayNotify, World, WorldOptions, body_string, form, pending_order, return_params,
    sign_callback, vector_file,
};
use serde_json::{Value, json};

const UA: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15";

fn event(
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    headers: Value,
    body: Option<&str>,
    channel: bool,
) -> Value {
    let mut e = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api-id",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": UA },
            "requestId": "kiosk-example",
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "21/Nov/2026:10:30:00 +0000",
            "timeEpoch": 1795257000000u64
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        e["body"] = Value::String(b.to_owned());
    }
    if channel {
        e["pathParameters"] = json!({ "channel": "alipay" });
    }
    e
}

fn download_event(method: &str, token: &str, body: Option<&str>) -> Value {
    let path = format!("/download/{token}");
    let mut headers = json!({ "user-agent": UA, "accept": "text/html" });
    if body.is_some() {
        headers["content-type"] = json!("application/x-www-form-urlencoded");
    }
    let mut e = event(method, "/download/{token}", &path, "", headers, body, false);
    e["routeKey"] = json!("ANY /download/{token}");
    e["requestContext"]["routeKey"] = json!("ANY /download/{token}");
    e["pathParameters"] = json!({ "token": token });
    e
}

fn form_headers(accept: &str) -> Value {
    json!({ "content-type": "application/x-www-form-urlencoded", "accept": accept, "user-agent": UA, "referer": "https://blog.example.com/rust-book" })
}

fn alipay_signer() -> AppPrivateKey {
    AppPrivateKey::parse(&vector_file("keys/alipay_pkcs1.pem")).unwrap()
}

fn notify_params(amount: &str) -> Params {
    AlipayNotify {
        order_id: ORDER,
        amount,
        status: "TRADE_SUCCESS",
        subject: "The Little Book of Rust",
        notify_id: "2026112100222183012026320512345678",
        trade_no: TRADE_NO,
    }
    .params()
}

/// What EventBridge sends the reconcile function every 5 minutes.
/// `POST /license/verify` as an author's program sends it (JSON).
fn license_verify_event(key: &str, increment_uses: bool) -> Value {
    let body = json!({ "key": key, "increment_uses": increment_uses }).to_string();
    event(
        "POST",
        "/license/verify",
        "/license/verify",
        "",
        json!({ "user-agent": "example-app/1.0", "content-type": "application/json" }),
        Some(&body),
        false,
    )
}

fn schedule_event() -> Value {
    json!({
        "version": "0",
        "id": "2f6a7d3c-1b5e-4c1a-9a0e-6c3f2b1d0e9a",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-21T18:35:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/kiosk-ReconcileFunctionEveryFiveMinutes"],
        "detail": {}
    })
}

/// What SQS delivers to the reconcile function from the stack's free-orders queue: one
/// message asking for a free order (its id filled in by the runner).
fn free_order_event() -> Value {
    json!({
        "Records": [{
            "messageId": "8d1f6c3e-2a4b-4e5f-9a6b-1c2d3e4f5a6b",
            "receiptHandle": "AQEB-example-receipt-handle",
            "body": json!({ "free_order": kiosk_e2e::events::FREE_ORDER_PLACEHOLDER }).to_string(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1795000000000",
                "SenderId": "AROAEXAMPLE:kiosk-CheckoutFunction",
                "ApproximateFirstReceiveTimestamp": "1795000000100"
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kiosk-FreeOrdersQueue",
            "awsRegion": "us-east-1"
        }]
    })
}

/// What SQS delivers to the stamping function from the stack's stamp queue: the download
/// function's request for the stamped grant's copy.
fn stamp_request_event() -> Value {
    json!({
        "Records": [{
            "messageId": "5b1e0c7a-3d2f-4a8b-9c6d-7e8f9a0b1c2d",
            "receiptHandle": "AQEB-example-stamp-receipt-handle",
            "body": json!({ "stamp_grant": kiosk_e2e::events::STAMPED_GRANT }).to_string(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1795000000000",
                "SenderId": "AROAEXAMPLE:kiosk-DownloadFunction",
                "ApproximateFirstReceiveTimestamp": "1795000000100"
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kiosk-StampQueue",
            "awsRegion": "us-east-1"
        }]
    })
}

/// What the table's stream delivers to the stamping function when the stamped grant is
/// written (its filter passes only new grants whose `stamp` is true).
fn stamp_stream_event() -> Value {
    let pk = format!("GRANT#{}", kiosk_e2e::events::STAMPED_GRANT);
    json!({
        "Records": [{
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795000000,
                "Keys": { "pk": { "S": pk }, "sk": { "S": "GRANT" } },
                "NewImage": {
                    "pk": { "S": pk },
                    "sk": { "S": "GRANT" },
                    "entity": { "S": "grant" },
                    "product_id": { "S": kiosk_e2e::events::STAMPED_PRODUCT },
                    "stamp": { "BOOL": true }
                },
                "SequenceNumber": "111100000000012345678901",
                "SizeBytes": 120,
                "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/kiosk-Table/stream/2026-12-08T00:00:00.000"
        }]
    })
}

/// What SNS delivers to the mail-events function when SES reports on a mail to `to`.
fn ses_event(report: kiosk_localaws::ses::Report, to: &str, message_id: &str) -> Value {
    ses_event_from(kiosk_e2e::MAIL_EVENTS_TOPIC, report, to, message_id)
}

/// The same, delivered by the SNS topic `topic`.
fn ses_event_from(
    topic: &str,
    report: kiosk_localaws::ses::Report,
    to: &str,
    message_id: &str,
) -> Value {
    kiosk_localaws::ses::sns_event(
        report,
        &kiosk_localaws::ses::About {
            topic_arn: topic,
            configuration_set: kiosk_e2e::MAIL_CONFIGURATION_SET,
            source: kiosk_e2e::VERIFIED_SENDER,
            recipient: to,
            message_id,
            at: "2026-11-22T10:00:00.000Z",
        },
    )
}

/// Every event file and its contents.
fn events() -> Vec<(&'static str, Value)> {
    let signer = alipay_signer();
    let paid = form(&sign_callback(notify_params("9.00"), &signer));
    let mut tampered = sign_callback(notify_params("9.00"), &signer);
    tampered.insert("total_amount".into(), "0.01".into());
    let mut forged = sign_callback(notify_params("9.00"), &signer);
    forged.insert(
        "sign".into(),
        AppPrivateKey::parse(&vector_file("keys/app_pkcs1.pem"))
            .unwrap()
            .sign(b"forged")
            .unwrap(),
    );
    let refund = |status: &str, fee: &str, notify_id: &str| {
        let mut p = notify_params("9.00");
        p.insert("trade_status".into(), status.into());
        p.insert("refund_fee".into(), fee.into());
        p.insert("gmt_refund".into(), "2026-11-22 10:00:00".into());
        p.insert("notify_id".into(), notify_id.into());
        form(&sign_callback(p, &signer))
    };
    let refund_partial = refund(
        "TRADE_SUCCESS",
        "3.00",
        "2026112200222183012026320599990001",
    );
    let refund_full = refund("TRADE_CLOSED", "9.00", "2026112200222183012026320599990002");
    let ret = return_params(ORDER, "9.00", TRADE_NO);
    let ret = form(&sign_callback(ret, &signer));
    let notify = |body: &str| {
        event(
            "POST",
            "/notify/{channel}",
            "/notify/alipay",
            "",
            json!({ "content-type": "application/x-www-form-urlencoded; charset=utf-8", "user-agent": "Mozilla/4.0" }),
            Some(body),
            true,
        )
    };
    let mut buy = event(
        "GET",
        "/buy/{product_id}",
        &format!("/buy/{PRODUCT}"),
        "utm_source=blog",
        json!({ "user-agent": UA, "accept": "text/html", "referer": "https://author.example.org/the-book" }),
        None,
        false,
    );
    buy["pathParameters"] = json!({ "product_id": PRODUCT });
    // What kiosk.js asks for from a page on the shop's own origin (SHOP_URL's).
    let mut embed = event(
        "GET",
        "/buy/{product_id}",
        &format!("/buy/{PRODUCT}"),
        "embed=https%3A%2F%2Fexample.com",
        json!({ "user-agent": UA, "accept": "text/html", "referer": "https://example.com/" }),
        None,
        false,
    );
    embed["pathParameters"] = json!({ "product_id": PRODUCT });
    // WeChat Pay's: the checkout the stand-in answers, a notification signed by another
    // key than WeChat Pay's (refused whatever its time), the paid notification and the
    // return page (filled in by the runner: kiosk_e2e::events).
    let wechat =
        |method: &str, route: &str, path: &str, query: &str, headers: Value, body: Option<&str>| {
            let mut e = event(method, route, path, query, headers, body, true);
            e["pathParameters"] = json!({ "channel": "wechat" });
            e
        };
    let forged_wechat = {
        let body = json!({
            "id": "EV-forged", "create_time": "2026-11-21T18:31:00+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": "AAAA", "associated_data": "transaction", "nonce": "forgednonce1"}
        })
        .to_string();
        let stranger = kiosk::rsa::SigningKey::parse(&kiosk_e2e::wechat_vector_file(
            "keys/stranger_private.pem",
        ))
        .unwrap();
        let ts = 1_795_257_060;
        let sig = kiosk::wechat::sign::sign_message(&stranger, ts, "forged-nonce", body.as_bytes())
            .unwrap();
        wechat(
            "POST",
            "/notify/{channel}",
            "/notify/wechat",
            "",
            json!({
                "content-type": "application/json", "user-agent": "Mozilla/4.0",
                "wechatpay-timestamp": ts.to_string(), "wechatpay-nonce": "forged-nonce",
                "wechatpay-serial": kiosk_e2e::WECHAT_PUBLIC_KEY_ID,
                "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048", "wechatpay-signature": sig,
            }),
            Some(&body),
        )
    };
    let wechat_notify = wechat(
        "POST",
        "/notify/{channel}",
        "/notify/wechat",
        "",
        json!({ "content-type": "application/json", "user-agent": "Mozilla/4.0" }),
        Some(kiosk_e2e::events::WECHAT_NOTIFICATION_PLACEHOLDER),
    );
    vec![
        ("buy-page.json", buy),
        ("buy-page-embed.json", embed),
        (
            "beacon.json",
            event(
                "POST",
                "/t",
                "/t",
                "",
                json!({ "content-type": "text/plain;charset=UTF-8", "origin": "https://example.com", "user-agent": UA }),
                Some(&json!({ "products": [PRODUCT], "path": "/books/", "tests": [{ "name": "headline", "variants": ["a", "b"] }] }).to_string()),
                false,
            ),
        ),
        ("kiosk-js.json", event("GET", "/kiosk.js", "/kiosk.js", "", json!({ "user-agent": UA, "accept": "*/*" }), None, false)),
        ("checkout-form.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={PRODUCT}&email=reader%40example.com&utm_source=blog")), false)),
        (
            "checkout-json.json",
            event("POST", "/checkout", "/checkout", "", json!({ "content-type": "application/json", "accept": "application/json", "user-agent": UA }), Some(&json!({ "product_id": PRODUCT, "email": "reader@example.com", "device": "mobile" }).to_string()), false),
        ),
        ("checkout-code.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={PRODUCT}&email=reader%40example.com&code=launch")), false)),
        ("checkout-free-foreign.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={FREE_PRODUCT}&email=free-reader%40example.com")), false)),
        ("checkout-free.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={FREE_PRODUCT}&email=free-reader%40example.com&claim={}", kiosk_e2e::events::CLAIM_PLACEHOLDER)), false)),
        ("free-order.json", free_order_event()),
        ("checkout-bad-email.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={PRODUCT}&email=reader-at-example.com")), false)),
        ("checkout-unknown-product.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some("product_id=no-such-book&email=reader%40example.com"), false)),
        ("notify-paid.json", notify(&paid)),
        ("notify-duplicate.json", notify(&paid)),
        ("notify-tampered-amount.json", notify(&form(&tampered))),
        ("notify-forged-signature.json", notify(&form(&forged))),
        ("notify-refund-partial.json", notify(&refund_partial)),
        ("notify-refund-full.json", notify(&refund_full)),
        ("return.json", event("GET", "/return/{channel}", "/return/alipay", &ret, json!({ "user-agent": UA, "accept": "text/html" }), None, true)),
        ("wechat-checkout.json", event("POST", "/checkout", "/checkout", "", form_headers("text/html"), Some(&format!("product_id={PRODUCT}&channel=wechat&email={}", kiosk_e2e::events::WECHAT_BUYER.replace('@', "%40"))), false)),
        ("wechat-notify-forged.json", forged_wechat),
        ("wechat-notify-paid.json", wechat_notify.clone()),
        ("wechat-notify-duplicate.json", wechat_notify),
        ("wechat-return.json", wechat("GET", "/return/{channel}", "/return/wechat", kiosk_e2e::events::WECHAT_RETURN_PLACEHOLDER, json!({ "user-agent": UA, "accept": "text/html" }), None)),
        ("download-landing.json", download_event("GET", GRANT, None)),
        ("download.json", download_event("POST", GRANT, None)),
        ("download-exhausted.json", download_event("POST", EXHAUSTED_GRANT, None)),
        ("download-unknown.json", download_event("GET", UNKNOWN_GRANT, None)),
        ("download-resend.json", download_event("POST", "resend", Some(&format!("email={}", DOWNLOAD_BUYER.replace('@', "%40"))))),
        ("download-stamped.json", download_event("POST", kiosk_e2e::events::STAMPED_GRANT, Some("file=0"))),
        ("stamp-request.json", stamp_request_event()),
        ("stamp-stream.json", stamp_stream_event()),
        ("download-stamped-ready.json", download_event("POST", kiosk_e2e::events::STAMPED_GRANT, Some("file=0"))),
        ("license-verify.json", license_verify_event(kiosk_e2e::events::LICENSE_KEY, true)),
        ("license-verify-unknown.json", license_verify_event(kiosk_e2e::events::UNKNOWN_LICENSE_KEY, false)),
        ("license-revoked.json", event("GET", "/license/revoked", "/license/revoked", "", json!({ "user-agent": "example-app/1.0" }), None, false)),
        ("reconcile-schedule.json", schedule_event()),
        (
            "ses-bounce-transient.json",
            ses_event(kiosk_localaws::ses::Report::TransientBounce, BOUNCE_BUYER, "0100019a0b1c2d3e-full"),
        ),
        (
            "ses-bounce-foreign-topic.json",
            ses_event_from(
                "arn:aws:sns:us-east-1:123456789012:someone-elses-topic",
                kiosk_localaws::ses::Report::PermanentBounce,
                BOUNCE_BUYER,
                "0100019a0b1c2d3e-foreign",
            ),
        ),
        (
            "ses-bounce.json",
            ses_event(kiosk_localaws::ses::Report::PermanentBounce, BOUNCE_BUYER, "0100019a0b1c2d3e-bounce"),
        ),
        (
            "ses-complaint.json",
            ses_event(kiosk_localaws::ses::Report::Complaint, COMPLAINT_BUYER, "0100019a0b1c2d3e-complaint"),
        ),
    ]
}

#[test]
fn committed_events_are_current() {
    for (name, value) in events() {
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let path = events_dir().join(name);
        if std::env::var_os("KIOSK_WRITE_EVENTS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with KIOSK_WRITE_EVENTS=1)", path.display()));
        assert_eq!(
            committed, text,
            "{name} is stale; rerun with KIOSK_WRITE_EVENTS=1"
        );
    }
}

fn load(name: &str) -> lambda_http::Request {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn each_event_gets_its_response() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product(PRODUCT, "9.00").await;
    let now = kiosk_e2e::now();

    let resp = checkout::handler::handle(&w.checkout, load("buy-page.json"), now).await;
    assert_eq!(resp.status(), 200);
    let page = body_string(&resp);
    assert!(
        page.contains(product.title()) && page.contains("¥9.00"),
        "{page}"
    );
    assert!(
        page.contains("name=\"utm_source\" value=\"blog\""),
        "{page}"
    );

    let resp = checkout::handler::handle(&w.checkout, load("buy-page-embed.json"), now).await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors https://example.com") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    let page = body_string(&resp);
    assert!(
        page.contains("data-host=\"https://example.com\"") && page.contains("target=\"_top\""),
        "{page}"
    );

    let resp = checkout::handler::handle(&w.checkout, load("kiosk-js.json"), now).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", checkout::handler::kiosk_js_version())
    );
    assert_eq!(body_string(&resp), checkout::handler::KIOSK_JS);

    let resp = checkout::handler::handle(&w.checkout, load("checkout-form.json"), now).await;
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .contains("method=alipay.trade.page.pay")
    );

    let resp = checkout::handler::handle(&w.checkout, load("checkout-json.json"), now).await;
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_str(&body_string(&resp)).unwrap();
    assert!(
        v["pay_url"]
            .as_str()
            .unwrap()
            .contains("method=alipay.trade.wap.pay")
    );
    let created =
        w.t.store
            .get_order(&OrderId::parse(v["order_id"].as_str().unwrap()).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(created.amount, product.price());

    // A code: the order is priced 20% off and reserves the code's one use.
    w.t.store
        .create_code(&kiosk_e2e::events::launch_code())
        .await
        .unwrap();
    let resp = checkout::handler::handle(&w.checkout, load("checkout-code.json"), now).await;
    assert_eq!(resp.status(), 303, "{}", body_string(&resp));
    let code = kiosk::pricing::CodeName::parse(CODE).unwrap();
    assert_eq!(w.t.store.get_code(&code).await.unwrap().unwrap().uses(), 1);
    // A free product: without the buy page's token (a form on another site), a page to
    // confirm and nothing mailed; with it, mailed, and the page shows no link.
    w.add_product(FREE_PRODUCT, "0.00").await;
    // (The emulator's mail is shared by every test, and others mail this reader too:
    // count orders of this table instead.)
    let resp =
        checkout::handler::handle(&w.checkout, load("checkout-free-foreign.json"), now).await;
    assert_eq!(resp.status(), 200);
    assert!(body_string(&resp).contains("Confirm your free copy"));
    let free_orders = || async {
        w.t.scan_entity("order")
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o["product_id"].as_s().ok().map(String::as_str) == Some(FREE_PRODUCT))
            .count()
    };
    assert_eq!(free_orders().await, 0, "nothing written without the token");
    let token = kiosk_e2e::claim_token(&w.checkout, FREE_PRODUCT, "192.0.2.10").await;
    let text = std::fs::read_to_string(events_dir().join("checkout-free.json"))
        .unwrap()
        .replace(kiosk_e2e::events::CLAIM_PLACEHOLDER, &token);
    let resp = checkout::handler::handle(
        &w.checkout,
        lambda_http::request::from_str(&text).unwrap(),
        now,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let page = body_string(&resp);
    assert!(
        page.contains("Check your email") && !page.contains("/download/"),
        "{page}"
    );

    let resp = checkout::handler::handle(&w.checkout, load("checkout-bad-email.json"), now).await;
    assert_eq!(resp.status(), 400);
    assert!(
        body_string(&resp).contains("@"),
        "the page says what is wrong with the email"
    );
    let resp =
        checkout::handler::handle(&w.checkout, load("checkout-unknown-product.json"), now).await;
    assert_eq!(resp.status(), 404);

    // The order the notify/return events are about.
    // The buyer's address is this test's own: the emulator's mailbox is shared.
    let reader = format!("reader-{}@example.com", w.tag);
    let mut order = pending_order(&product, &reader, now);
    order.id = OrderId::parse(ORDER).unwrap();
    w.t.store.create_order(&order).await.unwrap();

    for bad in [
        "notify-tampered-amount.json",
        "notify-forged-signature.json",
    ] {
        let resp = payment_notify::handler::handle(&w.shop, load(bad), now).await;
        assert_eq!(
            (resp.status().as_u16(), body_string(&resp).as_str()),
            (400, "fail"),
            "{bad}"
        );
        assert_eq!(w.order(&order.id).await, order, "{bad}");
    }
    for good in ["notify-paid.json", "notify-duplicate.json"] {
        let resp = payment_notify::handler::handle(&w.shop, load(good), now).await;
        assert_eq!(
            (resp.status().as_u16(), body_string(&resp).as_str()),
            (200, "success"),
            "{good}"
        );
    }
    let paid = w.order(&order.id).await;
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&reader).await.len(), 1);

    let resp = payment_notify::handler::handle(&w.shop, load("return.json"), now).await;
    assert_eq!(resp.status(), 200);
    let token = paid.grant_token().cloned().unwrap();
    assert!(body_string(&resp).contains(&format!("/download/{}", token.expose())));

    // Refunds: part of it keeps access, all of it revokes the link.
    let resp =
        payment_notify::handler::handle(&w.shop, load("notify-refund-partial.json"), now).await;
    assert_eq!(
        (resp.status().as_u16(), body_string(&resp).as_str()),
        (200, "success")
    );
    let o = w.order(&order.id).await;
    assert_eq!(
        (o.status(), o.refunded.map(|m| m.minor())),
        (OrderStatus::Paid, Some(300))
    );
    let resp = payment_notify::handler::handle(&w.shop, load("notify-refund-full.json"), now).await;
    assert_eq!(
        (resp.status().as_u16(), body_string(&resp).as_str()),
        (200, "success")
    );
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Refunded);
    assert!(w.t.store.get_grant(&token).await.unwrap().unwrap().revoked);
}

#[tokio::test]
async fn each_download_event_gets_its_response() {
    let w = kiosk_e2e::DownloadWorld::new().await.unwrap();
    let now = kiosk_e2e::now();
    let buyer = DOWNLOAD_BUYER;
    let template = w.purchase(buyer).await;
    for (token, left) in [(GRANT, 5), (EXHAUSTED_GRANT, 0)] {
        let mut g = template.clone();
        g.token = kiosk::DownloadToken::parse(token).unwrap();
        g.downloads_left = vec![left];
        w.t.store.create_grant(&g).await.unwrap();
    }
    let run = |name: &'static str| {
        let app = &w.app;
        async move { download::handler::handle(app, load(name), now).await }
    };
    let resp = run("download-landing.json").await;
    assert_eq!(resp.status(), 200);
    assert!(body_string(&resp).contains("<br>5 of 5 downloads left.</p>"));
    let resp = run("download.json").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        w.fetch(resp.headers()["location"].to_str().unwrap()).await,
        w.bytes
    );
    assert_eq!(run("download-exhausted.json").await.status(), 410);
    assert_eq!(run("download-unknown.json").await.status(), 404);
    // The address is in the event, so other tests on this emulator mail it too.
    let before = w.mails_to(buyer).await.len();
    let resp = run("download-resend.json").await;
    assert_eq!(resp.status(), 200);
    assert!(body_string(&resp).contains("Check your email"));
    assert_eq!(w.mails_to(buyer).await.len(), before + 1);
}

#[tokio::test]
async fn the_schedule_event_runs_reconcile() {
    let w = World::with_unverified_sender("events-late").await.unwrap();
    let product = w.add_product(PRODUCT, "9.00").await;
    let buyer = w.buyer(1);
    let order = w.pending(&product, &buyer).await;
    w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
        .await;
    let kiosk::order::MailState::Due { next_at, .. } = w.order(&order.id).await.mail else {
        panic!("SES refused the unverified sender, so the mail is due")
    };
    w.verify_sender().await.unwrap();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("reconcile-schedule.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 60_000;
    let budget = reconcile::handler::budget(kiosk::deadline::Deadline::from_lambda(
        deadline_ms,
        std::time::SystemTime::now(),
    ));
    let run = reconcile::handler::run(&w.reconciler, next_at, budget)
        .await
        .unwrap();
    assert_eq!(reconcile::handler::report(&run)["mail"]["sent"], 1);
    assert_eq!(w.mails_to(&buyer).await.len(), 1);
}
