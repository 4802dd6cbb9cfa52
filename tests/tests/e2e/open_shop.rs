//! The shop's public endpoints against a script with many networks and other people's
//! browsers (issue 33), in process against the locked emulator: free copies mailed only
//! from the shop's own page and within every cap, codes that cannot be guessed, one
//! pending use of a code per network, and no address stored.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kiosk::order::{MailBlock, MailBlockKind};
use kiosk::pricing::{CodeName, Discount};
use kiosk::{Email, OrderId};
use kiosk_e2e::{
    World, WorldOptions, body_string, buy_page_from, checkout_from, claim_of, claim_token, now,
    order_form as form, sample_code as code,
};

/// Every mail the emulator sent to a buyer of this world.
async fn mails_of(w: &World, buyers: impl IntoIterator<Item = String>) -> usize {
    let mut n = 0;
    for b in buyers {
        n += w.mails_to(&b).await.len();
    }
    n
}

/// The JSON log lines written while `f` runs on this thread (the tests' runtime is
/// single-threaded, so the subscriber sees all of the handler's events).
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || Logs(writer.clone()))
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn free_copies_are_mailed_only_from_the_shops_page_and_one_48_gets_its_limit() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("sampler", "0.00").await;

    // A hidden form another site auto-submits from its visitor's browser: no token, so
    // a page to confirm, and nothing written or mailed.
    let victim = w.buyer(1);
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &victim, &[]),
        "text/html",
        "198.51.100.1",
    )
    .await;
    let page = body_string(&resp);
    assert_eq!(resp.status(), 200, "{page}");
    assert!(page.contains("Confirm your free copy"), "{page}");
    // A forged or stale token is no better.
    for forged in ["1800000000.00112233445566778899aabbccddeeff", "junk"] {
        let resp = checkout_from(
            &w.checkout,
            &form("sampler", &victim, &[("claim", forged)]),
            "application/json",
            "198.51.100.1",
        )
        .await;
        assert_eq!(resp.status(), 403, "{}", body_string(&resp));
    }
    // Another network's token does not count here either.
    let elsewhere = claim_token(&w.checkout, "sampler", "203.0.113.9").await;
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &victim, &[("claim", &elsewhere)]),
        "application/json",
        "198.51.100.1",
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(w.mails_to(&victim).await.is_empty());
    assert!(w.t.scan_entity("order").await.unwrap().is_empty());
    // The person who sees the confirming page and presses its button gets the mail.
    let confirm = claim_of(&page).expect("the confirming page carries a token");
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &victim, &[("claim", &confirm)]),
        "text/html",
        "198.51.100.1",
    )
    .await;
    assert!(body_string(&resp).contains("Check your email"));
    assert_eq!(w.mails_to(&victim).await.len(), 1);

    // A claim made free by a 100% code: the page to confirm carries the code along, so
    // the confirmed claim is the same free claim.
    w.add_product("rust-book", "9.00").await;
    let gift = code("GIFT", Discount::Percent(100), Some(3));
    assert!(w.t.store.create_code(&gift).await.unwrap());
    let gifted = w.buyer(3);
    let resp = checkout_from(
        &w.checkout,
        &form("rust-book", &gifted, &[("code", "gift")]),
        "text/html",
        "198.51.100.3",
    )
    .await;
    let page = body_string(&resp);
    assert!(
        page.contains("Confirm your free copy") && page.contains("name=\"code\" value=\"gift\""),
        "{page}"
    );
    let resp = checkout_from(
        &w.checkout,
        &form(
            "rust-book",
            &gifted,
            &[("code", "gift"), ("claim", &claim_of(&page).unwrap())],
        ),
        "text/html",
        "198.51.100.3",
    )
    .await;
    assert!(body_string(&resp).contains("Check your email"));
    assert_eq!(w.mails_to(&gifted).await.len(), 1);

    // 1,000 claims from 1,000 /64s of one /48, with a token the buy page gave one of
    // them: one network, so at most the per-network limit (5) are mailed.
    let token = claim_token(&w.checkout, "sampler", "2001:db8:77::1").await;
    let statuses: Vec<u16> = futures::stream::iter(0..1000u32)
        .map(|i| {
            let body = form(
                "sampler",
                &format!("spam{i}@example.net"),
                &[("claim", &token)],
            );
            let checkout = &w.checkout;
            Box::pin(async move {
                let ip = format!("2001:db8:77:{i:x}::1");
                Box::pin(checkout_from(checkout, &body, "application/json", &ip))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5);
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
    let spam = (0..1000).map(|i| format!("spam{i}@example.net"));
    assert_eq!(mails_of(&w, spam).await, 5);

    // An address whose mail bounced gets no free copy, and the answer does not say so.
    let bounced = w.buyer(2);
    w.t.store
        .block_address(
            &Email::parse(&bounced).unwrap(),
            &MailBlock {
                kind: MailBlockKind::Bounced,
                at: now(),
                detail: "Permanent/General".into(),
            },
        )
        .await
        .unwrap();
    let token = claim_token(&w.checkout, "sampler", "192.0.2.77").await;
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &bounced, &[("claim", &token)]),
        "application/json",
        "192.0.2.77",
    )
    .await;
    let reply = body_string(&resp);
    assert_eq!(resp.status(), 200, "{reply}");
    assert_eq!(reply, format!("{{\"mailed_to\":\"{bounced}\"}}"));
    assert!(w.mails_to(&bounced).await.is_empty());
}

