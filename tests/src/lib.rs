//! Fixtures for the end-to-end tests: a fresh emulator table per test (created from
//! template.yaml) and sample products and orders.
//!
//! Over 400 lines: the worlds the end-to-end tests share (shop, downloads, table), one
//! fixture each.

use anyhow::Result;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use kiosk::order::{ChannelKind, Source};
use kiosk::product::FileRef;
use kiosk::store::Store;
use kiosk::{Currency, Email, Money, Order, OrderId, Product, ProductId};
pub use kiosk_localaws::SentMail;
use time::{Duration, OffsetDateTime};

/// A store over a brand-new table, so tests never see each other's data.
pub struct TestTable {
    pub client: Client,
    pub store: Store,
    pub name: String,
}

impl TestTable {
    pub async fn new() -> Result<Self> {
        let config = kiosk_localaws::emulator_config().await?;
        let client = Client::new(&config);
        let name = format!(
            "kiosk-test-{}",
            OrderId::generate(OffsetDateTime::now_utc())?
                .as_str()
                .to_lowercase()
        );
        kiosk_localaws::create_table(&client, &name).await?;
        Ok(TestTable {
            store: Store::new(client.clone(), &name),
            client,
            name,
        })
    }

    /// Every item of an entity kind (`order`, `grant`, `product`), by full scan: test-only.
    pub async fn scan_entity(
        &self,
        entity: &str,
    ) -> Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
        let items = self
            .client
            .scan()
            .table_name(&self.name)
            .filter_expression("entity = :e")
            .expression_attribute_values(":e", AttributeValue::S(entity.into()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        Ok(items)
    }
}

/// Whole seconds, like everything the store keeps.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn cny(s: &str) -> Money {
    Money::parse_decimal(s, Currency::Cny).expect("test amount")
}

pub fn product(id: &str, price: &str) -> Product {
    Product {
        id: ProductId::parse(id).expect("test product id"),
        title: format!("The {id} book"),
        price: cny(price),
        edition: "v1".into(),
        file: FileRef {
            key: format!("products/{id}/v1/{id}.pdf"),
            name: format!("{id}.pdf"),
            content_type: "application/pdf".into(),
            sha256: None,
        },
        download_limit: 5,
    }
}

pub fn pending_order(product: &Product, email: &str, created_at: OffsetDateTime) -> Order {
    Order::new_pending(
        OrderId::generate(created_at).expect("order id"),
        product,
        Email::parse(email).expect("test email"),
        ChannelKind::Alipay,
        Source {
            utm_source: Some("newsletter".into()),
            ..Source::default()
        },
        created_at,
        Duration::minutes(30),
    )
}

pub mod events;
pub mod gateway;
pub mod local;
pub mod webdriver;

use std::path::PathBuf;
use std::sync::Arc;

use kiosk::Config;
use kiosk::alipay::{
    AlipayPublicKey, AppPrivateKey, Params, query_string, string_to_sign_callback,
};
use kiosk::config::AlipayConfig;
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use lambda_http::{Body, Request, Response};

pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088000000000001";
/// Mixed case on purpose: mail must go out from exactly the configured text (IAM's
/// `ses:FromAddress` compares it case-sensitively).
pub const VERIFIED_SENDER: &str = "Shop@Example.com";
pub const BASE_URL: &str = "https://shop.example.com";
/// The author's shop page (`SHOP_URL`).
pub const SHOP_URL: &str = "https://example.com/books/";

/// A file of the python-alipay-sdk vectors kept in the `kiosk` crate's test data.
pub fn vector_file(rel: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = dir
        .parent()
        .map(|p| {
            p.join("shared")
                .join("tests")
                .join("data")
                .join("alipay")
                .join(rel)
        })
        .unwrap_or_default();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct WorldOptions {
    pub seller_id: Option<&'static str>,
    pub sender: &'static str,
    pub checkouts_per_network_hour: u32,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            seller_id: Some(SELLER_ID),
            sender: VERIFIED_SENDER,
            checkouts_per_network_hour: Config::DEFAULT_CHECKOUTS_PER_NETWORK_HOUR,
        }
    }
}

