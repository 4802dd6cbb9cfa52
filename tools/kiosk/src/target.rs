//! Which shop the command manages: a deployed stack (`--stack NAME`, read from its
//! CloudFormation Outputs), the `make dev` shop on this machine (`--local`), or explicit
//! flags and environment variables, which override both.
//!
//! Over 400 lines: three ways to point at a shop and their precedence, with the errors
//! that name what is missing; mostly tests.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use kiosk::author::{Author, AuthorSettings, Missing};
use kiosk::shop::Shop;
use kiosk::startup::ChannelsConfig;
use kiosk::{Config, Sender};
use serde::{Deserialize, Serialize};

/// Where `make dev` writes the address of its emulator and the names it created.
pub const LOCAL_STACK_FILE: &str = ".local/stack.json";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Manage this deployed stack: its table, bucket, API URL and sender address are read
    /// from the stack's Outputs through CloudFormation (your usual AWS credentials).
    #[arg(long, global = true, env = "KIOSK_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// Manage the `make dev` shop running on this machine (reads .local/stack.json).
    #[arg(long, global = true, conflicts_with = "stack")]
    pub local: bool,
    /// DynamoDB table (overrides the stack's TableName).
    #[arg(long, global = true, env = "KIOSK_TABLE", value_name = "NAME")]
    pub table: Option<String>,
    /// S3 bucket for product files (overrides the stack's FilesBucket).
    #[arg(long, global = true, env = "KIOSK_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
    /// Base URL download links start with (overrides the stack's ApiUrl).
    #[arg(long, global = true, env = "KIOSK_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// Address mails come from, verified in SES (overrides the stack's SenderEmail).
    #[arg(long, global = true, env = "KIOSK_SENDER", value_name = "EMAIL")]
    pub sender: Option<String>,
    /// The shop's default language, for mails about orders that recorded none (overrides
    /// the stack's DefaultLanguage; `en` or `zh-CN`).
    #[arg(
        long,
        global = true,
        env = "KIOSK_DEFAULT_LANGUAGE",
        value_name = "TAG"
    )]
    pub default_language: Option<String>,
    /// SSM parameter holding the license signing key (overrides the stack's
    /// LicenseKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_LICENSE_KEY_PARAM",
        value_name = "NAME"
    )]
    pub license_key_param: Option<String>,
    #[command(flatten)]
    pub alipay: AlipaySettings,
    #[command(flatten)]
    pub stripe: StripeSettings,
    #[command(flatten)]
    pub wechat: WechatSettings,
}

/// Each setting given in `theirs` (flags, variables) replaces ours.
fn given_win<const N: usize>(pairs: [(&Option<String>, &mut Option<String>); N]) {
    for (theirs, ours) in pairs {
        if theirs.is_some() {
            ours.clone_from(theirs);
        }
    }
}

/// What `refund` and `reconcile` need to talk to WeChat Pay as the functions do (the
/// merchant's ids and the names of its key parameters, never keys; the APIv3 key is
/// never read: only the deployed payment-notify function decrypts notifications).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct WechatSettings {
    /// WeChat Pay merchant id (overrides the stack's WechatMchId).
    #[arg(long, global = true, env = "KIOSK_WECHAT_MCHID", value_name = "ID")]
    pub wechat_mchid: Option<String>,
    /// The app id bound to the merchant (overrides WechatAppId).
    #[arg(long, global = true, env = "KIOSK_WECHAT_APPID", value_name = "ID")]
    pub wechat_appid: Option<String>,
    /// The merchant certificate's serial number (overrides WechatMerchantSerialNo).
    #[arg(
        long,
        global = true,
        env = "KIOSK_WECHAT_MERCHANT_SERIAL_NO",
        value_name = "HEX"
    )]
    pub wechat_merchant_serial_no: Option<String>,
    /// WeChat Pay's public key id (overrides WechatPublicKeyId).
    #[arg(
        long,
        global = true,
        env = "KIOSK_WECHAT_PUBLIC_KEY_ID",
        value_name = "ID"
    )]
    pub wechat_public_key_id: Option<String>,
    /// SSM parameter holding the merchant's API private key (overrides WechatMerchantKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_WECHAT_MERCHANT_KEY_PARAM",
        value_name = "NAME"
    )]
    pub wechat_merchant_key_param: Option<String>,
    /// SSM parameter holding WeChat Pay's public key (overrides WechatPublicKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_WECHAT_PUBLIC_KEY_PARAM",
        value_name = "NAME"
    )]
    pub wechat_public_key_param: Option<String>,
    /// WeChat Pay's API (default https://api.mch.weixin.qq.com; `make dev` names its stand-in).
    #[arg(long, global = true, env = "KIOSK_WECHAT_API_BASE", value_name = "URL")]
    pub wechat_api_base: Option<String>,
}

