//! The visitor funnel's counting (`kiosk::collect::Collector`) against the emulator: exact
//! counts under concurrency, one visitor a day however many views, bots and opted-out
//! visitors, stable variants, the daily salt gone from the table and from memory once
//! the day is over; and what a script cannot do (issue 33): name its own tests or
//! products, add visitors by changing its User-Agent, make source rows by the thousand,
//! write more than a fixed number of items, or make an order record a variant its page
//! did not show.

use std::sync::Arc;

use kiosk::collect::{Beacon, BeaconTest, Collector, Sender};
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
async fn count(store: &kiosk::store::Store, day: time::Date, row: &str) -> (u64, u64) {
    store
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

/// The shop's side of these tests: the product `rust-book` and the registered test
/// `headline` (a, b).
async fn shop(store: &kiosk::store::Store) {
    let p = kiosk_e2e::product("rust-book", "9.00");
    match store.create_product(&p, noon()).await {
        Ok(()) | Err(kiosk::store::StoreError::ProductExists(_)) => {}
        Err(e) => panic!("{e}"),
    }
    register(store, "headline", &["a", "b"]).await;
}

async fn register(store: &kiosk::store::Store, name: &str, variants: &[&str]) {
    let t = kiosk::abtest::AbTest {
        name: kiosk::visit::Name::parse(name).unwrap(),
        variants: variants
            .iter()
            .map(|v| kiosk::visit::Name::parse(v).unwrap())
            .collect(),
        product: None,
        created_at: noon() - Duration::days(1),
        stopped_at: None,
    };
    assert!(store.create_test(&t).await.unwrap());
}

/// A collector over `t`'s table with the shop's product and test.
async fn collector(t: &TestTable) -> Collector {
    shop(&t.store).await;
    Collector::from_parts(t.store.clone()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_visitors_count_exactly_five_hundred() {
    let t = TestTable::new().await.unwrap();
    let c = Arc::new(collector(&t).await);
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
    assert_eq!(
        count(&t.store, day, "P#rust-book#S#direct").await,
        (500, 500)
    );
    assert_eq!(
        t.store.salt_days().await.unwrap(),
        vec![day],
        "one salt for the day"
    );
}

#[tokio::test]
async fn a_visitor_counts_once_a_day_and_keeps_their_variant() {
    let t = TestTable::new().await.unwrap();
    let c = collector(&t).await;
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
    assert_eq!(count(&t.store, day, "P#rust-book#S#direct").await, (24, 12));
    let (a, b) = (
        count(&t.store, day, "P#rust-book#T#headline#a").await,
        count(&t.store, day, "P#rust-book#T#headline#b").await,
    );
    assert_eq!(
        (a.0 + b.0, a.1 + b.1),
        (24, 12),
        "every view in the test once"
    );

    // The answer's token carries exactly the answer's variants.
    let agent = ua(0);
    let answer = c
        .collect(beacon(true), &from("192.0.2.1", &agent), noon())
        .await
        .unwrap();
    let secret = t.store.variant_secret().await.unwrap();
    assert_eq!(
        kiosk::abtest::VariantToken::verify(&secret, answer.token.unwrap().as_str(), noon())
            .map(|s| s.variants),
        Some(answer.variants)
    );

    // A campaign is its own source.
    let mut b = beacon(false);
    b.utm_source = Some("Newsletter".into());
    c.collect(b, &from("192.0.2.99", &agent), noon())
        .await
        .unwrap();
    assert_eq!(
        count(&t.store, day, "P#rust-book#S#newsletter").await,
        (1, 1)
    );
}

#[tokio::test]
async fn bots_opt_outs_and_bad_beacons_count_no_visitor() {
    let t = TestTable::new().await.unwrap();
    let c = collector(&t).await;
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
        assert!(
            answer.variants.is_empty() && answer.token.is_none(),
            "a bot gets no variant (the page shows its first)"
        );
    }
    let mut private = from("192.0.2.8", "Mozilla/5.0 (Macintosh) Safari/605");
    private.opted_out = true;
    let answer = c.collect(beacon(true), &private, noon()).await.unwrap();
    assert!(answer.counted);
    assert_eq!(answer.variants[0].1.as_str(), "a");
    assert!(
        answer.token.is_none(),
        "in no test, so nothing for checkout to record"
    );
    assert_eq!(
        count(&t.store, day, "P#rust-book#S#direct").await,
        (1, 0),
        "a view, no visitor"
    );
    assert_eq!(
        count(&t.store, day, "P#rust-book#T#headline#a").await,
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
        count(&t.store, day, "P#rust-book#S#direct").await,
        (1, 0),
        "nothing more"
    );
}

#[tokio::test]
async fn the_days_salt_is_gone_from_the_table_and_from_memory_after_the_day() {
    let t = TestTable::new().await.unwrap();
    let c = collector(&t).await;
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
        count(&t.store, tomorrow.date(), "P#rust-book#S#direct").await,
        (1, 1)
    );
    // A second instance, started cold, agrees on today's salt.
    let other = Collector::from_parts(t.store.clone()).await.unwrap();
    other
        .collect(beacon(false), &sender, tomorrow)
        .await
        .unwrap();
    assert_eq!(
        count(&t.store, tomorrow.date(), "P#rust-book#S#direct").await,
        (2, 1)
    );
}

/// Checkout records exactly the variants of the token the page's answer carried: never
/// recomputed, so a buyer whose network changed, or whose page showed the first variants
/// because the answer came late (kiosk.js then passes no token), records what the page
/// showed or nothing; a forged or altered token records nothing.
#[tokio::test]
async fn checkout_records_the_variants_the_page_showed_or_none() {
    use kiosk_e2e::{World, WorldOptions};
    let w = World::new(WorldOptions::default()).await.unwrap();
    shop(&w.t.store).await;
    register(&w.t.store, "price-box", &["x", "y"]).await;
    let c = Collector::from_parts(w.t.store.clone()).await.unwrap();
    let mut b = beacon(true);
    b.tests.push(BeaconTest {
        name: "price-box".into(),
        variants: vec!["x".into(), "y".into()],
    });
    for i in 0..6 {
        let agent = ua(i);
        let answer = c
            .collect(
                clone_beacon(&b),
                &from(&format!("198.51.100.{i}"), &agent),
                kiosk_e2e::now(),
            )
            .await
            .unwrap();
        assert_eq!(answer.variants.len(), 2);
        let token = answer.token.clone().unwrap();
        // Checked out from another network and another agent: the token decides.
        let id =
            checkout_with_variants(&w, &w.buyer(i as u32), Some(token.as_str()), &ua(99)).await;
        assert_eq!(w.order(&id).await.variants, answer.variants, "{i}");
    }
    // The answer came after the page's wait: kiosk.js passes no token, nothing recorded.
    let id = checkout_with_variants(&w, &w.buyer(50), None, &ua(1)).await;
    assert!(w.order(&id).await.variants.is_empty());
    // A token altered to the other variant, or made up: nothing recorded.
    let answer = c
        .collect(
            clone_beacon(&b),
            &from("198.51.100.77", &ua(1)),
            kiosk_e2e::now(),
        )
        .await
        .unwrap();
    let token = answer.token.unwrap();
    let (test, shown) = &answer.variants[0];
    let other = if shown.as_str() == "a" { "b" } else { "a" };
    let altered =
        token
            .as_str()
            .replacen(&format!("{test}:{shown}"), &format!("{test}:{other}"), 1);
    for bad in [
        altered.as_str(),
        "headline:b.1800000000.00112233445566778899aabbccddeeff",
    ] {
        let id = checkout_with_variants(&w, &w.buyer(51), Some(bad), &ua(1)).await;
        assert!(w.order(&id).await.variants.is_empty(), "{bad}");
    }
}

fn clone_beacon(b: &Beacon) -> Beacon {
    Beacon {
        products: b.products.clone(),
        path: b.path.clone(),
        referrer: b.referrer.clone(),
        utm_source: b.utm_source.clone(),
        tests: b
            .tests
            .iter()
            .map(|t| BeaconTest {
                name: t.name.clone(),
                variants: t.variants.clone(),
            })
            .collect(),
    }
}

/// Two visitors on a page with a two-variant test see different variants; one buys. The
/// funnel then shows 2 visitors, 1 checkout, 1 paid (and its money), each on its
/// variant, and `kiosk funnel`'s table says so.
#[tokio::test]
async fn the_funnel_counts_visitors_checkouts_and_sales_per_variant() {
    use kiosk_e2e::{World, WorldOptions};
    let w = World::new(WorldOptions::default()).await.unwrap();
    shop(&w.t.store).await;
    let c = Collector::from_parts(w.t.store.clone()).await.unwrap();
    let now = kiosk_e2e::now();
    let buyer_agent = ua(100);
    let bought = c
        .collect(beacon(true), &unknown_network(&buyer_agent), now)
        .await
        .unwrap();
    assert!(bought.counted);
    let buyer_variant = bought.variants[0].1.clone();
    let mut other_seen = false;
    for i in 101..200 {
        let agent = ua(i);
        let a = c
            .collect(beacon(true), &unknown_network(&agent), now)
            .await
            .unwrap();
        if a.variants[0].1 != buyer_variant {
            other_seen = true;
            break;
        }
    }
    assert!(other_seen, "an agent that hashes to the other variant");
    let email = w.buyer(1);
    let id = checkout_with_variants(
        &w,
        &email,
        bought.token.as_ref().map(|t| t.as_str()),
        &buyer_agent,
    )
    .await;
    assert_eq!(
        w.notify_signed(id.as_str(), "9.00", "TRADE_SUCCESS")
            .await
            .0,
        200
    );

    let today = now.date();
    let f = kiosk::funnel::report(&w.t.store, today, today, None)
        .await
        .unwrap();
    let all = &f.by_product["rust-book"];
    let visitors = all.visitors;
    assert!(visitors >= 2, "{visitors}");
    assert_eq!(
        (
            all.checkouts,
            all.converted(),
            all.sales.sales,
            all.downloaded
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(all.sales.net.get(&kiosk::Currency::Cny), Some(&900));
    let variants = &f.tests[&("rust-book".to_owned(), "headline".to_owned())];
    let on_bought = &variants[buyer_variant.as_str()];
    assert_eq!((on_bought.checkouts, on_bought.sales.sales), (1, 1));
    let other = variants
        .iter()
        .find(|(v, _)| v.as_str() != buyer_variant.as_str())
        .map(|(_, s)| s)
        .unwrap();
    assert_eq!(
        (other.visitors, other.checkouts, other.sales.sales),
        (1, 0, 0)
    );
    assert_eq!(
        variants.values().map(|s| s.visitors).sum::<u64>(),
        visitors,
        "every visitor in the test once"
    );
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
    let c = collector(&t).await;
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
        count(&t.store, now.date(), "P#rust-book#S#direct").await,
        (1, 1),
        "only the shop's page counted"
    );
}

/// A form checkout of `rust-book` carrying the page's variant token `vt`, as `agent`;
/// its order.
async fn checkout_with_variants(
    w: &kiosk_e2e::World,
    email: &str,
    vt: Option<&str>,
    agent: &str,
) -> kiosk::OrderId {
    let mut pairs = vec![
        ("product_id".to_owned(), "rust-book".to_owned()),
        ("email".to_owned(), email.to_owned()),
    ];
    if let Some(vt) = vt {
        pairs.push(("vt".to_owned(), vt.to_owned()));
    }
    let body = kiosk::form::encode_pairs(&pairs);
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

/// What one script cannot do to the counts (issue 33).
#[tokio::test]
async fn a_script_cannot_name_its_own_tests_products_or_visitors() {
    let t = TestTable::new().await.unwrap();
    let c = collector(&t).await;
    let day = noon().date();
    // Unregistered test, a registered test with other variants, an unknown product:
    // nothing stored for them, and no variant answered for them.
    let mut b = beacon(false);
    b.products = vec!["rust-book".into(), "no-such-book".into()];
    b.tests = vec![
        BeaconTest {
            name: "made-up".into(),
            variants: vec!["a".into(), "b".into()],
        },
        BeaconTest {
            name: "headline".into(),
            variants: vec!["b".into()],
        },
    ];
    let answer = c
        .collect(b, &from("192.0.2.60", &ua(60)), noon())
        .await
        .unwrap();
    // No variants; the token carries the visit only.
    let secret = t.store.variant_secret().await.unwrap();
    let signed = answer
        .token
        .as_ref()
        .and_then(|tk| kiosk::abtest::VariantToken::verify(&secret, tk.as_str(), noon()));
    assert!(
        answer.variants.is_empty() && signed.is_some_and(|s| s.variants.is_empty()),
        "{answer:?}"
    );
    let rows: Vec<String> = t
        .store
        .views_of(day)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.row)
        .collect();
    assert_eq!(
        rows,
        ["P#rust-book#S#direct"],
        "only the real product, in no test"
    );
    // A beacon about no product of the shop counts nothing at all.
    let mut b = beacon(true);
    b.products = vec!["no-such-book".into()];
    let answer = c
        .collect(b, &from("192.0.2.61", &ua(61)), noon())
        .await
        .unwrap();
    assert!(!answer.counted);
    assert_eq!(t.store.views_of(day).await.unwrap().len(), 1);

    // Fifty User-Agents from one network: at most the day's cap of new visitors.
    for i in 0..50 {
        c.collect(beacon(true), &from("203.0.113.200", &ua(1000 + i)), noon())
            .await
            .unwrap();
    }
    let (views, visitors) = count(&t.store, day, "P#rust-book#S#direct").await;
    assert_eq!(views, 51);
    assert_eq!(
        visitors,
        1 + u64::from(kiosk::collect::NEW_VISITORS_PER_NETWORK_DAY),
        "the network adds at most its cap"
    );
    let (a, b) = (
        count(&t.store, day, "P#rust-book#T#headline#a").await,
        count(&t.store, day, "P#rust-book#T#headline#b").await,
    );
    assert_eq!(
        a.1 + b.1,
        u64::from(kiosk::collect::NEW_VISITORS_PER_NETWORK_DAY)
    );

    // Sources: the day's first SOURCES_PER_DAY get rows of their own, the rest `other`.
    let extra = kiosk::collect::SOURCES_PER_DAY + 10;
    for i in 0..extra {
        let mut b = beacon(false);
        b.utm_source = Some(format!("junk{i}"));
        c.collect(b, &from(&format!("198.51.100.{}", i % 200), &ua(i)), noon())
            .await
            .unwrap();
    }
    let rows = t.store.views_of(day).await.unwrap();
    let sources = rows
        .iter()
        .filter(|r| r.row.starts_with("P#rust-book#S#junk"))
        .count();
    assert_eq!(sources, kiosk::collect::SOURCES_PER_DAY);
    let other = rows
        .iter()
        .find(|r| r.row == "P#rust-book#S#other")
        .expect("the rest count as other");
    assert_eq!(other.views, 10);
}

/// One beacon with ten products and five tests, every one registered, writes at most
/// `MAX_WRITES_PER_BEACON` items (counted from the requests the emulator recorded).
#[tokio::test]
async fn one_beacon_writes_a_bounded_number_of_items() {
    let t = TestTable::new().await.unwrap();
    shop(&t.store).await;
    let mut products = Vec::new();
    for i in 0..10 {
        let id = format!("book-{i}");
        t.store
            .create_product(&kiosk_e2e::product(&id, "9.00"), noon())
            .await
            .unwrap();
        products.push(id);
    }
    let mut tests = Vec::new();
    for i in 0..4 {
        let name = format!("test-{i}");
        register(&t.store, &name, &["a", "b"]).await;
        tests.push(BeaconTest {
            name,
            variants: vec!["a".into(), "b".into()],
        });
    }
    tests.push(BeaconTest {
        name: "headline".into(),
        variants: vec!["a".into(), "b".into()],
    });
    // A store whose every request the emulator records under its own app id.
    let (store, app) =
        kiosk_e2e::recording_store(&t.name, &t.name.replace("kiosk-test-", ""), "beacon-writes")
            .await
            .unwrap();
    let c = Collector::from_parts(store).await.unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let http = reqwest::Client::new();
    let writes = |recorded: &[kiosk_localaws::iam::Recorded]| {
        recorded
            .iter()
            .filter(|r| {
                [
                    "PutItem",
                    "UpdateItem",
                    "DeleteItem",
                    "TransactWriteItems",
                    "BatchWriteItem",
                ]
                .iter()
                .any(|op| r.target.ends_with(&format!(".{op}")))
            })
            .count()
    };
    // The day's first beacon makes the day's salt (one more write, once a day).
    c.collect(beacon(false), &from("192.0.2.89", &ua(89)), noon())
        .await
        .unwrap();
    let before = writes(
        &kiosk_localaws::iam::recorded(&http, &endpoint, &app)
            .await
            .unwrap(),
    );
    let b = Beacon {
        products,
        path: Some("/".into()),
        referrer: Some("news.example.org".into()),
        utm_source: None,
        tests,
    };
    let answer = c
        .collect(b, &from("192.0.2.90", &ua(90)), noon())
        .await
        .unwrap();
    assert!(answer.counted);
    assert_eq!(answer.variants.len(), 5);
    let after = writes(
        &kiosk_localaws::iam::recorded(&http, &endpoint, &app)
            .await
            .unwrap(),
    );
    let n = after - before;
    assert!(
        n <= kiosk::collect::MAX_WRITES_PER_BEACON,
        "{n} writes, more than {}",
        kiosk::collect::MAX_WRITES_PER_BEACON
    );
    // Beacon count, visit marker, new visitor, new source, source row, five test rows.
    assert_eq!(n, 10);
}

/// The case issue 34 found on `make dev`: one visitor of the example site buys the book
/// twice, through the buy links the site tags `utm_source=example-site`. Their views and
/// their orders count under one source (the visit's: the site they came from), and the
/// funnel converts visitors: 1 visitor, 1 converted, 2 paid, two sales' revenue; the
/// variant they saw converts 1 of 1, not "2 of 1, clamped".
#[tokio::test]
async fn one_visitor_who_buys_twice_is_one_conversion_with_two_sales() {
    use kiosk_e2e::{World, WorldOptions};
    let w = World::new(WorldOptions::default()).await.unwrap();
    shop(&w.t.store).await;
    let c = Collector::from_parts(w.t.store.clone()).await.unwrap();
    let now = kiosk_e2e::now();
    let agent = ua(7);
    let mut b = beacon(true);
    b.referrer = Some("Forum.Example.org".into());
    let answer = c.collect(b, &unknown_network(&agent), now).await.unwrap();
    assert!(answer.counted);
    let token = answer.token.expect("a counted visitor gets a visit token");
    let variant = answer.variants[0].1.clone();
    for i in 0..2 {
        let body = kiosk::form::encode_pairs(&[
            ("product_id".to_owned(), "rust-book".to_owned()),
            ("email".to_owned(), w.buyer(60 + i)),
            ("utm_source".to_owned(), "example-site".to_owned()),
            ("vt".to_owned(), token.as_str().to_owned()),
        ]);
        let resp = w
            .checkout(
                &body,
                "application/x-www-form-urlencoded",
                "text/html",
                &agent,
            )
            .await;
        assert_eq!(resp.status(), 303);
        let url = resp.headers()["location"].to_str().unwrap().to_owned();
        let query = kiosk::alipay::parse_form(url.split_once('?').unwrap().1).unwrap();
        let biz: serde_json::Value = serde_json::from_str(&query["biz_content"]).unwrap();
        let id = biz["out_trade_no"].as_str().unwrap().to_owned();
        let order = w.order(&kiosk::OrderId::parse(&id).unwrap()).await;
        assert_eq!(
            order.source.visit.as_ref().map(|v| v.source.as_str()),
            Some("forum.example.org")
        );
        assert_eq!(order.source.utm_source.as_deref(), Some("example-site"));
        assert_eq!(w.notify_signed(&id, "9.00", "TRADE_SUCCESS").await.0, 200);
    }

    let today = now.date();
    let f = kiosk::funnel::report(&w.t.store, today, today, None)
        .await
        .unwrap();
    let key = ("rust-book".to_owned(), "forum.example.org".to_owned());
    let s = &f.by_source[&key];
    assert_eq!(
        (s.visitors, s.checkouts, s.converted(), s.sales.sales),
        (1, 2, 1, 2),
        "{:?}",
        f.by_source
    );
    assert_eq!(s.sales.net.get(&kiosk::Currency::Cny), Some(&1800));
    assert!(
        !f.by_source.keys().any(|(_, src)| src == "example-site"),
        "the link's tag does not split the visit: {:?}",
        f.by_source.keys()
    );
    let variants = &f.tests[&("rust-book".to_owned(), "headline".to_owned())];
    let table = kiosk::funnel::ab_table(variants);
    let row = table
        .rows
        .iter()
        .find(|r| r[0] == variant.as_str())
        .unwrap();
    // variant, visitors, converted, paid, conversion, …, revenue/visitor
    assert_eq!(
        (
            &row[1][..],
            &row[2][..],
            &row[3][..],
            &row[4][..],
            &row[6][..]
        ),
        ("1", "1", "2", "100.0%", "18.00 CNY")
    );
    // The HTML report renders these same numbers (the CLI's html_report tests).
}