/// A complete shop on the emulator: table, SSM keys, SES identity, a stand-in gateway,
/// and the same `Shop` the functions build at cold start.
pub struct World {
    pub t: TestTable,
    pub shop: Shop,
    pub gateway: gateway::Gateway,
    /// Signs as Alipay does (the vectors' "alipay" key pair).
    pub alipay_signer: Arc<AppPrivateKey>,
    /// The merchant's own key: a notification signed with it must be refused.
    pub app_signer: AppPrivateKey,
    /// Verifies what we send to Alipay.
    pub app_public: AlipayPublicKey,
    pub endpoint: String,
    pub http: reqwest::Client,
    pub tag: String,
    /// The SSM parameters holding the app private key and Alipay's public key.
    pub key_params: [String; 2],
}

impl World {
    pub async fn new(opts: WorldOptions) -> Result<World> {
        let t = TestTable::new().await?;
        let sdk = kiosk_localaws::emulator_config().await?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
        let tag = t.name.trim_start_matches("kiosk-test-").to_owned();

        let ses = aws_sdk_ses::Client::new(&sdk);
        ses.verify_email_identity()
            .email_address(VERIFIED_SENDER)
            .send()
            .await?;

        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let private_param = format!("/kiosk-test/{tag}/alipay/app-private-key");
        let public_param = format!("/kiosk-test/{tag}/alipay/alipay-public-key");
        put_secret(&ssm, &private_param, &vector_file("keys/app_pkcs8.b64")).await?;
        put_secret(&ssm, &public_param, &vector_file("keys/alipay_spki.pem")).await?;

        let app_public = AlipayPublicKey::parse(&vector_file("keys/app_spki.pem"))?;
        let alipay_signer = Arc::new(AppPrivateKey::parse(&vector_file("keys/alipay_pkcs1.pem"))?);
        let gateway = gateway::Gateway::start(app_public.clone(), alipay_signer.clone()).await?;

        let mut config = Config::new(
            &t.name,
            "kiosk-files",
            kiosk::Sender::parse(opts.sender)?,
            BASE_URL,
            SHOP_URL,
        );
        config.checkouts_per_network_hour = opts.checkouts_per_network_hour;
        let alipay = AlipayConfig {
            app_id: APP_ID.into(),
            gateway_url: gateway.url.clone(),
            seller_id: opts.seller_id.map(str::to_owned),
            app_private_key_param: private_param.clone(),
            alipay_public_key_param: public_param.clone(),
        };
        let channels = ChannelsConfig {
            alipay: Some(alipay),
            stripe: None,
            default: None,
        };
        let shop = Shop::new(&sdk, config, channels).await?;
        Ok(World {
            t,
            shop,
            gateway,
            alipay_signer,
            app_signer: AppPrivateKey::parse(&vector_file("keys/app_pkcs1.pem"))?,
            app_public,
            endpoint,
            http: reqwest::Client::new(),
            tag,
            key_params: [private_param, public_param],
        })
    }

    /// A world whose sender SES does not know yet (so it refuses every mail), unique to
    /// this world: SES identities are shared by every test on the emulator, so verifying
    /// a common one would leak into other tests.
    pub async fn with_unverified_sender(prefix: &str) -> Result<World> {
        let tag = OrderId::generate(OffsetDateTime::now_utc())?
            .as_str()
            .to_lowercase();
        let sender: &'static str =
            Box::leak(format!("{prefix}-{tag}@example.com").into_boxed_str());
        World::new(WorldOptions {
            sender,
            ..WorldOptions::default()
        })
        .await
    }

    /// Verify this world's sender in SES, so its mails go out from now on.
    pub async fn verify_sender(&self) -> Result<()> {
        let sdk = kiosk_localaws::emulator_config().await?;
        aws_sdk_ses::Client::new(&sdk)
            .verify_email_identity()
            .email_address(self.shop.mailer.from_address().as_str())
            .send()
            .await?;
        Ok(())
    }

    /// A buyer address unique to this world, so mail read back is this test's own.
    pub fn buyer(&self, n: u32) -> String {
        format!("buyer{n}-{}@example.com", self.tag)
    }

    pub async fn add_product(&self, id: &str, price: &str) -> Product {
        let p = product(id, price);
        self.shop
            .store
            .create_product(&p, now())
            .await
            .expect("create product");
        p
    }

    /// A pending order created directly in the store.
    pub async fn pending(&self, p: &Product, email: &str) -> Order {
        let o = pending_order(p, email, now());
        self.shop
            .store
            .create_order(&o)
            .await
            .expect("create order");
        o
    }

