//! Payment channels (docs/architecture.md, "Payment channels"): what differs between
//! providers, behind one trait.
//!
//! A channel builds the payment redirect, authenticates inbound notifications and browser
//! returns, asks the provider about an order, closes an unpaid one and refunds a paid
//! one. Everything shared -- loading the order,
//! checking it, paying it with its grant in one transaction, mailing -- is written once in
//! [`crate::shop`], which drives any `Channel`.

mod alipay;

use std::future::Future;

pub use alipay::{AlipayChannel, AlipayUrls};

use crate::ids::OrderId;
use crate::money::Money;
use crate::order::{ChannelKind, Order, Payment};

/// Which cashier to send the buyer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
}

impl Device {
    /// An explicit `device` field wins; otherwise guess from the User-Agent the way
    /// payment providers' own SDK samples do (phones and tablets get the mobile cashier).
    pub fn choose(explicit: Option<&str>, user_agent: Option<&str>) -> Result<Device, String> {
        match explicit.map(str::trim).filter(|s| !s.is_empty()) {
            Some(d) if d.eq_ignore_ascii_case("desktop") || d.eq_ignore_ascii_case("pc") => {
                Ok(Device::Desktop)
            }
            Some(d) if d.eq_ignore_ascii_case("mobile") || d.eq_ignore_ascii_case("wap") => {
                Ok(Device::Mobile)
            }
            Some(other) => Err(format!(
                "device must be \"desktop\" or \"mobile\", got {other:?}"
            )),
            None => Ok(Device::from_user_agent(user_agent.unwrap_or(""))),
        }
    }

    pub fn from_user_agent(ua: &str) -> Device {
        let ua = ua.to_ascii_lowercase();
        let mobile = [
            "iphone",
            "ipod",
            "android",
            "mobile",
            "windows phone",
            "harmonyos",
            "alipayclient",
            "micromessenger",
        ]
        .iter()
        .any(|m| ua.contains(m));
        if mobile {
            Device::Mobile
        } else {
            Device::Desktop
        }
    }
}

/// What the provider says about an order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderStatus {
    /// Money taken (`TRADE_SUCCESS` / `TRADE_FINISHED`): the payment to record.
    Paid(Payment),
    /// The buyer opened the cashier but has not paid, or never opened it.
    Waiting,
    /// The provider closed the trade unpaid.
    Closed,
    /// Money went back to the buyer: `total` refunded so far for this trade (only in
    /// notifications; the shop decides full or partial against the order's amount).
    Refunded { total: Money },
}

/// What asking the provider to close an unpaid trade led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// The trade is closed (or was never created): it can no longer be paid.
    Closed,
    /// The provider refused because the trade is no longer open -- the buyer has just
    /// paid. Ask again with [`Channel::query`].
    NotOpen,
}

/// An authenticated notification, reduced to what the shared flow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub order_id: OrderId,
    /// The provider's id for this notification; the same across its retries.
    pub event_id: String,
    pub status: ProviderStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The callback is not authentic or not addressed to us: forged, tampered, signed
    /// with the wrong key, another app's, malformed.
    #[error("notification rejected: {0}")]
    Rejected(String),
    #[error("{0} cannot be paid through this channel")]
    Currency(crate::money::Currency),
    #[error("could not sign the request")]
    Sign(#[source] crate::alipay::KeyError),
    #[error("could not reach the payment provider")]
    Transport(#[source] reqwest::Error),
    #[error("payment provider answered HTTP {0}")]
    HttpStatus(u16),
    #[error("payment provider's reply was not acceptable")]
    Reply(#[source] crate::alipay::ResponseError),
    #[error("payment provider refused the call: {code} {sub_code} {msg}")]
    Provider {
        code: String,
        sub_code: String,
        msg: String,
    },
}

pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// The URL of the provider's payment page for this order.
    fn payment_redirect(
        &self,
        order: &Order,
        device: Device,
        now: time::OffsetDateTime,
    ) -> Result<String, ChannelError>;

    /// Authenticate an asynchronous notification body and extract the event.
    fn authenticate_notification(&self, body: &str) -> Result<PaymentEvent, ChannelError>;

    /// Authenticate a browser return (its query string) and extract the order id.
    fn authenticate_return(&self, query: &str) -> Result<OrderId, ChannelError>;

    /// Ask the provider about an order now (active verification).
    fn query(
        &self,
        order: &Order,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<ProviderStatus, ChannelError>> + Send;

    /// Close an unpaid trade at the provider, so the buyer can no longer pay an order we
    /// are about to expire.
    fn close(
        &self,
        order: &Order,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<CloseOutcome, ChannelError>> + Send;

    /// Give `amount` of a paid order back to the buyer. `request_no` names this refund:
    /// sending the same one again refunds nothing more, so a retried command is safe.
    /// Answers the total refunded for the order so far.
    fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Money, ChannelError>> + Send;

    /// The exact body that tells the provider a notification was handled.
    fn ack(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choice() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
        let mac =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15";
        assert_eq!(Device::choose(None, Some(iphone)), Ok(Device::Mobile));
        assert_eq!(Device::choose(None, Some(mac)), Ok(Device::Desktop));
        assert_eq!(Device::choose(None, None), Ok(Device::Desktop));
        assert_eq!(
            Device::choose(Some("desktop"), Some(iphone)),
            Ok(Device::Desktop)
        );
        assert_eq!(
            Device::choose(Some("mobile"), Some(mac)),
            Ok(Device::Mobile)
        );
        assert!(Device::choose(Some("tv"), None).is_err());
    }
}
