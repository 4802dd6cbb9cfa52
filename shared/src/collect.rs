//! Counting page views for the visitor funnel and answering which A/B variants a
//! visitor sees: the collect function's handle ([`Collector`]), built once per cold start.
//! What it may know of a visitor is [`crate::visit`]'s to say; what the author reads of
//! the counts is [`crate::funnel`]'s.

use std::sync::Mutex;

use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime};

use crate::ids::ProductId;
use crate::net::{Network, NetworkCounter};
use crate::store::{Store, StoreError};
use crate::visit::{self, DailySalt, Name, VariantSecret};

/// Most products one beacon may name, tests it may carry, variants a test may have.
pub const MAX_PRODUCTS: usize = 10;
pub const MAX_TESTS: usize = 5;
pub const MAX_VARIANTS: usize = 4;
/// Beacons one network may send per hour before they are refused (a busy office or a
/// carrier's NAT stays far below it; a script does not).
pub const BEACONS_PER_NETWORK_HOUR: u32 = 600;
/// New visitors one network may add per UTC day: a household, an office or a carrier's
/// NAT has a few dozen browsers; a script that sends a new User-Agent per beacon adds no
/// more than this, so it cannot inflate one variant's visitors.
pub const NEW_VISITORS_PER_NETWORK_DAY: u32 = 20;
/// Sources with a counter row of their own per day (the first this many seen; every
/// later one counts as `other`), so a script cannot make rows by the thousand.
pub const SOURCES_PER_DAY: usize = 30;
/// Most items one beacon writes, whatever it names: the network's beacon count, the
/// visitor's marker, the network's new-visitor count, the day's source list, the
/// source's counter row and one row per running test ([`crate::abtest::MAX_RUNNING`]).
pub const MAX_WRITES_PER_BEACON: usize = 5 + crate::abtest::MAX_RUNNING;
/// How long the collector trusts what it read of the catalog and the tests.
const CACHE_FOR: Duration = Duration::minutes(1);

/// What the page sends (`POST /t`, JSON): the products on it, its path, where the
/// visitor came from, and the A/B tests it carries.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// The referrer's host only (the script sends no more).
    #[serde(default)]
    pub referrer: Option<String>,
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub tests: Vec<BeaconTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconTest {
    pub name: String,
    pub variants: Vec<String>,
}

/// Who sent the beacon, as the request says: nothing else about the visitor is used.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub network: Network,
    pub user_agent: Option<&'a str>,
    /// The page's origin (`Origin`), naming the site.
    pub site: &'a str,
    pub opted_out: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("the beacon is not valid: {0}")]
    Invalid(String),
    #[error("too many beacons from this network")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer: each registered test's variant for this visitor, whether the view
/// counted, and the token that carries those variants to checkout (none for a robot or a
/// visitor who opted out, who are in no test).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub variants: Vec<(Name, Name)>,
    pub counted: bool,
    pub token: Option<crate::abtest::VariantToken>,
}

pub struct Collector {
    store: crate::store::views::CollectStore,
    /// The sites whose page views count.
    config: crate::config::CollectConfig,
    secret: VariantSecret,
    salt: Mutex<Option<(Date, DailySalt)>>,
    /// What was read of the shop, kept for [`CACHE_FOR`].
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    tests: Option<(OffsetDateTime, Vec<crate::abtest::AbTest>)>,
    /// Product id → (read at, exists).
    products: std::collections::HashMap<ProductId, (OffsetDateTime, bool)>,
    /// The day's sources with a row of their own, and whether the list is full.
    sources: Option<(Date, Vec<String>, bool)>,
}

/// A counter row's source: the campaign, else the referrer's host, else `direct`
/// ([`crate::sales::source_named`], the rule orders are counted by too).
fn source(b: &Beacon) -> String {
    crate::sales::source_named(b.utm_source.as_deref(), b.referrer.as_deref())
}

impl Collector {
    /// A collector over a store built elsewhere (tests, which hand the handler a config
    /// of their own): the store and the variant secret (read, or made on first use), no
    /// site of its own.
    pub async fn from_parts(store: Store) -> Result<Collector, StoreError> {
        let config = crate::config::CollectConfig {
            table_name: store.table().to_owned(),
            sites: Vec::new(),
        };
        Self::with_store(store, config).await
    }

