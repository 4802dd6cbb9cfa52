//! Domain types <-> DynamoDB items (docs/architecture.md, "Data model"). Every key prefix and attribute name the
//! table uses is written here and nowhere else.
//!
//! Over 400 lines: by design the one file that names every key and attribute, so one
//! entity's encode and decode sit side by side.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use time::{Duration, OffsetDateTime};

use super::StoreError;
use crate::email::Email;
use crate::grant::Grant;
use crate::i18n::Lang;
use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::license::{IssuedLicense, LicenseKey, LicenseRecord};
use crate::money::{Currency, Money};
use crate::order::{
    ChannelKind, Dispute, Granted, MailBlock, MailState, Order, OrderState, OrderStatus,
    RefundRequest, Refunded, RefundedPayment, Settlement, Source,
};
use crate::pricing::{Code, CodeName, Discount};
use crate::product::{Edition, FileRef, FileSet, Product};
use crate::visit::Name;

pub type Item = HashMap<String, AttributeValue>;

/// How long an expired order is kept before DynamoDB's TTL deletes it. Long enough that
/// Alipay's last notification retry (about a day after payment) still finds the order and
/// a late payment is honoured.
pub const UNPAID_RETENTION: Duration = Duration::days(7);

/// The attribute names the store's conditional updates, queries and filters use, named
/// once here beside the writers and readers below (which use them too), so an
/// expression elsewhere in the store can only name an attribute this module writes.
pub mod attr {
    pub const AMOUNT_MINOR: &str = "amount_minor";
    pub const CODE: &str = "code";
    pub const LIST_MINOR: &str = "list_minor";
    pub const USES: &str = "uses";
    pub const REFUNDED: &str = "refunded";
    pub const ISSUED_AT: &str = "issued_at";
    pub const MAX_USES: &str = "max_uses";
    pub const DISABLED: &str = "disabled";
    pub const PREVIOUS_EMAILS: &str = "previous_emails";
    /// Why mail to an order's address stopped (`BOUNCED`, `COMPLAINED`), when, and SES's
    /// words for it.
    pub const MAIL_BLOCK: &str = "mail_block";
    pub const MAIL_BLOCK_AT: &str = "mail_block_at";
    pub const MAIL_BLOCK_DETAIL: &str = "mail_block_detail";
    pub const CHECK_AT: &str = "check_at";
    pub const CHECKS: &str = "checks";
    pub const COUNT: &str = "count";
    pub const CREATED_AT: &str = "created_at";
    pub const CURRENCY: &str = "currency";
    pub const DISPUTE: &str = "dispute";
    pub const DOWNLOADS_LEFT: &str = "downloads_left";
    pub const DOWNLOAD_LIMIT: &str = "download_limit";
    pub const EMAIL: &str = "email";
    pub const ENTITY: &str = "entity";
    pub const EXPIRES_AT: &str = "expires_at";
    /// The buyer's language tag (orders and grants).
    pub const LANG: &str = "lang";
    /// The A/B variants an order's buyer saw.
    pub const VARIANTS: &str = "variants";
    /// The source and visitor of the page view an order came from ([`crate::order::Visit`]).
    pub const VISIT_SOURCE: &str = "visit_source";
    pub const VISITOR: &str = "visitor";
    /// A dispute that named a payment before the payment was recorded, kept on the
    /// payment id's lookup item until it is ([`crate::store::Store::hold_dispute`]).
    pub const HELD_DISPUTE: &str = "held_dispute";
    pub const FAILURES: &str = "failures";
    pub const GRANT_TOKEN: &str = "grant_token";
    pub const GRANT_TOKENS: &str = "grant_tokens";
    pub const LAST_ERROR: &str = "last_error";
    pub const MAIL_ATTEMPTS: &str = "mail_attempts";
    pub const MAIL_DUE: &str = "mail_due";
    pub const MAIL_FAILED_AT: &str = "mail_failed_at";
    pub const MAIL_NEXT_AT: &str = "mail_next_at";
    pub const MAIL_SENT_AT: &str = "mail_sent_at";
    pub const LICENSE_KEY: &str = "license_key";
    pub const LICENSE_SIGNED: &str = "license_signed";
    pub const SEATS: &str = "seats";
    pub const MAIL_STATE: &str = "mail_state";
    pub const ORDER_ID: &str = "order_id";
    pub const PAID_AT: &str = "paid_at";
    pub const PENDING: &str = "pending";
    pub const PK: &str = "pk";
    pub const PRODUCT_ID: &str = "product_id";
    pub const PROVIDER_TXN_ID: &str = "provider_txn_id";
    pub const REFUND_REQ_AT: &str = "refund_req_at";
    pub const REFUND_REQ_MINOR: &str = "refund_req_minor";
    pub const REFUND_REQ_NO: &str = "refund_req_no";
    pub const REFUND_REQ_SEQ: &str = "refund_req_seq";
    pub const REFUND_SEQ: &str = "refund_seq";
    pub const REFUND_LAST_NO: &str = "refund_last_no";
    pub const REFUND_LAST_MINOR: &str = "refund_last_minor";
    pub const REFUND_LAST_AT: &str = "refund_last_at";
    pub const REFUNDED_AT: &str = "refunded_at";
    pub const REFUNDED_MINOR: &str = "refunded_minor";
    pub const REVOKED: &str = "revoked";
    pub const SENT_AT: &str = "sent_at";
    pub const STATE: &str = "state";
    pub const STATUS: &str = "status";
    pub const SUSPENDED: &str = "suspended";
    pub const TTL: &str = "ttl";
    pub const UNTIL: &str = "until";
}

/// The values of an order's `mail_state` ([`MailState`]).
pub mod mail_state {
    pub const NOT_DUE: &str = "NOT_DUE";
    pub const DUE: &str = super::MAIL_DUE_MARK;
    pub const SENT: &str = "SENT";
    pub const FAILED: &str = "FAILED";
}

/// The values of a new-edition mail record's `state`.
pub mod edition_state {
    pub const SENDING: &str = "SENDING";
    pub const SENT: &str = "SENT";
    pub const FAILED: &str = "FAILED";
}

/// The condition of a put that must create its item, and of one that must replace it.
pub const NEW_ITEM: &str = "attribute_not_exists(pk)";
pub const EXISTING_ITEM: &str = "attribute_exists(pk)";

pub const PENDING_MARK: &str = "PENDING";
pub const MAIL_DUE_MARK: &str = "DUE";

