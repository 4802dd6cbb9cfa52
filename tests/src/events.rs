//! The example events in `events/` and the state they are about: their table in
//! `events/README.md` (file, function, promised answer, in the order they run), and a
//! stack on the emulator seeded so each event gets that answer -- product
//! `little-book-of-rust` at 9.00 CNY with its file, the pending order `K20261121A1`, a
//! usable and an exhausted example grant, Alipay's test keys in SSM, a stand-in gateway
//! -- with the template's parameters and resources resolved to it. Used by the
//! real-bootstrap test and by `make invoke`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use kiosk::{DownloadToken, Order, OrderId, Product};
use kiosk_localaws::functions::{FunctionDef, Values};

use crate::gateway::Answer;
use crate::{World, WorldOptions};

pub const ORDER: &str = "K20261121A1";
pub const PRODUCT: &str = "little-book-of-rust";
/// The shop's support address (`SupportEmail`): every mail's `Reply-To`.
pub const SUPPORT: &str = "help@example.com";
/// A free product (price 0): its checkout mails the link.
pub const FREE_PRODUCT: &str = "sampler";
/// In `checkout-free.json`'s body, where the runner puts the claim token of the buy page
/// it got for the event's network first (a token is good for two hours, so none can be
/// committed; `make invoke` sends the placeholder, and gets the confirming page).
pub const CLAIM_PLACEHOLDER: &str = "CLAIM-FROM-THE-BUY-PAGE";

/// `event` with [`CLAIM_PLACEHOLDER`] in its body replaced by `token`.
pub fn with_claim(event: serde_json::Value, token: &str) -> serde_json::Value {
    let mut event = event;
    if let Some(body) = event.get_mut("body")
        && let Some(text) = body.as_str()
    {
        *body = serde_json::Value::String(text.replace(CLAIM_PLACEHOLDER, token));
    }
    event
}
/// In `wechat-notify-paid.json` and `wechat-notify-duplicate.json`: where the runner puts
/// the notification the WeChat Pay stand-in sends when the order `wechat-checkout.json`
/// made is paid (signed at that moment: WeChat Pay's signatures are good for 5 minutes, so
/// none can be committed; `make invoke` sends the placeholder, and gets `fail`).
pub const WECHAT_NOTIFICATION_PLACEHOLDER: &str = "WECHAT-NOTIFICATION-FROM-THE-STAND-IN";
/// In `wechat-return.json`'s query: where the runner puts the order and checkout secret
/// of the page `wechat-checkout.json` was sent to.
pub const WECHAT_RETURN_PLACEHOLDER: &str = "WECHAT-RETURN-FROM-THE-CHECKOUT";
/// The address `wechat-checkout.json` buys with.
pub const WECHAT_BUYER: &str = "wechat-reader@example.com";

/// `event` with [`WECHAT_NOTIFICATION_PLACEHOLDER`] replaced by the stand-in's
/// notification: its body, and its `Wechatpay-*` headers added.
pub fn with_wechat_notification(
    event: serde_json::Value,
    note: &devstack::wechat::Outgoing,
) -> serde_json::Value {
    let mut event = event;
    if let Some(body) = event.get_mut("body")
        && body.as_str() == Some(WECHAT_NOTIFICATION_PLACEHOLDER)
    {
        *body = serde_json::Value::String(note.body.clone());
    }
    if let Some(headers) = event.get_mut("headers").and_then(|h| h.as_object_mut()) {
        for (k, v) in &note.headers {
            headers.insert(k.to_ascii_lowercase(), serde_json::Value::String(v.clone()));
        }
    }
    event
}

/// `event` with [`WECHAT_RETURN_PLACEHOLDER`] in its query replaced by `query`.
pub fn with_wechat_return(event: serde_json::Value, query: &str) -> serde_json::Value {
    let text = event
        .to_string()
        .replace(WECHAT_RETURN_PLACEHOLDER, &query.replace('"', ""));
    serde_json::from_str(&text).unwrap_or(event)
}

