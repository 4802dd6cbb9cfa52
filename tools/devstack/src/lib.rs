//! `make dev`'s server: the whole shop in one process on 127.0.0.1, on two origins as
//! when deployed: the author's static site on one port, the API on another.
//!
//! The site's port: the example shop in `site/`, where every `API_URL` in an HTML file
//! is replaced by the API's address (what an author does by hand), so its `kiosk.js`
//! overlay runs cross-origin as on a real static host.
//!
//! The API's port:
//! - `/checkout`, `/kiosk.js`, `/buy/{product_id}`, `/products/{product_id}`, `/notify/{channel}`, `/return/{channel}`, `/download/...`: the very handler
//!   functions the Lambda binaries run, fed `lambda_http` requests (`/t` is the collect
//!   function's); `/` sends you to the site;
//! - `/sandbox/alipay/...`: a local Alipay (see `sandbox`);
//! - `/sandbox/stripe/...`: a local Stripe: API and hosted checkout page (see `stripe`);
//! - `/sandbox/wechat/...`: a local WeChat Pay: API v3, the page that plays the buyer's
//!   phone and the H5 cashier (see `wechat`);
//! - `/mailbox`: the mails SES accepted in the emulator, each with buttons that make SES
//!   report it bounced or complained (through the mail-events handler);
//! - reconcile (due purchase mails, pending orders checked with the sandbox) every
//!   [`RECONCILE_EVERY`], as the scheduled function does when deployed.

pub mod dice;
pub mod keys;
pub mod mailbox;
pub mod reply;
pub mod sandbox;
pub mod setup;
pub mod stripe;
pub mod wechat;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kiosk::Config;
use kiosk::alipay::{AlipayPublicKey, AppPrivateKey};
use kiosk::checkout::Checkout;
use kiosk::config::{AlipayConfig, StripeConfig};
use kiosk::downloads::Downloads;
use kiosk::reconcile::Reconciler;
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use kiosk::stripe::webhook::WebhookSecret;
use tokio::net::TcpListener;

use sandbox::{Reply, Sandbox};

/// How often the local shop runs reconcile (deployed: every 5 minutes).
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);

pub struct Options {
    /// The emulator (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    pub site_dir: PathBuf,
    /// Where the site is served (another port than the API's: another origin).
    pub site_listener: TcpListener,
    pub keys_dir: PathBuf,
    /// One step of Alipay's notification retry schedule (minutes there, seconds here).
    pub retry_unit: Duration,
    /// Names this shop's table, bucket and SSM parameters ([`setup::NAME`] for `make
    /// dev`).
    pub name: String,
    /// The app id (`AWS_SDK_UA_APP_ID`) the handles' SDK sends, and their attempt
    /// timeout (the soak's faults pick requests by the one and outlast the other);
    /// `None`: the SDK's defaults. The setup's calls never carry them.
    pub app: Option<String>,
    pub attempt_timeout: Option<Duration>,
    /// How often this shop runs reconcile on its own (by the real clock);
    /// [`RECONCILE_EVERY`] for `make dev`. `None`: never -- the caller runs
    /// [`App::reconciler`] itself (the soak, by its compressed clock: a schedule on
    /// another clock would see every lease as long expired).
    pub reconcile_every: Option<Duration>,
}

pub struct App {
    /// The checkout function's handle (it holds no mailer).
    pub checkout: Checkout,
    pub shop: Shop,
    /// The reconcile function's handle, run every [`RECONCILE_EVERY`].
    pub reconciler: Reconciler,
    /// The author's refund workflow (`kiosk refund`), over the same table and channels.
    pub refunds: kiosk::refund::Refunds,
    downloads: Downloads,
    /// The collect function's handle (`POST /t`) and its configuration.
    pub collector: kiosk::collect::Collector,
    /// The license function's handle (`POST /license/verify`, `GET /license/revoked`).
    pub licenses: kiosk::licenses::Licenses,
    /// The mail-events function's handle: the mailbox's bounce and complaint buttons
    /// send it what SES would.
    mail_events: kiosk::mail_events::MailEvents,
    pub sandbox: Arc<Sandbox>,
    pub stripe: Arc<stripe::StripeSandbox>,
    pub wechat: Arc<wechat::WechatSandbox>,
    /// The webhook signing secret this run's Stripe stand-in signs with.
    pub stripe_webhook_secret: String,
    /// This shop's table, bucket and SSM parameters.
    pub names: setup::Names,
    /// The shop's table, as the tests (and an author's look) read it; the handles keep
    /// their own.
    pub store: kiosk::store::Store,
    /// The example site's address (`http://127.0.0.1:{port}`, no trailing slash): the
    /// shop's `SHOP_URL` and its one embedding origin.
    pub site_url: String,
    /// The API's address, which replaces `API_URL` in the site's pages.
    pub api_url: String,
    site_dir: PathBuf,
    endpoint: String,
    http: reqwest::Client,
}

