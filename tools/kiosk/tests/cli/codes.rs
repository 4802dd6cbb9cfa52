//! `kiosk code add|list|disable`, pay-what-you-want and free products through `kiosk
//! product`, and what `kiosk orders` and `kiosk sales` show of them.

use kiosk::pricing::CodeName;
use kiosk::{Currency, Money, ProductId};
use kiosk_e2e::{World, WorldOptions, now};

use super::common::*;

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
}

fn fails(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "{}", stdout(out));
    assert!(stderr(out).contains(needle), "{needle}: {}", stderr(out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_made_listed_with_their_revenue_and_disabled() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let free = w.add_product("sampler", "0.00").await;
    let k = |args: &[&str]| kiosk(&w, &bucket, args, &[]);

    let out = ok(&k(&[
        "code",
        "add",
        "Launch",
        "--percent",
        "20",
        "--max-uses",
        "2",
        "--expires",
        "2099-12-31",
    ]));
    assert!(
        out.contains("added LAUNCH: 20% off, every product, 0/2 uses, until 2099-12-31"),
        "{out}"
    );
    fails(
        &k(&["code", "add", "launch", "--percent", "5"]),
        "exists already",
    );
    // A private code: a name no dictionary holds, printed once.
    let out = ok(&k(&[
        "code",
        "add",
        "--random",
        "--percent",
        "100",
        "--max-uses",
        "1",
    ]));
    let name = out
        .strip_prefix("added ")
        .and_then(|r| r.split_once(':'))
        .map(|(n, _)| n.to_owned())
        .unwrap_or_default();
    assert_eq!(name.len(), 16, "{out}");
    let stored =
        w.t.store
            .get_code(&CodeName::parse(&name).unwrap())
            .await
            .unwrap()
            .expect("the random code is stored");
    assert_eq!(stored.max_uses(), Some(1));
    fails(
        &k(&["code", "add", "NAMED", "--random", "--percent", "5"]),
        "cannot be used with",
    );
    fails(&k(&["code", "add", "X", "--percent", "0"]), "1 to 100");
    fails(&k(&["code", "add", "X", "--percent", "101"]), "1 to 100");
    fails(&k(&["code", "add", "X"]), "--percent");
    fails(
        &k(&["code", "add", "X", "--off", "1.00 CNY", "--product", "nope"]),
        "no product nope",
    );
    fails(
        &k(&[
            "code",
            "add",
            "X",
            "--percent",
            "5",
            "--expires",
            "2020-01-01",
        ]),
        "past",
    );
    fails(
        &k(&["code", "add", "no spaces", "--percent", "5"]),
        "letters, digits",
    );
    let out = ok(&k(&[
        "code",
        "add",
        "FRIENDS",
        "--off",
        "2.00 CNY",
        "--product",
        "book",
    ]));
    assert!(out.contains("2.00 CNY off, book, 0 uses"), "{out}");

    // One paid order with LAUNCH (reserving a use), one free copy, one plain sale.
    let (mut coded, _) = paid_order(&w, &book, &w.buyer(1), now(), Default::default()).await;
    coded.code = CodeName::parse("LAUNCH");
    coded.amount = Money::from_minor(720, Currency::Cny).unwrap();
    rewrite_order(&w.t.store, &coded).await;
    paid_order(&w, &book, &w.buyer(2), now(), Default::default()).await;
    paid_order(&w, &free, &w.buyer(3), now(), Default::default()).await;

    let list = ok(&k(&["code", "list"]));
    let launch = list.lines().find(|l| l.starts_with("LAUNCH")).expect(&list);
    let cols: Vec<&str> = launch.split_whitespace().collect();
    assert_eq!(&cols[1..6], ["active", "1/2", "1", "7.20", "CNY"], "{list}");
    let friends = list
        .lines()
        .find(|l| l.starts_with("FRIENDS"))
        .expect(&list);
    assert!(friends.contains(" - "), "no revenue yet: {friends}");

    let csv = ok(&k(&["sales", "--csv"]));
    for row in [
        "code,LAUNCH,CNY,1,7.20",
        "code,(no code),CNY,1,9.00",
        "product,book,CNY,2,16.20",
        "free,sampler,CNY,1,0.00",
    ] {
        assert!(csv.contains(row), "{row}: {csv}");
    }
    assert!(
        !csv.contains("product,sampler"),
        "free copies are not sales: {csv}"
    );
    let table = ok(&k(&["sales"]));
    assert!(
        table.contains("By code:") && table.contains("Free copies"),
        "{table}"
    );
    let orders = ok(&k(&["orders", "--product", "book"]));
    let row = orders
        .lines()
        .find(|l| l.contains(coded.id.as_str()))
        .expect(&orders);
    assert!(
        row.contains("7.20 CNY") && row.contains("9.00 CNY") && row.contains("LAUNCH"),
        "{row}"
    );

    ok(&k(&["code", "disable", "launch"]));
    let stored =
        w.t.store
            .get_code(&CodeName::parse("LAUNCH").unwrap())
            .await
            .unwrap()
            .unwrap();
    assert!(stored.disabled() && stored.uses() == 1);
    assert!(ok(&k(&["code", "list"])).contains("LAUNCH           disabled"));
    fails(&k(&["code", "disable", "NOPE"]), "no code NOPE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_sell_at_a_price_the_buyer_names_or_for_free() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let pdf = write(&dir, "zine.pdf", b"%PDF-1.4 zine");
    let k = |args: &[&str]| kiosk(&w, &bucket, args, &[]);
    let stored = |id: &str| {
        let id = ProductId::parse(id).unwrap();
        let store = w.t.store.clone();
        async move { store.get_product(&id).await.unwrap().unwrap() }
    };

    let out = ok(&k(&[
        "product",
        "add",
        "zine",
        "--title",
        "Zine",
        "--suggested",
        "12.00 CNY",
        "--min",
        "5.00",
        "--file",
        &pdf,
    ]));
    assert!(
        out.contains("pay what you want: 5.00-1200.00 CNY, suggested 12.00"),
        "{out}"
    );
    let b = stored("zine").await.pay_what_you_want().unwrap();
    assert_eq!((b.min.minor(), b.max.minor()), (500, 120_000));

    ok(&k(&["product", "set", "zine", "--max", "50.00 CNY"]));
    assert_eq!(
        stored("zine")
            .await
            .pay_what_you_want()
            .unwrap()
            .max
            .minor(),
        5000
    );
    // The suggested price must lie within the bounds; nothing changes otherwise.
    fails(
        &k(&["product", "set", "zine", "--min", "13.00"]),
        "minimum <= suggested",
    );
    fails(
        &k(&["product", "set", "zine", "--max", "5.00 USD"]),
        "currency",
    );
    assert_eq!(
        stored("zine")
            .await
            .pay_what_you_want()
            .unwrap()
            .min
            .minor(),
        500
    );
    ok(&k(&["product", "set", "zine", "--fixed"]));
    assert!(stored("zine").await.pay_what_you_want().is_none());

    let out = ok(&k(&[
        "product", "add", "sampler", "--title", "Sampler", "--price", "0.00 CNY", "--file", &pdf,
    ]));
    assert!(out.contains("free (0.00 CNY)"), "{out}");
    assert!(stored("sampler").await.is_free());
    let out = ok(&k(&[
        "product", "add", "yen", "--title", "Yen", "--price", "500 JPY", "--file", &pdf,
    ]));
    assert!(out.contains("500 JPY"), "{out}");
    fails(
        &k(&[
            "product", "add", "bad", "--title", "Bad", "--price", "5.00 JPY", "--file", &pdf,
        ]),
        "none for JPY",
    );
}

/// `kiosk test add|list|stop`: what the funnel counts is what the author registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_are_registered_listed_and_stopped() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    w.add_product("book", "9.00").await;
    let k = |args: &[&str]| kiosk(&w, &bucket, args, &[]);
    let out = ok(&k(&["test", "add", "headline", "--variants", "a,b"]));
    assert!(
        out.contains("added headline: a, b, every product, running"),
        "{out}"
    );
    ok(&k(&[
        "test",
        "add",
        "price-box",
        "--variants",
        "x,y,z",
        "--product",
        "book",
    ]));
    fails(
        &k(&["test", "add", "headline", "--variants", "a,b"]),
        "exists already",
    );
    fails(&k(&["test", "add", "solo", "--variants", "a"]), "2 to 4");
    fails(
        &k(&["test", "add", "Bad Name", "--variants", "a,b"]),
        "lowercase",
    );
    fails(
        &k(&["test", "add", "t", "--variants", "a,b", "--product", "nope"]),
        "no product nope",
    );
    let out = ok(&k(&["test", "list"]));
    assert!(out.contains("price-box: x, y, z, book, running"), "{out}");
    let out = ok(&k(&["test", "stop", "headline"]));
    assert!(out.contains("stopped headline"), "{out}");
    fails(&k(&["test", "stop", "headline"]), "no running test");
    let stored = w.t.store.tests().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .any(|t| t.name.as_str() == "headline" && !t.running())
    );
}
