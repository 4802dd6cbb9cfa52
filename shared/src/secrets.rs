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
    #[error("SSM parameter {name} has no value")]
    Empty { name: String },
    #[error("SSM parameter {name} does not hold a usable key")]
    Key {
        name: String,
        #[source]
        source: KeyError,
    },
}

async fn read(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String, SecretError> {
    let out = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            name: name.to_owned(),
            source: Box::new(e),
        })?;
    out.parameter()
        .and_then(|p| p.value())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| SecretError::Empty {
            name: name.to_owned(),
        })
}

/// The app's private key and Alipay's public key, named by `config`. Both are read
/// concurrently so the cold start pays one round trip, not two.
pub async fn alipay_keys(
    ssm: &aws_sdk_ssm::Client,
    config: &AlipayConfig,
) -> Result<(AppPrivateKey, AlipayPublicKey), SecretError> {
    let (private, public) = tokio::join!(
        read(ssm, &config.app_private_key_param),
        read(ssm, &config.alipay_public_key_param)
    );
    let private = AppPrivateKey::parse(&private?).map_err(|source| SecretError::Key {
        name: config.app_private_key_param.clone(),
        source,
    })?;
    let public = AlipayPublicKey::parse(&public?).map_err(|source| SecretError::Key {
        name: config.alipay_public_key_param.clone(),
        source,
    })?;
    Ok((private, public))
}
