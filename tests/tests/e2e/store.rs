//! The DynamoDB store against the locked emulator (run through `make test`).
//!
//! Over 400 lines: a dozen store scenarios, each with its own setup.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use kiosk::grant::Unusable;
use kiosk::order::{MailState, OrderStatus, Payment, TransitionError};
use kiosk::store::{ConsumeError, Paid, StoreError};
use kiosk::{DownloadToken, Grant};
use kiosk_e2e::{TestTable, cny, now, pending_order, product};
use time::Duration;

fn payment(txn: &str, amount: &str) -> Payment {
    Payment {
        provider_txn_id: txn.into(),
        amount: cny(amount),
    }
}

async fn paid_grant(t: &TestTable) -> Grant {
    let p = product("grant-book", "9.00");
    let o = pending_order(&p, "buyer@example.com", now());
    t.store.create_order(&o).await.unwrap();
    match t
        .store
        .mark_paid(&o, &payment("T-grant", "9.00"), None, None, None, now())
        .await
        .unwrap()
    {
        Paid::Now { grant, .. } => *grant,
        other => panic!("expected a new grant, got {other:?}"),
    }
}

#[tokio::test]
async fn products_round_trip_and_refuse_duplicates() {
    let t = TestTable::new().await.unwrap();
    let p = product("rust-book", "9.00");
    assert_eq!(t.store.get_product(p.id()).await.unwrap(), None);
    t.store.create_product(&p, now()).await.unwrap();
    assert_eq!(t.store.get_product(p.id()).await.unwrap(), Some(p.clone()));

    let other = p.clone().with_title("Impostor").unwrap();
    assert!(matches!(
        t.store.create_product(&other, now()).await,
        Err(StoreError::ProductExists(_))
    ));
    assert_eq!(
        t.store.get_product(p.id()).await.unwrap().unwrap().title(),
        p.title()
    );

    let other = other.with_price(cny("12.00")).unwrap();
    t.store.update_product(&other, now()).await.unwrap();
    assert_eq!(
        t.store.get_product(p.id()).await.unwrap().unwrap().price(),
        cny("12.00")
    );
    let unknown = product("nope", "1.00");
    assert!(matches!(
        t.store.update_product(&unknown, now()).await,
        Err(StoreError::ProductNotFound(_))
    ));
    assert_eq!(t.store.get_product(unknown.id()).await.unwrap(), None);
}

/// The store takes only a `Product`, and a `Product` with a bad edition, price or limit
/// cannot be made; an item edited by hand into one reads back as corrupt, never as a
/// product.
#[tokio::test]
async fn an_invalid_product_cannot_be_stored_or_read() {
    use kiosk::product::{Edition, Product, ProductError};
    let t = TestTable::new().await.unwrap();
    let good = product("valid-book", "9.00");
    let make = |edition: &str, price: &str, limit: u32| -> Result<Product, ProductError> {
        Product::new(
            good.id().clone(),
            good.title(),
            cny(price),
            Edition::parse(edition)?,
            good.files().clone(),
            limit,
        )
    };
    for (edition, price, limit, why) in [
        ("v 1", "9.00", 5, ProductError::Edition("v 1".into())),
        ("../v1", "9.00", 5, ProductError::Edition("../v1".into())),
        ("v1", "9.00", 0, ProductError::DownloadLimit(0)),
        ("v1", "9.00", 5000, ProductError::DownloadLimit(5000)),
    ] {
        match make(edition, price, limit) {
            Err(e) => assert_eq!(e, why),
            Ok(p) => {
                // Unreachable if the rules hold; storing it would be the bug.
                t.store.create_product(&p, now()).await.unwrap();
                panic!("{p:?} was made");
            }
        }
    }
    assert_eq!(t.store.get_product(good.id()).await.unwrap(), None);

    t.store.create_product(&good, now()).await.unwrap();
    for (attr, value) in [
        ("download_limit", AttributeValue::N("0".into())),
        // A pay-what-you-want minimum above the suggested price.
        ("min_minor", AttributeValue::N("99999".into())),
        ("edition", AttributeValue::S("v 1/..".into())),
    ] {
        t.client
            .update_item()
            .table_name(&t.name)
            .key("pk", AttributeValue::S(format!("PRODUCT#{}", good.id())))
            .key("sk", AttributeValue::S("PRODUCT".into()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                t.store.get_product(good.id()).await,
                Err(StoreError::Corrupt { .. })
            ),
            "{attr}"
        );
        t.store.update_product(&good, now()).await.unwrap();
        assert_eq!(
            t.store.get_product(good.id()).await.unwrap(),
            Some(good.clone())
        );
    }
}

