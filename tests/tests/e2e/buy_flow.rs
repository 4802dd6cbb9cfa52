//! The buy flow end to end, in process, against the locked emulator: checkout -> signed
//! pay URL -> Alipay notification -> PAID + grant + one mail; every forged or wrong
//! notification refused with nothing changed; the browser return page.
//!
//! Over 400 lines: the main flow and every forged or wrong notification it must refuse.

use futures::future::join_all;
use kiosk::alipay::{Params, parse_form, string_to_sign_request};
use kiosk::order::{MailState, OrderStatus};
use kiosk::{Order, OrderId};
use kiosk_e2e::gateway::Answer;
use kiosk_e2e::{World, WorldOptions, body_string, form, sign_callback};
use lambda_http::{Body, Response};

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36";
const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

fn pay_params(url: &str) -> Params {
    let (_, query) = url.split_once('?').expect("pay url has a query");
    parse_form(query).expect("pay url query parses")
}

async fn checkout_order(w: &World, product: &str, email: &str) -> (Order, String) {
    let body = format!(
        "product_id={product}&email={}&utm_source=newsletter",
        email.replace('@', "%40")
    );
    let resp = w
        .checkout(
            &body,
            "application/x-www-form-urlencoded",
            "text/html",
            DESKTOP,
        )
        .await;
    assert_eq!(resp.status(), 303, "{}", body_string(&resp));
    let url = resp.headers()["location"].to_str().unwrap().to_owned();
    let p = pay_params(&url);
    let biz: serde_json::Value = serde_json::from_str(&p["biz_content"]).unwrap();
    let id = OrderId::parse(biz["out_trade_no"].as_str().unwrap()).unwrap();
    (
        w.t.store
            .get_order(&id)
            .await
            .unwrap()
            .expect("order stored"),
        url,
    )
}

#[tokio::test]
async fn full_flow_checkout_notify_grant_and_one_mail() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let (order, url) = checkout_order(&w, "rust-book", &email).await;

    // The pay URL is a signed page-pay request our app key signed, for the product's price.
    assert!(url.starts_with(&w.gateway.url));
    let p = pay_params(&url);
    w.app_public
        .verify(string_to_sign_request(&p).as_bytes(), &p["sign"])
        .expect("pay URL signature verifies with the app public key");
    assert_eq!(p["method"], "alipay.trade.page.pay");
    assert_eq!(p["notify_url"], "https://shop.example.com/notify/alipay");
    let biz: serde_json::Value = serde_json::from_str(&p["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "9.00");
    assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");
    assert_eq!(biz["subject"], product.title());
    assert_eq!(
        biz["time_expire"],
        kiosk::clock::beijing_seconds(order.expires_at)
    );
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.amount, product.price());
    assert_eq!(order.source.utm_source.as_deref(), Some("newsletter"));
    assert_eq!(
        order.source.referrer.as_deref(),
        Some("https://blog.example.com/post")
    );

    let notify = form(&w.notify_params(order.id.as_str(), "9.00", "TRADE_SUCCESS"));
    assert_eq!(w.notify(&notify).await, (200, "success".to_owned()));

    let paid = w.order(&order.id).await;
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert!(
        matches!(paid.mail, MailState::Sent { .. }),
        "{:?}",
        paid.mail
    );
    let token = paid.grant_token().cloned().unwrap();
    let grant = w.t.store.get_grant(&token).await.unwrap().unwrap();
    assert_eq!(grant.downloads_left, vec![5]);
    assert_eq!(w.grants_for(&order.id).await, 1);
    let mails = w.mails_to(&email).await;
    assert_eq!(mails.len(), 1);
    let link = format!("https://shop.example.com/download/{}", token.expose());
    let mail_body = &mails[0].body;
    assert!(
        mail_body.contains(&link),
        "mail must carry the grant's link"
    );
    assert!(mail_body.contains(order.id.as_str()));
    assert!(mails[0].subject.contains(product.title()));

    // The same notification again: acknowledged, nothing new.
    assert_eq!(w.notify(&notify).await, (200, "success".to_owned()));
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
    assert_eq!(w.order(&order.id).await, paid);
}

