//! Payment channels (docs/architecture.md, "Payment channels"): what differs between
//! providers, behind one trait.
//!
//! A channel starts a payment (the provider's page for an order), authenticates inbound
//! notifications and browser returns, asks the provider about an order, closes an
//! unpaid one and refunds a paid one. A shop holds the configured channels
//! ([`Channels`]) and drives one per order through [`AnyChannel`]. Everything shared -- loading the order,
//! checking it, paying it with its grant in one transaction, mailing -- is written once in
//! [`crate::shop`], which drives any `Channel`.
//!
//! Over 400 lines: the trait, the types every channel shares, and the one-of-two
//! dispatch (`AnyChannel`), which only make sense read together.

mod alipay;
mod stripe;
mod wechat;

use std::future::Future;

pub use alipay::{AlipayChannel, AlipayUrls};
pub use stripe::{StripeChannel, StripeKeyError, StripeKeys};
pub use wechat::{WechatChannel, WechatKeys, WechatUrls};

use crate::ids::OrderId;
use crate::money::{Currency, Money};
pub use crate::order::Dispute;
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
    /// `payment` is the provider's id of the payment refunded, when the event names it:
    /// it must be the order's.
    Refunded {
        total: Money,
        payment: Option<String>,
    },
    /// Asked about an order (reconcile, the return page): paid, and `total` of it
    /// already refunded. The refund is recorded first, so it wins over the payment.
    PaidRefunded { payment: Payment, total: Money },
    /// The buyer finished the provider's checkout with a method that settles later (a
    /// bank debit): neither paid nor abandoned, so never closed; the provider reports
    /// the outcome.
    Processing,
    /// A card payment was disputed (a chargeback): the purchase's links are suspended
    /// while it is open, restored if it is won, and stay off if it is lost.
    Disputed { payment: String, state: Dispute },
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

/// Which order a notification is about. Most providers name our order id; some events
/// name only the provider's payment id (Stripe's `charge.refunded`), which the store
/// maps back to the order ([`crate::store::Store::order_id_by_txn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    Id(OrderId),
    ProviderTxn(String),
}

/// An authenticated notification, reduced to what the shared flow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub order: OrderRef,
    /// The provider's id for this notification; the same across its retries.
    pub event_id: String,
    pub status: ProviderStatus,
    /// The provider's checkout the event is about (Stripe's Checkout Session), when it
    /// names one: it must be the one the order started ([`Order::checkout_ref`]).
    pub checkout_ref: Option<String>,
}

/// What an authentic notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Payment(PaymentEvent),
    /// Authentic, but nothing the shop acts on (an event type the endpoint was subscribed
    /// to that Kiosk does not use): acknowledged, nothing changed.
    Irrelevant {
        what: String,
    },
}

/// The provider's payment page for a new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub url: String,
    /// The provider's id for this checkout, kept on the order (see
    /// [`Order::checkout_ref`]).
    pub checkout_ref: Option<String>,
    /// What the shop's own page shows the buyer to pay with, kept on the order (see
    /// [`Order::pay_code`]): WeChat Pay's Native `code_url`, drawn as a QR code.
    pub pay_code: Option<String>,
}

