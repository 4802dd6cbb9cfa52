//! Alipay as a [`Channel`]: page pay and wap pay redirects, async notifications, browser
//! returns, and `alipay.trade.query`, `.close` and `.refund` over HTTPS (docs/architecture.md, "Alipay (RSA2), as
//! implemented").
//!
//! Over 400 lines: the whole Alipay protocol as the shop uses it (pay, notify, return,
//! query, close, refund); splitting it would scatter one provider.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    ATTEMPTS, Channel, ChannelError, CloseOutcome, Device, Headers, Notice, OrderRef, PaymentEvent,
    ProviderStatus, Redirect, Rejection, Returned, attempt_timeout, backoff, reject,
};
use crate::alipay::{
    AlipayPublicKey, AppPrivateKey, Params, parse_form, query_string, sign_request,
    verify_callback, verify_response,
};
use crate::clock::{beijing_minutes, beijing_seconds};
use crate::config::AlipayConfig;
use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::{ChannelKind, Order, Payment};

/// Where Alipay calls us back.
#[derive(Debug, Clone)]
pub struct AlipayUrls {
    pub notify_url: String,
    pub return_url: String,
    /// Where the mobile cashier's "quit" button goes (wap pay): the shop page.
    pub quit_url: String,
}

impl AlipayUrls {
    pub fn under(public_base_url: &str, shop_url: &str) -> Self {
        AlipayUrls {
            notify_url: format!("{public_base_url}/notify/alipay"),
            return_url: format!("{public_base_url}/return/alipay"),
            quit_url: shop_url.to_owned(),
        }
    }
}

pub struct AlipayChannel {
    config: AlipayConfig,
    urls: AlipayUrls,
    app_key: AppPrivateKey,
    alipay_key: AlipayPublicKey,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct PayBiz<'a> {
    out_trade_no: &'a str,
    total_amount: String,
    subject: &'a str,
    product_code: &'static str,
    time_expire: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    quit_url: Option<&'a str>,
}

/// The result fields every gateway reply carries.
#[derive(Deserialize)]
struct Outcome {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    sub_code: String,
    #[serde(default)]
    sub_msg: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == "10000"
    }
    fn is(&self, code: &str, sub_code: &str) -> bool {
        self.code == code && self.sub_code == sub_code
    }
    fn into_error(self) -> ChannelError {
        ChannelError::Provider {
            code: self.code,
            sub_code: self.sub_code,
            msg: format!("{} {}", self.msg, self.sub_msg),
        }
    }
}

/// A successful reply must be about the order we asked about.
fn about(order: &Order, out_trade_no: Option<&str>) -> Result<(), ChannelError> {
    if out_trade_no == Some(order.id.as_str()) {
        Ok(())
    } else {
        Err(ChannelError::Provider {
            code: "10000".into(),
            sub_code: "out_trade_no".into(),
            msg: "reply is about another order".into(),
        })
    }
}

fn malformed(what: &str) -> ChannelError {
    ChannelError::Provider {
        code: "10000".into(),
        sub_code: what.into(),
        msg: "missing or malformed in reply".into(),
    }
}

#[derive(Deserialize)]
struct QueryReply {
    #[serde(flatten)]
    outcome: Outcome,
    trade_status: Option<String>,
    trade_no: Option<String>,
    total_amount: Option<String>,
    out_trade_no: Option<String>,
}

#[derive(Deserialize)]
struct RefundReply {
    #[serde(flatten)]
    outcome: Outcome,
    out_trade_no: Option<String>,
    /// The total refunded for the trade so far, this refund included.
    refund_fee: Option<String>,
}

#[derive(Deserialize)]
struct CloseReply {
    #[serde(flatten)]
    outcome: Outcome,
}

impl AlipayChannel {
    pub fn new(
        config: AlipayConfig,
        urls: AlipayUrls,
        app_key: AppPrivateKey,
        alipay_key: AlipayPublicKey,
        http: reqwest::Client,
    ) -> Self {
        AlipayChannel {
            config,
            urls,
            app_key,
            alipay_key,
            http,
        }
    }

