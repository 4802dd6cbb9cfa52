//! A local Alipay sandbox speaking the protocol described in
//! docs/architecture.md ("Alipay (RSA2), as implemented"), so the whole purchase can be
//! tried without an Alipay account: it verifies our request signatures with the app's
//! public key (a bad one gets a visible Alipay-style error page), shows a cashier, and on
//! Pay sends the signed asynchronous notification (retrying on Alipay's schedule,
//! compressed to seconds, until it reads `success`) and redirects the browser to
//! `return_url` with signed parameters. It also answers `alipay.trade.query`, `.close`
//! and `.refund` with signed responses.
//!
//! Over 400 lines: a stand-in for a whole provider (cashier pages, API, notifications).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk::alipay::{
    AlipayPublicKey, AppPrivateKey, Params, parse_form, query_string, string_to_sign_callback,
    string_to_sign_request,
};
use kiosk::clock::beijing_seconds;
use kiosk::text::html_escape as e;
use kiosk_web::pages::frame;

pub use crate::reply::Reply;
use crate::setup::{APP_ID, SELLER_ID};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeStatus {
    WaitBuyerPay,
    Success,
    Closed,
    Refunded,
}

#[derive(Debug, Clone)]
pub struct Trade {
    pub out_trade_no: String,
    pub trade_no: String,
    pub total_amount: String,
    pub subject: String,
    pub notify_url: String,
    pub return_url: String,
    pub quit_url: Option<String>,
    pub status: TradeStatus,
    /// Refunded so far, in fen, and each refund request number with its amount: a
    /// request number seen before refunds nothing more.
    pub refunded_minor: u64,
    pub refund_requests: HashMap<String, u64>,
}

pub struct Sandbox {
    app_public: AlipayPublicKey,
    signer: AppPrivateKey,
    trades: Mutex<HashMap<String, Trade>>,
    http: reqwest::Client,
    /// Alipay retries after 4m, 10m, 10m, 1h, 2h, 6h, 15h; here each step is this long.
    retry_unit: Duration,
    /// Notifications delivered (out_trade_no, attempts), for the page and for tests.
    pub deliveries: Mutex<Vec<(String, u32)>>,
    /// Faults to inject into the next refunds (tests): each makes the refund, then
    /// answers as the fault says.
    refund_faults: Mutex<Vec<crate::reply::Fault>>,
}

fn error_page(code: &str, sub_code: &str, msg: &str) -> Reply {
    Reply::Html(
        400,
        frame(
            kiosk::i18n::Lang::EN,
            "Alipay sandbox - error",
            "",
            &format!(
                "<h1 style=\"color:#cf222e\">Alipay sandbox error</h1>\
                 <p>The payment request was refused.</p><p class=\"link\">code: {}<br>sub_code: {}<br>{}</p>\
                 <p class=\"muted\">The real gateway shows the same kind of page when a request's signature does not verify with the \
                 app public key registered for the app.</p>",
                e(code),
                e(sub_code),
                e(msg)
            ),
        ),
    )
}

impl Sandbox {
    pub fn new(
        app_public: AlipayPublicKey,
        signer: AppPrivateKey,
        retry_unit: Duration,
    ) -> Arc<Self> {
        Arc::new(Sandbox {
            app_public,
            signer,
            trades: Mutex::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            retry_unit,
            deliveries: Mutex::default(),
            refund_faults: Mutex::default(),
        })
    }

    /// Make each of the next refunds fail after the refund is made, one fault each.
    pub fn fail_refunds(&self, faults: &[crate::reply::Fault]) {
        if let Ok(mut f) = self.refund_faults.lock() {
            f.extend_from_slice(faults);
        }
    }

