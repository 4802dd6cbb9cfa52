//! Configuration read from the environment once per cold start (docs/architecture.md,
//! "Configuration contract").
//!
//! A missing or malformed variable is an error naming the variable, so a bad deploy fails
//! at init with a readable message instead of on a buyer's request. Secrets are not here:
//! only the names of the SSM parameters that hold them.
//!
//! `Config` is what every function needs; `AlipayConfig` is read only by the functions
//! that talk to Alipay, so the download function does not need Alipay variables set.
//!
//! Over 400 lines: every variable of the configuration contract with its parse and its
//! tests.

use time::Duration;

use crate::email::Sender;
use crate::i18n::Lang;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where configuration values come from. The real one reads the process environment;
/// tests pass a closure over a map.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

pub(crate) fn required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    match env.get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(ConfigError::Missing(name)),
    }
}

fn optional(env: &dyn Env, name: &'static str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn number(
    env: &dyn Env,
    name: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(raw) = optional(env, name) else {
        return Ok(default);
    };
    let n: u32 = raw.parse().map_err(|_| ConfigError::Invalid {
        name,
        reason: format!("{raw:?} is not a whole number"),
    })?;
    if !range.contains(&n) {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{n} is outside {}..={}", range.start(), range.end()),
        });
    }
    Ok(n)
}

/// An absolute http(s) URL. Plain http is allowed only for loopback hosts (the devstack
/// and tests); anything public must be https.
fn http_url(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    let raw = required(env, name)?;
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
        reason: format!("{raw:?} {reason}"),
    };
    let rest = if let Some(rest) = raw.strip_prefix("https://") {
        rest
    } else if let Some(rest) = raw.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or("");
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(invalid(
                "must use https:// (plain http only for 127.0.0.1/localhost)",
            ));
        }
        rest
    } else {
        return Err(invalid("must start with https://"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("is not a plain absolute URL"));
    }
    Ok(raw)
}

/// An absolute http(s) URL without query, fragment or trailing slash: paths are
/// appended to it.
fn base_url(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    let raw = http_url(env, name)?;
    if raw.contains(['?', '#']) {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not a plain absolute URL"),
        });
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// An SES configuration set's name, when set: letters, digits, `_` and `-`, at most 64.
fn configuration_set(env: &dyn Env, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = optional(env, name) else {
        return Ok(None);
    };
    let ok = raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !ok {
        return Err(ConfigError::Invalid {
            name,
            reason: format!(
                "{raw:?} is not an SES configuration set name (letters, digits, _ and -, at most 64)"
            ),
        });
    }
    Ok(Some(raw))
}

fn ssm_name(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    let raw = required(env, name)?;
    let ok = raw.len() <= 2048
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'));
    if !ok {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not an SSM parameter name (letters, digits, / _ . -)"),
        });
    }
    Ok(raw)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub files_bucket: String,
    /// The From address exactly as configured (see [`Sender`]).
    pub sender_email: Sender,
    /// The author's support address (`SUPPORT_EMAIL`): the mails' `Reply-To` and the
    /// address pages and mails name for help; `None`: the sender.
    pub support_email: Option<Sender>,
    /// The SES configuration set every mail is sent with (`MAIL_CONFIGURATION_SET`;
    /// the stack's, which reports bounces and complaints). `None`: plain sends (local).
    pub mail_configuration_set: Option<String>,
    /// Base URL of the API, no trailing slash: notify/return/download URLs hang off it.
    pub public_base_url: String,
    /// The author's shop page (`SHOP_URL`): where a buyer who leaves a payment page goes
    /// back to (Stripe's `cancel_url`, Alipay's `quit_url`).
    pub shop_url: String,
    pub order_ttl: Duration,
    pub presign: Duration,
    /// Origins whose pages may call `POST /checkout` with `fetch` (`CORS_ALLOWED_ORIGINS`,
    /// comma-separated `https://host[:port]`; default none). A plain HTML form needs none.
    pub cors_origins: Vec<String>,
    /// Origins whose pages may show the buy page in `kiosk.js`'s overlay (`EMBED_ORIGINS`,
    /// comma-separated like [`Config::cors_origins`]; default: the origin of
    /// [`Config::shop_url`]). Every other page, and the buy page outside the overlay,
    /// refuses all framing.
    pub embed_origins: Vec<String>,
    /// The language of a buyer whose browser asks for none this shop has
    /// (`DEFAULT_LANGUAGE`, a tag with a catalog in `shared/locales/`; default `en`).
    pub default_lang: Lang,
    /// Checkouts one network may start per hour (`CHECKOUTS_PER_NETWORK_HOUR`, default
    /// [`Config::DEFAULT_CHECKOUTS_PER_NETWORK_HOUR`]); see [`crate::checkout::CHECKOUT_WINDOW`].
    pub checkouts_per_network_hour: u32,
    /// The SSM parameter holding the license signing key (`LICENSE_KEY_PARAM`;
    /// [`crate::license`]), read at cold start with the channels' secrets when it exists.
    /// `None`: licenses get the short key only.
    pub license_key_param: Option<String>,
}

