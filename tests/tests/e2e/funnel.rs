//! The visitor funnel's counting (`kiosk::funnel::Collector`) against the emulator: exact
//! counts under concurrency, one visitor a day however many views, bots and opted-out
//! visitors, stable variants, and the daily salt gone from the table and from memory
//! once the day is over.

use std::sync::Arc;

use kiosk::funnel::{Beacon, BeaconTest, Collector, Sender};
use kiosk::net::Network;
use kiosk_e2e::TestTable;
use time::{Duration, OffsetDateTime};

const SITE: &str = "https://books.example.com";

fn ua(i: usize) -> String {
    format!("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 visitor-{i}")
}

fn beacon(tests: bool) -> Beacon {
    Beacon {
        products: vec!["rust-book".into()],
        path: Some("/".into()),
        referrer: None,
        utm_source: None,
        tests: if tests {
            vec![BeaconTest {
                name: "headline".into(),
                variants: vec!["a".into(), "b".into()],
            }]
        } else {
            Vec::new()
        },
    }
}

fn from<'a>(ip: &str, user_agent: &'a str) -> Sender<'a> {
    Sender {
        network: Network::of(Some(ip)),
        user_agent: Some(user_agent),
        site: SITE,
        opted_out: false,
    }
}

/// (views, visitors) of a counter row on `day`.
async fn count(c: &Collector, day: time::Date, row: &str) -> (u64, u64) {
    c.store()
        .views_of(day)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.row == row)
        .map(|r| (r.views, r.visitors))
        .unwrap_or((0, 0))
}

fn noon() -> OffsetDateTime {
    time::macros::datetime!(2026-11-28 12:00 UTC)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_visitors_count_exactly_five_hundred() {
    let t = TestTable::new().await.unwrap();
    let c = Arc::new(Collector::new(t.store.clone()).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..500 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let agent = ua(i);
            let ip = format!("10.{}.{}.1", i / 250, i % 250);
            c.collect(beacon(false), &from(&ip, &agent), noon()).await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().counted);
    }
    let day = noon().date();
    assert_eq!(count(&c, day, "P#rust-book#S#direct").await, (500, 500));
    assert_eq!(
        t.store.salt_days().await.unwrap(),
        vec![day],
        "one salt for the day"
    );
}

#[tokio::test]
async fn a_visitor_counts_once_a_day_and_keeps_their_variant() {
    let t = TestTable::new().await.unwrap();
    let c = Collector::new(t.store.clone()).await.unwrap();
    let day = noon().date();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..12 {
        let agent = ua(i);
        let ip = format!("192.0.2.{}", i + 1);
        let first = c
            .collect(beacon(true), &from(&ip, &agent), noon())
            .await
            .unwrap();
        let again = c
            .collect(
                beacon(true),
                &from(&ip, &agent),
                noon() + Duration::hours(3),
            )
            .await
            .unwrap();
        assert_eq!(
            first.variants, again.variants,
            "the same variant on every visit"
        );
        assert_eq!(first.variants.len(), 1);
        seen.insert(first.variants[0].1.to_string());
    }
    assert_eq!(seen.len(), 2, "twelve visitors see both variants: {seen:?}");
    assert_eq!(count(&c, day, "P#rust-book#S#direct").await, (24, 12));
    let (a, b) = (
        count(&c, day, "P#rust-book#T#headline#a").await,
        count(&c, day, "P#rust-book#T#headline#b").await,
    );
    assert_eq!(
        (a.0 + b.0, a.1 + b.1),
        (24, 12),
        "every view in the test once"
    );

    // The same variants as checkout will compute them, without a beacon.
    let tests = vec![(
        kiosk::visit::Name::parse("headline").unwrap(),
        vec![
            kiosk::visit::Name::parse("a").unwrap(),
            kiosk::visit::Name::parse("b").unwrap(),
        ],
    )];
    let agent = ua(0);
    let answer = c
        .collect(beacon(true), &from("192.0.2.1", &agent), noon())
        .await
        .unwrap();
    assert_eq!(
        c.variants(&from("192.0.2.1", &agent), &tests),
        answer.variants
    );

    // A campaign is its own source.
    let mut b = beacon(false);
    b.utm_source = Some("Newsletter".into());
    c.collect(b, &from("192.0.2.99", &agent), noon())
        .await
        .unwrap();
    assert_eq!(count(&c, day, "P#rust-book#S#newsletter").await, (1, 1));
}

