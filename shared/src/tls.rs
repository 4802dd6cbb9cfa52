//! The trust every outbound HTTPS connection uses, set up once per cold start without
//! reading the system's CA bundle.
//!
//! Parsing the system bundle (about 145 certificates) cost a function about 9.5 ms of
//! its init, and two clients (the AWS SDK's and reqwest's) each did it. Instead:
//! - the AWS SDK trusts the five Amazon Trust Services roots every AWS endpoint chains
//!   to (`shared/data/amazon-roots.pem`, compiled in; five certificates to parse);
//! - the providers' client (Alipay, Stripe) trusts Mozilla's root program compiled in
//!   as ready-made trust anchors (`webpki-roots`), so nothing is parsed at all.
//!
//! `SSL_CERT_FILE`, when set, adds its certificates to both (a private CA, such as a
//! stand-in provider behind TLS); Lambda does not set it.
//!
//! It also owns the AWS calls' timeouts ([`aws_timeouts`]): without one, an AWS answer
//! that never comes holds a function until Lambda ends it.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// Amazon Root CA 1-4 and Starfield Services Root G2, from Amazon Trust Services.
pub const AMAZON_ROOTS_PEM: &str = include_str!("../data/amazon-roots.pem");

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not set up the AWS SDK's TLS")]
    Aws(#[source] aws_smithy_http_client::HttpClientError),
    #[error("could not set up TLS for the payment providers")]
    Providers(#[source] rustls::Error),
    #[error("SSL_CERT_FILE {path}: {source}")]
    CertFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The extra certificates `SSL_CERT_FILE` names, as PEM; `None` when it is unset.
fn extra_pem() -> Result<Option<Vec<u8>>, TlsError> {
    match std::env::var("SSL_CERT_FILE") {
        Ok(path) if !path.trim().is_empty() => std::fs::read(&path)
            .map(Some)
            .map_err(|source| TlsError::CertFile { path, source }),
        _ => Ok(None),
    }
}

/// The AWS SDK's HTTPS client: rustls with aws-lc, trusting the Amazon roots.
pub fn aws_http_client() -> Result<SharedHttpClient, TlsError> {
    let mut trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
    if let Some(pem) = extra_pem()? {
        trust = trust.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(TlsError::Aws)?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// How long one attempt of a function's AWS call may wait for its answer before the
/// SDK abandons it and retries (up to its three attempts). DynamoDB, SES and SSM answer
/// the functions' calls in milliseconds; a call past this is stuck, and its retry is
/// the one that answers. The soak compresses it and injects answers slower than it.
pub const AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The SDK's timeouts with `attempt` per attempt (the connect timeout is the SDK's
/// default, 3.1 s).
pub fn aws_timeouts(attempt: std::time::Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(3100))
        .operation_attempt_timeout(attempt)
        .build()
}

/// The SDK configuration a function builds at cold start: what
/// `aws_config::load_from_env` gives (region, credentials, endpoint from the
/// environment), with [`aws_http_client`] and [`aws_timeouts`] of
/// [`AWS_ATTEMPT_TIMEOUT`].
pub async fn sdk_config() -> Result<SdkConfig, TlsError> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_http_client()?)
        .timeout_config(aws_timeouts(AWS_ATTEMPT_TIMEOUT))
        .load()
        .await)
}

/// The TLS configuration of the client that calls Alipay and Stripe.
pub fn providers_config() -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_pem()? {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
        roots.add_parsable_certificates(certs);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Providers)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{CertificateDer, pem::PemObject};

    #[test]
    fn the_amazon_roots_parse_as_five_trust_anchors() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        assert_eq!(store.add_parsable_certificates(certs), (5, 0));
    }
}
