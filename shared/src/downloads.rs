//! Serving purchases (docs/architecture.md, Flows: Download): the landing page's data,
//! spending one download, and mailing a buyer their links (the page's rate-limited
//! "email me my links" is [`crate::resend`]; the author's `kiosk resend` is
//! [`crate::author::Author::resend_links`], through the same [`mail_links`]).
//!
//! The download function needs no payment channel, so this is separate from `Shop`.
//!
//! A stamped product's PDF is served from its grant's stamped copy
//! ([`crate::stamp::copy_key`]); a download that finds no copy yet gives its download
//! back, asks for the copy ([`StampRequests`]) and answers [`Served::Preparing`].

use time::OffsetDateTime;

use crate::config::Config;
use crate::email::Email;
use crate::files::{Files, PresignError};
use crate::grant::{Grant, Unusable};
use crate::ids::DownloadToken;
use crate::mail::{Mailer, links_mail};
use crate::stamp::StampRequests;
use crate::store::views::DownloadStore;
use crate::store::{ConsumeError, Store, StoreError};

pub struct Downloads {
    config: Config,
    pub(crate) store: DownloadStore,
    files: Files,
    mailer: Mailer,
    stamps: StampRequests,
}

/// What a download request gets.
#[derive(Debug)]
pub enum Served {
    /// A short-lived URL of the file (or of its stamped copy).
    Url { grant: Grant, url: String },
    /// The stamped copy of file `file` is being made; nothing was spent.
    Preparing { grant: Grant, file: usize },
}

impl Served {
    /// The grant and URL when a file was served; `None` while a copy is being made.
    pub fn into_url(self) -> Option<(Grant, String)> {
        match self {
            Served::Url { grant, url } => Some((grant, url)),
            Served::Preparing { .. } => None,
        }
    }
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
    #[error(transparent)]
    Files(#[from] crate::files::UploadError),
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
        let d = Self::new(sdk, Config::from_env()?);
        Ok(match crate::config::stamp_queue_url() {
            Some(url) => d.with_stamp_requests(StampRequests::Queue {
                client: aws_sdk_sqs::Client::new(sdk),
                url,
            }),
            None => d,
        })
    }

    /// Ask `stamps` for stamped copies not found.
    pub fn with_stamp_requests(mut self, stamps: StampRequests) -> Self {
        self.stamps = stamps;
        self
    }

    /// A handle with `config` (tests and `make dev`).
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> Self {
        Downloads {
            store: DownloadStore::of(crate::startup::open_store(sdk, &config.table_name)),
            files: Files::new(crate::files::s3_client(sdk), &config.files_bucket),
            mailer: Mailer::for_shop(crate::mail::ses_client(sdk), &config),
            config,
            stamps: StampRequests::Off,
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

    /// Spend one download of file `file` (its position) and return a short-lived
    /// presigned URL for it. One DynamoDB round trip; presigning is local. A stamped
    /// PDF adds a HEAD of its copy; with no copy yet, the download is given back and the
    /// copy asked for.
    pub async fn download(
        &self,
        token: &DownloadToken,
        file: usize,
        now: OffsetDateTime,
    ) -> Result<Served, DownloadError> {
        let grant = self.store.consume_download(token, file, now).await?;
        let f = grant.files.get(file).ok_or(DownloadError::NotFound)?;
        let served = if grant.stamp && f.is_pdf() {
            let key =
                crate::stamp::copy_key(grant.order_id.as_str(), grant.edition.as_str(), &f.name);
            let exists = match self.files.exists(&key).await {
                Ok(found) => found,
                Err(e) => {
                    // Nothing served: the download is not spent.
                    self.store.give_back_download(token, file).await?;
                    return Err(e.into());
                }
            };
            if !exists {
                self.store.give_back_download(token, file).await?;
                if let Err(e) = self.stamps.request(token).await {
                    tracing::error!(order_id = %grant.order_id, error = %e, "could not ask for a stamped copy");
                }
                tracing::info!(order_id = %grant.order_id, file, "stamped copy not ready");
                return Ok(Served::Preparing { grant, file });
            }
            crate::product::FileRef { key, ..f.clone() }
        } else {
            f.clone()
        };
        let ttl =
            std::time::Duration::from_secs(self.config.presign.whole_seconds().unsigned_abs());
        let url = self.files.presigned_get(&served, ttl).await?;
        tracing::info!(grant = ?grant.token, order_id = %grant.order_id, file, left = grant.downloads_left.get(file).copied().unwrap_or(0), "download");
        Ok(Served::Url { grant, url })
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
