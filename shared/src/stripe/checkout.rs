//! The Checkout Session request (`POST /v1/checkout/sessions`): one line item priced
//! from the product, the order id as `client_reference_id` and in metadata, the return
//! and cancel URLs, and an expiry Stripe accepts. Form-encoded with Stripe's nested keys
//! (`line_items[0][price_data][unit_amount]`), as stripe-python sends it.

use time::{Duration, OffsetDateTime};

use crate::form::encode_pairs;
use crate::money::Money;

/// The API version every request pins (`Stripe-Version`), so an account's default
/// version cannot change the shapes Kiosk reads.
pub const API_VERSION: &str = "2026-09-30.clover";

/// Stripe accepts a session expiry 30 minutes to 24 hours after the session's creation,
/// measured on its own clock when the request arrives. Kiosk asks for at least 31
/// minutes and at most 23 h 59 min from when it builds the request, so network time and
/// clock skew of up to a minute cannot push a request outside the window.
pub const MIN_EXPIRY: Duration = Duration::minutes(31);
pub const MAX_EXPIRY: Duration = Duration::minutes(23 * 60 + 59);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    pub order_id: String,
    pub product_id: String,
    pub product_name: String,
    pub amount: Money,
    pub customer_email: String,
    /// Must hold `{CHECKOUT_SESSION_ID}`, which Stripe fills in.
    pub success_url: String,
    pub cancel_url: String,
    /// Unix seconds; see [`clamp_expiry`].
    pub expires_at: i64,
    /// Names the shop in the session's and the PaymentIntent's metadata
    /// (`kiosk_shop`), so webhooks about other integrations' objects on the same
    /// account are told apart and ignored.
    pub shop_tag: String,
}

/// The extra fields Kiosk sends beyond the stripe-python vector's session: the shop tag
/// (on the session and its PaymentIntent) and cards only.
pub const KIOSK_FIELDS: [&str; 3] = [
    "metadata[kiosk_shop]",
    "payment_intent_data[metadata][kiosk_shop]",
    "payment_method_types[0]",
];

/// The session's `expires_at` (unix seconds): the order's expiry moved into
/// [`MIN_EXPIRY`, `MAX_EXPIRY`] after `now`, rounded away from both limits (up from the
/// lower, down from the upper), so whole seconds never land outside Stripe's window. An
/// order that expires sooner (an `ORDER_TTL_MINUTES` under 31) is kept open at Stripe for
/// 31 minutes, and the shop then accepts a payment Stripe confirms for it (as for a late
/// Alipay notification).
pub fn clamp_expiry(now: OffsetDateTime, order_expires: OffsetDateTime) -> i64 {
    let lowest = ceil_seconds(now + MIN_EXPIRY);
    let highest = (now + MAX_EXPIRY).unix_timestamp();
    ceil_seconds(order_expires).clamp(lowest, highest)
}

fn ceil_seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp() + i64::from(t.nanosecond() > 0)
}

impl SessionRequest {
    /// The form fields, in the order stripe-python sends them.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        [
            ("mode", "payment".to_owned()),
            ("client_reference_id", self.order_id.clone()),
            ("customer_email", self.customer_email.clone()),
            ("line_items[0][quantity]", "1".to_owned()),
            (
                "line_items[0][price_data][currency]",
                self.amount.currency().code().to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                self.amount.minor().to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                self.product_name.clone(),
            ),
            ("metadata[order_id]", self.order_id.clone()),
            ("metadata[product_id]", self.product_id.clone()),
            ("metadata[kiosk_shop]", self.shop_tag.clone()),
            (
                "payment_intent_data[metadata][order_id]",
                self.order_id.clone(),
            ),
            (
                "payment_intent_data[metadata][kiosk_shop]",
                self.shop_tag.clone(),
            ),
            // Cards only: they are paid or declined while the buyer waits. Methods that
            // settle days later (bank debits, vouchers) would complete the session
            // unpaid; the shop copes with that (it waits, never closes such a session),
            // but an e-book buyer should not wait days for the link.
            ("payment_method_types[0]", "card".to_owned()),
            ("success_url", self.success_url.clone()),
            ("cancel_url", self.cancel_url.clone()),
            ("expires_at", self.expires_at.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn form_body(&self) -> String {
        encode_pairs(&self.form_pairs())
    }

    /// Derived from the order id: a retried create (a timeout, a Lambda retry) returns
    /// the session Stripe already made instead of a second one.
    pub fn idempotency_key(&self) -> String {
        format!("checkout-{}", self.order_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn expiry_is_clamped_into_stripes_window_with_a_minute_to_spare() {
        let now = datetime!(2026-11-22 10:00 UTC);
        let at = |d: Duration| (now + d).unix_timestamp();
        assert_eq!(
            clamp_expiry(now, now + Duration::minutes(10)),
            at(Duration::minutes(31))
        );
        assert_eq!(
            clamp_expiry(now, now + Duration::minutes(30)),
            at(Duration::minutes(31)),
            "the default 30-minute order is not exactly at Stripe's limit"
        );
        assert_eq!(
            clamp_expiry(now, now + Duration::hours(2)),
            at(Duration::hours(2))
        );
        assert_eq!(
            clamp_expiry(now, now + Duration::days(3)),
            at(Duration::minutes(23 * 60 + 59))
        );
        // Part of a second: away from the limits, never onto them.
        let odd = now + Duration::milliseconds(700);
        assert_eq!(
            clamp_expiry(odd, odd + Duration::minutes(5)),
            at(Duration::minutes(31)) + 1
        );
        assert_eq!(
            clamp_expiry(odd, odd + Duration::days(2)),
            at(Duration::minutes(23 * 60 + 59))
        );
    }
}
