//! `kiosk refund` at the local sandboxes: partial, full, reruns that never refund twice.

use kiosk::{Order, OrderStatus};
use kiosk_e2e::now;

use super::common::*;

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
    let store = &app.store;
    let mut order = store.get_order(&id).await.unwrap().unwrap();
    for _ in 0..100 {
        if order.status() == OrderStatus::Paid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        order = store.get_order(&id).await.unwrap().unwrap();
    }
    assert_eq!(order.status(), OrderStatus::Paid);
    let token = order.grant_token().cloned().unwrap();
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
        (o.status(), o.refunded.map(|m| m.minor())),
        (OrderStatus::Paid, Some(300))
    );
    assert!(grant_usable().await);

    // As if that run had died after the sandbox refunded and before the order recorded
    // it: running the same command again asks for the same refund, which the sandbox
    // does not repeat, and the order catches up.
    rewrite_order(store, &order).await;
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
    assert_eq!(o.status(), OrderStatus::Refunded);
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

/// `kiosk refund ID --amount 3.00` as an author runs it after an error: once more if it
/// failed, after the provider's own refund report has brought the order to
/// `refunded_after` (in fen).
async fn refund_until_done(
    root: &std::path::Path,
    store: &kiosk::store::Store,
    id: &kiosk::OrderId,
    refunded_after: u64,
) {
    for _ in 0..2 {
        if local(
            root,
            &["refund", id.as_str(), "--amount", "3.00", "--again"],
        )
        .status
        .success()
        {
            return;
        }
        wait_order(store, id, "the provider's refund report", |o| {
            o.refunded.map(|m| m.minor()) == Some(refunded_after)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_rerun_after_a_lost_answer_or_a_provider_error_refunds_once() {
    use devstack::stripe::Fault;
    let (root, shop) = local_stack("kiosk-refund-rerun").await;
    let app = &shop.app;
    let store = &app.store;
    let tag = root.file_name().unwrap().to_string_lossy().into_owned();
    let refunded = |o: &Order, minor: u64| o.refunded.map(|m| m.minor()) == Some(minor);

    // ---- Alipay: the sandbox refunds, and every answer of the run is lost. ----
    let id = shop
        .open_cashier(&format!("alipay-{tag}@example.com"))
        .await;
    assert_eq!(shop.pay(&id, "").await.0, 303);
    wait_order(store, &id, "paid", |o| o.status() == OrderStatus::Paid).await;
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

    // Once more, as after a run that recorded everything and stopped before saying so:
    // taken for a rerun of that refund, nothing asked (another takes --again, below).
    let out = local(&root, &["refund", id.as_str(), "--amount", "3.00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("looks like a rerun"),
        "{}",
        stdout(&out)
    );
    assert_eq!(app.sandbox.refund_requests(id.as_str()), vec![300]);
    let dry = local(
        &root,
        &["refund", id.as_str(), "--amount", "3.00", "--dry-run"],
    );
    assert!(
        stdout(&dry).contains("nothing would be asked"),
        "{}",
        stdout(&dry)
    );
    let dry = local(
        &root,
        &[
            "refund",
            id.as_str(),
            "--amount",
            "3.00",
            "--again",
            "--dry-run",
        ],
    );
    assert!(
        stdout(&dry).contains("would refund 3.00 CNY"),
        "{}",
        stdout(&dry)
    );

    // A 502 from the gateway after it refunded: rerun until it succeeds, one refund.
    app.sandbox.fail_refunds(&[Fault::ServerError]);
    refund_until_done(&root, store, &id, 600).await;
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
        o.status() == OrderStatus::Paid
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
    refund_until_done(&root, store, &card, 600).await;
    assert_eq!(app.stripe.refunds_made(&session), 2);
    wait_order(store, &card, "600 refunded", |o| refunded(o, 600)).await;

    // Stripe is still making the refund when the run is stopped (found by the soak: two
    // refunds for one request). The rerun, straight after, finds none in the list yet;
    // under the same idempotency key it gets Stripe's 409, then the saved answer.
    app.stripe
        .refund_late(std::time::Duration::from_millis(1200));
    let ask = kiosk::refund::RefundAsk {
        amount: Some("1.00"),
        ..Default::default()
    };
    let stopped = kiosk::deadline::Deadline::after(std::time::Duration::from_millis(300))
        .run(Box::pin(app.refunds.refund_order(&card, ask, now())))
        .await;
    // Cut off, or out of time and stopped by its own deadline check.
    assert!(
        !matches!(stopped, Some(Ok(_))),
        "the first run does not finish: {stopped:?}"
    );
    assert_eq!(app.stripe.refunds_made(&session), 2, "not made yet");
    let done = Box::pin(app.refunds.refund_order(&card, ask, now()))
        .await
        .expect("the rerun finishes the refund");
    assert_eq!(done.total.minor(), 700, "{done:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.stripe.refunds_made(&session),
        3,
        "one refund for the request"
    );
    wait_order(store, &card, "700 refunded", |o| refunded(o, 700)).await;
    let _ = std::fs::remove_dir_all(root);
}

/// `kiosk refund` of a WeChat Pay order at the local stand-in: part, then (after a lost
/// record) the same request again, then the rest twice; one refund per request at WeChat
/// Pay, and its refund notifications change nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_of_a_wechat_order_at_the_stand_in_refunds_once_per_request() {
    let (root, shop) = local_stack("kiosk-refund-wechat").await;
    let (base, app, http) = (&shop.base, &shop.app, &shop.http);
    let email = format!(
        "wechat-{}@example.com",
        root.file_name().unwrap().to_string_lossy()
    );
    let resp = http
        .post(format!("{base}/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "product_id=little-book-of-rust&channel=wechat&device=desktop&email={}",
            email.replace('@', "%40")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let id = kiosk::OrderId::parse(
        location
            .split("order=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .unwrap(),
    )
    .unwrap();
    let note = app.wechat.pay(id.as_str(), now()).expect("open order");
    let mut req = http.post(format!("{base}/notify/wechat"));
    for (k, v) in &note.headers {
        req = req.header(*k, v);
    }
    assert_eq!(
        req.body(note.body.clone()).send().await.unwrap().status(),
        200
    );
    let store = &app.store;
    let paid = store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(paid.status(), OrderStatus::Paid);

    let out = local(&root, &["refund", id.as_str(), "--amount", "3.00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(app.wechat.refunds_of(id.as_str()), vec![300]);
    // As if that run had died before recording: the same request, found, not repeated.
    rewrite_order(store, &paid).await;
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
    assert_eq!(app.wechat.refunds_of(id.as_str()), vec![300]);
    for _ in 0..2 {
        let out = local(&root, &["refund", id.as_str()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let o = store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.refunded.map(|m| m.minor()), Some(900));
    assert_eq!(app.wechat.refunds_of(id.as_str()), vec![300, 600]);
    // WeChat Pay's REFUND.SUCCESS notifications arrive and change nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(store.get_order(&id).await.unwrap().unwrap(), o);
    let _ = std::fs::remove_dir_all(root);
}