    /// The collect function's handle, built once from the environment.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::startup::InitError> {
        Self::new(sdk, crate::config::CollectConfig::from_env()?)
            .await
            .map_err(crate::startup::InitError::Store)
    }

    /// A collector counting the page views of `config`'s sites (`make dev`).
    pub async fn new(
        sdk: &aws_config::SdkConfig,
        config: crate::config::CollectConfig,
    ) -> Result<Collector, StoreError> {
        Self::with_store(crate::startup::open_store(sdk, &config.table_name), config).await
    }

    async fn with_store(
        store: Store,
        config: crate::config::CollectConfig,
    ) -> Result<Collector, StoreError> {
        let store = crate::store::views::CollectStore::of(store);
        let secret = store.variant_secret().await?;
        Ok(Collector {
            config,
            store,
            secret,
            salt: Mutex::new(None),
            cache: Mutex::new(Cache::default()),
        })
    }

    /// What it was built with (its sites).
    pub fn config(&self) -> &crate::config::CollectConfig {
        &self.config
    }

    /// The salt of `day`, from memory while the day lasts; a new day's replaces the old
    /// one in memory, and the store deletes the old item.
    async fn salt(&self, day: Date) -> Result<DailySalt, StoreError> {
        if let Ok(guard) = self.salt.lock()
            && let Some((d, s)) = guard.as_ref()
            && *d == day
        {
            return Ok(s.clone());
        }
        let salt = self.store.daily_salt(day).await?;
        if let Ok(mut guard) = self.salt.lock() {
            *guard = Some((day, salt.clone()));
        }
        Ok(salt)
    }

    /// The day whose salt this instance holds in memory, if any.
    pub fn salt_in_memory(&self) -> Option<Date> {
        self.salt
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|(d, _)| *d))
    }

    /// The variants [`Collector::collect`] answers this visitor for `tests` (registered
    /// with these variants): the first for a visitor who opted out. Nothing is read or
    /// written; what `make dev`'s browser test uses to pick visitors on each variant.
    pub fn variants(&self, from: &Sender, tests: &[(Name, Vec<Name>)]) -> Vec<(Name, Name)> {
        tests
            .iter()
            .filter_map(|(test, variants)| {
                let v = if from.opted_out {
                    variants.first()
                } else {
                    self.secret.variant(
                        &from.network,
                        from.user_agent.unwrap_or_default(),
                        test,
                        variants,
                    )
                }?;
                Some((test.clone(), v.clone()))
            })
            .collect()
    }

    /// The running registered tests (read once a minute).
    async fn registered(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<crate::abtest::AbTest>, StoreError> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, tests)) = &c.tests
            && now - *at < CACHE_FOR
        {
            return Ok(tests.clone());
        }
        let tests: Vec<_> = self
            .store
            .tests()
            .await?
            .into_iter()
            .filter(|t| t.running())
            .collect();
        if let Ok(mut c) = self.cache.lock() {
            c.tests = Some((now, tests.clone()));
        }
        Ok(tests)
    }

    /// Which of `ids` are this shop's products (unknown ones read in one batch, then
    /// remembered a minute either way).
    async fn known(
        &self,
        ids: &[ProductId],
        now: OffsetDateTime,
    ) -> Result<Vec<ProductId>, StoreError> {
        let mut ask = Vec::new();
        if let Ok(c) = self.cache.lock() {
            for id in ids {
                match c.products.get(id) {
                    Some((at, _)) if now - *at < CACHE_FOR => {}
                    _ => ask.push(id.clone()),
                }
            }
        }
        if !ask.is_empty() {
            let found = self.store.existing_products(&ask).await?;
            if let Ok(mut c) = self.cache.lock() {
                if c.products.len() > 10_000 {
                    c.products.clear();
                }
                for id in ask {
                    let exists = found.contains(&id);
                    c.products.insert(id, (now, exists));
                }
            }
        }
        let c = self.cache.lock().map_err(|_| StoreError::Corrupt {
            entity: "collector cache",
            detail: "poisoned".into(),
        })?;
        Ok(ids
            .iter()
            .filter(|id| c.products.get(*id).is_some_and(|(_, e)| *e))
            .cloned()
            .collect())
    }

    /// The row `source` counts under on `day`: its own while the day has fewer than
    /// [`SOURCES_PER_DAY`] sources (and always `direct`), else `other`.
    async fn source_row(&self, day: Date, source: String) -> Result<String, StoreError> {
        if source == "direct" {
            return Ok(source);
        }
        let cached = self.cache.lock().ok().and_then(|c| c.sources.clone());
        let (known, full) = match cached {
            Some((d, names, full)) if d == day => (names, full),
            _ => (self.store.day_sources(day).await?, false),
        };
        if known.contains(&source) {
            return Ok(source);
        }
        let (names, full, row) = if full || known.len() >= SOURCES_PER_DAY {
            (known, true, "other".to_owned())
        } else {
            match self
                .store
                .claim_source(day, &source, SOURCES_PER_DAY)
                .await?
            {
                Some(names) => (names, false, source),
                None => (known, true, "other".to_owned()),
            }
        };
        if let Ok(mut c) = self.cache.lock() {
            c.sources = Some((day, names, full));
        }
        Ok(row)
    }

    /// Count one page view and answer its variants. Bots get the first variants and
    /// count nothing; a visitor who opted out counts as a view, not as a visitor, and
    /// not in any test.
    pub async fn collect(
        &self,
        beacon: Beacon,
        from: &Sender<'_>,
        now: OffsetDateTime,
    ) -> Result<Answer, CollectError> {
        let products = beacon
            .products
            .iter()
            .map(|p| ProductId::parse(p).map_err(|e| CollectError::Invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if products.is_empty() || products.len() > MAX_PRODUCTS {
            return Err(CollectError::Invalid(format!(
                "name 1 to {MAX_PRODUCTS} products"
            )));
        }
        if beacon.tests.len() > MAX_TESTS {
            return Err(CollectError::Invalid(format!("at most {MAX_TESTS} tests")));
        }
        let mut tests = Vec::new();
        for t in &beacon.tests {
            let name = Name::parse(&t.name)
                .ok_or_else(|| CollectError::Invalid(format!("test name {:?}", t.name)))?;
            let variants = t
                .variants
                .iter()
                .map(|v| {
                    Name::parse(v).ok_or_else(|| CollectError::Invalid(format!("variant {v:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if variants.is_empty() || variants.len() > MAX_VARIANTS {
                return Err(CollectError::Invalid(format!(
                    "test {name}: 1 to {MAX_VARIANTS} variants"
                )));
            }
            tests.push((name, variants));
        }
        if visit::is_bot(from.user_agent) {
            return Ok(Answer::default());
        }
        let day = now.to_offset(time::UtcOffset::UTC).date();
        let salt = self.salt(day).await?;
        // Throttled by the network under the day's salt, never by its address.
        let network = salt.network(&from.network);
        if !self
            .store
            .count_from_network(
                NetworkCounter::Beacon,
                &network,
                BEACONS_PER_NETWORK_HOUR,
                Duration::hours(1),
                now,
            )
            .await?
        {
            return Err(CollectError::TooMany);
        }
        let products = self.known(&products, now).await?;
        // Only the author's running tests, with the variants they registered, and only
        // on a page about their product (or, for a test without one, any product).
        let registered = self.registered(now).await?;
        let running: Vec<(&crate::abtest::AbTest, Vec<ProductId>)> = tests
            .iter()
            .filter_map(|(name, page_variants)| {
                let t = registered.iter().find(|t| &t.name == name)?;
                if !t.matches(page_variants) {
                    return None;
                }
                let on: Vec<ProductId> = match &t.product {
                    Some(p) => products.iter().filter(|q| *q == p).cloned().collect(),
                    None => products.clone(),
                };
                (!on.is_empty()).then_some((t, on))
            })
            .take(crate::abtest::MAX_RUNNING)
            .collect();
        let variants: Vec<(Name, Name)> = running
            .iter()
            .filter_map(|(t, _)| {
                let v = if from.opted_out {
                    t.variants.first()
                } else {
                    self.secret.variant(
                        &from.network,
                        from.user_agent.unwrap_or_default(),
                        &t.name,
                        &t.variants,
                    )
                }?;
                Some((t.name.clone(), v.clone()))
            })
            .collect();
        if products.is_empty() {
            // No product of this shop: nothing to count.
            return Ok(Answer {
                variants,
                counted: false,
                token: None,
            });
        }
        let source = self.source_row(day, source(&beacon)).await?;
        let visitor = (!from.opted_out).then(|| {
            salt.visitor(
                &from.network,
                from.user_agent.unwrap_or_default(),
                from.site,
            )
        });
        let mut new: Vec<ProductId> = match &visitor {
            None => Vec::new(),
            Some(visitor) => self.store.visit(day, visitor, &products).await?,
        };
        if !new.is_empty()
            && !self
                .store
                .count_from_network(
                    NetworkCounter::Visitors,
                    &network,
                    NEW_VISITORS_PER_NETWORK_DAY,
                    Duration::days(1),
                    now,
                )
                .await?
        {
            // The network added its day's new visitors: this one counts as a view only.
            new.clear();
        }
        let cells: Vec<(ProductId, bool)> = products
            .iter()
            .map(|p| (p.clone(), new.contains(p)))
            .collect();
        let test_rows: Vec<crate::store::TestCells> = match from.opted_out {
            true => Vec::new(),
            false => running
                .iter()
                .zip(&variants)
                .map(|((t, on), (_, v))| {
                    (
                        t.name.clone(),
                        on.iter()
                            .map(|p| (p.clone(), v.clone(), new.contains(p)))
                            .collect(),
                    )
                })
                .collect(),
        };
        let mut shard = [0u8; 1];
        aws_lc_rs::rand::fill(&mut shard).map_err(|_| StoreError::Corrupt {
            entity: "shard",
            detail: "no randomness".into(),
        })?;
        self.store
            .count_views(day, shard[0], &source, &cells, &test_rows)
            .await?;
        // The visit rides to checkout with the variants, so the order counts under the
        // source its views did, and once per visitor (crate::sales).
        let token = visitor.map(|v| {
            let visit = crate::order::Visit {
                source: source.clone(),
                visitor: self.secret.visitor_key(&v),
            };
            crate::abtest::VariantToken::issue(&self.secret, &variants, Some(&visit), now)
        });
        Ok(Answer {
            variants,
            counted: true,
            token,
        })
    }
}