async fn from_origin(w: &World, method: &str, origin: &str) -> Response<Body> {
    let req = lambda_http::http::Request::builder()
        .method(method)
        .uri("https://shop.example.com/checkout")
        .header("origin", origin)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("access-control-request-method", "POST")
        .body(Body::Text(format!(
            r#"{{"product_id":"rust-book","email":"{}"}}"#,
            w.buyer(4)
        )))
        .unwrap();
    checkout::handler::handle(&w.checkout, req, kiosk_e2e::now()).await
}

/// A shop page on another origin may call the JSON checkout with `fetch` once its origin
/// is allowed; no other origin gets a CORS header, and none does by default.
#[tokio::test]
async fn cors_lets_only_the_allowed_origins_call_checkout_from_a_script() {
    let mut w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let acao = |r: &Response<Body>| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let allowed = "https://books.example.net";
    // Default: no origin is allowed.
    let pre = from_origin(&w, "OPTIONS", allowed).await;
    assert_eq!((pre.status().as_u16(), acao(&pre)), (403, None));
    assert_eq!(acao(&from_origin(&w, "POST", allowed).await), None);

    w.reconfigure_checkout(|c| c.cors_origins = vec![allowed.to_owned()])
        .await
        .unwrap();
    let pre = from_origin(&w, "OPTIONS", allowed).await;
    assert_eq!(pre.status(), 204);
    assert_eq!(acao(&pre).as_deref(), Some(allowed));
    assert_eq!(pre.headers()["access-control-allow-methods"], "POST");
    let post = from_origin(&w, "POST", allowed).await;
    assert_eq!(post.status(), 200, "{}", body_string(&post));
    assert_eq!(acao(&post).as_deref(), Some(allowed));
    assert_eq!(post.headers()["vary"], "Origin");
    let v: serde_json::Value = serde_json::from_str(&body_string(&post)).unwrap();
    assert!(v["pay_url"].as_str().is_some_and(|u| u.starts_with("http")));
    // Another origin: its preflight is refused and no reply carries a CORS header.
    let evil = "https://evil.example";
    let pre = from_origin(&w, "OPTIONS", evil).await;
    assert_eq!((pre.status().as_u16(), acao(&pre)), (403, None));
    assert_eq!(acao(&from_origin(&w, "POST", evil).await), None);
}

/// `utm_*` and `Referer` are the buyer's (or an attacker's) text, read later in the
/// author's terminal: stored without control characters or bidi overrides.
#[tokio::test]
async fn attribution_is_stored_without_control_characters() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let body = format!(
        "product_id=rust-book&email={}&utm_source=%1B%5B2J%1B%5D0%3Bx%07news%0D%0Aletter&utm_campaign=%E2%80%AEfall",
        w.buyer(3).replace('@', "%40")
    );
    let resp = w
        .checkout(
            &body,
            "application/x-www-form-urlencoded",
            "application/json",
            DESKTOP,
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", body_string(&resp));
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    let id = OrderId::parse(v["order_id"].as_str().unwrap()).unwrap();
    let o = w.order(&id).await;
    assert_eq!(o.source.utm_source.as_deref(), Some("[2J]0;xnewsletter"));
    assert_eq!(o.source.utm_campaign.as_deref(), Some("fall"));
}