    /// Notification params as Alipay sends them for `order_id`, signed with the Alipay key.
    pub fn notify_params(&self, order_id: &str, amount: &str, status: &str) -> Params {
        let n = AlipayNotify {
            order_id,
            amount,
            status,
            subject: "The book",
            notify_id: &format!("N-{order_id}-{status}"),
            trade_no: &format!("T-{order_id}"),
        };
        self.sign_as_alipay(n.params())
    }

    /// Send a notification for `order_id` signed as Alipay would; the reply.
    pub async fn notify_signed(&self, order_id: &str, amount: &str, status: &str) -> (u16, String) {
        self.notify(&form(&self.notify_params(order_id, amount, status)))
            .await
    }

    /// The stored order (which must exist).
    pub async fn order(&self, id: &OrderId) -> Order {
        self.shop
            .store
            .get_order(id)
            .await
            .expect("get order")
            .expect("order exists")
    }

    pub fn sign_as_alipay(&self, p: Params) -> Params {
        sign_callback(p, &self.alipay_signer)
    }

    pub async fn checkout(
        &self,
        body: &str,
        content_type: &str,
        accept: &str,
        user_agent: &str,
    ) -> Response<Body> {
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_URL}/checkout"))
            .header("content-type", content_type)
            .header("accept", accept)
            .header("user-agent", user_agent)
            .header("referer", "https://blog.example.com/post")
            .body(Body::Text(body.to_owned()))
            .expect("request");
        checkout::handler::handle(&self.shop, req, now()).await
    }

    /// A form checkout as API Gateway delivers it from `source_ip`.
    pub async fn checkout_from(&self, body: &str, accept: &str, source_ip: &str) -> Response<Body> {
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some(source_ip.to_owned());
        let req: Request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_URL}/checkout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", accept)
            .body(Body::Text(body.to_owned()))
            .expect("request");
        let req = lambda_http::RequestExt::with_request_context(
            req,
            lambda_http::request::RequestContext::ApiGatewayV2(ctx),
        );
        checkout::handler::handle(&self.shop, req, now()).await
    }

    pub async fn notify(&self, body: &str) -> (u16, String) {
        let req: Request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_URL}/notify/alipay"))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::Text(body.to_owned()))
            .expect("request");
        let resp = payment_notify::handler::handle(&self.shop, req, now()).await;
        (resp.status().as_u16(), body_string(&resp))
    }

    pub async fn return_page(&self, query: &str) -> (u16, String) {
        let req: Request = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("{BASE_URL}/return/alipay?{query}"))
            .body(Body::Empty)
            .expect("request");
        let resp = payment_notify::handler::handle(&self.shop, req, now()).await;
        (resp.status().as_u16(), body_string(&resp))
    }

    /// The return page as Lambda runs it: with a context whose deadline is `timeout`
    /// from now (the function's timeout).
    pub async fn return_page_within(
        &self,
        query: &str,
        timeout: std::time::Duration,
    ) -> (u16, String) {
        let mut ctx = lambda_http::Context::default();
        let deadline = std::time::SystemTime::now() + timeout;
        ctx.deadline = deadline
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis() as u64;
        let req: Request = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("{BASE_URL}/return/alipay?{query}"))
            .body(Body::Empty)
            .expect("request");
        let req = lambda_http::RequestExt::with_lambda_context(req, ctx);
        let resp = payment_notify::handler::handle(&self.shop, req, now()).await;
        (resp.status().as_u16(), body_string(&resp))
    }

    /// Mails SES accepted for `to`, read back from the emulator.
    pub async fn mails_to(&self, to: &str) -> Vec<SentMail> {
        read_mails(&self.http, &self.endpoint, to).await
    }

    pub async fn grants_for(&self, order: &OrderId) -> usize {
        self.t
            .scan_entity("grant")
            .await
            .expect("scan")
            .iter()
            .filter(|g| g.get("order_id").and_then(|v| v.as_s().ok()) == Some(&order.to_string()))
            .count()
    }
}

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

/// The download side on the emulator: table, files bucket with a product file, SES.
pub struct DownloadWorld {
    pub t: TestTable,
    pub app: kiosk::downloads::Downloads,
    pub bucket: String,
    pub product: Product,
    pub bytes: Vec<u8>,
    pub endpoint: String,
    pub http: reqwest::Client,
    pub tag: String,
}

