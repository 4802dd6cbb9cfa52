//! Stripe Checkout as a [`Channel`] (docs/architecture.md, "Stripe Checkout, as
//! implemented"): a Checkout Session per order, signed webhooks, the browser return
//! confirmed by retrieving the session, expiring a session, refunds. A small client over
//! the reqwest already in the tree: four endpoints, form bodies in, JSON out, a pinned
//! `Stripe-Version`.
//!
//! Over 400 lines: the whole Stripe protocol as the shop uses it, like `alipay.rs`.

use serde::Deserialize;
use time::OffsetDateTime;

use super::{
    ATTEMPTS, Channel, ChannelError, CloseOutcome, Device, Dispute, Headers, Notice, OrderRef,
    PaymentEvent, ProviderStatus, Redirect, Rejection, Returned, attempt_timeout, backoff,
    bad_reply, reject,
};
use crate::form::{encode_pairs, parse_form};
use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::{ChannelKind, Order, Payment};
use crate::stripe::checkout::{API_VERSION, SessionRequest, clamp_expiry};
use crate::stripe::event::{Event, Metadata, PaymentStatus, Session, money, parse_event};
use crate::stripe::webhook::{WebhookSecret, verify};

/// The secret API key (`sk_...` or a restricted `rk_...`) and the endpoint's webhook
/// signing secret, read from SSM at cold start.
pub struct StripeKeys {
    pub secret_key: String,
    /// Only payment-notify reads it (the only function that verifies webhooks); the
    /// others never hold it.
    pub webhook_secret: Option<WebhookSecret>,
}

impl std::fmt::Debug for StripeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeKeys(…)")
    }
}

