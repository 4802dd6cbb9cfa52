//! The license function's handle ([`Licenses`]): the online check of a short key
//! (`POST /license/verify`: its seats, activations and refund, under per-network and
//! shop-wide allowances) and the signed revocation list (`GET /license/revoked`). What a
//! license is, and how it is issued and signed, is [`crate::license`]'s.

use time::{Duration, OffsetDateTime};

use crate::license::{Activation, LicenseKey, LicenseRecord, LicenseSigner};
use crate::net::{Network, NetworkCounter};
use crate::store::StoreError;
use crate::store::views::LicenseStore;

/// Why a check was not answered.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Over a per-network or the shop-wide allowance: one answer for all.
    #[error("too many license checks; try again later")]
    TooMany,
    #[error("this shop has no license signing key")]
    NoSigner,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks one network may make per hour (an office of a program's users checking at
/// start-up stays far below; a script does not).
pub const CHECKS_PER_NETWORK_HOUR: u32 = 300;
/// Checks of keys that do not exist (or cannot) one network may make per hour.
pub const MISSES_PER_NETWORK_HOUR: u32 = 20;
/// Checks the whole shop answers per hour, whatever the networks: what caps the bill of
/// a script spread over many.
pub const CHECKS_PER_SHOP_HOUR: u32 = 20_000;
const WINDOW: Duration = Duration::hours(1);

/// What `POST /license/verify` answers about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Unknown, or not a key at all: one answer for both.
    Unknown,
    Known {
        record: LicenseRecord,
        /// Asked to count an activation: whether it was counted (`false`: every seat is
        /// taken, or the order was refunded).
        activated: Option<bool>,
    },
}

/// The license function's handle: the online check and the revocation list.
pub struct Licenses {
    store: LicenseStore,
    signer: Option<LicenseSigner>,
}

impl Licenses {
    pub fn new(store: crate::store::Store, signer: Option<LicenseSigner>) -> Licenses {
        Licenses {
            store: LicenseStore::of(store),
            signer,
        }
    }

    /// Built once at cold start: the table names from the environment, the signing key
    /// from SSM (`LICENSE_KEY_PARAM`, one `GetParameters` call).
    pub async fn from_env(
        sdk: &aws_config::SdkConfig,
    ) -> Result<Licenses, crate::startup::InitError> {
        let env = crate::config::ProcessEnv;
        let table = crate::config::required(&env, "TABLE_NAME")?;
        let param = crate::config::required(&env, "LICENSE_KEY_PARAM")?;
        Licenses::open(sdk, &table, Some(&param)).await
    }

    /// The handle on `table`, the signing key read from SSM parameter `param` (if it
    /// exists yet).
    pub async fn open(
        sdk: &aws_config::SdkConfig,
        table: &str,
        param: Option<&str>,
    ) -> Result<Licenses, crate::startup::InitError> {
        let ssm = aws_sdk_ssm::Client::new(sdk);
        let signer = crate::secrets::license_signer(&ssm, param).await?;
        Ok(Licenses::new(
            crate::startup::open_store(sdk, table),
            signer,
        ))
    }

    /// The check of `key` (as typed) from `network`; with `activate`, count one
    /// activation if a seat is free. Over an allowance: [`CheckError::TooMany`].
    pub async fn verify(
        &self,
        key: &str,
        activate: bool,
        network: &Network,
        now: OffsetDateTime,
    ) -> Result<Verdict, CheckError> {
        let tag = self.store.network_tag(network, now).await?;
        let s = &self.store;
        // The three counts at once (one round trip): the network's checks, the shop's,
        // and a miss counted in advance, given back when the key is found, so a network
        // over its misses cannot look up even a good key (it is guessing).
        // Each on the heap: three SDK calls side by side inline make a future too big
        // for a test thread's stack in a debug build.
        let (network_ok, shop_ok, misses_ok) = tokio::try_join!(
            Box::pin(s.count_from_network(
                NetworkCounter::License,
                &tag,
                CHECKS_PER_NETWORK_HOUR,
                WINDOW,
                now
            )),
            Box::pin(s.count_shop(NetworkCounter::License, CHECKS_PER_SHOP_HOUR, WINDOW, now)),
            Box::pin(s.count_from_network(
                NetworkCounter::LicenseMiss,
                &tag,
                MISSES_PER_NETWORK_HOUR,
                WINDOW,
                now
            )),
        )?;
        if !(network_ok && shop_ok && misses_ok) {
            tracing::warn!(network = %tag, "license check: over an allowance");
            return Err(CheckError::TooMany);
        }
        let Some(key) = LicenseKey::parse(key) else {
            return Ok(Verdict::Unknown);
        };
        let verdict = if activate {
            match s.activate_license(&key).await? {
                Activation::Counted(record) => Verdict::Known {
                    record,
                    activated: Some(true),
                },
                Activation::Refused(record) => Verdict::Known {
                    record,
                    activated: Some(false),
                },
                Activation::Unknown => Verdict::Unknown,
            }
        } else {
            match s.get_license(&key).await? {
                Some(record) => Verdict::Known {
                    record,
                    activated: None,
                },
                None => Verdict::Unknown,
            }
        };
        if verdict != Verdict::Unknown {
            s.uncount_from_network(NetworkCounter::LicenseMiss, &tag, WINDOW, now)
                .await?;
        }
        Ok(verdict)
    }

    /// The signed list of every order whose license a refund took back (`KR1.…`).
    pub async fn revocation_list(&self, now: OffsetDateTime) -> Result<String, CheckError> {
        let signer = self.signer.as_ref().ok_or(CheckError::NoSigner)?;
        let orders = self.store.revoked_licenses().await?;
        Ok(signer.sign_revocations(orders.iter().map(|o| o.to_string()).collect(), now))
    }

    /// The shop's public key, when it has a signing key.
    pub fn public_key(&self) -> Option<String> {
        self.signer.as_ref().map(LicenseSigner::public_key)
    }
}
