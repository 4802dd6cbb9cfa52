//! A local WeChat Pay (API v3) stand-in, strict as the real one where Kiosk can trip:
//! every request's `Authorization` is checked (the merchant id, the merchant
//! certificate's serial, a timestamp within 5 minutes of its own clock, the signature
//! with the merchant's public key) and refused `401 SIGN_ERROR` otherwise; orders must
//! name our app and merchant, be in CNY fen, carry a valid `out_trade_no`, a
//! description of at most 127 characters and a `time_expire` in the future, and H5
//! orders the payer's address; an order past its `time_expire` is closed on its own
//! clock; refunds are checked against what is left and deduplicated by `out_refund_no`.
//! Every answer to a request whose signature verified is signed with the stand-in's
//! "WeChat Pay" key under its key id.
//!
//! Under `make dev` its `code_url` is a link to a page that plays the phone (a Pay
//! button), and its `h5_url` a phone cashier that pays and goes back to the shop's
//! `redirect_url`. Paying sends the signed, encrypted `TRANSACTION.SUCCESS`
//! notification, retried until the shop answers 2xx; a refund sends `REFUND.SUCCESS`.
//!
//! Over 400 lines: a stand-in for a whole provider's API, like `sandbox.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk::rsa::{SigningKey, VerifyingKey};
use kiosk::wechat::ApiV3Key;
use kiosk::wechat::sign::{Authorization, TOLERANCE_SECONDS, sign_message};
use kiosk::wechat::wire::{
    self, NewOrder, NewRefund, PaidAmount, Refund, RefundAmount, RefundStatus, TradeState,
    Transaction,
};
use time::OffsetDateTime;

/// What the stand-in answers: a status, its `Wechatpay-*` headers and a JSON body (none
/// for 204).
#[derive(Debug, Clone)]
pub struct WechatReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Who the stand-in is and whom it serves.
pub struct WechatIds {
    pub mchid: String,
    pub appid: String,
    pub merchant_serial_no: String,
    pub public_key_id: String,
}

#[derive(Debug, Clone)]
struct Trade {
    order: NewOrder,
    h5: bool,
    expires: OffsetDateTime,
    state: TradeState,
    transaction_id: Option<String>,
    success_time: Option<String>,
    refunded: u64,
}

/// A notification ready to POST: its body and headers.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

pub struct WechatSandbox {
    ids: WechatIds,
    merchant_public: VerifyingKey,
    signer: SigningKey,
    apiv3: ApiV3Key,
    state: Mutex<State>,
    /// Where the stand-in's own pages are (`…/sandbox/wechat`): `code_url` and `h5_url`
    /// point there; without it they look like WeChat Pay's.
    pages: Option<String>,
    http: reqwest::Client,
    /// WeChat Pay retries after 15 s, 15 s, 30 s, 3 m, …; here each step is this long.
    retry_unit: Duration,
    /// Notifications acknowledged (event id, attempts), for tests.
    pub deliveries: Mutex<Vec<(String, u32)>>,
}

#[derive(Default)]
struct State {
    trades: HashMap<String, Trade>,
    refunds: HashMap<String, Refund>,
    /// Requests that failed the signature check, for tests.
    refused: u32,
    next: u64,
    outbox: Vec<Outgoing>,
    /// Lose the answer to the next refund request, after making the refund (tests).
    lose_refund_answer: bool,
}

pub use crate::reply::DROP_CONNECTION;

fn error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        serde_json::json!({ "code": code, "message": message }).to_string(),
    )
}

fn ok<T: serde::Serialize>(v: &T) -> (u16, String) {
    (200, serde_json::to_string(v).unwrap_or_default())
}