impl Config {
    pub const DEFAULT_ORDER_TTL: Duration = Duration::minutes(30);
    pub const DEFAULT_PRESIGN: Duration = Duration::seconds(300);
    /// Generous: one office, campus or mobile carrier can put many buyers behind one
    /// address, and a launch day sends them at once; a script creating sessions and
    /// pending orders by the thousand is what it stops.
    pub const DEFAULT_CHECKOUTS_PER_NETWORK_HOUR: u32 = 100;

    /// The settings every tool and test shares, with the defaults the functions use for
    /// the rest (the one place a `Config` is spelled out by hand).
    pub fn new(
        table_name: impl Into<String>,
        files_bucket: impl Into<String>,
        sender_email: Sender,
        public_base_url: impl Into<String>,
        shop_url: impl Into<String>,
    ) -> Self {
        let shop_url = shop_url.into();
        Config {
            table_name: table_name.into(),
            files_bucket: files_bucket.into(),
            sender_email,
            support_email: None,
            mail_configuration_set: None,
            public_base_url: public_base_url.into(),
            embed_origins: origin_of(&shop_url).into_iter().collect(),
            default_lang: Lang::EN,
            shop_url,
            order_ttl: Self::DEFAULT_ORDER_TTL,
            presign: Self::DEFAULT_PRESIGN,
            cors_origins: Vec::new(),
            checkouts_per_network_hour: Self::DEFAULT_CHECKOUTS_PER_NETWORK_HOUR,
            license_key_param: None,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let sender_raw = required(env, "SENDER_EMAIL")?;
        let sender_email = Sender::parse(&sender_raw).map_err(|e| ConfigError::Invalid {
            name: "SENDER_EMAIL",
            reason: e.to_string(),
        })?;
        let support_email = optional(env, "SUPPORT_EMAIL")
            .map(|raw| {
                Sender::parse(&raw).map_err(|e| ConfigError::Invalid {
                    name: "SUPPORT_EMAIL",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let c = CheckoutConfig::from(env)?;
        Ok(Config {
            table_name: c.table_name,
            files_bucket: required(env, "FILES_BUCKET")?,
            sender_email,
            support_email,
            mail_configuration_set: configuration_set(env, "MAIL_CONFIGURATION_SET")?,
            public_base_url: c.public_base_url,
            shop_url: c.shop_url,
            order_ttl: c.order_ttl,
            // S3 presigned URLs made with role credentials cannot outlive the session
            // anyway; a week is SigV4's hard limit.
            presign: Duration::seconds(number(env, "PRESIGN_SECONDS", 300, 10..=604_800)?.into()),
            cors_origins: c.cors_origins,
            embed_origins: c.embed_origins,
            default_lang: c.default_lang,
            checkouts_per_network_hour: c.checkouts_per_network_hour,
            license_key_param: optional(env, "LICENSE_KEY_PARAM"),
        })
    }

    /// Where a buyer who needs help writes: the support address, else the sender.
    pub fn help(&self) -> &Sender {
        self.support_email.as_ref().unwrap_or(&self.sender_email)
    }

    /// The part of this configuration the checkout function holds.
    pub fn checkout(&self) -> CheckoutConfig {
        CheckoutConfig {
            table_name: self.table_name.clone(),
            public_base_url: self.public_base_url.clone(),
            shop_url: self.shop_url.clone(),
            order_ttl: self.order_ttl,
            cors_origins: self.cors_origins.clone(),
            embed_origins: self.embed_origins.clone(),
            default_lang: self.default_lang,
            checkouts_per_network_hour: self.checkouts_per_network_hour,
            free: FreeLimits::default(),
            free_orders_queue_url: None,
        }
    }
}

/// How many free copies the shop mails (docs/architecture.md, Flows: Free): per
/// network and hour, and for the whole shop per hour and per day, so no number of
/// networks can make it spend its SES quota and reputation on strangers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeLimits {
    /// `FREE_PER_NETWORK_HOUR` (template `FreePerNetworkHour`), default 5.
    pub per_network_hour: u32,
    /// `FREE_MAILS_PER_HOUR` (template `FreeMailsPerHour`), default 100.
    pub per_hour: u32,
    /// `FREE_MAILS_PER_DAY` (template `FreeMailsPerDay`), default 500: a hundredth of a
    /// production SES account's 50,000 a day, so paying buyers' mails always have room
    /// (an account still in the sandbox sends 200 a day: set it lower there).
    pub per_day: u32,
}

impl Default for FreeLimits {
    fn default() -> Self {
        FreeLimits {
            per_network_hour: 5,
            per_hour: 100,
            per_day: 500,
        }
    }
}

impl FreeLimits {
    fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let d = FreeLimits::default();
        Ok(FreeLimits {
            per_network_hour: number(env, "FREE_PER_NETWORK_HOUR", d.per_network_hour, 1..=1000)?,
            per_hour: number(env, "FREE_MAILS_PER_HOUR", d.per_hour, 1..=100_000)?,
            per_day: number(env, "FREE_MAILS_PER_DAY", d.per_day, 1..=1_000_000)?,
        })
    }
}

/// What the checkout function reads: where the shop lives and how checkouts behave. No
/// bucket and no sender: checkout serves no file and mails nothing (a free copy's link
/// is mailed by reconcile, from the queue checkout puts the order on: [`crate::free`]),
/// so it never reads `FILES_BUCKET`, `PRESIGN_SECONDS`, `SENDER_EMAIL`, `SUPPORT_EMAIL`
/// or `MAIL_CONFIGURATION_SET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutConfig {
    pub table_name: String,
    /// Base URL of the API: the channels' notify and return URLs hang off it.
    pub public_base_url: String,
    /// Where a buyer who leaves a payment page goes back to.
    pub shop_url: String,
    pub order_ttl: Duration,
    /// See [`Config::cors_origins`].
    pub cors_origins: Vec<String>,
    /// See [`Config::embed_origins`].
    pub embed_origins: Vec<String>,
    /// See [`Config::default_lang`].
    pub default_lang: Lang,
    /// See [`Config::checkouts_per_network_hour`].
    pub checkouts_per_network_hour: u32,
    /// How many free copies are mailed, per network and shop-wide.
    pub free: FreeLimits,
    /// Where free orders go to be fulfilled (`FREE_ORDERS_QUEUE_URL`, the stack's
    /// `FreeOrdersQueue`, consumed by the reconcile function: [`crate::free`]); `None`:
    /// free claims are refused (unless a local shop hands checkout a fulfiller).
    pub free_orders_queue_url: Option<String>,
}

impl CheckoutConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let shop_url = http_url(env, "SHOP_URL")?;
        let embed_origins = match optional(env, "EMBED_ORIGINS") {
            Some(_) => origins(env, "EMBED_ORIGINS")?,
            None => origin_of(&shop_url).into_iter().collect(),
        };
        Ok(CheckoutConfig {
            table_name: required(env, "TABLE_NAME")?,
            public_base_url: base_url(env, "PUBLIC_BASE_URL")?,
            shop_url,
            embed_origins,
            default_lang: default_lang(env)?,
            order_ttl: Duration::minutes(number(env, "ORDER_TTL_MINUTES", 30, 1..=1440)?.into()),
            cors_origins: origins(env, "CORS_ALLOWED_ORIGINS")?,
            checkouts_per_network_hour: number(
                env,
                "CHECKOUTS_PER_NETWORK_HOUR",
                Config::DEFAULT_CHECKOUTS_PER_NETWORK_HOUR,
                1..=100_000,
            )?,
            free: FreeLimits::from(env)?,
            free_orders_queue_url: optional(env, "FREE_ORDERS_QUEUE_URL"),
        })
    }
}

