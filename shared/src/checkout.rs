//! The checkout function's handle (docs/architecture.md, Flows: Buy, Pricing, Free):
//! read products and discount codes (the hosted buy page), price and count and write
//! orders (reserving a code's use), start a payment with a channel, and give a free
//! product away: its order written paid with its grant, its link mailed. Nothing else: a
//! [`Checkout`] has no files and no way to record a provider's payment, so the checkout
//! handler cannot serve a download or mark a sale paid whatever it does (a compile-time
//! fact), which mirrors its IAM policy (read `PRODUCT#` and `CODES`, put `ORDER#` and
//! `GRANT#`, update `CHECKOUT#`, `FREE#`, `CODES` and a free order's mail state, mail from
//! the sender).

use time::OffsetDateTime;

use crate::channel::{Channel, ChannelError, Channels, Device};
use crate::config::CheckoutConfig;
use crate::email::Email;
use crate::ids::{OrderId, ProductId};
use crate::order::{ChannelKind, Order, Source};
use crate::product::Product;
use crate::startup::{ChannelsConfig, InitError};
use crate::store::{Store, StoreError};

/// Built once at cold start: the checkout settings, the store, the channels, and the
/// mailer of free products' links.
pub struct Checkout {
    config: CheckoutConfig,
    store: Store,
    channels: Channels,
    /// `None` without `SENDER_EMAIL`: free claims are refused.
    mailer: Option<crate::mail::Mailer>,
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
    /// The amount the buyer typed, for a pay-what-you-want product (parsed against the
    /// product's currency by [`crate::pricing::quote`]).
    pub amount: Option<String>,
    /// The discount code the buyer typed or arrived with (`?code=`), as typed.
    pub code: Option<String>,
}

/// Free claims one network may make per [`FREE_NETWORK_WINDOW`]: a person claims a few
/// books, a script filling SES's quota is stopped.
pub const FREE_PER_NETWORK: u32 = 5;
pub const FREE_NETWORK_WINDOW: time::Duration = time::Duration::hours(1);
/// Free claims' mails one address may get per [`FREE_ADDRESS_WINDOW`], from every
/// network together.
pub const FREE_PER_ADDRESS: u32 = 3;
pub const FREE_ADDRESS_WINDOW: time::Duration = time::Duration::days(1);

/// What a checkout led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A pending order: the buyer goes to the provider's page.
    Pay(CheckoutStarted),
    /// A free order: recorded, and its link mailed to the address (never shown, so the
    /// address is proven by the mail).
    Mailed {
        order_id: OrderId,
        email: Email,
        title: String,
    },
}

