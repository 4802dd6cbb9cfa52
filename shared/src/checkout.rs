//! The checkout function's handle (docs/architecture.md, Flows: Buy): read products
//! (the hosted buy page), count and write orders, start a payment with a channel. Nothing else: a [`Checkout`]
//! has no mailer, no files and no way to record a payment, so the checkout handler
//! cannot send mail or serve a download whatever it does (a compile-time fact), which
//! mirrors its IAM policy (read `PRODUCT#`, put `ORDER#`, update `CHECKOUT#`).

use time::OffsetDateTime;

use crate::channel::{Channel, ChannelError, Channels, Device};
use crate::config::CheckoutConfig;
use crate::email::Email;
use crate::ids::{OrderId, ProductId};
use crate::order::{ChannelKind, Order, Source};
use crate::product::Product;
use crate::startup::{ChannelsConfig, InitError};
use crate::store::{Store, StoreError};

/// Built once at cold start: the checkout settings, the store, the channels.
pub struct Checkout {
    config: CheckoutConfig,
    store: Store,
    channels: Channels,
    /// The A/B variant secret, read from the store on the first checkout from a page
    /// with tests.
    secret: tokio::sync::OnceCell<crate::visit::VariantSecret>,
}

/// A parsed checkout request: each field already valid.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub product_id: ProductId,
    pub email: Email,
    pub device: Device,
    /// The buyer's choice (`channel=alipay|stripe`); `None`: the shop's default.
    pub channel: Option<ChannelKind>,
    pub source: Source,
    /// Where the request came from, for the per-network rate ([`CHECKOUT_WINDOW`]).
    pub network: crate::net::Network,
    /// The buyer's language, recorded on the order for its pages and mails.
    pub lang: crate::i18n::Lang,
    /// The A/B tests of the page the buyer came from ([`crate::visit::parse_tests`]):
    /// their variants are computed here, from this request, as the page's were.
    pub tests: Vec<(crate::visit::Name, Vec<crate::visit::Name>)>,
    /// The request's user agent (with `network`, the visitor's identity for the tests).
    pub user_agent: Option<String>,
}