/// SES sends only to ASCII domains: an international one is stored, mailed and shown as
/// punycode, and the mail really goes out.
#[tokio::test]
async fn an_international_domain_is_sold_to_and_mailed_as_punycode() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let buyer = w.buyer(7);
    let local = buyer.split('@').next().unwrap();
    let (order, _) = checkout_order(&w, "rust-book", &format!("{local}@例子.中国")).await;
    let ascii = format!("{local}@xn--fsqu00a.xn--fiqs8s");
    assert_eq!(order.email.as_str(), ascii);
    let notify = form(&w.notify_params(order.id.as_str(), "9.00", "TRADE_SUCCESS"));
    assert_eq!(w.notify(&notify).await, (200, "success".to_owned()));
    let paid = w.order(&order.id).await;
    assert!(
        matches!(paid.mail, MailState::Sent { .. }),
        "{:?}",
        paid.mail
    );
    assert_eq!(w.mails_to(&ascii).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_identical_notifications_at_once_pay_once() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let (order, _) = checkout_order(&w, "rust-book", &email).await;
    let notify = form(&w.notify_params(order.id.as_str(), "9.00", "TRADE_SUCCESS"));
    let w = std::sync::Arc::new(w);
    let replies = join_all((0..10).map(|_| {
        let (w, n) = (w.clone(), notify.clone());
        tokio::spawn(async move { w.notify(&n).await })
    }))
    .await;
    for r in replies {
        assert_eq!(r.unwrap(), (200, "success".to_owned()));
    }
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn bad_notifications_are_refused_and_change_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    let id = order.id.as_str();
    let good = w.notify_params(id, "9.00", "TRADE_SUCCESS");

    let mut cases: Vec<(&str, String)> = Vec::new();
    let mut forged = good.clone();
    forged.insert("sign".into(), w.app_signer.sign(b"something else").unwrap());
    cases.push(("forged signature", form(&forged)));
    cases.push((
        "signed with the app key",
        form(&sign_callback(good.clone(), &w.app_signer)),
    ));
    let mut tampered = good.clone();
    tampered.insert("total_amount".into(), "0.01".into());
    cases.push(("tampered total_amount", form(&tampered)));
    let mut other_app = good.clone();
    other_app.insert("app_id".into(), "2021000000009999".into());
    cases.push(("other app_id", form(&w.sign_as_alipay(other_app))));
    let mut other_seller = good.clone();
    other_seller.insert("seller_id".into(), "2088000000009999".into());
    cases.push(("other seller_id", form(&w.sign_as_alipay(other_seller))));
    let mut cheap = good.clone();
    cheap.insert("total_amount".into(), "0.01".into());
    cases.push(("signed but wrong amount", form(&w.sign_as_alipay(cheap))));
    cases.push((
        "unknown out_trade_no",
        form(&w.notify_params("K20990101000000ffffffffffffffff", "9.00", "TRADE_SUCCESS")),
    ));
    let mut no_sign = good.clone();
    no_sign.remove("sign");
    cases.push(("missing sign", form(&no_sign)));
    let mut rsa1 = good.clone();
    rsa1.insert("sign_type".into(), "RSA".into());
    cases.push(("sign_type=RSA", form(&rsa1)));
    cases.push(("not form-encoded", serde_json::to_string(&good).unwrap()));
    cases.push((
        "duplicate field",
        format!("{}&total_amount=0.01", form(&good)),
    ));
    cases.push(("empty body", String::new()));

    for (name, body) in &cases {
        let (status, reply) = w.notify(body).await;
        assert_ne!(reply, "success", "{name} must not be acknowledged");
        assert!(status >= 202, "{name}: status {status}");
        assert_eq!(w.order(&order.id).await, order, "{name} changed the order");
        assert_eq!(w.grants_for(&order.id).await, 0, "{name} created a grant");
        assert!(w.mails_to(&email).await.is_empty(), "{name} sent mail");
    }
    // WAIT_BUYER_PAY is authentic but not a payment: acknowledged (or Alipay resends it
    // about eight times for nothing), and nothing changes.
    let waiting = form(&w.notify_params(id, "9.00", "WAIT_BUYER_PAY"));
    assert_eq!(w.notify(&waiting).await, (200, "success".to_owned()));
    assert_eq!(
        w.order(&order.id).await,
        order,
        "WAIT_BUYER_PAY changed the order"
    );
    assert_eq!(
        w.grants_for(&order.id).await,
        0,
        "WAIT_BUYER_PAY created a grant"
    );
    // And the genuine one still works afterwards.
    assert_eq!(w.notify(&form(&good)).await, (200, "success".to_owned()));
}

/// Alipay's guidance is to check `seller_id` on every notification: a channel built
/// without one (only the CLI does) refuses even a genuine notification, and the functions
/// cannot start without `ALIPAY_SELLER_ID` (shared/src/config.rs).
#[tokio::test]
async fn without_a_seller_id_no_notification_is_accepted() {
    let w = World::new(WorldOptions {
        seller_id: None,
        ..WorldOptions::default()
    })
    .await
    .unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    let p = w.notify_params(order.id.as_str(), "9.00", "TRADE_SUCCESS");
    let (status, reply) = w.notify(&form(&w.sign_as_alipay(p))).await;
    assert_eq!((status, reply.as_str()), (400, "fail"));
    assert_eq!(w.order(&order.id).await, order);
}

