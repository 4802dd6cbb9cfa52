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
