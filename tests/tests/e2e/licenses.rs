//! License keys (issue: licenses for software sellers), through the real handlers against
//! the emulator: a licensed product paid through Alipay's notification gets a short key
//! and a signed license on its download page and in its mail; the signed license is
//! checked offline by the `kiosk-license` crate and by an independent Python check
//! (`scripts/verify_license.py`, the `cryptography` package); the online check counts
//! activations atomically up to the seats; a full refund says refunded and puts the order
//! in the signed revocation list; unknown and malformed keys get one answer, and a
//! network that guesses is stopped.

use std::process::Command;

use kiosk::alipay::Params;
use kiosk::licenses::Licenses;
use kiosk::product::Seats;
use kiosk_e2e::{World, WorldOptions, body_string, form, from_ip, now};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

async fn world_with_licensed_product(seats: u32) -> (World, kiosk::Product) {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let p = kiosk_e2e::product("tool", "9.00 CNY").with_license(Some(Seats::new(seats).unwrap()));
    w.t.store.create_product(&p, now()).await.unwrap();
    (w, p)
}

/// Pay `p` for `email` through Alipay's signed notification: the paid order.
async fn paid(w: &World, p: &kiosk::Product, email: &str) -> kiosk::Order {
    let o = w.pending(p, email).await;
    let (status, body) = w
        .notify_signed(o.id.as_str(), "9.00", "TRADE_SUCCESS")
        .await;
    assert_eq!((status, body.as_str()), (200, "success"));
    w.order(&o.id).await
}

async fn licenses(w: &World) -> Licenses {
    Licenses::open(&w.handles_sdk, &w.t.name, Some(&w.license_param))
        .await
        .unwrap()
}

fn request(method: &str, path: &str, body: Option<String>, ip: &str) -> Request {
    let mut b = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", kiosk_e2e::BASE_URL));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let body = body.map_or(Body::Empty, Body::Text);
    from_ip(b.body(body).unwrap(), ip)
}

async fn verify(l: &Licenses, key: &str, activate: bool, ip: &str) -> Response<Body> {
    let body = serde_json::json!({ "key": key, "increment_uses": activate }).to_string();
    Box::pin(license::handler::handle(
        l,
        request("POST", "/license/verify", Some(body), ip),
        now(),
    ))
    .await
}

fn json(resp: &Response<Body>) -> Value {
    serde_json::from_str(&body_string(resp)).unwrap()
}

/// The independent check: `scripts/verify_license.py` in the project venv.
fn python_check(public: &str, text: &str, extra: &[&str]) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/scripts/verify_license.py"))
        .args([public, text])
        .args(extra)
        .output()
        .expect("the project venv's python (scripts/venv.sh)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `text` with the character at `i` changed to another of base64url's.
fn changed(text: &str, i: usize) -> String {
    let mut b = text.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn a_paid_license_verifies_offline_and_online_counts_its_seats_and_a_refund_revokes_it() {
    let (w, p) = world_with_licensed_product(2).await;
    let buyer = w.buyer(1);
    let order = paid(&w, &p, &buyer).await;
    let issued = order
        .license
        .clone()
        .expect("a licensed product's order has a license");
    let key = issued.key.expose().to_owned();
    let signed = issued.signed.clone().expect("the shop has a signing key");
    assert_eq!(
        kiosk::license::LicenseKey::parse(&key),
        Some(issued.key.clone())
    );

    // The download page and the purchase mail show both forms.
    let grant =
        w.t.store
            .get_grant(order.grant_token().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(grant.license.as_ref(), Some(&issued));
    let downloads = kiosk::downloads::Downloads::new(&w.handles_sdk, w.shop.config().clone());
    let page_req = lambda_http::http::Request::builder()
        .uri(format!(
            "{}/download/{}",
            kiosk_e2e::BASE_URL,
            grant.token.expose()
        ))
        .body(Body::Empty)
        .unwrap();
    let page = body_string(&download::handler::handle(&downloads, page_req, now()).await);
    assert!(page.contains(&key) && page.contains(&signed), "{page}");
    assert!(page.contains("Your license"), "{page}");
    let mails = w.mails_to(&buyer).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].body.contains(&key) && mails[0].body.contains(&signed),
        "{}",
        mails[0].body
    );

    // Offline: the verifier crate and the independent Python check accept it, for this
    // buyer's address, and refuse it with any one character changed.
    let public = w.license_public_key().await.unwrap();
    let key_of_shop = kiosk_license::PublicKey::parse(&public).unwrap();
    let license = kiosk_license::verify_license(&signed, &key_of_shop).unwrap();
    assert_eq!(
        (
            license.product.as_str(),
            license.order.as_str(),
            license.edition.as_str(),
            license.seats
        ),
        ("tool", order.id.as_str(), "v1", 2)
    );
    assert!(license.is_for_email(&buyer) && !license.is_for_email("someone@example.com"));
    assert!(
        !signed.contains(&buyer),
        "the address is never in the license"
    );
    let (ok, out) = python_check(&public, &signed, &["--email", &buyer]);
    assert!(ok, "{out}");
    let python: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(python["order"], order.id.as_str());
    assert_eq!(python["seats"], 2);
    for i in 0..signed.len() {
        assert!(
            kiosk_license::verify_license(&changed(&signed, i), &key_of_shop).is_err(),
            "byte {i}"
        );
    }
    let (payload_at, signature_at) = (10, signed.len() - 5);
    for i in [1, payload_at, signature_at] {
        let (ok, out) = python_check(&public, &changed(&signed, i), &[]);
        assert!(!ok, "byte {i}: {out}");
    }
    let (ok, _) = python_check(&public, &signed, &["--email", "someone@example.com"]);
    assert!(!ok);

    // Online: valid, no uses; three activations at once on two seats, exactly two count.
    let l = licenses(&w).await;
    let first = verify(&l, &key.to_lowercase().replace('-', ""), false, "192.0.2.1").await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        json(&first),
        serde_json::json!({"valid": true, "product": "tool", "edition": "v1", "seats": 2, "uses": 0, "refunded": false})
    );
    let tries = futures::future::join_all((1..=3).map(|n| {
        let (l, key) = (&l, &key);
        async move { verify(l, key, true, &format!("198.51.100.{n}")).await }
    }))
    .await;
    let statuses: Vec<u16> = tries.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        1,
        "{statuses:?}"
    );
    for r in &tries {
        assert_eq!(json(r)["activated"], r.status() == 200);
    }
    assert_eq!(json(&verify(&l, &key, false, "192.0.2.1").await)["uses"], 2);

    // A full refund: the online check says refunded, and the signed list names the order.
    let mut refund: Params = w.notify_params(order.id.as_str(), "9.00", "TRADE_CLOSED");
    refund.insert("refund_fee".into(), "9.00".into());
    refund.insert("gmt_refund".into(), "2026-12-08 10:00:00".into());
    refund.insert("notify_id".into(), format!("N-refund-{}", order.id));
    assert_eq!(w.notify(&form(&w.sign_as_alipay(refund))).await.0, 200);
    let after = json(&verify(&l, &key, false, "192.0.2.1").await);
    assert_eq!(
        (after["valid"].clone(), after["refunded"].clone()),
        (false.into(), true.into())
    );
    let refused = verify(&l, &key, true, "192.0.2.1").await;
    assert_eq!(
        (
            refused.status().as_u16(),
            json(&refused)["activated"].clone()
        ),
        (200, false.into())
    );

    let list = license::handler::handle(
        &l,
        request("GET", "/license/revoked", None, "192.0.2.1"),
        now(),
    )
    .await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.headers()["cache-control"], "public, max-age=300");
    let list = body_string(&list);
    let read = kiosk_license::verify_revocations(&list, &key_of_shop).unwrap();
    assert!(read.revokes(&license), "{read:?}");
    assert!(kiosk_license::verify_revocations(&changed(&list, 12), &key_of_shop).is_err());
    let (ok, out) = python_check(&public, &list, &["--revocations"]);
    assert!(ok, "{out}");
    assert!(out.contains(order.id.as_str()), "{out}");
}

