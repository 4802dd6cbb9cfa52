//! WeChat Pay (API v3, a direct merchant) as a [`Channel`]: Native pay (a QR code the
//! shop shows) and H5 pay (a phone's browser outside WeChat), encrypted signed
//! notifications, the query by `out_trade_no`, close and refunds, over the protocol in
//! [`crate::wechat`].
//!
//! Configured by [`crate::config::WechatConfig`]; the shop's QR page is
//! `kiosk_web::pages::pay_by_qr`, served on the return route while the order is unpaid.
//!
//! Over 400 lines: the whole WeChat Pay protocol as the shop uses it, like `alipay.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{
    ATTEMPTS, Channel, ChannelError, CloseOutcome, Device, Headers, Notice, OrderRef, PaymentEvent,
    ProviderStatus, Redirect, Rejection, Returned, attempt_timeout, backoff, bad_reply, reject,
};
use crate::config::WechatConfig;
use crate::form::parse_form;
use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::{ChannelKind, Order, Payment};
use crate::rsa::{SigningKey, VerifyingKey};
use crate::wechat::wire::{
    self, ErrorAnswer, H5Answer, H5Info, NativeAnswer, NewOrder, NewRefund, Notification,
    OrderAmount, RefundRequestAmount, RefundStatus, SceneInfo, TradeState, Transaction,
};
use crate::wechat::{ApiV3Key, Merchant, PlatformKey, SignedHeaders, verify};

/// The secrets, read from SSM at cold start.
pub struct WechatKeys {
    pub merchant_key: SigningKey,
    pub wechatpay_key: VerifyingKey,
    /// Only payment-notify decrypts notifications; the others never hold it.
    pub apiv3_key: Option<ApiV3Key>,
}

impl std::fmt::Debug for WechatKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WechatKeys(…)")
    }
}

/// Where WeChat Pay and the buyer's browser come back to.
#[derive(Debug, Clone)]
pub struct WechatUrls {
    pub notify_url: String,
    /// The shop's page for a WeChat order: the QR code while it is unpaid, then the
    /// purchase; H5 pay's `redirect_url`.
    pub return_url: String,
}

impl WechatUrls {
    pub fn under(public_base_url: &str) -> Self {
        WechatUrls {
            notify_url: format!("{public_base_url}/notify/wechat"),
            return_url: format!("{public_base_url}/return/wechat"),
        }
    }
}

pub struct WechatChannel {
    config: WechatConfig,
    urls: WechatUrls,
    merchant: Merchant,
    platform: PlatformKey,
    apiv3: Option<ApiV3Key>,
    http: reqwest::Client,
}

/// An answer from the API: its status and its verified body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ChannelError> {
        serde_json::from_slice(&self.body).map_err(|e| ChannelError::Reply(Box::new(e)))
    }

    fn error(&self) -> ChannelError {
        let e: ErrorAnswer = serde_json::from_slice(&self.body).unwrap_or(ErrorAnswer {
            code: String::new(),
            message: String::new(),
        });
        ChannelError::Provider {
            code: self.status.to_string(),
            sub_code: e.code,
            msg: e.message,
        }
    }

    fn code(&self) -> Option<String> {
        serde_json::from_slice::<ErrorAnswer>(&self.body)
            .ok()
            .map(|e| e.code)
    }
}

/// Fen as money in CNY, the one currency Kiosk sells through WeChat Pay in.
fn cny(fen: u64, currency: &str, field: &'static str) -> Result<Money, ChannelError> {
    if currency != "CNY" {
        return Err(reject(Rejection::Field {
            field,
            source: format!("currency {currency:?} is not CNY").into(),
        }));
    }
    Money::from_minor(fen, Currency::Cny).map_err(|e| {
        reject(Rejection::Field {
            field,
            source: Box::new(e),
        })
    })
}

