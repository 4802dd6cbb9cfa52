//! `kiosk resend`: a buyer's usable links by mail.

use kiosk::order::Source;
use kiosk_e2e::{World, WorldOptions, now};

use super::common::*;

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

/// A buyer mistyped their address: `resend ORDER --to` corrects it (the old one kept in
/// the order's history, which `kiosk orders` shows), and the links go to the new one
/// only. A malformed new address or an unpaid order changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_to_corrects_a_mistyped_address() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let typo = format!("reader-{}@exmaple.com", w.tag);
    let right = w.buyer(7);
    let (o, g) = paid_order(&w, &book, &typo, now(), Source::default()).await;

    for (args, needle) in [
        (
            vec!["resend", o.id.as_str(), "--to", "not-an-address"],
            "email \"not-an-address\"",
        ),
        (vec!["resend", "--email", &right, "--to", &right], "--to"),
    ] {
        let out = kiosk(&w, &bucket, &args, &[]);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(w.order(&o.id).await.email, o.email, "nothing changed");

    let out = kiosk(&w, &bucket, &["resend", o.id.as_str(), "--to", &right], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&right), "{}", stdout(&out));
    let stored = w.order(&o.id).await;
    assert_eq!(stored.email.as_str(), right);
    assert_eq!(
        stored
            .previous_emails
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>(),
        [typo.as_str()]
    );
    let mails = w.mails_to(&right).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(link_in(&mails[0]), g.token);
    assert!(
        w.mails_to(&typo).await.is_empty(),
        "nothing to the mistyped address"
    );
    let listed = stdout(&kiosk(&w, &bucket, &["orders"], &[]));
    assert!(
        listed.contains(&format!("{right} (was {typo})")),
        "{listed}"
    );

    let pending = w.pending(&book, &w.buyer(8)).await;
    let out = kiosk(
        &w,
        &bucket,
        &["resend", pending.id.as_str(), "--to", &right],
        &[],
    );
    assert!(!out.status.success() && stderr(&out).contains("is pending"));
    assert!(w.order(&pending.id).await.previous_emails.is_empty());
}

/// SES reported the address bouncing: `kiosk orders --mail bounced` lists the order with
/// what SES said and the fix, `kiosk resend` refuses to mail there, and `--to` mails the
/// corrected address and takes the order off the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounced_orders_are_listed_and_fixed_with_resend_to() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let typo = format!("reader-{}@exmaple.com", w.tag);
    let (o, _) = paid_order(&w, &book, &typo, now(), Source::default()).await;
    let (fine, _) = paid_order(&w, &book, &w.buyer(1), now(), Source::default()).await;
    let events = kiosk::mail_events::MailEvents::from_parts(
        w.t.store.clone(),
        &kiosk::config::MailEventsConfig {
            table_name: w.shop.config().table_name.clone(),
            topic_arn: kiosk_e2e::MAIL_EVENTS_TOPIC.into(),
            configuration_set: kiosk_e2e::MAIL_CONFIGURATION_SET.into(),
        },
    );
    let bounce = kiosk_localaws::ses::sns_event(
        kiosk_localaws::ses::Report::PermanentBounce,
        &kiosk_localaws::ses::About {
            topic_arn: kiosk_e2e::MAIL_EVENTS_TOPIC,
            configuration_set: kiosk_e2e::MAIL_CONFIGURATION_SET,
            source: kiosk_e2e::VERIFIED_SENDER,
            recipient: &typo,
            message_id: "0100019a-cli",
            at: "2026-11-28T09:30:00.000Z",
        },
    );
    assert_eq!(
        events
            .handle(&bounce, now())
            .await
            .unwrap()
            .addresses_marked,
        1
    );

    let listed = stdout(&kiosk(&w, &bucket, &["orders", "--mail", "bounced"], &[]));
    assert!(listed.contains(o.id.as_str()), "{listed}");
    assert!(!listed.contains(fine.id.as_str()), "{listed}");
    assert!(listed.contains("1 orders"), "{listed}");
    assert!(
        listed.contains(&format!(
            "! mail to {typo} bounced on 2026-11-28 (Permanent/General: smtp; 550 5.1.1 user unknown)"
        )) && listed.contains(&format!("kiosk resend {} --to ADDRESS", o.id)),
        "{listed}"
    );
    let none = stdout(&kiosk(
        &w,
        &bucket,
        &["orders", "--mail", "complained"],
        &[],
    ));
    assert!(none.contains("0 orders"), "{none}");
    let out = kiosk(&w, &bucket, &["orders", "--mail", "lost"], &[]);
    assert!(!out.status.success() && stderr(&out).contains("bounced or complained"));

    let out = kiosk(&w, &bucket, &["resend", o.id.as_str()], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("bounced") && stderr(&out).contains("--to"),
        "{}",
        stderr(&out)
    );
    assert!(w.mails_to(&typo).await.is_empty());

    let right = w.buyer(2);
    let out = kiosk(&w, &bucket, &["resend", o.id.as_str(), "--to", &right], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.mails_to(&right).await.len(), 1);
    let listed = stdout(&kiosk(&w, &bucket, &["orders", "--mail", "bounced"], &[]));
    assert!(listed.contains("0 orders"), "{listed}");
    let all = stdout(&kiosk(&w, &bucket, &["orders"], &[]));
    assert!(all.contains(&format!("{right} (was {typo})")), "{all}");
}

