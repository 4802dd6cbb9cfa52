//! A complete shop on the emulator: table, SSM keys, SES identity, a stand-in Alipay
//! gateway, and the `Shop` the functions build.

use std::sync::Arc;

use anyhow::Result;
use kiosk::Config;
use kiosk::alipay::{AlipayPublicKey, AppPrivateKey, Params};
use kiosk::checkout::Checkout;
use kiosk::config::AlipayConfig;
use kiosk::reconcile::Reconciler;
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use kiosk::{Order, OrderId, Product};
use lambda_http::{Body, Request, Response};

use crate::*;

pub struct WorldOptions {
    pub seller_id: Option<&'static str>,
    pub sender: &'static str,
    pub checkouts_per_network_hour: u32,
    /// The app id (`AWS_SDK_UA_APP_ID`) the handles' SDK sends: the emulator's faults
    /// pick their requests by it ([`crate::soak`]); the setup's calls never carry it.
    pub app: Option<String>,
    /// The handles' SDK attempt timeout, when not the SDK's default (the soak's,
    /// compressed from the functions' [`kiosk::tls::AWS_ATTEMPT_TIMEOUT`]).
    pub attempt_timeout: Option<std::time::Duration>,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            seller_id: Some(SELLER_ID),
            sender: VERIFIED_SENDER,
            checkouts_per_network_hour: Config::DEFAULT_CHECKOUTS_PER_NETWORK_HOUR,
            app: None,
            attempt_timeout: None,
        }
    }
}