pub fn product_key(id: &ProductId) -> Item {
    key(format!("PRODUCT#{id}"), "PRODUCT")
}
pub fn order_key(id: &OrderId) -> Item {
    key(format!("ORDER#{id}"), "ORDER")
}
pub fn grant_key(token: &DownloadToken) -> Item {
    key(format!("GRANT#{}", token.expose()), "GRANT")
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub fn ts(t: OffsetDateTime) -> AttributeValue {
    n(t.unix_timestamp())
}

struct Builder(Item);

impl Builder {
    fn new(key: Item, entity: &str) -> Self {
        let mut item = key;
        item.insert(attr::ENTITY.into(), s(entity));
        Builder(item)
    }
    fn s(mut self, k: &str, v: impl Into<String>) -> Self {
        self.0.insert(k.into(), s(v));
        self
    }
    fn n(mut self, k: &str, v: impl ToString) -> Self {
        self.0.insert(k.into(), n(v));
        self
    }
    fn ts(self, k: &str, t: OffsetDateTime) -> Self {
        self.n(k, t.unix_timestamp())
    }
    fn opt_s(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) if !v.is_empty() => self.s(k, v),
            _ => self,
        }
    }
    fn opt_ts(self, k: &str, t: Option<OffsetDateTime>) -> Self {
        match t {
            Some(t) => self.ts(k, t),
            None => self,
        }
    }
    fn opt_n(self, k: &str, v: Option<u64>) -> Self {
        match v {
            Some(v) => self.n(k, v),
            None => self,
        }
    }
    /// A string set; left out when empty (DynamoDB has no empty sets).
    fn tokens(mut self, k: &str, v: &[DownloadToken]) -> Self {
        if !v.is_empty() {
            self.0.insert(
                k.into(),
                AttributeValue::Ss(v.iter().map(|t| t.expose().to_owned()).collect()),
            );
        }
        self
    }
    fn counts(mut self, v: &[u32]) -> Self {
        for (i, n) in v.iter().enumerate() {
            self = self.n(&downloads_left_attr(i), *n);
        }
        self
    }
    /// A product's or order's license seats; left out without a license.
    fn seats(self, seats: Option<crate::product::Seats>) -> Self {
        self.opt_n(LICENSE_SEATS, seats.map(|s| u64::from(s.get())))
    }
    /// An order's or grant's issued license.
    fn license(self, license: Option<&IssuedLicense>) -> Self {
        self.opt_s(attr::LICENSE_KEY, license.map(|l| l.key.expose()))
            .opt_s(
                attr::LICENSE_SIGNED,
                license.and_then(|l| l.signed.as_deref()),
            )
    }
    fn bool(mut self, k: &str, v: bool) -> Self {
        self.0.insert(k.into(), AttributeValue::Bool(v));
        self
    }
    /// An edition's files: the first in `file_*` (where a one-file product always kept
    /// it, so items written before several files read as a set of one), the others in
    /// `more_files`, a list of maps; the stamping flag beside them.
    fn files(mut self, set: &FileSet, stamp: bool) -> Self {
        let f = set.first();
        let more: Vec<AttributeValue> = set
            .iter()
            .skip(1)
            .map(|f| {
                let mut m = Builder(HashMap::new())
                    .s("key", &f.key)
                    .s("name", &f.name)
                    .s("type", &f.content_type)
                    .opt_s("sha256", f.sha256.as_deref())
                    .opt_n("size", f.size)
                    .0;
                m.shrink_to_fit();
                AttributeValue::M(m)
            })
            .collect();
        if !more.is_empty() {
            self.0.insert(MORE_FILES.into(), AttributeValue::L(more));
        }
        self.s("file_key", &f.key)
            .s("file_name", &f.name)
            .s("content_type", &f.content_type)
            .opt_s("file_sha256", f.sha256.as_deref())
            .opt_n("file_size", f.size)
            .bool(STAMP, stamp)
    }
}

pub fn product_item(p: &Product, now: OffsetDateTime) -> Item {
    Builder::new(product_key(p.id()), "product")
        .s(attr::PRODUCT_ID, p.id().as_str())
        .s("title", p.title())
        .n("price_minor", p.price().minor())
        .s(attr::CURRENCY, p.price().currency().code())
        .s("edition", p.edition().as_str())
        .files(p.files(), p.stamp())
        .seats(p.license())
        .n("download_limit", p.download_limit())
        .opt_n("min_minor", p.pay_what_you_want().map(|b| b.min.minor()))
        .opt_n("max_minor", p.pay_what_you_want().map(|b| b.max.minor()))
        .ts("updated_at", now)
        .0
}

pub fn order_item(o: &Order) -> Item {
    let mut b = Builder::new(order_key(&o.id), "order")
        .s(attr::ORDER_ID, o.id.as_str())
        .s(attr::PRODUCT_ID, o.product_id.as_str())
        .s("product_title", &o.product_title)
        .s("edition", o.edition.as_str())
        .files(&o.files, o.stamp)
        .seats(o.license_seats)
        .license(o.license.as_ref())
        .n("download_limit", o.download_limit)
        .s(attr::EMAIL, o.email.as_str())
        .n(attr::AMOUNT_MINOR, o.amount.minor())
        .s(attr::CURRENCY, o.amount.currency().code())
        .n(attr::LIST_MINOR, o.list_price.minor())
        .opt_s(attr::CODE, o.code.as_ref().map(CodeName::as_str))
        .s("channel", o.channel.as_str())
        .s(attr::STATUS, o.status().as_str())
        .opt_s(attr::PROVIDER_TXN_ID, o.provider_txn_id())
        .opt_s("checkout_ref", o.checkout_ref.as_deref())
        .opt_s("pay_code", o.pay_code.as_deref())
        .ts(attr::CREATED_AT, o.created_at)
        .ts(attr::EXPIRES_AT, o.expires_at)
        .opt_ts(attr::PAID_AT, o.paid_at())
        .opt_ts(attr::REFUNDED_AT, o.refunded_at())
        .opt_n(attr::REFUNDED_MINOR, o.refunded.map(|m| m.minor()))
        .tokens(attr::GRANT_TOKENS, &o.grant_tokens)
        .opt_s("grant_token", o.grant_token().map(DownloadToken::expose))
        .opt_s("utm_source", o.source.utm_source.as_deref())
        .opt_s("utm_medium", o.source.utm_medium.as_deref())
        .opt_s("utm_campaign", o.source.utm_campaign.as_deref())
        .opt_s("referrer", o.source.referrer.as_deref())
        .opt_s(
            attr::VISIT_SOURCE,
            o.source.visit.as_ref().map(|v| v.source.as_str()),
        )
        .opt_s(
            attr::VISITOR,
            o.source.visit.as_ref().map(|v| v.visitor.as_str()),
        )
        .opt_s(attr::DISPUTE, o.dispute.map(Dispute::as_str))
        .opt_s(
            attr::MAIL_BLOCK,
            o.mail_block.as_ref().map(|b| b.kind.as_str()),
        )
        .opt_ts(attr::MAIL_BLOCK_AT, o.mail_block.as_ref().map(|b| b.at))
        .opt_s(
            attr::MAIL_BLOCK_DETAIL,
            o.mail_block.as_ref().map(|b| b.detail.as_str()),
        )
        .opt_s(attr::LANG, o.lang.map(Lang::tag))
        .opt_s(
            attr::VARIANTS,
            (!o.variants.is_empty())
                .then(|| variants_text(&o.variants))
                .as_deref(),
        );
    if !o.previous_emails.is_empty() {
        b.0.insert(
            attr::PREVIOUS_EMAILS.into(),
            AttributeValue::L(o.previous_emails.iter().map(|e| s(e.as_str())).collect()),
        );
    }
    if o.refund_seq > 0 {
        b = b.n(attr::REFUND_SEQ, o.refund_seq);
    }
    if let Some(r) = &o.refund_request {
        b = b
            .s(attr::REFUND_REQ_NO, &r.request_no)
            .n(attr::REFUND_REQ_MINOR, r.amount.minor())
            .n(attr::REFUND_REQ_SEQ, r.seq);
    }
    if let Some(l) = &o.last_refund {
        b = b
            .s(attr::REFUND_LAST_NO, &l.request.request_no)
            .n(attr::REFUND_LAST_MINOR, l.request.amount.minor())
            .ts(attr::REFUND_LAST_AT, l.at);
    }
    b = match o.mail {
        MailState::NotDue => b.s(attr::MAIL_STATE, mail_state::NOT_DUE),
        MailState::Due { attempts, next_at } => b
            .s(attr::MAIL_STATE, mail_state::DUE)
            .s(attr::MAIL_DUE, MAIL_DUE_MARK)
            .n(attr::MAIL_ATTEMPTS, attempts)
            .ts(attr::MAIL_NEXT_AT, next_at),
        MailState::Sent { at } => b
            .s(attr::MAIL_STATE, mail_state::SENT)
            .ts(attr::MAIL_SENT_AT, at),
        MailState::Failed { attempts, at } => b
            .s(attr::MAIL_STATE, mail_state::FAILED)
            .n(attr::MAIL_ATTEMPTS, attempts)
            .ts(attr::MAIL_FAILED_AT, at),
    };
    // No TTL while pending: a pending order may have been paid with every notification
    // lost, and only reconcile, having asked the provider, may let it go (expiring it
    // sets the TTL).
    match o.status() {
        OrderStatus::Pending => b = b.s(attr::PENDING, PENDING_MARK),
        OrderStatus::Expired => b = b.ts(attr::TTL, o.expires_at + UNPAID_RETENTION),
        OrderStatus::Paid | OrderStatus::Refunded => {}
    }
    b.0
}

