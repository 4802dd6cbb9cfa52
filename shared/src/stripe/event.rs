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
    /// `charge.dispute.created`: the buyer's bank disputes the payment.
    DisputeCreated(DisputeObject),
    /// `charge.dispute.closed`: `status` says `won` or `lost` (or `warning_closed`).
    DisputeClosed(DisputeObject),
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
    /// `pi_...`: what a later `charge.refunded` names. Expanded
    /// (`expand[]=payment_intent.latest_charge`) it is an object whose charge says what
    /// was refunded; either way [`Session::payment_intent`] holds its id.
    #[serde(default, deserialize_with = "expandable_intent")]
    pub payment_intent: Option<String>,
    /// The expanded PaymentIntent's latest charge: `(amount_refunded, currency)`.
    #[serde(skip)]
    pub refunded: Option<(u64, String)>,
    /// Unix seconds; after it Stripe no longer takes a payment for the session.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub order_id: Option<String>,
    /// Which Kiosk shop made the object (`metadata[kiosk_shop]`, on the session and its
    /// PaymentIntent, so also on its charges). Objects without it, or with another
    /// shop's, belong to other integrations on the same Stripe account.
    #[serde(default)]
    pub kiosk_shop: Option<String>,
}

/// A dispute (`dp_...`) as its events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DisputeObject {
    pub id: String,
    /// `ch_...`
    #[serde(default)]
    pub charge: Option<String>,
    /// `pi_...`: the payment disputed, how the order is found.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// `warning_needs_response`, `needs_response`, `under_review`, `won`, `lost`, ...
    pub status: String,
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

/// `payment_intent`: an id, `null`, or (expanded) an object with an `id` and maybe its
/// expanded `latest_charge`.
fn expandable_intent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Object(o)) => match o.get("id") {
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(serde::de::Error::custom(
                "payment_intent object without an id",
            )),
        },
        Some(_) => Err(serde::de::Error::custom("payment_intent is not an id")),
    }
}

/// What the expanded `payment_intent.latest_charge` of a session says was refunded:
/// `None` when it is not expanded (or there is no charge yet).
pub fn session_refunded(raw: &serde_json::Value) -> Result<Option<(u64, String)>, String> {
    let charge = &raw["payment_intent"]["latest_charge"];
    if !charge.is_object() {
        return Ok(None);
    }
    let refunded = charge["amount_refunded"]
        .as_u64()
        .ok_or("latest_charge without amount_refunded")?;
    let currency = charge["currency"]
        .as_str()
        .ok_or("latest_charge without currency")?;
    Ok(Some((refunded, currency.to_owned())))
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
    /// The order this session pays for: `metadata.order_id` (never
    /// `client_reference_id`, which other integrations fill with their own numbers).
    pub fn order_id(&self) -> Option<&str> {
        self.metadata.order_id.as_deref()
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
        "charge.dispute.created" | "charge.dispute.closed" => {
            let d: DisputeObject =
                serde_json::from_value(object).map_err(|source| EventError::Object {
                    kind: kind.clone(),
                    source,
                })?;
            if kind == "charge.dispute.created" {
                Event::DisputeCreated(d)
            } else {
                Event::DisputeClosed(d)
            }
        }
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