impl WechatSandbox {
    pub fn new(
        ids: WechatIds,
        merchant_public: VerifyingKey,
        signer: SigningKey,
        apiv3: ApiV3Key,
    ) -> Self {
        WechatSandbox {
            ids,
            merchant_public,
            signer,
            apiv3,
            state: Mutex::new(State::default()),
            pages: None,
            http: reqwest::Client::new(),
            retry_unit: Duration::from_secs(1),
            deliveries: Mutex::new(Vec::new()),
        }
    }

    /// The stand-in as `make dev` serves it: its pages under `pages`, notifications
    /// retried every `retry_unit` step.
    pub fn with_pages(
        mut self,
        pages: String,
        http: reqwest::Client,
        retry_unit: Duration,
    ) -> Self {
        self.pages = Some(pages);
        self.http = http;
        self.retry_unit = retry_unit;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Each refund made of `out_trade_no`, in fen, in the order made (one per
    /// `out_refund_no`), for tests.
    pub fn refunds_of(&self, out_trade_no: &str) -> Vec<u64> {
        let st = self.state();
        let mut made: Vec<(&String, u64)> = st
            .refunds
            .values()
            .filter(|r| r.out_trade_no == out_trade_no)
            .map(|r| (&r.out_refund_no, r.amount.refund))
            .collect();
        made.sort();
        made.into_iter().map(|(_, fen)| fen).collect()
    }

    /// The answer to the next refund request is lost on the way (the refund is made).
    pub fn lose_next_refund_answer(&self) {
        self.state().lose_refund_answer = true;
    }

    /// Whether a lost refund answer is still to come.
    pub fn refund_answer_to_lose(&self) -> bool {
        self.state().lose_refund_answer
    }

    /// Serve the API alone (no pages) on `listener`, on the stand-in's own clock, until
    /// the task is dropped: for tests that need WeChat Pay without the whole local shop.
    pub fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinHandle<()> {
        use http_body_util::BodyExt;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = self.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let me = me.clone();
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let path = parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str())
                                    .unwrap_or("/");
                                let auth = parts
                                    .headers
                                    .get("authorization")
                                    .and_then(|v| v.to_str().ok());
                                let reply = me.api(
                                    parts.method.as_str(),
                                    path,
                                    auth,
                                    std::str::from_utf8(&body).unwrap_or(""),
                                    OffsetDateTime::now_utc(),
                                );
                                for out in me.take_outbox() {
                                    tokio::spawn(me.clone().deliver(out));
                                }
                                if reply.status == DROP_CONNECTION {
                                    return Err("answer lost");
                                }
                                let mut resp = hyper::Response::builder().status(reply.status);
                                for (k, v) in reply.headers {
                                    resp = resp.header(k, v);
                                }
                                resp.body(http_body_util::Full::new(bytes::Bytes::from(reply.body)))
                                    .map_err(|_| "bad response")
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    }

    /// Requests refused for their signature so far.
    pub fn refused(&self) -> u32 {
        self.state().refused
    }

    /// Headers that sign `body` as WeChat Pay does, at `now`.
    fn signed(&self, body: &str, now: OffsetDateTime) -> Vec<(&'static str, String)> {
        let nonce = kiosk::wechat::nonce().unwrap_or_else(|_| "0".repeat(32));
        let ts = now.unix_timestamp();
        let signature = sign_message(&self.signer, ts, &nonce, body.as_bytes()).unwrap_or_default();
        vec![
            ("Wechatpay-Timestamp", ts.to_string()),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Serial", self.ids.public_key_id.clone()),
            (
                "Wechatpay-Signature-Type",
                "WECHATPAY2-SHA256-RSA2048".into(),
            ),
            ("Wechatpay-Signature", signature),
        ]
    }

    /// One API request: `path` with its query, the `Authorization` header, the body.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &str,
        now: OffsetDateTime,
    ) -> WechatReply {
        let unsigned = |status, body| WechatReply {
            status,
            headers: Vec::new(),
            body,
        };
        if let Err((status, body)) = self.check_signature(method, path, authorization, body, now) {
            // As WeChat Pay: a request whose signature did not verify gets an unsigned
            // answer.
            self.state().refused += 1;
            return unsigned(status, body);
        }
        let (status, body) = self.route(method, path, body, now);
        let refund = method == "POST" && path == "/v3/refund/domestic/refunds";
        if refund && status == 200 && std::mem::take(&mut self.state().lose_refund_answer) {
            return unsigned(DROP_CONNECTION, String::new());
        }
        WechatReply {
            status,
            headers: self.signed(&body, now),
            body,
        }
    }