impl Started {
    /// The payment page, if the buyer has to pay.
    pub fn pay(self) -> Option<CheckoutStarted> {
        match self {
            Started::Pay(p) => Some(p),
            Started::Mailed { .. } => None,
        }
    }
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
    Store(StoreError),
    #[error("could not make an order id")]
    Id(#[source] crate::ids::IdError),
    /// The network started its allowance of checkouts this hour; nothing was written.
    #[error("too many checkouts from this network; try again later")]
    TooMany,
    /// The amount or the code could not make a price; nothing was written.
    #[error(transparent)]
    Price(#[from] crate::pricing::PriceError),
    /// Too many free claims from this network, or mails to this address; nothing was
    /// written.
    #[error("too many free claims; try again later")]
    TooManyFree,
    /// A free product, and no sender to mail its link from.
    #[error("this shop cannot mail free products' links (no SENDER_EMAIL)")]
    FreeOff,
}

impl From<StoreError> for CheckoutError {
    /// A code the order's transaction could not reserve is the buyer's price problem,
    /// not the store's.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CodeRefused(why) => CheckoutError::Price(why),
            e => CheckoutError::Store(e),
        }
    }
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
        let ses = aws_sdk_ses::Client::new(sdk);
        Ok(Checkout {
            store: crate::startup::store(sdk, &config.table_name),
            mailer: config.sender_email.clone().map(|from| {
                crate::mail::Mailer::new(ses, from)
                    .with_reply_to(config.support_email.clone())
                    .with_configuration_set(config.mail_configuration_set.clone())
            }),
            config,
            channels,
            secret: tokio::sync::OnceCell::new(),
        })
    }

    /// A handle over parts built elsewhere (tests that put channels in front of
    /// nothing).
    pub fn from_parts(
        config: CheckoutConfig,
        store: Store,
        channels: Channels,
        mailer: Option<crate::mail::Mailer>,
    ) -> Self {
        Checkout {
            config,
            store,
            channels,
            mailer,
            secret: tokio::sync::OnceCell::new(),
        }
    }

    /// The discount code a buyer named, as stored (`None`: no such code; a name that
    /// cannot be a code is none either).
    pub async fn code(&self, raw: &str) -> Result<Option<crate::pricing::Code>, StoreError> {
        match crate::pricing::CodeName::parse(raw.trim()) {
            Some(name) => self.store.get_code(&name).await,
            None => Ok(None),
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

    /// Create a pending order priced on the server (the product's price, the buyer's own
    /// amount within its bounds, or a discount code's price: [`crate::pricing`]) and
    /// the provider's payment page for it; or, for a price of zero, a paid order whose
    /// link is mailed. A channel that is off or cannot take the currency or the amount is
    /// refused before anything is written or sent; a provider call that fails leaves
    /// nothing behind either (the order is written last).
    pub async fn start(
        &self,
        req: CheckoutRequest,
        now: OffsetDateTime,
    ) -> Result<Started, CheckoutError> {
        let kind = req.channel.unwrap_or(self.channels.default);
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
        let code_text = req.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let code = match code_text {
            Some(text) if product.pay_what_you_want().is_none() => self.code(text).await?,
            _ => None,
        };
        let code_name = code_text.map(|t| {
            crate::pricing::CodeName::parse(t).ok_or_else(|| {
                crate::pricing::PriceError::UnknownCode(t.chars().take(32).collect())
            })
        });
        let code_name = code_name.transpose()?;
        let mut quote = crate::pricing::quote(
            &product,
            // Not trimmed: " 9" is refused like any amount that is not plainly written.
            req.amount.as_deref().filter(|a| !a.is_empty()),
            code_name.as_ref(),
            code.as_ref(),
            now,
        )?;
        let currency = quote.amount.currency();
        if quote.is_free() {
            return self.claim_free(req, &product, quote, now).await;
        }
        let channel = self
            .channels
            .get(kind)
            .ok_or(CheckoutError::ChannelOff(kind.as_str()))?;
        if !channel.accepts(currency) {
            return Err(ChannelError::Currency(currency).into());
        }
        let smallest = channel.smallest_charge(currency);
        if quote.amount.minor() < smallest.minor() {
            if quote.code.is_some() && smallest.minor() <= quote.list.minor() {
                // A discount never takes the price below what the channel can charge.
                quote.amount = smallest;
            } else {
                return Err(ChannelError::TooSmall {
                    channel: kind.as_str(),
                    smallest,
                }
                .into());
            }
        }
        let mut order = self.new_order(&req, &product, kind, quote, now).await?;
        let redirect = channel.start_payment(&order, req.device, now).await?;
        order.checkout_ref = redirect.checkout_ref;
        self.store.create_order(&order).await?;
        tracing::info!(order_id = %order.id, product = %product.id(), amount = %order.amount, code = ?order.code, channel = kind.as_str(), "checkout started");
        Ok(Started::Pay(CheckoutStarted {
            order_id: order.id,
            pay_url: redirect.url,
        }))
    }

    /// A new pending order of `product` at `quote` for `req`'s buyer through `kind`, in
    /// the buyer's language and with the A/B variants they saw.
    async fn new_order(
        &self,
        req: &CheckoutRequest,
        product: &Product,
        kind: ChannelKind,
        quote: crate::pricing::Quote,
        now: OffsetDateTime,
    ) -> Result<Order, CheckoutError> {
        let id = OrderId::generate(now).map_err(CheckoutError::Id)?;
        let mut order = Order::new_pending(
            id,
            product,
            req.email.clone(),
            kind,
            req.source.clone(),
            now,
            self.config.order_ttl,
        )
        .priced(quote);
        order.lang = Some(req.lang);
        order.variants = self
            .variants(&req.tests, &req.network, req.user_agent.as_deref())
            .await?;
        Ok(order)
    }

    /// The A/B variants this request's visitor saw, computed as the page's beacon did.
    async fn variants(
        &self,
        tests: &[(crate::visit::Name, Vec<crate::visit::Name>)],
        network: &crate::net::Network,
        user_agent: Option<&str>,
    ) -> Result<Vec<(crate::visit::Name, crate::visit::Name)>, StoreError> {
        if tests.is_empty() {
            return Ok(Vec::new());
        }
        let secret = self
            .secret
            .get_or_try_init(|| self.store.variant_secret())
            .await?;
        let ua = user_agent.unwrap_or_default();
        Ok(tests
            .iter()
            .filter_map(|(t, vs)| Some((t.clone(), secret.variant(network, ua, t, vs)?.clone())))
            .collect())
    }

    /// A free order: limited per network and per address ([`FREE_PER_NETWORK`],
    /// [`FREE_PER_ADDRESS`]), written paid with its grant (and its code's use) in one
    /// transaction, and its link mailed, never shown. A mail that fails stays due and
    /// reconcile sends it, as for a sale.
    async fn claim_free(
        &self,
        req: CheckoutRequest,
        product: &Product,
        quote: crate::pricing::Quote,
        now: OffsetDateTime,
    ) -> Result<Started, CheckoutError> {
        let mailer = self.mailer.as_ref().ok_or(CheckoutError::FreeOff)?;
        let counter = crate::net::NetworkCounter::Free;
        if !self
            .store
            .count_from_network(
                counter,
                &req.network,
                FREE_PER_NETWORK,
                FREE_NETWORK_WINDOW,
                now,
            )
            .await?
            || !self
                .store
                .count_mail_to(
                    counter,
                    &req.email,
                    FREE_PER_ADDRESS,
                    FREE_ADDRESS_WINDOW,
                    now,
                )
                .await?
        {
            tracing::warn!(network = req.network.as_str(), "free claim: over the limit");
            return Err(CheckoutError::TooManyFree);
        }
        let order = self
            .new_order(&req, product, ChannelKind::Free, quote, now)
            .await?;
        let id = order.id.clone();
        let token = crate::ids::DownloadToken::generate().map_err(StoreError::Token)?;
        let payment = crate::order::Payment {
            provider_txn_id: format!("free-{id}"),
            amount: order.amount,
        };
        // A new pending order is always payable at its own amount; the other outcomes
        // cannot happen, and are errors rather than panics all the same.
        let paid = match order.pay(&payment, token.clone(), now) {
            Ok(crate::order::PayOutcome::Paid(paid)) => *paid,
            Ok(_) => return Err(StoreError::Contention(id).into()),
            Err(e) => return Err(StoreError::Transition(e).into()),
        };
        let grant = crate::grant::Grant::for_order(&paid, token, None, now);
        self.store.create_free_order(&paid, &grant).await?;
        let delivery = crate::delivery::Delivery {
            store: &self.store,
            mailer,
            public_base_url: &self.config.public_base_url,
            default_lang: self.config.default_lang,
        };
        let outcome = delivery.send_purchase_mail(&paid, &grant, now).await;
        tracing::info!(order_id = %id, product = %product.id(), code = ?paid.code, mail = ?outcome, "free order");
        Ok(Started::Mailed {
            order_id: id,
            email: req.email,
            title: product.title().to_owned(),
        })
    }
}