/// A Stripe key that is not of the shape Stripe gives out.
#[derive(Debug, thiserror::Error)]
pub enum StripeKeyError {
    #[error("the Stripe secret key starts with sk_ (or rk_ for a restricted key)")]
    SecretKey,
    #[error("the webhook signing secret is not one")]
    WebhookSecret(#[source] crate::stripe::webhook::SecretError),
}

impl StripeKeys {
    /// Checks the shapes, so a key pasted into the wrong parameter fails at cold start.
    pub fn parse(
        secret_key: &str,
        webhook_secret: Option<&str>,
    ) -> Result<StripeKeys, StripeKeyError> {
        let key = secret_key.trim();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.len() < 8 {
            return Err(StripeKeyError::SecretKey);
        }
        let webhook_secret = webhook_secret
            .map(|w| WebhookSecret::parse(w).map_err(StripeKeyError::WebhookSecret))
            .transpose()?;
        Ok(StripeKeys {
            secret_key: key.to_owned(),
            webhook_secret,
        })
    }
}

pub struct StripeChannel {
    api_base: String,
    keys: StripeKeys,
    /// `{base}/return/stripe?session_id={CHECKOUT_SESSION_ID}`
    success_url: String,
    /// The shop page: where "back" on Stripe's page goes.
    cancel_url: String,
    /// `metadata[kiosk_shop]` on everything this shop creates (see
    /// [`SessionRequest::shop_tag`]).
    shop_tag: String,
    http: reqwest::Client,
}

/// A Checkout Session as the API returns it: the webhook shape plus what only the API
/// reply has.
#[derive(Deserialize)]
struct ApiSession {
    #[serde(flatten)]
    session: Session,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    status: Option<String>,
    /// The hosted payment page (present while the session is open).
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct ApiRefund {
    amount: u64,
    currency: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

impl ApiRefund {
    /// Money that is (or is on its way) back with the buyer.
    fn counts(&self) -> bool {
        !matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }
}

#[derive(Deserialize)]
struct ApiList<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A session id as Stripe makes them (`cs_test_...`, `cs_live_...`): also what keeps a
/// query string from smuggling a path into the API URL.
fn session_id(raw: &str) -> Option<&str> {
    let ok = raw.starts_with("cs_")
        && (4..=255).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(raw)
}

/// Which failures of an API call are tried again within the call.
#[derive(Clone, Copy)]
enum Retry<'a> {
    /// A read, or a write that is idempotent by nature (expiring a session): any
    /// transport error, 429 or 5xx.
    Safe,
    /// A create under an idempotency key: transport errors, 429, and 409 (another
    /// request with this key is still being worked on; Stripe saves nothing for it, so
    /// the same key is asked again). Stripe stores a 5xx answer with the key and replays
    /// it for 24 hours, so the same key would only get the same 5xx; the caller decides
    /// (a refund looks before trying a new key).
    Keyed(&'a str),
}

/// The refund request number Kiosk writes into a refund's metadata, how a rerun finds
/// the refund an earlier run made.
const REQUEST_META: &str = "kiosk_request";

/// The most idempotency keys one refund request walks through: each new one only after
/// a 5xx Stripe saved under the one before (so a rerun, replaying those, gets further).
const MAX_REFUND_KEYS: u32 = 12;

impl StripeChannel {
    pub fn new(
        api_base: &str,
        public_base_url: &str,
        shop_url: &str,
        shop_tag: &str,
        keys: StripeKeys,
        http: reqwest::Client,
    ) -> Self {
        StripeChannel {
            api_base: api_base.trim_end_matches('/').to_owned(),
            keys,
            success_url: format!(
                "{public_base_url}/return/stripe?session_id={{CHECKOUT_SESSION_ID}}"
            ),
            cancel_url: shop_url.to_owned(),
            shop_tag: shop_tag.to_owned(),
            http,
        }
    }

    /// One API call answering raw JSON. `form` is `None` for a GET.
    async fn call_raw(
        &self,
        path: &str,
        form: Option<&[(String, String)]>,
        retry: Retry<'_>,
    ) -> Result<String, ChannelError> {
        let url = format!("{}{path}", self.api_base);
        let body = form.map(encode_pairs);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let timeout = attempt_timeout()?;
            let mut req = match &body {
                Some(b) => self
                    .http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(b.clone()),
                None => self.http.get(&url),
            }
            .timeout(timeout)
            .bearer_auth(&self.keys.secret_key)
            .header("stripe-version", API_VERSION);
            if let Retry::Keyed(k) = retry {
                req = req.header("idempotency-key", k);
            }
            let again = attempt < ATTEMPTS;
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if again => {
                    tracing::warn!(error = %e, attempt, path, "Stripe transport error; retrying");
                    backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(ChannelError::Transport(e)),
            };
            let status = resp.status();
            let busy = status.as_u16() == 429
                || (status.as_u16() == 409 && matches!(retry, Retry::Keyed(_)))
                || (status.is_server_error() && matches!(retry, Retry::Safe));
            if busy && again {
                tracing::warn!(
                    status = status.as_u16(),
                    attempt,
                    path,
                    "Stripe busy; retrying"
                );
                backoff(attempt).await;
                continue;
            }
            let text = resp.text().await.map_err(ChannelError::Transport)?;
            if status.is_success() {
                return Ok(text);
            }
            if status.as_u16() == 409 {
                // Still in progress under this key after every attempt: not an answer.
                return Err(ChannelError::HttpStatus(409));
            }
            return Err(match serde_json::from_str::<ApiErrorBody>(&text) {
                Ok(b) => ChannelError::Provider {
                    code: b.error.kind,
                    sub_code: b.error.code.unwrap_or_default(),
                    msg: b.error.message.unwrap_or_default(),
                },
                Err(_) => ChannelError::HttpStatus(status.as_u16()),
            });
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: Option<&[(String, String)]>,
        retry: Retry<'_>,
    ) -> Result<T, ChannelError> {
        let text = self.call_raw(path, form, retry).await?;
        serde_json::from_str(&text).map_err(|e| bad_reply(format!("{path}: {e}")))
    }

    /// The session, with its PaymentIntent's latest charge expanded, so a refund made
    /// before we recorded the payment shows.
    async fn retrieve(&self, id: &str) -> Result<ApiSession, ChannelError> {
        let path = format!("/v1/checkout/sessions/{id}?expand[]=payment_intent.latest_charge");
        let raw = self.call_raw(&path, None, Retry::Safe).await?;
        let value: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| bad_reply(format!("session: {e}")))?;
        let refunded = crate::stripe::event::session_refunded(&value).map_err(bad_reply)?;
        let mut api: ApiSession =
            serde_json::from_value(value).map_err(|e| bad_reply(format!("session: {e}")))?;
        api.session.refunded = refunded;
        Ok(api)
    }

    /// What a retrieved session says about its payment, at `now`.
    fn status_of(api: &ApiSession, now: OffsetDateTime) -> Result<ProviderStatus, ChannelError> {
        let s = &api.session;
        match (&s.payment_status, api.status.as_deref()) {
            (PaymentStatus::Paid, _) => {
                let payment = paid(s).map_err(|e| ChannelError::Reply(Box::new(e)))?;
                match &s.refunded {
                    Some((minor, currency)) if *minor > 0 => Ok(ProviderStatus::PaidRefunded {
                        total: money(*minor, currency).map_err(|e| bad_reply(e.to_string()))?,
                        payment,
                    }),
                    _ => Ok(ProviderStatus::Paid(payment)),
                }
            }
            (_, Some("expired")) => Ok(ProviderStatus::Closed),
            // Completed without the money yet: a method that settles later.
            (_, Some("complete")) => Ok(ProviderStatus::Processing),
            // Past its own expiry Stripe takes no payment for it; it expires it itself, so
            // there is nothing to ask it to close.
            _ if s.expires_at.is_some_and(|t| now.unix_timestamp() >= t) => {
                Ok(ProviderStatus::Closed)
            }
            _ => Ok(ProviderStatus::Waiting),
        }
    }

    fn session_of(order: &Order) -> Result<&str, ChannelError> {
        order
            .checkout_ref
            .as_deref()
            .ok_or_else(|| bad_reply(format!("order {} has no Checkout Session", order.id)))
    }

    fn ours(&self, m: &Metadata) -> bool {
        m.kiosk_shop.as_deref() == Some(self.shop_tag.as_str())
    }

    /// Every refund of a PaymentIntent (Stripe lists them newest first).
    async fn refunds_of(&self, pi: &str) -> Result<Vec<ApiRefund>, ChannelError> {
        let list: ApiList<ApiRefund> = self
            .call(
                &format!("/v1/refunds?payment_intent={pi}&limit=100"),
                None,
                Retry::Safe,
            )
            .await?;
        if list.has_more {
            // Over a hundred refunds of one e-book payment is not something to guess about.
            return Err(bad_reply(format!("{pi} has more than 100 refunds")));
        }
        Ok(list.data)
    }

    /// The total refunded of `pi` if `refunds` holds the one named `request_no`.
    fn settled(
        refunds: &[ApiRefund],
        request_no: &str,
        amount: Money,
    ) -> Result<Option<Money>, ChannelError> {
        let Some(mine) = refunds.iter().find(|r| {
            r.counts() && r.metadata.get(REQUEST_META).map(String::as_str) == Some(request_no)
        }) else {
            return Ok(None);
        };
        let this = money(mine.amount, &mine.currency).map_err(|e| bad_reply(e.to_string()))?;
        if this != amount {
            return Err(bad_reply(format!(
                "refund {request_no} at Stripe is {this}, asked for {amount}"
            )));
        }
        let total: u64 = refunds
            .iter()
            .filter(|r| r.counts())
            .map(|r| r.amount)
            .sum();
        Money::from_minor(total, amount.currency())
            .map(Some)
            .map_err(|e| bad_reply(e.to_string()))
    }
}

/// The payment a paid session records: its PaymentIntent and what was charged.
fn paid(s: &Session) -> Result<Payment, Rejection> {
    let provider_txn_id = s
        .payment_intent
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or(Rejection::Missing("payment_intent"))?;
    let amount = s
        .amount()
        .ok_or(Rejection::Missing("amount_total and currency"))?
        .map_err(|e| Rejection::Field {
            field: "amount_total",
            source: Box::new(e),
        })?;
    Ok(Payment {
        provider_txn_id,
        amount,
    })
}

/// Which of our orders a session tagged as ours is for.
fn order_of(s: &Session) -> Result<OrderId, ChannelError> {
    let id = s
        .order_id()
        .ok_or(reject(Rejection::Missing("metadata.order_id")))?;
    OrderId::parse(id).map_err(|_| reject(Rejection::NotOurs("metadata.order_id")))
}

fn irrelevant(what: &str) -> Result<Notice, ChannelError> {
    Ok(Notice::Irrelevant { what: what.into() })
}

/// Stripe's minimum charge per currency, from its "Minimum and maximum charge amounts"
/// table (USD 0.50, EUR 0.50, GBP 0.30, JPY 50). The yuan is not in that table; Stripe
/// asks for the equivalent of USD 0.50 there, which Kiosk fixes at CNY 4.00 so the
/// limit does not move with the exchange rate.
pub fn smallest_charge(currency: Currency) -> Money {
    let minor = match currency {
        Currency::Usd | Currency::Eur => 50,
        Currency::Gbp => 30,
        Currency::Jpy => 50,
        Currency::Cny => 400,
    };
    Money::from_minor(minor, currency).unwrap_or_else(|_| unreachable!("below the maximum"))
}

impl Channel for StripeChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Stripe
    }

