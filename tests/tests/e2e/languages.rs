//! Buyers in their own language: every message id the code names is in the catalogs
//! (every page and mail whole in every language is the CLI's `languages` test, over
//! `kiosk preview`'s samples). Then through the real handlers: the buy page's language from `lang=` or
//! `Accept-Language`, recorded on the order at checkout, and kept by the mail and the
//! return page whatever the later browser says.

use kiosk::OrderId;
use kiosk::alipay::parse_form;
use kiosk::i18n::Lang;
use kiosk_e2e::{BASE_URL, body_string, form};
use kiosk_e2e::{World, WorldOptions};
use lambda_http::{Body, Response};

fn zh() -> Lang {
    Lang::parse("zh-CN").expect("a zh-CN catalog")
}

/// Every message id the functions and the mails name exists in the catalogs, so no
/// page the preview does not reach can show one missing.
#[test]
fn every_message_id_in_the_code_is_in_the_catalogs() {
    let ids = kiosk::i18n::message_ids(Lang::EN);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut files = vec![
        root.join("shared/src/mail.rs"),
        root.join("tools/kiosk/src/samples.rs"),
    ];
    for f in ["checkout", "download", "payment-notify", "web"] {
        for entry in std::fs::read_dir(root.join("functions").join(f).join("src")).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    // Literals that look like ids but are not messages.
    let not_messages = [
        "buy-embedded",
        "buy-code",
        "buy-code-refused",
        "buy-pay-what-you-want",
        "buy-free",
        "free-sent",
        "free-confirm",
        "little-book",
        "purchase-free",
        "confirming-later",
        "link-not-found",
        "links-several",
        "refunded-link",
        "resend-sent",
        "used-up",
        "little-book-of-rust",
        "no-referrer",
        "no-store",
        "payment-started",
        "sec-gpc",
        "utf-8",
        // Element ids in the pages' templates.
        "email-help",
        "amount-help",
        "code-note",
        "resend-email",
        "wechat-qr",
        "wechat-time-left",
        "signed-license",
    ];
    let mut seen = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let source = std::fs::read_to_string(file).unwrap();
        for literal in source.split('"').skip(1).step_by(2) {
            let id_like = literal.contains('-')
                && literal.split('-').all(|w| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
                && literal.starts_with(|c: char| c.is_ascii_lowercase());
            if id_like && !not_messages.contains(&literal) {
                assert!(
                    ids.iter().any(|id| id == literal),
                    "{}: \"{literal}\" is not in the catalogs",
                    file.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 60, "{seen} ids found in the code");
}

async fn get(w: &World, path: &str, accept_language: Option<&str>) -> Response<Body> {
    let mut req = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("{BASE_URL}{path}"))
        .header("accept", "text/html");
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    checkout::handler::handle(
        &w.checkout,
        req.body(Body::Empty).unwrap(),
        kiosk_e2e::now(),
    )
    .await
}

async fn post_checkout(w: &World, body: &str, accept_language: &str) -> Response<Body> {
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_URL}/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("accept-language", accept_language)
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")
        .body(Body::Text(body.to_owned()))
        .unwrap();
    checkout::handler::handle(&w.checkout, req, kiosk_e2e::now()).await
}

#[tokio::test]
async fn the_buyers_language_is_chosen_recorded_and_kept() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;

    // The buy page: Accept-Language with quality values; lang= wins over it.
    let page = body_string(&get(&w, "/buy/rust-book", Some("fr;q=1, zh-CN;q=0.8, en;q=0.5")).await);
    assert!(
        page.starts_with("<!doctype html><html lang=\"zh-CN\""),
        "{page}"
    );
    assert!(
        page.contains("立即购买 · ¥9.00") && page.contains(product.title()),
        "{page}"
    );
    assert!(page.contains("name=\"lang\" value=\"zh-CN\""));
    assert!(page.contains("hreflang=\"en\""), "a switch to English");
    let page = body_string(&get(&w, "/buy/rust-book?lang=en", Some("zh-CN")).await);
    assert!(
        page.contains("<html lang=\"en\"") && page.contains("Buy Now · ¥9.00"),
        "{page}"
    );
    let page = body_string(&get(&w, "/buy/rust-book", None).await);
    assert!(page.contains("<html lang=\"en\""), "the shop's default");

    // A mistake is explained in the buyer's language.
    let resp = post_checkout(&w, "product_id=rust-book&email=nope", "zh-CN,zh;q=0.9").await;
    assert_eq!(resp.status(), 400);
    let page = body_string(&resp);
    assert!(
        page.contains("请输入有效的邮箱地址") && page.contains("lang=\"zh-CN\""),
        "{page}"
    );

    // Checkout records the form's language (the buy page's), not the header's.
    let email = w.buyer(1);
    let body = format!(
        "product_id=rust-book&lang=zh-CN&email={}",
        email.replace('@', "%40")
    );
    let resp = post_checkout(&w, &body, "en-US,en;q=0.9").await;
    assert_eq!(resp.status(), 303, "{}", body_string(&resp));
    let pay_url = resp.headers()["location"].to_str().unwrap().to_owned();
    let biz = parse_form(pay_url.split_once('?').unwrap().1).unwrap()["biz_content"].clone();
    let biz: serde_json::Value = serde_json::from_str(&biz).unwrap();
    let id = OrderId::parse(biz["out_trade_no"].as_str().unwrap()).unwrap();
    assert_eq!(w.order(&id).await.lang, Some(zh()));

    // Paid: the mail and the return page speak the order's language.
    let (status, ack) = w.notify_signed(id.as_str(), "9.00", "TRADE_SUCCESS").await;
    assert_eq!((status, ack.as_str()), (200, "success"));
    let mails = w.mails_to(&email).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, format!("你的下载：{}", product.title()));
    assert!(mails[0].body.contains("<html lang=\"zh-CN\"") && mails[0].body.contains("北京时间"));
    let ret = w.sign_as_alipay(w.notify_params(id.as_str(), "9.00", "TRADE_SUCCESS"));
    let (status, page) = w.return_page(&form(&ret)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<html lang=\"zh-CN\"") && page.contains("前往下载"),
        "{page}"
    );
}
