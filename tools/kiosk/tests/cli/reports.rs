//! `kiosk orders` and `kiosk sales`: totals by day, product and source, and reads of only
//! the asked range.

use std::collections::BTreeMap;

use kiosk::Product;
use kiosk::order::Source;
use kiosk_e2e::{World, WorldOptions};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_totals_match_the_orders_by_day_product_and_source() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let zine = w.add_product("zine", "2.50").await;
    let day = |d: i64| time::macros::datetime!(2026-11-10 08:00 UTC) + time::Duration::days(d);
    let src = |utm: Option<&str>, referrer: Option<&str>| Source {
        utm_source: utm.map(str::to_owned),
        referrer: referrer.map(str::to_owned),
        ..Source::default()
    };
    // (product, day, utm_source, referrer)
    let plan: Vec<(&Product, i64, Option<&str>, Option<&str>)> = vec![
        (&book, 0, Some("blog"), None),
        (&book, 0, Some("newsletter"), None),
        (&book, 1, Some("blog"), Some("https://ignored.example/")),
        (&zine, 1, None, Some("https://news.example.com/item?id=1")),
        (&zine, 2, None, None),
        (&book, 2, Some("blog"), None),
        (&zine, 2, Some("blog"), None),
    ];
    let mut want: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (i, (p, d, utm, referrer)) in plan.iter().enumerate() {
        let (o, _) = paid_order(&w, p, &w.buyer(i as u32), day(*d), src(*utm, *referrer)).await;
        let source = utm.map(str::to_owned).unwrap_or_else(|| match referrer {
            Some(_) => "news.example.com".to_owned(),
            None => "direct".to_owned(),
        });
        for (dim, key) in [
            ("day", format!("2026-11-{}", 10 + d)),
            ("product", p.id().to_string()),
            ("source", source),
            ("channel", "alipay".to_owned()),
            ("code", "(no code)".to_owned()),
        ] {
            let e = want.entry((dim.to_owned(), key)).or_default();
            e.0 += 1;
            e.1 += o.amount.minor();
        }
    }
    // Not sales: a pending order and a refunded one; the refund is listed on its own.
    w.pending(&book, &w.buyer(100)).await;
    let o = refunded_order(&w, &zine, &w.buyer(101), day(1)).await;
    want.insert(("refunds".to_owned(), "zine".to_owned()), (1, 250));

    let out = kiosk(&w, &bucket, &["sales", "--csv"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("dimension,key,currency,orders,amount"));
    let mut got: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        assert_eq!(f[2], "CNY");
        let amount = kiosk::Money::parse_decimal(f[4], kiosk::Currency::Cny).unwrap();
        got.insert(
            (f[0].to_owned(), f[1].to_owned()),
            (f[3].parse().unwrap(), amount.minor()),
        );
    }
    assert_eq!(got, want);

    // --since drops the earlier days; the table form shows the same totals.
    let out = kiosk(
        &w,
        &bucket,
        &["sales", "--since", "2026-11-12", "--csv"],
        &[],
    );
    let csv = stdout(&out);
    assert!(csv.contains("day,2026-11-12,CNY,3,14.00"), "{csv}");
    assert!(!csv.contains("2026-11-10"), "{csv}");
    let table = stdout(&kiosk(&w, &bucket, &["sales"], &[]));
    assert!(
        table.contains("By source:") && table.contains("news.example.com"),
        "{table}"
    );
    assert!(table.contains("Given back, by product"), "{table}");

    // orders: filters by product and status.
    let listed = stdout(&kiosk(
        &w,
        &bucket,
        &["orders", "--product", "zine", "--status", "refunded"],
        &[],
    ));
    assert!(
        listed.contains(o.id.as_str()) && listed.contains("1 orders"),
        "{listed}"
    );
    let bad = kiosk(&w, &bucket, &["orders", "--status", "lost"], &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("status \"lost\""));
    let bad = kiosk(&w, &bucket, &["sales", "--since", "last week"], &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("YYYY-MM-DD"));

    // Attacker text stored raw (checkout cleans it now; older orders or other tools may
    // not have): a source is spelled by one rule (kiosk::sales::clean_source), so
    // neither the terminal nor the spreadsheet gets an escape or a formula from it.
    let formula = "=HYPERLINK(\"http://evil.example\")";
    paid_order(&w, &book, &w.buyer(200), day(5), src(Some(formula), None)).await;
    paid_order(
        &w,
        &book,
        &w.buyer(201),
        day(5),
        src(Some("\u{1b}[2Jwiped"), None),
    )
    .await;
    let csv = stdout(&kiosk(&w, &bucket, &["sales", "--csv"], &[]));
    assert!(
        csv.contains("source,hyperlinkhttpevil.example,CNY,1,9.00"),
        "{csv}"
    );
    assert!(!csv.contains("=HYPERLINK"), "{csv}");
    for args in [&["sales", "--csv"][..], &["sales"][..], &["orders"][..]] {
        let out = stdout(&kiosk(&w, &bucket, args, &[]));
        assert!(!out.contains('\u{1b}'), "{args:?} printed a raw escape");
        assert!(out.contains("2jwiped"), "{args:?}: {out}");
    }
}