/// The window checkouts are counted in per network
/// ([`CheckoutConfig::checkouts_per_network_hour`] of them per window).
pub const CHECKOUT_WINDOW: time::Duration = time::Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutStarted {
    pub order_id: OrderId,
    pub pay_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no product {0}")]
    UnknownProduct(ProductId),
    #[error("this shop does not take payments through {0}")]
    ChannelOff(&'static str),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not make an order id")]
    Id(#[source] crate::ids::IdError),
    /// The network started its allowance of checkouts this hour; nothing was written.
    #[error("too many checkouts from this network; try again later")]
    TooMany,
}

/// What the hosted buy page (`GET /buy/{product_id}`) shows: the product as stored
/// (never a price typed into the author's page) and the channels this shop takes its
/// currency through, the default first.
#[derive(Debug, Clone)]
pub struct BuyPage {
    pub product: Product,
    /// Empty: no configured channel takes the product's currency, so it cannot be
    /// bought here now.
    pub channels: Vec<ChannelKind>,
    /// Where the page's form posts (`{PUBLIC_BASE_URL}/checkout`).
    pub checkout_url: String,
    /// The page itself (`{PUBLIC_BASE_URL}/buy/{product_id}`).
    pub buy_url: String,
}

impl Checkout {
    /// Build the checkout function's state once: its settings from the environment,
    /// every configured channel's API key from SSM in one call, the clients.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Self::new(
            sdk,
            CheckoutConfig::from_env()?,
            ChannelsConfig::from_env()?,
        )
        .await
    }

    pub async fn new(
        sdk: &aws_config::SdkConfig,
        config: CheckoutConfig,
        channels: ChannelsConfig,
    ) -> Result<Self, InitError> {
        let channels = crate::startup::channels_from(
            sdk,
            &config.public_base_url,
            &config.shop_url,
            &config.table_name,
            channels,
        )
        .await?;
        Ok(Checkout {
            store: crate::startup::store(sdk, &config.table_name),
            config,
            channels,
            secret: tokio::sync::OnceCell::new(),
        })
    }

    /// A handle over parts built elsewhere (tests that put channels in front of
    /// nothing).
    pub fn from_parts(config: CheckoutConfig, store: Store, channels: Channels) -> Self {
        Checkout {
            config,
            store,
            channels,
            secret: tokio::sync::OnceCell::new(),
        }
    }

    /// The buy page of product `id`, read as stored (one `GetItem`); `None`: no such
    /// product.
    pub async fn buy_page(&self, id: &ProductId) -> Result<Option<BuyPage>, StoreError> {
        let Some(product) = self.store.get_product(id).await? else {
            return Ok(None);
        };
        let currency = product.price().currency();
        let mut channels = Vec::new();
        for kind in [
            self.channels.default,
            ChannelKind::Alipay,
            ChannelKind::Stripe,
        ] {
            let takes = self.channels.get(kind).is_some_and(|c| c.accepts(currency));
            if takes && !channels.contains(&kind) {
                channels.push(kind);
            }
        }
        let base = &self.config.public_base_url;
        Ok(Some(BuyPage {
            buy_url: format!("{base}/buy/{}", product.id()),
            product,
            channels,
            checkout_url: format!("{base}/checkout"),
        }))
    }

    /// The origins whose pages may call `POST /checkout` with `fetch`.
    /// The language of a buyer whose browser asks for none the shop has.
    pub fn default_lang(&self) -> crate::i18n::Lang {
        self.config.default_lang
    }

    pub fn cors_origins(&self) -> &[String] {
        &self.config.cors_origins
    }

    /// `origin` (lowercase) when it is one of the origins whose pages may show the buy
    /// page in `kiosk.js`'s overlay ([`crate::config::Config::embed_origins`]).
    pub fn embed_origin(&self, origin: &str) -> Option<&str> {
        self.config
            .embed_origins
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .map(String::as_str)
    }

    /// Create a pending order priced from the product (never from the request) and the
    /// provider's payment page for it. A channel that is off or cannot take the
    /// product's currency is refused before anything is written or sent; a provider
    /// call that fails leaves nothing behind either (the order is written last).
    pub async fn start(
        &self,
        req: CheckoutRequest,
        now: OffsetDateTime,
    ) -> Result<CheckoutStarted, CheckoutError> {
        let kind = req.channel.unwrap_or(self.channels.default);
        let channel = self
            .channels
            .get(kind)
            .ok_or(CheckoutError::ChannelOff(kind.as_str()))?;
        // Counted before any other read or write, so a script cannot fill the table (and
        // the provider) with sessions and pending orders that starve reconcile.
        if !self
            .store
            .count_from_network(
                crate::net::NetworkCounter::Checkout,
                &req.network,
                self.config.checkouts_per_network_hour,
                CHECKOUT_WINDOW,
                now,
            )
            .await?
        {
            tracing::warn!(
                network = req.network.as_str(),
                "checkout: network over its hourly limit"
            );
            return Err(CheckoutError::TooMany);
        }
        let product = self
            .store
            .get_product(&req.product_id)
            .await?
            .ok_or_else(|| CheckoutError::UnknownProduct(req.product_id.clone()))?;
        if !channel.accepts(product.price().currency()) {
            return Err(ChannelError::Currency(product.price().currency()).into());
        }
        let id = OrderId::generate(now).map_err(CheckoutError::Id)?;
        let mut order = Order::new_pending(
            id,
            &product,
            req.email,
            kind,
            req.source,
            now,
            self.config.order_ttl,
        );
        order.lang = Some(req.lang);
        if !req.tests.is_empty() {
            let secret = self
                .secret
                .get_or_try_init(|| self.store.variant_secret())
                .await?;
            let ua = req.user_agent.as_deref().unwrap_or_default();
            order.variants = req
                .tests
                .iter()
                .filter_map(|(t, vs)| {
                    Some((t.clone(), secret.variant(&req.network, ua, t, vs)?.clone()))
                })
                .collect();
        }
        let redirect = channel.start_payment(&order, req.device, now).await?;
        order.checkout_ref = redirect.checkout_ref;
        self.store.create_order(&order).await?;
        tracing::info!(order_id = %order.id, product = %product.id(), amount = %order.amount, channel = kind.as_str(), "checkout started");
        Ok(CheckoutStarted {
            order_id: order.id,
            pay_url: redirect.url,
        })
    }
}