#[tokio::test]
async fn bots_opt_outs_and_bad_beacons_count_no_visitor() {
    let t = TestTable::new().await.unwrap();
    let c = Collector::new(t.store.clone()).await.unwrap();
    let day = noon().date();
    for bot in [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "curl/8.5.0",
        "Mozilla/5.0 HeadlessChrome/126",
    ] {
        let answer = c
            .collect(beacon(true), &from("192.0.2.7", bot), noon())
            .await
            .unwrap();
        assert!(!answer.counted, "{bot}");
        assert_eq!(
            answer.variants[0].1.as_str(),
            "a",
            "a bot sees the first variant"
        );
    }
    let mut private = from("192.0.2.8", "Mozilla/5.0 (Macintosh) Safari/605");
    private.opted_out = true;
    let answer = c.collect(beacon(true), &private, noon()).await.unwrap();
    assert!(answer.counted);
    assert_eq!(answer.variants[0].1.as_str(), "a");
    assert_eq!(
        count(&c, day, "P#rust-book#S#direct").await,
        (1, 0),
        "a view, no visitor"
    );
    assert_eq!(
        count(&c, day, "P#rust-book#T#headline#a").await,
        (0, 0),
        "not in the test"
    );
    assert!(
        t.scan_entity("visit").await.unwrap().is_empty(),
        "nothing derived from the visitor"
    );

    let agent = ua(1);
    for bad in [
        Beacon {
            products: vec![],
            ..beacon(false)
        },
        Beacon {
            products: vec!["Not A Product".into()],
            ..beacon(false)
        },
        Beacon {
            products: vec!["b".into(); 11],
            ..beacon(false)
        },
        Beacon {
            tests: vec![BeaconTest {
                name: "x".into(),
                variants: vec![],
            }],
            ..beacon(false)
        },
        Beacon {
            tests: vec![BeaconTest {
                name: "Bad Name".into(),
                variants: vec!["a".into()],
            }],
            ..beacon(false)
        },
    ] {
        assert!(
            c.collect(bad, &from("192.0.2.9", &agent), noon())
                .await
                .is_err()
        );
    }
    assert_eq!(
        count(&c, day, "P#rust-book#S#direct").await,
        (1, 0),
        "nothing more"
    );
}

#[tokio::test]
async fn the_days_salt_is_gone_from_the_table_and_from_memory_after_the_day() {
    let t = TestTable::new().await.unwrap();
    let c = Collector::new(t.store.clone()).await.unwrap();
    let agent = ua(3);
    let sender = from("192.0.2.3", &agent);
    c.collect(beacon(false), &sender, noon()).await.unwrap();
    let today = noon().date();
    assert_eq!(t.store.salt_days().await.unwrap(), vec![today]);
    assert_eq!(c.salt_in_memory(), Some(today));

    let tomorrow = noon() + Duration::days(1);
    c.collect(beacon(false), &sender, tomorrow).await.unwrap();
    assert_eq!(
        t.store.salt_days().await.unwrap(),
        vec![tomorrow.date()],
        "yesterday's deleted"
    );
    assert_eq!(c.salt_in_memory(), Some(tomorrow.date()), "and forgotten");
    // Yesterday's visitor is a new one today: nothing links the two days.
    assert_eq!(
        count(&c, tomorrow.date(), "P#rust-book#S#direct").await,
        (1, 1)
    );
    // A second instance, started cold, agrees on today's salt.
    let other = Collector::new(t.store.clone()).await.unwrap();
    other
        .collect(beacon(false), &sender, tomorrow)
        .await
        .unwrap();
    assert_eq!(
        count(&c, tomorrow.date(), "P#rust-book#S#direct").await,
        (2, 1)
    );
}

/// Checkout, seeing the same request identity as the page's beacon, records the variants
/// the buyer saw on the order; a buyer who opted out is in no test.
#[tokio::test]
async fn checkout_records_the_variants_the_buyer_saw() {
    use kiosk_e2e::{World, WorldOptions};
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let c = Collector::new(w.shop.store.clone()).await.unwrap();
    let tests = kiosk::visit::parse_tests("headline:a.b,price-box:x.y");
    for i in 0..6 {
        let agent = ua(i);
        let email = w.buyer(i as u32);
        let id = checkout_with_tests(&w, &email, "headline:a.b,price-box:x.y", &agent).await;
        let order = w.order(&id).await;
        // World's checkout carries no source address: the network is "unknown" to both.
        let seen = c.variants(
            &Sender {
                network: Network::of(None),
                user_agent: Some(&agent),
                site: SITE,
                opted_out: false,
            },
            &tests,
        );
        assert_eq!(order.variants, seen, "{i}");
        assert_eq!(order.variants.len(), 2);
    }
}

