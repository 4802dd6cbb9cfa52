//! Orders and their state machine (docs/architecture.md, "Orders").
//!
//! `PENDING -> PAID -> REFUNDED` and `PENDING -> EXPIRED`, plus `EXPIRED -> PAID`: a
//! payment confirmed after expiry is still honoured because the money was taken.
//! [`OrderState`] carries what each state has (a paid order's payment and link, a
//! refund's time); it is private to the transitions, read through accessors.
//! Transitions are pure functions returning `Result`; the store performs the same checks
//! as DynamoDB conditions and uses these functions to explain a failed condition.
//!
//! Over 400 lines: the state machine and its tests (every transition, allowed and
//! refused).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::email::Email;
use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::money::Money;
use crate::product::{FileSet, Product};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Paid,
    Expired,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Paid => "PAID",
            OrderStatus::Expired => "EXPIRED",
            OrderStatus::Refunded => "REFUNDED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the values a field can hold (an order status, a channel, a
/// dispute state), with the name and the field it was read for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {field} {value:?}")]
pub struct UnknownName {
    pub field: &'static str,
    pub value: String,
}

fn unknown(field: &'static str, value: &str) -> UnknownName {
    UnknownName {
        field,
        value: value.to_owned(),
    }
}

impl FromStr for OrderStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "PENDING" => Ok(OrderStatus::Pending),
            "PAID" => Ok(OrderStatus::Paid),
            "EXPIRED" => Ok(OrderStatus::Expired),
            "REFUNDED" => Ok(OrderStatus::Refunded),
            other => Err(unknown("order status", other)),
        }
    }
}

/// The payment provider an order is paid through. Callbacks are routed by URL
/// (`/notify/{channel}`), so this is also the path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Alipay,
    Stripe,
    /// WeChat Pay (API v3): Native pay by QR code, H5 pay in a phone's browser.
    Wechat,
    /// No provider: a free order (price 0, or 100% off), recorded paid at once and its
    /// link mailed ([`crate::pricing`]).
    Free,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Alipay => "alipay",
            ChannelKind::Stripe => "stripe",
            ChannelKind::Wechat => "wechat",
            ChannelKind::Free => "free",
        }
    }
}

impl FromStr for ChannelKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "alipay" => Ok(ChannelKind::Alipay),
            "stripe" => Ok(ChannelKind::Stripe),
            "wechat" => Ok(ChannelKind::Wechat),
            "free" => Ok(ChannelKind::Free),
            other => Err(unknown("payment channel", other)),
        }
    }
}

/// Where the buyer came from, captured at checkout for the reports ([`crate::sales`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub referrer: Option<String>,
    /// The visit that led here, as the collect function counted it (from the signed
    /// visit token `kiosk.js` passes on); `None` without one.
    pub visit: Option<Visit>,
}

/// A counted page view's source and its visitor, as checkout received them signed
/// ([`crate::abtest::VariantToken`]): the order counts under the same source as the
/// visitor's views, and one visitor's orders convert once ([`crate::sales`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The source the view counted under, spelled by [`crate::sales::clean_source`].
    pub source: String,
    /// The visitor, as a keyed hash of the day's visitor id (16 hex digits): the same
    /// for one visitor's orders that day, and nothing else.
    pub visitor: String,
}

impl Source {
    /// Longest value kept, in characters; longer ones are cut, not refused, since they
    /// come from links the author does not control.
    pub const MAX_LEN: usize = 200;

    /// One attacker-supplied field (`utm_*`, `Referer`) as stored: control characters
    /// (terminal escapes, newlines) and bidirectional-override marks removed, trimmed,
    /// at most [`Self::MAX_LEN`] characters; `None` when nothing is left. The author
    /// reads these in a terminal (`kiosk orders`) and a spreadsheet (`kiosk sales --csv`).
    pub fn field(raw: Option<&str>) -> Option<String> {
        let clean: String = raw?
            .chars()
            .filter(|c| !is_hidden(*c))
            .collect::<String>()
            .trim()
            .chars()
            .take(Self::MAX_LEN)
            .collect();
        (!clean.is_empty()).then_some(clean)
    }
}

pub use crate::text::{is_hidden, printable};

