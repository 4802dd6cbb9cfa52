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
    ATTEMPTS, Channel, ChannelError, CloseOutcome, Device, Headers, Notice, OrderRef, PaymentEvent,
    ProviderStatus, Redirect, Returned, attempt_timeout, backoff,
};
use crate::form::{encode_pairs, parse_form};
use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::{ChannelKind, Order, Payment};
use crate::stripe::checkout::{API_VERSION, SessionRequest, clamp_expiry};
use crate::stripe::event::{Event, PaymentStatus, Session, money, parse_event};
use crate::stripe::webhook::{WebhookSecret, verify};

/// The secret API key (`sk_...` or a restricted `rk_...`) and the endpoint's webhook
/// signing secret, read from SSM at cold start.
pub struct StripeKeys {
    pub secret_key: String,
    pub webhook_secret: WebhookSecret,
}

impl std::fmt::Debug for StripeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeKeys(…)")
    }
}

impl StripeKeys {
    /// Checks the shapes, so a key pasted into the wrong parameter fails at cold start.
    pub fn parse(secret_key: &str, webhook_secret: &str) -> Result<StripeKeys, String> {
        let key = secret_key.trim();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.len() < 8 {
            return Err(
                "the Stripe secret key starts with sk_ (or rk_ for a restricted key)".into(),
            );
        }
        let webhook_secret = WebhookSecret::parse(webhook_secret).map_err(|e| e.to_string())?;
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

fn reject(why: impl Into<String>) -> ChannelError {
    ChannelError::Rejected(why.into())
}

fn bad_reply(why: impl Into<String>) -> ChannelError {
    ChannelError::BadReply(why.into())
}

/// A session id as Stripe makes them (`cs_test_...`, `cs_live_...`): also what keeps a
/// query string from smuggling a path into the API URL.
fn session_id(raw: &str) -> Option<&str> {
    let ok = raw.starts_with("cs_")
        && (4..=255).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(raw)
}

impl StripeChannel {
    pub fn new(
        api_base: &str,
        public_base_url: &str,
        shop_url: &str,
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
            http,
        }
    }

    /// One API call. `form` is `None` for a GET; a POST is retried only with an
    /// idempotency key (Stripe then answers a repeat with the first reply).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: Option<&[(String, String)]>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ChannelError> {
        let url = format!("{}{path}", self.api_base);
        let retryable = form.is_none() || idempotency_key.is_some();
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
            if let Some(k) = idempotency_key {
                req = req.header("idempotency-key", k);
            }
            let again = retryable && attempt < ATTEMPTS;
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
            if (status.is_server_error() || status.as_u16() == 429) && again {
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
                return serde_json::from_str(&text).map_err(|e| bad_reply(format!("{path}: {e}")));
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

    async fn retrieve(&self, id: &str) -> Result<ApiSession, ChannelError> {
        self.call(&format!("/v1/checkout/sessions/{id}"), None, None)
            .await
    }

    /// What a session says about its payment.
    fn status_of(session: &Session, open: Option<&str>) -> Result<ProviderStatus, ChannelError> {
        match session.payment_status {
            PaymentStatus::Paid => Ok(ProviderStatus::Paid(paid(session).map_err(bad_reply)?)),
            _ if open == Some("expired") => Ok(ProviderStatus::Closed),
            _ => Ok(ProviderStatus::Waiting),
        }
    }

    fn session_of(order: &Order) -> Result<&str, ChannelError> {
        order
            .checkout_ref
            .as_deref()
            .ok_or_else(|| bad_reply(format!("order {} has no Checkout Session", order.id)))
    }
}

/// The payment a paid session records: its PaymentIntent and what was charged.
fn paid(s: &Session) -> Result<Payment, String> {
    let provider_txn_id = s
        .payment_intent
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or("a paid session without payment_intent")?;
    let amount = s
        .amount()
        .ok_or("a paid session without amount_total and currency")?
        .map_err(|e| format!("amount_total: {e}"))?;
    Ok(Payment {
        provider_txn_id,
        amount,
    })
}

/// Which of our orders a session is for. `None`: not one Kiosk created (another
/// integration on the same Stripe account).
fn order_of(s: &Session) -> Result<Option<OrderId>, ChannelError> {
    s.order_id()
        .map(|id| {
            OrderId::parse(id).map_err(|_| reject("metadata.order_id is not one of our order ids"))
        })
        .transpose()
}

impl Channel for StripeChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Stripe
    }

    /// Every currency Kiosk prices in (Stripe charges all of them).
    fn accepts(&self, _currency: Currency) -> bool {
        true
    }