/// How long a handled provider event is remembered.
pub const EVENT_RETENTION: Duration = Duration::days(30);

pub fn event_item(
    channel: ChannelKind,
    event_id: &str,
    order: &OrderId,
    now: OffsetDateTime,
) -> Item {
    Builder::new(
        key(format!("EVENT#{}#{event_id}", channel.as_str()), "EVENT"),
        "event",
    )
    .s(attr::ORDER_ID, order.as_str())
    .ts("handled_at", now)
    .ts(attr::TTL, now + EVENT_RETENTION)
    .0
}

/// Where a provider's payment id leads: written with the payment, so a provider event
/// that names only its payment (Stripe's `charge.refunded` names the PaymentIntent)
/// finds its order with one read.
pub fn txn_key(channel: ChannelKind, txn: &str) -> Item {
    key(format!("TXN#{}#{txn}", channel.as_str()), "TXN")
}

pub fn txn_item(channel: ChannelKind, txn: &str, order: &OrderId) -> Item {
    Builder::new(txn_key(channel, txn), "txn")
        .s(attr::ORDER_ID, order.as_str())
        .0
}

// The visitor funnel's items (in the visits table: `store/visits.rs` says what each
// holds). Their keys are made and read here, like every other item's.

/// The partition of the daily salts.
pub const SALT_PK: &str = "SALT";

/// `SALT` / `DAY#{day}`: one UTC day's salt.
pub fn salt_key(day: time::Date) -> Item {
    key(SALT_PK.to_owned(), &format!("DAY#{day}"))
}

/// The day of a salt's sort key (`DAY#{day}`).
pub fn salt_day(sk: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(sk.strip_prefix("DAY#")?, format).ok()
}

/// `SECRET` / `VARIANTS`: the stable secret A/B variants are chosen under.
pub fn variant_secret_key() -> Item {
    key("SECRET".to_owned(), "VARIANTS")
}

/// `VISIT#{day}#{visitor}` / `VISIT`: the products a visitor was counted for that day.
pub fn visit_key(day: time::Date, visitor: &crate::visit::VisitorId) -> Item {
    key(format!("VISIT#{day}#{}", visitor.as_str()), "VISIT")
}

/// `SOURCES#{day}` / `SOURCES`: the day's sources with a counter row of their own.
pub fn sources_key(day: time::Date) -> Item {
    key(format!("SOURCES#{day}"), "SOURCES")
}

/// A day's view-counter partitions: the unsharded one shops wrote before, then each
/// shard's (`VIEWS#{day}#{shard}`).
pub fn views_partitions(day: time::Date, shards: u8) -> Vec<String> {
    std::iter::once(format!("VIEWS#{day}"))
        .chain((0..shards).map(|i| format!("VIEWS#{day}#{i}")))
        .collect()
}

/// A view-counter row: a source's (`S#{source}`) or a test's (`T#{test}`) in shard
/// `shard` of `day`, whose attributes are `v:{cell}` and `u:{cell}`.
pub fn views_key(day: time::Date, shard: u8, row: &ViewsRow<'_>) -> Item {
    let sk = match row {
        ViewsRow::Source(source) => format!("S#{source}"),
        ViewsRow::Test(test) => format!("T#{test}"),
    };
    key(format!("VIEWS#{day}#{shard}"), &sk)
}

/// Which counter row a page view raises.
#[derive(Debug, Clone, Copy)]
pub enum ViewsRow<'a> {
    Source(&'a str),
    Test(&'a str),
}

/// A source row's cell is the product; a test row's, `{product}:{variant}`.
pub fn test_cell(product: &crate::ids::ProductId, variant: &crate::visit::Name) -> String {
    format!("{product}:{variant}")
}

/// A cell's two counters on its row: views (`v:{cell}`) and new visitors (`u:{cell}`).
pub fn view_attrs(cell: &str) -> (String, String) {
    (format!("v:{cell}"), format!("u:{cell}"))
}

/// One counted cell of a day, as the funnel reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViewCell {
    /// Views of `product` from `source`.
    Source { product: String, source: String },
    /// Views of `product` that showed `variant` of `test`.
    Test {
        product: String,
        test: String,
        variant: String,
    },
}

impl ViewCell {
    /// The cell an attribute (`v:{cell}` or `u:{cell}`: `true` for views) of row `sk`
    /// counts; `None` for anything else. Rows written before the counters were sharded
    /// are `P#{product}#S#{source}` and `P#{product}#T#{test}#{variant}` themselves
    /// ([`ViewCell::legacy`]).
    pub fn of_attribute(sk: &str, attr: &str) -> Option<(ViewCell, bool)> {
        let (is_views, cell) = match attr.split_once(':')? {
            ("v", cell) => (true, cell),
            ("u", cell) => (false, cell),
            _ => return None,
        };
        let cell = if let Some(source) = sk.strip_prefix("S#") {
            ViewCell::Source {
                product: cell.to_owned(),
                source: source.to_owned(),
            }
        } else if let Some(test) = sk.strip_prefix("T#") {
            let (product, variant) = cell.split_once(':')?;
            ViewCell::Test {
                product: product.to_owned(),
                test: test.to_owned(),
                variant: variant.to_owned(),
            }
        } else {
            return None;
        };
        Some((cell, is_views))
    }

    /// The cell of an unsharded row (`sk` = `P#…`), if it is one.
    pub fn legacy(sk: &str) -> Option<ViewCell> {
        let mut parts = sk.splitn(4, '#');
        match (parts.next()?, parts.next()?, parts.next()?, parts.next()?) {
            ("P", product, "S", source) => Some(ViewCell::Source {
                product: product.to_owned(),
                source: source.to_owned(),
            }),
            ("P", product, "T", rest) => {
                let (test, variant) = rest.split_once('#')?;
                Some(ViewCell::Test {
                    product: product.to_owned(),
                    test: test.to_owned(),
                    variant: variant.to_owned(),
                })
            }
            _ => None,
        }
    }

    pub fn product(&self) -> &str {
        match self {
            ViewCell::Source { product, .. } | ViewCell::Test { product, .. } => product,
        }
    }
}

impl std::fmt::Display for ViewCell {
    /// `P#{product}#S#{source}` or `P#{product}#T#{test}#{variant}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ViewCell::Source { product, source } => write!(f, "P#{product}#S#{source}"),
            ViewCell::Test {
                product,
                test,
                variant,
            } => write!(f, "P#{product}#T#{test}#{variant}"),
        }
    }
}

/// How long a dispute of a payment not recorded yet is kept for it (a payment is recorded
/// within days of its checkout; a dispute of another integration's payment is dropped).
pub const DISPUTE_HOLD: Duration = Duration::days(30);

/// Discount codes share one partition, `CODES`, keyed by name: `kiosk code list` is one
/// query, and the checkout function's policy names one leading key.
pub const CODES_PK: &str = "CODES";

pub fn code_key(name: &CodeName) -> Item {
    key(CODES_PK.to_owned(), name.as_str())
}

