//! Secrets from SSM Parameter Store, read once per cold start (docs/architecture.md,
//! "Configuration contract"): never from the repository, the template or environment
//! variables.

use crate::alipay::{AlipayPublicKey, AppPrivateKey};
use crate::channel::{StripeKeys, WechatKeys};
use crate::config::{AlipayConfig, StripeConfig, WechatConfig};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read SSM parameter {name}")]
    Read {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("SSM parameter {name} does not exist or has no value")]
    Empty { name: String },
    #[error("SSM parameter {name} does not hold a usable key")]
    Key {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Every parameter in `names`, decrypted, in one `GetParameters` call: one round trip
/// (and in AWS one TLS handshake) at cold start however many secrets a function needs.
/// Values come back in the order of `names`.
pub async fn read_all(
    ssm: &aws_sdk_ssm::Client,
    names: &[&str],
) -> Result<Vec<String>, SecretError> {
    read_some(ssm, names)
        .await?
        .into_iter()
        .zip(names)
        .map(|(value, name)| {
            value.ok_or_else(|| SecretError::Empty {
                name: (*name).to_owned(),
            })
        })
        .collect()
}

/// Like [`read_all`], with `None` for a parameter that does not exist or is empty.
async fn read_some(
    ssm: &aws_sdk_ssm::Client,
    names: &[&str],
) -> Result<Vec<Option<String>>, SecretError> {
    let out = ssm
        .get_parameters()
        .set_names(Some(names.iter().map(|n| (*n).to_owned()).collect()))
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            name: names.join(", "),
            source: Box::new(e),
        })?;
    Ok(names
        .iter()
        .map(|name| {
            out.parameters()
                .iter()
                .find(|p| p.name() == Some(*name))
                .and_then(|p| p.value())
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        })
        .collect())
}

/// The shop's license signing key from parameter `param`, alone (the license function,
/// which reads no channel's secrets). `None` when `param` is `None` or does not exist yet
/// (`kiosk license keygen` makes it).
pub async fn license_signer(
    ssm: &aws_sdk_ssm::Client,
    param: Option<&str>,
) -> Result<Option<crate::license::LicenseSigner>, SecretError> {
    let Some(name) = param else {
        return Ok(None);
    };
    let value = read_some(ssm, &[name]).await?.pop().flatten();
    parse_signer(name, value)
}

/// The license signing key in parameter `name`'s `value` (`None`: no such parameter).
/// Only the handles that sign call this, so the other functions' binaries do not link
/// Ed25519.
pub fn parse_signer(
    name: &str,
    value: Option<String>,
) -> Result<Option<crate::license::LicenseSigner>, SecretError> {
    value
        .map(|v| {
            crate::license::LicenseSigner::parse(&v).map_err(|e| SecretError::Key {
                name: name.to_owned(),
                source: Box::new(e),
            })
        })
        .transpose()
}

/// Every configured channel's secrets, parsed.
pub struct ChannelSecrets {
    pub alipay: Option<(AppPrivateKey, AlipayPublicKey)>,
    pub stripe: Option<StripeKeys>,
    pub wechat: Option<WechatKeys>,
    /// The license signing key's parameter value, when asked for and it exists (parsed by
    /// [`parse_signer`] where a handle signs).
    pub license: Option<String>,
}

/// The secrets of every configured channel, and the license signing key from `license`
/// when it exists, in one `GetParameters` call: a second channel adds no round trip to a
/// cold start.
pub async fn channel_secrets(
    ssm: &aws_sdk_ssm::Client,
    alipay: Option<&AlipayConfig>,
    stripe: Option<&StripeConfig>,
    wechat: Option<&WechatConfig>,
    license: Option<&str>,
) -> Result<ChannelSecrets, SecretError> {
    let mut names: Vec<&str> = Vec::new();
    if let Some(c) = alipay {
        names.extend([
            c.app_private_key_param.as_str(),
            c.alipay_public_key_param.as_str(),
        ]);
    }
    if let Some(c) = stripe {
        names.push(c.secret_key_param.as_str());
        names.extend(c.webhook_secret_param.as_deref());
    }
    if let Some(c) = wechat {
        names.extend([c.merchant_key_param.as_str(), c.public_key_param.as_str()]);
        names.extend(c.apiv3_key_param.as_deref());
    }
    let channel_names = names.len();
    names.extend(license);
    if names.is_empty() {
        return Ok(ChannelSecrets {
            alipay: None,
            stripe: None,
            wechat: None,
            license: None,
        });
    }
    let mut values = read_some(ssm, &names).await?;
    let license = match license {
        Some(_) => values.pop().flatten(),
        None => None,
    };
    if let Some(i) = values.iter().position(Option::is_none) {
        return Err(SecretError::Empty {
            name: names[i].to_owned(),
        });
    }
    debug_assert_eq!(values.len(), channel_names);
    let mut values = values.into_iter().flatten();
    let mut next = || values.next().unwrap_or_default();
    let alipay = match alipay {
        Some(c) => {
            let (private, public) = (next(), next());
            let private = AppPrivateKey::parse(&private).map_err(|source| SecretError::Key {
                name: c.app_private_key_param.clone(),
                source: Box::new(source),
            })?;
            let public = AlipayPublicKey::parse(&public).map_err(|source| SecretError::Key {
                name: c.alipay_public_key_param.clone(),
                source: Box::new(source),
            })?;
            Some((private, public))
        }
        None => None,
    };
    let stripe = match stripe {
        Some(c) => {
            let key = next();
            let hook = c.webhook_secret_param.as_ref().map(|_| next());
            Some(
                StripeKeys::parse(&key, hook.as_deref()).map_err(|why| SecretError::Key {
                    name: match &c.webhook_secret_param {
                        Some(h) => format!("{} / {h}", c.secret_key_param),
                        None => c.secret_key_param.clone(),
                    },
                    source: Box::new(why),
                })?,
            )
        }
        None => None,
    };
    let wechat = match wechat {
        Some(c) => {
            let key =
                |name: &str, source: Box<dyn std::error::Error + Send + Sync>| SecretError::Key {
                    name: name.to_owned(),
                    source,
                };
            let (private, public) = (next(), next());
            let apiv3 = c.apiv3_key_param.as_ref().map(|_| next());
            Some(WechatKeys {
                merchant_key: crate::rsa::SigningKey::parse(&private)
                    .map_err(|e| key(&c.merchant_key_param, Box::new(e)))?,
                wechatpay_key: crate::rsa::VerifyingKey::parse(&public)
                    .map_err(|e| key(&c.public_key_param, Box::new(e)))?,
                apiv3_key: match (&c.apiv3_key_param, apiv3) {
                    (Some(name), Some(text)) => Some(
                        crate::wechat::ApiV3Key::parse(&text)
                            .map_err(|e| key(name, Box::new(e)))?,
                    ),
                    _ => None,
                },
            })
        }
        None => None,
    };
    Ok(ChannelSecrets {
        alipay,
        stripe,
        wechat,
        license,
    })
}