#[tokio::test]
async fn unknown_and_malformed_keys_get_one_answer_and_a_guessing_network_is_stopped() {
    let (w, p) = world_with_licensed_product(1).await;
    let order = paid(&w, &p, &w.buyer(1)).await;
    let key = order.license.unwrap().key.expose().to_owned();
    let l = licenses(&w).await;

    let unknown = "22222-33333-44444-55555-66666";
    let mut answers = Vec::new();
    for k in [
        unknown,
        "not a key",
        "",
        "OOOOO-11111-IIIII-00000-22222",
        &"7".repeat(60),
    ] {
        let r = verify(&l, k, false, "203.0.113.7").await;
        answers.push((r.status().as_u16(), body_string(&r)));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0], (404, "{\"valid\":false}".to_owned()));

    // The guessing network has its misses (20 an hour): 5 above, 15 more, then nothing,
    // not even a good key; another network is not affected.
    for _ in 0..15 {
        assert_eq!(
            verify(&l, unknown, false, "203.0.113.7").await.status(),
            404
        );
    }
    let stopped = verify(&l, &key, false, "203.0.113.7").await;
    assert_eq!(stopped.status(), 429);
    assert!(stopped.headers().contains_key("retry-after"));
    assert_eq!(
        verify(&l, unknown, false, "203.0.113.7").await.status(),
        429
    );
    assert_eq!(verify(&l, &key, false, "203.0.113.8").await.status(), 200);
    // A found key gives its miss back: many checks of a good key never stop a network.
    for _ in 0..25 {
        assert_eq!(verify(&l, &key, false, "203.0.113.9").await.status(), 200);
    }

    // Bad requests change nothing and say why.
    let post = |body: String, ip: &str| request("POST", "/license/verify", Some(body), ip);
    let h = |req| Box::pin(license::handler::handle(&l, req, now()));
    assert_eq!(
        h(post("x".repeat(2000), "203.0.113.10")).await.status(),
        413
    );
    assert_eq!(
        h(post("{\"key\": 5}".into(), "203.0.113.10"))
            .await
            .status(),
        400
    );
    assert_eq!(
        h(post(
            "{\"key\": \"a\", \"admin\": true}".into(),
            "203.0.113.10"
        ))
        .await
        .status(),
        400
    );
    assert_eq!(
        h(request("GET", "/license/verify", None, "203.0.113.10"))
            .await
            .status(),
        405
    );
    let form_req = from_ip(
        lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{}/license/verify", kiosk_e2e::BASE_URL))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::Text(format!("key={key}&increment_uses=true")))
            .unwrap(),
        "203.0.113.10",
    );
    let activated = h(form_req).await;
    assert_eq!(
        (
            activated.status().as_u16(),
            json(&activated)["uses"].clone()
        ),
        (200, 1.into())
    );
    assert_eq!(verify(&l, &key, true, "203.0.113.10").await.status(), 409);
}