/// A secret that names one checkout in the shop's return URL (WeChat Pay signs no
/// return): 128 random bits, URL-safe.
fn return_secret() -> Result<String, ChannelError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ChannelError::Sign("no random bytes for the return link".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// `description`: the product's title, at most 127 characters.
fn description(title: &str) -> String {
    title.chars().take(wire::DESCRIPTION_MAX_CHARS).collect()
}

impl WechatChannel {
    pub fn new(
        config: WechatConfig,
        urls: WechatUrls,
        keys: WechatKeys,
        http: reqwest::Client,
    ) -> Self {
        let merchant = Merchant {
            mchid: config.mchid.clone(),
            serial_no: config.merchant_serial_no.clone(),
            key: keys.merchant_key,
        };
        let platform = PlatformKey {
            id: config.public_key_id.clone(),
            key: keys.wechatpay_key,
        };
        WechatChannel {
            config,
            urls,
            merchant,
            platform,
            apiv3: keys.apiv3_key,
            http,
        }
    }

    /// A signed API call; the answer's signature is checked before its body is read.
    /// Retried on transport errors only (every call here is safe to repeat: creating an
    /// order or a refund again with the same number creates nothing new).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Answer, ChannelError> {
        let body = body.unwrap_or_default();
        let url = format!("{}{path}", self.config.api_base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let timeout = attempt_timeout()?;
            let nonce = crate::wechat::nonce()
                .map_err(|_| ChannelError::Sign("no random bytes for a nonce".into()))?;
            let authorization = self
                .merchant
                .authorization(method.as_str(), path, &body, now.unix_timestamp(), &nonce)
                .map_err(|e| ChannelError::Sign(Box::new(e)))?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .timeout(timeout)
                .header("authorization", authorization)
                .header("accept", "application/json")
                .header("user-agent", "kiosk");
            if method != reqwest::Method::GET {
                req = req
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            match req.send().await {
                Ok(resp) => return self.answer(resp, now).await,
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, path, "WeChat Pay transport error; retrying");
                    backoff(attempt).await;
                }
                Err(e) => return Err(ChannelError::Transport(e)),
            }
        }
    }

    /// Read and verify an answer. A server error is not read; every other answer must
    /// carry WeChat Pay's signature to be believed.
    async fn answer(
        &self,
        resp: reqwest::Response,
        now: OffsetDateTime,
    ) -> Result<Answer, ChannelError> {
        let status = resp.status().as_u16();
        if status >= 500 {
            return Err(ChannelError::HttpStatus(status));
        }
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(ChannelError::Transport)?
            .to_vec();
        let signed = match signed_headers(&headers) {
            Ok(signed) => signed,
            // WeChat Pay signs its answer to a request whose signature it verified; an
            // unsigned refusal (a 401 for ours) is read for its code, for the message
            // only: nothing is decided on it.
            Err(_) if status >= 400 => return Err(Answer { status, body }.error()),
            Err(e) => return Err(ChannelError::Reply(Box::new(e))),
        };
        verify(&signed, &body, &self.platform, now)
            .map_err(|e| ChannelError::Reply(Box::new(e)))?;
        Ok(Answer { status, body })
    }

    fn new_order(&self, order: &Order, scene_info: Option<SceneInfo>) -> NewOrder {
        NewOrder {
            appid: self.config.appid.clone(),
            mchid: self.config.mchid.clone(),
            description: description(&order.product_title),
            out_trade_no: order.id.as_str().to_owned(),
            time_expire: crate::clock::beijing_rfc3339(order.expires_at),
            notify_url: self.urls.notify_url.clone(),
            amount: OrderAmount {
                total: order.amount.minor(),
                currency: "CNY".into(),
            },
            scene_info,
        }
    }

    fn check_order(&self, order: &Order) -> Result<(), ChannelError> {
        if !self.accepts(order.amount.currency()) {
            return Err(ChannelError::Currency(order.amount.currency()));
        }
        if !wire::valid_merchant_no(order.id.as_str(), wire::OUT_TRADE_NO_LEN) {
            return Err(bad_reply(format!(
                "order id {} is not a WeChat Pay out_trade_no (6 to 32 characters)",
                order.id
            )));
        }
        Ok(())
    }

    /// H5 pay for a phone's browser: WeChat Pay requires the buyer's address
    /// (`payer_client_ip`, sent to WeChat Pay and not kept) and checks it against the
    /// browser that opens the cashier.
    async fn start_h5(
        &self,
        order: &Order,
        payer: crate::net::PayerAddress,
        now: OffsetDateTime,
    ) -> Result<Redirect, ChannelError> {
        let scene = SceneInfo {
            payer_client_ip: payer.ip().to_string(),
            h5_info: Some(H5Info { kind: "Wap".into() }),
        };
        let body = to_json(&self.new_order(order, Some(scene)));
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/h5",
                Some(body),
                now,
            )
            .await?;
        if answer.status != 200 {
            return Err(answer.error());
        }
        let h5: H5Answer = answer.json()?;
        let secret = return_secret()?;
        let mut url = format!("{}&redirect_url=", h5.h5_url);
        crate::form::form_encode(&self.return_link(order, &secret), &mut url);
        Ok(Redirect {
            url,
            checkout_ref: Some(secret),
            pay_code: None,
        })
    }

    fn return_link(&self, order: &Order, secret: &str) -> String {
        format!("{}?order={}&ref={secret}", self.urls.return_url, order.id)
    }

    fn decrypt(&self, note: &Notification) -> Result<Vec<u8>, ChannelError> {
        let key = self.apiv3.as_ref().ok_or(reject(Rejection::Uncheckable(
            "no APIv3 key here to decrypt notifications with",
        )))?;
        let r = &note.resource;
        key.decrypt(&r.algorithm, &r.nonce, &r.associated_data, &r.ciphertext)
            .map_err(|e| reject(Rejection::Signature(Box::new(e))))
    }

    fn ours(&self, mchid: &str, appid: Option<&str>) -> Result<(), ChannelError> {
        if mchid != self.config.mchid {
            return Err(reject(Rejection::NotOurs("mchid")));
        }
        if appid.is_some_and(|a| a != self.config.appid) {
            return Err(reject(Rejection::NotOurs("appid")));
        }
        Ok(())
    }

    /// A paid transaction's payment: its id and its amount.
    fn payment(t: &Transaction) -> Result<Payment, ChannelError> {
        let amount = t
            .amount
            .as_ref()
            .ok_or(reject(Rejection::Missing("amount")))?;
        Ok(Payment {
            provider_txn_id: t
                .transaction_id
                .clone()
                .filter(|id| !id.is_empty())
                .ok_or(reject(Rejection::Missing("transaction_id")))?,
            amount: cny(amount.total, &amount.currency, "amount.total")?,
        })
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising structs of strings and integers cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

/// The `Wechatpay-*` headers of a notification or an answer.
fn signed_headers(h: &Headers) -> Result<SignedHeaders<'_>, crate::wechat::VerifyError> {
    SignedHeaders::from_lookup(|name| h.get(name).and_then(|v| v.to_str().ok()))
}