impl WechatSettings {
    fn complete(&self) -> bool {
        self.wechat_mchid.is_some()
    }

    fn override_with(&mut self, other: &WechatSettings) {
        given_win([
            (&other.wechat_mchid, &mut self.wechat_mchid),
            (&other.wechat_appid, &mut self.wechat_appid),
            (
                &other.wechat_merchant_serial_no,
                &mut self.wechat_merchant_serial_no,
            ),
            (&other.wechat_public_key_id, &mut self.wechat_public_key_id),
            (
                &other.wechat_merchant_key_param,
                &mut self.wechat_merchant_key_param,
            ),
            (
                &other.wechat_public_key_param,
                &mut self.wechat_public_key_param,
            ),
            (&other.wechat_api_base, &mut self.wechat_api_base),
        ]);
    }
}

/// What `refund` and `reconcile` need to talk to Stripe as the functions do (names of
/// the SSM parameters, never keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct StripeSettings {
    /// SSM parameter holding the Stripe secret key (overrides StripeSecretKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_STRIPE_SECRET_KEY_PARAM",
        value_name = "NAME"
    )]
    pub stripe_secret_key_param: Option<String>,
    /// SSM parameter holding the webhook signing secret. Never read: only the deployed
    /// payment-notify function verifies webhooks; accepted so older scripts still run.
    #[arg(
        long,
        global = true,
        env = "KIOSK_STRIPE_WEBHOOK_SECRET_PARAM",
        value_name = "NAME"
    )]
    pub stripe_webhook_secret_param: Option<String>,
    /// Stripe's API (default https://api.stripe.com; `make dev` names its stand-in).
    #[arg(long, global = true, env = "KIOSK_STRIPE_API_BASE", value_name = "URL")]
    pub stripe_api_base: Option<String>,
}

impl StripeSettings {
    fn complete(&self) -> bool {
        // The API key alone: the CLI never verifies webhooks, so it never reads the
        // signing secret (least privilege, as for checkout and reconcile).
        self.stripe_secret_key_param.is_some()
    }

    fn override_with(&mut self, other: &StripeSettings) {
        given_win([
            (
                &other.stripe_secret_key_param,
                &mut self.stripe_secret_key_param,
            ),
            (
                &other.stripe_webhook_secret_param,
                &mut self.stripe_webhook_secret_param,
            ),
            (&other.stripe_api_base, &mut self.stripe_api_base),
        ]);
    }
}

/// What `refund` and `reconcile` need to talk to Alipay as the functions do (names of the
/// key parameters, never keys). Any may be missing; flags and variables override what
/// the stack or `make dev` gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct AlipaySettings {
    /// Alipay app id, for refunds and reconcile (overrides the stack's AlipayAppId).
    #[arg(long, global = true, env = "KIOSK_ALIPAY_APP_ID", value_name = "ID")]
    pub alipay_app_id: Option<String>,
    /// Alipay gateway (overrides the stack's AlipayGatewayUrl).
    #[arg(
        long,
        global = true,
        env = "KIOSK_ALIPAY_GATEWAY_URL",
        value_name = "URL"
    )]
    pub alipay_gateway_url: Option<String>,
    /// SSM parameter holding the app private key (overrides AlipayAppPrivateKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_ALIPAY_PRIVATE_KEY_PARAM",
        value_name = "NAME"
    )]
    pub alipay_private_key_param: Option<String>,
    /// SSM parameter holding Alipay's public key (overrides AlipayPublicKeyParam).
    #[arg(
        long,
        global = true,
        env = "KIOSK_ALIPAY_PUBLIC_KEY_PARAM",
        value_name = "NAME"
    )]
    pub alipay_public_key_param: Option<String>,
}