pub fn code_item(c: &Code) -> Item {
    let (percent, off) = match c.discount() {
        Discount::Percent(p) => (Some(u64::from(p)), None),
        Discount::Off(m) => (None, Some(m)),
    };
    let products: Vec<&str> = c.products().iter().map(ProductId::as_str).collect();
    Builder::new(code_key(c.name()), "code")
        .opt_n("percent", percent)
        .opt_n("off_minor", off.map(Money::minor))
        .opt_s(attr::CURRENCY, off.map(|m| m.currency().code()))
        .opt_s(
            "products",
            (!products.is_empty())
                .then(|| products.join(","))
                .as_deref(),
        )
        .opt_n(attr::MAX_USES, c.max_uses().map(u64::from))
        .n(attr::USES, c.uses())
        .opt_ts(attr::EXPIRES_AT, c.expires_at())
        .bool(attr::DISABLED, c.disabled())
        .ts(attr::CREATED_AT, c.created_at())
        .0
}

pub fn code_from(item: &Item) -> Result<Code, StoreError> {
    let r = Reader::new(item, "code");
    let name = CodeName::parse(r.s("sk")?).ok_or_else(|| r.corrupt("sk", "not a code"))?;
    let discount = match (r.opt_n::<u8>("percent")?, r.opt_n::<u64>("off_minor")?) {
        (Some(p), None) if (1..=100).contains(&p) => Discount::Percent(p),
        (None, Some(minor)) => Discount::Off(
            Money::from_minor(minor, r.parse(attr::CURRENCY)?)
                .map_err(|e| r.corrupt("off_minor", &e.to_string()))?,
        ),
        _ => return Err(r.corrupt("code", "needs one of percent (1-100) and off_minor")),
    };
    let products = match r.opt_s("products")? {
        Some(list) => list
            .split(',')
            .map(|p| ProductId::parse(p).map_err(|_| r.corrupt("products", "not a product id")))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let spec = crate::pricing::NewCode {
        name,
        discount,
        products,
        max_uses: r.opt_n(attr::MAX_USES)?,
        expires_at: r.opt_ts(attr::EXPIRES_AT)?,
    };
    Ok(Code::stored(
        spec,
        r.n(attr::USES)?,
        r.bool(attr::DISABLED)?,
        r.ts(attr::CREATED_AT)?,
    ))
}

/// "Resend my links" rate limit for one address: no new mail before `until`.
/// The "resend my links" slot of one address from one network. (Addresses are stored
/// lowercase, so they cannot collide with the upper-case `NET#`/`DAY#` keys below.)
pub fn resend_item(email: &Email, network: &str, until: OffsetDateTime) -> Item {
    Builder::new(key(format!("RESEND#{email}#{network}"), "RESEND"), "resend")
        .ts(attr::UNTIL, until)
        .ts(attr::TTL, until + Duration::days(1))
        .0
}

/// The counter of `counter`'s requests from `network` in the window starting `window`
/// (`RESEND#NET#...`, `CHECKOUT#NET#...`).
pub fn network_counter_key(
    counter: crate::net::NetworkCounter,
    network: &str,
    window: OffsetDateTime,
) -> Item {
    let prefix = counter.key_prefix();
    key(
        format!("{prefix}#NET#{network}#{}", window.unix_timestamp()),
        prefix,
    )
}

/// The one record of SES's report about an address (`MAILBLOCK#{email}`): read where
/// mail is sent, written once per report whatever the address's order count.
pub fn address_block_key(email: &Email) -> Item {
    key(format!("MAILBLOCK#{email}"), "MAILBLOCK")
}

/// An address block item's record.
pub fn mail_block_from(item: &Item) -> Result<crate::order::MailBlock, StoreError> {
    let r = Reader::new(item, "mail block");
    let kind = match r.s(attr::MAIL_BLOCK)? {
        "BOUNCED" => crate::order::MailBlockKind::Bounced,
        "COMPLAINED" => crate::order::MailBlockKind::Complained,
        _ => return Err(r.corrupt(attr::MAIL_BLOCK, "unknown value")),
    };
    Ok(crate::order::MailBlock {
        kind,
        at: r.ts(attr::MAIL_BLOCK_AT)?,
        detail: r
            .opt_s(attr::MAIL_BLOCK_DETAIL)?
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The shop-wide counter of `counter` in the `span`-second window starting `window`
/// (`FREE#SHOP#3600#...`).
pub fn shop_counter_key(
    counter: crate::net::NetworkCounter,
    span: i64,
    window: OffsetDateTime,
) -> Item {
    let prefix = counter.key_prefix();
    key(
        format!("{prefix}#SHOP#{span}#{}", window.unix_timestamp()),
        prefix,
    )
}

/// The pending use of discount code `code` that one network holds: the order holding
/// it (`HOLD#{CODE}#{network tag}`).
pub fn code_hold_key(code: &CodeName, network: &str) -> Item {
    key(format!("HOLD#{code}#{network}"), "HOLD")
}

/// The counter of `counter`'s mails to `email` in the window starting `window`
/// (`RESEND#DAY#...`, `FREE#DAY#...`).
pub fn address_counter_key(
    counter: crate::net::NetworkCounter,
    email: &Email,
    window: OffsetDateTime,
) -> Item {
    let prefix = counter.key_prefix();
    key(
        format!("{prefix}#DAY#{}#{email}", window.unix_timestamp()),
        prefix,
    )
}

/// The attribute counting a grant's downloads left of file `i`: `downloads_left` for the
/// first (the one a grant made before several files had), `downloads_left_{i}` after.
pub fn downloads_left_attr(i: usize) -> String {
    match i {
        0 => attr::DOWNLOADS_LEFT.to_owned(),
        i => format!("{}_{i}", attr::DOWNLOADS_LEFT),
    }
}

/// An edition's files after the first (`files`).
const MORE_FILES: &str = "more_files";
/// Whether a product's, order's or grant's PDFs are stamped.
const STAMP: &str = "stamp";
/// A product's or order's license seats.
const LICENSE_SEATS: &str = "license_seats";

/// A license's item (`LICENSE#{key}`): what the online check reads and counts.
pub fn license_key(license: &LicenseKey) -> Item {
    key(format!("LICENSE#{}", license.expose()), "LICENSE")
}

/// The one item listing revoked licenses' orders (`orders`, a string set).
pub fn revoked_licenses_key() -> Item {
    key("LICENSES".to_owned(), "REVOKED")
}
/// The revoked orders' attribute of [`revoked_licenses_key`].
pub const REVOKED_ORDERS: &str = "orders";

pub fn license_item(l: &LicenseRecord) -> Item {
    Builder::new(license_key(&l.key), "license")
        .s(attr::ORDER_ID, l.order_id.as_str())
        .s(attr::PRODUCT_ID, l.product_id.as_str())
        .s("edition", l.edition.as_str())
        .n(attr::SEATS, l.seats.get())
        .n(attr::USES, l.uses)
        .bool(attr::REFUNDED, l.refunded)
        .ts(attr::ISSUED_AT, l.issued)
        .0
}

pub fn license_from(license: &LicenseKey, item: &Item) -> Result<LicenseRecord, StoreError> {
    let r = Reader::new(item, "license");
    Ok(LicenseRecord {
        key: license.clone(),
        order_id: r.id(attr::ORDER_ID, OrderId::parse)?,
        product_id: r.id(attr::PRODUCT_ID, ProductId::parse)?,
        edition: Edition::parse(r.s("edition")?)
            .map_err(|e| r.corrupt("edition", &e.to_string()))?,
        seats: crate::product::Seats::new(r.n(attr::SEATS)?)
            .map_err(|e| r.corrupt(attr::SEATS, &e.to_string()))?,
        uses: r.n(attr::USES)?,
        refunded: r.bool(attr::REFUNDED)?,
        issued: r.ts(attr::ISSUED_AT)?,
    })
}

pub fn grant_item(g: &Grant) -> Item {
    Builder::new(grant_key(&g.token), "grant")
        .s(attr::ORDER_ID, g.order_id.as_str())
        .s(attr::PRODUCT_ID, g.product_id.as_str())
        .s("product_title", &g.product_title)
        .s("edition", g.edition.as_str())
        .files(&g.files, g.stamp)
        .license(g.license.as_ref())
        .counts(&g.downloads_left)
        .n(attr::DOWNLOAD_LIMIT, g.download_limit)
        .ts(attr::CREATED_AT, g.created_at)
        .opt_ts(attr::EXPIRES_AT, g.expires_at)
        .bool(attr::REVOKED, g.revoked)
        .bool(attr::SUSPENDED, g.suspended)
        .opt_s(attr::LANG, g.lang.map(Lang::tag))
        .0
}

/// Typed reads from an item; a missing or malformed attribute is `StoreError::Corrupt`
/// naming the entity and attribute, never a panic.
pub struct Reader<'a> {
    item: &'a Item,
    entity: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item, entity: &'static str) -> Self {
        Reader { item, entity }
    }

    pub fn corrupt(&self, attr: &str, why: &str) -> StoreError {
        StoreError::Corrupt {
            entity: self.entity,
            detail: format!("attribute {attr}: {why}"),
        }
    }

    /// The buyer's language: absent on items written before languages were recorded; a
    /// tag this build has no catalog for (one removed since) falls back like absent.
    pub fn lang(&self) -> Result<Option<Lang>, StoreError> {
        Ok(self.opt_s(attr::LANG)?.and_then(Lang::parse))
    }

    pub fn opt_s(&self, k: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(k) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(self.corrupt(k, "not a string")),
        }
    }

    pub fn s(&self, k: &str) -> Result<&'a str, StoreError> {
        self.opt_s(k)?.ok_or_else(|| self.corrupt(k, "missing"))
    }

    pub fn parse<T: FromStr>(&self, k: &str) -> Result<T, StoreError> {
        self.s(k)?
            .parse()
            .map_err(|_| self.corrupt(k, "unparseable"))
    }

    /// A string set of download tokens; missing means none.
    pub fn tokens(&self, k: &str) -> Result<Vec<DownloadToken>, StoreError> {
        match self.item.get(k) {
            None => Ok(Vec::new()),
            Some(AttributeValue::Ss(v)) => {
                let mut out = v
                    .iter()
                    .map(|t| DownloadToken::parse(t).map_err(|_| self.corrupt(k, "not a token")))
                    .collect::<Result<Vec<_>, _>>()?;
                out.sort_by(|a, b| a.expose().cmp(b.expose()));
                Ok(out)
            }
            Some(_) => Err(self.corrupt(k, "not a string set")),
        }
    }

    pub fn opt_n<T: FromStr>(&self, k: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(k) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| self.corrupt(k, "bad number")),
            Some(_) => Err(self.corrupt(k, "not a number")),
        }
    }

    pub fn n<T: FromStr>(&self, k: &str) -> Result<T, StoreError> {
        self.opt_n(k)?.ok_or_else(|| self.corrupt(k, "missing"))
    }

    pub fn opt_ts(&self, k: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        match self.opt_n::<i64>(k)? {
            None => Ok(None),
            Some(secs) => OffsetDateTime::from_unix_timestamp(secs)
                .map(Some)
                .map_err(|_| self.corrupt(k, "timestamp out of range")),
        }
    }

    pub fn ts(&self, k: &str) -> Result<OffsetDateTime, StoreError> {
        self.opt_ts(k)?.ok_or_else(|| self.corrupt(k, "missing"))
    }

    pub fn bool(&self, k: &str) -> Result<bool, StoreError> {
        match self.item.get(k) {
            Some(AttributeValue::Bool(b)) => Ok(*b),
            None => Err(self.corrupt(k, "missing")),
            Some(_) => Err(self.corrupt(k, "not a boolean")),
        }
    }

    fn files(&self) -> Result<FileSet, StoreError> {
        let mut files = vec![FileRef {
            key: self.s("file_key")?.to_owned(),
            name: self.s("file_name")?.to_owned(),
            content_type: self.s("content_type")?.to_owned(),
            sha256: self.opt_s("file_sha256")?.map(str::to_owned),
            size: self.opt_n("file_size")?,
        }];
        match self.item.get(MORE_FILES) {
            None => {}
            Some(AttributeValue::L(more)) => {
                for v in more {
                    let AttributeValue::M(m) = v else {
                        return Err(self.corrupt(MORE_FILES, "not a list of maps"));
                    };
                    let r = Reader::new(m, self.entity);
                    files.push(FileRef {
                        key: r.s("key")?.to_owned(),
                        name: r.s("name")?.to_owned(),
                        content_type: r.s("type")?.to_owned(),
                        sha256: r.opt_s("sha256")?.map(str::to_owned),
                        size: r.opt_n("size")?,
                    });
                }
            }
            Some(_) => return Err(self.corrupt(MORE_FILES, "not a list")),
        }
        FileSet::new(files).map_err(|e| self.corrupt(MORE_FILES, &e.to_string()))
    }

    /// Absent on items written before stamping: not stamped.
    fn stamp(&self) -> Result<bool, StoreError> {
        match self.item.get(STAMP) {
            None => Ok(false),
            Some(_) => self.bool(STAMP),
        }
    }

    /// A product's or order's license seats (absent: no license).
    fn seats(&self) -> Result<Option<crate::product::Seats>, StoreError> {
        self.opt_n::<u32>(LICENSE_SEATS)?
            .map(|n| {
                crate::product::Seats::new(n)
                    .map_err(|e| self.corrupt(LICENSE_SEATS, &e.to_string()))
            })
            .transpose()
    }

    /// An order's or grant's issued license (absent: none).
    fn license(&self) -> Result<Option<IssuedLicense>, StoreError> {
        let Some(key) = self.opt_s(attr::LICENSE_KEY)? else {
            return Ok(None);
        };
        Ok(Some(IssuedLicense {
            key: LicenseKey::parse(key)
                .ok_or_else(|| self.corrupt(attr::LICENSE_KEY, "not a key"))?,
            signed: self.opt_s(attr::LICENSE_SIGNED)?.map(str::to_owned),
        }))
    }

    /// A grant's downloads left of each of its `n` files.
    fn counts(&self, n: usize) -> Result<Vec<u32>, StoreError> {
        (0..n).map(|i| self.n(&downloads_left_attr(i))).collect()
    }

    fn money(&self) -> Result<Money, StoreError> {
        let currency: Currency = self.parse("currency")?;
        let minor_attr = if self.entity == "product" {
            "price_minor"
        } else {
            "amount_minor"
        };
        Money::from_minor(self.n(minor_attr)?, currency)
            .map_err(|e| self.corrupt(minor_attr, &e.to_string()))
    }

    pub fn id<T, E>(&self, k: &str, parse: impl Fn(&str) -> Result<T, E>) -> Result<T, StoreError> {
        parse(self.s(k)?).map_err(|_| self.corrupt(k, "not a valid id"))
    }
}