/// A discount code, 20% off every product, one use.
pub const CODE: &str = "LAUNCH";
/// The Alipay trade number in the signed notify and return events.
pub const TRADE_NO: &str = "2026112122001446870501234567";
/// Example download tokens: a usable grant, an exhausted one, none.
pub const GRANT: &str = "ExampleGrantToken000000000000001";
pub const EXHAUSTED_GRANT: &str = "ExampleGrantToken000000000000002";
pub const UNKNOWN_GRANT: &str = "ExampleGrantToken000000000000003";
/// A usable grant of the stamped product `stamped-book` (the stamp events are about it).
pub const STAMPED_GRANT: &str = "ExampleGrantToken000000000000004";
/// The stamped product: one PDF, each buyer's copy stamped.
pub const STAMPED_PRODUCT: &str = "stamped-book";
/// The licensed product the license events are about (2 seats).
pub const LICENSED_PRODUCT: &str = "licensed-tool";
/// The license key of a paid order of it (`license-verify.json`).
pub const LICENSE_KEY: &str = "EXAMP-LEKEY-ABCDE-FGHJK-23456";
/// A well-formed key the shop never issued (`license-verify-unknown.json`).
pub const UNKNOWN_LICENSE_KEY: &str = "22222-33333-44444-55555-66666";
/// The address in `download-resend.json`, owner of the two example grants.
pub const DOWNLOAD_BUYER: &str = "download-reader@example.com";
/// `requestContext.apiId` of every HTTP event; the local value of the template's HttpApi.
pub const API_ID: &str = "api-id";
/// The buyer whose address `ses-bounce.json` reports bouncing for good, and the one
/// `ses-complaint.json` reports complaining: each has a paid order.
pub const BOUNCE_BUYER: &str = "bounce-reader@example.com";
pub const COMPLAINT_BUYER: &str = "complaint-reader@example.com";

/// The repository's root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub fn events_dir() -> PathBuf {
    workspace_root().join("events")
}

/// One row of the table in `events/README.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub file: String,
    /// The template's logical id of the function the event is for.
    pub function: String,
    /// The HTTP status the row promises (rows for non-HTTP events promise none).
    pub status: Option<u16>,
    pub expected: String,
}

/// The README's table, in its order (the order the events run in).
pub fn readme_rows() -> Result<Vec<Row>> {
    let path = events_dir().join("README.md");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(parse_rows(&text))
}

fn parse_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [file, function, expected] = cells.as_slice() else {
                return None;
            };
            let file = file.trim_matches('`');
            if !file.ends_with(".json") {
                return None;
            }
            let status = expected
                .get(..3)
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok());
            Some(Row {
                file: file.to_owned(),
                function: function.trim_matches('`').to_owned(),
                status,
                expected: (*expected).to_owned(),
            })
        })
        .collect()
}

/// The code `checkout-code.json` uses: 20% off, one use.
/// In `free-order.json`'s message, where the runner puts the id of the free order that
/// checkout queued just before (the order's id is made at checkout).
pub const FREE_ORDER_PLACEHOLDER: &str = "FREE-ORDER-FROM-THE-QUEUE";

/// `event` (an SQS event) with [`FREE_ORDER_PLACEHOLDER`] in its records' bodies
/// replaced by `id`.
pub fn with_free_order(event: serde_json::Value, id: &str) -> serde_json::Value {
    let text = event.to_string().replace(FREE_ORDER_PLACEHOLDER, id);
    serde_json::from_str(&text).unwrap_or(event)
}

/// The name of the local queue that stands for the stack's `StampQueue`.
pub fn stamp_queue(tag: &str) -> String {
    format!("kiosk-stamp-{tag}")
}

/// The name of the local queue that stands for the stack's `FreeOrdersQueue`.
pub fn free_orders_queue(tag: &str) -> String {
    format!("kiosk-test-{tag}-free-orders")
}

