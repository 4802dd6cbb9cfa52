//! SES's bounce and complaint reports, through the mail-events handler as the function
//! runs it, against the emulator: what they record on the orders, what they leave alone,
//! and every mail they stop (reconcile's retry, "email me my links", a new edition)
//! until the author corrects the address.

use kiosk::author::{Author, AuthorError, AuthorSettings, ResendTo};
use kiosk::config::MailEventsConfig;
use kiosk::mail_events::MailEvents;
use kiosk::order::{MailBlockKind, MailState};
use kiosk::resend::{Network, Resent};
use kiosk::{Email, Order};
use kiosk_e2e::{MAIL_CONFIGURATION_SET, MAIL_EVENTS_TOPIC, World, now};
use kiosk_localaws::ses::{About, Report, sns_event};
use serde_json::Value;

fn mail_events(w: &World) -> MailEvents {
    MailEvents::from_parts(
        w.t.store.clone(),
        &MailEventsConfig {
            table_name: w.shop.config().table_name.clone(),
            topic_arn: MAIL_EVENTS_TOPIC.into(),
            configuration_set: MAIL_CONFIGURATION_SET.into(),
        },
    )
}

/// SES's report about a mail to `to`, from `topic` about mail sent with `set`.
fn report(report: Report, to: &str, topic: &str, set: &str) -> Value {
    sns_event(
        report,
        &About {
            topic_arn: topic,
            configuration_set: set,
            source: kiosk_e2e::VERIFIED_SENDER,
            recipient: to,
            message_id: "0100019a-test",
            at: "2026-11-28T09:30:00.000Z",
        },
    )
}

fn ours(kind: Report, to: &str) -> Value {
    report(kind, to, MAIL_EVENTS_TOPIC, MAIL_CONFIGURATION_SET)
}

async fn run(w: &World, event: &Value) -> kiosk::mail_events::Handled {
    mail_events::handler::run(&mail_events(w), event, now())
        .await
        .expect("mail events")
}

async fn author(w: &World) -> Author {
    let sdk = kiosk_localaws::emulator_config().await.expect("sdk");
    Author::new(
        &sdk,
        AuthorSettings {
            table: w.shop.config().table_name.clone(),
            bucket: None,
            sender: Some(w.shop.config().sender_email.clone()),
            public_base_url: Some(w.shop.config().public_base_url.clone()),
            support: None,
            mail_configuration_set: Some(MAIL_CONFIGURATION_SET.into()),
            default_lang: kiosk::i18n::Lang::EN,
        },
    )
}

/// A paid order of `email` whose purchase mail SES refused (the world's sender is not
/// verified yet), so it waits in `MailDue` for reconcile.
async fn paid_with_mail_due(w: &World, product: &kiosk::Product, email: &str) -> Order {
    let order = w.pending(product, email).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    let order = w.order(&order.id).await;
    assert!(
        matches!(order.mail, MailState::Due { .. }),
        "{:?}",
        order.mail
    );
    order
}

