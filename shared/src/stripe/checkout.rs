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

/// Stripe accepts a session expiry 30 minutes to 24 hours after creation.
pub const MIN_EXPIRY: Duration = Duration::minutes(30);
pub const MAX_EXPIRY: Duration = Duration::hours(24);

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
}

/// The order's expiry moved into the window Stripe accepts (30 min to 24 h after `now`):
/// an order that expires sooner is kept open at Stripe for 30 minutes, and the shop then
/// accepts a payment Stripe confirms for it (as for a late Alipay notification).
pub fn clamp_expiry(now: OffsetDateTime, order_expires: OffsetDateTime) -> OffsetDateTime {
    order_expires.clamp(now + MIN_EXPIRY, now + MAX_EXPIRY)
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
            (
                "payment_intent_data[metadata][order_id]",
                self.order_id.clone(),
            ),
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
    fn expiry_is_clamped_into_stripes_window() {
        let now = datetime!(2026-11-22 10:00 UTC);
        assert_eq!(
            clamp_expiry(now, now + Duration::minutes(10)),
            now + Duration::minutes(30)
        );
        assert_eq!(
            clamp_expiry(now, now + Duration::hours(2)),
            now + Duration::hours(2)
        );
        assert_eq!(
            clamp_expiry(now, now + Duration::days(3)),
            now + Duration::hours(24)
        );
    }
}