/// What the collect function reads: its table and the sites whose page views it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectConfig {
    pub table_name: String,
    /// The shop's sites: `EMBED_ORIGINS`, default the origin of `SHOP_URL` (the same
    /// sites that may show the checkout overlay).
    pub sites: Vec<String>,
}

impl CollectConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let shop_url = http_url(env, "SHOP_URL")?;
        Ok(CollectConfig {
            table_name: required(env, "TABLE_NAME")?,
            sites: match optional(env, "EMBED_ORIGINS") {
                Some(_) => origins(env, "EMBED_ORIGINS")?,
                None => origin_of(&shop_url).into_iter().collect(),
            },
        })
    }

    /// `origin` (as the shop spells it) when it is one of the shop's sites.
    pub fn site(&self, origin: &str) -> Option<&str> {
        self.sites
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin.trim()))
            .map(String::as_str)
    }
}

/// What the mail-events function reads: its table, and the one topic and configuration
/// set whose reports it believes ([`crate::mail_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEventsConfig {
    pub table_name: String,
    /// `MAIL_EVENTS_TOPIC_ARN`: the stack's SNS topic for SES's reports.
    pub topic_arn: String,
    /// `MAIL_CONFIGURATION_SET`: the stack's SES configuration set.
    pub configuration_set: String,
}

impl MailEventsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let topic_arn = required(env, "MAIL_EVENTS_TOPIC_ARN")?;
        // arn:partition:sns:region:account:name
        let parts: Vec<&str> = topic_arn.split(':').collect();
        if parts.len() != 6
            || parts[0] != "arn"
            || parts[2] != "sns"
            || parts.iter().any(|p| p.is_empty())
        {
            return Err(ConfigError::Invalid {
                name: "MAIL_EVENTS_TOPIC_ARN",
                reason: format!("{topic_arn:?} is not an SNS topic ARN"),
            });
        }
        Ok(MailEventsConfig {
            table_name: required(env, "TABLE_NAME")?,
            topic_arn,
            configuration_set: configuration_set(env, "MAIL_CONFIGURATION_SET")?
                .ok_or(ConfigError::Missing("MAIL_CONFIGURATION_SET"))?,
        })
    }
}

/// The stamping function's settings ([`crate::stamp::Stamper`]).
#[derive(Debug, Clone)]
pub struct StampConfig {
    pub table_name: String,
    pub files_bucket: String,
}

impl StampConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(StampConfig {
            table_name: required(env, "TABLE_NAME")?,
            files_bucket: required(env, "FILES_BUCKET")?,
        })
    }
}

/// `STAMP_QUEUE_URL`: where the download function asks for a stamped copy it did not
/// find ([`crate::stamp::StampRequests`]); unset: stamping is not wired (local tools).
pub fn stamp_queue_url() -> Option<String> {
    optional(&ProcessEnv, "STAMP_QUEUE_URL")
}

