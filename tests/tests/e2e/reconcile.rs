//! Reconcile's mail delivery against the locked emulator: a purchase mail SES refused is
//! sent by a later run exactly once, however many runs and notifications race; a fresh
//! payment is left to the process that recorded it for the lease (and to reconcile when
//! the process has too little time left to send and record it); a time budget stops a
//! run between whole orders; a mail that keeps failing is given up after its last try.
//!
//! Over 400 lines: the race and failure scenarios of delivery, each with its own setup.

use std::collections::HashMap;
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use kiosk::channel::Channel;
use kiosk::delivery::{MAIL_LEASE, MAX_MAIL_ATTEMPTS, MailRun};
use kiosk::order::{MailState, OrderStatus, PayOutcome, Payment};
use kiosk::store::Paid;
use kiosk::{Grant, Order, Product};
use kiosk_e2e::gateway::Answer;
use kiosk_e2e::local::LocalShop;
use kiosk_e2e::{World, WorldOptions, now, pending_order};
use time::{Duration, OffsetDateTime};

async fn world_with_unverified_sender() -> World {
    World::with_unverified_sender("late").await.unwrap()
}

async fn verify_sender(w: &World) {
    w.verify_sender().await.unwrap()
}

async fn reconcile(w: &World, at: OffsetDateTime, budget: StdDuration) -> MailRun {
    w.shop
        .delivery()
        .retry_due_mails(at, kiosk::deadline::Deadline::after(budget))
        .await
        .unwrap()
}

/// A payment recorded as the notification path records it, without sending the mail
/// (as if the process died right after the transaction).
async fn paid_without_mail(w: &World, p: &Product, email: &str, at: OffsetDateTime) -> Order {
    let o = pending_order(p, email, at);
    w.t.store.create_order(&o).await.unwrap();
    let payment = Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    match w
        .t
        .store
        .mark_paid(&o, &payment, None, None, None, at)
        .await
        .unwrap()
    {
        Paid::Now { order, .. } => *order,
        other => panic!("expected a new payment, got {other:?}"),
    }
}

/// The same state written with plain puts (order already paid, its grant): hundreds of
/// these cost seconds, where the payment transaction's cost in the emulator grows with
/// the table.
async fn paid_without_mail_fast(w: &World, p: &Product, email: &str, at: OffsetDateTime) {
    let o = pending_order(p, email, at);
    let payment = Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    let token = kiosk::DownloadToken::generate().unwrap();
    let PayOutcome::Paid(paid) = o.pay(&payment, token.clone(), at).unwrap() else {
        panic!("not paid")
    };
    w.t.store.create_order(&paid).await.unwrap();
    w.t.store
        .create_grant(&Grant::for_order(&paid, token, None, at))
        .await
        .unwrap();
}

/// Found by the soak: a purchase mail sent and then not recorded goes out again from
/// reconcile (SES takes no idempotency key), and a handler cut off at its deadline could
/// stop between the two. A notification with less than `MAIL_ROOM` left records the
/// payment and leaves the mail to reconcile after the lease, which sends it once.
#[tokio::test]
async fn a_notification_short_of_time_leaves_the_mail_to_reconcile() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let p = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let o = w.pending(&p, &email).await;
    let body = kiosk_e2e::form(&w.notify_params(o.id.as_str(), "9.00", "TRADE_SUCCESS"));
    // Under MAIL_ROOM left of the request (after Lambda's reply margin): enough to
    // record the payment, not to start the mail.
    let left = kiosk::delivery::MAIL_ROOM - StdDuration::from_millis(300);
    assert_eq!(
        w.notify_within(&body, kiosk::deadline::REPLY_MARGIN + left)
            .await,
        200
    );
    let paid = w.order(&o.id).await;
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert!(
        matches!(paid.mail, MailState::Due { attempts: 0, .. }),
        "{:?}",
        paid.mail
    );
    assert!(w.mails_to(&email).await.is_empty(), "no mail started");
    // Before the lease ends nothing is sent; after it, one mail, and no second.
    let run = reconcile(&w, now(), StdDuration::from_secs(10)).await;
    assert_eq!(run.sent, 0);
    for _ in 0..2 {
        reconcile(
            &w,
            now() + MAIL_LEASE + Duration::seconds(1),
            StdDuration::from_secs(10),
        )
        .await;
    }
    assert_eq!(w.mails_to(&email).await.len(), 1);
    assert!(matches!(w.order(&o.id).await.mail, MailState::Sent { .. }));
    // With time to spare the notification path sends it at once (the usual case).
    let other = w.pending(&p, &w.buyer(2)).await;
    let body = kiosk_e2e::form(&w.notify_params(other.id.as_str(), "9.00", "TRADE_SUCCESS"));
    assert_eq!(
        w.notify_within(&body, StdDuration::from_secs(10)).await,
        200
    );
    assert_eq!(w.mails_to(&w.buyer(2)).await.len(), 1);
}