    /// Every currency Kiosk prices in (Stripe charges all of them).
    fn accepts(&self, _currency: Currency) -> bool {
        true
    }

    fn smallest_charge(&self, currency: Currency) -> Money {
        smallest_charge(currency)
    }

    /// Creates the Checkout Session (idempotent per order) and answers its page.
    async fn start_payment(
        &self,
        order: &Order,
        _device: Device,
        _payer: Option<crate::net::PayerAddress>,
        now: OffsetDateTime,
    ) -> Result<Redirect, ChannelError> {
        let req = SessionRequest {
            order_id: order.id.as_str().to_owned(),
            product_id: order.product_id.as_str().to_owned(),
            product_name: order.product_title.clone(),
            amount: order.amount,
            customer_email: order.email.as_str().to_owned(),
            success_url: self.success_url.clone(),
            cancel_url: self.cancel_url.clone(),
            expires_at: clamp_expiry(now, order.expires_at),
            shop_tag: self.shop_tag.clone(),
        };
        let created: ApiSession = self
            .call(
                "/v1/checkout/sessions",
                Some(&req.form_pairs()),
                Retry::Keyed(&req.idempotency_key()),
            )
            .await?;
        let url = created
            .url
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| bad_reply("the new Checkout Session has no url"))?;
        Ok(Redirect {
            url,
            checkout_ref: Some(created.session.id),
            pay_code: None,
        })
    }

    /// `Stripe-Signature` over the raw bytes first; only a verified body is parsed. Then
    /// only what this shop made is acted on: sessions and charges carrying its tag, and
    /// disputes of payments it recorded. Anything else on the account (Payment Links,
    /// other apps, another Kiosk shop) is acknowledged and ignored, so Stripe does not
    /// retry it for days and the refused-notification alarm stays meaningful.
    fn authenticate_notification(
        &self,
        body: &[u8],
        headers: &Headers,
        now: OffsetDateTime,
    ) -> Result<Notice, ChannelError> {
        let secret = self.keys.webhook_secret.as_ref().ok_or_else(|| {
            reject(Rejection::Uncheckable(
                "this function has no webhook signing secret (only payment-notify reads it)",
            ))
        })?;
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or(reject(Rejection::Missing("Stripe-Signature header")))?;
        verify(body, header, secret, now.unix_timestamp())
            .map_err(|e| reject(Rejection::Signature(Box::new(e))))?;
        let event = parse_event(body).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        let payment = |order: OrderRef, status, checkout_ref: Option<&str>| {
            Ok(Notice::Payment(PaymentEvent {
                order,
                event_id: event.id.clone(),
                status,
                checkout_ref: checkout_ref.map(str::to_owned),
            }))
        };
        const FOREIGN_SESSION: &str = "a Checkout Session this shop did not create";
        match &event.event {
            Event::SessionCompleted(s) | Event::AsyncPaymentSucceeded(s) => {
                if !self.ours(&s.metadata) {
                    return irrelevant(FOREIGN_SESSION);
                }
                let status = match s.payment_status {
                    PaymentStatus::Paid => ProviderStatus::Paid(paid(s).map_err(reject)?),
                    // Completed with a method that settles later: its own event follows.
                    _ => ProviderStatus::Processing,
                };
                payment(OrderRef::Id(order_of(s)?), status, Some(&s.id))
            }
            Event::AsyncPaymentFailed(s) | Event::SessionExpired(s) => {
                if !self.ours(&s.metadata) {
                    return irrelevant(FOREIGN_SESSION);
                }
                payment(
                    OrderRef::Id(order_of(s)?),
                    ProviderStatus::Closed,
                    Some(&s.id),
                )
            }
            Event::ChargeRefunded(c) => {
                let total = c.amount_refunded().map_err(|e| {
                    reject(Rejection::Field {
                        field: "amount_refunded",
                        source: Box::new(e),
                    })
                })?;
                let pi = c.payment_intent.clone().filter(|p| !p.is_empty());
                let order = if self.ours(&c.metadata) {
                    let id = c
                        .metadata
                        .order_id
                        .as_deref()
                        .ok_or_else(|| reject(Rejection::Missing("metadata.order_id")))?;
                    OrderRef::Id(
                        OrderId::parse(id)
                            .map_err(|_| reject(Rejection::NotOurs("metadata.order_id")))?,
                    )
                } else if let Some(pi) = &pi {
                    // Untagged (a payment made before Kiosk tagged its objects, or not
                    // ours): only a payment this shop recorded leads to an order.
                    OrderRef::ProviderTxn(pi.clone())
                } else {
                    return irrelevant("a refund of a charge without a PaymentIntent");
                };
                let Some(pi) = pi else {
                    return Err(reject(Rejection::Missing("payment_intent")));
                };
                payment(
                    order,
                    ProviderStatus::Refunded {
                        total,
                        payment: Some(pi),
                    },
                    None,
                )
            }
            Event::DisputeCreated(d) | Event::DisputeClosed(d) => {
                let Some(pi) = d.payment_intent.clone().filter(|p| !p.is_empty()) else {
                    return irrelevant("a dispute of a charge without a PaymentIntent");
                };
                let state = match (&event.event, d.status.as_str()) {
                    (Event::DisputeCreated(_), _) => Dispute::Open,
                    (_, "lost") => Dispute::Lost,
                    // `won`, or `warning_closed`: an inquiry that never became a chargeback.
                    _ => Dispute::Won,
                };
                payment(
                    OrderRef::ProviderTxn(pi.clone()),
                    ProviderStatus::Disputed { payment: pi, state },
                    None,
                )
            }
            Event::Other { kind } => Ok(Notice::Irrelevant {
                what: format!("event type {kind}"),
            }),
        }
    }

    /// `?session_id=cs_...` names a session; the session itself, retrieved from Stripe,
    /// says which order and whether it is paid.
    async fn authenticate_return(
        &self,
        query: &str,
        now: OffsetDateTime,
    ) -> Result<Returned, ChannelError> {
        let q = parse_form(query).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        let id = q
            .get("session_id")
            .and_then(|s| session_id(s))
            .ok_or(reject(Rejection::Missing(
                "session_id (a Checkout Session id)",
            )))?;
        let api = match self.retrieve(id).await {
            Err(ChannelError::Provider { sub_code, .. }) if sub_code == "resource_missing" => {
                return Err(reject(Rejection::NoSuchSession));
            }
            other => other?,
        };
        // No tag needed here: the shop checks that this session is the one the order
        // started (also true of sessions made before Kiosk tagged its objects).
        let order_id = order_of(&api.session)?;
        let status = Self::status_of(&api, now)?;
        Ok(Returned {
            order_id,
            status: Some(status),
            checkout_ref: Some(api.session.id),
        })
    }

    async fn query(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<ProviderStatus, ChannelError> {
        let api = self.retrieve(Self::session_of(order)?).await?;
        if api.session.order_id() != Some(order.id.as_str()) {
            return Err(bad_reply("the Checkout Session is about another order"));
        }
        Self::status_of(&api, now)
    }

    /// The order's session (its `checkout_ref`) names `payment` as its PaymentIntent.
    async fn confirm_payment(
        &self,
        order: &Order,
        payment: &str,
        _now: OffsetDateTime,
    ) -> Result<bool, ChannelError> {
        let api = self.retrieve(Self::session_of(order)?).await?;
        Ok(api.session.order_id() == Some(order.id.as_str())
            && api.session.payment_intent.as_deref() == Some(payment))
    }

    /// Expiring is idempotent by nature (an expired session stays expired), so it is
    /// retried without an idempotency key: a key would make Stripe replay a 5xx it
    /// stored instead of trying again.
    async fn close(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<CloseOutcome, ChannelError> {
        let id = Self::session_of(order)?;
        let path = format!("/v1/checkout/sessions/{id}/expire");
        match self.call::<ApiSession>(&path, Some(&[]), Retry::Safe).await {
            Ok(_) => Ok(CloseOutcome::Closed),
            // Only an open session can be expired: see what it is now.
            Err(ChannelError::Provider { .. }) => match self.query(order, now).await? {
                ProviderStatus::Paid(_)
                | ProviderStatus::PaidRefunded { .. }
                | ProviderStatus::Processing => Ok(CloseOutcome::NotOpen),
                ProviderStatus::Closed => Ok(CloseOutcome::Closed),
                _ => Err(bad_reply("Stripe would not expire an open session")),
            },
            Err(e) => Err(e),
        }
    }

    /// Refund `amount` of the order's PaymentIntent as refund `request_no`, at most
    /// once however often this runs: the PaymentIntent's refunds are listed first, and a
    /// refund already made under this request number (its metadata says) is the answer.
    /// Otherwise `POST /v1/refunds` under the idempotency key `request_no` -- the same key
    /// in every run, so a run stopped while Stripe was still making the refund, and rerun
    /// before the refund shows in the list, gets Stripe's 409 and then the saved answer,
    /// never a second refund. A new key (`{request_no}-{n}`) is taken only after Stripe
    /// has answered a 5xx under the last one (that request is finished, its answer
    /// saved) and the list, read again, still shows no refund by this number. A lost
    /// answer or a 409 keeps the key. Stripe's `reason` is an enum, so the author's words
    /// go into the refund's metadata. Answers the PaymentIntent's total refunded.
    async fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        _now: OffsetDateTime,
    ) -> Result<Money, ChannelError> {
        let pi = order
            .provider_txn_id()
            .filter(|p| {
                p.starts_with("pi_") && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .ok_or_else(|| bad_reply(format!("order {} has no PaymentIntent", order.id)))?;
        let mut form = vec![
            ("payment_intent".to_owned(), pi.to_owned()),
            ("amount".to_owned(), amount.minor().to_string()),
            (
                "metadata[order_id]".to_owned(),
                order.id.as_str().to_owned(),
            ),
            (format!("metadata[{REQUEST_META}]"), request_no.to_owned()),
            ("metadata[kiosk_shop]".to_owned(), self.shop_tag.clone()),
        ];
        if let Some(r) = reason {
            form.push(("metadata[reason]".to_owned(), r.to_owned()));
        }
        let mut last = None;
        // Which key: the n-th after n 5xx answers saved under the keys before it. A rerun
        // walks them again from the first, each replaying its saved 5xx at once.
        let mut generation = 0u32;
        // Tries that got no answer (or a 409): the same key each time.
        let mut unanswered = 0u32;
        loop {
            let refunds = self.refunds_of(pi).await?;
            if let Some(total) = Self::settled(&refunds, request_no, amount)? {
                return Ok(total);
            }
            if unanswered >= ATTEMPTS || generation >= MAX_REFUND_KEYS {
                return Err(last.unwrap_or(ChannelError::OutOfTime));
            }
            let key = match generation {
                0 => request_no.to_owned(),
                n => format!("{request_no}-{n}"),
            };
            match self
                .call::<ApiRefund>("/v1/refunds", Some(&form), Retry::Keyed(&key))
                .await
            {
                Ok(made) if made.counts() => {
                    let this =
                        money(made.amount, &made.currency).map_err(|e| bad_reply(e.to_string()))?;
                    if this != amount {
                        return Err(bad_reply(format!("refunded {this}, asked for {amount}")));
                    }
                    let before: u64 = refunds
                        .iter()
                        .filter(|r| r.counts())
                        .map(|r| r.amount)
                        .sum();
                    return Money::from_minor(before + this.minor(), this.currency())
                        .map_err(|e| bad_reply(e.to_string()));
                }
                Ok(made) => {
                    return Err(ChannelError::Provider {
                        code: "refund".into(),
                        sub_code: made.status.unwrap_or_default(),
                        msg: "Stripe did not make the refund".into(),
                    });
                }
                // No answer, or still in progress: the same key again (Stripe answers
                // what it saved, or 409 while it is still working), after a look.
                Err(e @ (ChannelError::HttpStatus(_) | ChannelError::Transport(_))) => {
                    unanswered += 1;
                    tracing::warn!(error = %e, unanswered, request_no, "Stripe refund: no answer; looking before asking again under the same key");
                    last = Some(e);
                    backoff(unanswered).await;
                }
                // Saved under this key: that request is over. Stripe may have made the
                // refund before failing, so look again before a new key. The same for
                // a key an earlier run used with other parameters (another --reason):
                // that request is over too (one still running gets a 409, not this).
                Err(ChannelError::Provider {
                    code,
                    sub_code,
                    msg,
                }) if code == "api_error" || code == "idempotency_error" => {
                    // A saved 5xx replayed to a rerun costs no try of its own: the
                    // rerun walks past the keys earlier runs used up.
                    generation += 1;
                    tracing::warn!(%sub_code, %msg, generation, request_no, "Stripe refund: server error; looking before trying a new key");
                    last = Some(ChannelError::Provider {
                        code,
                        sub_code,
                        msg,
                    });
                    backoff(1).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stripe reads only the status; the body is for people reading logs.
    fn ack(&self) -> &'static str {
        "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked_before_they_reach_a_url() {
        assert_eq!(session_id("cs_test_a1B2"), Some("cs_test_a1B2"));
        for bad in [
            "",
            "cs_",
            "pi_123",
            "cs_../../v1/refunds",
            "cs_a?b",
            "cs_a/b",
        ] {
            assert!(session_id(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_are_checked_at_cold_start() {
        assert!(StripeKeys::parse("sk_test_abcdef", Some("whsec_abc")).is_ok());
        assert!(StripeKeys::parse("sk_test_abcdef", None).is_ok());
        assert!(StripeKeys::parse("pk_test_abcdef", Some("whsec_abc")).is_err());
        assert!(StripeKeys::parse("sk_test_abcdef", Some("sk_test_abc")).is_err());
    }
}