impl AlipaySettings {
    fn complete(&self) -> bool {
        self.alipay_app_id.is_some()
            && self.alipay_gateway_url.is_some()
            && self.alipay_private_key_param.is_some()
            && self.alipay_public_key_param.is_some()
    }

    /// Take every setting `other` has.
    fn override_with(&mut self, other: &AlipaySettings) {
        given_win([
            (&other.alipay_app_id, &mut self.alipay_app_id),
            (&other.alipay_gateway_url, &mut self.alipay_gateway_url),
            (
                &other.alipay_private_key_param,
                &mut self.alipay_private_key_param,
            ),
            (
                &other.alipay_public_key_param,
                &mut self.alipay_public_key_param,
            ),
        ]);
    }
}

/// What `make dev` leaves in `.local/stack.json` while it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalStack {
    pub endpoint: String,
    pub region: String,
    pub table: String,
    pub bucket: String,
    pub api_url: String,
    pub sender: String,
    /// The SES configuration set the local shop mails with (its bounces reach the
    /// mailbox's bounce button).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_configuration_set: Option<String>,
    /// The local shop's default language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    /// The SSM parameter holding the local shop's license signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key_param: Option<String>,
    #[serde(flatten)]
    pub alipay: AlipaySettings,
    #[serde(flatten)]
    pub stripe: StripeSettings,
    #[serde(flatten)]
    pub wechat: WechatSettings,
}

/// The resolved shop: an SDK configuration and the names of its parts. A part that
/// nothing named is an error only when a command needs it.
#[derive(Debug, Clone)]
pub struct Target {
    pub sdk: SdkConfig,
    pub table: Option<String>,
    pub bucket: Option<String>,
    pub api_url: Option<String>,
    pub sender: Option<String>,
    /// The stack's `SupportEmail` output (empty: none).
    pub support: Option<String>,
    /// The stack's `MailConfigurationSet` output, or the local shop's.
    pub mail_configuration_set: Option<String>,
    /// The stack's `DefaultLanguage` output, the local shop's, or `--default-language`.
    pub default_language: Option<String>,
    /// The stack's `LicenseKeyParam` output, the local shop's, or `--license-key-param`.
    pub license_key_param: Option<String>,
    pub alipay: AlipaySettings,
    pub stripe: StripeSettings,
    pub wechat: WechatSettings,
}

/// What to tell an author when a library workflow needed a part nobody named.
pub fn explain(m: Missing) -> anyhow::Error {
    match m {
        Missing::Bucket => missing("files bucket", "--bucket", "KIOSK_BUCKET", "FilesBucket"),
        Missing::Sender => missing("sender address", "--sender", "KIOSK_SENDER", "SenderEmail"),
        Missing::ApiUrl => missing("API URL", "--api-url", "KIOSK_API_URL", "ApiUrl"),
    }
}

fn missing(what: &str, flag: &str, env: &str, output: &str) -> anyhow::Error {
    anyhow!(
        "no {what} given: pass {flag} (or set {env}), or name the shop with --stack NAME \
         (its {output} output) or --local"
    )
}