#[tokio::test]
async fn a_notification_for_an_expired_order_pays_it() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    assert!(
        w.t.store
            .expire_order(&order, kiosk_e2e::now())
            .await
            .unwrap()
    );
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Expired);
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Paid);
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn trade_closed_expires_a_pending_order() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_CLOSED")
            .await,
        (200, "success".to_owned())
    );
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Expired);
}

#[tokio::test]
async fn ses_rejecting_the_mail_keeps_the_payment_and_leaves_mail_due() {
    // The sender is not verified in the emulator, so SES answers MessageRejected, as AWS does.
    let w = World::new(WorldOptions {
        sender: "unverified@example.com",
        ..WorldOptions::default()
    })
    .await
    .unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    let stored = w.order(&order.id).await;
    assert_eq!(stored.status(), OrderStatus::Paid);
    assert!(
        matches!(stored.mail, MailState::Due { attempts: 1, .. }),
        "{:?}",
        stored.mail
    );
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert!(w.mails_to(&email).await.is_empty());
}

fn return_query(w: &World, order_id: &str, amount: &str) -> String {
    form(&w.sign_as_alipay(kiosk_e2e::return_params(order_id, amount, "T-return")))
}

#[tokio::test]
async fn return_page_shows_the_link_once_paid() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
        .await;
    let token = w.order(&order.id).await.grant_token().cloned().unwrap();
    let (status, page) = w
        .return_page(&return_query(&w, order.id.as_str(), "9.00"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("/download/{}", token.expose())));
    assert!(
        w.gateway.calls.lock().unwrap().is_empty(),
        "a paid order needs no query"
    );
}

#[tokio::test]
async fn return_page_queries_alipay_and_fulfils_a_confirmed_payment() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    w.gateway.set(
        order.id.as_str(),
        Answer::Paid {
            trade_no: "T-query".into(),
            total_amount: "9.00".into(),
        },
    );
    let (status, page) = w
        .return_page(&return_query(&w, order.id.as_str(), "9.00"))
        .await;
    assert_eq!(status, 200);
    let stored = w.order(&order.id).await;
    assert_eq!(stored.status(), OrderStatus::Paid);
    assert_eq!(stored.provider_txn_id(), Some("T-query"));
    assert!(page.contains(&format!(
        "/download/{}",
        stored.grant_token().cloned().unwrap().expose()
    )));
    assert_eq!(
        w.gateway.calls.lock().unwrap().as_slice(),
        ["alipay.trade.query"]
    );
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

/// A gateway that does not answer used to hold the page for 3 × 6 s plus backoff, past
/// the function's timeout, so the buyer got API Gateway's 503. The query now fits in the
/// invocation's time and the buyer gets the confirming page, which refreshes itself.
#[tokio::test]
async fn return_page_answers_within_the_function_time_when_alipay_hangs() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    w.gateway.set(order.id.as_str(), Answer::Silent);
    let timeout = std::time::Duration::from_secs(5);
    let started = std::time::Instant::now();
    let (status, page) = w
        .return_page_within(&return_query(&w, order.id.as_str(), "9.00"), timeout)
        .await;
    let took = started.elapsed();
    assert!(
        took < timeout,
        "answered after {took:?}, past the {timeout:?} timeout"
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Confirming your payment"), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""));
    assert_eq!(w.order(&order.id).await, order, "nothing changed");
    assert!(
        !w.gateway.calls.lock().unwrap().is_empty(),
        "the gateway was asked"
    );
}

#[tokio::test]
async fn return_page_waits_while_alipay_has_no_payment() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    for answer in [Answer::NotExist, Answer::Waiting] {
        w.gateway.set(order.id.as_str(), answer);
        let (status, page) = w
            .return_page(&return_query(&w, order.id.as_str(), "9.00"))
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("Confirming your payment"));
        assert!(page.contains("http-equiv=\"refresh\""));
        assert_eq!(w.order(&order.id).await, order);
    }
    // A paid answer for the wrong amount is not a payment of this order.
    w.gateway.set(
        order.id.as_str(),
        Answer::Paid {
            trade_no: "T-x".into(),
            total_amount: "0.01".into(),
        },
    );
    let (_, page) = w
        .return_page(&return_query(&w, order.id.as_str(), "9.00"))
        .await;
    assert!(page.contains("Confirming your payment"));
    assert_eq!(w.order(&order.id).await, order);
}

