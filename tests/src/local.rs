//! The local shop (`make dev`'s server) started in process, for what only its Alipay
//! sandbox can do: pay while losing every notification, refuse to pay a closed trade,
//! refund once per request number.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use kiosk::OrderId;

pub struct LocalShop {
    pub base: String,
    pub app: Arc<devstack::App>,
    /// Follows no redirects, so a test sees each hop.
    pub http: reqwest::Client,
}

impl LocalShop {
    /// The order `id` as the shop's table has it.
    pub async fn order(&self, id: &OrderId) -> kiosk::Order {
        self.app
            .store
            .get_order(id)
            .await
            .expect("read")
            .expect("order exists")
    }

    /// Wait (briefly) for the order to reach `status`, as a notification arrives.
    pub async fn wait_for(&self, id: &OrderId, status: kiosk::OrderStatus) -> kiosk::Order {
        for _ in 0..100 {
            let o = self.order(id).await;
            if o.status() == status {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "order {id} never became {status}: {:?}",
            self.order(id).await
        );
    }

    /// How many mails SES accepted for `to`.
    pub async fn mails_to(&self, to: &str) -> usize {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("emulator");
        crate::read_mails(&self.http, &endpoint, to).await.len()
    }

    /// Start the shop on a free port, its local keys in `keys_dir`.
    pub async fn start(keys_dir: &Path) -> Result<LocalShop> {
        Self::start_as(keys_dir, None, None, Some(devstack::RECONCILE_EVERY)).await
    }

    /// Start it with its handles' SDK sending `app` as its app id, with `attempt_timeout`,
    /// running reconcile on its own every `reconcile_every` (the soak: `None`, it runs
    /// reconcile itself by its own clock).
    pub async fn start_as(
        keys_dir: &Path,
        app: Option<String>,
        attempt_timeout: Option<Duration>,
        reconcile_every: Option<Duration>,
    ) -> Result<LocalShop> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("workspace root")?;
        let opts = devstack::Options {
            endpoint: std::env::var("AWS_ENDPOINT_URL")
                .context("AWS_ENDPOINT_URL is not set; run `make test`")?,
            site_dir: root.join("site"),
            site_listener: tokio::net::TcpListener::bind("127.0.0.1:0").await?,
            keys_dir: keys_dir.to_path_buf(),
            retry_unit: Duration::from_millis(50),
            // Each shop its own table, bucket and secrets: tests start several at once.
            name: format!(
                "kiosk-local-{}",
                OrderId::generate(kiosk::clock::now_exact())?
                    .as_str()
                    .to_lowercase()
            ),
            app,
            attempt_timeout,
            reconcile_every,
        };
        let (base, app) = devstack::start(listener, opts).await?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(LocalShop { base, app, http })
    }

    /// Buy Now for the sample book by `email` with `fields` added to the form (e.g.
    /// `&channel=stripe`), from a browser saying `user_agent`: where the shop sends it.
    pub async fn buy_now(&self, email: &str, fields: &str, user_agent: Option<&str>) -> String {
        let mut req = self
            .http
            .post(format!("{}/checkout", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(ua) = user_agent {
            req = req.header("user-agent", ua);
        }
        let resp = req
            .body(format!(
                "product_id=little-book-of-rust&email={}{fields}",
                email.replace('@', "%40")
            ))
            .send()
            .await
            .expect("checkout");
        assert_eq!(resp.status(), 303);
        resp.headers()["location"]
            .to_str()
            .expect("a location")
            .to_owned()
    }

    /// Buy Now for the sample book and open the sandbox cashier; the order id.
    pub async fn open_cashier(&self, email: &str) -> OrderId {
        let cashier = self.buy_now(email, "", None).await;
        let page = self.http.get(&cashier).send().await.expect("cashier");
        assert_eq!(page.status(), 200);
        let query = cashier.split_once('?').expect("query").1;
        let params = kiosk::alipay::parse_form(query).expect("pay params");
        let biz: serde_json::Value =
            serde_json::from_str(&params["biz_content"]).expect("biz_content");
        OrderId::parse(biz["out_trade_no"].as_str().expect("out_trade_no")).expect("order id")
    }

    /// Press a button at the sandbox cashier (`extra` adds form fields, e.g.
    /// `&lose_notification=1`); status and body.
    pub async fn pay(&self, id: &OrderId, extra: &str) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}/sandbox/alipay/pay", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("out_trade_no={id}{extra}"))
            .send()
            .await
            .expect("pay");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }
}