/// `DEFAULT_LANGUAGE`: a language with a catalog, by its exact tag; `en` when unset.
fn default_lang(env: &dyn Env) -> Result<Lang, ConfigError> {
    let Some(raw) = optional(env, "DEFAULT_LANGUAGE") else {
        return Ok(Lang::EN);
    };
    Lang::all()
        .find(|l| l.tag().eq_ignore_ascii_case(&raw))
        .ok_or_else(|| ConfigError::Invalid {
            name: "DEFAULT_LANGUAGE",
            reason: format!(
                "{raw:?} has no catalog; the languages are {}",
                Lang::all().map(Lang::tag).collect::<Vec<_>>().join(", ")
            ),
        })
}

/// A comma-separated list of web origins (`https://shop.example.com`, no path); an
/// `http://` origin only for loopback (a local shop page).
fn origins(env: &dyn Env, name: &'static str) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = optional(env, name) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            parse_origin(o).ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!(
                    "{o:?} is not an origin (https://host[:port], no path or trailing slash)"
                ),
            })
        })
        .collect()
}

/// `o` as a web origin in lowercase: `https://host[:port]`, or `http://` for 127.0.0.1
/// and localhost only; nothing after the host and port.
pub fn parse_origin(o: &str) -> Option<String> {
    let o = o.to_ascii_lowercase();
    let (host, loopback_only) = match o.strip_prefix("https://") {
        Some(h) => (h, false),
        None => (o.strip_prefix("http://")?, true),
    };
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.parse::<u16>().is_ok());
    let loopback_ok = !loopback_only || matches!(name, "127.0.0.1" | "localhost");
    (name_ok && port_ok && loopback_ok).then_some(o)
}

/// The origin of an absolute URL (`https://example.com/book/` → `https://example.com`),
/// when it is one [`parse_origin`] accepts.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    parse_origin(&format!("{scheme}://{host}"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayConfig {
    pub app_id: String,
    pub gateway_url: String,
    /// The merchant's partner id (`2088` and 12 digits). Required from the environment:
    /// Alipay's integration guidance is to check `seller_id` on every notification, so a
    /// notification signed for another merchant of the same app cannot pay an order
    /// here. `None` only for the CLI, which never authenticates notifications (a channel
    /// without it refuses every one).
    pub seller_id: Option<String>,
    pub app_private_key_param: String,
    pub alipay_public_key_param: String,
}

impl AlipayConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    /// Alipay is off when `ALIPAY_APP_ID` is empty; once it is set, every other Alipay
    /// variable is required.
    pub fn optional(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        match optional(env, "ALIPAY_APP_ID") {
            None => Ok(None),
            Some(_) => Self::from(env).map(Some),
        }
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        Self::parse(env, true)
    }

    /// As the author's command line reads it (`kiosk refund`, `kiosk reconcile`): the
    /// same variables by the same rules, the seller id optional, since it only checks
    /// notifications, which the CLI never takes.
    pub fn optional_for_author(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        match optional(env, "ALIPAY_APP_ID") {
            None => Ok(None),
            Some(_) => Self::parse(env, false).map(Some),
        }
    }

    fn parse(env: &dyn Env, seller_required: bool) -> Result<Self, ConfigError> {
        let app_id = required(env, "ALIPAY_APP_ID")?;
        if !app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                name: "ALIPAY_APP_ID",
                reason: format!("{app_id:?} is not an Alipay app id (digits only)"),
            });
        }
        let seller_id = match seller_required {
            true => Some(required(env, "ALIPAY_SELLER_ID")?),
            false => optional(env, "ALIPAY_SELLER_ID"),
        };
        if let Some(seller_id) = &seller_id
            && !(seller_id.len() == 16
                && seller_id.starts_with("2088")
                && seller_id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ConfigError::Invalid {
                name: "ALIPAY_SELLER_ID",
                reason: format!(
                    "{seller_id:?} is not an Alipay partner id (2088 and 12 more digits; the Alipay console shows it as PID)"
                ),
            });
        }
        Ok(AlipayConfig {
            app_id,
            gateway_url: base_url(env, "ALIPAY_GATEWAY_URL")?,
            seller_id,
            app_private_key_param: ssm_name(env, "ALIPAY_APP_PRIVATE_KEY_PARAM")?,
            alipay_public_key_param: ssm_name(env, "ALIPAY_PUBLIC_KEY_PARAM")?,
        })
    }
}

/// Stripe's settings: the names of the SSM parameters with the secret key and the
/// webhook signing secret. No secret key: Stripe is off. The webhook secret is given
/// only to payment-notify, the one function that verifies webhooks (checkout, reconcile
/// and the CLI need the API key alone); a webhook secret without a key is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    pub secret_key_param: String,
    pub webhook_secret_param: Option<String>,
    /// `https://api.stripe.com` unless `STRIPE_API_BASE` says otherwise (the local
    /// stand-in).
    pub api_base: String,
}

pub const STRIPE_API: &str = "https://api.stripe.com";

impl StripeConfig {
    pub fn optional(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        let key = optional(env, "STRIPE_SECRET_KEY_PARAM");
        let hook = optional(env, "STRIPE_WEBHOOK_SECRET_PARAM");
        match (key, hook) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ConfigError::Missing("STRIPE_SECRET_KEY_PARAM")),
            (Some(_), hook) => Ok(Some(StripeConfig {
                secret_key_param: ssm_name(env, "STRIPE_SECRET_KEY_PARAM")?,
                webhook_secret_param: match hook {
                    Some(_) => Some(ssm_name(env, "STRIPE_WEBHOOK_SECRET_PARAM")?),
                    None => None,
                },
                api_base: match optional(env, "STRIPE_API_BASE") {
                    Some(_) => base_url(env, "STRIPE_API_BASE")?,
                    None => STRIPE_API.to_owned(),
                },
            })),
        }
    }
}