/// An authenticated browser return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub order_id: OrderId,
    /// What the provider said while authenticating the return, if it was asked (Stripe's
    /// return carries only a session id, which is looked up): the shop then need not ask
    /// again.
    pub status: Option<ProviderStatus>,
    /// The provider's checkout the return names (Stripe's session): it must be the one
    /// the order started.
    pub checkout_ref: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The callback is not authentic or not addressed to us: forged, tampered, signed
    /// with the wrong key, another app's, malformed.
    #[error("notification rejected")]
    Rejected(#[source] Rejection),
    #[error("{0} cannot be paid through this channel")]
    Currency(crate::money::Currency),
    /// The amount is below what the channel can charge.
    #[error("{channel} cannot charge less than {smallest}")]
    TooSmall {
        channel: &'static str,
        smallest: Money,
    },
    #[error("could not sign the request")]
    Sign(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("could not reach the payment provider")]
    Transport(#[source] reqwest::Error),
    #[error("could not set up the payment providers' client")]
    Tls(#[source] crate::tls::TlsError),
    /// The request's deadline left no time for (another) attempt ([`crate::deadline`]).
    #[error("no time left in this request to call the payment provider")]
    OutOfTime,
    #[error("payment provider answered HTTP {0}")]
    HttpStatus(u16),
    #[error("payment provider's reply was not acceptable")]
    Reply(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("payment provider's reply was not acceptable: {0}")]
    BadReply(String),
    #[error("payment provider refused the call: {code} {sub_code} {msg}")]
    Provider {
        code: String,
        sub_code: String,
        msg: String,
    },
}

/// Why a callback (notification or browser return) was refused, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The signature is missing, malformed or does not verify with the provider's key.
    #[error("signature does not verify")]
    Signature(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The body or query is not what the provider sends (not UTF-8, not a form, not an
    /// event).
    #[error("not a well-formed callback")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field} is not valid")]
    Field {
        field: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Authentic, but for another app, merchant or shop, or naming no order of ours.
    #[error("{0} is not ours")]
    NotOurs(&'static str),
    #[error("unknown trade_status {0:?}")]
    UnknownStatus(String),
    /// This process cannot check the callback (no webhook secret or seller id): every
    /// one is refused.
    #[error("cannot be checked here: {0}")]
    Uncheckable(&'static str),
    #[error("Stripe has no such Checkout Session")]
    NoSuchSession,
}

/// A callback refused for `why`.
pub(crate) fn reject(why: Rejection) -> ChannelError {
    ChannelError::Rejected(why)
}

/// A provider's answer that is not what the protocol promises.
pub(crate) fn bad_reply(why: impl Into<String>) -> ChannelError {
    ChannelError::BadReply(why.into())
}

/// The request headers a notification arrived with (the signature may be in one).
pub type Headers = reqwest::header::HeaderMap;

/// Attempts per provider call; only what is safe to repeat is retried (each channel
/// says what that is).
pub(crate) const ATTEMPTS: u32 = 3;

/// The wait after the `attempt`-th failed try: 200 ms, then 400 ms.
pub(crate) async fn backoff(attempt: u32) {
    let first = std::time::Duration::from_millis(200);
    tokio::time::sleep(first * 2u32.pow(attempt.saturating_sub(1))).await;
}

/// The most one attempt of a provider call may take; inside a request it is cut to what
/// the request's deadline leaves ([`crate::deadline::attempt_timeout`]).
pub(crate) const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);

/// The time one attempt may take now, or [`ChannelError::OutOfTime`].
pub(crate) fn attempt_timeout() -> Result<std::time::Duration, ChannelError> {
    crate::deadline::attempt_timeout(ATTEMPT_TIMEOUT).ok_or(ChannelError::OutOfTime)
}

/// The one HTTP client a function's channels share (built once at cold start: a second
/// channel must not cost a second TLS setup). Every provider call has a 3 s connect
/// timeout and at most [`ATTEMPT_TIMEOUT`] per attempt.
pub fn http_client() -> Result<reqwest::Client, ChannelError> {
    // Compiled-in roots: building the client parses no CA bundle ([`crate::tls`]).
    let tls = crate::tls::providers_config().map_err(ChannelError::Tls)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(ATTEMPT_TIMEOUT)
        .build()
        .map_err(ChannelError::Transport)
}

pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// Whether this channel can take payments in `currency` (checked before anything is
    /// written).
    fn accepts(&self, currency: Currency) -> bool;

    /// The smallest amount this channel can charge in `currency` (Alipay: 0.01; Stripe:
    /// its minimum charge per currency). A price below it is refused before anything is
    /// written, or, for a discount, raised to it ([`crate::pricing`]).
    fn smallest_charge(&self, currency: Currency) -> Money;

    /// Start paying `order`: the provider's payment page for it. May call the provider
    /// (Stripe creates a Checkout Session); nothing is written here. `payer` is the
    /// buyer's address, for a provider that requires it (WeChat Pay's H5 pay).
    fn start_payment(
        &self,
        order: &Order,
        device: Device,
        payer: Option<crate::net::PayerAddress>,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Redirect, ChannelError>> + Send;

    /// Authenticate an asynchronous notification from its raw body and headers, at `now`
    /// (signatures may carry a timestamp), and extract what it is about.
    fn authenticate_notification(
        &self,
        body: &[u8],
        headers: &Headers,
        now: time::OffsetDateTime,
    ) -> Result<Notice, ChannelError>;

    /// Authenticate a browser return (its query string) and find the order. Never
    /// trusts the query string for the payment's state.
    fn authenticate_return(
        &self,
        query: &str,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Returned, ChannelError>> + Send;

    /// Ask the provider about an order now (active verification).
    fn query(
        &self,
        order: &Order,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<ProviderStatus, ChannelError>> + Send;

    /// Whether `payment`, named by an authentic refund or dispute of `order`, is that
    /// order's payment, for an order with no payment recorded yet (the refund overtook
    /// the payment's own event).
    fn confirm_payment(
        &self,
        order: &Order,
        payment: &str,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<bool, ChannelError>> + Send;

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

/// The channels one shop is configured with, and the one a Buy Now form without a
/// `channel` field uses. At least one is configured (checked at cold start).
pub struct Channels {
    pub alipay: Option<AlipayChannel>,
    pub stripe: Option<StripeChannel>,
    pub wechat: Option<WechatChannel>,
    pub default: ChannelKind,
}

/// One configured channel, borrowed: what the shop's flows drive.
#[derive(Clone, Copy)]
pub enum AnyChannel<'a> {
    Alipay(&'a AlipayChannel),
    Stripe(&'a StripeChannel),
    Wechat(&'a WechatChannel),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelsError {
    #[error("no payment channel is configured (set up Alipay, Stripe, WeChat Pay or several)")]
    None,
    #[error("the default payment channel {0} is not configured")]
    DefaultMissing(&'static str),
}

impl Channels {
    pub fn new(
        alipay: Option<AlipayChannel>,
        stripe: Option<StripeChannel>,
        wechat: Option<WechatChannel>,
        default: Option<ChannelKind>,
    ) -> Result<Channels, ChannelsError> {
        // Without an explicit default, the first configured of Alipay, Stripe, WeChat Pay.
        let default = match (default, &alipay, &stripe, &wechat) {
            (Some(d), ..) => d,
            (None, Some(_), ..) => ChannelKind::Alipay,
            (None, None, Some(_), _) => ChannelKind::Stripe,
            (None, None, None, Some(_)) => ChannelKind::Wechat,
            (None, None, None, None) => return Err(ChannelsError::None),
        };
        let channels = Channels {
            alipay,
            stripe,
            wechat,
            default,
        };
        if channels.get(default).is_none() {
            return Err(ChannelsError::DefaultMissing(default.as_str()));
        }
        Ok(channels)
    }

    pub fn get(&self, kind: ChannelKind) -> Option<AnyChannel<'_>> {
        match kind {
            ChannelKind::Alipay => self.alipay.as_ref().map(AnyChannel::Alipay),
            ChannelKind::Stripe => self.stripe.as_ref().map(AnyChannel::Stripe),
            ChannelKind::Wechat => self.wechat.as_ref().map(AnyChannel::Wechat),
            // Free orders have no provider.
            ChannelKind::Free => None,
        }
    }

    /// The channel named by a URL segment or form field (`alipay`, `stripe`), if
    /// configured.
    pub fn named(&self, name: &str) -> Option<AnyChannel<'_>> {
        self.get(name.parse().ok()?)
    }

    pub fn configured(&self) -> Vec<ChannelKind> {
        [
            ChannelKind::Alipay,
            ChannelKind::Stripe,
            ChannelKind::Wechat,
        ]
        .into_iter()
        .filter(|k| self.get(*k).is_some())
        .collect()
    }
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            AnyChannel::Alipay($c) => $e,
            AnyChannel::Stripe($c) => $e,
            AnyChannel::Wechat($c) => $e,
        }
    };
}

impl Channel for AnyChannel<'_> {
    fn kind(&self) -> ChannelKind {
        each!(self, c => c.kind())
    }
    fn accepts(&self, currency: Currency) -> bool {
        each!(self, c => c.accepts(currency))
    }
    fn smallest_charge(&self, currency: Currency) -> Money {
        each!(self, c => c.smallest_charge(currency))
    }
    async fn start_payment(
        &self,
        order: &Order,
        device: Device,
        payer: Option<crate::net::PayerAddress>,
        now: time::OffsetDateTime,
    ) -> Result<Redirect, ChannelError> {
        each!(self, c => c.start_payment(order, device, payer, now).await)
    }
    fn authenticate_notification(
        &self,
        body: &[u8],
        headers: &Headers,
        now: time::OffsetDateTime,
    ) -> Result<Notice, ChannelError> {
        each!(self, c => c.authenticate_notification(body, headers, now))
    }
    async fn authenticate_return(
        &self,
        query: &str,
        now: time::OffsetDateTime,
    ) -> Result<Returned, ChannelError> {
        each!(self, c => c.authenticate_return(query, now).await)
    }
    async fn query(
        &self,
        order: &Order,
        now: time::OffsetDateTime,
    ) -> Result<ProviderStatus, ChannelError> {
        each!(self, c => c.query(order, now).await)
    }
    async fn confirm_payment(
        &self,
        order: &Order,
        payment: &str,
        now: time::OffsetDateTime,
    ) -> Result<bool, ChannelError> {
        each!(self, c => c.confirm_payment(order, payment, now).await)
    }
    async fn close(
        &self,
        order: &Order,
        now: time::OffsetDateTime,
    ) -> Result<CloseOutcome, ChannelError> {
        each!(self, c => c.close(order, now).await)
    }
    async fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<Money, ChannelError> {
        each!(self, c => c.refund(order, amount, request_no, reason, now).await)
    }
    fn ack(&self) -> &'static str {
        each!(self, c => c.ack())
    }
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
