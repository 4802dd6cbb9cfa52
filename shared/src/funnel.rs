//! Counting page views for the visitor funnel and answering which A/B variants a
//! visitor sees: the collect function's handle ([`Collector`]), built once per cold start.
//! What it may know of a visitor is [`crate::visit`]'s to say.

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

/// The answer: each test's variant for this visitor, and whether the view counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub variants: Vec<(Name, Name)>,
    pub counted: bool,
}

pub struct Collector {
    store: Store,
    secret: VariantSecret,
    salt: Mutex<Option<(Date, DailySalt)>>,
}

/// A counter row's source: the campaign, else the referrer's host, else `direct`.
fn source(b: &Beacon) -> String {
    let clean = |s: &str| -> Option<String> {
        let s: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(64)
            .collect();
        (!s.is_empty()).then_some(s)
    };
    b.utm_source
        .as_deref()
        .and_then(clean)
        .or_else(|| b.referrer.as_deref().and_then(clean))
        .unwrap_or_else(|| "direct".to_owned())
}

impl Collector {
    /// The collect function's state: its store and the variant secret (read, or made on
    /// first use).
    pub async fn new(store: Store) -> Result<Collector, StoreError> {
        let secret = store.variant_secret().await?;
        Ok(Collector {
            store,
            secret,
            salt: Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
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

    /// The variants of `tests` this visitor sees (the page's first variant for a test
    /// the visitor cannot be told apart in, e.g. one who opted out).
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
            let first = tests
                .iter()
                .filter_map(|(t, v)| Some((t.clone(), v.first()?.clone())))
                .collect();
            return Ok(Answer {
                variants: first,
                counted: false,
            });
        }
        if !self
            .store
            .count_from_network(
                NetworkCounter::Beacon,
                &from.network,
                BEACONS_PER_NETWORK_HOUR,
                Duration::hours(1),
                now,
            )
            .await?
        {
            return Err(CollectError::TooMany);
        }
        let variants = self.variants(from, &tests);
        let day = now.to_offset(time::UtcOffset::UTC).date();
        let source = source(&beacon);
        let visitor = if from.opted_out {
            None
        } else {
            let salt = self.salt(day).await?;
            Some(salt.visitor(
                &from.network,
                from.user_agent.unwrap_or_default(),
                from.site,
            ))
        };
        for product in &products {
            let first = match &visitor {
                Some(v) => self.store.first_visit(day, v, product).await?,
                None => false,
            };
            let mut rows = vec![format!("P#{product}#S#{source}")];
            if !from.opted_out {
                rows.extend(
                    variants
                        .iter()
                        .map(|(t, v)| format!("P#{product}#T#{t}#{v}")),
                );
            }
            self.store.count_view(day, &rows, first).await?;
        }
        Ok(Answer {
            variants,
            counted: true,
        })
    }
}