    fn common_params(&self, method: &str, now: OffsetDateTime) -> Params {
        let mut p = Params::new();
        for (k, v) in [
            ("app_id", self.config.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("timestamp".into(), beijing_seconds(now));
        p
    }

    /// Verify a callback's signature and that it is addressed to this merchant.
    fn authenticate(&self, params: &Params) -> Result<(), ChannelError> {
        verify_callback(params, &self.alipay_key)
            .map_err(|e| reject(Rejection::Signature(Box::new(e))))?;
        if params.get("app_id") != Some(&self.config.app_id) {
            return Err(reject(Rejection::NotOurs("app_id")));
        }
        match &self.config.seller_id {
            Some(seller) if params.get("seller_id") == Some(seller) => {}
            Some(_) => return Err(reject(Rejection::NotOurs("seller_id"))),
            // Fail closed: only the CLI builds a channel without it, and it never
            // authenticates a notification.
            None => {
                return Err(reject(Rejection::Uncheckable(
                    "no seller id configured to check seller_id against",
                )));
            }
        }
        Ok(())
    }

    /// A signed gateway call, retried on transport errors only.
    async fn call(
        &self,
        method: &str,
        biz_content: String,
        now: OffsetDateTime,
    ) -> Result<String, ChannelError> {
        let mut params = self.common_params(method, now);
        params.insert("biz_content".into(), biz_content);
        sign_request(&mut params, &self.app_key).map_err(|e| ChannelError::Sign(Box::new(e)))?;
        let body = query_string(&params);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let timeout = attempt_timeout()?;
            let res = self
                .http
                .post(&self.config.gateway_url)
                .timeout(timeout)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded;charset=utf-8",
                )
                .body(body.clone())
                .send()
                .await;
            match res {
                Ok(resp) if resp.status().is_success() => {
                    return resp.text().await.map_err(ChannelError::Transport);
                }
                Ok(resp) => return Err(ChannelError::HttpStatus(resp.status().as_u16())),
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, method, "Alipay gateway transport error; retrying");
                    backoff(attempt).await;
                }
                Err(e) => return Err(ChannelError::Transport(e)),
            }
        }
    }
}

fn field<'a>(p: &'a Params, name: &'static str) -> Result<&'a str, ChannelError> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(reject(Rejection::Missing(name)))
}