/// A complete shop on the emulator: table, SSM keys, SES identity, a stand-in gateway,
/// and the same `Shop` the functions build at cold start.
pub struct World {
    pub t: TestTable,
    /// The checkout function's handle, built from the same configuration.
    pub checkout: Checkout,
    pub shop: Shop,
    /// The reconcile function's handle over the same table and gateway.
    pub reconciler: Reconciler,
    /// The channels both handles were built with.
    pub channels_config: ChannelsConfig,
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
    /// The SSM parameter holding the shop's license signing key.
    pub license_param: String,
    /// How this world's checkout has free orders fulfilled (in process).
    pub fulfiller: kiosk::free::FreeFulfilment,
    /// The SDK configuration the handles were built with (the options' app id and
    /// timeout); the setup's and the tests' own reads use the plain one.
    pub handles_sdk: aws_config::SdkConfig,
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
        kiosk_localaws::ensure_configuration_set(&sdk, MAIL_CONFIGURATION_SET).await?;

        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let private_param = format!("/kiosk-test/{tag}/alipay/app-private-key");
        let public_param = format!("/kiosk-test/{tag}/alipay/alipay-public-key");
        put_secret(&ssm, &private_param, &vector_file("keys/app_pkcs8.b64")).await?;
        put_secret(&ssm, &public_param, &vector_file("keys/alipay_spki.pem")).await?;
        // The shop's license signing key, as `kiosk license keygen` makes it.
        let license_param = format!("/kiosk-test/{tag}/license/signing-key");
        put_secret(
            &ssm,
            &license_param,
            &kiosk::license::LicenseSigner::generate()?,
        )
        .await?;

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
        config.mail_configuration_set = Some(MAIL_CONFIGURATION_SET.to_owned());
        config.license_key_param = Some(license_param.clone());
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
            wechat: None,
            default: None,
        };
        // The handles' calls carry the options' app id; the setup above does not.
        let sdk = kiosk_localaws::handles_config(
            &sdk,
            opts.app.as_deref(),
            opts.attempt_timeout.map(kiosk::tls::aws_timeouts),
        )?;
        // Free orders are fulfilled as the reconcile function fulfils them from the queue,
        // here in process (kiosk::free).
        let fulfiller = kiosk::free::FreeFulfilment::by(
            std::sync::Arc::new(Shop::new(&sdk, config.clone(), channels.clone()).await?),
            kiosk::clock::now,
        );
        let checkout = Checkout::new(&sdk, config.checkout(), channels.clone())
            .await?
            .with_free_fulfilment(fulfiller.clone());
        let channels_config = channels.clone();
        let reconciler = Reconciler::new(Shop::new(&sdk, config.clone(), channels.clone()).await?);
        let shop = Shop::new(&sdk, config, channels).await?;
        Ok(World {
            t,
            checkout,
            shop,
            reconciler,
            gateway,
            alipay_signer,
            app_signer: AppPrivateKey::parse(&vector_file("keys/app_pkcs1.pem"))?,
            app_public,
            endpoint,
            http: reqwest::Client::new(),
            tag,
            key_params: [private_param, public_param],
            license_param,
            channels_config,
            fulfiller,
            handles_sdk: sdk,
        })
    }

    /// Rebuild the checkout function's handle with its configuration changed by `change`
    /// (as a redeploy with other settings would).
    pub async fn reconfigure_checkout(
        &mut self,
        change: impl FnOnce(&mut kiosk::config::CheckoutConfig),
    ) -> Result<()> {
        let mut config = self.shop.config().checkout();
        change(&mut config);
        self.checkout = Checkout::new(&self.handles_sdk, config, self.channels_config.clone())
            .await?
            .with_free_fulfilment(self.fulfiller.clone());
        Ok(())
    }

    /// A world whose sender SES does not know yet (so it refuses every mail), unique to
    /// this world: SES identities are shared by every test on the emulator, so verifying
    /// a common one would leak into other tests.
    pub async fn with_unverified_sender(prefix: &str) -> Result<World> {
        let tag = OrderId::generate(kiosk::clock::now_exact())?
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
            .email_address(self.shop.config().sender_email.as_str())
            .send()
            .await?;
        Ok(())
    }

    /// The public key of this world's license signing key, as `kiosk license
    /// public-key` prints it (read back from SSM).
    pub async fn license_public_key(&self) -> Result<String> {
        let ssm = aws_sdk_ssm::Client::new(&kiosk_localaws::emulator_config().await?);
        let stored = ssm
            .get_parameter()
            .name(&self.license_param)
            .with_decryption(true)
            .send()
            .await?;
        let value = stored
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default();
        Ok(kiosk::license::LicenseSigner::parse(value)?.public_key())
    }

    /// A buyer address unique to this world, so mail read back is this test's own.
    pub fn buyer(&self, n: u32) -> String {
        format!("buyer{n}-{}@example.com", self.tag)
    }

    pub async fn add_product(&self, id: &str, price: &str) -> Product {
        let p = product(id, price);
        self.t
            .store
            .create_product(&p, now())
            .await
            .expect("create product");
        p
    }

    /// A pending order created directly in the store.
    pub async fn pending(&self, p: &Product, email: &str) -> Order {
        let o = pending_order(p, email, now());
        self.t.store.create_order(&o).await.expect("create order");
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

    /// How many uses the discount code `name` has counted.
    pub async fn code_uses(&self, name: &kiosk::pricing::CodeName) -> u32 {
        self.t
            .store
            .get_code(name)
            .await
            .expect("read the code")
            .expect("the code exists")
            .uses()
    }

    /// The stored order (which must exist).
    pub async fn order(&self, id: &OrderId) -> Order {
        self.t
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
        checkout::handler::handle(&self.checkout, req, now()).await
    }

    /// A form checkout as API Gateway delivers it from `source_ip`.
    pub async fn checkout_from(&self, body: &str, accept: &str, source_ip: &str) -> Response<Body> {
        checkout_from(&self.checkout, body, accept, source_ip).await
    }

    pub async fn notify(&self, body: &str) -> (u16, String) {
        let resp = payment_notify::handler::handle(&self.shop, notify_request(body), now()).await;
        (resp.status().as_u16(), body_string(&resp))
    }

    /// A notification as Lambda delivers it to payment-notify: with a context whose
    /// deadline is `timeout` from now (the function's timeout, or a process stopped
    /// early); the status.
    pub async fn notify_within(&self, body: &str, timeout: std::time::Duration) -> u16 {
        notify_within(&self.shop, body, timeout).await
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
        let req: Request = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("{BASE_URL}/return/alipay?{query}"))
            .body(Body::Empty)
            .expect("request");
        let req = within(req, timeout);
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

/// Alipay's notification delivered to `shop` (any instance of payment-notify's handle)
/// as Lambda delivers it: with a context whose deadline is `timeout` from now (the
/// function's timeout, or a process stopped early); the status.
pub async fn notify_within(shop: &Shop, body: &str, timeout: std::time::Duration) -> u16 {
    payment_notify::handler::handle(shop, within(notify_request(body), timeout), now())
        .await
        .status()
        .as_u16()
}

/// Alipay's notification `body` as it reaches `POST /notify/alipay`.
fn notify_request(body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_URL}/notify/alipay"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::Text(body.to_owned()))
        .expect("request")
}

/// `req` as Lambda runs it: with a context whose deadline is `timeout` from now.
pub fn within(req: Request, timeout: std::time::Duration) -> Request {
    let mut ctx = lambda_http::Context::default();
    let deadline = std::time::SystemTime::now() + timeout;
    ctx.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    lambda_http::RequestExt::with_lambda_context(req, ctx)
}