impl Target {
    pub fn table(&self) -> Result<&str> {
        self.table
            .as_deref()
            .ok_or_else(|| missing("table", "--table", "KIOSK_TABLE", "TableName"))
    }
    pub fn bucket(&self) -> Result<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| missing("files bucket", "--bucket", "KIOSK_BUCKET", "FilesBucket"))
    }
    pub fn api_url(&self) -> Result<&str> {
        self.api_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .ok_or_else(|| missing("API URL", "--api-url", "KIOSK_API_URL", "ApiUrl"))
    }
    /// The From address, exactly as the stack's `SenderEmail` (the IAM condition compares
    /// that text).
    pub fn sender(&self) -> Result<Sender> {
        let raw = self
            .sender
            .as_deref()
            .ok_or_else(|| missing("sender address", "--sender", "KIOSK_SENDER", "SenderEmail"))?;
        Sender::parse(raw).map_err(|e| anyhow!("sender address: {e}"))
    }

    /// The support address the stack names, if any.
    pub fn support(&self) -> Result<Option<Sender>> {
        self.support
            .as_deref()
            .map(|raw| Sender::parse(raw).map_err(|e| anyhow!("support address: {e}")))
            .transpose()
    }

    /// The shop's default language (English when nothing names one).
    pub fn default_lang(&self) -> Result<kiosk::i18n::Lang> {
        match self.default_language.as_deref().map(str::trim) {
            None | Some("") => Ok(kiosk::i18n::Lang::EN),
            Some(tag) => kiosk::i18n::Lang::parse(tag)
                .ok_or_else(|| anyhow!("default language {tag:?}: use en or zh-CN")),
        }
    }

    /// The author's handle on the shop (the library's one wiring function): the table is
    /// required, the other parts only by the commands that use them.
    pub fn author(&self) -> Result<Author> {
        let sender = match &self.sender {
            Some(_) => Some(self.sender()?),
            None => None,
        };
        Ok(Author::new(
            &self.sdk,
            AuthorSettings {
                table: self.table()?.to_owned(),
                bucket: self.bucket.clone(),
                sender,
                public_base_url: self.api_url.clone(),
                support: self.support()?,
                mail_configuration_set: self.mail_configuration_set.clone(),
                default_lang: self.default_lang()?,
            },
        ))
    }

    /// Whether some payment channel's settings are all known (commands that can do
    /// without say so).
    pub fn has_channel(&self) -> bool {
        self.alipay.complete() || self.stripe.complete() || self.wechat.complete()
    }

    /// The settings the CLI shares with the functions (the defaults for the rest).
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::new(
            self.table()?,
            self.bucket().unwrap_or_default(),
            self.sender()?,
            self.api_url()?,
            // Only where a buyer goes back from a payment page; the CLI starts none.
            format!("{}/", self.api_url()?),
        );
        config.support_email = self.support()?;
        config.mail_configuration_set = self.mail_configuration_set.clone();
        config.default_lang = self.default_lang()?;
        config.license_key_param = self.license_key_param.clone();
        Ok(config)
    }

    /// The shop as the functions build it: config, every channel whose settings are
    /// known with its keys from SSM, clients. The channels' settings are read by the
    /// library's own parser (`ChannelsConfig::for_author`, the functions' variables and
    /// rules), from the stack's outputs and the flags under the functions' names.
    pub async fn shop(&self) -> Result<Shop> {
        let config = self.config()?;
        if !self.has_channel() {
            bail!(
                "no payment channel settings: name the shop with --stack NAME or --local, or pass --alipay-*, --stripe-* or --wechat-* flags"
            );
        }
        let alipay = self.alipay.complete().then_some(&self.alipay);
        let stripe = self.stripe.complete().then_some(&self.stripe);
        let wechat = self.wechat.complete().then_some(&self.wechat);
        let env = |name: &str| -> Option<String> {
            match name {
                "ALIPAY_APP_ID" => alipay?.alipay_app_id.clone(),
                "ALIPAY_GATEWAY_URL" => alipay?.alipay_gateway_url.clone(),
                "ALIPAY_APP_PRIVATE_KEY_PARAM" => alipay?.alipay_private_key_param.clone(),
                "ALIPAY_PUBLIC_KEY_PARAM" => alipay?.alipay_public_key_param.clone(),
                "STRIPE_SECRET_KEY_PARAM" => stripe?.stripe_secret_key_param.clone(),
                "STRIPE_API_BASE" => stripe?.stripe_api_base.clone(),
                "WECHAT_MCHID" => wechat?.wechat_mchid.clone(),
                "WECHAT_APPID" => wechat?.wechat_appid.clone(),
                "WECHAT_MERCHANT_SERIAL_NO" => wechat?.wechat_merchant_serial_no.clone(),
                "WECHAT_PUBLIC_KEY_ID" => wechat?.wechat_public_key_id.clone(),
                "WECHAT_MERCHANT_KEY_PARAM" => wechat?.wechat_merchant_key_param.clone(),
                "WECHAT_PUBLIC_KEY_PARAM" => wechat?.wechat_public_key_param.clone(),
                "WECHAT_API_BASE" => wechat?.wechat_api_base.clone(),
                _ => None,
            }
        };
        let channels = ChannelsConfig::for_author(&env)
            .map_err(|e| anyhow!("the payment channels' settings: {e}"))?;
        Shop::new(&self.sdk, config, channels)
            .await
            .map_err(|e| anyhow!("could not set up the payment channels: {e}"))
    }
}