/// How long the process that claimed a due mail owns it before another may try. Longer
/// than any send takes (SES answers in well under a second; the functions time out after
/// at most a minute), short enough that a crashed sender delays the mail only minutes.
pub const MAIL_LEASE: Duration = Duration::minutes(5);

/// Attempts before a purchase mail is given up: with
/// [`crate::delivery::mail_backoff`] that is about two days of trying (1, 2, 4, …
/// minutes, then every 6 hours).
pub const MAX_MAIL_ATTEMPTS: u32 = 16;

/// Whether the purchase email still has to go out. Set to `Due` in the same write that
/// marks the order paid, so a crash between payment and mail leaves a record in the
/// `MailDue` index instead of a silent buyer; reconcile sends what is due
/// ([`crate::delivery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    NotDue,
    Due {
        attempts: u32,
        next_at: OffsetDateTime,
    },
    Sent {
        at: OffsetDateTime,
    },
    /// Every attempt failed ([`MAX_MAIL_ATTEMPTS`]): the author has to
    /// act (`kiosk orders --mail failed`, then `kiosk resend`).
    Failed {
        attempts: u32,
        at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub product_id: ProductId,
    pub product_title: String,
    pub edition: crate::product::Edition,
    /// The files the grant will serve, fixed at checkout: the buyer gets the edition that
    /// was on sale when they clicked Buy (a later `kiosk update` mails them the new one).
    pub files: FileSet,
    pub download_limit: u32,
    /// The product stamped its PDFs when the order was made ([`crate::stamp`]).
    pub stamp: bool,
    /// The product gave a license of this many seats when the order was made
    /// ([`crate::license`]).
    pub license_seats: Option<crate::product::Seats>,
    /// The license issued when the payment was recorded (both forms).
    pub license: Option<crate::license::IssuedLicense>,
    pub email: Email,
    /// What the buyer pays: the provider is held to exactly this.
    pub amount: Money,
    /// The product's price when the order was made (the suggested price, for pay what
    /// you want); differs from `amount` when the buyer chose or a code made the price.
    pub list_price: Money,
    /// The discount code that made the price; its use is reserved with the order.
    pub code: Option<crate::pricing::CodeName>,
    pub channel: ChannelKind,
    /// Where the order stands, with what only that state has (the payment, the link,
    /// the refund's time): changed only by the transitions below.
    pub(crate) state: OrderState,
    /// The provider's id for the checkout this order started (Stripe's Checkout Session
    /// `cs_...`), set at checkout by channels that create one; Alipay needs none (its
    /// trade is named by our order id).
    pub checkout_ref: Option<String>,
    /// What the shop's page for the order shows the buyer to pay with, set at checkout
    /// by channels whose payment the shop shows itself (WeChat Pay's Native `code_url`,
    /// drawn as a QR code).
    pub pay_code: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// How much of the payment the provider has returned so far (a partial refund keeps
    /// the order PAID; the full amount makes it REFUNDED).
    pub refunded: Option<Money>,
    /// Every download link this purchase ever got: the purchase's own and each new
    /// edition's. A full refund revokes them all.
    pub grant_tokens: Vec<DownloadToken>,
    pub source: Source,
    pub mail: MailState,
    /// Refund requests made through `kiosk refund` so far (names the next one).
    pub refund_seq: u32,
    /// A refund asked of the provider that is not settled here yet: written before the
    /// provider is called, reused by every rerun until its outcome is recorded, so a
    /// crash or a lost answer never turns into a second refund.
    pub refund_request: Option<RefundRequest>,
    /// The last refund request settled here: what a rerun of a `kiosk refund` whose
    /// earlier run finished unseen (stopped after recording it) is recognised by.
    pub last_refund: Option<SettledRefund>,
    /// A card dispute (chargeback) of the payment, while there is or was one.
    pub dispute: Option<Dispute>,
    /// The language the buyer chose at checkout: their pages and mails use it. `None`
    /// for orders made before languages were recorded (the shop's default then).
    pub lang: Option<crate::i18n::Lang>,
    /// The A/B variants this buyer saw (test, variant), computed at checkout from the
    /// same request identity the page's beacon had; empty outside tests.
    pub variants: Vec<(crate::visit::Name, crate::visit::Name)>,
    /// Addresses this order had before the author corrected it (`kiosk resend --to`),
    /// oldest first.
    pub previous_emails: Vec<Email>,
    /// SES reported that mail to [`Order::email`] bounced for good or was marked as
    /// spam ([`crate::mail_events`]): nothing more is mailed for this order until the
    /// author corrects the address (`kiosk resend --to`), which clears it.
    pub mail_block: Option<MailBlock>,
}