    fn check_signature(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<(), (u16, String)> {
        let refuse = |why: &str| Err(error(401, "SIGN_ERROR", why));
        let Some(a) = authorization.and_then(Authorization::parse) else {
            return refuse("Authorization is missing or not WECHATPAY2-SHA256-RSA2048");
        };
        if a.mchid != self.ids.mchid {
            return refuse("mchid is not this merchant");
        }
        if a.serial_no != self.ids.merchant_serial_no {
            return refuse("serial_no is not the merchant certificate's");
        }
        match a.timestamp.parse::<i64>() {
            Ok(ts) if (now.unix_timestamp() - ts).abs() <= TOLERANCE_SECONDS => {}
            _ => return refuse("timestamp is not within 5 minutes"),
        }
        if a.nonce.is_empty() || a.nonce.len() > 32 {
            return refuse("nonce_str");
        }
        if a.verifies(&self.merchant_public, method, path, body)
            .is_err()
        {
            return refuse("signature does not verify");
        }
        Ok(())
    }

    fn route(&self, method: &str, path: &str, body: &str, now: OffsetDateTime) -> (u16, String) {
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        match (method, route) {
            ("POST", "/v3/pay/transactions/native") => self.create(body, false, now),
            ("POST", "/v3/pay/transactions/h5") => self.create(body, true, now),
            ("POST", "/v3/refund/domestic/refunds") => self.refund(body),
            ("GET", r) if r.starts_with("/v3/refund/domestic/refunds/") => {
                let no = &r["/v3/refund/domestic/refunds/".len()..];
                match self.state().refunds.get(no) {
                    Some(found) => ok(found),
                    None => error(404, "RESOURCE_NOT_EXISTS", "no such refund"),
                }
            }
            ("GET", r) if r.starts_with("/v3/pay/transactions/out-trade-no/") => {
                let no = &r["/v3/pay/transactions/out-trade-no/".len()..];
                if query != format!("mchid={}", self.ids.mchid) {
                    return error(400, "PARAM_ERROR", "mchid is required in the query");
                }
                self.query(no, now)
            }
            ("POST", r) if r.starts_with("/v3/pay/transactions/out-trade-no/") => {
                let Some(no) =
                    r["/v3/pay/transactions/out-trade-no/".len()..].strip_suffix("/close")
                else {
                    return error(404, "NOT_FOUND", "no such API");
                };
                self.close(no, body, now)
            }
            _ => error(404, "NOT_FOUND", "no such API"),
        }
    }

    fn create(&self, body: &str, h5: bool, now: OffsetDateTime) -> (u16, String) {
        let Ok(order) = serde_json::from_str::<NewOrder>(body) else {
            return error(400, "PARAM_ERROR", "the body is not an order");
        };
        if order.mchid != self.ids.mchid || order.appid != self.ids.appid {
            return error(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match");
        }
        if !wire::valid_merchant_no(&order.out_trade_no, wire::OUT_TRADE_NO_LEN) {
            return error(400, "PARAM_ERROR", "out_trade_no");
        }
        if order.description.is_empty()
            || order.description.chars().count() > wire::DESCRIPTION_MAX_CHARS
        {
            return error(400, "PARAM_ERROR", "description");
        }
        if order.amount.currency != "CNY" || order.amount.total == 0 {
            return error(400, "PARAM_ERROR", "amount");
        }
        let Ok(expires) = OffsetDateTime::parse(
            &order.time_expire,
            &time::format_description::well_known::Rfc3339,
        ) else {
            return error(400, "PARAM_ERROR", "time_expire is not RFC 3339");
        };
        if expires <= now {
            return error(400, "PARAM_ERROR", "time_expire has passed");
        }
        if h5
            && order
                .scene_info
                .as_ref()
                .is_none_or(|s| s.h5_info.is_none() || s.payer_client_ip.is_empty())
        {
            return error(
                400,
                "PARAM_ERROR",
                "scene_info with payer_client_ip and h5_info",
            );
        }
        let mut st = self.state();
        if let Some(t) = st.trades.get(&order.out_trade_no) {
            if t.order != order || t.h5 != h5 {
                return error(
                    403,
                    "OUT_TRADE_NO_USED",
                    "out_trade_no was used for another order",
                );
            }
            if t.state != TradeState::NotPay {
                return error(400, "ORDERPAID", "the order is no longer open");
            }
        } else {
            st.trades.insert(
                order.out_trade_no.clone(),
                Trade {
                    order: order.clone(),
                    h5,
                    expires,
                    state: TradeState::NotPay,
                    transaction_id: None,
                    success_time: None,
                    refunded: 0,
                },
            );
        }
        let no = &order.out_trade_no;
        match (&self.pages, h5) {
            (Some(pages), true) => {
                ok(&serde_json::json!({ "h5_url": format!("{pages}/h5?pr={no}") }))
            }
            (None, true) => ok(&serde_json::json!({
                "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{no}&package=1")
            })),
            (Some(pages), false) => {
                ok(&serde_json::json!({ "code_url": format!("{pages}/phone?pr={no}") }))
            }
            (None, false) => {
                ok(&serde_json::json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={no}") }))
            }
        }
    }

    fn transaction(&self, t: &Trade) -> Transaction {
        Transaction {
            appid: t.order.appid.clone(),
            mchid: t.order.mchid.clone(),
            out_trade_no: t.order.out_trade_no.clone(),
            transaction_id: t.transaction_id.clone(),
            trade_type: Some(if t.h5 { "MWEB" } else { "NATIVE" }.into()),
            trade_state: t.state,
            trade_state_desc: String::new(),
            success_time: t.success_time.clone(),
            amount: t.transaction_id.as_ref().map(|_| PaidAmount {
                total: t.order.amount.total,
                payer_total: Some(t.order.amount.total),
                currency: "CNY".into(),
                payer_currency: Some("CNY".into()),
            }),
        }
    }

    /// Unpaid past `time_expire`: closed, on the stand-in's own clock.
    fn settle_expiry(t: &mut Trade, now: OffsetDateTime) {
        if t.state == TradeState::NotPay && now >= t.expires {
            t.state = TradeState::Closed;
        }
    }

    fn query(&self, no: &str, now: OffsetDateTime) -> (u16, String) {
        let mut st = self.state();
        let Some(t) = st.trades.get_mut(no) else {
            return error(404, "ORDER_NOT_EXIST", "no such order");
        };
        Self::settle_expiry(t, now);
        let t = t.clone();
        drop(st);
        ok(&self.transaction(&t))
    }

    fn close(&self, no: &str, body: &str, now: OffsetDateTime) -> (u16, String) {
        match serde_json::from_str::<wire::Close>(body) {
            Ok(c) if c.mchid == self.ids.mchid => {}
            _ => return error(400, "PARAM_ERROR", "mchid"),
        }
        let mut st = self.state();
        let Some(t) = st.trades.get_mut(no) else {
            // As the real API: closing an order it never made answers 204.
            return (204, String::new());
        };
        Self::settle_expiry(t, now);
        match t.state {
            TradeState::NotPay | TradeState::UserPaying => {
                t.state = TradeState::Closed;
                (204, String::new())
            }
            TradeState::Closed | TradeState::Revoked | TradeState::PayError => {
                error(400, "ORDER_CLOSED", "the order is closed")
            }
            TradeState::Success | TradeState::Refund => {
                error(400, "ORDERPAID", "the order is paid")
            }
        }
    }

    fn refund(&self, body: &str) -> (u16, String) {
        let Ok(r) = serde_json::from_str::<NewRefund>(body) else {
            return error(400, "PARAM_ERROR", "the body is not a refund");
        };
        if !wire::valid_merchant_no(&r.out_refund_no, 1..=wire::OUT_REFUND_NO_MAX) {
            return error(400, "PARAM_ERROR", "out_refund_no");
        }
        let mut st = self.state();
        if let Some(existing) = st.refunds.get(&r.out_refund_no) {
            if existing.out_trade_no != r.out_trade_no || existing.amount.refund != r.amount.refund
            {
                return error(
                    400,
                    "INVALID_REQUEST",
                    "out_refund_no was used for another refund",
                );
            }
            return ok(existing);
        }
        let Some(t) = st.trades.get_mut(&r.out_trade_no) else {
            return error(404, "RESOURCE_NOT_EXISTS", "no such order");
        };
        if !matches!(t.state, TradeState::Success | TradeState::Refund) {
            return error(403, "TRADE_ERROR", "the order is not paid");
        }
        if r.amount.currency != "CNY"
            || r.amount.total != t.order.amount.total
            || r.amount.refund == 0
        {
            return error(400, "PARAM_ERROR", "amount");
        }
        if t.refunded + r.amount.refund > t.order.amount.total {
            return error(403, "NOT_ENOUGH", "more than is left to refund");
        }
        t.refunded += r.amount.refund;
        t.state = TradeState::Refund;
        let refund = Refund {
            mchid: Some(self.ids.mchid.clone()),
            out_trade_no: r.out_trade_no.clone(),
            transaction_id: t.transaction_id.clone().unwrap_or_default(),
            out_refund_no: r.out_refund_no.clone(),
            refund_id: format!("5030000{}", r.out_refund_no),
            status: RefundStatus::Success,
            success_time: None,
            amount: RefundAmount {
                total: t.order.amount.total,
                refund: r.amount.refund,
                payer_total: Some(t.order.amount.total),
                payer_refund: Some(r.amount.refund),
                currency: Some("CNY".into()),
            },
        };
        st.refunds.insert(r.out_refund_no.clone(), refund.clone());
        st.next += 1;
        let n = st.next;
        drop(st);
        if let Some(url) = &r.notify_url
            && let Ok(plain) = serde_json::to_string(&refund)
            && let Some(out) = self.notification(
                url,
                "REFUND.SUCCESS",
                "refund",
                &plain,
                n,
                OffsetDateTime::now_utc(),
            )
        {
            self.state().outbox.push(out);
        }
        ok(&refund)
    }

    /// Notifications made but not sent yet (refunds'), for the server to deliver.
    pub fn take_outbox(&self) -> Vec<Outgoing> {
        std::mem::take(&mut self.state().outbox)
    }

    /// POST a notification until the shop answers 2xx, on WeChat Pay's schedule
    /// compressed to `retry_unit` steps.
    pub async fn deliver(self: Arc<Self>, out: Outgoing) {
        let waits = [0u32, 1, 1, 2, 3, 4, 5, 6];
        for (attempt, steps) in waits.iter().enumerate() {
            tokio::time::sleep(self.retry_unit * *steps).await;
            let mut req = self
                .http
                .post(&out.url)
                .header("content-type", "application/json");
            // Each attempt is its own request, signed when it is sent (the shop refuses a
            // signature more than 5 minutes old).
            let headers = if attempt == 0 {
                out.headers.clone()
            } else {
                self.signed(&out.body, OffsetDateTime::now_utc())
            };
            for (k, v) in &headers {
                req = req.header(*k, v);
            }
            let ok =
                matches!(req.body(out.body.clone()).send().await, Ok(r) if r.status().is_success());
            if ok {
                let id = serde_json::from_str::<serde_json::Value>(&out.body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                if let Ok(mut d) = self.deliveries.lock() {
                    d.push((id, attempt as u32 + 1));
                }
                return;
            }
            tracing::warn!(url = %out.url, attempt = attempt + 1, "WeChat Pay stand-in: notification not acknowledged; will retry");
        }
    }

    /// The page that plays the buyer's phone for a Native order (`code_url`), or the
    /// H5 cashier: what is being paid, and a Pay button.
    pub fn page(&self, out_trade_no: &str, h5: bool, redirect_url: Option<&str>) -> (u16, String) {
        let st = self.state();
        let Some(t) = st.trades.get(out_trade_no) else {
            return (
                404,
                kiosk_web::pages::frame(
                    kiosk::i18n::Lang::EN,
                    "WeChat Pay stand-in",
                    "",
                    "<h1>No such order</h1>",
                ),
            );
        };
        let amount = kiosk::Money::from_minor(t.order.amount.total, kiosk::Currency::Cny)
            .map(|m| m.to_decimal())
            .unwrap_or_default();
        let body = maud::html! {
            h1 { (if h5 { "WeChat Pay (H5, local stand-in)" } else { "WeChat (the buyer's phone, local stand-in)" }) }
            p { (t.order.description) }
            p.price { "¥" (amount) }
            form method="post" action={ (self.pages.as_deref().unwrap_or("")) (if h5 { "/h5" } else { "/phone" }) } {
                input type="hidden" name="pr" value=(out_trade_no);
                @if let Some(back) = redirect_url { input type="hidden" name="redirect_url" value=(back); }
                button id="wechat-pay" type="submit" { "Pay" }
            }
            p.muted { "The real WeChat Pay asks for the buyer's password on their phone; this page only stands in for it." }
        };
        (
            200,
            kiosk_web::pages::frame(
                kiosk::i18n::Lang::EN,
                "WeChat Pay stand-in",
                "",
                &body.into_string(),
            ),
        )
    }

    /// The buyer pays `out_trade_no` on the phone: the trade is paid and the signed,
    /// encrypted `TRANSACTION.SUCCESS` notification for its `notify_url` is returned.
    /// `None` if there is no such open order (or it expired).
    pub fn pay(&self, out_trade_no: &str, now: OffsetDateTime) -> Option<Outgoing> {
        let mut st = self.state();
        st.next += 1;
        let n = st.next;
        let t = st.trades.get_mut(out_trade_no)?;
        Self::settle_expiry(t, now);
        if t.state != TradeState::NotPay {
            return None;
        }
        t.state = TradeState::Success;
        t.transaction_id = Some(format!("42000{:023}", n));
        t.success_time = Some(kiosk::clock::beijing_rfc3339(now));
        let t = t.clone();
        drop(st);
        let plaintext = serde_json::to_string(&self.transaction(&t)).ok()?;
        self.notification(
            &t.order.notify_url,
            "TRANSACTION.SUCCESS",
            "transaction",
            &plaintext,
            n,
            now,
        )
    }

    fn notification(
        &self,
        url: &str,
        event_type: &str,
        kind: &str,
        plaintext: &str,
        n: u64,
        now: OffsetDateTime,
    ) -> Option<Outgoing> {
        let nonce = format!("{:012}", n);
        let ciphertext = self
            .apiv3
            .encrypt(&nonce, kind, plaintext.as_bytes())
            .ok()?;
        let body = serde_json::json!({
            "id": format!("EV-{n:08}"),
            "create_time": kiosk::clock::beijing_rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "",
            "resource": {
                "original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext, "associated_data": kind, "nonce": nonce,
            },
        })
        .to_string();
        let headers = self.signed(&body, now);
        Some(Outgoing {
            url: url.to_owned(),
            body,
            headers,
        })
    }
}