/// `kiosk orders` and `sales` used to scan the whole table: every grant, handled event,
/// payment id and mail record, and every order however old. They now read the orders of
/// the asked range from the `ByCreatedAt` index. The shop here has one paid order (and
/// its grant) a day; `KIOSK_REPORT_ORDERS=10000` measures a 10,000-order shop over two
/// years (printed: the old scan's cost beside the new reads; about three minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_read_only_the_orders_of_the_asked_range() {
    let n: i64 = std::env::var("KIOSK_REPORT_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    // One a day for the default 40; a larger shop's orders over two years.
    let span = n.clamp(40, 730);
    let start = time::macros::datetime!(2024-01-01 08:00 UTC);
    let at = |i: i64| start + time::Duration::days(i * span / n);
    let mut created = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        let emails: Vec<String> = chunk.iter().map(|&i| w.buyer(i as u32)).collect();
        let made = futures::future::join_all(
            chunk
                .iter()
                .zip(&emails)
                .map(|(&i, e)| paid_order(&w, &book, e, at(i), Source::default())),
        )
        .await;
        created.extend(made.into_iter().map(|(o, _)| o.created_at));
    }
    let last = at(n - 1);
    let since = (last - time::Duration::days(4)).date();
    let since_t = since.midnight().assume_utc();
    let in_range = created.iter().filter(|t| **t >= since_t).count();
    let read_for_sales = created
        .iter()
        .filter(|t| **t >= since_t - kiosk::store::LATE_PAYMENT)
        .count();
    let day = format!(
        "{:04}-{:02}-{:02}",
        since.year(),
        u8::from(since.month()),
        since.day()
    );

    // What the old reports read: a scan of the whole table.
    let mut scan =
        w.t.client
            .scan()
            .table_name(&w.t.name)
            .filter_expression("entity = :e")
            .expression_attribute_values(
                ":e",
                aws_sdk_dynamodb::types::AttributeValue::S("order".into()),
            )
            .into_paginator()
            .send();
    let (mut scan_requests, mut scan_items) = (0, 0);
    while let Some(page) = scan.next().await {
        let page = page.unwrap();
        scan_requests += 1;
        scan_items += page.scanned_count();
    }

    let orders = kiosk(&w, &bucket, &["orders", "--since", &day], &[]);
    assert!(orders.status.success(), "{}", stderr(&orders));
    let listed = stdout(&orders);
    assert!(
        listed.contains(&format!("\n{in_range} orders\n")),
        "{listed}"
    );
    let want = format!("(read {in_range} orders in 1 DynamoDB request)");
    assert!(listed.contains(&want), "{listed}");

    let sales = kiosk(&w, &bucket, &["sales", "--since", &day, "--csv"], &[]);
    assert!(sales.status.success(), "{}", stderr(&sales));
    let csv = stdout(&sales);
    let sold: u64 = csv
        .lines()
        .filter(|l| l.starts_with("product,book,"))
        .map(|l| l.split(',').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sold, in_range as u64, "{csv}");
    let cost = stderr(&sales);
    assert!(
        cost.contains(&format!("(read {read_for_sales} orders in ")),
        "{cost}"
    );

    let all = kiosk(&w, &bucket, &["orders"], &[]);
    let all = stdout(&all);
    assert!(
        all.contains(&format!("\n{n} orders\n")),
        "{}",
        all.lines().last().unwrap_or("")
    );
    let all_cost = all.lines().last().unwrap_or("").to_owned();
    println!(
        "{n} paid orders, each with its grant, over {span} days:\n  \
         before, any report: a scan read {scan_items} items in {scan_requests} requests\n  \
         orders --since {day}: {}\n  sales --since {day}: {}\n  orders (all time): {all_cost}",
        listed.lines().last().unwrap_or(""),
        cost.trim()
    );
    assert!(
        scan_items as usize >= 2 * n as usize,
        "the old scan read every item"
    );
}

