//! Stripe vectors made with the official `stripe` Python library (tests/data/stripe):
//! every webhook verifies exactly as the library answered at its `now`, the verified
//! events type as expected, and the Checkout Session form body decodes to the library's
//! key/value pairs.

use kiosk::form::parse_form;
use kiosk::stripe::checkout::SessionRequest;
use kiosk::stripe::event::{Event, PaymentStatus, parse_event};
use kiosk::stripe::webhook::{TOLERANCE_SECONDS, WebhookSecret, verify};
use kiosk::{Currency, Money};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stripe/vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json")).expect("JSON")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn every_webhook_verifies_as_the_library_said() {
    let v = vectors();
    assert_eq!(v["tolerance_seconds"], TOLERANCE_SECONDS);
    let webhooks = v["webhooks"].as_array().expect("webhooks");
    assert!(webhooks.len() >= 15, "{}", webhooks.len());
    for w in webhooks {
        let name = str_of(w, "name");
        let secret = WebhookSecret::parse(str_of(w, "secret")).expect("secret");
        let now = w["now"].as_i64().expect("now");
        let got = verify(
            str_of(w, "payload").as_bytes(),
            str_of(w, "header"),
            &secret,
            now,
        );
        assert_eq!(
            got.is_ok(),
            w["valid"].as_bool().expect("valid"),
            "{name}: {got:?} ({})",
            str_of(w, "note")
        );
    }
}

#[test]
fn the_valid_events_type_as_what_they_are() {
    let v = vectors();
    let by_name = |n: &str| {
        let w = v["webhooks"]
            .as_array()
            .and_then(|a| a.iter().find(|w| w["name"] == n))
            .unwrap_or_else(|| panic!("{n}"));
        parse_event(str_of(w, "payload").as_bytes()).unwrap_or_else(|e| panic!("{n}: {e}"))
    };
    let nine = Money::from_minor(900, Currency::Cny).unwrap();

    let Event::SessionCompleted(s) = by_name("valid").event else {
        panic!("completed")
    };
    assert_eq!(s.payment_status, PaymentStatus::Paid);
    assert_eq!(s.order_id(), Some("K20261122093015123abc4567def89012"));
    assert_eq!(s.amount().map(Result::unwrap), Some(nine));

    let Event::SessionCompleted(s) = by_name("valid_session_completed_unpaid_async").event else {
        panic!("completed, unpaid")
    };
    assert_eq!(s.payment_status, PaymentStatus::Unpaid);
    assert!(matches!(
        by_name("valid_async_payment_succeeded").event,
        Event::AsyncPaymentSucceeded(_)
    ));
    assert!(matches!(
        by_name("valid_async_payment_failed").event,
        Event::AsyncPaymentFailed(_)
    ));
    assert!(matches!(
        by_name("valid_session_expired").event,
        Event::SessionExpired(_)
    ));
    let Event::ChargeRefunded(c) = by_name("valid_charge_refunded").event else {
        panic!("refund")
    };
    assert_eq!(c.amount_refunded().unwrap(), nine);
    assert!(c.refunded && c.payment_intent.is_some());
    assert!(by_name("valid_unicode_subject").id.starts_with("evt_"));
}

#[test]
fn the_session_form_decodes_to_the_librarys_pairs() {
    let v = vectors();
    let c = &v["create_checkout_session"];
    let p = &c["params"];
    let item = &p["line_items"][0];
    let req = SessionRequest {
        order_id: str_of(p, "client_reference_id").to_owned(),
        product_id: str_of(&p["metadata"], "product_id").to_owned(),
        product_name: str_of(&item["price_data"]["product_data"], "name").to_owned(),
        amount: Money::from_minor(
            item["price_data"]["unit_amount"].as_u64().expect("amount"),
            str_of(&item["price_data"], "currency")
                .to_ascii_uppercase()
                .parse()
                .expect("currency"),
        )
        .expect("money"),
        customer_email: str_of(p, "customer_email").to_owned(),
        success_url: str_of(p, "success_url").to_owned(),
        cancel_url: str_of(p, "cancel_url").to_owned(),
        expires_at: p["expires_at"].as_i64().expect("expires_at"),
        shop_tag: "kiosk-shop-table".into(),
    };
    // Ours is the library's form plus Kiosk's own fields (the shop tag, cards only),
    // encoded the same way.
    let mut ours = parse_form(&req.form_body()).expect("ours decodes");
    assert_eq!(ours["metadata[kiosk_shop]"], "kiosk-shop-table");
    assert_eq!(
        ours["payment_intent_data[metadata][kiosk_shop]"],
        "kiosk-shop-table"
    );
    assert_eq!(ours["payment_method_types[0]"], "card");
    for k in kiosk::stripe::checkout::KIOSK_FIELDS {
        ours.remove(k);
    }
    assert_eq!(
        ours,
        parse_form(str_of(c, "body")).expect("the library's decodes")
    );
    assert_eq!(req.idempotency_key(), str_of(c, "idempotency_key"));
    assert_eq!(
        str_of(c, "content_type"),
        "application/x-www-form-urlencoded"
    );
}
