//! The local shop (`make dev`'s server) over real HTTP: shop page -> checkout -> sandbox
//! cashier -> Pay -> signed notification and return -> download page -> mailbox -> five
//! downloads with the right bytes -> 410. And the sandbox refuses a request signed with
//! another key.

use std::time::Duration;

use kiosk::alipay::{AppPrivateKey, parse_form, query_string, string_to_sign_request};
use kiosk_e2e::vector_file;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    assert_eq!(
        resp.status(),
        303,
        "expected a redirect from {}",
        resp.url()
    );
    resp.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_shop_sells_a_book_end_to_end() {
    let keys = std::env::temp_dir().join(format!("kiosk-devstack-keys-{}", std::process::id()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = devstack::Options {
        endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap(),
        site_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("site"),
        keys_dir: keys.clone(),
        retry_unit: Duration::from_millis(100),
    };
    let (base, app) = devstack::start(listener, opts).await.unwrap();
    let http = no_redirects();

    let shop = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(shop.status(), 200);
    assert!(shop.text().await.unwrap().contains("Buy Now"));

    let email = format!("devstack-{}@example.com", std::process::id());
    let resp = http
        .post(format!("{base}/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "product_id=little-book-of-rust&email={}",
            email.replace('@', "%40")
        ))
        .send()
        .await
        .unwrap();
    let cashier_url = location(&resp);
    assert!(cashier_url.starts_with(&format!("{base}/sandbox/alipay/gateway.do?")));

    let cashier = http.get(&cashier_url).send().await.unwrap();
    assert_eq!(cashier.status(), 200);
    let page = cashier.text().await.unwrap();
    assert!(
        page.contains("The Little Book of Rust") && page.contains("¥9.00") && page.contains("Pay")
    );

    // The same request signed with another key (the vectors' app key, not this shop's
    // generated one) is refused, visibly.
    let mut params = parse_form(cashier_url.split_once('?').unwrap().1).unwrap();
    params.remove("sign");
    let other = AppPrivateKey::parse(&vector_file("keys/app_pkcs1.pem")).unwrap();
    params.insert(
        "sign".into(),
        other
            .sign(string_to_sign_request(&params).as_bytes())
            .unwrap(),
    );
    let forged = http
        .get(format!(
            "{base}/sandbox/alipay/gateway.do?{}",
            query_string(&params)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("isv.invalid-signature")
    );

    let out_trade_no =
        serde_json::from_str::<serde_json::Value>(&params["biz_content"]).unwrap()["out_trade_no"]
            .as_str()
            .unwrap()
            .to_owned();
    let paid = http
        .post(format!("{base}/sandbox/alipay/pay"))
        .body(format!("out_trade_no={out_trade_no}"))
        .send()
        .await
        .unwrap();
    let return_url = location(&paid);
    assert!(return_url.starts_with(&format!("{base}/return/alipay?")));

    // The sandbox delivers the signed notification in the background.
    for _ in 0..100 {
        if app
            .sandbox
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .any(|(no, _)| *no == out_trade_no)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.sandbox
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .any(|(no, _)| *no == out_trade_no),
        "notification acknowledged"
    );

    let ret = http.get(&return_url).send().await.unwrap();
    assert_eq!(ret.status(), 200);
    let page = ret.text().await.unwrap();
    let start = page
        .find(&format!("{base}/download/"))
        .expect("return page shows the download link");
    let link: String = page[start..]
        .chars()
        .take_while(|c| *c != '"' && *c != '<')
        .collect();

    let mailbox = http
        .get(format!("{base}/mailbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mailbox.contains(&email) && mailbox.contains(&link),
        "the mailbox shows the mail with the same link"
    );

    let landing = http.get(&link).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    let want = devstack::setup::tiny_pdf("The Little Book of Rust - sample edition");
    for _ in 0..5 {
        let resp = http.post(&link).send().await.unwrap();
        let file_url = location(&resp);
        let bytes = http
            .get(&file_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bytes.as_ref(), want.as_slice());
    }
    let sixth = http.post(&link).send().await.unwrap();
    assert_eq!(sixth.status(), 410);
    assert!(sixth.text().await.unwrap().contains("All downloads used"));
    let _ = std::fs::remove_dir_all(keys);
}