impl Channel for AlipayChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Alipay
    }

    fn accepts(&self, currency: Currency) -> bool {
        currency == Currency::Cny
    }

    /// Alipay's `total_amount` range starts at 0.01.
    fn smallest_charge(&self, currency: Currency) -> Money {
        Money::minor_unit(currency)
    }

    /// A signed URL of Alipay's cashier; no call to Alipay (the trade is created when the
    /// buyer opens it).
    async fn start_payment(
        &self,
        order: &Order,
        device: Device,
        _payer: Option<crate::net::PayerAddress>,
        now: OffsetDateTime,
    ) -> Result<Redirect, ChannelError> {
        if !self.accepts(order.amount.currency()) {
            return Err(ChannelError::Currency(order.amount.currency()));
        }
        let (method, biz) = match device {
            Device::Desktop => (
                "alipay.trade.page.pay",
                PayBiz {
                    out_trade_no: order.id.as_str(),
                    total_amount: order.amount.to_decimal(),
                    subject: &order.product_title,
                    product_code: "FAST_INSTANT_TRADE_PAY",
                    time_expire: beijing_seconds(order.expires_at),
                    quit_url: None,
                },
            ),
            Device::Mobile => (
                "alipay.trade.wap.pay",
                PayBiz {
                    out_trade_no: order.id.as_str(),
                    total_amount: order.amount.to_decimal(),
                    subject: &order.product_title,
                    product_code: "QUICK_WAP_WAY",
                    time_expire: beijing_minutes(order.expires_at),
                    quit_url: Some(&self.urls.quit_url),
                },
            ),
        };
        let mut params = self.common_params(method, now);
        // Serialising a struct of strings cannot fail.
        let biz = serde_json::to_string(&biz).unwrap_or_default();
        params.insert("biz_content".into(), biz);
        params.insert("notify_url".into(), self.urls.notify_url.clone());
        params.insert("return_url".into(), self.urls.return_url.clone());
        sign_request(&mut params, &self.app_key).map_err(|e| ChannelError::Sign(Box::new(e)))?;
        Ok(Redirect {
            url: format!("{}?{}", self.config.gateway_url, query_string(&params)),
            checkout_ref: None,
            pay_code: None,
        })
    }

    /// Alipay signs the form body itself (RSA2); headers and the clock play no part.
    fn authenticate_notification(
        &self,
        body: &[u8],
        _headers: &Headers,
        _now: OffsetDateTime,
    ) -> Result<Notice, ChannelError> {
        let body =
            std::str::from_utf8(body).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        let p = parse_form(body).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        self.authenticate(&p)?;
        let order_id = OrderId::parse(field(&p, "out_trade_no")?)
            .map_err(|_| reject(Rejection::NotOurs("out_trade_no")))?;
        let event_id = field(&p, "notify_id")?.to_owned();
        // A refund is reported on the trade's own notification: `refund_fee` (the total
        // refunded so far) with TRADE_SUCCESS for a partial refund, TRADE_CLOSED for a
        // full one. A close without `refund_fee` is a timeout close.
        let refund_fee = p.get("refund_fee").filter(|v| !v.is_empty());
        let status = match (field(&p, "trade_status")?, refund_fee) {
            ("TRADE_SUCCESS" | "TRADE_CLOSED", Some(fee)) => ProviderStatus::Refunded {
                total: Money::parse_decimal(fee, Currency::Cny).map_err(|e| {
                    reject(Rejection::Field {
                        field: "refund_fee",
                        source: Box::new(e),
                    })
                })?,
                payment: Some(field(&p, "trade_no")?.to_owned()),
            },
            ("TRADE_SUCCESS" | "TRADE_FINISHED", _) => ProviderStatus::Paid(Payment {
                provider_txn_id: field(&p, "trade_no")?.to_owned(),
                amount: Money::parse_decimal(field(&p, "total_amount")?, Currency::Cny).map_err(
                    |e| {
                        reject(Rejection::Field {
                            field: "total_amount",
                            source: Box::new(e),
                        })
                    },
                )?,
            }),
            ("WAIT_BUYER_PAY", _) => ProviderStatus::Waiting,
            ("TRADE_CLOSED", None) => ProviderStatus::Closed,
            (other, _) => {
                return Err(reject(Rejection::UnknownStatus(other.to_owned())));
            }
        };
        Ok(Notice::Payment(PaymentEvent {
            order: OrderRef::Id(order_id),
            event_id,
            status,
            checkout_ref: None,
        }))
    }

    /// The return is signed like a notification; the shop then queries the trade.
    async fn authenticate_return(
        &self,
        query: &str,
        _now: OffsetDateTime,
    ) -> Result<Returned, ChannelError> {
        let p = parse_form(query).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        self.authenticate(&p)?;
        let order_id = OrderId::parse(field(&p, "out_trade_no")?)
            .map_err(|_| reject(Rejection::NotOurs("out_trade_no")))?;
        Ok(Returned {
            order_id,
            status: None,
            checkout_ref: None,
        })
    }

    async fn query(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<ProviderStatus, ChannelError> {
        let biz = serde_json::json!({ "out_trade_no": order.id.as_str() }).to_string();
        let raw = self.call("alipay.trade.query", biz, now).await?;
        let reply: QueryReply = verify_response(&raw, "alipay.trade.query", &self.alipay_key)
            .map_err(|e| ChannelError::Reply(Box::new(e)))?;
        if reply.outcome.is("40004", "ACQ.TRADE_NOT_EXIST") {
            // The buyer has not opened the cashier yet: still pending on our side.
            return Ok(ProviderStatus::Waiting);
        }
        if !reply.outcome.ok() {
            return Err(reply.outcome.into_error());
        }
        about(order, reply.out_trade_no.as_deref())?;
        match reply.trade_status.as_deref() {
            Some("TRADE_SUCCESS" | "TRADE_FINISHED") => Ok(ProviderStatus::Paid(Payment {
                provider_txn_id: reply
                    .trade_no
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| malformed("trade_no"))?,
                amount: reply
                    .total_amount
                    .as_deref()
                    .and_then(|a| Money::parse_decimal(a, Currency::Cny).ok())
                    .ok_or_else(|| malformed("total_amount"))?,
            })),
            Some("WAIT_BUYER_PAY") => Ok(ProviderStatus::Waiting),
            Some("TRADE_CLOSED") => Ok(ProviderStatus::Closed),
            _ => Err(malformed("trade_status")),
        }
    }

    /// Alipay's notifications are signed statements about the trade our `out_trade_no`
    /// names, and one out_trade_no has one trade: the `trade_no` a verified refund
    /// notification carries is that order's payment.
    async fn confirm_payment(
        &self,
        _order: &Order,
        _payment: &str,
        _now: OffsetDateTime,
    ) -> Result<bool, ChannelError> {
        Ok(true)
    }

    async fn close(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<CloseOutcome, ChannelError> {
        let biz = serde_json::json!({ "out_trade_no": order.id.as_str() }).to_string();
        let raw = self.call("alipay.trade.close", biz, now).await?;
        let reply: CloseReply = verify_response(&raw, "alipay.trade.close", &self.alipay_key)
            .map_err(|e| ChannelError::Reply(Box::new(e)))?;
        let o = reply.outcome;
        if o.ok() {
            Ok(CloseOutcome::Closed)
        } else if o.is("40004", "ACQ.TRADE_NOT_EXIST") {
            // The buyer never opened the cashier, so Alipay never created the trade: there
            // is nothing that could still be paid.
            Ok(CloseOutcome::Closed)
        } else if o.is("40004", "ACQ.TRADE_STATUS_ERROR") {
            // Paid (or finished) in the meantime: only an open trade can be closed.
            Ok(CloseOutcome::NotOpen)
        } else {
            Err(o.into_error())
        }
    }

    async fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Money, ChannelError> {
        let mut biz = serde_json::json!({
            "out_trade_no": order.id.as_str(),
            "refund_amount": amount.to_decimal(),
            "out_request_no": request_no,
        });
        if let Some(r) = reason {
            biz["refund_reason"] = serde_json::Value::String(r.to_owned());
        }
        let raw = self
            .call("alipay.trade.refund", biz.to_string(), now)
            .await?;
        let reply: RefundReply = verify_response(&raw, "alipay.trade.refund", &self.alipay_key)
            .map_err(|e| ChannelError::Reply(Box::new(e)))?;
        if !reply.outcome.ok() {
            return Err(reply.outcome.into_error());
        }
        about(order, reply.out_trade_no.as_deref())?;
        reply
            .refund_fee
            .as_deref()
            .and_then(|f| Money::parse_decimal(f, Currency::Cny).ok())
            .ok_or_else(|| malformed("refund_fee"))
    }

    fn ack(&self) -> &'static str {
        "success"
    }
}