/// The provider's payment as the shop recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The provider's id for the payment (Alipay `trade_no`, Stripe's PaymentIntent
    /// `pi_...`, `free-{order}` for a free copy).
    pub txn: String,
    /// When the shop recorded it.
    pub at: OffsetDateTime,
}

/// A recorded payment and the download link it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub payment: Settlement,
    /// The newest download link of this purchase (`kiosk update` moves it on).
    pub grant: DownloadToken,
}

/// Where an order stands, carrying what only that state has: a pending or expired order
/// has no payment and no link; a paid one has both; a refunded one has its refund's
/// time and whatever payment it had ([`Refunded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    Pending,
    Expired,
    Paid(Granted),
    Refunded(Refunded),
}

/// A fully refunded order: when, and what it had been paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub at: OffsetDateTime,
    pub payment: RefundedPayment,
}

/// The payment of a refunded order. A refund can overtake its payment's own
/// notification: then no link was ever made, and the payment (if it is recorded at
/// all) is recorded after the refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundedPayment {
    /// The refund was reported first; no payment is recorded yet.
    NotRecorded,
    /// The payment was recorded after its refund: no link, no purchase mail.
    RecordedLate(Settlement),
    /// Paid with a link, then refunded: every link of the purchase is revoked.
    Granted(Granted),
}

impl OrderState {
    pub fn status(&self) -> OrderStatus {
        match self {
            OrderState::Pending => OrderStatus::Pending,
            OrderState::Expired => OrderStatus::Expired,
            OrderState::Paid(_) => OrderStatus::Paid,
            OrderState::Refunded(_) => OrderStatus::Refunded,
        }
    }

    /// The payment with its link, in whichever state holds one (paid, or paid and
    /// then refunded).
    fn granted(&self) -> Option<&Granted> {
        match self {
            OrderState::Paid(g)
            | OrderState::Refunded(Refunded {
                payment: RefundedPayment::Granted(g),
                ..
            }) => Some(g),
            _ => None,
        }
    }

    /// The recorded payment, in whichever state holds one.
    pub fn payment(&self) -> Option<&Settlement> {
        match self {
            OrderState::Refunded(Refunded {
                payment: RefundedPayment::RecordedLate(p),
                ..
            }) => Some(p),
            _ => self.granted().map(|g| &g.payment),
        }
    }

    /// The newest download link, in whichever state holds one.
    pub fn grant(&self) -> Option<&DownloadToken> {
        self.granted().map(|g| &g.grant)
    }
}

/// Why the shop stopped mailing an order's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailBlock {
    pub kind: MailBlockKind,
    /// When SES saw it (the bounce's or complaint's own time).
    pub at: OffsetDateTime,
    /// SES's words for it, without the address: `Permanent/General: smtp; 550 5.1.1
    /// <recipient>... user unknown`, or a complaint's feedback type (`abuse`).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailBlockKind {
    /// A permanent bounce: the address does not take mail (most often a typo).
    Bounced,
    /// The buyer marked a mail as spam.
    Complained,
}

impl MailBlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailBlockKind::Bounced => "BOUNCED",
            MailBlockKind::Complained => "COMPLAINED",
        }
    }

    /// What happened to the mail, for the author: "mail to x {what} on {date}".
    pub fn what(self) -> &'static str {
        match self {
            MailBlockKind::Bounced => "bounced",
            MailBlockKind::Complained => "was marked as spam",
        }
    }
}

impl FromStr for MailBlockKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "BOUNCED" => Ok(MailBlockKind::Bounced),
            "COMPLAINED" => Ok(MailBlockKind::Complained),
            other => Err(unknown("mail block", other)),
        }
    }
}

/// One refund asked of the provider: its number there, which makes a repeat of it refund
/// nothing more. `{order}RF{seq}`: letters and digits only (as Alipay's `out_request_no`
/// examples), and never equal to the `{order}R{total}` numbers earlier versions used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub seq: u32,
    pub amount: Money,
    pub request_no: String,
}