#[tokio::test]
async fn a_refused_mail_goes_out_on_the_next_run_after_the_sender_is_verified() {
    let w = world_with_unverified_sender().await;
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    let MailState::Due {
        attempts: 1,
        next_at,
    } = w.order(&order.id).await.mail
    else {
        panic!("mail should be due after SES refused it")
    };
    assert!(w.mails_to(&email).await.is_empty());

    // Before its next try nothing happens, even with SES fixed.
    verify_sender(&w).await;
    let early = reconcile(
        &w,
        next_at - Duration::seconds(1),
        StdDuration::from_secs(30),
    )
    .await;
    assert_eq!(early, MailRun::default());
    assert!(w.mails_to(&email).await.is_empty());

    let run = reconcile(&w, next_at, StdDuration::from_secs(30)).await;
    assert_eq!(run.sent, 1, "{run:?}");
    let mails = w.mails_to(&email).await;
    assert_eq!(mails.len(), 1);
    let stored = w.order(&order.id).await;
    let token = stored.grant_token().cloned().unwrap();
    assert!(mails[0].body.contains(token.expose()));
    assert!(
        matches!(stored.mail, MailState::Sent { .. }),
        "{:?}",
        stored.mail
    );

    // A later run finds nothing to do.
    let again = reconcile(&w, next_at + Duration::hours(1), StdDuration::from_secs(30)).await;
    assert_eq!(again.sent, 0);
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_runs_and_a_duplicate_notification_send_one_mail() {
    let w = world_with_unverified_sender().await;
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = w.pending(&product, &email).await;
    let notify = kiosk_e2e::form(&w.notify_params(order.id.as_str(), "9.00", "TRADE_SUCCESS"));
    assert_eq!(w.notify(&notify).await, (200, "success".to_owned()));
    let MailState::Due { next_at, .. } = w.order(&order.id).await.mail else {
        panic!("mail should be due")
    };
    verify_sender(&w).await;

    let budget = StdDuration::from_secs(30);
    let (a, b, c, dup) = tokio::join!(
        reconcile(&w, next_at, budget),
        reconcile(&w, next_at, budget),
        reconcile(&w, next_at, budget),
        w.notify(&notify),
    );
    assert_eq!(dup, (200, "success".to_owned()));
    assert_eq!(a.sent + b.sent + c.sent, 1, "{a:?} {b:?} {c:?}");
    assert_eq!(w.mails_to(&email).await.len(), 1);
    assert!(matches!(
        w.order(&order.id).await.mail,
        MailState::Sent { .. }
    ));
}

#[tokio::test]
async fn a_fresh_payment_is_left_to_its_own_process_for_the_lease() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let paid_at = now();
    let order = paid_without_mail(&w, &product, &email, paid_at).await;
    assert_eq!(
        order.mail,
        MailState::Due {
            attempts: 0,
            next_at: paid_at + MAIL_LEASE
        }
    );

    let within = reconcile(
        &w,
        paid_at + MAIL_LEASE - Duration::seconds(1),
        StdDuration::from_secs(30),
    )
    .await;
    assert_eq!(within.sent, 0);
    assert!(w.mails_to(&email).await.is_empty());

    let after = reconcile(&w, paid_at + MAIL_LEASE, StdDuration::from_secs(30)).await;
    assert_eq!(after.sent, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_small_budget_stops_between_whole_orders_and_later_runs_finish_the_rest() {
    // Far more than a 1 s run can send (about a dozen mails here, each a claim, two
    // reads, the send and its record): the first run stops part-way, later ones finish.
    const DUE: u32 = 100;
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let paid_at = now() - Duration::hours(1);
    for i in 0..DUE {
        paid_without_mail_fast(&w, &product, &w.buyer(i), paid_at).await;
    }
    let at = now();

    let first = reconcile(&w, at, StdDuration::from_secs(1)).await;
    assert!(first.out_of_time, "{first:?}");
    assert!(first.sent > 0 && first.sent < DUE, "{first:?}");
    let mails = mails_by_buyer(&w).await;
    assert_eq!(
        mails.values().sum::<usize>(),
        first.sent as usize,
        "every order the run started was finished: one mail each, nothing half-done"
    );
    let still_due = w.t.store.due_mails(at, 1000).await.unwrap().len();
    assert_eq!(still_due, (DUE - first.sent) as usize);

    let mut total = first.sent;
    for _ in 0..50 {
        let run = reconcile(&w, at, StdDuration::from_secs(2)).await;
        total += run.sent;
        assert_eq!(
            run.claimed_elsewhere + run.errors + run.retry_later + run.gave_up,
            0
        );
        if !run.out_of_time {
            break;
        }
    }
    assert_eq!(total, DUE);
    let mails = mails_by_buyer(&w).await;
    assert_eq!(mails.len(), DUE as usize);
    assert!(mails.values().all(|&n| n == 1), "no buyer mailed twice");
    assert!(w.t.store.due_mails(at, 10).await.unwrap().is_empty());
}

/// Purchase mails of this world's buyers, counted by recipient (one read of the mails to
/// addresses with the world's tag, not the whole mailbox).
async fn mails_by_buyer(w: &World) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in kiosk_localaws::sent_mail_containing(&w.http, &w.endpoint, &w.tag)
        .await
        .unwrap()
    {
        for to in m.to.iter().filter(|t| t.contains(&w.tag)) {
            *out.entry(to.clone()).or_default() += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_mail_that_keeps_failing_is_given_up_after_its_last_try() {
    let w = world_with_unverified_sender().await;
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let paid_at = now() - Duration::days(2);
    let order = paid_without_mail(&w, &product, &email, paid_at).await;
    // Every try but the last has failed already.
    let last_try = now() - Duration::minutes(1);
    w.t.store
        .mail_failed(&order.id, MAX_MAIL_ATTEMPTS - 1, last_try)
        .await
        .unwrap();

    let run = reconcile(&w, now(), StdDuration::from_secs(30)).await;
    assert_eq!(run.gave_up, 1, "{run:?}");
    let stored = w.order(&order.id).await;
    assert_eq!(stored.status(), OrderStatus::Paid, "the payment stays");
    assert!(
        matches!(stored.mail, MailState::Failed { attempts, .. } if attempts == MAX_MAIL_ATTEMPTS),
        "{:?}",
        stored.mail
    );
    // Out of the retry index for good, even once SES works again.
    verify_sender(&w).await;
    let later = reconcile(&w, now() + Duration::days(1), StdDuration::from_secs(30)).await;
    assert_eq!(later.sent, 0);
    assert!(w.mails_to(&email).await.is_empty());
}

// ---- pending orders ---------------------------------------------------------------

async fn reconcile_pending(w: &World, at: OffsetDateTime) -> kiosk::reconcile::PendingRun {
    w.reconciler
        .pending(
            at,
            kiosk::deadline::Deadline::after(StdDuration::from_secs(30)),
        )
        .await
        .unwrap()
}

/// A pending order created `age` ago (it expires 30 minutes after creation).
async fn pending_aged(w: &World, p: &Product, email: &str, age: Duration) -> Order {
    let o = pending_order(p, email, now() - age);
    w.t.store.create_order(&o).await.unwrap();
    o
}

/// The order's raw `ttl` attribute, if any.
async fn ttl_of(w: &World, o: &Order) -> Option<i64> {
    let item =
        w.t.client
            .get_item()
            .table_name(&w.t.name)
            .key("pk", AttributeValue::S(format!("ORDER#{}", o.id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
    item.get("ttl").map(|v| v.as_n().unwrap().parse().unwrap())
}

fn calls(w: &World, method: &str) -> usize {
    w.gateway
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|m| *m == method)
        .count()
}

#[tokio::test]
async fn a_payment_no_notification_reported_is_fulfilled_once() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = pending_aged(&w, &product, &email, Duration::minutes(5)).await;
    assert_eq!(
        ttl_of(&w, &order).await,
        None,
        "a pending order is never deleted by TTL"
    );
    w.gateway.set(
        order.id.as_str(),
        Answer::Paid {
            trade_no: format!("T-{}", order.id),
            total_amount: "9.00".into(),
        },
    );

    let run = reconcile_pending(&w, now()).await;
    assert_eq!(run.fulfilled, 1, "{run:?}");
    let stored = w.order(&order.id).await;
    assert_eq!(stored.status(), OrderStatus::Paid);
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);

    // The notification arrives late: acknowledged, nothing new.
    assert_eq!(
        w.notify_signed(order.id.as_str(), "9.00", "TRADE_SUCCESS")
            .await,
        (200, "success".to_owned())
    );
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
    assert_eq!(reconcile_pending(&w, now()).await, Default::default());
}

#[tokio::test]
async fn an_abandoned_order_is_closed_at_the_provider_and_expired() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    // Opened the cashier and left; never opened it at all.
    let opened = pending_aged(&w, &product, &w.buyer(1), Duration::minutes(40)).await;
    let never = pending_aged(&w, &product, &w.buyer(2), Duration::minutes(45)).await;
    w.gateway.set(opened.id.as_str(), Answer::Waiting);

    let at = now();
    let run = reconcile_pending(&w, at).await;
    assert_eq!(run.expired, 2, "{run:?}");
    assert_eq!(calls(&w, "alipay.trade.close"), 2);
    for o in [&opened, &never] {
        assert_eq!(w.order(&o.id).await.status(), OrderStatus::Expired);
        let ttl = ttl_of(&w, o).await.expect("an expired order may go, later");
        assert_eq!(ttl, (at + kiosk::store::UNPAID_RETENTION).unix_timestamp());
        assert_eq!(w.grants_for(&o.id).await, 0);
    }
    // The trade is closed at the provider: nobody can pay it now.
    let next = w.order(&opened.id).await;
    assert_eq!(
        w.shop
            .channel_for(&next)
            .unwrap()
            .query(&next, at)
            .await
            .unwrap(),
        kiosk::channel::ProviderStatus::Closed
    );
    assert!(w.mails_to(&w.buyer(1)).await.is_empty());
}

#[tokio::test]
async fn a_buyer_who_pays_between_the_query_and_the_close_ends_paid() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = pending_aged(&w, &product, &email, Duration::minutes(40)).await;
    w.gateway.set(
        order.id.as_str(),
        Answer::PaysAtClose {
            trade_no: format!("T-{}", order.id),
            total_amount: "9.00".into(),
        },
    );
    let run = reconcile_pending(&w, now()).await;
    assert_eq!(run.fulfilled, 1, "{run:?}");
    assert_eq!(calls(&w, "alipay.trade.close"), 1);
    assert_eq!(calls(&w, "alipay.trade.query"), 2);
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Paid);
    assert_eq!(w.grants_for(&order.id).await, 1);
    assert_eq!(w.mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn young_and_open_orders_are_left_and_asked_again_later() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let young = pending_aged(&w, &product, &w.buyer(1), Duration::minutes(1)).await;
    let open = pending_aged(&w, &product, &w.buyer(2), Duration::minutes(5)).await;
    w.gateway.set(young.id.as_str(), Answer::Waiting);
    w.gateway.set(open.id.as_str(), Answer::Waiting);

    let at = now();
    let run = reconcile_pending(&w, at).await;
    assert_eq!(run.still_open, 1, "{run:?}");
    assert_eq!(
        calls(&w, "alipay.trade.query"),
        1,
        "the young order is not asked yet"
    );

    // Checked a moment ago: not asked again until its next check (1 minute).
    assert_eq!(
        reconcile_pending(&w, at + Duration::seconds(30))
            .await
            .still_open,
        0
    );
    assert_eq!(calls(&w, "alipay.trade.query"), 1);
    // Two minutes later both are due (the young one is past its grace now).
    let later = reconcile_pending(&w, at + Duration::minutes(2)).await;
    assert_eq!(later.still_open, 2, "{later:?}");
    assert_eq!(calls(&w, "alipay.trade.close"), 0);
    for o in [&young, &open] {
        assert_eq!(w.order(&o.id).await.status(), OrderStatus::Pending);
    }
}

#[tokio::test]
async fn a_provider_payment_of_another_amount_changes_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let email = w.buyer(1);
    let order = pending_aged(&w, &product, &email, Duration::minutes(5)).await;
    w.gateway.set(
        order.id.as_str(),
        Answer::Paid {
            trade_no: format!("T-{}", order.id),
            total_amount: "0.01".into(),
        },
    );
    let run = reconcile_pending(&w, now()).await;
    assert_eq!(run.errors, 1, "{run:?}");
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Pending);
    assert_eq!(w.grants_for(&order.id).await, 0);
    assert!(w.mails_to(&email).await.is_empty());
}