    fn verify(&self, p: &Params) -> Result<(), &'static str> {
        let sign = p.get("sign").ok_or("missing sign")?;
        if p.get("sign_type").map(String::as_str) != Some("RSA2") {
            return Err("sign_type must be RSA2");
        }
        if p.get("app_id").map(String::as_str) != Some(APP_ID) {
            return Err("unknown app_id");
        }
        self.app_public
            .verify(string_to_sign_request(p).as_bytes(), sign)
            .map_err(|_| "invalid signature")
    }

    fn sign_params(&self, mut p: Params) -> Params {
        p.insert("sign_type".into(), "RSA2".into());
        let sign = self
            .signer
            .sign(string_to_sign_callback(&p).as_bytes())
            .unwrap_or_default();
        p.insert("sign".into(), sign);
        p
    }

    fn trade(&self, out_trade_no: &str) -> Option<Trade> {
        self.trades.lock().ok()?.get(out_trade_no).cloned()
    }

    fn set_status(&self, out_trade_no: &str, status: TradeStatus) {
        if let Ok(mut t) = self.trades.lock()
            && let Some(trade) = t.get_mut(out_trade_no)
        {
            trade.status = status;
        }
    }

    /// The amounts (in fen) refunded for a trade, one per refund request, in no
    /// particular order; for tests and the curious.
    pub fn refund_requests(&self, out_trade_no: &str) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .trade(out_trade_no)
            .map(|t| t.refund_requests.into_values().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// `GET gateway.do?...`: the buyer's browser arrives with a page/wap pay request.
    pub fn cashier(&self, query: &str) -> Reply {
        let Ok(p) = parse_form(query) else {
            return error_page("40002", "isv.invalid-parameter", "not a valid request");
        };
        if let Err(msg) = self.verify(&p) {
            return error_page("40002", "isv.invalid-signature", msg);
        }
        let method = p.get("method").cloned().unwrap_or_default();
        if method != "alipay.trade.page.pay" && method != "alipay.trade.wap.pay" {
            return error_page(
                "40002",
                "isv.invalid-method",
                "only page pay and wap pay open a cashier",
            );
        }
        let biz: serde_json::Value = p
            .get("biz_content")
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_default();
        let field = |k: &str| biz[k].as_str().unwrap_or_default().to_owned();
        let out_trade_no = field("out_trade_no");
        if out_trade_no.is_empty() {
            return error_page(
                "40002",
                "isv.missing-out-trade-no",
                "biz_content has no out_trade_no",
            );
        }
        let trade = {
            let Ok(mut trades) = self.trades.lock() else {
                return error_page("20000", "sandbox", "busy");
            };
            trades
                .entry(out_trade_no.clone())
                .or_insert_with(|| Trade {
                    out_trade_no: out_trade_no.clone(),
                    trade_no: format!(
                        "2026{:024}",
                        out_trade_no.bytes().map(u64::from).sum::<u64>()
                    ),
                    total_amount: field("total_amount"),
                    subject: field("subject"),
                    notify_url: p.get("notify_url").cloned().unwrap_or_default(),
                    return_url: p.get("return_url").cloned().unwrap_or_default(),
                    quit_url: biz["quit_url"].as_str().map(str::to_owned),
                    status: TradeStatus::WaitBuyerPay,
                    refunded_minor: 0,
                    refund_requests: HashMap::new(),
                })
                .clone()
        };
        let buttons = if trade.status == TradeStatus::Closed {
            "<p class=\"muted\">This trade is closed and can no longer be paid.</p>".to_owned()
        } else if trade.status != TradeStatus::WaitBuyerPay {
            "<p class=\"muted\">This trade is already settled.</p>".to_owned()
        } else {
            format!(
                "<form method=\"post\" action=\"/sandbox/alipay/pay\"><input type=\"hidden\" name=\"out_trade_no\" value=\"{no}\">\
                 <button class=\"btn\" type=\"submit\" style=\"background:#1677ff;width:100%\">Pay ¥{amount}</button></form>\
                 <form method=\"post\" action=\"/sandbox/alipay/pay\" style=\"margin-top:.75rem\"><input type=\"hidden\" name=\"out_trade_no\" value=\"{no}\">\
                 <input type=\"hidden\" name=\"lose_notification\" value=\"1\">\
                 <button class=\"btn\" type=\"submit\" style=\"background:#fff;color:#1677ff;border:1px solid #1677ff;width:100%\">Pay, but lose the notification</button></form>\
                 <p class=\"muted\" style=\"font-size:.85rem\">The second button pays without ever notifying the shop, as when every notification fails: \
                 the shop's reconcile run (every 30 s here) finds the payment and sends the mail.</p>\
                 <form method=\"post\" action=\"/sandbox/alipay/cancel\" style=\"margin-top:.75rem\"><input type=\"hidden\" name=\"out_trade_no\" value=\"{no}\">\
                 <button class=\"btn\" type=\"submit\" style=\"background:#fff;color:#1f2328;border:1px solid #d0d7de;width:100%\">Cancel</button></form>",
                no = e(&trade.out_trade_no),
                amount = e(&trade.total_amount),
            )
        };
        Reply::Html(
            200,
            frame(
                kiosk::i18n::Lang::EN,
                "Alipay sandbox - cashier",
                "",
                &format!(
                    "<p class=\"muted\">Alipay sandbox (local, no real money)</p>\
                     <h1>{subject}</h1><p style=\"font-size:2rem;margin:.5rem 0\">¥{amount}</p>\
                     <p class=\"muted\">Order {no} · {mode}</p>{buttons}",
                    subject = e(&trade.subject),
                    amount = e(&trade.total_amount),
                    no = e(&trade.out_trade_no),
                    mode = if method.ends_with("wap.pay") {
                        "mobile cashier"
                    } else {
                        "desktop cashier"
                    },
                ),
            ),
        )
    }

    /// The buyer pressed Pay: settle, notify (in the background, with retries), send the
    /// browser back with signed return parameters.
    /// With `lose_notification=1` the trade is paid but the shop is never notified (as
    /// when every notification fails), so only reconcile's query can find the payment.
    pub fn pay(self: &Arc<Self>, body: &str) -> Reply {
        let Ok(mut form) = parse_form(body) else {
            return error_page("40002", "isv.invalid-parameter", "not a form");
        };
        let Some(no) = form.remove("out_trade_no") else {
            return error_page("40002", "isv.invalid-parameter", "no out_trade_no");
        };
        let lose_notification = form.get("lose_notification").map(String::as_str) == Some("1");
        let Some(trade) = self.trade(&no) else {
            return error_page("40004", "ACQ.TRADE_NOT_EXIST", "no such trade");
        };
        if trade.status == TradeStatus::Closed {
            return error_page(
                "40004",
                "ACQ.TRADE_HAS_CLOSE",
                "this trade was closed and can no longer be paid",
            );
        }
        if trade.status == TradeStatus::WaitBuyerPay {
            self.set_status(&no, TradeStatus::Success);
            if !lose_notification {
                let me = self.clone();
                let t = trade.clone();
                tokio::spawn(async move { me.deliver_notification(t).await });
            }
        }
        let ret = self.sign_params(Params::from([
            ("app_id".into(), APP_ID.into()),
            ("auth_app_id".into(), APP_ID.into()),
            ("charset".into(), "utf-8".into()),
            ("method".into(), "alipay.trade.page.pay.return".into()),
            ("out_trade_no".into(), trade.out_trade_no.clone()),
            ("seller_id".into(), SELLER_ID.into()),
            (
                "timestamp".into(),
                beijing_seconds(kiosk::clock::now_exact()),
            ),
            ("total_amount".into(), trade.total_amount.clone()),
            ("trade_no".into(), trade.trade_no.clone()),
            ("version".into(), "1.0".into()),
        ]));
        Reply::Redirect(format!("{}?{}", trade.return_url, query_string(&ret)))
    }

    pub fn cancel(&self, body: &str) -> Reply {
        let no = parse_form(body)
            .ok()
            .and_then(|mut f| f.remove("out_trade_no"))
            .unwrap_or_default();
        let back = self
            .trade(&no)
            .and_then(|t| t.quit_url)
            .unwrap_or_else(|| "/".to_owned());
        Reply::Redirect(back)
    }

    fn notification(&self, t: &Trade) -> Params {
        self.sign_params(self.notification_fields(t))
    }

    /// A refund as Alipay reports it: on the trade's own notification, with `refund_fee`
    /// (the total refunded so far) and `gmt_refund`; TRADE_CLOSED once all is refunded.
    fn refund_notification(&self, t: &Trade, request_no: &str) -> Params {
        let mut p = self.notification_fields(t);
        let now = beijing_seconds(kiosk::clock::now_exact());
        let total = kiosk::Money::from_minor(t.refunded_minor, kiosk::Currency::Cny)
            .map(|m| m.to_decimal())
            .unwrap_or_default();
        p.insert("refund_fee".into(), total);
        p.insert("gmt_refund".into(), now);
        p.insert(
            "notify_id".into(),
            format!("sandbox-refund-{}-{request_no}", t.trade_no),
        );
        let status = if t.status == TradeStatus::Refunded {
            "TRADE_CLOSED"
        } else {
            "TRADE_SUCCESS"
        };
        p.insert("trade_status".into(), status.into());
        self.sign_params(p)
    }

    fn notification_fields(&self, t: &Trade) -> Params {
        let now = beijing_seconds(kiosk::clock::now_exact());
        Params::from([
            ("app_id".into(), APP_ID.into()),
            ("auth_app_id".into(), APP_ID.into()),
            ("buyer_id".into(), "2088102177846875".into()),
            ("charset".into(), "utf-8".into()),
            ("gmt_payment".into(), now.clone()),
            ("notify_id".into(), format!("sandbox-{}", t.trade_no)),
            ("notify_time".into(), now),
            ("notify_type".into(), "trade_status_sync".into()),
            ("out_trade_no".into(), t.out_trade_no.clone()),
            ("receipt_amount".into(), t.total_amount.clone()),
            ("seller_id".into(), SELLER_ID.into()),
            ("subject".into(), t.subject.clone()),
            ("total_amount".into(), t.total_amount.clone()),
            ("trade_no".into(), t.trade_no.clone()),
            ("trade_status".into(), "TRADE_SUCCESS".into()),
            ("version".into(), "1.0".into()),
        ])
    }

    /// POST the notification until the body is exactly `success`: three quick tries, then
    /// Alipay's schedule (4m, 10m, 10m, 1h, 2h, 6h, 15h) with each step one `retry_unit`.
    async fn deliver_notification(&self, t: Trade) {
        let params = self.notification(&t);
        self.deliver(t, params).await
    }

    async fn deliver(&self, t: Trade, params: Params) {
        let body = query_string(&params);
        let waits = [0u32, 0, 0, 1, 2, 2, 3, 4, 5, 6];
        for (attempt, steps) in waits.iter().enumerate() {
            tokio::time::sleep(self.retry_unit * *steps).await;
            let res = self
                .http
                .post(&t.notify_url)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .body(body.clone())
                .send()
                .await;
            let ok = match res {
                Ok(r) => r.text().await.map(|b| b == "success").unwrap_or(false),
                Err(_) => false,
            };
            if ok {
                if let Ok(mut d) = self.deliveries.lock() {
                    d.push((t.out_trade_no.clone(), attempt as u32 + 1));
                }
                return;
            }
            tracing::warn!(out_trade_no = %t.out_trade_no, attempt = attempt + 1, "sandbox: notification not acknowledged; will retry");
        }
    }

    /// `alipay.trade.refund`: refund part or all of a paid trade once per
    /// `out_request_no`, then notify the shop as Alipay does.
    fn refund(self: &Arc<Self>, biz: &serde_json::Value, t: Trade) -> serde_json::Value {
        let no = t.out_trade_no.clone();
        let fail = |sub: &str, msg: &str| serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": sub, "sub_msg": msg, "out_trade_no": no});
        let Some(request_no) = biz["out_request_no"].as_str().filter(|r| !r.is_empty()) else {
            return fail("ACQ.INVALID_PARAMETER", "out_request_no is missing");
        };
        let parse = |v: &str| {
            kiosk::Money::parse_decimal(v, kiosk::Currency::Cny)
                .ok()
                .map(|m| m.minor())
        };
        let (Some(amount), Some(total)) = (
            biz["refund_amount"].as_str().and_then(parse),
            parse(&t.total_amount),
        ) else {
            return fail("ACQ.INVALID_PARAMETER", "refund_amount is not an amount");
        };
        let fee = |minor: u64| {
            kiosk::Money::from_minor(minor, kiosk::Currency::Cny)
                .map(|m| m.to_decimal())
                .unwrap_or_default()
        };
        let Ok(mut trades) = self.trades.lock() else {
            return fail("ACQ.SYSTEM_ERROR", "busy");
        };
        let Some(trade) = trades.get_mut(&no) else {
            return fail("ACQ.TRADE_NOT_EXIST", "no such trade");
        };
        if trade.refund_requests.contains_key(request_no) {
            // The same request again: nothing more is refunded.
            return serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": trade.trade_no,
                "refund_fee": fee(trade.refunded_minor), "fund_change": "N"});
        }
        if trade.status != TradeStatus::Success {
            return fail("ACQ.TRADE_STATUS_ERROR", "the trade cannot be refunded");
        }
        if amount == 0 || trade.refunded_minor + amount > total {
            return fail(
                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "more than is left to refund",
            );
        }
        trade.refunded_minor += amount;
        trade.refund_requests.insert(request_no.to_owned(), amount);
        if trade.refunded_minor == total {
            trade.status = TradeStatus::Refunded;
        }
        let after = trade.clone();
        drop(trades);
        let params = self.refund_notification(&after, request_no);
        let me = self.clone();
        let t2 = after.clone();
        tokio::spawn(async move { me.deliver(t2, params).await });
        serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": after.trade_no,
            "refund_fee": fee(after.refunded_minor), "fund_change": "Y"})
    }

    /// `POST gateway.do`: an API call (query, close, refund), answered with a signed reply.
    pub fn api(self: &Arc<Self>, body: &str) -> Reply {
        let unsigned_error = |sub: &str, msg: &str| {
            Reply::Json(serde_json::json!({"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub, "sub_msg": msg}}).to_string())
        };
        let Ok(p) = parse_form(body) else {
            return unsigned_error("isv.invalid-parameter", "not a form");
        };
        if let Err(msg) = self.verify(&p) {
            return unsigned_error("isv.invalid-signature", msg);
        }
        let method = p.get("method").cloned().unwrap_or_default();
        let biz: serde_json::Value = p
            .get("biz_content")
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_default();
        let no = biz["out_trade_no"].as_str().unwrap_or_default().to_owned();
        let not_exist = serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在", "out_trade_no": no});
        let inner = match (method.as_str(), self.trade(&no)) {
            (_, None) => not_exist,
            ("alipay.trade.query", Some(t)) => serde_json::json!({
                "code": "10000", "msg": "Success", "out_trade_no": t.out_trade_no, "trade_no": t.trade_no,
                "total_amount": t.total_amount, "buyer_logon_id": "buy***@example.com",
                "trade_status": match t.status {
                    TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
                    TradeStatus::Success => "TRADE_SUCCESS",
                    TradeStatus::Closed | TradeStatus::Refunded => "TRADE_CLOSED",
                }
            }),
            ("alipay.trade.close", Some(t)) if t.status == TradeStatus::WaitBuyerPay => {
                self.set_status(&no, TradeStatus::Closed);
                serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": t.out_trade_no, "trade_no": t.trade_no})
            }
            ("alipay.trade.refund", Some(t)) => {
                let made = self.refund(&biz, t);
                let fault = self
                    .refund_faults
                    .lock()
                    .ok()
                    .and_then(|mut f| (!f.is_empty()).then(|| f.remove(0)));
                match fault {
                    Some(crate::reply::Fault::LoseAnswer | crate::reply::Fault::Outage(_)) => {
                        return Reply::Dropped;
                    }
                    Some(crate::reply::Fault::ServerError) => {
                        return Reply::Html(502, "<h1>502 Bad Gateway</h1>".into());
                    }
                    None => made,
                }
            }
            ("alipay.trade.close", Some(t)) => serde_json::json!({
                "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法", "out_trade_no": t.out_trade_no
            }),
            _ => return unsigned_error("isv.invalid-method", "unsupported method"),
        };
        let slice = inner.to_string();
        let sign = self.signer.sign(slice.as_bytes()).unwrap_or_default();
        let member = format!("{}_response", method.replace('.', "_"));
        Reply::Json(format!(
            "{{\"{member}\":{slice},\"sign\":{}}}",
            serde_json::Value::String(sign)
        ))
    }
}