#[tokio::test]
async fn orders_round_trip() {
    let t = TestTable::new().await.unwrap();
    let o = pending_order(&product("b", "9.00"), "Reader@Example.com", now());
    t.store.create_order(&o).await.unwrap();
    let back = t.store.get_order(&o.id).await.unwrap().unwrap();
    assert_eq!(back, o);
    assert_eq!(back.email.as_str(), "reader@example.com");
    assert_eq!(back.source.utm_source.as_deref(), Some("newsletter"));
}

#[tokio::test]
async fn paying_moves_the_order_and_creates_one_grant() {
    let t = TestTable::new().await.unwrap();
    let p = product("b", "9.00");
    let o = pending_order(&p, "a@example.com", now() - Duration::minutes(10));
    t.store.create_order(&o).await.unwrap();
    assert_eq!(t.store.pending_older_than(now()).await.unwrap().len(), 1);

    let Paid::Now { order, grant } = t
        .store
        .mark_paid(&o, &payment("T1", "9.00"), None, None, None, now())
        .await
        .unwrap()
    else {
        panic!("first payment must be recorded now");
    };
    let stored = t.store.get_order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored, *order);
    assert_eq!(stored.status(), OrderStatus::Paid);
    assert_eq!(stored.provider_txn_id(), Some("T1"));
    assert_eq!(stored.grant_token(), Some(&grant.token));
    assert!(matches!(stored.mail, MailState::Due { attempts: 0, .. }));
    assert_eq!(
        t.store.get_grant(&grant.token).await.unwrap(),
        Some(*grant.clone())
    );
    assert_eq!(grant.downloads_left, vec![5]);
    assert_eq!(&grant.files, p.files());

    // Paid orders leave the pending index and join the product's buyers.
    assert!(
        t.store
            .pending_older_than(now() + Duration::hours(1))
            .await
            .unwrap()
            .is_empty()
    );
    let buyers = t.store.buyers_of(p.id()).await.unwrap();
    assert_eq!(buyers.iter().map(|b| &b.id).collect::<Vec<_>>(), [&o.id]);

    // The same payment again: nothing new. Another transaction id: refused.
    assert!(matches!(
        t.store
            .mark_paid(&o, &payment("T1", "9.00"), None, None, None, now())
            .await,
        Ok(Paid::Already { .. })
    ));
    assert!(matches!(
        t.store
            .mark_paid(&o, &payment("T2", "9.00"), None, None, None, now())
            .await,
        Err(StoreError::Transition(
            TransitionError::ConflictingPayment { .. }
        ))
    ));
    assert_eq!(t.scan_entity("grant").await.unwrap().len(), 1);
    assert_eq!(t.store.get_order(&o.id).await.unwrap().unwrap(), stored);
}