/// One rule for every report (issue 34): orders paid on another day than made, a partial
/// and a full refund, a lost dispute, mixed-case sources and a yen product. `kiosk sales`, `kiosk
/// funnel` and `kiosk report --html` print the same totals, and revenue per visitor in
/// yen is in yen (2 × 500 JPY over 10 visitors is 100 JPY, not 1.00).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_funnel_and_report_agree_on_every_total() {
    use kiosk::collect::{Beacon, Collector, Sender};
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let tokyo = w.add_product("tokyo", "500 JPY").await;
    let day0 = time::macros::datetime!(2026-11-10 08:00 UTC);
    let day1 = day0 + time::Duration::days(1);
    let src = |utm: Option<&str>, referrer: Option<&str>| Source {
        utm_source: utm.map(str::to_owned),
        referrer: referrer.map(str::to_owned),
        ..Source::default()
    };
    // Made on day 0, paid on day 1: a day-1 sale.
    paid_between(&w, &book, 1, day0, day1, src(Some("NewsLetter"), None)).await;
    // Paid, then 2.00 given back: a sale of 7.00.
    let (mut partly, _) =
        paid_order(&w, &book, &w.buyer(2), day1, src(Some("newsletter"), None)).await;
    partly.refunded = Some(kiosk::Money::parse_decimal("2.00", kiosk::Currency::Cny).unwrap());
    rewrite_order(&w.t.store, &partly).await;
    // Refunded in full: no sale, 9.00 given back.
    let (whole, _) = paid_order(&w, &book, &w.buyer(3), day1, src(Some("NEWSLETTER"), None)).await;
    rewrite_order(&w.t.store, &whole.refund(day1).unwrap()).await;
    // A card dispute lost: no sale, 9.00 given back.
    let (mut disputed, _) = paid_order(&w, &book, &w.buyer(6), day1, src(None, None)).await;
    disputed.dispute = Some(kiosk::order::Dispute::Lost);
    rewrite_order(&w.t.store, &disputed).await;
    for i in 4..6 {
        paid_order(
            &w,
            &tokyo,
            &w.buyer(i),
            day1,
            src(None, Some("https://Blog.Example/post")),
        )
        .await;
    }
    // Ten visitors of the yen product's page on day 1.
    let collector = Collector::from_parts(w.t.store.clone()).await.unwrap();
    for i in 0..10 {
        let agent = format!("Mozilla/5.0 Chrome/126.0 reader-{i}");
        let from = Sender {
            network: kiosk::net::Network::of(None),
            user_agent: Some(&agent),
            site: "https://books.example.com",
            opted_out: false,
        };
        let beacon = Beacon {
            products: vec!["tokyo".into()],
            ..Beacon::default()
        };
        let a = collector.collect(beacon, &from, day1).await.unwrap();
        assert!(a.counted);
    }

    let csv = stdout(&kiosk(
        &w,
        &bucket,
        &["sales", "--since", "2026-11-10", "--csv"],
        &[],
    ));
    for want in [
        "day,2026-11-11,CNY,2,16.00",
        "day,2026-11-11,JPY,2,1000",
        "product,book,CNY,2,16.00",
        "product,tokyo,JPY,2,1000",
        "source,newsletter,CNY,2,16.00",
        "source,blog.example,JPY,2,1000",
        "refunds,book,CNY,3,20.00",
    ] {
        assert!(csv.contains(want), "{want} in\n{csv}");
    }
    assert!(
        !csv.contains("2026-11-10"),
        "a sale counts on the day it was paid:\n{csv}"
    );

    let funnel = stdout(&kiosk(
        &w,
        &bucket,
        &["funnel", "--since", "2026-11-10", "--until", "2026-11-11"],
        &[],
    ));
    let row = |product: &str, label: &str| -> Vec<String> {
        let mut lines = funnel.lines().skip_while(|l| l.trim() != product);
        lines
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{product} {label} in\n{funnel}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    // label, visitors, checkouts, converted, paid, downloaded, revenue, per visitor, refunds
    assert_eq!(
        row("book", "all"),
        ["all", "0", "4", "2", "2", "0", "16.00", "CNY", "-", "3"]
    );
    assert_eq!(
        row("book", "from newsletter"),
        [
            "from",
            "newsletter",
            "0",
            "3",
            "2",
            "2",
            "0",
            "16.00",
            "CNY",
            "-",
            "2"
        ]
    );
    assert_eq!(
        row("tokyo", "all"),
        [
            "all", "10", "2", "2", "2", "0", "1000", "JPY", "100", "JPY", "0"
        ]
    );

    let html = std::env::temp_dir().join(format!("kiosk-report-{}.html", w.tag));
    let out = kiosk(
        &w,
        &bucket,
        &[
            "report",
            "--html",
            html.to_str().unwrap(),
            "--since",
            "2026-11-10",
            "--until",
            "2026-11-11",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    let _ = std::fs::remove_file(&html);
    for want in [
        "Revenue 16.00 CNY (net of refunds); refunds 3.",
        "Revenue 1000 JPY (net of refunds), 100 JPY per visitor; refunds 0.",
        "2026-11-11: 4 sold, 16.00 CNY + 1000 JPY",
    ] {
        assert!(page.contains(want), "{want} in the report");
    }
}

/// A paid order made at `created` and paid at `paid`.
async fn paid_between(
    w: &World,
    p: &Product,
    buyer: u32,
    created: time::OffsetDateTime,
    paid: time::OffsetDateTime,
    source: Source,
) -> kiosk::Order {
    paid_order_between(w, p, &w.buyer(buyer), created, paid, source)
        .await
        .0
}