impl RefundRequest {
    pub fn new(order: &OrderId, seq: u32, amount: Money) -> RefundRequest {
        RefundRequest {
            seq,
            amount,
            request_no: format!("{order}RF{seq}"),
        }
    }
}

/// A refund request whose outcome is recorded, and when it was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledRefund {
    pub request: RefundRequest,
    pub at: OffsetDateTime,
}

/// Where a dispute of the payment stands: links are suspended while it is open, restored
/// when it is won, and stay off when it is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispute {
    Open,
    Won,
    Lost,
}

impl Dispute {
    pub fn as_str(self) -> &'static str {
        match self {
            Dispute::Open => "OPEN",
            Dispute::Won => "WON",
            Dispute::Lost => "LOST",
        }
    }

    /// Whether the purchase's links work under this dispute state.
    pub fn suspends(self) -> bool {
        !matches!(self, Dispute::Won)
    }
}

impl FromStr for Dispute {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "OPEN" => Ok(Dispute::Open),
            "WON" => Ok(Dispute::Won),
            "LOST" => Ok(Dispute::Lost),
            other => Err(unknown("dispute state", other)),
        }
    }
}

/// What a refund the provider reports does to an order (one rule for every channel and
/// every state: a refund may arrive before the payment it refunds is recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The whole amount is back with the buyer: the order becomes REFUNDED and every
    /// download link of the purchase is revoked. `from` is the state it was read in (the
    /// write is conditioned on it).
    Full {
        order: Box<Order>,
        from: OrderStatus,
    },
    /// Part of it: the amount is recorded, access stays.
    Partial(Box<Order>),
    /// Nothing new (a repeated or older report).
    Already,
}

/// A confirmed payment as reported by a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub provider_txn_id: String,
    pub amount: Money,
}

/// What paying an order leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    /// The order moves to PAID: this is the new state to write.
    Paid(Box<Order>),
    /// The provider reported the whole amount refunded before this payment was recorded:
    /// the payment is recorded (its id, when) but the order stays REFUNDED, with no
    /// download link and no purchase mail.
    AlreadyRefunded(Box<Order>),
    /// The same payment was already recorded: nothing to do (a provider retry).
    AlreadyPaid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("amount mismatch: order is {expected}, payment says {got}")]
    AmountMismatch { expected: Money, got: Money },
    #[error("order was already paid by another transaction ({existing})")]
    ConflictingPayment { existing: String },
    #[error("an order in state {from} cannot become {to}")]
    NotAllowed { from: OrderStatus, to: OrderStatus },
}

impl Order {
    /// A new order for `product`, pending until `now + ttl`.
    pub fn new_pending(
        id: OrderId,
        product: &Product,
        email: Email,
        channel: ChannelKind,
        source: Source,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Order {
        Order {
            id,
            product_id: product.id().clone(),
            product_title: product.title().to_owned(),
            edition: product.edition().clone(),
            files: product.files().clone(),
            download_limit: product.download_limit(),
            stamp: product.stamp(),
            license_seats: product.license(),
            license: None,
            email,
            amount: product.price(),
            list_price: product.price(),
            code: None,
            channel,
            state: OrderState::Pending,
            checkout_ref: None,
            pay_code: None,
            created_at: now,
            expires_at: now + ttl,
            refunded: None,
            grant_tokens: Vec::new(),
            source,
            mail: MailState::NotDue,
            refund_seq: 0,
            refund_request: None,
            last_refund: None,
            dispute: None,
            lang: None,
            variants: Vec::new(),
            previous_emails: Vec::new(),
            mail_block: None,
        }
    }

    /// What this order's license says, were it paid `now`; `None` for an order of a
    /// product without licenses.
    pub fn license_terms(&self, now: OffsetDateTime) -> Option<crate::license::LicenseTerms<'_>> {
        Some(crate::license::LicenseTerms {
            order: &self.id,
            product: &self.product_id,
            edition: &self.edition,
            email: &self.email,
            seats: self.license_seats?,
            issued: now,
        })
    }