#[tokio::test]
async fn wrong_amount_or_unknown_order_writes_nothing() {
    let t = TestTable::new().await.unwrap();
    let o = pending_order(&product("b", "9.00"), "a@example.com", now());
    t.store.create_order(&o).await.unwrap();
    assert!(matches!(
        t.store
            .mark_paid(&o, &payment("T1", "0.01"), None, None, None, now())
            .await,
        Err(StoreError::Transition(
            TransitionError::AmountMismatch { .. }
        ))
    ));
    // A stale snapshot claiming the right amount must still be checked against the
    // stored amount by the write's condition.
    let mut lying = o.clone();
    lying.amount = cny("0.01");
    assert!(matches!(
        t.store
            .mark_paid(&lying, &payment("T1", "0.01"), None, None, None, now())
            .await,
        Err(StoreError::Transition(
            TransitionError::AmountMismatch { .. }
        ))
    ));
    let ghost = pending_order(&product("b", "9.00"), "a@example.com", now());
    assert!(matches!(
        t.store
            .mark_paid(&ghost, &payment("T9", "9.00"), None, None, None, now())
            .await,
        Err(StoreError::OrderNotFound(_))
    ));
    assert_eq!(t.store.get_order(&o.id).await.unwrap().unwrap(), o);
    assert!(t.scan_entity("grant").await.unwrap().is_empty());
    assert_eq!(t.scan_entity("order").await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_expired_order_can_still_be_paid() {
    let t = TestTable::new().await.unwrap();
    let o = pending_order(
        &product("b", "9.00"),
        "a@example.com",
        now() - Duration::hours(2),
    );
    let expired = o.expire().unwrap();
    t.store.create_order(&expired).await.unwrap();
    let Paid::Now { order, .. } = t
        .store
        .mark_paid(&expired, &payment("T1", "9.00"), None, None, None, now())
        .await
        .unwrap()
    else {
        panic!("late payment must be honoured");
    };
    assert_eq!(order.status(), OrderStatus::Paid);
    assert_eq!(
        t.store.get_order(&o.id).await.unwrap().unwrap().status(),
        OrderStatus::Paid
    );
}

#[tokio::test]
async fn pending_orders_by_age() {
    let t = TestTable::new().await.unwrap();
    let p = product("b", "9.00");
    let base = now();
    let old = pending_order(&p, "a@example.com", base - Duration::minutes(20));
    let older = pending_order(&p, "b@example.com", base - Duration::minutes(40));
    let fresh = pending_order(&p, "c@example.com", base);
    for o in [&old, &older, &fresh] {
        t.store.create_order(o).await.unwrap();
    }
    let stale = t
        .store
        .pending_older_than(base - Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        stale.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&older.id, &old.id]
    );
}

#[tokio::test]
async fn downloads_count_down_and_then_refuse() {
    let t = TestTable::new().await.unwrap();
    let g = paid_grant(&t).await;
    for left in (0..5).rev() {
        let after = t.store.consume_download(&g.token, 0, now()).await.unwrap();
        assert_eq!(after.downloads_left, vec![left]);
        assert_eq!(after.files, g.files);
    }
    assert!(matches!(
        t.store.consume_download(&g.token, 0, now()).await,
        Err(ConsumeError::Unusable {
            why: Unusable::Exhausted,
            ..
        })
    ));
    assert_eq!(
        t.store
            .get_grant(&g.token)
            .await
            .unwrap()
            .unwrap()
            .downloads_left[0],
        0
    );
    let unknown = DownloadToken::generate().unwrap();
    assert!(matches!(
        t.store.consume_download(&unknown, 0, now()).await,
        Err(ConsumeError::NotFound)
    ));
}

#[tokio::test]
async fn expired_and_revoked_grants_refuse_without_spending() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = TestTable::new().await.unwrap();
    let g = paid_grant(&t).await;
    let key = |tok: &DownloadToken| {
        std::collections::HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("GRANT#{}", tok.expose())),
            ),
            ("sk".to_owned(), AttributeValue::S("GRANT".into())),
        ])
    };
    let set = |expr: &'static str, v: AttributeValue| {
        t.client
            .update_item()
            .table_name(&t.name)
            .set_key(Some(key(&g.token)))
            .update_expression(expr)
            .expression_attribute_values(":v", v)
            .send()
    };
    set(
        "SET expires_at = :v",
        AttributeValue::N((now() - Duration::seconds(1)).unix_timestamp().to_string()),
    )
    .await
    .unwrap();
    assert!(matches!(
        t.store.consume_download(&g.token, 0, now()).await,
        Err(ConsumeError::Unusable {
            why: Unusable::Expired,
            ..
        })
    ));
    set("SET revoked = :v", AttributeValue::Bool(true))
        .await
        .unwrap();
    assert!(matches!(
        t.store.consume_download(&g.token, 0, now()).await,
        Err(ConsumeError::Unusable {
            why: Unusable::Revoked,
            ..
        })
    ));
    assert_eq!(
        t.store
            .get_grant(&g.token)
            .await
            .unwrap()
            .unwrap()
            .downloads_left[0],
        5
    );
}