/// Two visitors on a page with a two-variant test see different variants; one buys. The
/// funnel then shows 2 visitors, 1 checkout, 1 paid (and its money), each on its
/// variant, and `kiosk funnel`'s table says so.
#[tokio::test]
async fn the_funnel_counts_visitors_checkouts_and_sales_per_variant() {
    use kiosk_e2e::{World, WorldOptions};
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    let c = Collector::new(w.shop.store.clone()).await.unwrap();
    let now = kiosk_e2e::now();
    let tests = kiosk::visit::parse_tests("headline:a.b");
    let buyer_agent = ua(100);
    let buyer_variant = c.variants(&unknown_network(&buyer_agent), &tests)[0]
        .1
        .clone();
    let other_agent = (101..200)
        .map(ua)
        .find(|a| c.variants(&unknown_network(a), &tests)[0].1 != buyer_variant)
        .expect("an agent that hashes to the other variant");
    for agent in [&buyer_agent, &other_agent] {
        let answer = c
            .collect(beacon(true), &unknown_network(agent), now)
            .await
            .unwrap();
        assert!(answer.counted);
    }
    let email = w.buyer(1);
    let id = checkout_with_tests(&w, &email, "headline:a.b", &buyer_agent).await;
    assert_eq!(
        w.notify_signed(id.as_str(), "9.00", "TRADE_SUCCESS")
            .await
            .0,
        200
    );

    let today = now.date();
    let f = w.shop.store.funnel(today, today, None).await.unwrap();
    let all = &f.by_product["rust-book"];
    assert_eq!(
        (all.visitors, all.checkouts, all.paid, all.downloaded),
        (2, 1, 1, 0)
    );
    assert_eq!(all.revenue.get("CNY"), Some(&900));
    let variants = &f.tests[&("rust-book".to_owned(), "headline".to_owned())];
    let bought = &variants[buyer_variant.as_str()];
    assert_eq!((bought.visitors, bought.checkouts, bought.paid), (1, 1, 1));
    let other = variants
        .iter()
        .find(|(v, _)| v.as_str() != buyer_variant.as_str())
        .map(|(_, s)| s)
        .unwrap();
    assert_eq!((other.visitors, other.checkouts, other.paid), (1, 0, 0));
}

/// A visitor as World's checkout is seen: no source address, so the network "unknown".
fn unknown_network(agent: &str) -> Sender<'_> {
    Sender {
        network: Network::of(None),
        user_agent: Some(agent),
        site: SITE,
        opted_out: false,
    }
}

/// `POST /t` through the collect function's handler: only a page of the shop's own site
/// (its `Origin`) is counted; anything else is refused and counts nothing.
#[tokio::test]
async fn only_the_shops_pages_are_counted() {
    use lambda_http::Body;
    let t = TestTable::new().await.unwrap();
    let c = Collector::new(t.store.clone()).await.unwrap();
    let config = kiosk::config::CollectConfig {
        table_name: t.name.clone(),
        sites: vec![SITE.to_owned()],
    };
    let body = r#"{"products":["rust-book"],"path":"/","tests":[{"name":"headline","variants":["a","b"]}]}"#;
    let send = |method: &str, origin: Option<&str>, body: &str| {
        let mut req = lambda_http::http::Request::builder()
            .method(method)
            .uri("https://api.example.com/t")
            .header("content-type", "text/plain;charset=UTF-8")
            .header("user-agent", ua(7));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.body(Body::Text(body.to_owned())).unwrap()
    };
    let now = noon();
    let resp = collect::handler::handle(&c, &config, send("POST", Some(SITE), body), now).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], SITE);
    let v: serde_json::Value = serde_json::from_str(&kiosk_e2e::body_string(&resp)).unwrap();
    assert_eq!(v["counted"], true);
    assert!(
        matches!(v["variants"]["headline"].as_str(), Some("a" | "b")),
        "{v}"
    );

    for (method, origin, body, status) in [
        ("POST", None, body, 403),
        ("POST", Some("https://evil.example"), body, 403),
        ("GET", Some(SITE), "", 405),
        ("POST", Some(SITE), "{not json", 400),
        (
            "POST",
            Some(SITE),
            r#"{"products":["rust-book"],"extra":1}"#,
            400,
        ),
        ("POST", Some(SITE), &"x".repeat(5000), 413),
    ] {
        let resp = collect::handler::handle(&c, &config, send(method, origin, body), now).await;
        assert_eq!(resp.status(), status, "{method} {origin:?} {body:.40}");
    }
    assert_eq!(
        count(&c, now.date(), "P#rust-book#S#direct").await,
        (1, 1),
        "only the shop's page counted"
    );
}

/// A form checkout of `rust-book` from a page with `tests`, as `agent`; its order.
async fn checkout_with_tests(
    w: &kiosk_e2e::World,
    email: &str,
    tests: &str,
    agent: &str,
) -> kiosk::OrderId {
    let body = kiosk::form::encode_pairs(&[
        ("product_id".into(), "rust-book".into()),
        ("email".into(), email.into()),
        ("tests".into(), tests.into()),
    ]);
    let resp = w
        .checkout(
            &body,
            "application/x-www-form-urlencoded",
            "text/html",
            agent,
        )
        .await;
    assert_eq!(resp.status(), 303);
    let url = resp.headers()["location"].to_str().unwrap().to_owned();
    let query = kiosk::alipay::parse_form(url.split_once('?').unwrap().1).unwrap();
    let biz: serde_json::Value = serde_json::from_str(&query["biz_content"]).unwrap();
    kiosk::OrderId::parse(biz["out_trade_no"].as_str().unwrap()).unwrap()
}
