//! The download function against the locked emulator: landing page, the atomic counter,
//! presigned S3 URLs, 404/410 pages, and "resend my links".

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
    assert!(
        page.contains(&w.product.title) && page.contains("<strong>5</strong> of 5 downloads left")
    );
    assert!(page.contains(&format!("action=\"{path}\"")) && page.contains("method=\"post\""));

    for i in 0..5 {
        // Scanners and previews: a burst of GETs and HEADs between real downloads.
        for _ in 0..20 {
            assert_eq!(w.request("GET", &path, None).await.status(), 200);
        }
        assert_eq!(w.request("HEAD", &path, None).await.status(), 200);
        assert_eq!(
            w.grant(&g.token).await.downloads_left,
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
    assert_eq!(w.grant(&g.token).await.downloads_left, 0);
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
        assert_eq!(w.grant(&g.token).await.downloads_left, 0, "round {round}");
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
        assert_eq!(w.grant(&g.token).await.downloads_left, 5);
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
    let mut broken = kiosk::downloads::Downloads::from_sdk(&sdk, w.app.config.clone());
    broken.store = kiosk::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), "no-such-table");
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

#[tokio::test]
async fn resend_mails_every_usable_link_once_per_ten_minutes_without_enumeration() {
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

    let ask = |email: String| {
        let w = &w;
        async move {
            let resp = w
                .request(
                    "POST",
                    "/download/resend",
                    Some(&format!("email={}", email.replace('@', "%40"))),
                )
                .await;
            (resp.status().as_u16(), body_string(&resp))
        }
    };
    let known = ask(buyer.to_uppercase()).await;
    let unknown = ask(stranger.clone()).await;
    assert_eq!(
        known, unknown,
        "the response must not reveal whether the address bought anything"
    );
    assert_eq!(known.0, 200);

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

    // Again within 10 minutes: same page, no mail.
    assert_eq!(ask(buyer.clone()).await, known);
    assert_eq!(w.mails_to(&buyer).await.len(), 1);

    // A malformed address is a 400 page, not a silent success.
    let resp = w
        .request("POST", "/download/resend", Some("email=not-an-address"))
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn resend_window_is_enforced_by_the_store_across_instances() {
    let w = DownloadWorld::new().await.unwrap();
    let email = kiosk::Email::parse(&w.buyer(1)).unwrap();
    let t0 = kiosk_e2e::now();
    assert!(
        w.app
            .store
            .claim_resend(&email, Duration::minutes(10), t0)
            .await
            .unwrap()
    );
    assert!(
        !w.app
            .store
            .claim_resend(&email, Duration::minutes(10), t0 + Duration::minutes(9))
            .await
            .unwrap()
    );
    assert!(
        w.app
            .store
            .claim_resend(&email, Duration::minutes(10), t0 + Duration::minutes(10))
            .await
            .unwrap()
    );
}