    /// The license this order gets when its payment is recorded `now`: a new key, signed
    /// by `signer` when the shop has one. `None` for an order of a product without
    /// licenses.
    pub fn issue_license(
        &self,
        signer: Option<&crate::license::LicenseSigner>,
        now: OffsetDateTime,
    ) -> Result<Option<crate::license::IssuedLicense>, crate::ids::IdError> {
        let Some(terms) = self.license_terms(now) else {
            return Ok(None);
        };
        let signed = signer.map(|s| s.sign_license(&terms));
        if signed.is_none() {
            tracing::error!(order_id = %self.id, "licensed product paid but the shop has no license signing key (kiosk license keygen): only the short key is issued");
        }
        Ok(Some(crate::license::IssuedLicense {
            key: crate::license::LicenseKey::generate()?,
            signed,
        }))
    }

    /// This order at `quote`'s price.
    pub fn priced(mut self, quote: crate::pricing::Quote) -> Order {
        self.amount = quote.amount;
        self.list_price = quote.list;
        self.code = quote.code;
        self
    }

    pub fn state(&self) -> &OrderState {
        &self.state
    }

    pub fn status(&self) -> OrderStatus {
        self.state.status()
    }

    /// The provider's id for the payment, once one is recorded.
    pub fn provider_txn_id(&self) -> Option<&str> {
        self.state.payment().map(|p| p.txn.as_str())
    }

    /// When the payment was recorded, once it is.
    pub fn paid_at(&self) -> Option<OffsetDateTime> {
        self.state.payment().map(|p| p.at)
    }

    /// When the whole amount went back, for a refunded order.
    pub fn refunded_at(&self) -> Option<OffsetDateTime> {
        match &self.state {
            OrderState::Refunded(r) => Some(r.at),
            _ => None,
        }
    }

    /// The newest download link of this purchase, once it is paid.
    pub fn grant_token(&self) -> Option<&DownloadToken> {
        self.state.grant()
    }

    /// Record a confirmed payment. Pending and expired orders can be paid (money taken
    /// after expiry is honoured); the amount must match exactly; a repeat of the same
    /// provider transaction is `AlreadyPaid`, a different one is an error.
    pub fn pay(
        &self,
        payment: &Payment,
        grant_token: DownloadToken,
        now: OffsetDateTime,
    ) -> Result<PayOutcome, TransitionError> {
        let settlement = Settlement {
            txn: payment.provider_txn_id.clone(),
            at: now,
        };
        match &self.state {
            OrderState::Refunded(Refunded {
                at,
                payment: RefundedPayment::NotRecorded,
            }) => {
                self.check_amount(payment.amount)?;
                let mut o = self.clone();
                o.state = OrderState::Refunded(Refunded {
                    at: *at,
                    payment: RefundedPayment::RecordedLate(settlement),
                });
                return Ok(PayOutcome::AlreadyRefunded(Box::new(o)));
            }
            OrderState::Paid(_) | OrderState::Refunded(_) => {
                return match self.provider_txn_id() {
                    Some(existing) if existing == payment.provider_txn_id => {
                        Ok(PayOutcome::AlreadyPaid)
                    }
                    Some(existing) => Err(TransitionError::ConflictingPayment {
                        existing: existing.to_owned(),
                    }),
                    None => Err(TransitionError::NotAllowed {
                        from: self.status(),
                        to: OrderStatus::Paid,
                    }),
                };
            }
            OrderState::Pending | OrderState::Expired => {}
        }
        self.check_amount(payment.amount)?;
        let mut paid = self.clone();
        paid.grant_tokens.push(grant_token.clone());
        paid.state = OrderState::Paid(Granted {
            payment: settlement,
            grant: grant_token,
        });
        // Due, and leased to whoever records this payment: it sends the mail now, and
        // reconcile takes over only if that did not happen within the lease.
        paid.mail = MailState::Due {
            attempts: 0,
            next_at: now + MAIL_LEASE,
        };
        Ok(PayOutcome::Paid(Box::new(paid)))
    }

    fn check_amount(&self, got: Money) -> Result<(), TransitionError> {
        if got == self.amount {
            Ok(())
        } else {
            Err(TransitionError::AmountMismatch {
                expected: self.amount,
                got,
            })
        }
    }