/// WeChat Pay (API v3, a direct merchant): who the merchant is (not secret, from the
/// template's parameters) and the SSM parameters holding its secrets. `WECHAT_MCHID`
/// turns it on (empty: off, whatever else is set, as the template sets the parameter
/// names' defaults everywhere); then `WECHAT_APPID`, `WECHAT_MERCHANT_SERIAL_NO`,
/// `WECHAT_PUBLIC_KEY_ID`, `WECHAT_MERCHANT_KEY_PARAM` and `WECHAT_PUBLIC_KEY_PARAM` are
/// required, and `WECHAT_APIV3_KEY_PARAM` is read where notifications are
/// (payment-notify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatConfig {
    /// The merchant id (`mchid`): digits.
    pub mchid: String,
    /// The app id bound to the merchant (`wx…`).
    pub appid: String,
    /// The serial number of the merchant's API certificate (hex), sent with every request.
    pub merchant_serial_no: String,
    /// WeChat Pay's public key id (`PUB_KEY_ID_…`): answers and notifications must name it.
    pub public_key_id: String,
    /// SSM SecureString: the merchant's API private key (PEM).
    pub merchant_key_param: String,
    /// SSM String: WeChat Pay's public key (PEM).
    pub public_key_param: String,
    /// SSM SecureString: the APIv3 key (32 characters), for notifications.
    pub apiv3_key_param: Option<String>,
    /// `https://api.mch.weixin.qq.com` unless `WECHAT_API_BASE` says otherwise (the local
    /// stand-in).
    pub api_base: String,
}

pub const WECHAT_API: &str = "https://api.mch.weixin.qq.com";

impl WechatConfig {
    pub fn optional(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        if optional(env, "WECHAT_MCHID").is_none() {
            return Ok(None);
        }
        let shaped = |name: &'static str, ok: fn(&str) -> bool, what: &str| {
            let v = required(env, name)?;
            if ok(&v) {
                Ok(v)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: what.to_owned(),
                })
            }
        };
        Ok(Some(WechatConfig {
            mchid: shaped(
                "WECHAT_MCHID",
                |v| (5..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()),
                "a merchant id is digits (WeChat Pay's merchant platform, Account center)",
            )?,
            appid: shaped(
                "WECHAT_APPID",
                |v| {
                    v.starts_with("wx")
                        && v.len() <= 32
                        && v.bytes().all(|b| b.is_ascii_alphanumeric())
                },
                "an app id starts with wx",
            )?,
            merchant_serial_no: shaped(
                "WECHAT_MERCHANT_SERIAL_NO",
                |v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                "the merchant certificate's serial number is hexadecimal",
            )?,
            public_key_id: shaped(
                "WECHAT_PUBLIC_KEY_ID",
                |v| v.starts_with("PUB_KEY_ID_") && v.len() <= 64,
                "WeChat Pay's public key id starts with PUB_KEY_ID_",
            )?,
            merchant_key_param: ssm_name(env, "WECHAT_MERCHANT_KEY_PARAM")?,
            public_key_param: ssm_name(env, "WECHAT_PUBLIC_KEY_PARAM")?,
            apiv3_key_param: match optional(env, "WECHAT_APIV3_KEY_PARAM") {
                Some(_) => Some(ssm_name(env, "WECHAT_APIV3_KEY_PARAM")?),
                None => None,
            },
            api_base: match optional(env, "WECHAT_API_BASE") {
                Some(_) => base_url(env, "WECHAT_API_BASE")?,
                None => WECHAT_API.to_owned(),
            },
        }))
    }
}