/// Prepare the emulator and start serving on `listener`. Returns the shop's base URL.
pub async fn start(listener: TcpListener, opts: Options) -> Result<(String, Arc<App>)> {
    let base = format!("http://{}", listener.local_addr()?);
    let site_url = format!("http://{}", opts.site_listener.local_addr()?);
    let sdk = kiosk_localaws::emulator_config().await?;
    let keys = keys::load_or_generate(&opts.keys_dir)?;
    let webhook_secret = local_webhook_secret()?;
    let names = setup::Names::of(&opts.name);
    setup::prepare(&sdk, &names, &keys, &webhook_secret).await?;
    let setup_sdk = sdk.clone();
    let sdk = kiosk_localaws::handles_config(
        &sdk,
        opts.app.as_deref(),
        opts.attempt_timeout.map(kiosk::tls::aws_timeouts),
    )?;

    let mut config = Config::new(
        &names.table,
        &names.bucket,
        kiosk::Sender::parse(setup::SENDER)?,
        base.clone(),
        format!("{site_url}/"),
    );
    config.mail_configuration_set = Some(names.mail_configuration_set.clone());
    config.license_key_param = Some(names.license_key.clone());
    let mail_events = kiosk::mail_events::MailEvents::new(
        &sdk,
        &kiosk::config::MailEventsConfig {
            table_name: names.table.clone(),
            topic_arn: names.mail_events_topic.clone(),
            configuration_set: names.mail_configuration_set.clone(),
        },
    );
    let alipay = AlipayConfig {
        app_id: setup::APP_ID.into(),
        gateway_url: format!("{base}/sandbox/alipay/gateway.do"),
        seller_id: Some(setup::SELLER_ID.into()),
        app_private_key_param: names.alipay_private_key.clone(),
        alipay_public_key_param: names.alipay_public_key.clone(),
    };
    let stripe_config = StripeConfig {
        secret_key_param: names.stripe_secret_key.clone(),
        webhook_secret_param: Some(names.stripe_webhook_secret.clone()),
        api_base: format!("{base}/sandbox/stripe"),
    };
    let wechat_config = kiosk::config::WechatConfig {
        mchid: setup::WECHAT_MCHID.into(),
        appid: setup::WECHAT_APPID.into(),
        merchant_serial_no: setup::WECHAT_MERCHANT_SERIAL.into(),
        public_key_id: setup::WECHAT_PUBLIC_KEY_ID.into(),
        merchant_key_param: names.wechat_merchant_key.clone(),
        public_key_param: names.wechat_public_key.clone(),
        apiv3_key_param: Some(names.wechat_apiv3_key.clone()),
        api_base: format!("{base}/sandbox/wechat"),
    };
    let channels = ChannelsConfig {
        alipay: Some(alipay),
        stripe: Some(stripe_config),
        wechat: Some(wechat_config),
        default: None,
    };
    // Free orders are fulfilled in this process, as the reconcile function fulfils them
    // from the stack's queue (kiosk::free).
    let fulfiller = kiosk::free::FreeFulfilment::by(
        Arc::new(Shop::new(&sdk, config.clone(), channels.clone()).await?),
        kiosk::clock::now,
    );
    let checkout = Checkout::new(&sdk, config.checkout(), channels.clone())
        .await?
        .with_free_fulfilment(fulfiller);
    let reconciler = Reconciler::new(Shop::new(&sdk, config.clone(), channels.clone()).await?);
    let refunds =
        kiosk::refund::Refunds::new(Shop::new(&sdk, config.clone(), channels.clone()).await?);
    let shop = Shop::new(&sdk, config.clone(), channels).await?;
    let stripe = stripe::StripeSandbox::new(
        setup::STRIPE_SECRET_KEY,
        WebhookSecret::parse(&webhook_secret)?,
        &base,
        opts.retry_unit,
    );
    let collector = kiosk::collect::Collector::new(
        &sdk,
        kiosk::config::CollectConfig {
            table_name: names.table.clone(),
            sites: config.embed_origins.clone(),
        },
    )
    .await?;
    // Stamped PDFs are made in this process, as the stack's stamping function makes them
    // from its queue: the first download of a stamped PDF asks, and its page reloads.
    let stamper = Arc::new(kiosk::stamp::Stamper::new(
        &sdk,
        &config.table_name,
        &config.files_bucket,
    ));
    let downloads =
        Downloads::new(&sdk, config).with_stamp_requests(kiosk::stamp::StampRequests::by(stamper));
    let wechat = Arc::new(
        wechat::WechatSandbox::new(
            wechat::WechatIds {
                mchid: setup::WECHAT_MCHID.into(),
                appid: setup::WECHAT_APPID.into(),
                merchant_serial_no: setup::WECHAT_MERCHANT_SERIAL.into(),
                public_key_id: setup::WECHAT_PUBLIC_KEY_ID.into(),
            },
            kiosk::rsa::VerifyingKey::parse(&keys.merchant_public_pem)?,
            kiosk::rsa::SigningKey::parse(&keys.wechatpay_private_pem)?,
            kiosk::wechat::ApiV3Key::parse(setup::WECHAT_APIV3_KEY)?,
        )
        .with_pages(
            format!("{base}/sandbox/wechat"),
            reqwest::Client::new(),
            opts.retry_unit,
        ),
    );
    let sandbox = Sandbox::new(
        AlipayPublicKey::parse(&keys.app_public_pem)?,
        AppPrivateKey::parse(&keys.alipay_private_pem)?,
        opts.retry_unit,
    );
    let licenses =
        kiosk::licenses::Licenses::open(&sdk, &names.table, Some(&names.license_key)).await?;
    let app = Arc::new(App {
        licenses,
        checkout,
        store: kiosk::store::Store::new(aws_sdk_dynamodb::Client::new(&setup_sdk), &names.table),
        shop,
        reconciler,
        refunds,
        downloads,
        collector,
        mail_events,
        sandbox,
        stripe,
        wechat,
        stripe_webhook_secret: webhook_secret,
        names,
        site_url,
        api_url: base.clone(),
        site_dir: opts.site_dir,
        endpoint: opts.endpoint,
        http: reqwest::Client::new(),
    });

    // What the scheduled reconcile function does every 5 minutes when deployed, here
    // every 30 seconds, with the same code.
    let reconciling = app.clone();
    if let Some(every) = opts.reconcile_every {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let budget = kiosk::deadline::Deadline::after(every / 2);
                let now = kiosk::clock::now();
                match reconciling.reconciler.run(now, budget).await {
                    Ok(run) if run != Default::default() => {
                        tracing::info!(?run, "reconcile run")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reconcile run failed"),
                }
            }
        });
    }

    let site = app.clone();
    let site_listener = opts.site_listener;
    tokio::spawn(async move {
        while let Ok((stream, _)) = site_listener.accept().await {
            let app = site.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(app.site(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    let served = app.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let app = served.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move {
                        let resp = app.handle(req, peer).await;
                        // A stand-in's injected fault: close without answering.
                        if resp.extensions().get::<DropConnection>().is_some() {
                            return Err(DropConnection);
                        }
                        Ok(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((base, app))
}

/// A fresh `whsec_...` for this run (Stripe makes one per webhook endpoint).
fn local_webhook_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(format!(
        "whsec_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Where `kiosk --local` finds the running local shop: the emulator's address and the
/// names `make dev` created, written to `{root}/.local/stack.json`. Returns the path.
pub fn write_local_stack(
    root: &Path,
    base: &str,
    endpoint: &str,
    names: &setup::Names,
) -> Result<PathBuf> {
    let dir = root.join(".local");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("stack.json");
    let stack = serde_json::json!({
        "endpoint": endpoint,
        "region": std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        "table": names.table,
        "bucket": names.bucket,
        "api_url": base,
        "sender": setup::SENDER,
        "alipay_app_id": setup::APP_ID,
        "alipay_gateway_url": format!("{base}/sandbox/alipay/gateway.do"),
        "alipay_private_key_param": names.alipay_private_key,
        "alipay_public_key_param": names.alipay_public_key,
        "stripe_secret_key_param": names.stripe_secret_key,
        "stripe_webhook_secret_param": names.stripe_webhook_secret,
        "stripe_api_base": format!("{base}/sandbox/stripe"),
        "wechat_mchid": setup::WECHAT_MCHID,
        "wechat_appid": setup::WECHAT_APPID,
        "wechat_merchant_serial_no": setup::WECHAT_MERCHANT_SERIAL,
        "wechat_public_key_id": setup::WECHAT_PUBLIC_KEY_ID,
        "wechat_merchant_key_param": names.wechat_merchant_key,
        "wechat_public_key_param": names.wechat_public_key,
        "wechat_api_base": format!("{base}/sandbox/wechat"),
        "license_key_param": names.license_key,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&stack)?)?;
    Ok(path)
}

type Resp = Response<Full<Bytes>>;

/// Marks a response that must not be sent: the connection is closed instead (a
/// provider whose answer is lost).
#[derive(Debug, Clone, Copy)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

fn plain(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A function's response, served as is but for one thing: deployed, the download form's
/// redirect goes to S3 over https, which the pages' `form-action 'self' https:` allows;
/// here it goes to the emulator over plain http on loopback, which a browser would block.
/// So the emulator's origin is added to `form-action`, and only here.
fn from_lambda(resp: lambda_http::Response<lambda_http::Body>, endpoint: &str) -> Resp {
    let (mut parts, body) = resp.into_parts();
    let csp = hyper::header::CONTENT_SECURITY_POLICY;
    if let Some(policy) = parts.headers.get(&csp).and_then(|v| v.to_str().ok()) {
        let origin = endpoint.trim_end_matches('/');
        let patched = policy.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&patched) {
            parts.headers.insert(csp, v);
        }
    }
    let bytes = Bytes::copy_from_slice(body.as_ref());
    Response::from_parts(parts, Full::new(bytes))
}

/// No answer: the connection is closed (a stand-in's injected fault).
fn dropped() -> Resp {
    let mut resp = plain(500, "text/plain", "");
    resp.extensions_mut().insert(DropConnection);
    resp
}

fn reply(r: Reply) -> Resp {
    match r {
        Reply::Html(status, html) => plain(status, "text/html; charset=utf-8", html),
        Reply::Json(json) => plain(200, "text/html;charset=utf-8", json), // the gateway's own content type
        Reply::Dropped => dropped(),
        Reply::Redirect(to) => {
            let mut resp = plain(303, "text/plain", "");
            if let Ok(v) = hyper::header::HeaderValue::from_str(&to) {
                resp.headers_mut().insert(hyper::header::LOCATION, v);
            }
            resp
        }
    }
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

impl App {
    fn stripe_route(
        &self,
        method: &str,
        rest: &str,
        query: &str,
        headers: &hyper::HeaderMap,
        body: &str,
    ) -> Resp {
        if let Some(id) = rest.strip_prefix("/pay/") {
            return reply(match method {
                "POST" => self.stripe.pay(id, body),
                _ => self.stripe.page(id, None),
            });
        }
        let (status, json) = self.stripe.api(method, rest, query, headers, body);
        if status == stripe::DROP_CONNECTION {
            return dropped();
        }
        plain(status, "application/json", json)
    }

    /// The WeChat Pay stand-in: its API under `/v3/`, the page that plays the phone for
    /// a Native order, and the H5 cashier. Notifications go out in the background.
    fn wechat_route(
        &self,
        method: &str,
        rest: &str,
        query: &str,
        headers: &hyper::HeaderMap,
        body: &str,
    ) -> Resp {
        let now = kiosk::clock::now_exact();
        let send = |out: wechat::Outgoing| {
            let me = self.wechat.clone();
            tokio::spawn(me.deliver(out));
        };
        if rest.starts_with("/v3/") {
            let path = if query.is_empty() {
                rest.to_owned()
            } else {
                format!("{rest}?{query}")
            };
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            let reply = self.wechat.api(method, &path, auth, body, now);
            for out in self.wechat.take_outbox() {
                send(out);
            }
            if reply.status == wechat::DROP_CONNECTION {
                return dropped();
            }
            let mut resp = plain(reply.status, "application/json", reply.body);
            for (k, v) in reply.headers {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                    resp.headers_mut().insert(k, v);
                }
            }
            return resp;
        }
        let form = kiosk::form::parse_form(if method == "POST" { body } else { query })
            .unwrap_or_default();
        let pr = form.get("pr").map(String::as_str).unwrap_or("");
        let back = form.get("redirect_url").map(String::as_str);
        let h5 = match rest {
            "/phone" => false,
            "/h5" => true,
            _ => return plain(404, "text/plain", "not found"),
        };
        if method != "POST" {
            let (status, html) = self.wechat.page(pr, h5, back);
            return plain(status, "text/html; charset=utf-8", html);
        }
        let Some(out) = self.wechat.pay(pr, now) else {
            return plain(
                409,
                "text/plain",
                "this order cannot be paid (paid, closed or unknown)",
            );
        };
        send(out);
        match back {
            Some(to) if h5 => reply(Reply::Redirect(to.to_owned())),
            _ => plain(
                200,
                "text/html; charset=utf-8",
                kiosk_web::pages::frame(
                    kiosk::i18n::Lang::EN,
                    "WeChat Pay stand-in",
                    "",
                    "<h1 id=\"wechat-paid\">Paid</h1><p>The shop's page moves on by itself.</p>",
                ),
            ),
        }
    }

    async fn handle(&self, req: Request<Incoming>, peer: std::net::SocketAddr) -> Resp {
        let (parts, body) = req.into_parts();
        // Real clients of this server send small bodies; the functions apply their own limits.
        let bytes = match Limited::new(body, 1 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return plain(413, "text/plain", "too large"),
        };
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or("").to_owned();
        let method = parts.method.clone();
        let text = std::str::from_utf8(&bytes).unwrap_or("").to_owned();

        if path == "/sandbox/alipay/gateway.do" {
            return reply(if method == hyper::Method::POST {
                self.sandbox.api(&text)
            } else {
                self.sandbox.cashier(&query)
            });
        }
        if path == "/sandbox/alipay/pay" && method == hyper::Method::POST {
            return reply(self.sandbox.pay(&text));
        }
        if path == "/sandbox/alipay/cancel" && method == hyper::Method::POST {
            return reply(self.sandbox.cancel(&text));
        }
        if let Some(rest) = path.strip_prefix("/sandbox/wechat") {
            return self.wechat_route(method.as_str(), rest, &query, &parts.headers, &text);
        }
        if let Some(rest) = path.strip_prefix("/sandbox/stripe") {
            return self.stripe_route(method.as_str(), rest, &query, &parts.headers, &text);
        }
        if path == "/mailbox" && method == hyper::Method::POST {
            let note = self.report_mail(&text).await;
            let mut resp = plain(303, "text/plain", "");
            let to = format!(
                "/mailbox?{}",
                kiosk::form::encode_pairs(&[("note".into(), note)])
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&to) {
                resp.headers_mut().insert(hyper::header::LOCATION, v);
            }
            return resp;
        }
        if path == "/mailbox" {
            let note = kiosk::form::parse_form(&query)
                .ok()
                .and_then(|mut q| q.remove("note"));
            return plain(
                200,
                "text/html; charset=utf-8",
                mailbox::page(&self.http, &self.endpoint, note.as_deref()).await,
            );
        }

        if path == "/" {
            let mut resp = plain(303, "text/plain", "");
            if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("{}/", self.site_url)) {
                resp.headers_mut().insert(hyper::header::LOCATION, v);
            }
            return resp;
        }
        let function_route = path == "/checkout"
            || path == "/kiosk.js"
            || path.starts_with("/buy/")
            || path.starts_with("/products/")
            || path.starts_with("/notify/")
            || path.starts_with("/return/")
            || path.starts_with("/download/")
            || path.starts_with("/license/")
            || path == "/t";
        if function_route {
            let body = if bytes.is_empty() {
                lambda_http::Body::Empty
            } else {
                match String::from_utf8(bytes.to_vec()) {
                    Ok(s) => lambda_http::Body::Text(s),
                    Err(e) => lambda_http::Body::Binary(e.into_bytes()),
                }
            };
            let checkout_route = path == "/checkout"
                || path == "/kiosk.js"
                || path.starts_with("/buy/")
                || path.starts_with("/products/");
            let mut lreq = lambda_http::http::Request::from_parts(parts, body);
            if checkout_route || path.starts_with("/license/") {
                // The buyer's address, as API Gateway passes it, to the checkout function
                // only: WeChat Pay's H5 pay needs it (`payer_client_ip`). Elsewhere the
                // local server passes none, so the funnel and "email me my links" count
                // every local visitor as the one network "unknown".
                let mut context =
                    lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default(
                    );
                context.http.source_ip = Some(peer.ip().to_string());
                lreq.extensions_mut()
                    .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
            }
            let now = kiosk::clock::now();
            let resp = if checkout_route {
                checkout::handler::handle(&self.checkout, lreq, now).await
            } else if path == "/t" {
                collect::handler::handle(&self.collector, self.collector.config(), lreq, now).await
            } else if path.starts_with("/license/") {
                license::handler::handle(&self.licenses, lreq, now).await
            } else if path.starts_with("/download/") {
                download::handler::handle(&self.downloads, lreq, now).await
            } else {
                payment_notify::handler::handle(&self.shop, lreq, now).await
            };
            return from_lambda(resp, &self.endpoint);
        }

        plain(
            404,
            "text/html; charset=utf-8",
            kiosk_web::pages::error(kiosk::i18n::Lang::EN, "not-found-title", "not-found-body"),
        )
    }
}

impl App {
    /// The mailbox's bounce and complaint buttons: what SES reports about the mail `id`
    /// to `to` (`report`: bounce, transient or complaint), sent through the mail-events
    /// function's handler as SNS would deliver it. Returns what happened, for the page.
    async fn report_mail(&self, body: &str) -> String {
        let form = kiosk::form::parse_form(body).unwrap_or_default();
        let report = match form.get("report").map(String::as_str) {
            Some("bounce") => kiosk_localaws::ses::Report::PermanentBounce,
            Some("transient") => kiosk_localaws::ses::Report::TransientBounce,
            Some("complaint") => kiosk_localaws::ses::Report::Complaint,
            _ => return "Nothing reported: say bounce, transient or complaint.".into(),
        };
        let id = form.get("id").map(String::as_str).unwrap_or_default();
        let to = form.get("to").map(String::as_str).unwrap_or_default();
        // The recipient's mails only, not everything the emulator holds.
        let mails = kiosk_localaws::sent_mail(&self.http, &self.endpoint, Some(to))
            .await
            .unwrap_or_default();
        let Some(mail) = mails.iter().find(|m| m.id == id) else {
            return format!("No mail {id:?} to {to:?} in the emulator.");
        };
        let at = kiosk::clock::now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let event = kiosk_localaws::ses::sns_event(
            report,
            &kiosk_localaws::ses::About {
                topic_arn: &self.names.mail_events_topic,
                // A mail sent without the shop's set is reported as such, and ignored.
                configuration_set: mail.configuration_set.as_deref().unwrap_or(""),
                source: &mail.source,
                recipient: to,
                message_id: &mail.id,
                at: &at,
            },
        );
        match mail_events::handler::run(&self.mail_events, &event, kiosk::clock::now()).await {
            Ok(done) if done.ignored > 0 => {
                format!(
                    "SES's report about the mail to {to} was ignored (not the shop's configuration set)."
                )
            }
            Ok(done) => match report {
                kiosk_localaws::ses::Report::TransientBounce => format!(
                    "SES reported a transient bounce for {to} (a full mailbox): nothing recorded."
                ),
                kiosk_localaws::ses::Report::PermanentBounce => format!(
                    "SES reported that mail to {to} bounced for good: {} address marked BOUNCED; nothing more is mailed there.",
                    done.addresses_marked
                ),
                kiosk_localaws::ses::Report::Complaint => format!(
                    "SES reported that {to} marked the mail as spam: {} address marked COMPLAINED; nothing more is mailed there.",
                    done.addresses_marked
                ),
            },
            Err(e) => format!("The report could not be recorded: {e}"),
        }
    }

    /// The site's port: files under `site/`, `API_URL` in HTML replaced by the API's
    /// address.
    async fn site(&self, req: Request<Incoming>) -> Resp {
        let path = req.uri().path();
        if req.method() == hyper::Method::GET || req.method() == hyper::Method::HEAD {
            let rel = if path == "/" {
                "index.html"
            } else {
                path.trim_start_matches('/')
            };
            // Only plain names under site/: no parent directories, no hidden files.
            let safe = rel
                .split('/')
                .all(|seg| !seg.is_empty() && !seg.starts_with('.'));
            if safe {
                let file = self.site_dir.join(rel);
                if let Ok(content) = tokio::fs::read(&file).await {
                    let content_type = content_type_for(&file);
                    if content_type.starts_with("text/html") {
                        let html =
                            String::from_utf8_lossy(&content).replace("API_URL", &self.api_url);
                        return plain(200, content_type, html);
                    }
                    return plain(200, content_type, content);
                }
            }
        }
        plain(
            404,
            "text/html; charset=utf-8",
            kiosk_web::pages::error(kiosk::i18n::Lang::EN, "not-found-title", "not-found-body"),
        )
    }
}
