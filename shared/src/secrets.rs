//! Secrets from SSM Parameter Store, read once per cold start (docs/architecture.md,
//! "Configuration contract"): never from the repository, the template or environment
//! variables.

use crate::alipay::{AlipayPublicKey, AppPrivateKey, KeyError};
use crate::config::AlipayConfig;

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
        source: KeyError,
    },
}

/// Every parameter in `names`, decrypted, in one `GetParameters` call: one round trip
/// (and in AWS one TLS handshake) at cold start however many secrets a function needs.
/// Values come back in the order of `names`.
pub async fn read_all(
    ssm: &aws_sdk_ssm::Client,
    names: &[&str],
) -> Result<Vec<String>, SecretError> {
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
    names
        .iter()
        .map(|name| {
            out.parameters()
                .iter()
                .find(|p| p.name() == Some(*name))
                .and_then(|p| p.value())
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
                .ok_or_else(|| SecretError::Empty {
                    name: (*name).to_owned(),
                })
        })
        .collect()
}

/// The app's private key and Alipay's public key, named by `config`.
pub async fn alipay_keys(
    ssm: &aws_sdk_ssm::Client,
    config: &AlipayConfig,
) -> Result<(AppPrivateKey, AlipayPublicKey), SecretError> {
    let names = [
        config.app_private_key_param.as_str(),
        config.alipay_public_key_param.as_str(),
    ];
    let [private, public]: [String; 2] =
        read_all(ssm, &names)
            .await?
            .try_into()
            .map_err(|_| SecretError::Empty {
                name: names.join(", "),
            })?;
    let private = AppPrivateKey::parse(&private).map_err(|source| SecretError::Key {
        name: config.app_private_key_param.clone(),
        source,
    })?;
    let public = AlipayPublicKey::parse(&public).map_err(|source| SecretError::Key {
        name: config.alipay_public_key_param.clone(),
        source,
    })?;
    Ok((private, public))
}
