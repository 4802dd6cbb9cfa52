//! Start-up wiring: what a function builds once at cold start -- its configuration
//! from the environment, every configured channel's secrets from SSM in one call, the
//! SDK clients -- into its handle ([`Shop`] here; [`crate::checkout::Checkout`],
//! [`crate::downloads::Downloads`] and [`crate::author::Author`] use the same
//! [`store`] and [`channels_from`]). Nothing here runs per request.

use crate::channel::{ChannelError, Channels};
use crate::config::Config;
use crate::mail::Mailer;
use crate::order::ChannelKind;
use crate::shop::Shop;
use crate::store::Store;

/// Why a function could not start. Raised at cold start, never per request.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Channels(#[from] crate::channel::ChannelsError),
    #[error(transparent)]
    Store(crate::store::StoreError),
}

/// Which payment channels a shop is set up with: each is configured or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsConfig {
    pub alipay: Option<crate::config::AlipayConfig>,
    pub stripe: Option<crate::config::StripeConfig>,
    pub wechat: Option<crate::config::WechatConfig>,
    /// `None`: the only configured one (Alipay when both are).
    pub default: Option<ChannelKind>,
}

impl ChannelsConfig {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::from(&crate::config::ProcessEnv)
    }

    pub fn from(env: &dyn crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        Ok(ChannelsConfig {
            alipay: crate::config::AlipayConfig::optional(env)?,
            stripe: crate::config::StripeConfig::optional(env)?,
            wechat: crate::config::WechatConfig::optional(env)?,
            default: crate::config::default_channel(env)?,
        })
    }

    /// The channels as the author's command line reads them: the functions' variables
    /// and rules ([`crate::config::AlipayConfig::optional_for_author`]), from whatever
    /// `env` the CLI made of the stack's outputs and its flags.
    pub fn for_author(env: &dyn crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        Ok(ChannelsConfig {
            alipay: crate::config::AlipayConfig::optional_for_author(env)?,
            stripe: crate::config::StripeConfig::optional(env)?,
            wechat: crate::config::WechatConfig::optional(env)?,
            default: None,
        })
    }
}

impl Shop {
    /// Payment-notify's handle, built once from the environment: config, every
    /// configured channel's secrets from SSM in one call, SDK clients. It is the only
    /// function that verifies Stripe webhooks, so with Stripe on it must have the signing
    /// secret's parameter (`STRIPE_WEBHOOK_SECRET_PARAM`), which no other function gets.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let config = Config::from_env()?;
        let channels = ChannelsConfig::from_env()?;
        if channels
            .stripe
            .as_ref()
            .is_some_and(|s| s.webhook_secret_param.is_none())
        {
            return Err(crate::config::ConfigError::Missing("STRIPE_WEBHOOK_SECRET_PARAM").into());
        }
        if channels
            .wechat
            .as_ref()
            .is_some_and(|w| w.apiv3_key_param.is_none())
        {
            return Err(crate::config::ConfigError::Missing("WECHAT_APIV3_KEY_PARAM").into());
        }
        Self::new(sdk, config, channels).await
    }

    pub async fn new(
        sdk: &aws_config::SdkConfig,
        config: Config,
        channels: ChannelsConfig,
    ) -> Result<Self, InitError> {
        let (channels, license_key) = channels_and_license_key(
            sdk,
            &config.public_base_url,
            &config.shop_url,
            &config.table_name,
            channels,
            config.license_key_param.as_deref(),
        )
        .await?;
        let mailer = Mailer::for_shop(crate::mail::ses_client(sdk), &config);
        let store = open_store(sdk, &config.table_name);
        let signer = match &config.license_key_param {
            Some(name) => crate::secrets::parse_signer(name, license_key)?,
            None => None,
        };
        Ok(Shop::from_parts(config, store, mailer, channels).with_license_signer(signer))
    }
}

/// The shop's table, through a DynamoDB client made from `sdk`: what each handle's
/// constructor wraps in its own view ([`crate::store::views`]); never handed out.
pub(crate) fn open_store(sdk: &aws_config::SdkConfig, table: &str) -> Store {
    Store::new(aws_sdk_dynamodb::Client::new(sdk), table)
}

/// Every configured channel, its secrets read from SSM in one call; their URLs hang off
/// `public_base_url` (notify, return) and `shop_url` (where a buyer who leaves goes), and
/// Stripe tags its objects with the shop's `table` name.
pub async fn channels_from(
    sdk: &aws_config::SdkConfig,
    public_base_url: &str,
    shop_url: &str,
    table: &str,
    channels: ChannelsConfig,
) -> Result<Channels, InitError> {
    Ok(
        channels_and_license_key(sdk, public_base_url, shop_url, table, channels, None)
            .await?
            .0,
    )
}

/// [`channels_from`], and the value of the license signing key's parameter `license`
/// (when it exists) from the same `GetParameters` call.
pub async fn channels_and_license_key(
    sdk: &aws_config::SdkConfig,
    public_base_url: &str,
    shop_url: &str,
    table: &str,
    channels: ChannelsConfig,
    license: Option<&str>,
) -> Result<(Channels, Option<String>), InitError> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let secrets = crate::secrets::channel_secrets(
        &ssm,
        channels.alipay.as_ref(),
        channels.stripe.as_ref(),
        channels.wechat.as_ref(),
        license,
    )
    .await?;
    let http = crate::channel::http_client()?;
    let alipay = match (channels.alipay, secrets.alipay) {
        (Some(c), Some((app_key, alipay_key))) => {
            let urls = crate::channel::AlipayUrls::under(public_base_url, shop_url);
            Some(crate::channel::AlipayChannel::new(
                c,
                urls,
                app_key,
                alipay_key,
                http.clone(),
            ))
        }
        _ => None,
    };
    let stripe = match (channels.stripe, secrets.stripe) {
        (Some(c), Some(keys)) => Some(crate::channel::StripeChannel::new(
            &c.api_base,
            public_base_url,
            shop_url,
            table,
            keys,
            http.clone(),
        )),
        _ => None,
    };
    let wechat = match (channels.wechat, secrets.wechat) {
        (Some(c), Some(keys)) => Some(crate::channel::WechatChannel::new(
            c,
            crate::channel::WechatUrls::under(public_base_url),
            keys,
            http,
        )),
        _ => None,
    };
    Ok((
        Channels::new(alipay, stripe, wechat, channels.default)?,
        secrets.license,
    ))
}