#[tokio::test]
async fn forged_return_gets_400() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = w.pending(&product, &w.buyer(1)).await;
    let genuine = return_query(&w, order.id.as_str(), "9.00");
    let forged = genuine.replace("total_amount=9.00", "total_amount=0.01");
    let (status, page) = w.return_page(&forged).await;
    assert_eq!(status, 400);
    assert!(page.contains("could not verify"));
    let (status, _) = w.return_page("out_trade_no=K1").await;
    assert_eq!(status, 400);
    assert!(w.gateway.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn checkout_answers_json_and_picks_wap_pay_for_phones() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let body = serde_json::json!({"product_id": "rust-book", "email": w.buyer(1), "utm_campaign": "launch"}).to_string();
    let resp = w
        .checkout(&body, "application/json", "application/json", IPHONE)
        .await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    let p = pay_params(v["pay_url"].as_str().unwrap());
    assert_eq!(p["method"], "alipay.trade.wap.pay");
    let biz: serde_json::Value = serde_json::from_str(&p["biz_content"]).unwrap();
    assert_eq!(biz["product_code"], "QUICK_WAP_WAY");
    // The shop page, not the API root (which has no route).
    assert_eq!(biz["quit_url"], kiosk_e2e::SHOP_URL);
    assert_eq!(biz["out_trade_no"], v["order_id"]);
    let stored =
        w.t.store
            .get_order(&OrderId::parse(v["order_id"].as_str().unwrap()).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        biz["time_expire"],
        kiosk::clock::beijing_minutes(stored.expires_at)
    );
    assert_eq!(stored.source.utm_campaign.as_deref(), Some("launch"));

    // An explicit device wins over the User-Agent.
    let body = format!(
        "product_id=rust-book&email={}&device=desktop",
        w.buyer(2).replace('@', "%40")
    );
    let resp = w
        .checkout(
            &body,
            "application/x-www-form-urlencoded",
            "text/html",
            IPHONE,
        )
        .await;
    let p = pay_params(resp.headers()["location"].to_str().unwrap());
    assert_eq!(p["method"], "alipay.trade.page.pay");
}