/// `req` as API Gateway delivers it from `source_ip` (the address the per-network limits
/// count).
pub fn from_ip(req: Request, source_ip: &str) -> Request {
    let mut ctx = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    ctx.http.source_ip = Some(source_ip.to_owned());
    lambda_http::RequestExt::with_request_context(
        req,
        lambda_http::request::RequestContext::ApiGatewayV2(ctx),
    )
}

/// A form checkout from `source_ip`, answered by `checkout` (any instance of the
/// checkout function's handle).
pub async fn checkout_from(
    checkout: &Checkout,
    body: &str,
    accept: &str,
    source_ip: &str,
) -> Response<Body> {
    let req: Request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_URL}/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", accept)
        .body(Body::Text(body.to_owned()))
        .expect("request");
    checkout::handler::handle(checkout, from_ip(req, source_ip), now()).await
}

/// The hosted buy page of `path_and_query` (`/buy/{id}?...`) as a browser on `source_ip`
/// gets it: status and body.
pub async fn buy_page_from(
    checkout: &Checkout,
    path_and_query: &str,
    source_ip: &str,
) -> (u16, String) {
    let req: Request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("{BASE_URL}{path_and_query}"))
        .header("accept-language", "en")
        .body(Body::Empty)
        .expect("request");
    let resp = checkout::handler::handle(checkout, from_ip(req, source_ip), now()).await;
    (resp.status().as_u16(), body_string(&resp))
}

/// The free-claim token (`claim`) of a page the checkout function served: the buy
/// page's, or the confirming page's.
pub fn claim_of(page: &str) -> Option<String> {
    let (_, rest) = page.split_once("name=\"claim\" value=\"")?;
    rest.split_once('"').map(|(v, _)| v.to_owned())
}

/// The claim token the buy page of `product` carries for a browser on `source_ip`.
pub async fn claim_token(checkout: &Checkout, product: &str, source_ip: &str) -> String {
    let (status, page) = buy_page_from(checkout, &format!("/buy/{product}"), source_ip).await;
    assert_eq!(status, 200, "{page}");
    claim_of(&page).expect("the buy page carries a claim token")
}

/// A discount code `name` taking `discount` off, with at most `max_uses` uses, for every
/// product, made now.
pub fn sample_code(
    name: &str,
    discount: kiosk::pricing::Discount,
    max_uses: Option<u32>,
) -> kiosk::pricing::Code {
    kiosk::pricing::Code::new(
        kiosk::pricing::NewCode {
            name: kiosk::pricing::CodeName::parse(name).expect("a code name"),
            discount,
            products: Vec::new(),
            max_uses,
            expires_at: None,
        },
        now(),
    )
    .expect("a valid code")
}

/// Three codes no buyer can use on `rust-book`: `OLD` (ended a second ago), `OFF`
/// (disabled by the author) and `OTHER` (for `other-book` only), written to `store`.
pub async fn unusable_codes(store: &kiosk::store::Store) -> [kiosk::pricing::Code; 3] {
    use kiosk::ProductId;
    use kiosk::pricing::{Code, CodeName, Discount, NewCode};
    let spec = |name: &str, products: Vec<ProductId>, expires_at| NewCode {
        name: CodeName::parse(name).expect("a code name"),
        discount: Discount::Percent(10),
        products,
        max_uses: None,
        expires_at,
    };
    let old = Code::new(
        spec("OLD", vec![], Some(now() - time::Duration::seconds(1))),
        now() - time::Duration::days(1),
    )
    .expect("a valid code");
    let off = sample_code("OFF", Discount::Percent(10), None);
    let other = Code::new(
        spec(
            "OTHER",
            vec![ProductId::parse("other-book").expect("an id")],
            None,
        ),
        now(),
    )
    .expect("a valid code");
    for c in [&old, &off, &other] {
        assert!(store.create_code(c).await.expect("create code"));
    }
    assert!(store.disable_code(off.name()).await.expect("disable"));
    [old, off, other]
}

/// A checkout form for `product` by `email`, with `extra` fields (encoded as a browser
/// does).
pub fn order_form(product: &str, email: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("product_id".to_owned(), product.to_owned()),
        ("email".to_owned(), email.to_owned()),
    ];
    pairs.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
    kiosk::form::encode_pairs(&pairs)
}

/// A store over `table` whose every request the locked emulator records under the app
/// id `kiosk-iam-{tag}-{name}` (read them with `kiosk_localaws::iam::recorded`), and that
/// app id.
pub async fn recording_store(
    table: &str,
    tag: &str,
    name: &str,
) -> Result<(kiosk::store::Store, String)> {
    let app = kiosk_localaws::iam::app_id(tag, name);
    let sdk = kiosk_localaws::emulator_config()
        .await?
        .to_builder()
        .app_name(aws_config::AppName::new(app.clone())?)
        .build();
    Ok((
        kiosk::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        app,
    ))
}