pub fn product_from(item: &Item) -> Result<Product, StoreError> {
    let r = Reader::new(item, "product");
    let edition =
        Edition::parse(r.s("edition")?).map_err(|e| r.corrupt("edition", &e.to_string()))?;
    let price = r.money()?;
    let bound = |k: &str| -> Result<Option<Money>, StoreError> {
        r.opt_n::<u64>(k)?
            .map(|minor| {
                Money::from_minor(minor, price.currency())
                    .map_err(|e| r.corrupt("product", &e.to_string()))
            })
            .transpose()
    };
    let stamp = r.stamp()?;
    let seats = r.seats()?;
    let pwyw = match (bound("min_minor")?, bound("max_minor")?) {
        (Some(min), Some(max)) => Some(crate::pricing::PayWhatYouWant { min, max }),
        (None, None) => None,
        _ => return Err(r.corrupt("product", "min_minor and max_minor go together")),
    };
    Product::new(
        r.id(attr::PRODUCT_ID, ProductId::parse)?,
        r.s("title")?,
        price,
        edition,
        r.files()?,
        r.n("download_limit")?,
    )
    .and_then(|p| p.with_pay_what_you_want(pwyw))
    .and_then(|p| p.with_stamp(stamp))
    .map(|p| p.with_license(seats))
    // Which attribute broke a rule is in the message; the item is not a product.
    .map_err(|e| r.corrupt("product", &e.to_string()))
}