/// The name of the local queue that stands for the stack's `MailEventsDeadLetters`.
pub fn mail_dead_letters(tag: &str) -> String {
    format!("kiosk-test-{tag}-mail-dead-letters")
}

/// The A/B test `beacon.json`'s page carries: `headline` (a, b), registered.
pub fn headline_test() -> kiosk::abtest::AbTest {
    let name = |s: &str| kiosk::visit::Name::parse(s).expect("a test name");
    kiosk::abtest::AbTest {
        name: name("headline"),
        variants: vec![name("a"), name("b")],
        product: None,
        created_at: kiosk::clock::now(),
        stopped_at: None,
    }
}

pub fn launch_code() -> kiosk::pricing::Code {
    kiosk::pricing::Code::new(
        kiosk::pricing::NewCode {
            name: kiosk::pricing::CodeName::parse(CODE).unwrap_or_else(|| unreachable!()),
            discount: kiosk::pricing::Discount::Percent(20),
            products: Vec::new(),
            max_uses: Some(1),
            expires_at: None,
        },
        crate::now(),
    )
    .unwrap_or_else(|_| unreachable!("a valid code"))
}

/// A shop on the emulator in the state the events are about.
pub struct EventStack {
    pub w: World,
    pub bucket: String,
    pub product: Product,
    /// The order `K20261121A1`, as created (pending).
    pub order: Order,
    /// The bytes of the product's file in the bucket.
    pub file: Vec<u8>,
    /// The stamped product's grant `STAMPED_GRANT`, as created.
    pub stamped: kiosk::Grant,
    /// The paid order of `LICENSED_PRODUCT` whose license key is `LICENSE_KEY`.
    pub licensed: Order,
    /// An order of it whose license a full refund revoked (on the revocation list).
    pub revoked: Order,
    /// SSM parameters with a Stripe secret key and webhook secret: the functions start
    /// with both channels, as a shop taking both does (no event here talks to Stripe).
    pub stripe_params: [String; 2],
    /// SSM parameters with WeChat Pay's merchant key, its public key and the APIv3 key
    /// (the wechatpayv3 vectors').
    pub wechat_params: [String; 3],
    /// The WeChat Pay stand-in the functions call (`WechatApiBase`), with the vectors'
    /// keys, and its address.
    pub wechat: std::sync::Arc<devstack::wechat::WechatSandbox>,
    pub wechat_url: String,
    _wechat_task: AbortOnDrop,
}

