//! A new edition mailed to every paying buyer (`kiosk update`): the edition chosen, its
//! file uploaded and the product switched to it, then for each paying buyer a claim (in
//! one transaction: the mail record, a fresh grant with the full download count, the
//! order pointed at it), the mail at SES's pace, and the record marked sent. Old links
//! keep serving the edition they were made for. Who gets mail is [`crate::edition::plan`].
//!
//! Run again after a stop (Ctrl-C, a crash, SES's daily quota), the same file finds the
//! product already on it and finishes the same edition's mail-out: buyers marked sent are
//! skipped; buyers claimed but not marked sent are mailed again with the link recorded
//! for them. The one gap no mail service closes: if the process dies after SES accepted
//! a mail but before the record says so, that one buyer gets it twice. It is kept
//! narrow as for purchase mails ([`crate::delivery`]): the record is retried, and
//! within a deadline (the soak's runs) no mail starts with too little time left for
//! its record.
//!
//! The caller watches the run through a [`Watch`], which may also stop it between two
//! mails (what a test uses to interrupt a run part-way).

use std::ops::ControlFlow;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use crate::author::{Author, Missing};
use crate::catalog::{CatalogError, EditionFile};
use crate::edition::{Plan, next_label, plan};
use crate::grant::Grant;
use crate::ids::{DownloadToken, ProductId};
use crate::mail::{Mailer, edition_mail};
use crate::order::Order;
use crate::product::{Edition, Product};
use crate::store::{EditionClaim, StoreError};

/// Spaces sends evenly at `per_second`, never bursting to catch up after a slow step.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(per_second: f64) -> Self {
        // SES reports whole mails per second; guard against 0 or garbage.
        let rate = if per_second.is_finite() && per_second >= 0.1 {
            per_second
        } else {
            1.0
        };
        Pacer {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: None,
        }
    }

    /// The moment the next send may start, given the time now; books that slot.
    pub fn slot(&mut self, now: Instant) -> Instant {
        let at = match self.next {
            Some(next) if next > now => next,
            _ => now,
        };
        self.next = Some(at + self.interval);
        at
    }

    pub async fn wait(&mut self) {
        let at = self.slot(Instant::now());
        tokio::time::sleep_until(at).await;
    }
}

/// SES's sending limits, as `GetSendQuota` reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub max_per_second: f64,
    /// Negative: no daily limit.
    pub max_per_day: f64,
    pub sent_last_day: f64,
}

impl Quota {
    /// How many more mails SES will take today (`None`: no limit).
    pub fn left_today(&self) -> Option<usize> {
        if self.max_per_day < 0.0 {
            return None;
        }
        let left = (self.max_per_day - self.sent_last_day).floor();
        Some(if left > 0.0 { left as usize } else { 0 })
    }
}

/// What `kiosk update` was asked to do.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    pub product: ProductId,
    /// The new edition's files (its whole set: every buyer gets all of them).
    pub files: Vec<EditionFile>,
    /// The new edition's label; `None`: today's date ([`next_label`]).
    pub edition: Option<Edition>,
    /// The author's few words for the mail.
    pub note: Option<String>,
}

/// The edition a run is about and who it would mail, before anything changes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The product as it is now.
    pub product: Product,
    pub edition: Edition,
    /// The product already serves this file as `edition` (an earlier run switched it
    /// and stopped): the run finishes that edition's mail-out.
    pub resume: bool,
    /// Where the files go (or went) in the bucket.
    pub file_keys: Vec<String>,
    pub plan: Plan,
}

/// How a run ended, for the summary and the exit status.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: usize,
    pub already_sent: usize,
    pub bought_it: usize,
    /// Buyers whose address bounced or complained: not mailed.
    pub blocked: usize,
    pub not_paid: usize,
    /// (`order <email>`, why) for each buyer SES or the store failed.
    pub failed: Vec<(String, String)>,
    /// Left for another run: SES's daily quota ran out.
    pub deferred: usize,
    /// The watcher stopped the run; the rest is left for another run.
    pub stopped: bool,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.deferred == 0 && !self.stopped
    }
}

/// What happened to one buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailed {
    Sent,
    AlreadySent,
    NotPaid,
    Failed(String),
}

