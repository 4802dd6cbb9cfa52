//! `kiosk update`: a new edition to every paying buyer exactly once, across a crash and
//! SES refusals.

use std::collections::HashSet;

use kiosk::OrderStatus;
use kiosk::order::Source;
use kiosk_e2e::{World, WorldOptions, now, pending_order};

use super::common::*;

/// The author's handle over the world's table and `bucket`, as `kiosk` builds it.
async fn author_for(w: &World, bucket: &str) -> kiosk::author::Author {
    kiosk::author::Author::new(
        &kiosk_localaws::emulator_config().await.unwrap(),
        kiosk::author::AuthorSettings {
            table: w.t.name.clone(),
            bucket: Some(bucket.to_owned()),
            sender: Some(kiosk::Sender::parse(kiosk_e2e::VERIFIED_SENDER).unwrap()),
            public_base_url: Some(kiosk_e2e::BASE_URL.to_owned()),
            support: None,
            mail_configuration_set: None,
            default_lang: kiosk::i18n::Lang::EN,
        },
    )
}

/// `kiosk update PRODUCT --file FILE [--note NOTE]`, as the command parses it.
/// `kiosk product add ID --title TITLE --price PRICE --file FILE`, and the product as
/// stored.
async fn add_product(
    w: &World,
    bucket: &str,
    id: &str,
    title: &str,
    price: &str,
    file: &str,
) -> kiosk::product::Product {
    let out = kiosk(
        w,
        bucket,
        &[
            "product", "add", id, "--title", title, "--price", price, "--file", file,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    w.t.store
        .get_product(&kiosk::ProductId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap()
}

fn update_request(
    product: &str,
    files: &[&str],
    note: Option<&str>,
) -> kiosk::mailout::UpdateRequest {
    kiosk_cli::update::request(&kiosk_cli::update::UpdateArgs {
        product: product.into(),
        file: files.iter().map(|f| f.into()).collect(),
        note: note.map(str::to_owned),
        edition: None,
        content_type: None,
        dry_run: false,
    })
    .unwrap()
}

/// Paying buyers in the new-edition test, and after how many mails its first run dies.
const BUYERS: u32 = 30;
const CRASH_AFTER: u32 = 13;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_reaches_every_paying_buyer_exactly_once_across_a_crash() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let v1 = write(&dir, "book.pdf", b"%PDF-1.4 edition one");
    let v2_bytes = b"%PDF-1.4 edition two, with two new chapters".to_vec();
    let v2 = write(&dir, "book-v2.pdf", &v2_bytes);
    // The new edition is a set of two: a buyer gets both.
    let v2_epub_bytes = b"PK the epub of edition two".to_vec();
    let v2e = write(&dir, "book-v2.epub", &v2_epub_bytes);
    let product = add_product(&w, &bucket, "book", "The Book", "9.00 CNY", &v1).await;

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
        w.t.store.create_order(&o).await.unwrap();
        others.push(w.buyer(i));
    }
    for i in BUYERS + 5..BUYERS + 10 {
        let refunded = refunded_order(&w, &product, &w.buyer(i), t0).await;
        assert_eq!(refunded.status(), OrderStatus::Refunded);
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
            "--file",
            &v2e,
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
        w.t.store.get_product(product.id()).await.unwrap().unwrap(),
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

    // The real run, through the library the command calls, interrupted right after
    // its CRASH_AFTER-th mail is recorded (as a crash there would leave it).
    let author = author_for(&w, &bucket).await;
    let req = update_request("book", &[&v2, &v2e], Some("Two new chapters"));
    let mut interrupt = |p: kiosk::mailout::Progress<'_>| match p {
        kiosk::mailout::Progress::Buyer { summary, .. } if summary.sent == CRASH_AFTER as usize => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    };
    let first = author
        .run_update(&req, now(), &mut interrupt)
        .await
        .unwrap();
    assert!(first.stopped && !first.ok(), "{first:?}");
    assert_eq!(first.sent, CRASH_AFTER as usize);
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
            "--file",
            &v2e,
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
    let downloads = kiosk::downloads::Downloads::new(
        &kiosk_localaws::emulator_config().await.unwrap(),
        kiosk::Config {
            files_bucket: bucket.clone(),
            ..w.shop.config().clone()
        },
    );
    for (i, (order, old)) in paying.iter().enumerate().step_by(7) {
        let fresh = w.t.store.get_grant(&new_tokens[i]).await.unwrap().unwrap();
        assert_eq!(fresh.downloads_left, vec![5, 5]);
        let (_, url) = downloads
            .download(&new_tokens[i], 1, now())
            .await
            .unwrap()
            .into_url()
            .unwrap();
        let epub = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(epub.as_ref(), v2_epub_bytes.as_slice());
        assert_eq!(fresh.order_id, order.id);
        let (_, url) = downloads
            .download(&new_tokens[i], 0, now())
            .await
            .unwrap()
            .into_url()
            .unwrap();
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
        let (_, url) = downloads
            .download(&old.token, 0, now())
            .await
            .unwrap()
            .into_url()
            .unwrap();
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
        assert_eq!(w.order(&order.id).await.grant_token(), Some(&new_tokens[i]));
    }

    // A third run has nothing left to do and mails nobody.
    let third = kiosk(
        &w,
        &bucket,
        &["update", "book", "--file", &v2, "--file", &v2e],
        &[],
    );
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
async fn update_reports_ses_refusals_exits_non_zero_and_retries_them_with_the_same_links() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let v1 = write(&dir, "guide.pdf", b"%PDF-1.4 guide one");
    let v2 = write(&dir, "guide-2.pdf", b"%PDF-1.4 guide two");
    let product = add_product(&w, &bucket, "guide", "The Guide", "5.00 CNY", &v1).await;
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
    let records =
        w.t.store
            .edition_mails(product.id(), &kiosk::product::Edition::parse("v2").unwrap())
            .await
            .unwrap();
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

/// Found by the soak: a run stopped between a buyer's new-edition mail and its record
/// mailed that buyer again on the rerun (SES takes no idempotency key). A run with less
/// than `MAIL_ROOM` left of its deadline starts no mail (it leaves the buyers to the
/// next run, their links kept), and the rerun mails each buyer exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_short_of_time_starts_no_mail_and_the_rerun_mails_each_buyer_once() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let v1 = write(&dir, "zine.pdf", b"%PDF-1.4 zine one");
    let v2 = write(&dir, "zine-2.pdf", b"%PDF-1.4 zine two");
    let product = add_product(&w, &bucket, "zine", "The Zine", "9.00 CNY", &v1).await;
    let t0 = now() - time::Duration::days(1);
    for i in 0..3 {
        paid_order(&w, &product, &w.buyer(i), t0, Source::default()).await;
    }
    let author = author_for(&w, &bucket).await;
    let req = update_request("zine", &[&v2], None);
    let mut go_on = |_: kiosk::mailout::Progress<'_>| std::ops::ControlFlow::Continue(());
    // Less room than a send and its record need: the switch happens, no mail starts.
    let left = kiosk::delivery::MAIL_ROOM - std::time::Duration::from_millis(300);
    let short = kiosk::deadline::Deadline::after(left)
        .run(author.run_update(&req, now(), &mut go_on))
        .await
        .expect("the run returns before its deadline")
        .unwrap();
    assert_eq!((short.sent, short.failed.len()), (0, 3), "{short:?}");
    assert!(
        short.failed[0].1.contains("too little time left"),
        "{short:?}"
    );
    assert!(
        mails_by_recipient(&w, Some(NEW_EDITION))
            .await
            .keys()
            .all(|to| !to.contains(&w.tag))
    );
    // The rerun, with time: each buyer once, and a third run sends nothing.
    let rerun = author.run_update(&req, now(), &mut go_on).await.unwrap();
    assert!(rerun.ok() && rerun.sent == 3, "{rerun:?}");
    let again = author.run_update(&req, now(), &mut go_on).await.unwrap();
    assert_eq!((again.sent, again.already_sent), (0, 3));
    let mailed = mails_by_recipient(&w, Some(NEW_EDITION)).await;
    for i in 0..3 {
        assert_eq!(
            mailed.get(&w.buyer(i)).map_or(0, Vec::len),
            1,
            "{}",
            w.buyer(i)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
