//! Serving purchases (docs/architecture.md, Flows: Download): the landing page's data,
//! spending one download, and mailing a buyer their links (the page's rate-limited
//! "email me my links" is [`crate::resend`]; the author's `kiosk resend` is
//! [`crate::author::Author::resend_links`], through the same [`mail_links`]).
//!
//! The download function needs no payment channel, so this is separate from `Shop`.

use time::OffsetDateTime;

use crate::config::Config;
use crate::email::Email;
use crate::files::{Files, PresignError};
use crate::grant::{Grant, Unusable};
use crate::ids::DownloadToken;
use crate::mail::{Mailer, links_mail};
use crate::store::views::DownloadStore;
use crate::store::{ConsumeError, Store, StoreError};

pub struct Downloads {
    config: Config,
    pub(crate) store: DownloadStore,
    files: Files,
    mailer: Mailer,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("no such download link")]
    NotFound,
    #[error("{why}")]
    Gone { why: Unusable, grant: Box<Grant> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Presign(#[from] PresignError),
}

impl From<ConsumeError> for DownloadError {
    fn from(e: ConsumeError) -> Self {
        match e {
            ConsumeError::NotFound => DownloadError::NotFound,
            ConsumeError::Unusable { why, grant } => DownloadError::Gone { why, grant },
            ConsumeError::Store(e) => DownloadError::Store(e),
        }
    }
}

impl Downloads {
    /// The download function's handle, built once from the environment.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::startup::InitError> {
        Ok(Self::new(sdk, Config::from_env()?))
    }

    /// A handle with `config` (tests and `make dev`).
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> Self {
        Downloads {
            store: DownloadStore::of(crate::startup::open_store(sdk, &config.table_name)),
            files: Files::new(crate::files::s3_client(sdk), &config.files_bucket),
            mailer: Mailer::for_shop(crate::mail::ses_client(sdk), &config),
            config,
        }
    }

    /// The settings it was built with (links, languages, the help address).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A handle over a store built elsewhere (tests that point it at a table that is not
    /// there).
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = DownloadStore::of(store);
        self
    }

    /// What the landing page shows. Reads only; never spends a download.
    pub async fn landing(
        &self,
        token: &DownloadToken,
        now: OffsetDateTime,
    ) -> Result<Grant, DownloadError> {
        let grant = self
            .store
            .get_grant(token)
            .await?
            .ok_or(DownloadError::NotFound)?;
        match grant.usable(now) {
            Ok(()) => Ok(grant),
            Err(why) => Err(DownloadError::Gone {
                why,
                grant: Box::new(grant),
            }),
        }
    }

    /// Spend one download and return a short-lived presigned URL for the file.
    /// One DynamoDB round trip; presigning is local.
    pub async fn download(
        &self,
        token: &DownloadToken,
        now: OffsetDateTime,
    ) -> Result<(Grant, String), DownloadError> {
        let grant = self.store.consume_download(token, now).await?;
        let ttl =
            std::time::Duration::from_secs(self.config.presign.whole_seconds().unsigned_abs());
        let url = self.files.presigned_get(&grant.file, ttl).await?;
        tracing::info!(grant = ?grant.token, order_id = %grant.order_id, left = grant.downloads_left, "download");
        Ok((grant, url))
    }

    /// Mail `email` one message listing `grants`' links.
    pub(crate) async fn mail_links(
        &self,
        email: &Email,
        grants: Vec<Grant>,
        lang: crate::i18n::Lang,
    ) -> Result<usize, crate::mail::MailError> {
        mail_links(
            &self.mailer,
            &self.config.public_base_url,
            email,
            grants,
            lang,
        )
        .await
    }
}

/// Mail `email` one message listing `grants`' links (under `public_base_url`); how many
/// went out.
pub(crate) async fn mail_links(
    mailer: &Mailer,
    public_base_url: &str,
    email: &Email,
    grants: Vec<Grant>,
    lang: crate::i18n::Lang,
) -> Result<usize, crate::mail::MailError> {
    let links: Vec<(Grant, String)> = grants
        .into_iter()
        .map(|g| {
            let url = g.token.url_under(public_base_url);
            (g, url)
        })
        .collect();
    let mail = links_mail(&links, mailer.help(), lang);
    mailer.send(email, &mail).await?;
    Ok(links.len())
}