#[tokio::test]
async fn malformed_items_are_errors_not_panics() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = TestTable::new().await.unwrap();
    let o = pending_order(&product("b", "9.00"), "a@example.com", now());
    t.store.create_order(&o).await.unwrap();
    t.client
        .update_item()
        .table_name(&t.name)
        .key("pk", AttributeValue::S(format!("ORDER#{}", o.id)))
        .key("sk", AttributeValue::S("ORDER".into()))
        .update_expression("SET amount_minor = :v")
        .expression_attribute_values(":v", AttributeValue::S("lots".into()))
        .send()
        .await
        .unwrap();
    let err = t.store.get_order(&o.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                entity: "order",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("amount_minor"));
}

// ---- concurrency, against the locked emulator ----------------------------------------

const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_downloads_on_five_left_give_exactly_five() {
    let t = TestTable::new().await.unwrap();
    for round in 0..ROUNDS {
        let g = paid_grant(&t).await;
        let results = join_all((0..50).map(|_| {
            let store = t.store.clone();
            let token = g.token.clone();
            tokio::spawn(async move { store.consume_download(&token, 0, now()).await })
        }))
        .await;
        let mut ok = 0;
        let mut exhausted = 0;
        for r in results {
            match r.unwrap() {
                Ok(_) => ok += 1,
                Err(ConsumeError::Unusable {
                    why: Unusable::Exhausted,
                    ..
                }) => exhausted += 1,
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        assert_eq!((ok, exhausted), (5, 45), "round {round}");
        assert_eq!(
            t.store
                .get_grant(&g.token)
                .await
                .unwrap()
                .unwrap()
                .downloads_left[0],
            0,
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_payments_create_exactly_one_grant() {
    let t = TestTable::new().await.unwrap();
    let p = product("b", "9.00");
    for round in 0..ROUNDS {
        let o = pending_order(&p, "a@example.com", now());
        t.store.create_order(&o).await.unwrap();
        let results = join_all((0..20).map(|_| {
            let store = t.store.clone();
            let o = o.clone();
            tokio::spawn(async move {
                store
                    .mark_paid(&o, &payment("T-same", "9.00"), None, None, None, now())
                    .await
            })
        }))
        .await;
        let mut now_count = 0;
        let mut already = 0;
        for r in results {
            match r.unwrap() {
                Ok(Paid::Now { .. }) => now_count += 1,
                Ok(Paid::Already { .. }) => already += 1,
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!((now_count, already), (1, 19), "round {round}");
        let grants: Vec<_> = t
            .scan_entity("grant")
            .await
            .unwrap()
            .into_iter()
            .filter(|g| g.get("order_id").and_then(|v| v.as_s().ok()) == Some(&o.id.to_string()))
            .collect();
        assert_eq!(grants.len(), 1, "round {round}");
        let stored = t.store.get_order(&o.id).await.unwrap().unwrap();
        assert_eq!(stored.status(), OrderStatus::Paid);
        let token = stored.grant_token().cloned().unwrap();
        assert_eq!(
            grants[0].get("pk").unwrap().as_s().unwrap(),
            &format!("GRANT#{}", token.expose())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_existing_order_id_is_never_overwritten() {
    let t = TestTable::new().await.unwrap();
    let p = product("b", "9.00");
    for round in 0..ROUNDS {
        let first = pending_order(&p, "first@example.com", now());
        t.store.create_order(&first).await.unwrap();
        // Ten racing attempts to reuse the id with other buyers all fail.
        let results = join_all((0..10).map(|i| {
            let store = t.store.clone();
            let mut dup = pending_order(&p, &format!("dup{i}@example.com"), now());
            dup.id = first.id.clone();
            tokio::spawn(async move { store.create_order(&dup).await })
        }))
        .await;
        for r in results {
            assert!(
                matches!(r.unwrap(), Err(StoreError::OrderExists(_))),
                "round {round}"
            );
        }
        assert_eq!(
            t.store.get_order(&first.id).await.unwrap().unwrap(),
            first,
            "round {round}"
        );
    }
}