#[tokio::test]
async fn claims_from_many_networks_stop_at_the_shop_wide_cap_and_say_so_in_the_log() {
    let mut w = World::new(WorldOptions::default()).await.unwrap();
    w.reconfigure_checkout(|c| c.free.per_hour = 5)
        .await
        .unwrap();
    w.add_product("sampler", "0.00").await;
    // Twelve networks (IPv6 /48s), each with its own token from the shop's page.
    let mut claims = Vec::new();
    for n in 0..12u32 {
        let ip = format!("2001:db8:{:x}::1", 0x100 + n);
        let token = claim_token(&w.checkout, "sampler", &ip).await;
        claims.push((ip, form("sampler", &w.buyer(100 + n), &[("claim", &token)])));
    }
    let (logs, guard) = capture_logs();
    let statuses: Vec<u16> = futures::future::join_all(claims.iter().map(|(ip, body)| {
        let checkout = &w.checkout;
        async move {
            checkout_from(checkout, body, "application/json", ip)
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    drop(guard);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(mails_of(&w, (100..112).map(|n| w.buyer(n))).await, 5);
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let capped = logs
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["fields"]["message"] == kiosk::alarm::FREE_CAP_REACHED)
        })
        .count();
    assert_eq!(capped, 7, "the FreeCapReached metric counts each refusal");
    // The 429 page says what happened.
    let token = claim_token(&w.checkout, "sampler", "203.0.113.50").await;
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &w.buyer(200), &[("claim", &token)]),
        "text/html",
        "203.0.113.50",
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert!(body_string(&resp).contains("as many free copies as it can"));
}