/// `DEFAULT_CHANNEL` (`alipay` or `stripe`): the channel a Buy Now form without a
/// `channel` field uses. Empty: the only configured one.
pub fn default_channel(env: &dyn Env) -> Result<Option<crate::order::ChannelKind>, ConfigError> {
    optional(env, "DEFAULT_CHANNEL")
        .map(|v| {
            v.parse()
                .map_err(|e: crate::order::UnknownName| ConfigError::Invalid {
                    name: "DEFAULT_CHANNEL",
                    reason: e.to_string(),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn wechat_pay_is_on_with_its_merchant_id_and_its_shapes_are_checked() {
        let on: &[(&str, &str)] = &[
            ("WECHAT_MCHID", "1900000109"),
            ("WECHAT_APPID", "wxd678efh567hg6787"),
            (
                "WECHAT_MERCHANT_SERIAL_NO",
                "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            ),
            (
                "WECHAT_PUBLIC_KEY_ID",
                "PUB_KEY_ID_0114232134912410000000000000",
            ),
            ("WECHAT_MERCHANT_KEY_PARAM", "/kiosk/wechat/merchant-key"),
            (
                "WECHAT_PUBLIC_KEY_PARAM",
                "/kiosk/wechat/wechatpay-public-key",
            ),
        ];
        let c = WechatConfig::optional(&env(on)).unwrap().expect("on");
        assert_eq!(c.api_base, WECHAT_API);
        assert_eq!(c.apiv3_key_param, None);
        // Off without a merchant id, even with the template's default parameter names.
        assert_eq!(WechatConfig::optional(&env(&on[4..])).unwrap(), None);
        for (name, bad) in [
            ("WECHAT_MCHID", "19000x"),
            ("WECHAT_APPID", "2021000000000001"),
            ("WECHAT_MERCHANT_SERIAL_NO", "not-hex"),
            ("WECHAT_PUBLIC_KEY_ID", "0114232134912410000000000000"),
            ("WECHAT_MERCHANT_KEY_PARAM", "no spaces"),
        ] {
            let mut pairs: Vec<(&str, &str)> =
                on.iter().filter(|(k, _)| *k != name).copied().collect();
            pairs.push((name, bad));
            let err = WechatConfig::optional(&env(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let missing: Vec<(&str, &str)> = on
            .iter()
            .filter(|(k, _)| *k != "WECHAT_APPID")
            .copied()
            .collect();
        assert_eq!(
            WechatConfig::optional(&env(&missing)),
            Err(ConfigError::Missing("WECHAT_APPID"))
        );
    }

    const BASE: &[(&str, &str)] = &[
        ("TABLE_NAME", "kiosk"),
        ("FILES_BUCKET", "kiosk-files"),
        ("SENDER_EMAIL", "shop@example.com"),
        ("PUBLIC_BASE_URL", "https://api.example.com/"),
        ("SHOP_URL", "https://example.com/book/"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .collect();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn reads_values_and_defaults() {
        let c = Config::from(&env(BASE)).unwrap();
        assert_eq!(c.table_name, "kiosk");
        assert_eq!(c.public_base_url, "https://api.example.com");
        assert_eq!(c.shop_url, "https://example.com/book/");
        assert_eq!(c.order_ttl, Duration::minutes(30));
        assert_eq!(c.presign, Duration::seconds(300));
        let c = Config::from(&env(&with(&[
            ("ORDER_TTL_MINUTES", "15"),
            ("PRESIGN_SECONDS", "60"),
        ])))
        .unwrap();
        assert_eq!(
            (c.order_ttl, c.presign),
            (Duration::minutes(15), Duration::seconds(60))
        );
    }

    /// Checkout needs no bucket and mails nothing: without `SENDER_EMAIL` and
    /// `FILES_BUCKET`, and with a malformed `SUPPORT_EMAIL`, it reads the same.
    #[test]
    fn checkout_reads_no_bucket_and_no_mail_settings() {
        let pairs: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| !matches!(*k, "SENDER_EMAIL" | "FILES_BUCKET"))
            .chain([("SUPPORT_EMAIL", "not an address")])
            .collect();
        let c = CheckoutConfig::from(&env(&pairs)).unwrap();
        let full = Config::from(&env(BASE)).unwrap().checkout();
        assert_eq!(c, full);
        assert!(Config::from(&env(&pairs)).is_err());
    }

    /// The support address is optional; set, it is where buyers are told to write, and a
    /// malformed one fails the start naming the variable.
    #[test]
    fn the_support_address_is_the_help_when_set() {
        let c = Config::from(&env(BASE)).unwrap();
        assert_eq!(
            (c.support_email.as_ref(), c.help()),
            (None, &c.sender_email)
        );
        let c = Config::from(&env(&with(&[("SUPPORT_EMAIL", "help@example.com")]))).unwrap();
        assert_eq!(c.help().as_str(), "help@example.com");
        let err = Config::from(&env(&with(&[("SUPPORT_EMAIL", "not an address")]))).unwrap_err();
        assert!(err.to_string().contains("SUPPORT_EMAIL"), "{err}");
    }

    /// The stack's configuration set is optional (local shops send without one); a
    /// name SES would refuse fails the start naming the variable.
    #[test]
    fn the_mail_configuration_set_is_an_ses_name() {
        assert_eq!(
            Config::from(&env(BASE)).unwrap().mail_configuration_set,
            None
        );
        let c = Config::from(&env(&with(&[(
            "MAIL_CONFIGURATION_SET",
            "kiosk-prod_mail",
        )])))
        .unwrap();
        assert_eq!(c.mail_configuration_set.as_deref(), Some("kiosk-prod_mail"));
        let long: &'static str = "x".repeat(65).leak();
        for bad in ["kiosk mail", "kiosk/mail", long] {
            let err = Config::from(&env(&with(&[("MAIL_CONFIGURATION_SET", bad)]))).unwrap_err();
            assert!(err.to_string().contains("MAIL_CONFIGURATION_SET"), "{err}");
        }
    }

    #[test]
    fn mail_events_believe_one_topic_and_one_configuration_set() {
        let base = [
            ("TABLE_NAME", "kiosk"),
            (
                "MAIL_EVENTS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:kiosk-mail-events",
            ),
            ("MAIL_CONFIGURATION_SET", "kiosk-mail"),
        ];
        let c = MailEventsConfig::from(&env(&base)).unwrap();
        assert_eq!(
            c.topic_arn,
            "arn:aws:sns:us-east-1:123456789012:kiosk-mail-events"
        );
        assert_eq!(c.configuration_set, "kiosk-mail");
        for (name, bad) in [
            ("MAIL_EVENTS_TOPIC_ARN", "kiosk-mail-events"),
            (
                "MAIL_EVENTS_TOPIC_ARN",
                "arn:aws:sqs:us-east-1:123456789012:q",
            ),
            ("MAIL_EVENTS_TOPIC_ARN", "arn:aws:sns:us-east-1::t"),
            ("MAIL_CONFIGURATION_SET", "kiosk mail"),
            ("MAIL_CONFIGURATION_SET", ""),
        ] {
            let pairs: Vec<_> = base
                .iter()
                .map(|&(k, v)| (k, if k == name { bad } else { v }))
                .collect();
            let err = MailEventsConfig::from(&env(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{bad:?}: {err}");
        }
    }

    #[test]
    fn missing_variables_are_named() {
        for name in [
            "TABLE_NAME",
            "FILES_BUCKET",
            "SENDER_EMAIL",
            "PUBLIC_BASE_URL",
            "SHOP_URL",
        ] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != name).collect();
            let err = Config::from(&env(&pairs)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name));
            assert!(err.to_string().contains(name));
        }
        let blank = with(&[("TABLE_NAME", "  ")]);
        assert_eq!(
            Config::from(&env(&blank)).unwrap_err(),
            ConfigError::Missing("TABLE_NAME")
        );
    }

    #[test]
    fn malformed_variables_are_named() {
        let cases: &[(&'static str, &'static str)] = &[
            ("ORDER_TTL_MINUTES", "five"),
            ("ORDER_TTL_MINUTES", "0"),
            ("ORDER_TTL_MINUTES", "1.5"),
            ("PRESIGN_SECONDS", "999999999"),
            ("SENDER_EMAIL", "not-an-email"),
            ("PUBLIC_BASE_URL", "api.example.com"),
            ("PUBLIC_BASE_URL", "http://api.example.com"),
            ("PUBLIC_BASE_URL", "https://"),
            ("PUBLIC_BASE_URL", "https://x.com/?a=b"),
            ("SHOP_URL", "http://example.com/"),
            ("SHOP_URL", "example.com"),
        ];
        for (name, value) in cases {
            let err = Config::from(&env(&with(&[(name, value)]))).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value:?} gave {err:?}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
        assert!(Config::from(&env(&with(&[("PUBLIC_BASE_URL", "http://127.0.0.1:8080")]))).is_ok());
    }

    #[test]
    fn alipay_config() {
        let good = [
            ("ALIPAY_APP_ID", "2021000000000001"),
            (
                "ALIPAY_GATEWAY_URL",
                "https://openapi.alipay.com/gateway.do",
            ),
            (
                "ALIPAY_APP_PRIVATE_KEY_PARAM",
                "/kiosk/alipay/app-private-key",
            ),
            ("ALIPAY_PUBLIC_KEY_PARAM", "/kiosk/alipay/public-key"),
            ("ALIPAY_SELLER_ID", "2088000000000001"),
        ];
        let c = AlipayConfig::from(&env(&good)).unwrap();
        assert_eq!(c.seller_id.as_deref(), Some("2088000000000001"));
        assert_eq!(c.gateway_url, "https://openapi.alipay.com/gateway.do");
        for i in 0..good.len() {
            let mut v = good.to_vec();
            let (name, _) = v.remove(i);
            assert_eq!(
                AlipayConfig::from(&env(&v)).unwrap_err(),
                ConfigError::Missing(name)
            );
        }
        for bad in ["seller", "2088", "1088000000000001", "20880000000000012"] {
            let mut v = good.to_vec();
            v.retain(|(k, _)| *k != "ALIPAY_SELLER_ID");
            v.push(("ALIPAY_SELLER_ID", bad));
            assert!(
                matches!(
                    AlipayConfig::from(&env(&v)),
                    Err(ConfigError::Invalid {
                        name: "ALIPAY_SELLER_ID",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let mut v = good.to_vec();
        v[3] = ("ALIPAY_PUBLIC_KEY_PARAM", "has space");
        assert!(matches!(
            AlipayConfig::from(&env(&v)),
            Err(ConfigError::Invalid {
                name: "ALIPAY_PUBLIC_KEY_PARAM",
                ..
            })
        ));
    }

    #[test]
    fn cors_origins_are_origins() {
        assert!(Config::from(&env(BASE)).unwrap().cors_origins.is_empty());
        let c = Config::from(&env(&with(&[(
            "CORS_ALLOWED_ORIGINS",
            " https://Books.example.net , http://127.0.0.1:8080,",
        )])))
        .unwrap();
        assert_eq!(
            c.cors_origins,
            ["https://books.example.net", "http://127.0.0.1:8080"]
        );
        for bad in [
            "*",
            "https://a.example/",
            "http://shop.example.com",
            "books.example.net",
        ] {
            assert!(
                matches!(
                    Config::from(&env(&with(&[("CORS_ALLOWED_ORIGINS", bad)]))),
                    Err(ConfigError::Invalid {
                        name: "CORS_ALLOWED_ORIGINS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_default_language_has_a_catalog() {
        assert_eq!(Config::from(&env(BASE)).unwrap().default_lang, Lang::EN);
        let c = Config::from(&env(&with(&[("DEFAULT_LANGUAGE", "zh-cn")]))).unwrap();
        assert_eq!(c.default_lang.tag(), "zh-CN");
        assert_eq!(c.checkout().default_lang.tag(), "zh-CN");
        for bad in ["fr", "zh", "en-US"] {
            assert!(
                matches!(
                    Config::from(&env(&with(&[("DEFAULT_LANGUAGE", bad)]))),
                    Err(ConfigError::Invalid {
                        name: "DEFAULT_LANGUAGE",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn embed_origins_default_to_the_shop_pages_origin() {
        let c = Config::from(&env(BASE)).unwrap();
        assert_eq!(c.embed_origins, ["https://example.com"]);
        assert_eq!(c.checkout().embed_origins, ["https://example.com"]);
        let c = Config::from(&env(&with(&[(
            "EMBED_ORIGINS",
            "https://Books.example.net:8443,https://example.org",
        )])))
        .unwrap();
        assert_eq!(
            c.embed_origins,
            ["https://books.example.net:8443", "https://example.org"]
        );
        for bad in [
            "https://a.example/x",
            "http://127.0.0.1.evil.example",
            "https://a.example:99999",
            "https://a b",
        ] {
            assert!(
                matches!(
                    Config::from(&env(&with(&[("EMBED_ORIGINS", bad)]))),
                    Err(ConfigError::Invalid {
                        name: "EMBED_ORIGINS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            origin_of("http://127.0.0.1:8081/"),
            Some("http://127.0.0.1:8081".into())
        );
        assert_eq!(
            origin_of("https://Example.com?x#y"),
            Some("https://example.com".into())
        );
    }

    #[test]
    fn channels_are_on_or_off() {
        assert_eq!(AlipayConfig::optional(&env(BASE)), Ok(None));
        assert_eq!(
            AlipayConfig::optional(&env(&with(&[("ALIPAY_APP_ID", "2021")]))).unwrap_err(),
            ConfigError::Missing("ALIPAY_SELLER_ID")
        );
        assert_eq!(StripeConfig::optional(&env(BASE)), Ok(None));
        let both = with(&[
            ("STRIPE_SECRET_KEY_PARAM", "/kiosk/stripe/secret-key"),
            (
                "STRIPE_WEBHOOK_SECRET_PARAM",
                "/kiosk/stripe/webhook-secret",
            ),
        ]);
        let c = StripeConfig::optional(&env(&both)).unwrap().unwrap();
        assert_eq!(c.api_base, STRIPE_API);
        let key_only = with(&[("STRIPE_SECRET_KEY_PARAM", "/kiosk/stripe/secret-key")]);
        assert_eq!(
            StripeConfig::optional(&env(&key_only))
                .unwrap()
                .unwrap()
                .webhook_secret_param,
            None,
            "checkout and reconcile hold the API key alone"
        );
        let hook_only = with(&[(
            "STRIPE_WEBHOOK_SECRET_PARAM",
            "/kiosk/stripe/webhook-secret",
        )]);
        assert_eq!(
            StripeConfig::optional(&env(&hook_only)).unwrap_err(),
            ConfigError::Missing("STRIPE_SECRET_KEY_PARAM")
        );
        let mut local = both.clone();
        local.push(("STRIPE_API_BASE", "http://127.0.0.1:9000/sandbox/stripe/"));
        assert_eq!(
            StripeConfig::optional(&env(&local))
                .unwrap()
                .unwrap()
                .api_base,
            "http://127.0.0.1:9000/sandbox/stripe"
        );
        assert_eq!(default_channel(&env(BASE)), Ok(None));
        assert_eq!(
            default_channel(&env(&with(&[("DEFAULT_CHANNEL", "stripe")]))),
            Ok(Some(crate::order::ChannelKind::Stripe))
        );
        assert!(matches!(
            default_channel(&env(&with(&[("DEFAULT_CHANNEL", "paypal")]))),
            Err(ConfigError::Invalid {
                name: "DEFAULT_CHANNEL",
                ..
            })
        ));
    }

    /// The author's command line reads Alipay by the functions' rules, but without the
    /// seller id, which only checks notifications; a malformed one is still refused.
    #[test]
    fn the_author_reads_alipay_by_the_same_rules_without_the_seller_id() {
        let pairs = [
            ("ALIPAY_APP_ID", "2021000000000001"),
            (
                "ALIPAY_GATEWAY_URL",
                "https://openapi.alipay.com/gateway.do",
            ),
            (
                "ALIPAY_APP_PRIVATE_KEY_PARAM",
                "/kiosk/alipay/app-private-key",
            ),
            ("ALIPAY_PUBLIC_KEY_PARAM", "/kiosk/alipay/alipay-public-key"),
        ];
        let a = AlipayConfig::optional_for_author(&env(&pairs))
            .unwrap()
            .unwrap();
        assert_eq!((a.app_id.as_str(), a.seller_id), ("2021000000000001", None));
        assert!(
            AlipayConfig::from(&env(&pairs)).is_err(),
            "the functions need it"
        );
        let bad: Vec<_> = pairs
            .iter()
            .copied()
            .chain([("ALIPAY_SELLER_ID", "12345")])
            .collect();
        assert!(AlipayConfig::optional_for_author(&env(&bad)).is_err());
        let mut wrong = pairs;
        wrong[1] = ("ALIPAY_GATEWAY_URL", "not a url");
        assert!(AlipayConfig::optional_for_author(&env(&wrong)).is_err());
        assert_eq!(AlipayConfig::optional_for_author(&env(&[])).unwrap(), None);
    }
}
