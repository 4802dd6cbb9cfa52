//! `kiosk reconcile` and `kiosk orders --mail`.

use kiosk::order::Payment;
use kiosk_e2e::{World, now};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_sends_due_mails_and_orders_shows_the_mail_state() {
    // A sender only this test uses: SES refuses it until the test verifies it.
    let w = World::with_unverified_sender("cli-late").await.unwrap();
    let sender = w.shop.config().sender_email.as_str().to_owned();
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
        stderr(&bad).contains("use due, sent, failed, bounced or complained"),
        "{}",
        stderr(&bad)
    );

    // Not yet due (SES refused a moment ago; next try in 2 minutes): nothing to send.
    let out = kiosk(&w, &bucket, &["reconcile"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sent 0"), "{}", stdout(&out));

    // Its next try comes; SES now knows the sender.
    w.t.store
        .mail_failed(&order.id, 1, now() - time::Duration::seconds(1))
        .await
        .unwrap();
    w.verify_sender().await.unwrap();
    let out = kiosk(&w, &bucket, &["reconcile", "--budget", "30"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sent 1,"), "{}", stdout(&out));
    let mails = w.mails_to(order.email.as_str()).await;
    assert_eq!(mails.len(), 1);
    let token = w.order(&order.id).await.grant_token().cloned().unwrap();
    assert!(mails[0].body.contains(token.expose()));
    assert!(list("sent").contains(order.id.as_str()));
    assert!(!list("due").contains(order.id.as_str()));

    // Given up after every try: listed as failed.
    let failing = w.pending(&book, &w.buyer(3)).await;
    let payment = Payment {
        provider_txn_id: format!("T-{}", failing.id),
        amount: failing.amount,
    };
    w.t.store
        .mark_paid(&failing, &payment, None, None, None, now())
        .await
        .unwrap();
    w.t.store
        .mail_given_up(&failing.id, kiosk::delivery::MAX_MAIL_ATTEMPTS, now())
        .await
        .unwrap();
    let failed = list("failed");
    assert!(failed.contains(failing.id.as_str()), "{failed}");
    assert!(!failed.contains(order.id.as_str()));
}