    /// Creates the Checkout Session (idempotent per order) and answers its page.
    async fn start_payment(
        &self,
        order: &Order,
        _device: Device,
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
            expires_at: clamp_expiry(now, order.expires_at).unix_timestamp(),
        };
        let created: ApiSession = self
            .call(
                "/v1/checkout/sessions",
                Some(&req.form_pairs()),
                Some(&req.idempotency_key()),
            )
            .await?;
        let url = created
            .url
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| bad_reply("the new Checkout Session has no url"))?;
        Ok(Redirect {
            url,
            checkout_ref: Some(created.session.id),
        })
    }

    /// `Stripe-Signature` over the raw bytes first; only a verified body is parsed.
    fn authenticate_notification(
        &self,
        body: &[u8],
        headers: &Headers,
        now: OffsetDateTime,
    ) -> Result<Notice, ChannelError> {
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| reject("no Stripe-Signature header"))?;
        verify(
            body,
            header,
            &self.keys.webhook_secret,
            now.unix_timestamp(),
        )
        .map_err(|e| reject(e.to_string()))?;
        let event = parse_event(body).map_err(|e| reject(e.to_string()))?;
        let payment = |order: OrderRef, status| {
            Ok(Notice::Payment(PaymentEvent {
                order,
                event_id: event.id.clone(),
                status,
            }))
        };
        let ours = |s: &Session| order_of(s);
        match &event.event {
            Event::SessionCompleted(s) | Event::AsyncPaymentSucceeded(s) => {
                let Some(order) = ours(s)? else {
                    return Ok(Notice::Irrelevant {
                        what: "a Checkout Session Kiosk did not create".into(),
                    });
                };
                let status = match s.payment_status {
                    PaymentStatus::Paid => ProviderStatus::Paid(paid(s).map_err(reject)?),
                    // Completed with a delayed method: `async_payment_succeeded` follows.
                    _ => ProviderStatus::Waiting,
                };
                payment(OrderRef::Id(order), status)
            }
            Event::AsyncPaymentFailed(s) | Event::SessionExpired(s) => match ours(s)? {
                Some(order) => payment(OrderRef::Id(order), ProviderStatus::Closed),
                None => Ok(Notice::Irrelevant {
                    what: "a Checkout Session Kiosk did not create".into(),
                }),
            },
            Event::ChargeRefunded(c) => {
                let total = c
                    .amount_refunded()
                    .map_err(|e| reject(format!("amount_refunded: {e}")))?;
                let order = match (c.metadata.order_id.as_deref(), &c.payment_intent) {
                    (Some(id), _) => OrderRef::Id(
                        OrderId::parse(id)
                            .map_err(|_| reject("metadata.order_id is not one of our order ids"))?,
                    ),
                    (None, Some(pi)) if !pi.is_empty() => OrderRef::ProviderTxn(pi.clone()),
                    (None, _) => {
                        return Ok(Notice::Irrelevant {
                            what: "a refund of a charge without a PaymentIntent".into(),
                        });
                    }
                };
                payment(order, ProviderStatus::Refunded { total })
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
        _now: OffsetDateTime,
    ) -> Result<Returned, ChannelError> {
        let q = parse_form(query).map_err(|e| reject(e.to_string()))?;
        let id = q
            .get("session_id")
            .and_then(|s| session_id(s))
            .ok_or_else(|| reject("session_id is missing or not a Checkout Session id"))?;
        let api = match self.retrieve(id).await {
            Err(ChannelError::Provider { sub_code, .. }) if sub_code == "resource_missing" => {
                return Err(reject("Stripe has no such Checkout Session"));
            }
            other => other?,
        };
        let order_id =
            order_of(&api.session)?.ok_or_else(|| reject("not a Checkout Session of this shop"))?;
        let status = Self::status_of(&api.session, api.status.as_deref())?;
        Ok(Returned {
            order_id,
            status: Some(status),
        })
    }

    async fn query(
        &self,
        order: &Order,
        _now: OffsetDateTime,
    ) -> Result<ProviderStatus, ChannelError> {
        let api = self.retrieve(Self::session_of(order)?).await?;
        if order_of(&api.session)?.as_ref() != Some(&order.id) {
            return Err(bad_reply("the Checkout Session is about another order"));
        }
        Self::status_of(&api.session, api.status.as_deref())
    }

    async fn close(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<CloseOutcome, ChannelError> {
        let id = Self::session_of(order)?;
        let path = format!("/v1/checkout/sessions/{id}/expire");
        match self
            .call::<ApiSession>(&path, Some(&[]), Some(&format!("expire-{id}")))
            .await
        {
            Ok(_) => Ok(CloseOutcome::Closed),
            // Only an open session can be expired: see what it is now.
            Err(ChannelError::Provider { .. }) => match self.query(order, now).await? {
                ProviderStatus::Paid(_) => Ok(CloseOutcome::NotOpen),
                ProviderStatus::Closed => Ok(CloseOutcome::Closed),
                _ => Err(bad_reply("Stripe would not expire an open session")),
            },
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/refunds` for the order's PaymentIntent. Stripe's `reason` is an enum, so
    /// the author's words go into the refund's metadata. The total is what the order had
    /// refunded plus this refund; `charge.refunded` then reports Stripe's own total.
    async fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        _now: OffsetDateTime,
    ) -> Result<Money, ChannelError> {
        let pi = order
            .provider_txn_id
            .as_deref()
            .ok_or_else(|| bad_reply(format!("order {} has no PaymentIntent", order.id)))?;
        let mut form = vec![
            ("payment_intent".to_owned(), pi.to_owned()),
            ("amount".to_owned(), amount.minor().to_string()),
            (
                "metadata[order_id]".to_owned(),
                order.id.as_str().to_owned(),
            ),
        ];
        if let Some(r) = reason {
            form.push(("metadata[reason]".to_owned(), r.to_owned()));
        }
        let refund: ApiRefund = self
            .call("/v1/refunds", Some(&form), Some(request_no))
            .await?;
        if matches!(refund.status.as_deref(), Some("failed" | "canceled")) {
            return Err(ChannelError::Provider {
                code: "refund".into(),
                sub_code: refund.status.unwrap_or_default(),
                msg: "Stripe did not make the refund".into(),
            });
        }
        let this = money(refund.amount, &refund.currency).map_err(|e| bad_reply(e.to_string()))?;
        if this != amount {
            return Err(bad_reply(format!("refunded {this}, asked for {amount}")));
        }
        let before = order.refunded.map_or(0, |m| m.minor());
        Money::from_minor(before + this.minor(), this.currency())
            .map_err(|e| bad_reply(e.to_string()))
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
        assert!(StripeKeys::parse("sk_test_abcdef", "whsec_abc").is_ok());
        assert!(StripeKeys::parse("pk_test_abcdef", "whsec_abc").is_err());
        assert!(StripeKeys::parse("sk_test_abcdef", "sk_test_abc").is_err());
    }
}