    /// A pending order the buyer abandoned (or the channel closed).
    pub fn expire(&self) -> Result<Order, TransitionError> {
        if self.state != OrderState::Pending {
            return Err(TransitionError::NotAllowed {
                from: self.status(),
                to: OrderStatus::Expired,
            });
        }
        let mut o = self.clone();
        o.state = OrderState::Expired;
        Ok(o)
    }

    /// An order whose money went back to the buyer: a paid one, or one whose refund
    /// arrived before its payment was recorded (pending or expired).
    pub fn refund(&self, now: OffsetDateTime) -> Result<Order, TransitionError> {
        let payment = match &self.state {
            OrderState::Refunded(_) => {
                return Err(TransitionError::NotAllowed {
                    from: OrderStatus::Refunded,
                    to: OrderStatus::Refunded,
                });
            }
            OrderState::Pending | OrderState::Expired => RefundedPayment::NotRecorded,
            OrderState::Paid(g) => RefundedPayment::Granted(g.clone()),
        };
        let mut o = self.clone();
        o.state = OrderState::Refunded(Refunded { at: now, payment });
        o.refunded = Some(self.amount);
        Ok(o)
    }

    /// The provider reports `total` refunded so far for this order, in whatever state
    /// we hold it: a refund can overtake the payment's own notification, and must win.
    /// The full amount refunds the order (a payment recorded later leaves it refunded);
    /// less is a partial refund that keeps access (and is kept when the payment is
    /// recorded later); a report of no more than is already recorded changes nothing.
    /// More than was paid, or another currency, is an error.
    pub fn record_refund(
        &self,
        total: Money,
        now: OffsetDateTime,
    ) -> Result<RefundOutcome, TransitionError> {
        if total.currency() != self.amount.currency() || total.minor() > self.amount.minor() {
            return Err(TransitionError::AmountMismatch {
                expected: self.amount,
                got: total,
            });
        }
        if self.status() == OrderStatus::Refunded {
            return Ok(RefundOutcome::Already);
        }
        if total == self.amount {
            return Ok(RefundOutcome::Full {
                order: Box::new(self.refund(now)?),
                from: self.status(),
            });
        }
        if self.refunded.is_some_and(|r| r.minor() >= total.minor()) || total.minor() == 0 {
            return Ok(RefundOutcome::Already);
        }
        let mut o = self.clone();
        o.refunded = Some(total);
        Ok(RefundOutcome::Partial(Box::new(o)))
    }