/// An order's state from its status and the attributes that status carries: a paid
/// order without its payment or link, or a link without a payment, is corrupt.
fn order_state(r: &Reader<'_>, grant: Option<DownloadToken>) -> Result<OrderState, StoreError> {
    let payment = match r.opt_s(attr::PROVIDER_TXN_ID)? {
        Some(txn) => Some(Settlement {
            txn: txn.to_owned(),
            at: r.ts(attr::PAID_AT)?,
        }),
        None => None,
    };
    let status = r.parse::<OrderStatus>(attr::STATUS)?;
    let unexpected = |what: &str| Err(r.corrupt(attr::STATUS, &format!("{status} with {what}")));
    Ok(match (status, payment, grant) {
        (OrderStatus::Pending, None, None) => OrderState::Pending,
        (OrderStatus::Expired, None, None) => OrderState::Expired,
        (OrderStatus::Pending | OrderStatus::Expired, _, _) => {
            return unexpected("a payment or a link");
        }
        (OrderStatus::Paid, Some(payment), Some(grant)) => {
            OrderState::Paid(Granted { payment, grant })
        }
        (OrderStatus::Paid, _, _) => return unexpected("no payment or no link"),
        (OrderStatus::Refunded, payment, grant) => OrderState::Refunded(Refunded {
            at: r.ts(attr::REFUNDED_AT)?,
            payment: match (payment, grant) {
                (None, None) => RefundedPayment::NotRecorded,
                (Some(p), None) => RefundedPayment::RecordedLate(p),
                (Some(payment), Some(grant)) => {
                    RefundedPayment::Granted(Granted { payment, grant })
                }
                (None, Some(_)) => return unexpected("a link and no payment"),
            },
        }),
    })
}