#[tokio::test]
async fn a_bounce_stops_every_mail_to_the_address_until_the_author_corrects_it() {
    let w = World::with_unverified_sender("bounce").await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let typo = w.buyer(1).replace("@example.com", "@exmaple.com");
    let first = paid_with_mail_due(&w, &product, &typo).await;
    let second = paid_with_mail_due(&w, &product, &typo).await;
    let other = paid_with_mail_due(&w, &product, &w.buyer(2)).await;
    w.verify_sender().await.unwrap();

    // A transient bounce (a full mailbox), a report from another topic and one about
    // mail of another configuration set: nothing is recorded.
    let done = run(&w, &ours(Report::TransientBounce, &typo)).await;
    assert_eq!((done.transient, done.addresses_marked), (1, 0), "{done:?}");
    let foreign_topic = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic";
    for event in [
        report(
            Report::PermanentBounce,
            &typo,
            foreign_topic,
            MAIL_CONFIGURATION_SET,
        ),
        report(
            Report::PermanentBounce,
            &typo,
            MAIL_EVENTS_TOPIC,
            "another-set",
        ),
        report(
            Report::Complaint,
            &typo,
            foreign_topic,
            MAIL_CONFIGURATION_SET,
        ),
    ] {
        let done = run(&w, &event).await;
        assert_eq!((done.ignored, done.addresses_marked), (1, 0), "{done:?}");
    }
    for o in [&first, &second] {
        assert_eq!(w.order(&o.id).await, *o, "nothing changed");
    }

    // The permanent bounce marks the address (one write, whatever its orders), and only
    // that one.
    let done = run(&w, &ours(Report::PermanentBounce, &typo)).await;
    assert_eq!((done.bounced, done.addresses_marked), (1, 1), "{done:?}");
    let block = block_of(&w, &typo).await.expect("marked");
    assert_eq!(block.kind, MailBlockKind::Bounced);
    assert!(block.detail.starts_with("Permanent/General"), "{block:?}");
    assert!(!block.detail.contains(&typo), "{block:?}");
    assert_eq!(block_of(&w, other.email.as_str()).await, None);

    // Reconcile's retry (once all three are due) sends the other buyer's mail and drops
    // the bounced ones.
    let MailState::Due { next_at, .. } = w.order(&other.id).await.mail else {
        panic!("due")
    };
    let far = kiosk::deadline::Deadline::after(std::time::Duration::from_secs(60));
    let run1 = w.reconciler.run(next_at, far).await.unwrap().mail;
    assert_eq!((run1.sent, run1.blocked), (1, 2), "{run1:?}");
    assert_eq!(w.mails_to(&w.buyer(2)).await.len(), 1);
    assert!(
        w.mails_to(&typo).await.is_empty(),
        "no mail to the bounced address"
    );
    for o in [&first, &second] {
        assert_eq!(
            w.order(&o.id).await.mail,
            MailState::NotDue,
            "no longer due"
        );
    }

    // "Email me my links" sends nothing there (the page says the same as ever).
    let downloads = kiosk::downloads::Downloads::new(
        &kiosk_localaws::emulator_config().await.unwrap(),
        w.shop.config().clone(),
    );
    let asked = downloads
        .resend(
            &Email::parse(&typo).unwrap(),
            &Network::of(Some("192.0.2.7")),
            kiosk::i18n::Lang::EN,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(asked, Resent::Blocked);
    assert!(w.mails_to(&typo).await.is_empty());

    // The author's resend of the order refuses, saying why and how to fix it.
    let author = author(&w).await;
    let err = author
        .resend_links(ResendTo::Order(first.id.clone()), now())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthorError::Blocked { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("bounced") && text.contains("--to"), "{text}");
    assert!(w.mails_to(&typo).await.is_empty());

    // Corrected: the links go to the new address, the order shows both and no bounce.
    let fixed = w.buyer(3);
    let (to, n) = author
        .resend_links(
            ResendTo::CorrectedOrder(first.id.clone(), Email::parse(&fixed).unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!((to.as_str(), n), (fixed.as_str(), 1));
    let mails = w.mails_to(&fixed).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].configuration_set.as_deref(),
        Some(MAIL_CONFIGURATION_SET)
    );
    let corrected = w.order(&first.id).await;
    assert_eq!(corrected.email.as_str(), fixed);
    assert_eq!(corrected.previous_emails, [Email::parse(&typo).unwrap()]);
    assert_eq!(corrected.mail_block, None);
    assert_eq!(block_of(&w, &fixed).await, None);
    // The mistyped address keeps its record (its other order is not mailed).
    assert!(block_of(&w, &typo).await.is_some());
    assert!(w.mails_to(&typo).await.is_empty());
}

#[tokio::test]
async fn a_complaint_is_recorded_and_outlasts_a_later_bounce() {
    let w = World::new(kiosk_e2e::WorldOptions::default())
        .await
        .unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let buyer = w.buyer(1);
    let order = w.pending(&product, &buyer).await;
    w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
        .await;
    let mails = w.mails_to(&buyer).await;
    assert_eq!(mails.len(), 1);
    // Every mail names the shop's configuration set (the emulator refuses an unknown one).
    assert_eq!(
        mails[0].configuration_set.as_deref(),
        Some(MAIL_CONFIGURATION_SET)
    );

    let done = run(&w, &ours(Report::Complaint, &buyer)).await;
    assert_eq!((done.complained, done.addresses_marked), (1, 1), "{done:?}");
    let block = block_of(&w, &buyer).await.expect("marked");
    assert_eq!(
        (block.kind, block.detail.as_str()),
        (MailBlockKind::Complained, "abuse")
    );
    assert_eq!(
        block.at,
        time::macros::datetime!(2026-11-28 09:30 UTC),
        "the report's own time"
    );
    // A bounce reported later does not replace the complaint; a repeat changes nothing.
    let done = run(&w, &ours(Report::PermanentBounce, &buyer)).await;
    assert_eq!((done.bounced, done.addresses_marked), (1, 0), "{done:?}");
    let done = run(&w, &ours(Report::Complaint, &buyer)).await;
    assert_eq!(done.addresses_marked, 1, "{done:?}");
    assert_eq!(block_of(&w, &buyer).await, Some(block));

    // A new edition mails every buyer but this one.
    let v2 = kiosk::product::Edition::parse("v2").unwrap();
    let records = w.t.store.edition_mails(product.id(), &v2).await.unwrap();
    let mut buyers = w.t.store.buyers_of(product.id()).await.unwrap();
    w.t.store.with_address_blocks(&mut buyers).await.unwrap();
    let plan = kiosk::edition::plan(buyers, &records, &v2);
    assert_eq!(plan.blocked, std::slice::from_ref(&order.id));
    assert!(plan.to_mail.is_empty());

    // The author vouches for the address (same address with --to): mail goes there again.
    let (_, n) = author(&w)
        .await
        .resend_links(
            ResendTo::CorrectedOrder(order.id.clone(), Email::parse(&buyer).unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(block_of(&w, &buyer).await, None);
    assert_eq!(w.mails_to(&buyer).await.len(), 2);
}

/// The committed SNS events are ones the handler believes and acts on (the real binary
/// runs them in bootstraps.rs): a report is about mail to a buyer of this shop.
#[tokio::test]
async fn the_committed_ses_events_mark_their_buyers() {
    let w = World::new(kiosk_e2e::WorldOptions::default())
        .await
        .unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    for (file, buyer, kind) in [
        (
            "ses-bounce.json",
            kiosk_e2e::events::BOUNCE_BUYER,
            MailBlockKind::Bounced,
        ),
        (
            "ses-complaint.json",
            kiosk_e2e::events::COMPLAINT_BUYER,
            MailBlockKind::Complained,
        ),
    ] {
        kiosk_e2e::paid_purchase(&w.t.store, &product, buyer).await;
        let event =
            kiosk_e2e::events::load_event(&kiosk_e2e::events::events_dir().join(file)).unwrap();
        let done = run(&w, &event).await;
        assert_eq!(
            (done.addresses_marked, done.ignored),
            (1, 0),
            "{file}: {done:?}"
        );
        assert_eq!(
            block_of(&w, buyer).await.map(|b| b.kind),
            Some(kind),
            "{file}"
        );
        assert_eq!(
            mail_events::handler::report(&done)["addresses_marked"],
            1,
            "{file}"
        );
    }
}

/// What SES's reports recorded for `email` (one item per address).
async fn block_of(w: &World, email: &str) -> Option<kiosk::order::MailBlock> {
    w.t.store
        .address_block(&Email::parse(email).unwrap())
        .await
        .unwrap()
}

/// However many orders an address has, a report about it costs one write and reads no
/// order.
#[tokio::test]
async fn a_report_costs_one_write_for_an_address_with_200_orders() {
    let w = World::new(kiosk_e2e::WorldOptions::default())
        .await
        .unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let buyer = w.buyer(1);
    for _ in 0..200 {
        w.pending(&product, &buyer).await;
    }
    let (store, app) = kiosk_e2e::recording_store(&w.t.name, &w.tag, "mail-events-200")
        .await
        .unwrap();
    let events = MailEvents::from_parts(
        store,
        &MailEventsConfig {
            table_name: w.t.name.clone(),
            topic_arn: MAIL_EVENTS_TOPIC.into(),
            configuration_set: MAIL_CONFIGURATION_SET.into(),
        },
    );
    let done = events
        .handle(&ours(Report::PermanentBounce, &buyer), now())
        .await
        .unwrap();
    assert_eq!((done.bounced, done.addresses_marked), (1, 1), "{done:?}");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let calls = kiosk_localaws::iam::recorded(&reqwest::Client::new(), &endpoint, &app)
        .await
        .unwrap();
    assert_eq!(
        calls.len(),
        1,
        "one write, no read of the orders: {calls:?}"
    );
    assert!(calls[0].target.ends_with(".UpdateItem"));
    assert!(block_of(&w, &buyer).await.is_some());
}
