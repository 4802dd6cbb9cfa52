//! The download function against the locked emulator: landing page, the atomic counter,
//! presigned S3 URLs, 404/410 pages, and "resend my links".
//!
//! Over 400 lines: one test file per function; most of it is the resend limits'
//! scenarios.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use kiosk::DownloadToken;
use kiosk_e2e::{DownloadWorld, body_string};
use lambda_http::{Body, Response};
use time::Duration;

fn location(resp: &Response<Body>) -> String {
    assert_eq!(resp.status(), 303, "{}", body_string(resp));
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn query_of(url: &str) -> HashMap<String, String> {
    kiosk::alipay::parse_form(url.split_once('?').unwrap().1)
        .unwrap()
        .into_iter()
        .collect()
}

fn assert_page_headers(resp: &Response<Body>) {
    let h = resp.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
}

#[tokio::test]
async fn five_downloads_serve_the_file_then_410_and_gets_change_nothing() {
    let w = DownloadWorld::new().await.unwrap();
    let g = w.purchase(&w.buyer(1)).await;
    let path = format!("/download/{}", g.token.expose());

    let landing = w.request("GET", &path, None).await;
    assert_eq!(landing.status(), 200);
    assert_page_headers(&landing);
    let page = body_string(&landing);
    assert!(page.contains(w.product.title()) && page.contains("<br>5 of 5 downloads left.</p>"));
    assert!(page.contains(&format!("action=\"{path}\"")) && page.contains("method=\"post\""));

    for i in 0..5 {
        // Scanners and previews: a burst of GETs and HEADs between real downloads.
        for _ in 0..20 {
            assert_eq!(w.request("GET", &path, None).await.status(), 200);
        }
        assert_eq!(w.request("HEAD", &path, None).await.status(), 200);
        assert_eq!(
            w.grant(&g.token).await.downloads_left[0],
            5 - i,
            "GET/HEAD must not spend"
        );
        let resp = w.request("POST", &path, None).await;
        assert_page_headers(&resp);
        let url = location(&resp);
        assert_eq!(w.fetch(&url).await, w.bytes, "download {} bytes", i + 1);
    }
    let sixth = w.request("POST", &path, None).await;
    assert_eq!(sixth.status(), 410);
    assert_page_headers(&sixth);
    let page = body_string(&sixth);
    assert!(page.contains("All downloads used"));
    assert!(
        page.contains(g.order_id.as_str()),
        "the 410 page names the order for support"
    );
    assert!(page.contains(kiosk_e2e::VERIFIED_SENDER));
    assert_eq!(w.request("GET", &path, None).await.status(), 410);
    assert_eq!(w.grant(&g.token).await.downloads_left[0], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_give_five_redirects() {
    let w = std::sync::Arc::new(DownloadWorld::new().await.unwrap());
    for round in 0..10 {
        let g = w.purchase(&w.buyer(round)).await;
        let path = format!("/download/{}", g.token.expose());
        let statuses = join_all((0..50).map(|_| {
            let (w, path) = (w.clone(), path.clone());
            tokio::spawn(async move { w.request("POST", &path, None).await.status().as_u16() })
        }))
        .await;
        let mut counts = HashMap::new();
        for s in statuses {
            *counts.entry(s.unwrap()).or_insert(0) += 1;
        }
        assert_eq!(
            counts,
            HashMap::from([(303, 5), (410, 45)]),
            "round {round}"
        );
        assert_eq!(
            w.grant(&g.token).await.downloads_left[0],
            0,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn presigned_url_has_the_right_expiry_name_bucket_and_key() {
    let w = DownloadWorld::new().await.unwrap();
    let g = w.purchase(&w.buyer(1)).await;
    let url = location(
        &w.request("POST", &format!("/download/{}", g.token.expose()), None)
            .await,
    );
    // The emulator does not check presigned signatures or expiry, so check the URL itself.
    let (base, _) = url.split_once('?').unwrap();
    assert_eq!(
        base,
        format!(
            "{}/{}/products/rust-book/v1/The%20Rust%20Book.pdf",
            w.endpoint, w.bucket
        )
    );
    let q = query_of(&url);
    assert_eq!(q["X-Amz-Expires"], "300");
    assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert!(q.contains_key("X-Amz-Signature"));
    assert_eq!(
        q["response-content-disposition"],
        "attachment; filename=\"The Rust Book.pdf\"; filename*=UTF-8''The%20Rust%20Book.pdf"
    );
    assert_eq!(q["response-content-type"], "application/pdf");
    assert!(q["X-Amz-SignedHeaders"].contains("host"));
}

async fn set_grant(w: &DownloadWorld, token: &DownloadToken, expr: &str, v: AttributeValue) {
    w.t.client
        .update_item()
        .table_name(&w.t.name)
        .key("pk", AttributeValue::S(format!("GRANT#{}", token.expose())))
        .key("sk", AttributeValue::S("GRANT".into()))
        .update_expression(expr)
        .expression_attribute_values(":v", v)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_and_refunded_links_get_410_saying_which() {
    let w = DownloadWorld::new().await.unwrap();
    let expired = w.purchase(&w.buyer(1)).await;
    set_grant(
        &w,
        &expired.token,
        "SET expires_at = :v",
        AttributeValue::N(
            (kiosk_e2e::now() - Duration::hours(1))
                .unix_timestamp()
                .to_string(),
        ),
    )
    .await;
    let refunded = w.purchase(&w.buyer(2)).await;
    set_grant(
        &w,
        &refunded.token,
        "SET revoked = :v",
        AttributeValue::Bool(true),
    )
    .await;

    for (g, words) in [
        (&expired, "This link has expired"),
        (&refunded, "This purchase was refunded"),
    ] {
        for method in ["GET", "POST"] {
            let resp = w
                .request(method, &format!("/download/{}", g.token.expose()), None)
                .await;
            assert_eq!(resp.status(), 410, "{words} {method}");
            assert_page_headers(&resp);
            let page = body_string(&resp);
            assert!(page.contains(words), "{method}: {page}");
            assert!(page.contains(g.order_id.as_str()));
        }
        assert_eq!(w.grant(&g.token).await.downloads_left[0], 5);
    }
}

#[tokio::test]
async fn unknown_tokens_get_404_and_malformed_ones_never_reach_dynamodb() {
    let w = DownloadWorld::new().await.unwrap();
    let unknown = DownloadToken::generate().unwrap();
    for method in ["GET", "POST"] {
        let resp = w
            .request(method, &format!("/download/{}", unknown.expose()), None)
            .await;
        assert_eq!(resp.status(), 404);
        assert_page_headers(&resp);
    }

    // A store that fails every request: a malformed token must still get a clean 404,
    // proving the handler decided without asking DynamoDB.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let broken = kiosk::downloads::Downloads::new(&sdk, w.app.config().clone()).with_store(
        kiosk::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), "no-such-table"),
    );
    let good_path = format!("/download/{}", unknown.expose());
    let req = |m: &str, p: &str| {
        lambda_http::http::Request::builder()
            .method(m)
            .uri(format!("https://shop.example.com{p}"))
            .body(Body::Empty)
            .unwrap()
    };
    assert_eq!(
        download::handler::handle(&broken, req("GET", &good_path), kiosk_e2e::now())
            .await
            .status(),
        500,
        "sanity: a well-formed token does reach the (broken) store"
    );
    let long = "A".repeat(33);
    let almost = format!("{}*", &unknown.expose()[..31]);
    for bad in [
        "short",
        long.as_str(),
        almost.as_str(),
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
    ] {
        for method in ["GET", "POST"] {
            let resp = download::handler::handle(
                &broken,
                req(method, &format!("/download/{bad}")),
                kiosk_e2e::now(),
            )
            .await;
            assert_eq!(resp.status(), 404, "{method} {bad}");
        }
    }
}

const HOME: &str = "192.0.2.10";
const ELSEWHERE: &str = "198.51.100.7";

#[tokio::test]
async fn resend_mails_every_usable_link_and_answers_buyers_and_strangers_alike() {
    let w = DownloadWorld::new().await.unwrap();
    let buyer = w.buyer(1);
    let first = w.purchase(&buyer).await;
    let second = w.purchase(&buyer).await;
    let used_up = w.purchase(&buyer).await;
    set_grant(
        &w,
        &used_up.token,
        "SET downloads_left = :v",
        AttributeValue::N("0".into()),
    )
    .await;
    let stranger = w.buyer(2);

    let shouted = buyer.to_uppercase();
    let (known, unknown) = tokio::join!(w.resend(&shouted, HOME), w.resend(&stranger, HOME));
    assert_eq!(
        (known.0, &known.1),
        (unknown.0, &unknown.1),
        "the response must not reveal whether the address bought anything"
    );
    assert_eq!(known.0, 200);
    // A lookup and a mail, or a lookup alone: both answered no sooner than the floor.
    for (who, took) in [("buyer", known.2), ("stranger", unknown.2)] {
        assert!(
            took >= kiosk::resend::ANSWER_AFTER,
            "{who} answered after {took:?}"
        );
    }

    let mails = w.mails_to(&buyer).await;
    assert_eq!(mails.len(), 1, "one mail listing every usable link");
    let body = &mails[0].body;
    for g in [&first, &second] {
        assert!(body.contains(&format!(
            "https://shop.example.com/download/{}",
            g.token.expose()
        )));
    }
    assert!(
        !body.contains(used_up.token.expose()),
        "an exhausted link is not offered"
    );
    assert!(w.mails_to(&stranger).await.is_empty());
    // Nothing is stored for an address without links.
    assert!(
        resend_item(&w, &format!("RESEND#{stranger}#{HOME}"))
            .await
            .is_none()
    );

    // Again from the same network within 10 minutes: same page, no mail.
    let again = w.resend(&buyer, HOME).await;
    assert_eq!((again.0, &again.1), (known.0, &known.1));
    assert_eq!(w.mails_to(&buyer).await.len(), 1);

    // A malformed address is a 400 page, not a silent success.
    let resp = w
        .request("POST", "/download/resend", Some("email=not-an-address"))
        .await;
    assert_eq!(resp.status(), 400);
}

/// Before, one slot per address was taken before the lookup: anyone posting a buyer's
/// address every 10 minutes silenced the buyer's own requests.
#[tokio::test]
async fn someone_else_asking_for_a_buyers_links_cannot_stop_the_buyer() {
    let w = DownloadWorld::new().await.unwrap();
    let buyer = w.buyer(1);
    w.purchase(&buyer).await;

    // Someone else posts the buyer's address (the buyer gets the links, the poster not).
    assert_eq!(w.resend(&buyer, ELSEWHERE).await.0, 200);
    assert_eq!(w.resend(&buyer, ELSEWHERE).await.0, 200);
    assert_eq!(w.mails_to(&buyer).await.len(), 1, "once per network");
    // The buyer, from home, right after: mailed.
    assert_eq!(w.resend(&buyer, HOME).await.0, 200);
    assert_eq!(w.mails_to(&buyer).await.len(), 2, "the buyer's own request");

    // From many networks at once, the address still gets at most PER_ADDRESS a day.
    let nets: Vec<String> = (1..=6).map(|i| format!("203.0.113.{i}")).collect();
    let answers = join_all(nets.iter().map(|n| w.resend(&buyer, n))).await;
    assert!(answers.iter().all(|a| a.0 == 200));
    assert_eq!(
        w.mails_to(&buyer).await.len(),
        kiosk::resend::PER_ADDRESS as usize
    );
}

#[tokio::test]
async fn a_network_past_its_hourly_requests_gets_429_whatever_the_address() {
    let w = DownloadWorld::new().await.unwrap();
    let buyer = w.buyer(1);
    w.purchase(&buyer).await;
    let strangers: Vec<String> = (2..=kiosk::resend::PER_NETWORK + 1)
        .map(|i| w.buyer(i))
        .collect();
    let answers = join_all(strangers.iter().map(|s| w.resend(s, ELSEWHERE))).await;
    assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");

    let for_buyer = w.resend(&buyer, ELSEWHERE).await;
    let for_stranger = w.resend(&w.buyer(99), ELSEWHERE).await;
    assert_eq!(for_buyer.0, 429, "{}", for_buyer.1);
    assert_eq!(
        (for_buyer.0, &for_buyer.1),
        (for_stranger.0, &for_stranger.1)
    );
    assert!(
        w.mails_to(&buyer).await.is_empty(),
        "nothing done past the limit"
    );
    // Another network is not affected.
    assert_eq!(w.resend(&buyer, HOME).await.0, 200);
    assert_eq!(w.mails_to(&buyer).await.len(), 1);
}

async fn resend_item(w: &DownloadWorld, pk: &str) -> Option<HashMap<String, AttributeValue>> {
    w.t.client
        .get_item()
        .table_name(&w.t.name)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S("RESEND".into()))
        .send()
        .await
        .expect("get item")
        .item
}

#[tokio::test]
async fn resend_window_is_enforced_by_the_store_across_instances() {
    let w = DownloadWorld::new().await.unwrap();
    let email = kiosk::Email::parse(&w.buyer(1)).unwrap();
    let t0 = kiosk_e2e::now();
    let net =
        w.t.store
            .network_tag(&kiosk::resend::Network::of(Some(HOME)), t0)
            .await
            .unwrap();
    assert!(
        w.t.store
            .claim_resend(&email, &net, Duration::minutes(10), t0)
            .await
            .unwrap()
    );
    assert!(
        !w.t.store
            .claim_resend(
                &email,
                &net,
                Duration::minutes(10),
                t0 + Duration::minutes(9)
            )
            .await
            .unwrap()
    );
    assert!(
        w.t.store
            .claim_resend(
                &email,
                &net,
                Duration::minutes(10),
                t0 + Duration::minutes(10)
            )
            .await
            .unwrap()
    );
}
