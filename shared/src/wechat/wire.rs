//! WeChat Pay API v3's JSON, as typed structs: what Kiosk sends (Native and H5 orders,
//! close, refund) and what it reads (answers, notifications, their decrypted resources).
//! Amounts are integers in fen; Kiosk sells through WeChat Pay in CNY only. Unknown
//! fields are ignored (WeChat Pay adds fields without notice); a missing required one
//! fails the parse.

use serde::{Deserialize, Serialize};

/// The longest `out_trade_no` WeChat Pay takes (and the shortest).
pub const OUT_TRADE_NO_LEN: std::ops::RangeInclusive<usize> = 6..=32;
/// The longest `description` WeChat Pay takes, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 127;
/// The longest `out_refund_no`.
pub const OUT_REFUND_NO_MAX: usize = 64;

/// `out_trade_no`, `out_refund_no`: letters, digits and `_-|*@` only.
pub fn valid_merchant_no(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAmount {
    pub total: u64,
    pub currency: String,
}

/// `h5_info` of an H5 order: a phone's browser (`Wap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct H5Info {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneInfo {
    /// The buyer's address as the shop saw it: H5 pay requires it.
    pub payer_client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h5_info: Option<H5Info>,
}

/// `POST /v3/pay/transactions/native` and `/h5` (H5 adds `scene_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    /// RFC 3339, `+08:00` as WeChat Pay's examples.
    pub time_expire: String,
    pub notify_url: String,
    pub amount: OrderAmount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<SceneInfo>,
}

/// Native pay's answer: the URL the QR code encodes (`weixin://wxpay/bizpayurl?pr=…`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NativeAnswer {
    pub code_url: String,
}

/// H5 pay's answer: the cashier page a phone's browser is sent to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct H5Answer {
    pub h5_url: String,
}

/// `POST /v3/pay/transactions/out-trade-no/{no}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    pub mchid: String,
}

/// A refused request: `{"code":"ORDER_NOT_EXIST","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorAnswer {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidAmount {
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<u64>,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// A payment's state at WeChat Pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeState {
    Success,
    /// Paid, then refunded (in part or in full).
    Refund,
    NotPay,
    Closed,
    Revoked,
    UserPaying,
    PayError,
}

/// A transaction: the answer to a query by `out_trade_no`, and the decrypted resource
/// of a `TRANSACTION.SUCCESS` notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    /// WeChat Pay's id for the payment: present once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    pub trade_state: TradeState,
    #[serde(default)]
    pub trade_state_desc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Absent for an order nobody paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<PaidAmount>,
}

/// `POST /v3/refund/domestic/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRefund {
    pub out_trade_no: String,
    pub out_refund_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub amount: RefundRequestAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestAmount {
    pub refund: u64,
    pub total: u64,
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Success,
    Closed,
    Processing,
    Abnormal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// The payment's whole amount.
    pub total: u64,
    /// This refund's amount.
    pub refund: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// A refund: the answer to a refund request or a lookup by `out_refund_no`, and the
/// decrypted resource of a `REFUND.*` notification (which names `refund_status` where
/// the answer names `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    #[serde(alias = "refund_status")]
    pub status: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    pub amount: RefundAmount,
}

/// A notification as WeChat Pay POSTs it; its `resource` is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification's id: the same across WeChat Pay's retries.
    pub id: String,
    pub create_time: String,
    pub event_type: String,
    pub resource_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: Resource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
    #[serde(default)]
    pub original_type: String,
}
