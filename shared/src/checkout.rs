//! The checkout function's handle (docs/architecture.md, Flows: Buy, Pricing, Free):
//! read products and discount codes (the hosted buy page), price and count and write
//! orders (reserving a code's use, or taking over its network's earlier one), start a
//! payment with a channel, and queue a free order for the reconcile function to grant
//! ([`crate::free`]). Nothing else: a [`Checkout`] has no files, no mailer and no way to
//! record a payment or make a grant, so the checkout handler cannot serve a download,
//! mark a sale paid or send mail whatever it does (a compile-time fact), which mirrors
//! its IAM policy (read `PRODUCT#`, `CODES`, `HOLD#`, `MAILBLOCK#`, `SECRET`; put
//! `ORDER#` and `HOLD#`; update a code's `uses`, an order's `code`, its counters; send to
//! the free-orders queue).

use time::OffsetDateTime;

use crate::channel::{Channel, ChannelError, Channels, Device};
use crate::config::CheckoutConfig;
use crate::email::Email;
use crate::ids::{OrderId, ProductId};
use crate::order::{ChannelKind, Order, Source};
use crate::product::Product;
use crate::startup::{ChannelsConfig, InitError};
use crate::store::views::CheckoutStore;
use crate::store::{Store, StoreError};

/// Built once at cold start: the checkout settings, the store, the channels, and where
/// free orders go to be fulfilled.
pub struct Checkout {
    config: CheckoutConfig,
    store: CheckoutStore,
    channels: Channels,
    /// `None` without `FREE_ORDERS_QUEUE_URL` (or an in-process fulfiller): free claims
    /// are refused.
    free: Option<crate::free::FreeFulfilment>,
    /// The shop's stable secret (A/B variants' tokens, free claims' tokens), read from
    /// the store on first use.
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
    /// The buyer's address, passed to a provider that requires it and nothing else
    /// ([`crate::net::PayerAddress`]).
    pub payer: Option<crate::net::PayerAddress>,
    /// The buyer's language, recorded on the order for its pages and mails.
    pub lang: crate::i18n::Lang,
    /// The signed visit and variants ([`crate::abtest::VariantToken`], `vt`): the order
    /// records exactly these, or none when it is missing or not good.
    pub variants: Option<String>,
    /// Whether the page showed the token's variants (`kiosk.js` says `vn=1` when its
    /// answer came too late and the page showed each test's first variant): when not,
    /// the order records the visit but no variants.
    pub variants_shown: bool,
    /// The amount the buyer typed, for a pay-what-you-want product (parsed against the
    /// product's currency by [`crate::pricing::quote`]).
    pub amount: Option<String>,
    /// The discount code the buyer typed or arrived with (`?code=`), as typed.
    pub code: Option<String>,
    /// The buy page's proof that it was served to this network ([`crate::claim`]); a
    /// free claim without a good one is asked to confirm, never mailed.
    pub claim: Option<String>,
}

/// The window free claims are counted in per network
/// ([`crate::config::FreeLimits::per_network_hour`] of them per window).
pub const FREE_NETWORK_WINDOW: time::Duration = time::Duration::hours(1);
/// Failed code lookups one network may make per [`CODE_MISS_WINDOW`] (the buy page's
/// `?code=` and checkout's `code` together): a buyer mistypes a code a few times, a
/// script trying a dictionary of names is stopped.
pub const CODE_MISSES_PER_NETWORK: u32 = 10;
pub const CODE_MISS_WINDOW: time::Duration = time::Duration::hours(1);
/// Free claims' mails one address may get per [`FREE_ADDRESS_WINDOW`], from every
/// network together.
pub const FREE_PER_ADDRESS: u32 = 3;
pub const FREE_ADDRESS_WINDOW: time::Duration = time::Duration::days(1);