/// A task stopped when its owner is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl EventStack {
    pub async fn start() -> Result<EventStack> {
        let w = World::new(WorldOptions::default()).await?;
        let sdk = kiosk_localaws::emulator_config().await?;
        let bucket = format!("files-{}", w.tag);
        let s3 = kiosk::files::s3_client(&sdk);
        s3.create_bucket().bucket(&bucket).send().await?;
        let product = w.add_product(PRODUCT, "9.00").await;
        let file = devstack::setup::tiny_pdf(product.title());
        s3.put_object()
            .bucket(&bucket)
            .key(&product.files().first().key)
            .content_type(&product.files().first().content_type)
            .body(file.clone().into())
            .send()
            .await?;

        let free = w.add_product(FREE_PRODUCT, "0.00").await;
        s3.put_object()
            .bucket(&bucket)
            .key(&free.files().first().key)
            .body(file.clone().into())
            .send()
            .await?;
        w.t.store.create_code(&launch_code()).await?;
        // The test the beacon's page carries, registered as the author does.
        w.t.store.create_test(&headline_test()).await?;
        // The stack's queue of free orders (checkout asks, reconcile grants).
        aws_sdk_sqs::Client::new(&sdk)
            .create_queue()
            .queue_name(free_orders_queue(&w.tag))
            .send()
            .await?;

        // The buyer's address is this stack's own: the emulator's mailbox is shared.
        let mut order = crate::pending_order(
            &product,
            &format!("reader-{}@example.com", w.tag),
            crate::now(),
        );
        order.id = OrderId::parse(ORDER)?;
        w.t.store.create_order(&order).await?;
        w.gateway.set(
            ORDER,
            Answer::Paid {
                trade_no: TRADE_NO.into(),
                total_amount: "9.00".into(),
            },
        );

        let template = crate::paid_purchase(&w.t.store, &product, DOWNLOAD_BUYER).await;
        for (token, left) in [(GRANT, product.download_limit()), (EXHAUSTED_GRANT, 0)] {
            let mut g = template.clone();
            g.token = DownloadToken::parse(token)?;
            g.downloads_left = vec![left];
            w.t.store.create_grant(&g).await?;
        }
        for buyer in [BOUNCE_BUYER, COMPLAINT_BUYER] {
            crate::paid_purchase(&w.t.store, &product, buyer).await;
        }
        // The stamped product and a grant of it (the stamp events and the stamped
        // download are about it), and the stack's stamp queue.
        let stamped_product = crate::product(STAMPED_PRODUCT, "9.00").with_stamp(true)?;
        s3.put_object()
            .bucket(&bucket)
            .key(&stamped_product.files().first().key)
            .content_type("application/pdf")
            .body(kiosk::stamp::sample_pdf(2, 0).into())
            .send()
            .await?;
        w.t.store
            .create_product(&stamped_product, crate::now())
            .await?;
        let mut stamped = crate::paid_purchase(&w.t.store, &stamped_product, DOWNLOAD_BUYER).await;
        stamped.token = DownloadToken::parse(STAMPED_GRANT)?;
        w.t.store.create_grant(&stamped).await?;
        aws_sdk_sqs::Client::new(&sdk)
            .create_queue()
            .queue_name(stamp_queue(&w.tag))
            .send()
            .await?;
        // The licensed product: an order paid with the license key the events name, and
        // one paid and then fully refunded (its order on the signed revocation list).
        let tool = crate::product(LICENSED_PRODUCT, "9.00")
            .with_license(Some(kiosk::product::Seats::new(2)?));
        w.t.store.create_product(&tool, crate::now()).await?;
        let mut licensed = Vec::new();
        for (n, key) in [(1, LICENSE_KEY.to_owned()), (2, String::new())] {
            let o = crate::pending_order(
                &tool,
                &format!("licensee{n}-{}@example.com", w.tag),
                crate::now(),
            );
            w.t.store.create_order(&o).await?;
            let key = match kiosk::license::LicenseKey::parse(&key) {
                Some(k) => k,
                None => kiosk::license::LicenseKey::generate()?,
            };
            let license = kiosk::license::IssuedLicense { key, signed: None };
            let payment = kiosk::order::Payment {
                provider_txn_id: format!("T-licensed-{n}-{}", w.tag),
                amount: o.amount,
            };
            w.t.store
                .mark_paid(&o, &payment, None, None, Some(&license), crate::now())
                .await?;
            licensed.push(w.order(&o.id).await);
        }
        let revoked = licensed.pop().context("the second licensed order")?;
        let licensed = licensed.pop().context("the first licensed order")?;
        let full = revoked.record_refund(revoked.amount, crate::now())?;
        w.t.store.apply_refund(&full, crate::now()).await?;
        let revoked = w.order(&revoked.id).await;
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let stripe_params = [
            format!("/kiosk-test/{}/stripe/secret-key", w.tag),
            format!("/kiosk-test/{}/stripe/webhook-secret", w.tag),
        ];
        crate::put_secret(&ssm, &stripe_params[0], "sk_test_kiosk_events_only").await?;
        crate::put_secret(&ssm, &stripe_params[1], "whsec_kiosk_events_only").await?;
        let wechat_params = [
            format!("/kiosk-test/{}/wechat/merchant-key", w.tag),
            format!("/kiosk-test/{}/wechat/wechatpay-public-key", w.tag),
            format!("/kiosk-test/{}/wechat/apiv3-key", w.tag),
        ];
        for (name, value) in [
            (
                &wechat_params[0],
                crate::wechat_vector_file("keys/merchant_private.pem"),
            ),
            (
                &wechat_params[1],
                crate::wechat_vector_file("keys/wechatpay_public.pem"),
            ),
            (&wechat_params[2], crate::WECHAT_APIV3_KEY.to_owned()),
        ] {
            crate::put_secret(&ssm, name, &value).await?;
        }
        let wechat = std::sync::Arc::new(devstack::wechat::WechatSandbox::new(
            devstack::wechat::WechatIds {
                mchid: crate::WECHAT_MCHID.into(),
                appid: crate::WECHAT_APPID.into(),
                merchant_serial_no: crate::WECHAT_MERCHANT_SERIAL.into(),
                public_key_id: crate::WECHAT_PUBLIC_KEY_ID.into(),
            },
            kiosk::rsa::VerifyingKey::parse(&crate::wechat_vector_file(
                "keys/merchant_public.pem",
            ))?,
            kiosk::rsa::SigningKey::parse(&crate::wechat_vector_file(
                "keys/wechatpay_private.pem",
            ))?,
            kiosk::wechat::ApiV3Key::parse(crate::WECHAT_APIV3_KEY)?,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let wechat_url = format!("http://{}", listener.local_addr()?);
        let wechat_task = AbortOnDrop(wechat.clone().serve(listener));
        Ok(EventStack {
            w,
            bucket,
            product,
            order,
            file,
            stamped,
            licensed,
            revoked,
            stripe_params,
            wechat_params,
            wechat,
            wechat_url,
            _wechat_task: wechat_task,
        })
    }

    /// The template's parameters and resources, as this stack has them.
    pub fn values(&self) -> Values {
        let [private_param, public_param] = self.w.key_params.clone();
        let params = [
            ("SenderEmail", crate::VERIFIED_SENDER.to_owned()),
            ("ShopUrl", crate::SHOP_URL.to_owned()),
            ("AlipayAppId", crate::APP_ID.to_owned()),
            ("AlipayGatewayUrl", self.w.gateway.url.clone()),
            ("AlipaySellerId", crate::SELLER_ID.to_owned()),
            ("AlipayAppPrivateKeyParam", private_param),
            ("AlipayPublicKeyParam", public_param),
            ("StripeSecretKeyParam", self.stripe_params[0].clone()),
            ("StripeWebhookSecretParam", self.stripe_params[1].clone()),
            ("DefaultChannel", "alipay".to_owned()),
            ("WechatMchId", crate::WECHAT_MCHID.to_owned()),
            ("WechatAppId", crate::WECHAT_APPID.to_owned()),
            (
                "WechatMerchantSerialNo",
                crate::WECHAT_MERCHANT_SERIAL.to_owned(),
            ),
            ("WechatPublicKeyId", crate::WECHAT_PUBLIC_KEY_ID.to_owned()),
            ("WechatApiBase", self.wechat_url.clone()),
            ("WechatMerchantKeyParam", self.wechat_params[0].clone()),
            ("WechatPublicKeyParam", self.wechat_params[1].clone()),
            ("WechatApiV3KeyParam", self.wechat_params[2].clone()),
            ("SupportEmail", SUPPORT.to_owned()),
            ("LicenseKeyParam", self.w.license_param.clone()),
        ];
        let resources = [
            ("Table", self.w.t.name.clone()),
            (
                "Table.Arn",
                format!(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
                    self.w.t.name
                ),
            ),
            (
                "VisitsTable",
                kiosk_localaws::visits_table_of(&self.w.t.name),
            ),
            (
                "VisitsTable.Arn",
                format!(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
                    kiosk_localaws::visits_table_of(&self.w.t.name)
                ),
            ),
            ("FilesBucket", self.bucket.clone()),
            ("FilesBucket.Arn", format!("arn:aws:s3:::{}", self.bucket)),
            ("HttpApi", API_ID.to_owned()),
            (
                "MailConfigurationSet",
                crate::MAIL_CONFIGURATION_SET.to_owned(),
            ),
            ("MailEventsTopic", crate::MAIL_EVENTS_TOPIC.to_owned()),
            (
                "FreeOrdersQueue",
                format!(
                    "{}/123456789012/{}",
                    self.w.endpoint,
                    free_orders_queue(&self.w.tag)
                ),
            ),
            (
                "FreeOrdersQueue.Arn",
                format!(
                    "arn:aws:sqs:us-east-1:123456789012:{}",
                    free_orders_queue(&self.w.tag)
                ),
            ),
            (
                "MailEventsDeadLetters.Arn",
                format!(
                    "arn:aws:sqs:us-east-1:123456789012:{}",
                    mail_dead_letters(&self.w.tag)
                ),
            ),
            (
                "StampQueue",
                format!(
                    "{}/123456789012/{}",
                    self.w.endpoint,
                    stamp_queue(&self.w.tag)
                ),
            ),
            (
                "StampQueue.Arn",
                format!(
                    "arn:aws:sqs:us-east-1:123456789012:{}",
                    stamp_queue(&self.w.tag)
                ),
            ),
        ];
        Values {
            params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            resources: resources
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    /// Every function of template.yaml, its environment pointed at this stack.
    pub fn functions(&self) -> Result<Vec<FunctionDef>> {
        kiosk_localaws::functions::functions(kiosk_localaws::TEMPLATE, &self.values())
    }

    /// The order the Alipay events are about, as stored now.
    pub async fn order_now(&self) -> Order {
        self.w.order(&self.order.id).await
    }
}

/// The rows of `function` above `file` in the README's table: what must have run for
/// the state `file`'s row describes (a duplicate needs the first notification).
pub fn runs_before<'a>(rows: &'a [Row], function: &str, file: &str) -> Vec<&'a Row> {
    let Some(at) = rows.iter().position(|r| r.file == file) else {
        return vec![];
    };
    rows[..at]
        .iter()
        .filter(|r| r.function == function)
        .collect()
}

/// An event file as JSON.
pub fn load_event(path: &std::path::Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// An HTTP function's result (API Gateway payload 2.0 response): status, headers, body.
#[derive(Debug)]
pub struct HttpResult {
    pub status: u16,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: String,
}

impl HttpResult {
    pub fn from_json(v: &serde_json::Value) -> Result<HttpResult> {
        let status = v
            .get("statusCode")
            .and_then(serde_json::Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| anyhow!("no statusCode in {v}"))?;
        let raw = v
            .get("body")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let body = if v
            .get("isBase64Encoded")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
        {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(raw)?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            raw.to_owned()
        };
        let headers = v
            .get("headers")
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(HttpResult {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// Check `result` against what `row` promises (its status, for HTTP rows).
pub fn check_row(row: &Row, result: &serde_json::Value) -> Result<()> {
    if let Some(want) = row.status {
        let got = HttpResult::from_json(result)?;
        if got.status != want {
            bail!(
                "{}: status {} where events/README.md promises {want} ({}); body: {}",
                row.file,
                got.status,
                row.expected,
                got.body.chars().take(400).collect::<String>()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_from_the_table_only() {
        let text = "intro | not a row\n\n| file | function | expected |\n|---|---|---|\n| a.json | F | 303 to x |\n| `b.json` | G | the schedule; no status |\n";
        let rows = parse_rows(text);
        assert_eq!(
            rows.iter()
                .map(|r| (r.file.as_str(), r.function.as_str(), r.status))
                .collect::<Vec<_>>(),
            [("a.json", "F", Some(303)), ("b.json", "G", None)]
        );
        assert_eq!(
            runs_before(&rows, "F", "a.json").len(),
            0,
            "nothing runs before the first row"
        );
    }
}