/// SES keeps its own account-level list of addresses that bounced or complained and
/// drops mail to them silently. `resend ORDER --to` takes the address off it first
/// (SES v2 DeleteSuppressedDestination), so the mail arrives; every AWS call the command
/// made is one the CLI's documented policy (`KioskCliPolicy` in template.yaml) allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_to_takes_the_address_off_the_ses_suppression_list() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let book = w.add_product("book", "9.00").await;
    let typo = format!("reader-{}@exmaple.com", w.tag);
    let right = w.buyer(9);
    let (o, g) = paid_order(&w, &book, &typo, now(), Source::default()).await;
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let sesv2 = aws_sdk_sesv2::Client::new(&sdk);
    sesv2
        .put_suppressed_destination()
        .email_address(&right)
        .reason(aws_sdk_sesv2::types::SuppressionListReason::Bounce)
        .send()
        .await
        .unwrap();

    let app = kiosk_localaws::iam::app_id(&w.tag, "cli");
    let out = kiosk(
        &w,
        &bucket,
        &["resend", o.id.as_str(), "--to", &right],
        &[("AWS_SDK_UA_APP_ID", app.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "removed {right} from SES's account-level suppression list"
        )),
        "{}",
        stdout(&out)
    );
    let mails = w.mails_to(&right).await;
    assert_eq!(mails.len(), 1, "delivered, not dropped");
    assert_eq!(link_in(&mails[0]), g.token);
    let listed = sesv2
        .get_suppressed_destination()
        .email_address(&right)
        .send()
        .await;
    assert!(listed.is_err(), "no longer on the list");

    // Not on the list (any more): nothing to remove, said nowhere, mailed all the same.
    let out = kiosk(&w, &bucket, &["resend", o.id.as_str(), "--to", &right], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("suppression"), "{}", stdout(&out));
    assert_eq!(w.mails_to(&right).await.len(), 2);

    // Every call of the first run, replayed against the CLI's policy.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let values = kiosk_localaws::functions::Values {
        params: [
            ("SenderEmail", kiosk_e2e::VERIFIED_SENDER),
            ("ShopUrl", kiosk_e2e::SHOP_URL),
            ("AlipayAppId", kiosk_e2e::APP_ID),
            ("AlipaySellerId", kiosk_e2e::SELLER_ID),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        resources: [
            ("Table", w.t.name.clone()),
            (
                "Table.Arn",
                format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}", w.t.name),
            ),
            ("VisitsTable", kiosk_localaws::visits_table_of(&w.t.name)),
            (
                "VisitsTable.Arn",
                format!(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
                    kiosk_localaws::visits_table_of(&w.t.name)
                ),
            ),
            ("FilesBucket", bucket.clone()),
            ("FilesBucket.Arn", format!("arn:aws:s3:::{bucket}")),
            ("HttpApi", "api".to_owned()),
            (
                "MailConfigurationSet",
                kiosk_e2e::MAIL_CONFIGURATION_SET.to_owned(),
            ),
            ("MailEventsTopic", kiosk_e2e::MAIL_EVENTS_TOPIC.to_owned()),
            (
                "FreeOrdersQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:free-orders".to_owned(),
            ),
            (
                "StampQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:stamp".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };
    let policies = kiosk_localaws::iam::policies(kiosk_localaws::TEMPLATE, &values).unwrap();
    let cli = &policies["KioskCliPolicy"];
    let http = reqwest::Client::new();
    let mut actions = Vec::new();
    for r in kiosk_localaws::iam::recorded(&http, &endpoint, &app)
        .await
        .unwrap()
    {
        for req in kiosk_localaws::iam::requests_of(&r).unwrap() {
            assert!(
                kiosk_localaws::iam::allowed(cli, &req),
                "KioskCliPolicy denies {req:?}"
            );
            actions.push(req.action);
        }
    }
    assert!(
        actions
            .iter()
            .any(|a| a == "ses:DeleteSuppressedDestination"),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "ses:SendEmail"), "{actions:?}");
}