/// Find `.local/stack.json` in the current directory or one of its parents.
fn find_local_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(LOCAL_STACK_FILE))
        .find(|p| p.is_file())
}

pub fn read_local(start: &Path) -> Result<LocalStack> {
    let path = find_local_file(start).ok_or_else(|| {
        anyhow!(
            "--local: no {LOCAL_STACK_FILE} here or in a parent directory; start the local \
             shop with `make dev` in the repository first"
        )
    })?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--local: reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("--local: {} is malformed", path.display()))
}

/// The stack's Outputs, by key.
async fn stack_outputs(
    sdk: &SdkConfig,
    name: &str,
) -> Result<std::collections::HashMap<String, String>> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "--stack {name}: CloudFormation could not describe the stack ({}); check the \
                 name, the region (AWS_REGION) and your AWS credentials",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        })?;
    let stack = out
        .stacks()
        .first()
        .ok_or_else(|| anyhow!("--stack {name}: no such stack"))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

pub async fn resolve(args: &TargetArgs) -> Result<Target> {
    let mut target = if args.local {
        let cwd = std::env::current_dir()?;
        let local = read_local(&cwd)?;
        if !(local.endpoint.starts_with("http://127.0.0.1:")
            || local.endpoint.starts_with("http://localhost:"))
        {
            bail!(
                "--local: {LOCAL_STACK_FILE} names {} as the emulator, which is not on this machine",
                local.endpoint
            );
        }
        // The emulator accepts any credentials; fixed ones keep real ones out of it.
        let creds =
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "kiosk-local");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&local.endpoint)
            .region(Region::new(local.region.clone()))
            .credentials_provider(creds)
            .load()
            .await;
        Target {
            sdk,
            table: Some(local.table),
            bucket: Some(local.bucket),
            api_url: Some(local.api_url),
            sender: Some(local.sender),
            support: None,
            mail_configuration_set: local.mail_configuration_set,
            default_language: local.default_language,
            license_key_param: local.license_key_param,
            alipay: local.alipay,
            stripe: local.stripe,
            wechat: local.wechat,
        }
    } else {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut t = Target {
            sdk,
            table: None,
            bucket: None,
            api_url: None,
            sender: None,
            support: None,
            mail_configuration_set: None,
            default_language: None,
            license_key_param: None,
            alipay: AlipaySettings::default(),
            stripe: StripeSettings::default(),
            wechat: WechatSettings::default(),
        };
        if let Some(name) = &args.stack {
            let mut outputs = stack_outputs(&t.sdk, name).await?;
            t.table = outputs.remove("TableName");
            t.bucket = outputs.remove("FilesBucket");
            t.api_url = outputs.remove("ApiUrl");
            t.sender = outputs.remove("SenderEmail");
            t.support = outputs
                .remove("SupportEmail")
                .filter(|s| !s.trim().is_empty());
            t.mail_configuration_set = outputs.remove("MailConfigurationSet");
            t.default_language = outputs.remove("DefaultLanguage");
            t.license_key_param = outputs.remove("LicenseKeyParam");
            t.alipay = AlipaySettings {
                alipay_app_id: outputs.remove("AlipayAppId"),
                alipay_gateway_url: outputs.remove("AlipayGatewayUrl"),
                alipay_private_key_param: outputs.remove("AlipayAppPrivateKeyParam"),
                alipay_public_key_param: outputs.remove("AlipayPublicKeyParam"),
            };
            t.stripe = StripeSettings {
                stripe_secret_key_param: outputs.remove("StripeSecretKeyParam"),
                stripe_webhook_secret_param: outputs.remove("StripeWebhookSecretParam"),
                stripe_api_base: None,
            };
            t.wechat = WechatSettings {
                wechat_mchid: outputs.remove("WechatMchId"),
                wechat_appid: outputs.remove("WechatAppId"),
                wechat_merchant_serial_no: outputs.remove("WechatMerchantSerialNo"),
                wechat_public_key_id: outputs.remove("WechatPublicKeyId"),
                wechat_merchant_key_param: outputs.remove("WechatMerchantKeyParam"),
                wechat_public_key_param: outputs.remove("WechatPublicKeyParam"),
                wechat_api_base: outputs.remove("WechatApiBase"),
            };
            // A channel the stack has switched off comes out as an empty output.
            for v in [
                &mut t.wechat.wechat_mchid,
                &mut t.alipay.alipay_app_id,
                &mut t.stripe.stripe_secret_key_param,
                &mut t.stripe.stripe_webhook_secret_param,
            ] {
                if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    *v = None;
                }
            }
        }
        t
    };
    // Explicit flags and environment variables win.
    if args.table.is_some() {
        target.table = args.table.clone();
    }
    if args.bucket.is_some() {
        target.bucket = args.bucket.clone();
    }
    if args.api_url.is_some() {
        target.api_url = args.api_url.clone();
    }
    if args.sender.is_some() {
        target.sender = args.sender.clone();
    }
    if args.default_language.is_some() {
        target.default_language = args.default_language.clone();
    }
    if args.license_key_param.is_some() {
        target.license_key_param = args.license_key_param.clone();
    }
    target.alipay.override_with(&args.alipay);
    target.stripe.override_with(&args.stripe);
    target.wechat.override_with(&args.wechat);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_file_is_found_from_a_subdirectory_and_parsed() {
        let root = std::env::temp_dir().join(format!("kiosk-local-{}", std::process::id()));
        let sub = root.join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert!(read_local(&sub).is_err(), "nothing there yet");
        std::fs::create_dir_all(root.join(".local")).unwrap();
        let stack = LocalStack {
            endpoint: "http://127.0.0.1:5000".into(),
            region: "us-east-1".into(),
            table: "t".into(),
            bucket: "b".into(),
            api_url: "http://127.0.0.1:8080".into(),
            sender: "shop@example.com".into(),
            mail_configuration_set: Some("kiosk-local-mail".into()),
            default_language: Some("zh-CN".into()),
            license_key_param: Some("/kiosk-local/license/signing-key".into()),
            alipay: AlipaySettings {
                alipay_app_id: Some("2021000000000001".into()),
                ..AlipaySettings::default()
            },
            stripe: StripeSettings {
                stripe_api_base: Some("http://127.0.0.1:8080/sandbox/stripe".into()),
                ..StripeSettings::default()
            },
            wechat: WechatSettings {
                wechat_mchid: Some("1900000109".into()),
                ..WechatSettings::default()
            },
        };
        std::fs::write(
            root.join(LOCAL_STACK_FILE),
            serde_json::to_string(&stack).unwrap(),
        )
        .unwrap();
        assert_eq!(read_local(&sub).unwrap(), stack);
        std::fs::write(root.join(LOCAL_STACK_FILE), "{").unwrap();
        let err = read_local(&sub).unwrap_err().to_string();
        assert!(err.contains("malformed"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