#[tokio::test]
async fn codes_cannot_be_told_apart_or_guessed() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    w.add_product("other-book", "9.00").await;
    kiosk_e2e::unusable_codes(&w.t.store).await;
    let launch = code("LAUNCH", Discount::Percent(50), None);
    assert!(w.t.store.create_code(&launch).await.unwrap());
    // Unknown, expired, disabled and another product's: byte-identical answers, from
    // checkout and from the buy page (each from its own network, within its allowance).
    let mut answers = Vec::new();
    let mut pages = Vec::new();
    for (i, c) in ["NOPE", "old", "off", "other", "bad code!"]
        .iter()
        .enumerate()
    {
        let ip = format!("192.0.2.{}", 10 + i);
        let resp = checkout_from(
            &w.checkout,
            &form("rust-book", &w.buyer(1), &[("code", c)]),
            "application/json",
            &ip,
        )
        .await;
        assert_eq!(resp.status(), 400);
        answers.push(body_string(&resp));
        let (status, page) = buy_page_from(
            &w.checkout,
            &format!(
                "/buy/rust-book?{}",
                kiosk::form::encode_pairs(&[("code".to_owned(), (*c).to_owned())])
            ),
            &ip,
        )
        .await;
        assert_eq!(status, 200);
        let token = claim_of(&page).unwrap();
        pages.push(page.replace(&token, "TOKEN"));
    }
    assert!(answers.windows(2).all(|a| a[0] == a[1]), "{answers:#?}");
    assert!(pages.windows(2).all(|p| p[0] == p[1]));
    assert!(pages[0].contains("cannot be used here") && pages[0].contains("¥9.00"));
    // A malformed code is never shown as applied.
    let (_, page) = buy_page_from(&w.checkout, "/buy/rust-book?code=LAUNCH%21", "192.0.2.30").await;
    assert!(!page.contains("instead of"), "{page}");
    assert!(page.contains("cannot be used here"));
    // A code on a free product is refused, not spent.
    w.add_product("sampler", "0.00").await;
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &w.buyer(2), &[("code", "LAUNCH")]),
        "application/json",
        "192.0.2.31",
    )
    .await;
    assert_eq!(resp.status(), 400, "{}", body_string(&resp));
    assert!(body_string(&resp).contains("free"));

    // 200 wrong codes from one network: the first 10 are answered, then 429 (and the
    // real code no longer helps from there).
    let mut statuses = Vec::new();
    for i in 0..200 {
        let path = format!("/buy/rust-book?code=GUESS{i}");
        statuses.push(buy_page_from(&w.checkout, &path, "198.51.100.200").await.0);
        if i == 100 {
            let resp = checkout_from(
                &w.checkout,
                &form("rust-book", &w.buyer(3), &[("code", "LAUNCH")]),
                "application/json",
                "198.51.100.200",
            )
            .await;
            assert_eq!(resp.status(), 429);
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert!(statuses[10..].iter().all(|s| *s == 429));
    // A code that works costs a network nothing.
    for _ in 0..15 {
        let (status, page) =
            buy_page_from(&w.checkout, "/buy/rust-book?code=launch", "198.51.100.201").await;
        assert_eq!(status, 200);
        assert!(page.contains("¥4.50"));
    }
    // A `--random` code: 16 characters of 32 letters, 80 bits (pricing's unit test
    // checks the alphabet; the CLI test makes one).
    let random = CodeName::random().unwrap();
    assert_eq!(random.as_str().len(), 16);
    assert_ne!(random, CodeName::random().unwrap());
}

#[tokio::test]
async fn one_network_holds_at_most_one_pending_use_of_a_code() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.99").await;
    let launch = code("LAUNCH", Discount::Percent(20), Some(5));
    assert!(w.t.store.create_code(&launch).await.unwrap());
    let uses = || w.code_uses(launch.name());
    // Twenty checkouts one after another from one network (tabs, a script).
    let mut ids = Vec::new();
    for n in 0..20 {
        let resp = checkout_from(
            &w.checkout,
            &form("rust-book", &w.buyer(n), &[("code", "launch")]),
            "application/json",
            "192.0.2.44",
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
        assert_eq!(resp.status(), 200, "{v}");
        ids.push(OrderId::parse(v["order_id"].as_str().unwrap()).unwrap());
    }
    assert_eq!(uses().await, 1, "one network holds one use");
    // Each new checkout took the use over: only the newest names the code; the earlier
    // ones stay payable at the price they were offered, and their expiry gives nothing
    // back.
    let newest = w.order(ids.last().unwrap()).await;
    assert_eq!(newest.status(), kiosk::OrderStatus::Pending);
    assert_eq!(newest.code.as_ref().map(|c| c.as_str()), Some("LAUNCH"));
    for id in &ids[..19] {
        let o = w.order(id).await;
        assert_eq!(
            (o.status(), o.code.is_none()),
            (kiosk::OrderStatus::Pending, true)
        );
        assert_eq!(o.amount.minor(), 799, "the price it was offered");
    }
    // A burst from the same network still holds at most one.
    let burst = futures::future::join_all((0..6).map(|n| {
        let body = form("rust-book", &w.buyer(50 + n), &[("code", "launch")]);
        let checkout = &w.checkout;
        async move {
            checkout_from(checkout, &body, "application/json", "192.0.2.44")
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(burst.iter().all(|s| *s == 200 || *s == 409), "{burst:?}");
    assert_eq!(uses().await, 1);
    // Four other networks still get the other four uses, and a fifth finds it used up.
    for n in 0..5u32 {
        let resp = checkout_from(
            &w.checkout,
            &form("rust-book", &w.buyer(100 + n), &[("code", "launch")]),
            "application/json",
            &format!("203.0.113.{}", 60 + n),
        )
        .await;
        let expected = if n < 4 { 200 } else { 400 };
        assert_eq!(resp.status(), expected, "{}", body_string(&resp));
    }
    assert_eq!(uses().await, 5);

    // Once a network's order with a code is paid, its next checkout needs a use of its
    // own (here: none left).
    let spring = code("SPRING", Discount::Percent(10), Some(2));
    assert!(w.t.store.create_code(&spring).await.unwrap());
    let w = &w;
    let checkout = |n: u32| {
        let body = form("rust-book", &w.buyer(200 + n), &[("code", "spring")]);
        async move { checkout_from(&w.checkout, &body, "application/json", "192.0.2.45").await }
    };
    let resp = checkout(0).await;
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    let first = v["order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        w.notify_signed(&first, "8.99", "TRADE_SUCCESS").await.0,
        200
    );
    assert_eq!(checkout(1).await.status(), 200);
    let spring_uses =
        w.t.store
            .get_code(spring.name())
            .await
            .unwrap()
            .unwrap()
            .uses();
    assert_eq!(spring_uses, 2, "the paid order's and the new one's");
}

/// Every item of both of the shop's tables, as text (test-only: a whole scan).
async fn every_item(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    for table in [w.t.name.clone(), kiosk_localaws::visits_table_of(&w.t.name)] {
        let items =
            w.t.client
                .scan()
                .table_name(&table)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap();
        out.extend(items.iter().map(|i| format!("{i:?}")));
    }
    out
}

/// Does `text` hold something written like an IPv4 address (four dot-separated numbers
/// of at most three digits)?
fn has_ipv4(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|start| {
        if start > 0 && (b[start - 1].is_ascii_digit() || b[start - 1] == b'.') {
            return false;
        }
        let mut i = start;
        for part in 0..4 {
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=3).contains(&digits) {
                return false;
            }
            i += digits;
            if part < 3 {
                if b.get(i) != Some(&b'.') {
                    return false;
                }
                i += 1;
            }
        }
        !b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'.')
    })
}

/// After a purchase, a free claim, "email me my links" and 100 page views from IPv4 and
/// IPv6 networks, no item of either table holds an address (every per-network key is a
/// hash under the day's salt, which lives in the table without backups).
#[tokio::test]
async fn no_table_holds_an_address() {
    assert!(
        has_ipv4("x 192.0.2.1 y") && !has_ipv4("2026-12-07 9.00 1.2.3") && !has_ipv4("1.2.3.4.5")
    );
    let w = World::new(WorldOptions::default()).await.unwrap();
    w.add_product("rust-book", "9.00").await;
    w.add_product("sampler", "0.00").await;
    let v4 = "198.51.100.23";
    let v6 = "2001:db8:abcd:12::7";
    // A purchase, paid.
    let resp = checkout_from(
        &w.checkout,
        &form("rust-book", &w.buyer(1), &[]),
        "application/json",
        v4,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    let id = v["order_id"].as_str().unwrap().to_owned();
    assert_eq!(w.notify_signed(&id, "9.00", "TRADE_SUCCESS").await.0, 200);
    // A free claim from IPv6, and a code lookup that fails.
    let token = claim_token(&w.checkout, "sampler", v6).await;
    let resp = checkout_from(
        &w.checkout,
        &form("sampler", &w.buyer(2), &[("claim", &token)]),
        "application/json",
        v6,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (status, _) = buy_page_from(&w.checkout, "/buy/rust-book?code=NOPE", v6).await;
    assert_eq!(status, 200);
    // "Email me my links" from both.
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let downloads = kiosk::downloads::Downloads::new(&sdk, w.shop.config().clone());
    for ip in [v4, v6] {
        downloads
            .resend(
                &Email::parse(&w.buyer(1)).unwrap(),
                &kiosk::net::Network::of(Some(ip)),
                kiosk::i18n::Lang::EN,
                now(),
            )
            .await
            .unwrap();
    }
    // 100 page views.
    let c = kiosk::collect::Collector::from_parts(w.t.store.clone())
        .await
        .unwrap();
    for i in 0..100u32 {
        let ip = if i % 2 == 0 {
            v4.to_owned()
        } else {
            format!("2001:db8:abcd:{i:x}::1")
        };
        let agent = format!("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 visitor-{i}");
        let beacon = kiosk::collect::Beacon {
            products: vec!["rust-book".into()],
            ..Default::default()
        };
        let from = kiosk::collect::Sender {
            network: kiosk::net::Network::of(Some(&ip)),
            user_agent: Some(&agent),
            site: "https://example.com",
            opted_out: false,
        };
        c.collect(beacon, &from, now()).await.unwrap();
    }
    let items = every_item(&w).await;
    assert!(items.len() > 10, "the tables hold the shop's items");
    for item in &items {
        assert!(!has_ipv4(item), "an IPv4 address is stored: {item}");
        assert!(
            !item.contains("2001:db8"),
            "an IPv6 network is stored: {item}"
        );
    }
    // The per-network counters are there, under their hash, in the second table.
    let visits: Vec<&String> = items.iter().filter(|i| i.contains("NET#h:")).collect();
    assert!(visits.len() >= 4, "{visits:?}");
}

/// The fulfiller grants only an order that could be free: a pending `free` order of a
/// paid product (what a compromised checkout could write) is refused and never granted,
/// and reconcile expires it; a real one is granted once, however often it is asked.
#[tokio::test]
async fn only_an_order_that_could_be_free_is_granted() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let paid = w.add_product("rust-book", "9.00").await;
    let free = w.add_product("sampler", "0.00").await;
    let forged = |p: &kiosk::Product, email: &str| {
        let mut o = kiosk::Order::new_pending(
            OrderId::generate(now()).unwrap(),
            p,
            Email::parse(email).unwrap(),
            kiosk::order::ChannelKind::Free,
            Default::default(),
            now() - time::Duration::minutes(10),
            time::Duration::minutes(30),
        );
        o.amount = kiosk::Money::from_minor(0, kiosk::Currency::Cny).unwrap();
        o
    };
    let bad = forged(&paid, &w.buyer(1));
    w.t.store.create_order(&bad).await.unwrap();
    assert!(matches!(
        w.shop.fulfil_free(&bad.id, now()).await.unwrap(),
        kiosk::free::FreeOutcome::Refused(_)
    ));
    assert_eq!(w.grants_for(&bad.id).await, 0);
    assert!(w.mails_to(&w.buyer(1)).await.is_empty());
    // Nor does a code that takes only part of the price off.
    let ten = code("TEN", Discount::Percent(10), None);
    assert!(w.t.store.create_code(&ten).await.unwrap());
    let mut with_code = forged(&paid, &w.buyer(2));
    with_code.code = Some(ten.name().clone());
    w.t.store.create_order(&with_code).await.unwrap();
    assert!(matches!(
        w.shop.fulfil_free(&with_code.id, now()).await.unwrap(),
        kiosk::free::FreeOutcome::Refused(_)
    ));
    // A real free order: granted once.
    let good = forged(&free, &w.buyer(3));
    w.t.store.create_order(&good).await.unwrap();
    for _ in 0..3 {
        w.shop.fulfil_free(&good.id, now()).await.unwrap();
    }
    assert_eq!(w.grants_for(&good.id).await, 1);
    assert_eq!(w.mails_to(&w.buyer(3)).await.len(), 1);
    // Reconcile's run: the forged ones expire, nothing is granted.
    let run = w
        .reconciler
        .pending(
            now(),
            kiosk::deadline::Deadline::after(std::time::Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(run.expired, 2, "{run:?}");
    assert_eq!(w.order(&bad.id).await.status(), kiosk::OrderStatus::Expired);
    assert_eq!(w.grants_for(&bad.id).await, 0);
}