pub fn order_from(item: &Item) -> Result<Order, StoreError> {
    let r = Reader::new(item, "order");
    let mail = match r.s(attr::MAIL_STATE)? {
        mail_state::NOT_DUE => MailState::NotDue,
        mail_state::DUE => MailState::Due {
            attempts: r.n(attr::MAIL_ATTEMPTS)?,
            next_at: r.ts(attr::MAIL_NEXT_AT)?,
        },
        mail_state::SENT => MailState::Sent {
            at: r.ts(attr::MAIL_SENT_AT)?,
        },
        mail_state::FAILED => MailState::Failed {
            attempts: r.n(attr::MAIL_ATTEMPTS)?,
            at: r.ts(attr::MAIL_FAILED_AT)?,
        },
        _ => return Err(r.corrupt("mail_state", "unknown value")),
    };
    let grant_token = match r.opt_s(attr::GRANT_TOKEN)? {
        Some(t) => {
            Some(DownloadToken::parse(t).map_err(|_| r.corrupt("grant_token", "not a token"))?)
        }
        None => None,
    };
    Ok(Order {
        id: r.id(attr::ORDER_ID, OrderId::parse)?,
        product_id: r.id(attr::PRODUCT_ID, ProductId::parse)?,
        product_title: r.s("product_title")?.to_owned(),
        edition: Edition::parse(r.s("edition")?)
            .map_err(|e| r.corrupt("edition", &e.to_string()))?,
        files: r.files()?,
        stamp: r.stamp()?,
        license_seats: r.seats()?,
        license: r.license()?,
        download_limit: r.n("download_limit")?,
        email: r.id(attr::EMAIL, Email::from_stored)?,
        amount: r.money()?,
        // Orders made before list prices were recorded were sold at the list price.
        list_price: match r.opt_n::<u64>(attr::LIST_MINOR)? {
            Some(minor) => Money::from_minor(minor, r.money()?.currency())
                .map_err(|_| r.corrupt(attr::LIST_MINOR, "not an amount"))?,
            None => r.money()?,
        },
        code: match r.opt_s(attr::CODE)? {
            Some(c) => Some(CodeName::parse(c).ok_or_else(|| r.corrupt(attr::CODE, "not a code"))?),
            None => None,
        },
        channel: r.parse::<ChannelKind>("channel")?,
        state: order_state(&r, grant_token)?,
        checkout_ref: r.opt_s("checkout_ref")?.map(str::to_owned),
        pay_code: r.opt_s("pay_code")?.map(str::to_owned),
        created_at: r.ts(attr::CREATED_AT)?,
        expires_at: r.ts(attr::EXPIRES_AT)?,
        refunded: match r.opt_n::<u64>("refunded_minor")? {
            Some(minor) => Some(
                Money::from_minor(minor, r.money()?.currency())
                    .map_err(|_| r.corrupt("refunded_minor", "not an amount"))?,
            ),
            None => None,
        },
        grant_tokens: r.tokens(attr::GRANT_TOKENS)?,
        source: Source {
            utm_source: r.opt_s("utm_source")?.map(str::to_owned),
            utm_medium: r.opt_s("utm_medium")?.map(str::to_owned),
            utm_campaign: r.opt_s("utm_campaign")?.map(str::to_owned),
            referrer: r.opt_s("referrer")?.map(str::to_owned),
            visit: match (r.opt_s(attr::VISIT_SOURCE)?, r.opt_s(attr::VISITOR)?) {
                (Some(source), Some(visitor)) => Some(crate::order::Visit {
                    source: source.to_owned(),
                    visitor: visitor.to_owned(),
                }),
                _ => None,
            },
        },
        mail,
        refund_seq: r.opt_n(attr::REFUND_SEQ)?.unwrap_or(0),
        refund_request: match r.opt_s(attr::REFUND_REQ_NO)? {
            Some(no) => Some(RefundRequest {
                seq: r.n(attr::REFUND_REQ_SEQ)?,
                amount: Money::from_minor(r.n(attr::REFUND_REQ_MINOR)?, r.money()?.currency())
                    .map_err(|_| r.corrupt("refund_req_minor", "not an amount"))?,
                request_no: no.to_owned(),
            }),
            None => None,
        },
        last_refund: match r.opt_s(attr::REFUND_LAST_NO)? {
            Some(no) => Some(crate::order::SettledRefund {
                request: RefundRequest {
                    // The number's own sequence, `{order}RF{seq}`.
                    seq: no
                        .rsplit_once("RF")
                        .and_then(|(_, n)| n.parse().ok())
                        .ok_or_else(|| r.corrupt("refund_last_no", "not a refund number"))?,
                    amount: Money::from_minor(r.n(attr::REFUND_LAST_MINOR)?, r.money()?.currency())
                        .map_err(|_| r.corrupt("refund_last_minor", "not an amount"))?,
                    request_no: no.to_owned(),
                },
                at: r.ts(attr::REFUND_LAST_AT)?,
            }),
            None => None,
        },
        dispute: match r.opt_s(attr::DISPUTE)? {
            Some(d) => Some(
                d.parse()
                    .map_err(|_| r.corrupt("dispute", "unknown value"))?,
            ),
            None => None,
        },
        lang: r.lang()?,
        variants: r
            .opt_s(attr::VARIANTS)?
            .map(|v| {
                v.split(',')
                    .filter_map(|tv| {
                        let (t, v) = tv.split_once('=')?;
                        Some((Name::parse(t)?, Name::parse(v)?))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        previous_emails: match item.get(attr::PREVIOUS_EMAILS) {
            None => Vec::new(),
            Some(AttributeValue::L(list)) => list
                .iter()
                .map(|v| {
                    v.as_s()
                        .ok()
                        .and_then(|e| Email::from_stored(e).ok())
                        .ok_or_else(|| r.corrupt(attr::PREVIOUS_EMAILS, "not an address"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(r.corrupt(attr::PREVIOUS_EMAILS, "not a list")),
        },
        mail_block: match r.opt_s(attr::MAIL_BLOCK)? {
            Some(kind) => Some(MailBlock {
                kind: kind
                    .parse()
                    .map_err(|_| r.corrupt(attr::MAIL_BLOCK, "unknown value"))?,
                at: r.ts(attr::MAIL_BLOCK_AT)?,
                detail: r.opt_s(attr::MAIL_BLOCK_DETAIL)?.unwrap_or("").to_owned(),
            }),
            None => None,
        },
    })
}

/// An order's variants as stored: `headline=b,price-box=x`.
fn variants_text(v: &[(Name, Name)]) -> String {
    v.iter()
        .map(|(t, v)| format!("{t}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn grant_from(token: &DownloadToken, item: &Item) -> Result<Grant, StoreError> {
    let r = Reader::new(item, "grant");
    let files = r.files()?;
    Ok(Grant {
        token: token.clone(),
        order_id: r.id(attr::ORDER_ID, OrderId::parse)?,
        product_id: r.id(attr::PRODUCT_ID, ProductId::parse)?,
        product_title: r.s("product_title")?.to_owned(),
        edition: Edition::parse(r.s("edition")?)
            .map_err(|e| r.corrupt("edition", &e.to_string()))?,
        downloads_left: r.counts(files.len())?,
        files,
        stamp: r.stamp()?,
        license: r.license()?,
        download_limit: r.n(attr::DOWNLOAD_LIMIT)?,
        created_at: r.ts(attr::CREATED_AT)?,
        expires_at: r.opt_ts(attr::EXPIRES_AT)?,
        revoked: r.bool(attr::REVOKED)?,
        // Grants written before disputes were handled have no flag: not suspended.
        suspended: match r.item.get(attr::SUSPENDED) {
            None => false,
            Some(_) => r.bool(attr::SUSPENDED)?,
        },
        lang: r.lang()?,
    })
}

/// One buyer's mail about one new edition (`kiosk update`): the record that makes a
/// mail-out resumable. Keyed by edition so every edition is its own mail-out.
pub fn edition_mail_pk(product: &ProductId, edition: &Edition) -> String {
    format!("UPDATE#{product}#{edition}")
}

pub fn edition_mail_key(product: &ProductId, edition: &Edition, order: &OrderId) -> Item {
    key(edition_mail_pk(product, edition), &format!("ORDER#{order}"))
}

pub fn edition_mail_item(
    product: &ProductId,
    edition: &Edition,
    order: &Order,
    token: &DownloadToken,
    now: OffsetDateTime,
) -> Item {
    Builder::new(edition_mail_key(product, edition, &order.id), "update_mail")
        .s(attr::ORDER_ID, order.id.as_str())
        .s(attr::EMAIL, order.email.as_str())
        .s(attr::GRANT_TOKEN, token.expose())
        .s(attr::STATE, edition_state::SENDING)
        .ts("claimed_at", now)
        .0
}

pub fn edition_mail_from(item: &Item) -> Result<crate::edition::EditionMail, StoreError> {
    use crate::edition::{EditionMail, EditionMailState};
    let r = Reader::new(item, "update_mail");
    let state = match r.s(attr::STATE)? {
        edition_state::SENDING => EditionMailState::Sending,
        edition_state::SENT => EditionMailState::Sent {
            at: r.ts(attr::SENT_AT)?,
        },
        edition_state::FAILED => EditionMailState::Failed {
            reason: r.s(attr::LAST_ERROR)?.to_owned(),
        },
        _ => return Err(r.corrupt("state", "unknown value")),
    };
    Ok(EditionMail {
        order_id: r.id(attr::ORDER_ID, OrderId::parse)?,
        email: r.id(attr::EMAIL, Email::from_stored)?,
        grant_token: r.id(attr::GRANT_TOKEN, DownloadToken::parse)?,
        state,
    })
}

#[cfg(test)]
mod tests {
    //! Round trips: what an item is written as reads back as the same value, in every
    //! state a value can be in, and a broken item reads as `Corrupt`, never as a value.

    use super::*;
    use crate::order::Payment;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);

    fn product() -> Product {
        Product::new(
            ProductId::parse("book").unwrap(),
            "A “book” <b>",
            Money::parse_decimal("9.00", Currency::Cny).unwrap(),
            Edition::parse("2026-11-21-2").unwrap(),
            FileSet::one(FileRef {
                key: "products/book/2026-11-21-2/Böök.pdf".into(),
                name: "Böök.pdf".into(),
                content_type: "application/pdf".into(),
                sha256: Some("ab".repeat(32)),
                size: Some(1234),
            }),
            7,
        )
        .unwrap()
    }

    fn token(c: char) -> DownloadToken {
        DownloadToken::parse(&c.to_string().repeat(32)).unwrap()
    }

    fn pending() -> Order {
        Order::new_pending(
            OrderId::parse("K20261121100000000abc").unwrap(),
            &product(),
            Email::parse("Reader@Example.com").unwrap(),
            ChannelKind::Stripe,
            Source {
                utm_source: Some("blog".into()),
                utm_medium: None,
                utm_campaign: Some("launch".into()),
                referrer: Some("https://example.net/".into()),
                visit: Some(crate::order::Visit {
                    source: "blog".into(),
                    visitor: "0123456789abcdef".into(),
                }),
            },
            T0,
            Duration::minutes(30),
        )
    }

    fn round_trip(o: &Order) {
        assert_eq!(&order_from(&order_item(o)).unwrap(), o);
    }

    #[test]
    fn products_round_trip() {
        let p = product();
        assert_eq!(product_from(&product_item(&p, T0)).unwrap(), p);
        let plain = p
            .clone()
            .with_edition(
                Edition::parse("v1").unwrap(),
                FileSet::one(FileRef {
                    sha256: None,
                    size: None,
                    ..p.files().first().clone()
                }),
            )
            .unwrap();
        assert_eq!(product_from(&product_item(&plain, T0)).unwrap(), plain);
        // Three files, stamped: the first where a one-file product keeps it, the others
        // in their list.
        let three = FileSet::new(
            ["book.pdf", "book.epub", "code.zip"]
                .iter()
                .map(|n| FileRef {
                    key: format!("products/book/v3/{n}"),
                    name: (*n).into(),
                    content_type: "application/octet-stream".into(),
                    sha256: Some("cd".repeat(32)),
                    size: Some(n.len() as u64),
                })
                .collect(),
        )
        .unwrap();
        let stamped = p
            .with_edition(Edition::parse("v3").unwrap(), three)
            .unwrap()
            .with_stamp(true)
            .unwrap();
        let item = product_item(&stamped, T0);
        assert_eq!(item["file_name"].as_s().unwrap(), "book.pdf");
        assert_eq!(item["more_files"].as_l().unwrap().len(), 2);
        assert_eq!(product_from(&item).unwrap(), stamped);
    }

    #[test]
    fn orders_round_trip_in_every_state() {
        let mut o = pending();
        o.checkout_ref = Some("cs_test_1".into());
        round_trip(&o);
        o.pay_code = Some("weixin://wxpay/bizpayurl?pr=abc123".into());
        round_trip(&o);

        o.state = OrderState::Expired;
        round_trip(&o);

        let paid = Granted {
            payment: Settlement {
                txn: "pi_1".into(),
                at: T0 + Duration::minutes(3),
            },
            grant: token('b'),
        };
        o.state = OrderState::Paid(paid.clone());
        o.grant_tokens = vec![token('a'), token('b')];
        for mail in [
            MailState::NotDue,
            MailState::Due {
                attempts: 2,
                next_at: T0 + Duration::minutes(9),
            },
            MailState::Sent { at: T0 },
            MailState::Failed {
                attempts: 12,
                at: T0 + Duration::days(2),
            },
        ] {
            o.mail = mail;
            round_trip(&o);
        }
        o.refunded = Some(Money::parse_decimal("3.00", Currency::Cny).unwrap());
        o.refund_seq = 2;
        o.refund_request = Some(RefundRequest::new(
            &o.id,
            2,
            Money::parse_decimal("6.00", Currency::Cny).unwrap(),
        ));
        o.dispute = Some(Dispute::Open);
        round_trip(&o);

        o.refunded = Some(o.amount);
        o.refund_request = None;
        o.dispute = Some(Dispute::Lost);
        for payment in [
            RefundedPayment::NotRecorded,
            RefundedPayment::RecordedLate(paid.payment.clone()),
            RefundedPayment::Granted(paid),
        ] {
            o.state = OrderState::Refunded(Refunded {
                at: T0 + Duration::days(1),
                payment,
            });
            round_trip(&o);
        }
        o.lang = Lang::parse("zh-CN");
        round_trip(&o);
        o.variants = vec![
            (Name::parse("headline").unwrap(), Name::parse("b").unwrap()),
            (Name::parse("price-box").unwrap(), Name::parse("x").unwrap()),
        ];
        round_trip(&o);
        for kind in [
            crate::order::MailBlockKind::Bounced,
            crate::order::MailBlockKind::Complained,
        ] {
            o.mail_block = Some(MailBlock {
                kind,
                at: T0 + Duration::days(3),
                detail: "Permanent/General: smtp; 550 5.1.1 user unknown".into(),
            });
            round_trip(&o);
        }
    }

    #[test]
    fn a_state_without_what_it_carries_is_corrupt() {
        let mut o = pending();
        o.state = OrderState::Paid(Granted {
            payment: Settlement {
                txn: "T1".into(),
                at: T0,
            },
            grant: token('c'),
        });
        let paid = order_item(&o);
        let without = |attrs: &[&str], status: &str| {
            let mut item = paid.clone();
            for a in attrs {
                item.remove(*a);
            }
            item.insert(attr::STATUS.into(), AttributeValue::S(status.into()));
            order_from(&item)
        };
        assert!(without(&[], "PAID").is_ok());
        // Paid needs its payment and its link; a payment needs its time.
        assert!(without(&[attr::GRANT_TOKEN], "PAID").is_err());
        assert!(without(&[attr::PROVIDER_TXN_ID], "PAID").is_err());
        assert!(without(&[attr::PAID_AT], "PAID").is_err());
        // Pending and expired orders carry neither.
        assert!(without(&[], "PENDING").is_err());
        assert!(without(&[attr::GRANT_TOKEN], "EXPIRED").is_err());
        assert!(
            without(
                &[attr::GRANT_TOKEN, attr::PROVIDER_TXN_ID, attr::PAID_AT],
                "EXPIRED"
            )
            .is_ok()
        );
        // A refund has its time; a link without a payment is no state at all.
        assert!(without(&[], "REFUNDED").is_err(), "no refunded_at");
        let mut refunded = paid.clone();
        refunded.insert(attr::REFUNDED_AT.into(), ts(T0 + Duration::days(1)));
        refunded.insert(attr::STATUS.into(), AttributeValue::S("REFUNDED".into()));
        assert!(order_from(&refunded).is_ok());
        refunded.remove(attr::PROVIDER_TXN_ID);
        assert!(order_from(&refunded).is_err());
    }

    #[test]
    fn a_language_without_a_catalog_reads_as_none() {
        let mut o = pending();
        o.lang = Some(Lang::EN);
        let mut item = order_item(&o);
        assert_eq!(order_from(&item).unwrap().lang, Some(Lang::EN));
        item.insert(attr::LANG.into(), AttributeValue::S("tlh".into()));
        assert_eq!(order_from(&item).unwrap().lang, None);
        item.remove(attr::LANG);
        assert_eq!(order_from(&item).unwrap().lang, None);
    }

    #[test]
    fn a_paid_order_round_trips_after_a_recorded_payment() {
        let o = pending();
        let payment = Payment {
            provider_txn_id: "pi_9".into(),
            amount: o.amount,
        };
        match o.pay(&payment, token('e'), T0).unwrap() {
            crate::order::PayOutcome::Paid(paid) => round_trip(&paid),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grants_round_trip() {
        let o = pending();
        for (expires, revoked, suspended) in [
            (None, false, false),
            (Some(T0 + Duration::days(30)), true, true),
        ] {
            let mut g = Grant::for_order(&o, token('c'), expires, T0);
            g.downloads_left = vec![3];
            g.lang = if revoked { Lang::parse("zh-CN") } else { None };
            g.revoked = revoked;
            g.suspended = suspended;
            assert_eq!(grant_from(&g.token, &grant_item(&g)).unwrap(), g);
        }
    }

    #[test]
    fn a_grant_of_several_files_counts_each_and_an_old_grant_reads_as_one_file() {
        let o = pending();
        let mut g = Grant::for_order(&o, token('c'), None, T0);
        let first = g.files.first().clone();
        let second = FileRef {
            key: "products/book/v1/book.epub".into(),
            name: "book.epub".into(),
            ..first.clone()
        };
        g.files = FileSet::new(vec![first, second]).unwrap();
        g.downloads_left = vec![5, 0];
        g.stamp = true;
        let item = grant_item(&g);
        assert_eq!(item["downloads_left"].as_n().unwrap(), "5");
        assert_eq!(item["downloads_left_1"].as_n().unwrap(), "0");
        assert_eq!(grant_from(&g.token, &item).unwrap(), g);
        // A count missing for a listed file: corrupt, not a guess.
        let mut broken = item.clone();
        broken.remove("downloads_left_1");
        assert!(grant_from(&g.token, &broken).is_err());
        // An item as grants were written before several files (and stamping): one file.
        let mut old = item;
        for k in ["more_files", "downloads_left_1", "stamp", "file_size"] {
            old.remove(k);
        }
        let read = grant_from(&g.token, &old).unwrap();
        assert_eq!(
            (read.files.len(), read.downloads_left.clone(), read.stamp),
            (1, vec![5], false)
        );
        assert_eq!(read.usable_file(0, T0), Some(Ok(())));
        assert_eq!(read.usable_file(1, T0), None);
    }

    #[test]
    fn edition_mails_round_trip_as_claimed() {
        let o = pending();
        let item = edition_mail_item(
            &o.product_id,
            &Edition::parse("v2").unwrap(),
            &o,
            &token('d'),
            T0,
        );
        let m = edition_mail_from(&item).unwrap();
        assert_eq!(m.order_id, o.id);
        assert_eq!(m.email, o.email);
        assert_eq!(m.grant_token, token('d'));
        assert_eq!(m.state, crate::edition::EditionMailState::Sending);
    }

    #[test]
    fn broken_items_read_as_corrupt() {
        let mut item = order_item(&pending());
        item.insert("status".into(), s("SHIPPED"));
        assert!(matches!(order_from(&item), Err(StoreError::Corrupt { .. })));
        let mut item = product_item(&product(), T0);
        item.remove("title");
        assert!(matches!(
            product_from(&item),
            Err(StoreError::Corrupt { .. })
        ));
        let mut item = product_item(&product(), T0);
        item.insert("download_limit".into(), n(0));
        assert!(matches!(
            product_from(&item),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
