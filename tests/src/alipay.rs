//! Alipay's notifications and returns as the gateway sends them, signed like it.

use kiosk::alipay::{AppPrivateKey, Params, query_string, string_to_sign_callback};
use lambda_http::{Body, Response};

use crate::*;

/// The fields of an asynchronous notification as Alipay sends them (unsigned).
pub struct AlipayNotify<'a> {
    pub order_id: &'a str,
    pub amount: &'a str,
    pub status: &'a str,
    pub subject: &'a str,
    pub notify_id: &'a str,
    pub trade_no: &'a str,
}

impl AlipayNotify<'_> {
    pub fn params(&self) -> Params {
        [
            ("app_id", APP_ID),
            ("auth_app_id", APP_ID),
            ("buyer_id", "2088102177846875"),
            ("charset", "utf-8"),
            ("gmt_payment", "2026-11-21 18:30:19"),
            ("notify_id", self.notify_id),
            ("notify_time", "2026-11-21 18:30:20"),
            ("notify_type", "trade_status_sync"),
            ("out_trade_no", self.order_id),
            ("receipt_amount", self.amount),
            ("seller_id", SELLER_ID),
            ("subject", self.subject),
            ("total_amount", self.amount),
            ("trade_no", self.trade_no),
            ("trade_status", self.status),
            ("version", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// The parameters of a page-pay browser return (unsigned).
pub fn return_params(order_id: &str, amount: &str, trade_no: &str) -> Params {
    [
        ("app_id", APP_ID),
        ("auth_app_id", APP_ID),
        ("charset", "utf-8"),
        ("method", "alipay.trade.page.pay.return"),
        ("out_trade_no", order_id),
        ("seller_id", SELLER_ID),
        ("timestamp", "2026-11-21 18:30:25"),
        ("total_amount", amount),
        ("trade_no", trade_no),
        ("version", "1.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn sign_callback(mut p: Params, key: &AppPrivateKey) -> Params {
    p.remove("sign");
    p.insert("sign_type".into(), "RSA2".into());
    let sign = key
        .sign(string_to_sign_callback(&p).as_bytes())
        .expect("sign");
    p.insert("sign".into(), sign);
    p
}

pub fn form(p: &Params) -> String {
    query_string(p)
}

pub fn body_string(resp: &Response<Body>) -> String {
    String::from_utf8_lossy(resp.body().as_ref()).into_owned()
}