/// What a checkout led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A pending order: the buyer goes to the provider's page.
    Pay(CheckoutStarted),
    /// A free order: recorded and handed to the fulfiller, which mails its link to the
    /// address (never shown, so the address is proven by the mail). Also the answer when
    /// the address is blocked (its mail bounced or complained): nothing is written or
    /// mailed then, and the page cannot tell, so it leaks nothing of the address.
    Mailed { email: Email, title: String },
    /// A free claim that did not come with a good token from the shop's own page (a
    /// form on another site, a script, a page left open for hours): nothing written or
    /// mailed; the buyer confirms on a page that carries `claim`, a fresh token.
    Confirm {
        product_id: ProductId,
        email: Email,
        title: String,
        claim: crate::claim::ClaimToken,
        /// What made the claim free, as the buyer typed it (carried by the page).
        code: Option<String>,
        amount: Option<String>,
    },
}

impl Started {
    /// The payment page, if the buyer has to pay.
    pub fn pay(self) -> Option<CheckoutStarted> {
        match self {
            Started::Pay(p) => Some(p),
            Started::Mailed { .. } | Started::Confirm { .. } => None,
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
    /// The shop mailed as many free copies as it may this hour or day
    /// ([`crate::config::FreeLimits`]); nothing was written.
    #[error("the shop's free copies are used up for now; try again later")]
    FreeCapReached,
    /// The network tried too many codes that do not work; nothing was looked up.
    #[error("too many discount codes tried from this network; try again later")]
    TooManyCodes,
    /// Another checkout from this network is taking this code's use right now.
    #[error("another checkout with this code is starting from your network; try again")]
    CodeBusy,
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
            StoreError::CodeHeld => CheckoutError::CodeBusy,
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
        Ok(Checkout {
            store: CheckoutStore::of(crate::startup::open_store(sdk, &config.table_name)),
            free: config.free_orders_queue_url.clone().map(|url| {
                crate::free::FreeFulfilment::Queue {
                    client: aws_sdk_sqs::Client::new(sdk),
                    url,
                }
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
        free: Option<crate::free::FreeFulfilment>,
    ) -> Self {
        Checkout {
            config,
            store: CheckoutStore::of(store),
            channels,
            free,
            secret: tokio::sync::OnceCell::new(),
        }
    }

    /// This handle with free orders fulfilled by `free` (a local shop's fulfiller).
    pub fn with_free_fulfilment(mut self, free: crate::free::FreeFulfilment) -> Self {
        self.free = Some(free);
        self
    }

    /// The price `product` has with the code `raw` (as typed) for a request from
    /// `network`, as the buy page shows it: every lookup that finds no usable code
    /// counts against the network's [`CODE_MISSES_PER_NETWORK`], and past it no code
    /// is looked up at all ([`CheckoutError::TooManyCodes`]), so names cannot be
    /// guessed; a code that works costs nothing.
    pub async fn try_code(
        &self,
        product: &Product,
        raw: &str,
        network: &crate::net::Network,
        now: OffsetDateTime,
    ) -> Result<crate::pricing::Quote, CheckoutError> {
        let name = crate::pricing::CodeName::parse(raw.trim());
        let miss =
            || crate::pricing::PriceError::UnknownCode(crate::pricing::CodeName::as_typed(raw));
        self.count_code_miss(network, now, async {
            let code = match &name {
                Some(n) => self.store.get_code(n).await?,
                None => None,
            };
            let name = name.as_ref().ok_or_else(miss)?;
            Ok(crate::pricing::quote(
                product,
                None,
                Some(name),
                code.as_ref(),
                now,
            )?)
        })
        .await
    }

    /// Run a code lookup as a failed one counted in advance: past the network's
    /// allowance [`CheckoutError::TooManyCodes`] without running it; a lookup that found
    /// a usable code gives its count back.
    async fn count_code_miss<T>(
        &self,
        network: &crate::net::Network,
        now: OffsetDateTime,
        lookup: impl std::future::Future<Output = Result<T, CheckoutError>>,
    ) -> Result<T, CheckoutError> {
        let tag = self.store.network_tag(network, now).await?;
        let counter = crate::net::NetworkCounter::CodeMiss;
        if !self
            .store
            .count_from_network(
                counter,
                &tag,
                CODE_MISSES_PER_NETWORK,
                CODE_MISS_WINDOW,
                now,
            )
            .await?
        {
            tracing::warn!(network = %tag, "code lookup: network over its limit of failed codes");
            return Err(CheckoutError::TooManyCodes);
        }
        let out = lookup.await;
        let missed = match &out {
            Err(CheckoutError::Price(e)) => e.is_code_miss(),
            Err(_) => false,
            Ok(_) => false,
        };
        if !missed {
            self.store
                .uncount_from_network(counter, &tag, CODE_MISS_WINDOW, now)
                .await?;
        }
        out
    }

    /// The buy page of product `id`, read as stored (one `GetItem`); `None`: no such
    /// product.
    pub async fn buy_page(&self, id: &ProductId) -> Result<Option<BuyPage>, StoreError> {
        let Some(product) = self.store.get_product(id).await? else {
            return Ok(None);
        };
        let currency = product.price().currency();
        let mut channels = Vec::new();
        for kind in [self.channels.default]
            .into_iter()
            .chain(self.channels.configured())
        {
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

    /// The API's base URL (`PUBLIC_BASE_URL`).
    pub fn public_base_url(&self) -> &str {
        &self.config.public_base_url
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
        // Counted before anything is written or sent, so a script cannot fill the table
        // (and the provider) with sessions and pending orders that starve reconcile. The
        // product is read together with the count (one round trip for both, the order's
        // write the second): a refused request costs one small read more.
        let tag = self.store.network_tag(&req.network, now).await?;
        let (allowed, product) = tokio::try_join!(
            self.store.count_from_network(
                crate::net::NetworkCounter::Checkout,
                &tag,
                self.config.checkouts_per_network_hour,
                CHECKOUT_WINDOW,
                now,
            ),
            self.store.get_product(&req.product_id),
        )?;
        if !allowed {
            tracing::warn!(network = %tag, "checkout: network over its hourly limit");
            return Err(CheckoutError::TooMany);
        }
        let product =
            product.ok_or_else(|| CheckoutError::UnknownProduct(req.product_id.clone()))?;
        let code_text = req.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        // Not trimmed: " 9" is refused like any amount that is not plainly written.
        let amount = req.amount.as_deref().filter(|a| !a.is_empty());
        let mut quote = match code_text {
            Some(text) => {
                // Refused before any lookup where codes never apply (crate::pricing).
                crate::pricing::code_request(&product, amount)?;
                self.try_code(&product, text, &req.network, now).await?
            }
            None => crate::pricing::quote(&product, amount, None, None, now)?,
        };
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
        // A network holds at most one pending use of a code: a new order takes over the
        // use of the network's earlier order still pending with it (another tab, an
        // abandoned payment) in the transaction that writes it (docs/architecture.md,
        // Pricing).
        let held = match &order.code {
            Some(code) => Some((code.clone(), self.store.code_hold(code, &tag).await?)),
            None => None,
        };
        let redirect = channel
            .start_payment(&order, req.device, req.payer, now)
            .await?;
        order.checkout_ref = redirect.checkout_ref;
        order.pay_code = redirect.pay_code;
        match &held {
            Some((_, previous)) => {
                let hold = crate::store::CodeHold {
                    network: &tag,
                    previous: previous.as_ref(),
                };
                self.store.create_order_holding(&order, hold).await?;
            }
            None => self.store.create_order(&order).await?,
        }
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
        let signed = self.visit(req.variants.as_deref(), now).await?;
        if req.variants_shown {
            order.variants = signed.variants;
        }
        order.source.visit = signed.visit;
        Ok(order)
    }

    /// The visit and A/B variants the buyer's page had: exactly those of its signed token
    /// ([`crate::abtest::VariantToken`]), never recomputed; none without a good one.
    async fn visit(
        &self,
        token: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<crate::abtest::Signed, StoreError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(crate::abtest::Signed::default());
        };
        let secret = self.secret().await?;
        Ok(crate::abtest::VariantToken::verify(secret, token, now).unwrap_or_default())
    }

    /// The token the buy page of `product` carries for a request from `network`
    /// ([`crate::claim`]).
    pub async fn claim_token(
        &self,
        product: &ProductId,
        network: &crate::net::Network,
        now: OffsetDateTime,
    ) -> Result<crate::claim::ClaimToken, StoreError> {
        let secret = self.secret().await?;
        Ok(crate::claim::ClaimToken::issue(
            secret, product, network, now,
        ))
    }

    async fn secret(&self) -> Result<&crate::visit::VariantSecret, StoreError> {
        self.secret
            .get_or_try_init(|| self.store.variant_secret())
            .await
    }

    /// A free order (docs/architecture.md, Flows: Free): only with a good token from the
    /// shop's own page (else [`Started::Confirm`]); never to an address whose mail
    /// bounced or complained; limited per network, per address and shop-wide per hour
    /// and day ([`crate::config::FreeLimits`]); written pending (with its code's use),
    /// then handed to the fulfiller ([`crate::free`]), which grants it and mails the
    /// link, never shown. A request that fails leaves the order pending, and reconcile
    /// fulfils it on its next run.
    async fn claim_free(
        &self,
        req: CheckoutRequest,
        product: &Product,
        quote: crate::pricing::Quote,
        now: OffsetDateTime,
    ) -> Result<Started, CheckoutError> {
        let fulfilment = self.free.as_ref().ok_or(CheckoutError::FreeOff)?;
        let secret = self.secret().await?;
        let proven = req.claim.as_deref().is_some_and(|t| {
            crate::claim::ClaimToken::verify(secret, t, product.id(), &req.network, now)
        });
        if !proven {
            return Ok(Started::Confirm {
                product_id: product.id().clone(),
                email: req.email,
                title: product.title().to_owned(),
                claim: crate::claim::ClaimToken::issue(secret, product.id(), &req.network, now),
                code: req.code,
                amount: req.amount,
            });
        }
        let limits = self.config.free;
        let counter = crate::net::NetworkCounter::Free;
        let tag = self.store.network_tag(&req.network, now).await?;
        if !self
            .store
            .count_from_network(
                counter,
                &tag,
                limits.per_network_hour,
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
            tracing::warn!(network = %tag, "free claim: over the limit");
            return Err(CheckoutError::TooManyFree);
        }
        if self.store.address_block(&req.email).await?.is_some() {
            // The same answer as a mailed claim: the page must not tell who bounced.
            tracing::info!(product = %product.id(), "free claim: the address is blocked (bounced or complained); nothing mailed");
            return Ok(Started::Mailed {
                email: req.email,
                title: product.title().to_owned(),
            });
        }
        for (limit, window) in [
            (limits.per_hour, time::Duration::hours(1)),
            (limits.per_day, time::Duration::days(1)),
        ] {
            if !self.store.count_shop(counter, limit, window, now).await? {
                tracing::warn!(
                    message = crate::alarm::FREE_CAP_REACHED,
                    limit,
                    window_hours = window.whole_hours()
                );
                return Err(CheckoutError::FreeCapReached);
            }
        }
        let order = self
            .new_order(&req, product, ChannelKind::Free, quote, now)
            .await?;
        let id = order.id.clone();
        self.store.create_order(&order).await?;
        match fulfilment.request(&id).await {
            Ok(()) => {
                tracing::info!(order_id = %id, product = %product.id(), code = ?order.code, "free order");
            }
            Err(e) => {
                // Pending: reconcile fulfils it on its next run.
                tracing::warn!(order_id = %id, error = %e, "free order: fulfilment request failed; reconcile fulfils it");
            }
        }
        Ok(Started::Mailed {
            email: req.email,
            title: product.title().to_owned(),
        })
    }
}