#[tokio::test]
async fn checkout_errors_name_the_field_and_write_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let cases: Vec<(&str, String, &str, u16, Option<&str>)> = vec![
        (
            "bad email (form)",
            "product_id=rust-book&email=not-an-email".into(),
            "application/x-www-form-urlencoded",
            400,
            Some("email"),
        ),
        (
            "missing email",
            "product_id=rust-book".into(),
            "application/x-www-form-urlencoded",
            400,
            Some("email"),
        ),
        (
            "bad email (json)",
            r#"{"product_id":"rust-book","email":"a@b"}"#.into(),
            "application/json",
            400,
            Some("email"),
        ),
        (
            // SES cannot deliver to a non-ASCII local part: refused before the buyer pays.
            "non-ASCII before the @ (json)",
            r#"{"product_id":"rust-book","email":"读者@例子.中国"}"#.into(),
            "application/json",
            400,
            Some("email"),
        ),
        (
            "unknown product",
            "product_id=no-such-book&email=a%40example.com".into(),
            "application/x-www-form-urlencoded",
            404,
            Some("product_id"),
        ),
        (
            "malformed product id",
            "product_id=..%2Fetc&email=a%40example.com".into(),
            "application/x-www-form-urlencoded",
            400,
            Some("product_id"),
        ),
        (
            "bad device",
            "product_id=rust-book&email=a%40example.com&device=tv".into(),
            "application/x-www-form-urlencoded",
            400,
            Some("device"),
        ),
        (
            "price in the request is ignored, bad json is not",
            "{not json".into(),
            "application/json",
            400,
            None,
        ),
        (
            "too large",
            format!(
                "product_id=rust-book&email=a%40example.com&utm_source={}",
                "x".repeat(17 * 1024)
            ),
            "application/x-www-form-urlencoded",
            413,
            None,
        ),
    ];
    for (name, body, ctype, want, field) in &cases {
        let resp = w.checkout(body, ctype, "application/json", "curl/8").await;
        assert_eq!(
            resp.status().as_u16(),
            *want,
            "{name}: {}",
            body_string(&resp)
        );
        let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
        assert_eq!(v["error"]["field"].as_str(), *field, "{name}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        // The same as a browser form: an HTML page.
        let resp = w.checkout(body, ctype, "text/html", DESKTOP).await;
        assert_eq!(resp.status().as_u16(), *want, "{name}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body_string(&resp).contains("<main>"));
    }
    assert!(
        w.t.scan_entity("order").await.unwrap().is_empty(),
        "no order may be written on an error"
    );

    // The amount always comes from the product, whatever the request says.
    let resp = w
        .checkout(
            "product_id=rust-book&email=a%40example.com&total_amount=0.01&price=0.01",
            "application/x-www-form-urlencoded",
            "application/json",
            DESKTOP,
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    let biz: serde_json::Value =
        serde_json::from_str(&pay_params(v["pay_url"].as_str().unwrap())["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "9.00");
}

#[tokio::test]
async fn checkouts_past_the_networks_hourly_rate_get_a_429_and_write_nothing() {
    let w = World::new(WorldOptions {
        checkouts_per_network_hour: 3,
        ..WorldOptions::default()
    })
    .await
    .unwrap();
    w.add_product("rust-book", "9.00").await;
    let body = format!(
        "product_id=rust-book&email={}",
        w.buyer(1).replace('@', "%40")
    );
    let office = "198.51.100.7";
    for n in 1..=3 {
        let resp = w.checkout_from(&body, "text/html", office).await;
        assert_eq!(resp.status(), 303, "checkout {n}");
    }
    let resp = w.checkout_from(&body, "text/html", office).await;
    assert_eq!(resp.status(), 429);
    let page = body_string(&resp);
    assert!(page.contains("Too many checkouts"), "{page}");
    assert!(page.contains("try again later"), "{page}");
    let resp = w.checkout_from(&body, "application/json", office).await;
    assert_eq!(resp.status(), 429);
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("Too many"));
    assert_eq!(
        w.t.scan_entity("order").await.unwrap().len(),
        3,
        "nothing written past the limit (this test's own table)"
    );
    // Another network (an IPv6 /64 of its own) is not held up.
    let resp = w.checkout_from(&body, "text/html", "2001:db8:5::1").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(w.t.scan_entity("order").await.unwrap().len(), 4);
}

async fn buy_page(w: &World, path_and_query: &str) -> Response<Body> {
    let req = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("{}{path_and_query}", kiosk_e2e::BASE_URL))
        .header("accept", "text/html")
        .header("referer", "https://author.example.org/the-book")
        .body(Body::Empty)
        .unwrap();
    checkout::handler::handle(&w.checkout, req, kiosk_e2e::now()).await
}

/// The hosted buy page shows the product as stored (so a price changed with `kiosk`
/// shows at once), carries the link's attribution into the order, and its form buys.
#[tokio::test]
async fn the_hosted_buy_page_sells_the_product_as_stored() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;

    let resp = buy_page(&w, "/buy/rust-book?utm_source=blog&utm_campaign=launch").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let page = body_string(&resp);
    assert!(page.contains(product.title()), "{page}");
    assert!(page.contains("¥9.00"), "{page}");
    assert!(page.contains(&format!("action=\"{}/checkout\"", kiosk_e2e::BASE_URL)));
    assert!(page.contains("<label for=\"email\">"), "{page}");
    for field in [
        "name=\"product_id\" value=\"rust-book\"",
        "name=\"utm_source\" value=\"blog\"",
        "name=\"utm_campaign\" value=\"launch\"",
        "name=\"referrer\" value=\"https://author.example.org/the-book\"",
        "name=\"channel\" value=\"alipay\"",
    ] {
        assert!(page.contains(field), "{field} in {page}");
    }

    // The author changes the price: the page follows without any edit to a site.
    let dearer = product.clone().with_price(kiosk_e2e::cny("12.50")).unwrap();
    w.t.store
        .update_product(&dearer, kiosk_e2e::now())
        .await
        .unwrap();
    let page = body_string(&buy_page(&w, "/buy/rust-book").await);
    assert!(page.contains("¥12.50") && !page.contains("¥9.00"), "{page}");

    for missing in ["/buy/no-such-book", "/buy/NOT%20AN%20ID", "/buy/"] {
        assert_eq!(buy_page(&w, missing).await.status(), 404, "{missing}");
    }

    // Submitting the page's form: an order at the stored price, with the link's
    // attribution and the author's page as referrer.
    let email = w.buyer(7);
    let body = format!(
        "product_id=rust-book&email={}&channel=alipay&utm_source=blog&utm_campaign=launch&referrer={}",
        email.replace('@', "%40"),
        "https%3A%2F%2Fauthor.example.org%2Fthe-book"
    );
    let resp = w
        .checkout(
            &body,
            "application/x-www-form-urlencoded",
            "text/html",
            "Mozilla/5.0 (X11; Linux x86_64)",
        )
        .await;
    assert_eq!(resp.status(), 303, "{}", body_string(&resp));
    let url = resp.headers()["location"].to_str().unwrap().to_owned();
    let biz: serde_json::Value = serde_json::from_str(&pay_params(&url)["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "12.50");
    let id = OrderId::parse(biz["out_trade_no"].as_str().unwrap()).unwrap();
    let order = w.order(&id).await;
    assert_eq!(order.amount, kiosk_e2e::cny("12.50"));
    assert_eq!(order.source.utm_source.as_deref(), Some("blog"));
    assert_eq!(order.source.utm_campaign.as_deref(), Some("launch"));
    assert_eq!(
        order.source.referrer.as_deref(),
        Some("https://author.example.org/the-book")
    );
}

/// `GET /products/{id}`: the product's live public facts for any origin, never cached.
#[tokio::test]
async fn product_json_gives_the_live_price_to_any_origin() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let get = |path: &'static str| {
        let w = &w;
        async move {
            let req = lambda_http::http::Request::builder()
                .method("GET")
                .uri(format!("{}{path}", kiosk_e2e::BASE_URL))
                .header("origin", "https://author.example.org")
                .body(Body::Empty)
                .unwrap();
            checkout::handler::handle(&w.checkout, req, kiosk_e2e::now()).await
        }
    };
    let resp = get("/products/rust-book").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    assert_eq!(v["title"], product.title());
    assert_eq!(
        (v["price"].as_str(), v["currency"].as_str()),
        (Some("9.00"), Some("CNY"))
    );
    assert_eq!(v["display_price"], "¥9.00");
    assert_eq!(v["channels"], serde_json::json!(["alipay"]));
    assert_eq!(
        v["buy_url"],
        format!("{}/buy/rust-book", kiosk_e2e::BASE_URL)
    );

    let dearer = product.with_price(kiosk_e2e::cny("12.50")).unwrap();
    w.t.store
        .update_product(&dearer, kiosk_e2e::now())
        .await
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&body_string(&get("/products/rust-book").await)).unwrap();
    assert_eq!(v["display_price"], "¥12.50");

    for missing in ["/products/no-such-book", "/products/%00"] {
        let resp = get(missing).await;
        assert_eq!(resp.status(), 404, "{missing}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }
}

async fn get(w: &World, path_and_query: &str, headers: &[(&str, &str)]) -> Response<Body> {
    let mut req = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("{}{path_and_query}", kiosk_e2e::BASE_URL));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    checkout::handler::handle(
        &w.checkout,
        req.body(Body::Empty).unwrap(),
        kiosk_e2e::now(),
    )
    .await
}

fn csp(resp: &Response<Body>) -> String {
    resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Only the buy page asked for by kiosk.js (`?embed=origin`) may be framed, and only by
/// that origin when the shop allows it (`EMBED_ORIGINS`, here `SHOP_URL`'s origin); the
/// script it then runs is allowed by hash and talks to that origin alone.
#[tokio::test]
async fn the_buy_page_may_be_framed_only_by_the_shops_embed_origins() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let allowed = "https://example.com"; // the origin of kiosk_e2e::SHOP_URL
    assert!(kiosk_e2e::SHOP_URL.starts_with(allowed));

    for query in [
        "",
        "?embed=https%3A%2F%2Fevil.example",
        "?embed=https%3A%2F%2Fexample.com.evil.example",
        "?embed=",
        "?embed=null",
    ] {
        let resp = get(&w, &format!("/buy/rust-book{query}"), &[]).await;
        assert_eq!(resp.status(), 200, "{query}");
        let policy = csp(&resp);
        assert!(
            policy.ends_with("frame-ancestors 'none'"),
            "{query}: {policy}"
        );
        assert!(!policy.contains("script-src"), "{query}: {policy}");
        let page = body_string(&resp);
        assert!(
            !page.contains("<script") && !page.contains("data-host"),
            "{query}: {page}"
        );
        assert!(!page.contains("target=\"_top\""), "{query}");
    }

    for query in [
        "?embed=https%3A%2F%2Fexample.com",
        "?embed=HTTPS://Example.COM",
    ] {
        let resp = get(&w, &format!("/buy/rust-book{query}"), &[]).await;
        assert_eq!(resp.status(), 200);
        let policy = csp(&resp);
        assert!(
            policy.contains(&format!("frame-ancestors {allowed}"))
                && !policy.contains("frame-ancestors 'none'")
                && policy.contains("script-src 'sha256-"),
            "{query}: {policy}"
        );
        let page = body_string(&resp);
        // postMessage goes to the allowed origin as configured, never to what the
        // query said.
        assert!(page.contains(&format!("data-host=\"{allowed}\"")), "{page}");
        assert!(page.contains("target=\"_top\""), "pays in the top window");
        assert!(page.contains("<script>(function(){"), "{page}");
    }

    // Other pages keep refusing all framing, embed or not.
    for path in [
        "/products/rust-book?embed=https%3A%2F%2Fexample.com",
        "/buy/no-such-book?embed=https%3A%2F%2Fexample.com",
    ] {
        let resp = get(&w, path, &[]).await;
        assert!(csp(&resp).ends_with("frame-ancestors 'none'"), "{path}");
    }
}

/// kiosk.js: small (its gzipped size printed here and written in the README), JavaScript,
/// revalidated by ETag, cached for a year under its versioned URL only.
#[tokio::test]
async fn kiosk_js_is_small_and_cached_by_its_version() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let resp = get(&w, "/kiosk.js", &[]).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=3600");
    let version = checkout::handler::kiosk_js_version();
    assert_eq!(h["etag"].to_str().unwrap(), format!("\"{version}\""));
    let source = body_string(&resp);
    assert_eq!(source, checkout::handler::KIOSK_JS);

    let mut gzip = std::process::Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    std::io::Write::write_all(gzip.stdin.as_mut().unwrap(), source.as_bytes()).unwrap();
    let zipped = gzip.wait_with_output().unwrap().stdout.len();
    println!("kiosk.js: {} bytes, {zipped} bytes gzipped", source.len());
    assert!(zipped > 0 && zipped <= 6 * 1024, "{zipped} bytes gzipped");

    // Unchanged: 304 with nothing to send.
    let resp = get(
        &w,
        "/kiosk.js",
        &[("if-none-match", &format!("W/\"{version}\", \"x\""))],
    )
    .await;
    assert_eq!(resp.status(), 304);
    assert!(body_string(&resp).is_empty());
    let resp = get(
        &w,
        "/kiosk.js",
        &[("if-none-match", "\"0000000000000000\"")],
    )
    .await;
    assert_eq!(resp.status(), 200);

    // The versioned URL is immutable; another version is not pinned for a year.
    let resp = get(&w, &format!("/kiosk.js?v={version}"), &[]).await;
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let resp = get(&w, "/kiosk.js?v=0000000000000000", &[]).await;
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");

    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{}/kiosk.js", kiosk_e2e::BASE_URL))
        .body(Body::Empty)
        .unwrap();
    let resp = checkout::handler::handle(&w.checkout, req, kiosk_e2e::now()).await;
    assert_eq!(resp.status(), 405);
}
