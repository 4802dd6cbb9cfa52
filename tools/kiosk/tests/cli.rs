//! The `kiosk` binary, run as an author runs it, against the locked emulator: products,
//! the resumable new-edition mail-out, sales, resend, where it points, and its help.
//!
//! Over 400 lines: every command of the CLI run as the binary; one world setup serves
//! all.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use kiosk::form::parse_form;
use kiosk::order::{PayOutcome, Payment, Source};
use kiosk::{DownloadToken, Grant, Order, OrderStatus, Product};
use kiosk_e2e::{SentMail, World, WorldOptions, now, pending_order};

/// Run `kiosk` with `args`, pointed at `world`'s table and bucket by environment
/// variables (the emulator's address comes from `make test`'s AWS_ENDPOINT_URL).
fn kiosk(world: &World, bucket: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
    cmd.args(args)
        .env("KIOSK_TABLE", &world.t.name)
        .env("KIOSK_BUCKET", bucket)
        .env("KIOSK_API_URL", kiosk_e2e::BASE_URL)
        .env("KIOSK_SENDER", kiosk_e2e::VERIFIED_SENDER)
        .env_remove("KIOSK_STACK");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("run kiosk")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn bucket_for(world: &World) -> String {
    let name = format!("kiosk-cli-{}", world.tag);
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    kiosk::files::s3_client(&sdk)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    name
}

async fn objects(bucket: &str) -> Vec<String> {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let out = kiosk::files::s3_client(&sdk)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn object_bytes(bucket: &str, key: &str) -> Vec<u8> {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let out = kiosk::files::s3_client(&sdk)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn scratch(world: &World) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiosk-cli-{}", world.tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_add_sets_the_price_checkout_charges_and_bad_input_changes_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let pdf = write(&dir, "Zine One.pdf", b"%PDF-1.4 zine one");

    let out = kiosk(
        &w,
        &bucket,
        &[
            "product",
            "add",
            "zine",
            "--title",
            "Zine One",
            "--price",
            "12.50 CNY",
            "--file",
            &pdf,
            "--limit",
            "3",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let p = w
        .shop
        .store
        .get_product(&kiosk::ProductId::parse("zine").unwrap())
        .await
        .unwrap()
        .expect("product stored");
    assert_eq!(p.price.minor(), 1250);
    assert_eq!(p.price.currency(), kiosk::Currency::Cny);
    assert_eq!(p.download_limit, 3);
    assert_eq!(p.file.key, "products/zine/v1/Zine One.pdf");
    assert_eq!(p.file.content_type, "application/pdf");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"%PDF-1.4 zine one");
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(p.file.sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(
        object_bytes(&bucket, &p.file.key).await,
        b"%PDF-1.4 zine one"
    );

    // A checkout for it charges the price given on the command line.
    let resp = w
        .checkout(
            &format!("product_id=zine&email={}", w.buyer(1).replace('@', "%40")),
            "application/x-www-form-urlencoded",
            "text/html",
            "Mozilla/5.0 (X11; Linux x86_64)",
        )
        .await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let params = parse_form(location.split_once('?').unwrap().1).unwrap();
    let biz: serde_json::Value = serde_json::from_str(&params["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "12.50");
    assert_eq!(biz["subject"], "Zine One");

    // Every kind of bad input: a clear message, a failing status, nothing changed.
    let before_objects = objects(&bucket).await;
    let before_products = w.shop.store.all_products().await.unwrap();
    let missing = dir.join("nope.pdf").to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file",
                &missing,
            ],
            "does not exist",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9 CNY", "--file", &pdf,
            ],
            "price \"9 CNY\"",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "nine", "--file", &pdf,
            ],
            "price \"nine\"",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 XYZ", "--file", &pdf,
            ],
            "price \"9.00 XYZ\"",
        ),
        (
            vec![
                "product", "add", "zine", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
            ],
            "already exists",
        ),
        (
            vec![
                "product",
                "add",
                "Not An Id",
                "--title",
                "Z",
                "--price",
                "9.00 CNY",
                "--file",
                &pdf,
            ],
            "product id",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", " ", "--price", "9.00 CNY", "--file", &pdf,
            ],
            "title",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
                "--limit", "0",
            ],
            "download limit",
        ),
        (
            vec!["product", "set", "ghost", "--price", "9.00 CNY"],
            "no product ghost",
        ),
        (
            vec!["product", "set", "zine", "--price", "9,00 CNY"],
            "price",
        ),
        (
            vec![
                "product",
                "set",
                "zine",
                "--file",
                &missing,
                "--edition",
                "v2",
            ],
            "does not exist",
        ),
        (vec!["product", "set", "zine"], "nothing to change"),
        (vec!["product", "show", "ghost"], "no product ghost"),
    ];
    for (args, needle) in cases {
        let out = kiosk(&w, &bucket, &args, &[]);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(objects(&bucket).await, before_objects, "no file uploaded");
    assert_eq!(w.shop.store.all_products().await.unwrap(), before_products);

    // set changes what future buyers pay; list and show report it.
    let out = kiosk(
        &w,
        &bucket,
        &["product", "set", "zine", "--price", "15.00 CNY"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&kiosk(&w, &bucket, &["product", "list"], &[]));
    assert!(
        listed.contains("zine") && listed.contains("15.00 CNY"),
        "{listed}"
    );
    let shown = stdout(&kiosk(&w, &bucket, &["product", "show", "zine"], &[]));
    assert!(
        shown.contains(&hex) && shown.contains("products/zine/v1/Zine One.pdf"),
        "{shown}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A paid order with its purchase grant, written straight to the store.
async fn paid_order(
    w: &World,
    p: &Product,
    email: &str,
    at: time::OffsetDateTime,
    source: Source,
) -> (Order, Grant) {
    let mut o = pending_order(p, email, at);
    o.source = source;
    let token = DownloadToken::generate().unwrap();
    let payment = Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    let PayOutcome::Paid(paid) = o.pay(&payment, token.clone(), at).unwrap() else {
        panic!("not paid")
    };
    let grant = Grant::for_order(&paid, token, None, at);
    w.shop.store.create_order(&paid).await.unwrap();
    w.shop.store.create_grant(&grant).await.unwrap();
    (*paid, grant)
}

/// A paid order that was then refunded: written paid, then replaced by its refunded state.
async fn refunded_order(w: &World, p: &Product, email: &str, at: time::OffsetDateTime) -> Order {
    let source = Source {
        utm_source: Some("blog".into()),
        ..Source::default()
    };
    let (o, _) = paid_order(w, p, email, at, source).await;
    let refunded = o.refund(now()).unwrap();
    w.t.client
        .delete_item()
        .table_name(&w.t.name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORDER#{}", o.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
        )
        .send()
        .await
        .unwrap();
    w.shop.store.create_order(&refunded).await.unwrap();
    refunded
}

/// Mails SES accepted, by recipient, optionally only those whose subject starts with
/// `subject`: one read of the emulator's sent-mail list for a whole phase of a test.
async fn mails_by_recipient(
    w: &World,
    subject: Option<&str>,
) -> std::collections::HashMap<String, Vec<SentMail>> {
    let all = kiosk_localaws::sent_mail(&w.http, &w.endpoint, None)
        .await
        .unwrap();
    let mut out: std::collections::HashMap<String, Vec<SentMail>> = Default::default();
    for m in all {
        if let Some(prefix) = subject
            && !m.subject.starts_with(prefix)
        {
            continue;
        }
        for to in &m.to {
            out.entry(to.clone()).or_default().push(m.clone());
        }
    }
    out
}

const NEW_EDITION: &str = "New edition:";

/// Paying buyers in the new-edition test, and after how many mails its first run dies.
const BUYERS: u32 = 30;
const CRASH_AFTER: u32 = 13;

fn link_in(mail: &SentMail) -> DownloadToken {
    let body = &mail.body;
    let start = body.find("/download/").expect("a download link") + "/download/".len();
    DownloadToken::parse(&body[start..start + 32]).expect("a token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_reaches_every_paying_buyer_exactly_once_across_a_crash() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let v1 = write(&dir, "book.pdf", b"%PDF-1.4 edition one");
    let v2_bytes = b"%PDF-1.4 edition two, with two new chapters".to_vec();
    let v2 = write(&dir, "book-v2.pdf", &v2_bytes);
    let out = kiosk(
        &w,
        &bucket,
        &[
            "product", "add", "book", "--title", "The Book", "--price", "9.00 CNY", "--file", &v1,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let product = w
        .shop
        .store
        .get_product(&kiosk::ProductId::parse("book").unwrap())
        .await
        .unwrap()
        .unwrap();

    // Paying buyers, plus pending and refunded orders that must get nothing. Tens of
    // buyers prove the resume logic (a crash part-way, a rerun, a no-op third run); the
    // store reads them through paginators, so hundreds would prove nothing more here.
    let t0 = now() - time::Duration::days(3);
    let mut paying = Vec::new();
    for i in 0..BUYERS {
        let (o, g) = paid_order(
            &w,
            &product,
            &w.buyer(i),
            t0 + time::Duration::seconds(i64::from(i)),
            Source::default(),
        )
        .await;
        paying.push((o, g));
    }
    let mut others = Vec::new();
    for i in BUYERS..BUYERS + 5 {
        let o = pending_order(&product, &w.buyer(i), now());
        w.shop.store.create_order(&o).await.unwrap();
        others.push(w.buyer(i));
    }
    for i in BUYERS + 5..BUYERS + 10 {
        let refunded = refunded_order(&w, &product, &w.buyer(i), t0).await;
        assert_eq!(refunded.status, OrderStatus::Refunded);
        others.push(w.buyer(i));
    }

    // --dry-run: lists exactly the paying buyers, sends and changes nothing.
    let dry = kiosk(
        &w,
        &bucket,
        &[
            "update",
            "book",
            "--file",
            &v2,
            "--note",
            "Two new chapters",
            "--dry-run",
        ],
        &[],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    let listed: HashSet<String> = stdout(&dry)
        .lines()
        .filter_map(|l| l.strip_prefix("would mail\t"))
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    let expected: HashSet<String> = paying.iter().map(|(o, _)| o.id.to_string()).collect();
    assert_eq!(listed, expected);
    assert_eq!(
        w.shop
            .store
            .get_product(&product.id)
            .await
            .unwrap()
            .unwrap(),
        product,
        "dry run changes nothing"
    );
    assert!(
        mails_by_recipient(&w, Some(NEW_EDITION))
            .await
            .keys()
            .all(|to| !to.contains(&w.tag))
    );
    assert_eq!(objects(&bucket).await.len(), 1, "dry run uploads nothing");

    // The real run, killed after CRASH_AFTER mails.
    let first = kiosk(
        &w,
        &bucket,
        &[
            "update",
            "book",
            "--file",
            &v2,
            "--note",
            "Two new chapters",
        ],
        &[("KIOSK_FAULT_EXIT_AFTER", &CRASH_AFTER.to_string())],
    );
    assert_eq!(first.status.code(), Some(137), "{}", stderr(&first));
    let mailed = mails_by_recipient(&w, Some(NEW_EDITION)).await;
    let mailed_once: usize = paying
        .iter()
        .map(|(o, _)| mailed.get(o.email.as_str()).map_or(0, Vec::len))
        .sum();
    assert_eq!(mailed_once, CRASH_AFTER as usize);

    // Run again: it finishes the same edition.
    let second = kiosk(
        &w,
        &bucket,
        &[
            "update",
            "book",
            "--file",
            &v2,
            "--note",
            "Two new chapters",
        ],
        &[],
    );
    assert!(
        second.status.success(),
        "{}\n{}",
        stdout(&second),
        stderr(&second)
    );
    let summary = stdout(&second);
    assert!(
        summary.contains(&format!(
            "sent {}, skipped {CRASH_AFTER} (already sent)",
            BUYERS - CRASH_AFTER
        )),
        "{summary}"
    );

    let http = reqwest::Client::new();
    let mailed = mails_by_recipient(&w, Some(NEW_EDITION)).await;
    let mut new_tokens = Vec::new();
    for (o, _) in &paying {
        let mails = mailed
            .get(o.email.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(
            mails.len(),
            1,
            "{} gets exactly one new-edition mail",
            o.email
        );
        assert!(mails[0].body.contains("Two new chapters"));
        new_tokens.push(link_in(&mails[0]));
    }
    let all_mail = mails_by_recipient(&w, None).await;
    for email in &others {
        assert!(!all_mail.contains_key(email), "{email} gets nothing");
    }
    assert_eq!(
        new_tokens.iter().collect::<HashSet<_>>().len(),
        BUYERS as usize,
        "one fresh link each"
    );

    // The new link serves the new file with the full count; the old link the old file.
    let downloads = kiosk::downloads::Downloads::from_sdk(
        &kiosk_localaws::emulator_config().await.unwrap(),
        kiosk::Config {
            files_bucket: bucket.clone(),
            ..w.shop.config.clone()
        },
    );
    for (i, (order, old)) in paying.iter().enumerate().step_by(7) {
        let fresh = w
            .shop
            .store
            .get_grant(&new_tokens[i])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fresh.downloads_left, 5);
        assert_eq!(fresh.order_id, order.id);
        let (_, url) = downloads.download(&new_tokens[i], now()).await.unwrap();
        assert_eq!(
            http.get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            v2_bytes.as_slice()
        );
        let (_, url) = downloads.download(&old.token, now()).await.unwrap();
        assert_eq!(
            http.get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            b"%PDF-1.4 edition one"
        );
        // "Email me my links" now gives the new edition.
        assert_eq!(
            w.order(&order.id).await.grant_token.as_ref(),
            Some(&new_tokens[i])
        );
    }

    // A third run has nothing left to do and mails nobody.
    let third = kiosk(&w, &bucket, &["update", "book", "--file", &v2], &[]);
    assert!(third.status.success());
    assert!(
        stdout(&third).contains(&format!("sent 0, skipped {BUYERS} (already sent)")),
        "{}",
        stdout(&third)
    );
    let mailed = mails_by_recipient(&w, Some(NEW_EDITION)).await;
    let total: usize = paying
        .iter()
        .map(|(o, _)| mailed.get(o.email.as_str()).map_or(0, Vec::len))
        .sum();
    assert_eq!(total, BUYERS as usize);
    let _ = std::fs::remove_dir_all(dir);
}

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
            ("product", p.id.to_string()),
            ("source", source),
            ("channel", "alipay".to_owned()),
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
    assert!(table.contains("Refunds, by product"), "{table}");

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
    // not have): the terminal gets escapes shown, never obeyed, and the spreadsheet gets
    // a formula as plain text.
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
        csv.contains("source,\"'=HYPERLINK(\"\"http://evil.example\"\")\",CNY,1,9.00"),
        "{csv}"
    );
    for args in [&["sales", "--csv"][..], &["sales"][..], &["orders"][..]] {
        let out = stdout(&kiosk(&w, &bucket, args, &[]));
        assert!(!out.contains('\u{1b}'), "{args:?} printed a raw escape");
        assert!(out.contains("\\u{1b}[2Jwiped"), "{args:?}: {out}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_mails_the_buyers_usable_links() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let (o, g) = paid_order(&w, &book, &w.buyer(1), now(), Source::default()).await;

    for args in [
        vec!["resend", o.id.as_str()],
        vec!["resend", "--email", o.email.as_str()],
    ] {
        let out = kiosk(&w, &bucket, &args, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mails = w.mails_to(o.email.as_str()).await;
    assert_eq!(
        mails.len(),
        2,
        "both resends sent, no rate limit for the author"
    );
    for m in &mails {
        assert_eq!(link_in(m), g.token);
    }

    let pending = w.pending(&book, &w.buyer(2)).await;
    for (args, needle) in [
        (vec!["resend", pending.id.as_str()], "is pending"),
        (
            vec!["resend", "K20260101000000000aaaaaaaaaaaaaaaa"],
            "no order",
        ),
        (
            vec!["resend", "--email", "nobody@example.com"],
            "no usable download links",
        ),
        (
            vec!["resend", "--email", "not-an-address"],
            "email \"not-an-address\"",
        ),
        (vec!["resend"], "ORDER_ID"),
    ] {
        let out = kiosk(&w, &bucket, &args, &[]);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert!(w.mails_to(&w.buyer(2)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_at_a_stack_by_its_outputs_or_at_the_local_shop_and_names_what_is_missing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    w.add_product("book", "9.00").await;
    let sdk = kiosk_localaws::emulator_config().await.unwrap();

    // A stack whose Outputs name this test's table (what `sam deploy` leaves behind).
    let stack = format!("shop-{}", w.tag);
    let template = serde_json::json!({
        "Resources": { "Topic": { "Type": "AWS::SNS::Topic" } },
        "Outputs": {
            "TableName": { "Value": w.t.name },
            "FilesBucket": { "Value": bucket },
            "ApiUrl": { "Value": kiosk_e2e::BASE_URL },
            "SenderEmail": { "Value": kiosk_e2e::VERIFIED_SENDER },
        },
    });
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    let bare = |args: &[&str], dir: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.args(args)
            .env_remove("KIOSK_TABLE")
            .env_remove("KIOSK_BUCKET")
            .env_remove("KIOSK_API_URL")
            .env_remove("KIOSK_SENDER")
            .env_remove("KIOSK_STACK");
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        cmd.output().unwrap()
    };
    let out = bare(&["--stack", &stack, "product", "list"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("book"), "{}", stdout(&out));

    let out = bare(&["--stack", "no-such-stack", "product", "list"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--stack no-such-stack"),
        "{}",
        stderr(&out)
    );

    let out = bare(&["product", "list"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--table") && err.contains("KIOSK_TABLE") && err.contains("--stack"),
        "{err}"
    );

    // --local reads what `make dev` writes, from any directory below it.
    let root = scratch(&w);
    let sub = root.join("site/drafts");
    std::fs::create_dir_all(&sub).unwrap();
    let out = bare(&["--local", "product", "list"], Some(&sub));
    assert!(
        !out.status.success() && stderr(&out).contains("make dev"),
        "{}",
        stderr(&out)
    );
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    devstack::write_local_stack(
        &root,
        kiosk_e2e::BASE_URL,
        &endpoint,
        &devstack::setup::Names::of(devstack::setup::NAME),
    )
    .unwrap();
    // Point it at this test's table instead of the dev shop's.
    let out = {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.args(["--local", "product", "list"])
            .env("KIOSK_TABLE", &w.t.name)
            .current_dir(&sub);
        cmd.output().unwrap()
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("book"));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn help_names_every_command_with_examples() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        stdout(&out)
    };
    let top = help(&["--help"]);
    for word in [
        "product",
        "update",
        "orders",
        "sales",
        "resend",
        "reconcile",
        "--stack",
        "--local",
        "Examples:",
    ] {
        assert!(top.contains(word), "kiosk --help lacks {word}:\n{top}");
    }
    for (args, words) in [
        (
            vec!["product", "--help"],
            vec!["add", "set", "list", "show"],
        ),
        (
            vec!["product", "add", "--help"],
            vec!["--price", "--file", "Example"],
        ),
        (
            vec!["update", "--help"],
            vec!["--dry-run", "--note", "--file", "again"],
        ),
        (
            vec!["orders", "--help"],
            vec!["--status", "--since", "--product", "--mail"],
        ),
        (vec!["reconcile", "--help"], vec!["--budget", "Example"]),
        (vec!["sales", "--help"], vec!["--csv", "--since"]),
        (vec!["resend", "--help"], vec!["ORDER_ID", "--email"]),
    ] {
        let text = help(&args);
        for w in words {
            assert!(text.contains(w), "{args:?} help lacks {w}:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_reports_ses_refusals_exits_non_zero_and_retries_them_with_the_same_links() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let v1 = write(&dir, "guide.pdf", b"%PDF-1.4 guide one");
    let v2 = write(&dir, "guide-2.pdf", b"%PDF-1.4 guide two");
    let out = kiosk(
        &w,
        &bucket,
        &[
            "product",
            "add",
            "guide",
            "--title",
            "The Guide",
            "--price",
            "5.00 CNY",
            "--file",
            &v1,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let product = w
        .shop
        .store
        .get_product(&kiosk::ProductId::parse("guide").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut buyers = Vec::new();
    for i in 0..4u32 {
        buyers.push(
            paid_order(&w, &product, &w.buyer(i), now(), Source::default())
                .await
                .0,
        );
    }

    // SES refuses every mail from an address it has not verified.
    let unverified = format!("nobody-{}@example.com", w.tag);
    let first = kiosk(
        &w,
        &bucket,
        &["update", "guide", "--file", &v2, "--edition", "v2"],
        &[("KIOSK_SENDER", &unverified)],
    );
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let report = stdout(&first);
    assert!(
        report.contains("sent 0,") && report.contains("failed 4."),
        "{report}"
    );
    assert!(
        report.contains("MessageRejected: Email address not verified"),
        "the failure says why, in one line: {report}"
    );
    let records = w.shop.store.edition_mails(&product.id, "v2").await.unwrap();
    assert_eq!(records.len(), 4, "{report}");
    assert!(
        mails_by_recipient(&w, Some(NEW_EDITION))
            .await
            .keys()
            .all(|to| !to.contains(&w.tag))
    );

    // Fixed sender: the same command finishes, with the links recorded the first time.
    let second = kiosk(
        &w,
        &bucket,
        &["update", "guide", "--file", &v2, "--edition", "v2"],
        &[],
    );
    assert!(second.status.success(), "{}", stdout(&second));
    assert!(
        stdout(&second).contains("sent 4, skipped 0 (already sent)"),
        "{}",
        stdout(&second)
    );
    let mailed = mails_by_recipient(&w, Some(NEW_EDITION)).await;
    for o in &buyers {
        let mails = &mailed[o.email.as_str()];
        assert_eq!(mails.len(), 1);
        assert_eq!(
            link_in(&mails[0]),
            records[&o.id].grant_token,
            "same link as claimed"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_sends_due_mails_and_orders_shows_the_mail_state() {
    // A sender only this test uses: SES refuses it until the test verifies it.
    let w = World::with_unverified_sender("cli-late").await.unwrap();
    let sender = w.shop.mailer.from_address().as_str().to_owned();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let order = w.pending(&book, &w.buyer(1)).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );

    let env = [("KIOSK_SENDER", sender.as_str())];
    let list = |state: &str| {
        let out = kiosk(&w, &bucket, &["orders", "--mail", state], &env);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert!(list("due").contains(order.id.as_str()));
    assert!(!list("sent").contains(order.id.as_str()));
    let bad = kiosk(&w, &bucket, &["orders", "--mail", "lost"], &env);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("use due, sent or failed"),
        "{}",
        stderr(&bad)
    );

    // Not yet due (SES refused a moment ago; next try in 2 minutes): nothing to send.
    let out = kiosk(&w, &bucket, &["reconcile"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sent 0"), "{}", stdout(&out));

    // Its next try comes; SES now knows the sender.
    w.shop
        .store
        .mail_failed(&order.id, 1, now() - time::Duration::seconds(1))
        .await
        .unwrap();
    w.verify_sender().await.unwrap();
    let out = kiosk(&w, &bucket, &["reconcile", "--budget", "30"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sent 1,"), "{}", stdout(&out));
    let mails = w.mails_to(order.email.as_str()).await;
    assert_eq!(mails.len(), 1);
    let token = w.order(&order.id).await.grant_token.unwrap();
    assert!(mails[0].body.contains(token.expose()));
    assert!(list("sent").contains(order.id.as_str()));
    assert!(!list("due").contains(order.id.as_str()));

    // Given up after every try: listed as failed.
    let failing = w.pending(&book, &w.buyer(3)).await;
    let payment = Payment {
        provider_txn_id: format!("T-{}", failing.id),
        amount: failing.amount,
    };
    w.shop
        .store
        .mark_paid(&failing, &payment, None, None, now())
        .await
        .unwrap();
    w.shop
        .store
        .mail_given_up(&failing.id, kiosk::delivery::MAX_MAIL_ATTEMPTS, now())
        .await
        .unwrap();
    let failed = list("failed");
    assert!(failed.contains(failing.id.as_str()), "{failed}");
    assert!(!failed.contains(order.id.as_str()));
}

/// `kiosk --local ARGS` run in `dir` (where `make dev`'s `.local/stack.json` is), with
/// nothing else pointing it anywhere.
fn local(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
    cmd.arg("--local").args(args).current_dir(dir);
    for var in [
        "KIOSK_STACK",
        "KIOSK_TABLE",
        "KIOSK_BUCKET",
        "KIOSK_API_URL",
        "KIOSK_SENDER",
        "KIOSK_ALIPAY_APP_ID",
        "KIOSK_ALIPAY_GATEWAY_URL",
        "KIOSK_ALIPAY_PRIVATE_KEY_PARAM",
        "KIOSK_ALIPAY_PUBLIC_KEY_PARAM",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run kiosk")
}

/// The local shop with its sandboxes, in a folder of its own holding the file `kiosk
/// --local` reads.
async fn local_stack(prefix: &str) -> (PathBuf, kiosk_e2e::local::LocalShop) {
    let root = std::env::temp_dir().join(format!(
        "{prefix}-{}",
        kiosk::OrderId::generate(now())
            .unwrap()
            .as_str()
            .to_lowercase()
    ));
    std::fs::create_dir_all(&root).unwrap();
    let shop = kiosk_e2e::local::LocalShop::start(&root.join("keys"))
        .await
        .unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    devstack::write_local_stack(&root, &shop.base, &endpoint, &shop.app.names).unwrap();
    (root, shop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_at_the_sandbox_partly_then_fully_once_and_safely_again() {
    let (root, shop) = local_stack("kiosk-refund").await;
    let (base, app, http) = (&shop.base, &shop.app, &shop.http);

    // A buyer pays at the sandbox; the notification records it.
    let email = format!(
        "refund-{}@example.com",
        root.file_name().unwrap().to_string_lossy()
    );
    let id = shop.open_cashier(&email).await;
    assert_eq!(shop.pay(&id, "").await.0, 303);
    let store = &app.shop.store;
    let mut order = store.get_order(&id).await.unwrap().unwrap();
    for _ in 0..100 {
        if order.status == OrderStatus::Paid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        order = store.get_order(&id).await.unwrap().unwrap();
    }
    assert_eq!(order.status, OrderStatus::Paid);
    let token = order.grant_token.clone().unwrap();
    let grant_usable = || async {
        store
            .get_grant(&token)
            .await
            .unwrap()
            .unwrap()
            .usable(now())
            .is_ok()
    };

    // --dry-run says what would happen and changes nothing.
    let out = local(&root, &["refund", id.as_str(), "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would refund 9.00 CNY"),
        "{}",
        stdout(&out)
    );
    assert_eq!(store.get_order(&id).await.unwrap().unwrap().refunded, None);

    // Part of it: recorded, access kept.
    let out = local(
        &root,
        &[
            "refund",
            id.as_str(),
            "--amount",
            "3.00",
            "--reason",
            "late delivery",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("keeps access"), "{}", stdout(&out));
    let o = store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(
        (o.status, o.refunded.map(|m| m.minor())),
        (OrderStatus::Paid, Some(300))
    );
    assert!(grant_usable().await);

    // As if that run had died after the sandbox refunded and before the order recorded
    // it: running the same command again asks for the same refund, which the sandbox
    // does not repeat, and the order catches up.
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    aws_sdk_dynamodb::Client::new(&sdk)
        .delete_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORDER#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
        )
        .send()
        .await
        .unwrap();
    store.create_order(&order).await.unwrap();
    assert_eq!(store.get_order(&id).await.unwrap().unwrap().refunded, None);
    let out = local(&root, &["refund", id.as_str(), "--amount", "3.00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        store
            .get_order(&id)
            .await
            .unwrap()
            .unwrap()
            .refunded
            .map(|m| m.minor()),
        Some(300)
    );
    assert_eq!(app.sandbox.refund_requests(id.as_str()), vec![300]);

    // The rest, twice: one refund at the sandbox, the order refunded, the link dead.
    for _ in 0..2 {
        let out = local(&root, &["refund", id.as_str()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let o = store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Refunded);
    assert_eq!(o.refunded.map(|m| m.minor()), Some(900));
    assert!(!grant_usable().await);
    let requests = app.sandbox.refund_requests(id.as_str());
    assert_eq!(
        requests,
        vec![300, 600],
        "one refund per request at the sandbox"
    );
    let page = http
        .get(format!("{base}/download/{}", token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("refunded"));

    // The sandbox's own refund notifications arrive too and change nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(store.get_order(&id).await.unwrap().unwrap(), o);

    // resend has no link to send; sales lists the refund, not the sale; a new edition
    // skips the buyer.
    let out = local(&root, &["resend", id.as_str()]);
    assert!(
        !out.status.success() && stderr(&out).contains("refunded"),
        "{}",
        stderr(&out)
    );
    let sales = stdout(&local(&root, &["sales", "--csv"]));
    assert!(
        sales.contains("refunds,little-book-of-rust,CNY,"),
        "{sales}"
    );
    let buyers = store.buyers_of(&o.product_id).await.unwrap();
    assert!(buyers.iter().all(|b| b.id != id));

    // A refund of something not refundable is refused by name.
    let out = local(&root, &["refund", "K20260101000000000aaaaaaaaaaaaaaaa"]);
    assert!(
        !out.status.success() && stderr(&out).contains("no order"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(root);
}

/// Wait until `check` holds for the stored order (a provider's notification arriving).
async fn wait_order(
    store: &kiosk::store::Store,
    id: &kiosk::OrderId,
    what: &str,
    check: impl Fn(&Order) -> bool,
) -> Order {
    for _ in 0..200 {
        let o = store.get_order(id).await.unwrap().unwrap();
        if check(&o) {
            return o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("order {id}: {what} never happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_rerun_after_a_lost_answer_or_a_provider_error_refunds_once() {
    use devstack::stripe::Fault;
    let (root, shop) = local_stack("kiosk-refund-rerun").await;
    let app = &shop.app;
    let store = &app.shop.store;
    let tag = root.file_name().unwrap().to_string_lossy().into_owned();
    let refunded = |o: &Order, minor: u64| o.refunded.map(|m| m.minor()) == Some(minor);

    // ---- Alipay: the sandbox refunds, and every answer of the run is lost. ----
    let id = shop
        .open_cashier(&format!("alipay-{tag}@example.com"))
        .await;
    assert_eq!(shop.pay(&id, "").await.0, 303);
    wait_order(store, &id, "paid", |o| o.status == OrderStatus::Paid).await;
    app.sandbox
        .fail_refunds(&[Fault::LoseAnswer, Fault::LoseAnswer, Fault::LoseAnswer]);
    let out = local(&root, &["refund", id.as_str(), "--amount", "3.00"]);
    assert!(
        !out.status.success(),
        "the run sees no answer: {}",
        stdout(&out)
    );
    // Alipay's own refund notification gets through and moves the refunded total.
    wait_order(store, &id, "the refund notification", |o| refunded(o, 300)).await;
    // The author runs the same command again: the same request, not a second refund.
    let out = local(&root, &["refund", id.as_str(), "--amount", "3.00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("earlier run"), "{}", stdout(&out));
    assert_eq!(app.sandbox.refund_requests(id.as_str()), vec![300]);
    let o = store.get_order(&id).await.unwrap().unwrap();
    assert!(refunded(&o, 300) && o.refund_request.is_none(), "{o:?}");

    // A 502 from the gateway after it refunded: rerun until it succeeds, one refund.
    app.sandbox.fail_refunds(&[Fault::ServerError]);
    for _ in 0..2 {
        if local(&root, &["refund", id.as_str(), "--amount", "3.00"])
            .status
            .success()
        {
            break;
        }
        wait_order(store, &id, "the second refund's notification", |o| {
            refunded(o, 600)
        })
        .await;
    }
    assert_eq!(app.sandbox.refund_requests(id.as_str()), vec![300, 300]);
    assert!(refunded(&store.get_order(&id).await.unwrap().unwrap(), 600));

    // ---- Stripe: the refund is made, then the connection goes down for the run. ----
    let resp = shop
        .http
        .post(format!("{}/checkout", shop.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "product_id=little-book-of-rust&channel=stripe&email=card-{tag}%40example.com"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let page = resp.headers()["location"].to_str().unwrap().to_owned();
    let session = page.rsplit('/').next().unwrap().to_owned();
    let paid = shop
        .http
        .post(format!("{}/sandbox/stripe/pay/{session}", shop.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card=4242424242424242")
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let card =
        kiosk::OrderId::parse(&app.stripe.session(&session).unwrap().form["metadata[order_id]"])
            .unwrap();
    wait_order(store, &card, "paid by card", |o| {
        o.status == OrderStatus::Paid
    })
    .await;

    // The POST's two retries and the next look's three attempts go unanswered too.
    app.stripe.fail_refunds(&[Fault::Outage(5)]);
    let out = local(&root, &["refund", card.as_str(), "--amount", "3.00"]);
    assert!(
        !out.status.success(),
        "the run sees no answer: {}",
        stdout(&out)
    );
    wait_order(store, &card, "charge.refunded", |o| refunded(o, 300)).await;
    let out = local(&root, &["refund", card.as_str(), "--amount", "3.00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(app.stripe.refunds_made(&session), 1, "one refund at Stripe");

    // A 500 stored with the idempotency key (replayed to a retry with that key): the
    // refund is found before anything is tried again.
    app.stripe.fail_refunds(&[Fault::ServerError]);
    for _ in 0..2 {
        if local(&root, &["refund", card.as_str(), "--amount", "3.00"])
            .status
            .success()
        {
            break;
        }
        wait_order(store, &card, "the second charge.refunded", |o| {
            refunded(o, 600)
        })
        .await;
    }
    assert_eq!(app.stripe.refunds_made(&session), 2);
    wait_order(store, &card, "600 refunded", |o| refunded(o, 600)).await;
    let _ = std::fs::remove_dir_all(root);
}