impl DownloadWorld {
    pub async fn new() -> Result<DownloadWorld> {
        let t = TestTable::new().await?;
        let sdk = kiosk_localaws::emulator_config().await?;
        let tag = t.name.trim_start_matches("kiosk-test-").to_owned();
        let bucket = format!("files-{tag}");
        let s3 = kiosk::files::s3_client(&sdk);
        s3.create_bucket().bucket(&bucket).send().await?;
        let mut product = product("rust-book", "9.00");
        product.file.name = "The Rust Book.pdf".into();
        product.file.key = "products/rust-book/v1/The Rust Book.pdf".into();
        // Every byte value, so any mangling on the way shows.
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
        s3.put_object()
            .bucket(&bucket)
            .key(&product.file.key)
            .content_type(&product.file.content_type)
            .body(bytes.clone().into())
            .send()
            .await?;
        aws_sdk_ses::Client::new(&sdk)
            .verify_email_identity()
            .email_address(VERIFIED_SENDER)
            .send()
            .await?;
        let config = Config::new(
            &t.name,
            &bucket,
            kiosk::Sender::parse(VERIFIED_SENDER)?,
            BASE_URL,
            SHOP_URL,
        );
        let app = kiosk::downloads::Downloads::from_sdk(&sdk, config);
        app.store.create_product(&product, now()).await?;
        Ok(DownloadWorld {
            t,
            app,
            bucket,
            product,
            bytes,
            endpoint: std::env::var("AWS_ENDPOINT_URL")?,
            http: reqwest::Client::new(),
            tag,
        })
    }

    pub fn buyer(&self, n: u32) -> String {
        format!("buyer{n}-{}@example.com", self.tag)
    }

    /// The stored grant (which must exist).
    pub async fn grant(&self, token: &kiosk::DownloadToken) -> kiosk::Grant {
        self.app
            .store
            .get_grant(token)
            .await
            .expect("get grant")
            .expect("grant exists")
    }

    /// A paid purchase of the product by `email`; returns its grant.
    pub async fn purchase(&self, email: &str) -> kiosk::Grant {
        paid_purchase(&self.app.store, &self.product, email).await
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response<Body> {
        let mut b = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("{BASE_URL}{path}"));
        if body.is_some() {
            b = b.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = b
            .body(
                body.map(|s| Body::Text(s.to_owned()))
                    .unwrap_or(Body::Empty),
            )
            .expect("request");
        download::handler::handle(&self.app, req, now()).await
    }

    /// `POST /download/resend` for `email` as API Gateway delivers it from `source_ip`:
    /// status, page, and how long the answer took.
    pub async fn resend(&self, email: &str, source_ip: &str) -> (u16, String, std::time::Duration) {
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some(source_ip.to_owned());
        let req: Request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_URL}/download/resend"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::Text(format!(
                "email={}",
                email.replace('@', "%40").replace('+', "%2B")
            )))
            .expect("request");
        let req = lambda_http::RequestExt::with_request_context(
            req,
            lambda_http::request::RequestContext::ApiGatewayV2(ctx),
        );
        let started = std::time::Instant::now();
        let resp = download::handler::handle(&self.app, req, now()).await;
        (
            resp.status().as_u16(),
            body_string(&resp),
            started.elapsed(),
        )
    }

    /// Fetch a presigned URL from the emulator (which serves it without checking the
    /// signature, so the URL's properties are asserted separately).
    pub async fn fetch(&self, url: &str) -> Vec<u8> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .expect("fetch presigned URL");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.bytes().await.expect("bytes").to_vec()
    }

    pub async fn mails_to(&self, to: &str) -> Vec<SentMail> {
        read_mails(&self.http, &self.endpoint, to).await
    }
}

/// A purchase of `product` by `email` recorded as paid straight in the store (the
/// notification path is tested elsewhere); its new grant.
pub async fn paid_purchase(store: &Store, product: &Product, email: &str) -> kiosk::Grant {
    let o = pending_order(product, email, now());
    store.create_order(&o).await.expect("order");
    let payment = kiosk::order::Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    match store
        .mark_paid(&o, &payment, None, None, now())
        .await
        .expect("pay")
    {
        kiosk::store::Paid::Now { grant, .. } => *grant,
        other => panic!("expected a new grant, got {other:?}"),
    }
}

/// Store a SecureString parameter in the emulator's SSM, as an author does with keys.
pub async fn put_secret(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) -> Result<()> {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await?;
    Ok(())
}

/// Mails SES accepted for `to`, read back from the emulator.
pub async fn read_mails(http: &reqwest::Client, endpoint: &str, to: &str) -> Vec<SentMail> {
    kiosk_localaws::sent_mail(http, endpoint, Some(to))
        .await
        .expect("read sent mail from the emulator")
}