impl Channel for WechatChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Wechat
    }

    fn accepts(&self, currency: Currency) -> bool {
        currency == Currency::Cny
    }

    /// WeChat Pay's `amount.total` starts at 1 fen.
    fn smallest_charge(&self, currency: Currency) -> Money {
        Money::minor_unit(currency)
    }

    /// A phone gets H5 pay (WeChat Pay's cashier, then back to the shop); a desktop, or a
    /// phone whose address the shop did not see (never behind API Gateway), gets Native
    /// pay: WeChat Pay's `code_url`, which the shop's page for the order shows as a QR
    /// code.
    async fn start_payment(
        &self,
        order: &Order,
        device: Device,
        payer: Option<crate::net::PayerAddress>,
        now: OffsetDateTime,
    ) -> Result<Redirect, ChannelError> {
        self.check_order(order)?;
        if let (Device::Mobile, Some(payer)) = (device, payer) {
            return self.start_h5(order, payer, now).await;
        }
        let body = to_json(&self.new_order(order, None));
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/native",
                Some(body),
                now,
            )
            .await?;
        if answer.status != 200 {
            return Err(answer.error());
        }
        let native: NativeAnswer = answer.json()?;
        let secret = return_secret()?;
        Ok(Redirect {
            url: self.return_link(order, &secret),
            checkout_ref: Some(secret),
            pay_code: Some(native.code_url),
        })
    }

    /// Verified (key id, 5-minute window, signature over the exact body), then the
    /// resource decrypted with its associated data, then the merchant and app checked.
    fn authenticate_notification(
        &self,
        body: &[u8],
        headers: &Headers,
        now: OffsetDateTime,
    ) -> Result<Notice, ChannelError> {
        let signed =
            signed_headers(headers).map_err(|e| reject(Rejection::Signature(Box::new(e))))?;
        verify(&signed, body, &self.platform, now)
            .map_err(|e| reject(Rejection::Signature(Box::new(e))))?;
        let note: Notification =
            serde_json::from_slice(body).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        let event = note.event_type.as_str();
        if !matches!(event, "TRANSACTION.SUCCESS" | "REFUND.SUCCESS") {
            // REFUND.ABNORMAL and REFUND.CLOSED: no money moved.
            return Ok(Notice::Irrelevant {
                what: format!("WeChat Pay event {event}"),
            });
        }
        let plain = self.decrypt(&note)?;
        let (out_trade_no, status) = if event == "TRANSACTION.SUCCESS" {
            let t: Transaction = serde_json::from_slice(&plain)
                .map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
            self.ours(&t.mchid, Some(&t.appid))?;
            if t.trade_state != TradeState::Success {
                return Err(reject(Rejection::UnknownStatus(format!(
                    "{:?}",
                    t.trade_state
                ))));
            }
            (
                t.out_trade_no.clone(),
                ProviderStatus::Paid(Self::payment(&t)?),
            )
        } else {
            let r: wire::Refund = serde_json::from_slice(&plain)
                .map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
            self.ours(r.mchid.as_deref().unwrap_or_default(), None)?;
            if r.status != RefundStatus::Success {
                return Err(reject(Rejection::UnknownStatus(format!("{:?}", r.status))));
            }
            // WeChat Pay reports each refund alone, not the total so far: the whole
            // amount refunded is the whole payment; a part is at least this part (the
            // shop keeps the larger of what it knows and this).
            let paid = cny(r.amount.total, "CNY", "amount.total")?;
            let refunded = cny(r.amount.refund, "CNY", "amount.refund")?;
            if refunded.minor() > paid.minor() {
                return Err(reject(Rejection::Field {
                    field: "amount.refund",
                    source: "more than was paid".into(),
                }));
            }
            (
                r.out_trade_no.clone(),
                ProviderStatus::Refunded {
                    total: refunded,
                    payment: Some(r.transaction_id.clone()),
                },
            )
        };
        let order = OrderId::parse(&out_trade_no)
            .map_err(|_| reject(Rejection::NotOurs("out_trade_no")))?;
        Ok(Notice::Payment(PaymentEvent {
            order: OrderRef::Id(order),
            event_id: note.id,
            status,
            checkout_ref: None,
        }))
    }

    /// `?order=…&ref=…`: WeChat Pay signs no return, so the link carries the checkout's
    /// secret, which the shop compares with the order's; the payment itself is then
    /// asked of WeChat Pay.
    async fn authenticate_return(
        &self,
        query: &str,
        _now: OffsetDateTime,
    ) -> Result<Returned, ChannelError> {
        let p = parse_form(query).map_err(|e| reject(Rejection::Malformed(Box::new(e))))?;
        let get = |name: &'static str| {
            p.get(name)
                .filter(|v| !v.is_empty())
                .ok_or(reject(Rejection::Missing(name)))
        };
        let order_id =
            OrderId::parse(get("order")?).map_err(|_| reject(Rejection::NotOurs("order")))?;
        Ok(Returned {
            order_id,
            status: None,
            checkout_ref: Some(get("ref")?.to_owned()),
        })
    }

    async fn query(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<ProviderStatus, ChannelError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            order.id, self.config.mchid
        );
        let answer = self.call(reqwest::Method::GET, &path, None, now).await?;
        if answer.status == 404 && answer.code().as_deref() == Some("ORDER_NOT_EXIST") {
            return Ok(ProviderStatus::Waiting);
        }
        if answer.status != 200 {
            return Err(answer.error());
        }
        let t: Transaction = answer.json()?;
        if t.out_trade_no != order.id.as_str() {
            return Err(bad_reply("the answer is about another order"));
        }
        self.ours(&t.mchid, Some(&t.appid))?;
        Ok(match t.trade_state {
            TradeState::Success => ProviderStatus::Paid(Self::payment(&t)?),
            // Paid, and refunded since (outside Kiosk, which refunds only orders it
            // recorded paid): how much is not in the answer, so the refund wins whole
            // and no link goes out for a payment the merchant gave back.
            TradeState::Refund => {
                let payment = Self::payment(&t)?;
                ProviderStatus::PaidRefunded {
                    total: payment.amount,
                    payment,
                }
            }
            TradeState::NotPay | TradeState::UserPaying => ProviderStatus::Waiting,
            TradeState::Closed | TradeState::Revoked | TradeState::PayError => {
                ProviderStatus::Closed
            }
        })
    }

    /// The refund's `transaction_id` came inside a resource only WeChat Pay could have
    /// encrypted, about the `out_trade_no` it names; one out_trade_no has one payment.
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
        let path = format!("/v3/pay/transactions/out-trade-no/{}/close", order.id);
        let body = to_json(&wire::Close {
            mchid: self.config.mchid.clone(),
        });
        let answer = self
            .call(reqwest::Method::POST, &path, Some(body), now)
            .await?;
        match (answer.status, answer.code().as_deref()) {
            (204, _) => Ok(CloseOutcome::Closed),
            (400, Some("ORDER_CLOSED")) => Ok(CloseOutcome::Closed),
            (404, Some("ORDER_NOT_EXIST")) => Ok(CloseOutcome::Closed),
            // The buyer is entering the password, or has paid: ask again.
            (202, _) | (400 | 403, Some("ORDERPAID" | "ORDER_PAID" | "TRADE_ERROR")) => {
                Ok(CloseOutcome::NotOpen)
            }
            _ => Err(answer.error()),
        }
    }

    /// One `out_refund_no` per request, looked up first: a rerun after a lost answer
    /// finds the refund it made and makes no second one. Answers the total refunded:
    /// what the order had recorded before this request, and this one.
    async fn refund(
        &self,
        order: &Order,
        amount: Money,
        request_no: &str,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Money, ChannelError> {
        if !wire::valid_merchant_no(request_no, 1..=wire::OUT_REFUND_NO_MAX) {
            return Err(bad_reply(format!("{request_no:?} is not an out_refund_no")));
        }
        let path = format!("/v3/refund/domestic/refunds/{request_no}");
        let found = self.call(reqwest::Method::GET, &path, None, now).await?;
        let refund: wire::Refund = match (found.status, found.code().as_deref()) {
            (200, _) => found.json()?,
            (404, Some("RESOURCE_NOT_EXISTS")) => {
                let body = to_json(&NewRefund {
                    out_trade_no: order.id.as_str().to_owned(),
                    out_refund_no: request_no.to_owned(),
                    reason: reason.map(|r| r.chars().take(80).collect()),
                    notify_url: Some(self.urls.notify_url.clone()),
                    amount: RefundRequestAmount {
                        refund: amount.minor(),
                        total: order.amount.minor(),
                        currency: "CNY".into(),
                    },
                });
                let made = self
                    .call(
                        reqwest::Method::POST,
                        "/v3/refund/domestic/refunds",
                        Some(body),
                        now,
                    )
                    .await?;
                if made.status != 200 {
                    return Err(made.error());
                }
                made.json()?
            }
            _ => return Err(found.error()),
        };
        if refund.out_trade_no != order.id.as_str() || refund.amount.refund != amount.minor() {
            return Err(bad_reply(format!(
                "refund {request_no} is about another order or amount"
            )));
        }
        match refund.status {
            RefundStatus::Success | RefundStatus::Processing => {}
            RefundStatus::Closed | RefundStatus::Abnormal => {
                return Err(ChannelError::Provider {
                    code: "refund".into(),
                    sub_code: format!("{:?}", refund.status).to_uppercase(),
                    msg: format!("refund {request_no} did not go through"),
                });
            }
        }
        let before = order.refunded.map_or(0, |m| m.minor());
        Money::from_minor(
            (before + amount.minor()).min(order.amount.minor()),
            Currency::Cny,
        )
        .map_err(|e| ChannelError::Reply(Box::new(e)))
    }

    /// An empty 200: WeChat Pay reads the status, not the body.
    fn ack(&self) -> &'static str {
        ""
    }
}
