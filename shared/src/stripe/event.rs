//! The webhook events Kiosk acts on, typed from a verified body. Only the fields the shop
//! uses are read; an event of any other type parses as [`Event::Other`] (acknowledged and
//! ignored), and a known type whose object lacks a field we need is an error.

use serde::Deserialize;

use crate::money::{Currency, Money, MoneyError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_...`: Stripe may deliver one event more than once.
    pub id: String,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `checkout.session.completed`: paid if `payment_status` is `paid`; a delayed method
    /// completes unpaid and reports later.
    SessionCompleted(Session),
    /// `checkout.session.async_payment_succeeded`
    AsyncPaymentSucceeded(Session),
    /// `checkout.session.async_payment_failed`
    AsyncPaymentFailed(Session),
    /// `checkout.session.expired`
    SessionExpired(Session),
    /// `charge.refunded`: `amount_refunded` is the total refunded so far.
    ChargeRefunded(Charge),
    /// Anything else the endpoint was subscribed to.
    Other { kind: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    /// `cs_...`
    pub id: String,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(deserialize_with = "payment_status")]
    pub payment_status: PaymentStatus,
    #[serde(default)]
    pub amount_total: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// `pi_...`: what a later `charge.refunded` names.
    #[serde(default)]
    pub payment_intent: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    /// `ch_...`
    pub id: String,
    pub amount: u64,
    pub amount_refunded: u64,
    pub currency: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub refunded: bool,
    /// A charge carries its PaymentIntent's metadata, where Kiosk puts the order id
    /// (`payment_intent_data[metadata][order_id]`); without it the PaymentIntent leads
    /// to the order.
    #[serde(default)]
    pub metadata: Metadata,
}

fn payment_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PaymentStatus, D::Error> {
    let s = String::deserialize(d)?;
    Ok(match s.as_str() {
        "paid" => PaymentStatus::Paid,
        "unpaid" => PaymentStatus::Unpaid,
        "no_payment_required" => PaymentStatus::NoPaymentRequired,
        _ => PaymentStatus::Other(s),
    })
}

/// Stripe's lowercase ISO code and minor units as [`Money`].
pub fn money(minor: u64, currency: &str) -> Result<Money, MoneyError> {
    let currency: Currency = currency.to_ascii_uppercase().parse()?;
    Money::from_minor(minor, currency)
}

impl Session {
    /// The order this session pays for: `metadata.order_id`, else `client_reference_id`
    /// (Kiosk sets both to the order id).
    pub fn order_id(&self) -> Option<&str> {
        self.metadata
            .order_id
            .as_deref()
            .or(self.client_reference_id.as_deref())
    }

    /// What the buyer was charged, if the session says.
    pub fn amount(&self) -> Option<Result<Money, MoneyError>> {
        Some(money(self.amount_total?, self.currency.as_deref()?))
    }
}

impl Charge {
    pub fn amount_refunded(&self) -> Result<Money, MoneyError> {
        money(self.amount_refunded, &self.currency)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the webhook body is not a Stripe event: {0}")]
    Json(#[source] serde_json::Error),
    #[error("{kind} event without the object fields Kiosk needs: {source}")]
    Object {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

/// Type a verified webhook body.
pub fn parse_event(payload: &[u8]) -> Result<StripeEvent, EventError> {
    let env: Envelope = serde_json::from_slice(payload).map_err(EventError::Json)?;
    let object = env.data.object;
    let kind = env.kind;
    let session = |object: serde_json::Value| {
        serde_json::from_value::<Session>(object).map_err(|source| EventError::Object {
            kind: kind.clone(),
            source,
        })
    };
    let event = match kind.as_str() {
        "checkout.session.completed" => Event::SessionCompleted(session(object)?),
        "checkout.session.async_payment_succeeded" => {
            Event::AsyncPaymentSucceeded(session(object)?)
        }
        "checkout.session.async_payment_failed" => Event::AsyncPaymentFailed(session(object)?),
        "checkout.session.expired" => Event::SessionExpired(session(object)?),
        "charge.refunded" => {
            Event::ChargeRefunded(serde_json::from_value(object).map_err(|source| {
                EventError::Object {
                    kind: kind.clone(),
                    source,
                }
            })?)
        }
        _ => Event::Other { kind: kind.clone() },
    };
    Ok(StripeEvent { id: env.id, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_other_and_known_ones_need_their_fields() {
        let e = parse_event(br#"{"id":"evt_1","type":"customer.created","data":{"object":{}}}"#)
            .unwrap();
        assert_eq!(
            e.event,
            Event::Other {
                kind: "customer.created".into()
            }
        );
        let missing =
            parse_event(br#"{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"id":"cs_1"}}}"#);
        assert!(
            matches!(missing, Err(EventError::Object { .. })),
            "{missing:?}"
        );
        assert!(matches!(parse_event(b"not json"), Err(EventError::Json(_))));
        assert_eq!(money(900, "cny").unwrap().to_string(), "9.00 CNY");
        assert!(money(900, "xyz").is_err());
    }
}