    /// Every download link of this purchase: the recorded ones and the newest.
    pub fn all_grants(&self) -> Vec<DownloadToken> {
        let mut out = self.grant_tokens.clone();
        if let Some(t) = self.grant_token()
            && !out.contains(t)
        {
            out.push(t.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn source_fields_lose_control_characters() {
        assert_eq!(
            Source::field(Some(" \u{1b}[2J\u{1b}]0;pwned\u{7}news\r\nletter\u{202E} ")).as_deref(),
            Some("[2J]0;pwnednewsletter")
        );
        assert_eq!(Source::field(Some("\u{1b}\u{9b}\t ")), None);
        assert_eq!(Source::field(None), None);
        assert_eq!(
            Source::field(Some(&"é".repeat(300))).map(|s| s.chars().count()),
            Some(Source::MAX_LEN)
        );
        assert_eq!(printable("a\u{1b}[31mb\u{202E}"), "a\\u{1b}[31mb\\u{202e}");
        assert_eq!(printable("博客 blog"), "博客 blog");
    }

    use crate::money::Currency;
    use time::macros::datetime;

    fn product() -> Product {
        Product::new(
            ProductId::parse("book").unwrap(),
            "The Book",
            Money::parse_decimal("9.00", Currency::Cny).unwrap(),
            crate::product::Edition::parse("v1").expect("valid product"),
            FileSet::one(crate::product::FileRef {
                key: "products/book/v1/book.pdf".into(),
                name: "book.pdf".into(),
                content_type: "application/pdf".into(),
                sha256: None,
                size: None,
            }),
            5,
        )
        .expect("valid product")
    }

    fn pending() -> Order {
        let now = datetime!(2026-11-21 10:00 UTC);
        Order::new_pending(
            OrderId::parse("K1").unwrap(),
            &product(),
            Email::parse("a@example.com").unwrap(),
            ChannelKind::Alipay,
            Source::default(),
            now,
            Duration::minutes(30),
        )
    }

    fn payment(txn: &str, amount: &str) -> Payment {
        Payment {
            provider_txn_id: txn.into(),
            amount: Money::parse_decimal(amount, Currency::Cny).unwrap(),
        }
    }

    fn token() -> DownloadToken {
        DownloadToken::generate().unwrap()
    }

    const LATER: OffsetDateTime = datetime!(2026-11-21 10:05 UTC);

    #[test]
    fn new_order_takes_amount_and_file_from_product() {
        let o = pending();
        assert_eq!(o.status(), OrderStatus::Pending);
        assert_eq!(o.amount.minor(), 900);
        assert_eq!(o.files.first().key, "products/book/v1/book.pdf");
        assert_eq!(o.expires_at, datetime!(2026-11-21 10:30 UTC));
    }

    #[test]
    fn refunds_follow_one_rule() {
        let cny = |s: &str| Money::parse_decimal(s, crate::money::Currency::Cny).unwrap();
        let t = token();
        let PayOutcome::Paid(paid) = pending()
            .pay(&payment("T1", "9.00"), t.clone(), LATER)
            .unwrap()
        else {
            panic!("expected Paid");
        };
        let RefundOutcome::Partial(part) = paid.record_refund(cny("3.00"), LATER).unwrap() else {
            panic!("3.00 of 9.00 is partial");
        };
        assert_eq!(part.status(), OrderStatus::Paid);
        assert_eq!(part.refunded, Some(cny("3.00")));
        assert_eq!(
            part.record_refund(cny("3.00"), LATER),
            Ok(RefundOutcome::Already)
        );
        assert_eq!(
            part.record_refund(cny("2.00"), LATER),
            Ok(RefundOutcome::Already)
        );
        assert_eq!(
            paid.record_refund(cny("0.00"), LATER),
            Ok(RefundOutcome::Already)
        );
        let RefundOutcome::Full { order: full, from } =
            part.record_refund(cny("9.00"), LATER).unwrap()
        else {
            panic!("9.00 of 9.00 is full");
        };
        assert_eq!(from, OrderStatus::Paid);
        assert_eq!(full.status(), OrderStatus::Refunded);
        assert_eq!(full.refunded_at(), Some(LATER));
        assert_eq!(
            full.record_refund(cny("9.00"), LATER),
            Ok(RefundOutcome::Already)
        );
        assert!(matches!(
            paid.record_refund(cny("9.01"), LATER),
            Err(TransitionError::AmountMismatch { .. })
        ));
        let usd = Money::parse_decimal("9.00", crate::money::Currency::Usd).unwrap();
        assert!(paid.record_refund(usd, LATER).is_err());
        assert_eq!(full.all_grants(), vec![t.clone()]);
        // The refunded order keeps the payment and the link it revokes.
        let OrderState::Refunded(Refunded {
            at,
            payment: RefundedPayment::Granted(granted),
        }) = full.state()
        else {
            panic!("a paid order refunded keeps its payment and link");
        };
        assert_eq!(
            (*at, granted.payment.txn.as_str(), &granted.grant),
            (LATER, "T1", &t)
        );
    }

    #[test]
    fn a_refund_reported_before_the_payment_wins() {
        let cny = |s: &str| Money::parse_decimal(s, crate::money::Currency::Cny).unwrap();
        // In full, first: the order is refunded, and the payment that follows is recorded
        // without a link or a mail, once.
        for before in [pending(), pending().expire().unwrap()] {
            let RefundOutcome::Full { order, from } =
                before.record_refund(cny("9.00"), LATER).unwrap()
            else {
                panic!("full");
            };
            assert_eq!(
                (order.status(), from),
                (OrderStatus::Refunded, before.status())
            );
            let Ok(PayOutcome::AlreadyRefunded(after)) =
                order.pay(&payment("T1", "9.00"), token(), LATER)
            else {
                panic!("a payment after a full refund stays refunded");
            };
            assert_eq!(after.status(), OrderStatus::Refunded);
            assert_eq!(after.provider_txn_id(), Some("T1"));
            assert!(matches!(
                after.state(),
                OrderState::Refunded(Refunded {
                    payment: RefundedPayment::RecordedLate(_),
                    ..
                })
            ));
            assert!(after.grant_token().is_none() && after.grant_tokens.is_empty());
            assert_eq!(after.mail, MailState::NotDue);
            assert_eq!(
                after.pay(&payment("T1", "9.00"), token(), LATER),
                Ok(PayOutcome::AlreadyPaid)
            );
            assert!(after.pay(&payment("T2", "9.00"), token(), LATER).is_err());
            assert!(
                order.pay(&payment("T1", "8.00"), token(), LATER).is_err(),
                "still the order's amount"
            );
        }
        // In part, first: kept when the payment arrives; access stays.
        let RefundOutcome::Partial(part) = pending().record_refund(cny("2.00"), LATER).unwrap()
        else {
            panic!("partial");
        };
        assert_eq!(part.status(), OrderStatus::Pending);
        let PayOutcome::Paid(paid) = part.pay(&payment("T1", "9.00"), token(), LATER).unwrap()
        else {
            panic!("paid");
        };
        assert_eq!(paid.refunded, Some(cny("2.00")));
        assert_eq!(paid.status(), OrderStatus::Paid);
    }

    #[test]
    fn paying_a_pending_order() {
        let t = token();
        let PayOutcome::Paid(paid) = pending()
            .pay(&payment("T1", "9.00"), t.clone(), LATER)
            .unwrap()
        else {
            panic!("expected Paid");
        };
        assert_eq!(paid.status(), OrderStatus::Paid);
        assert_eq!(paid.provider_txn_id(), Some("T1"));
        assert_eq!(paid.paid_at(), Some(LATER));
        assert_eq!(paid.grant_token(), Some(&t));
        assert_eq!(
            paid.mail,
            MailState::Due {
                attempts: 0,
                next_at: LATER + MAIL_LEASE
            }
        );
    }

    #[test]
    fn paying_an_expired_order_is_honoured() {
        let expired = pending().expire().unwrap();
        assert!(matches!(
            expired.pay(&payment("T1", "9.00"), token(), LATER),
            Ok(PayOutcome::Paid(_))
        ));
    }

    #[test]
    fn wrong_amount_is_refused() {
        let err = pending()
            .pay(&payment("T1", "0.01"), token(), LATER)
            .unwrap_err();
        assert!(matches!(err, TransitionError::AmountMismatch { .. }));
        let err = pending()
            .pay(&payment("T1", "9.01"), token(), LATER)
            .unwrap_err();
        assert!(matches!(err, TransitionError::AmountMismatch { .. }));
    }

    #[test]
    fn same_payment_twice_is_already_paid_other_is_conflict() {
        let PayOutcome::Paid(paid) = pending()
            .pay(&payment("T1", "9.00"), token(), LATER)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            paid.pay(&payment("T1", "9.00"), token(), LATER),
            Ok(PayOutcome::AlreadyPaid)
        );
        assert!(matches!(
            paid.pay(&payment("T2", "9.00"), token(), LATER),
            Err(TransitionError::ConflictingPayment { .. })
        ));
        let refunded = paid.refund(LATER).unwrap();
        assert_eq!(refunded.status(), OrderStatus::Refunded);
        assert_eq!(
            refunded.pay(&payment("T1", "9.00"), token(), LATER),
            Ok(PayOutcome::AlreadyPaid)
        );
    }

    #[test]
    fn illegal_moves_are_errors() {
        let o = pending();
        let expired = o.expire().unwrap();
        assert!(expired.expire().is_err());
        let PayOutcome::Paid(paid) = o.pay(&payment("T1", "9.00"), token(), LATER).unwrap() else {
            panic!()
        };
        assert!(paid.expire().is_err());
        let refunded = paid.refund(LATER).unwrap();
        assert!(refunded.refund(LATER).is_err());
        assert!(refunded.expire().is_err());
    }

    #[test]
    fn statuses_round_trip_through_strings() {
        for s in [
            OrderStatus::Pending,
            OrderStatus::Paid,
            OrderStatus::Expired,
            OrderStatus::Refunded,
        ] {
            assert_eq!(s.as_str().parse::<OrderStatus>().unwrap(), s);
        }
        assert_eq!(
            "paid".parse::<OrderStatus>().unwrap_err().to_string(),
            "unknown order status \"paid\""
        );
    }
}