/// What a run reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The file is uploaded and the product sells the new edition from now on.
    Switched { product: &'a Product },
    /// The product already served the file: finishing that edition's mail-out.
    Resuming { product: &'a Product },
    /// About to mail `to_mail` buyers at SES's pace.
    Mailing { to_mail: usize, quota: Quota },
    /// One buyer done (`done` of `total`).
    Buyer {
        order: &'a Order,
        mailed: &'a Mailed,
        done: usize,
        total: usize,
        summary: &'a Summary,
    },
}

/// Watches a run; [`ControlFlow::Break`] after a buyer stops the run there.
pub trait Watch {
    fn progress(&mut self, p: Progress<'_>) -> ControlFlow<()>;
}

impl<F: FnMut(Progress<'_>) -> ControlFlow<()>> Watch for F {
    fn progress(&mut self, p: Progress<'_>) -> ControlFlow<()> {
        self(p)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no product {0}; add it with `kiosk product add {0}`")]
    NotFound(ProductId),
    #[error(
        "{product} already serves this file as edition {current}; run without --edition to \
         finish that edition's mail-out"
    )]
    AlreadyServed {
        product: ProductId,
        current: Edition,
    },
    #[error(
        "edition {0} is the current one with a different file; give the new file its own \
         --edition label"
    )]
    SameLabel(Edition),
    #[error(transparent)]
    Missing(#[from] Missing),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("reading the SES sending quota failed")]
    Quota(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Author {
    /// Which edition a run of `req` is about, and who it would mail; changes nothing
    /// (`--dry-run` prints this). Fails, before anything changes, when the links or the
    /// mail could not be made.
    pub async fn prepare_update(
        &self,
        req: &UpdateRequest,
        now: OffsetDateTime,
    ) -> Result<Prepared, UpdateError> {
        self.public_base_url()?;
        self.mailer()?;
        self.files()?;
        let product = self
            .store
            .get_product(&req.product)
            .await?
            .ok_or_else(|| UpdateError::NotFound(req.product.clone()))?;
        // The product serves exactly these files (names and contents, in order) already.
        let resume = product.files().len() == req.files.len()
            && product.files().iter().zip(&req.files).all(|(have, new)| {
                have.name == new.name() && have.sha256.as_deref() == Some(new.sha256())
            });
        let edition = if resume {
            if let Some(asked) = &req.edition
                && asked != product.edition()
            {
                return Err(UpdateError::AlreadyServed {
                    product: req.product.clone(),
                    current: product.edition().clone(),
                });
            }
            product.edition().clone()
        } else {
            let edition = match &req.edition {
                Some(e) => e.clone(),
                None => Edition::parse(&next_label(product.edition().as_str(), now.date()))
                    .map_err(CatalogError::Invalid)?,
            };
            if &edition == product.edition() {
                return Err(UpdateError::SameLabel(edition));
            }
            edition
        };
        let file_keys = if resume {
            product.files().iter().map(|f| f.key.clone()).collect()
        } else {
            req.files
                .iter()
                .map(|f| f.file_ref(&req.product, &edition).key)
                .collect()
        };
        let plan = self.plan(&req.product, &edition).await?;
        Ok(Prepared {
            product,
            edition,
            resume,
            file_keys,
            plan,
        })
    }

    /// Run `req`: switch the product to the new edition (unless an earlier run did) and
    /// mail every buyer [`Author::prepare_update`] lists, at SES's pace and within its
    /// daily quota, telling `watch` as it goes.
    pub async fn run_update(
        &self,
        req: &UpdateRequest,
        now: OffsetDateTime,
        watch: &mut dyn Watch,
    ) -> Result<Summary, UpdateError> {
        let prepared = self.prepare_update(req, now).await?;
        let quota = self.send_quota().await?;
        let edition = prepared.edition.clone();
        let (product, plan) = if prepared.resume {
            let _ = watch.progress(Progress::Resuming {
                product: &prepared.product,
            });
            // Nothing changed since the plan was read: mail who it lists.
            (prepared.product, prepared.plan)
        } else {
            let product = self
                .switch_edition(prepared.product, edition.clone(), &req.files, now)
                .await?;
            let _ = watch.progress(Progress::Switched { product: &product });
            // Who to mail, read again now that new buyers get the new edition: an order
            // paid while the file was uploading bought the old one and is on this list.
            let plan = self.plan(product.id(), &edition).await?;
            (product, plan)
        };
        let _ = watch.progress(Progress::Mailing {
            to_mail: plan.to_mail.len(),
            quota,
        });
        let out = MailOut {
            author: self,
            mailer: self.mailer()?,
            base: self.public_base_url()?,
            product: &product,
            note: req.note.as_deref(),
        };
        Ok(out.run(plan, quota, now, watch).await)
    }

    /// Who a mail-out of `edition` reaches, from the product's orders and the
    /// edition's mail records ([`plan`]).
    async fn plan(&self, product: &ProductId, edition: &Edition) -> Result<Plan, StoreError> {
        let records = self.store.edition_mails(product, edition).await?;
        let mut buyers = self.store.buyers_of(product).await?;
        // SES's reports are kept per address: a blocked address is skipped.
        self.store.with_address_blocks(&mut buyers).await?;
        Ok(plan(buyers, &records, edition))
    }

    async fn send_quota(&self) -> Result<Quota, UpdateError> {
        let q = self
            .ses()
            .get_send_quota()
            .send()
            .await
            .map_err(|e| UpdateError::Quota(Box::new(e)))?;
        Ok(Quota {
            max_per_second: q.max_send_rate(),
            max_per_day: q.max24_hour_send(),
            sent_last_day: q.sent_last24_hours(),
        })
    }
}

struct MailOut<'a> {
    author: &'a Author,
    mailer: Mailer,
    base: &'a str,
    product: &'a Product,
    note: Option<&'a str>,
}

impl MailOut<'_> {
    async fn run(
        &self,
        plan: Plan,
        quota: Quota,
        now: OffsetDateTime,
        watch: &mut dyn Watch,
    ) -> Summary {
        // The run's clock: `now` when it started, moved on by the monotonic clock, so
        // each mail records when it went out without the library reading the wall clock.
        let started = Instant::now();
        let clock = move || {
            now + time::Duration::try_from(started.elapsed()).unwrap_or(time::Duration::ZERO)
        };
        let mut summary = Summary {
            already_sent: plan.already_sent.len(),
            bought_it: plan.bought_it.len(),
            blocked: plan.blocked.len(),
            ..Summary::default()
        };
        let mut allowed = quota.left_today();
        let mut pacer = Pacer::new(quota.max_per_second);
        let total = plan.to_mail.len();
        for (i, order) in plan.to_mail.into_iter().enumerate() {
            if allowed == Some(0) {
                summary.deferred = total - i;
                break;
            }
            let mailed = match self.one(&order, &mut pacer, now, &clock).await {
                Ok(m) => m,
                Err(why) => Mailed::Failed(why),
            };
            match &mailed {
                Mailed::Sent => {
                    summary.sent += 1;
                    if let Some(n) = allowed.as_mut() {
                        *n -= 1;
                    }
                }
                Mailed::AlreadySent => summary.already_sent += 1,
                Mailed::NotPaid => summary.not_paid += 1,
                Mailed::Failed(why) => summary
                    .failed
                    .push((format!("{} <{}>", order.id, order.email), why.clone())),
            }
            let flow = watch.progress(Progress::Buyer {
                order: &order,
                mailed: &mailed,
                done: i + 1,
                total,
                summary: &summary,
            });
            if flow.is_break() {
                summary.stopped = i + 1 < total;
                break;
            }
        }
        summary
    }

    async fn one(
        &self,
        order: &Order,
        pacer: &mut Pacer,
        now: OffsetDateTime,
        clock: &dyn Fn() -> OffsetDateTime,
    ) -> Result<Mailed, String> {
        let store = &self.author.store;
        let product = self.product;
        let token = DownloadToken::generate().map_err(|e| e.to_string())?;
        let mut grant = Grant::for_edition(order, product, token, now);
        match store
            .claim_edition_mail(order, &grant, now)
            .await
            .map_err(|e| crate::error_chain(&e))?
        {
            EditionClaim::New => {}
            EditionClaim::Unfinished { token } => grant.token = token,
            EditionClaim::Sent => return Ok(Mailed::AlreadySent),
            EditionClaim::NotPaid => return Ok(Mailed::NotPaid),
        }
        let link = grant.token.url_under(self.base);
        let mail = edition_mail(
            order,
            &grant,
            &link,
            self.note,
            self.mailer.help(),
            self.author.default_lang(),
        );
        let mut attempt = 0;
        loop {
            // Not within a deadline that could stop the run between the send and its
            // record (that would mail the buyer twice): left to the next run.
            if !crate::delivery::room_to_send() {
                return Err(
                    "left for the next run: too little time left to send and record".into(),
                );
            }
            pacer.wait().await;
            match self.mailer.send(&order.email, &mail).await {
                Ok(()) => break,
                // Sending too fast for SES right now: back off and try the same mail again.
                Err(e) if e.is_throttling() && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
                Err(e) => {
                    let why = e.reason();
                    let _ = store
                        .edition_mail_failed(product.id(), product.edition(), &order.id, &why)
                        .await;
                    return Err(why);
                }
            }
        }
        // When it went out, not when the run started.
        let sent_at = clock();
        crate::delivery::record_sent(|| {
            store.edition_mail_sent(product.id(), product.edition(), &order.id, sent_at)
        })
        .await
        .map_err(|e| {
            format!(
                "mailed, but recording it failed (a rerun would mail again): {}",
                crate::error_chain(&e)
            )
        })?;
        Ok(Mailed::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_by_the_rate_and_do_not_burst_after_a_pause() {
        let t0 = Instant::now();
        let mut p = Pacer::new(5.0);
        let slots: Vec<Duration> = (0..10).map(|_| p.slot(t0) - t0).collect();
        assert_eq!(slots[0], Duration::ZERO);
        assert_eq!(slots[9], Duration::from_millis(1800));
        // After a long pause the next send goes now, and the one after waits again.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(p.slot(later), later);
        assert_eq!(p.slot(later), later + Duration::from_millis(200));
    }

    #[test]
    fn a_zero_rate_is_treated_as_one_per_second() {
        let t0 = Instant::now();
        let mut p = Pacer::new(0.0);
        p.slot(t0);
        assert_eq!(p.slot(t0) - t0, Duration::from_secs(1));
    }

    #[test]
    fn daily_quota_left() {
        let q = |max, sent| Quota {
            max_per_second: 14.0,
            max_per_day: max,
            sent_last_day: sent,
        };
        assert_eq!(q(200.0, 150.0).left_today(), Some(50));
        assert_eq!(q(200.0, 250.0).left_today(), Some(0));
        assert_eq!(q(-1.0, 1e9).left_today(), None);
    }
}