#[tokio::test]
async fn reconcile_returns_before_its_timeout_when_the_provider_hangs() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let product = w.add_product("rust-book", "9.00").await;
    let order = pending_aged(&w, &product, &w.buyer(1), Duration::minutes(5)).await;
    // The gateway reads the query and never answers.
    w.gateway.set(order.id.as_str(), Answer::Silent);
    let timeout = StdDuration::from_secs(5);
    let deadline_ms = (std::time::SystemTime::now() + timeout)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let started = Instant::now();
    let run = reconcile::handler::run_invocation(&w.reconciler, now(), deadline_ms)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < timeout,
        "the run must end before the function's timeout: took {took:?}"
    );
    // It did ask (the order was not skipped), and recorded what came of it: a failed
    // check, so the next run asks again later.
    assert!(
        w.gateway
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|m| m == "alipay.trade.query"),
        "the provider was asked"
    );
    assert_eq!(run.pending.errors, 1, "{run:?}");
    let checked =
        w.t.client
            .get_item()
            .table_name(&w.t.name)
            .key("pk", AttributeValue::S(format!("ORDER#{}", order.id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .send()
            .await
            .unwrap();
    assert!(
        checked.item().is_some_and(|i| i.contains_key("check_at")),
        "the failed check is recorded"
    );
    assert_eq!(w.order(&order.id).await.status(), OrderStatus::Pending);
}

// ---- the local sandbox ------------------------------------------------------------

#[tokio::test]
async fn the_sandbox_shows_reconcile_delivering_a_lost_payment_and_closing_an_abandoned_one() {
    let shop =
        LocalShop::start(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reconcile-keys"))
            .await
            .unwrap();
    let app = &shop.app;
    let tag = kiosk::OrderId::generate(now())
        .unwrap()
        .as_str()
        .to_lowercase();
    let buyer = format!("lost-{tag}@example.com");

    // Paid at the sandbox, every notification lost, and the buyer never comes back.
    let paid = shop.open_cashier(&buyer).await;
    let (status, _) = shop.pay(&paid, "&lose_notification=1").await;
    assert_eq!(
        status, 303,
        "the browser is sent back, and the buyer closes it"
    );
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let order = app.store.get_order(&paid).await.unwrap().unwrap();
    assert_eq!(
        order.status(),
        OrderStatus::Pending,
        "no notification arrived"
    );
    assert!(
        app.sandbox
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .all(|(no, _)| no != paid.as_str())
    );

    let run = app
        .reconciler
        .pending(
            now() + Duration::minutes(3),
            kiosk::deadline::Deadline::after(StdDuration::from_secs(30)),
        )
        .await
        .unwrap();
    assert!(run.fulfilled >= 1, "{run:?}");
    let order = app.store.get_order(&paid).await.unwrap().unwrap();
    assert_eq!(order.status(), OrderStatus::Paid);
    let http_plain = reqwest::Client::new();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let mails = kiosk_localaws::sent_mail(&http_plain, &endpoint, Some(&buyer))
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(order.all_grants().len(), 1, "one grant");
    // The next run finds nothing more to do for it.
    app.reconciler
        .pending(
            now() + Duration::minutes(4),
            kiosk::deadline::Deadline::after(StdDuration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(app.store.get_order(&paid).await.unwrap().unwrap(), order);
    assert_eq!(
        kiosk_localaws::sent_mail(&http_plain, &endpoint, Some(&buyer))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        mails[0]
            .body
            .contains(order.grant_token().cloned().unwrap().expose())
    );

    // Opened the cashier and left: past its expiry reconcile closes it, and the cashier
    // then refuses to take the money.
    let left = shop.open_cashier(&format!("left-{tag}@example.com")).await;
    let run = app
        .reconciler
        .pending(
            now() + Duration::minutes(31),
            kiosk::deadline::Deadline::after(StdDuration::from_secs(30)),
        )
        .await
        .unwrap();
    assert!(run.expired >= 1, "{run:?}");
    assert_eq!(
        app.store.get_order(&left).await.unwrap().unwrap().status(),
        OrderStatus::Expired
    );
    let (status, page) = shop.pay(&left, "").await;
    assert_eq!(status, 400);
    assert!(page.contains("ACQ.TRADE_HAS_CLOSE"), "{page}");
    assert_eq!(
        app.store.get_order(&left).await.unwrap().unwrap().status(),
        OrderStatus::Expired
    );
}
