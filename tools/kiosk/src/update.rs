//! `kiosk update PRODUCT --file F`: a new edition, mailed to every paying buyer.
//!
//! Steps: upload the file as `products/{id}/{edition}/{name}`, point the product at it
//! (new buyers get it from now on), then for each paying buyer claim a mail record with a
//! conditional write (in the same transaction: a fresh grant with the full download count,
//! and the order pointed at it), send the mail at SES's pace, and mark the record sent.
//! Old links keep serving the edition they were made for.
//!
//! Run again after a stop (Ctrl-C, a crash, SES's daily quota), the same command finds the
//! product already on this file and finishes the same edition's mail-out: buyers marked
//! sent are skipped; buyers claimed but not marked sent are mailed again with the link
//! recorded for them. The one gap no mail service closes: if the process dies after SES
//! accepted a mail but before the record says so, that one buyer gets it twice.
//!
//! Test hook: `KIOSK_FAULT_EXIT_AFTER=N` makes the process exit abruptly (status 137, no
//! summary) right after the N-th mail of the run is recorded, to test resuming.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use kiosk::edition::{Plan, next_label, plan};
use kiosk::mail::{Mailer, edition_mail};
use kiosk::store::{EditionClaim, Store};
use kiosk::{DownloadToken, Grant, Order, Product, error_chain};
use time::OffsetDateTime;

use crate::pace::{Pacer, Progress, Quota};
use crate::products::{LocalFile, parse_id, store, upload};
use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kiosk --stack shop update little-book --file book-v2.pdf --note \"Two new chapters\" --dry-run\n  \
    kiosk --stack shop update little-book --file book-v2.pdf --note \"Two new chapters\"\n\n\
    If it stops halfway, run the same command again: it finishes the same edition and\n\
    mails nobody twice.")]
pub struct UpdateArgs {
    /// The product to update.
    pub product: String,
    /// The new edition's file.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// A few words for the mail: what changed in this edition.
    #[arg(long)]
    pub note: Option<String>,
    /// Label for the new edition (default: today's date, like 2026-11-21).
    #[arg(long)]
    pub edition: Option<String>,
    /// Content type sent with downloads (default: from the file's extension).
    #[arg(long)]
    pub content_type: Option<String>,
    /// List who would get mail; upload, change and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How a run ended, for the summary and the exit status.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: usize,
    pub already_sent: usize,
    pub bought_it: usize,
    pub not_paid: usize,
    pub failed: Vec<(String, String)>,
    /// Left for another run: SES's daily quota ran out.
    pub deferred: usize,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.deferred == 0
    }
}

/// The edition this run is about: a new one, or the current one when the product already
/// serves this very file (a previous run switched it and then stopped).
fn choose_edition(
    product: &Product,
    file: &LocalFile,
    asked: Option<&str>,
    now: OffsetDateTime,
) -> Result<(String, bool)> {
    let resume = product.file.sha256.as_deref() == Some(file.sha256.as_str());
    if resume {
        if let Some(asked) = asked
            && asked != product.edition
        {
            bail!(
                "{} already serves this file as edition {}; run without --edition to finish \
                 that edition's mail-out",
                product.id,
                product.edition
            );
        }
        return Ok((product.edition.clone(), true));
    }
    let edition = match asked {
        Some(e) => e.to_owned(),
        None => next_label(&product.edition, now.date()),
    };
    if edition == product.edition {
        bail!(
            "edition {edition} is the current one with a different file; give the new file \
             its own --edition label"
        );
    }
    Ok((edition, false))
}

pub async fn run(t: &Target, a: UpdateArgs, now: OffsetDateTime) -> Result<bool> {
    let id = parse_id(&a.product)?;
    let file = LocalFile::read(&a.file, a.content_type.as_deref())?;
    let store = store(t)?;
    let mut product = store
        .get_product(&id)
        .await?
        .ok_or_else(|| anyhow!("no product {id}; add it with `kiosk product add {id}`"))?;
    let (edition, resume) = choose_edition(&product, &file, a.edition.as_deref(), now)?;
    let new_file = file.file_ref(&id, &edition);
    if !resume {
        let mut next = product.clone();
        next.edition = edition.clone();
        next.file = new_file.clone();
        next.validate().map_err(|e| anyhow!("{e}"))?;
    }
    // Links and mail need these; fail before changing anything if they are missing.
    let base = t.api_url()?.to_owned();
    let sender = t.sender()?;
    t.bucket()?;

    if a.dry_run {
        let records = store.edition_mails(&id, &edition).await?;
        let plan = plan(store.buyers_of(&id).await?, &records, &edition);
        if resume {
            println!(
                "{id} already serves this file as edition {edition}; a real run would finish its mail-out."
            );
        } else {
            println!(
                "a real run would upload {} as {} and make it edition {edition} of {id}.",
                file.path.display(),
                new_file.key
            );
        }
        for order in &plan.to_mail {
            println!("would mail\t{}\t{}", order.id, order.email);
        }
        println!(
            "dry run: {} would get mail; {} already mailed about {edition}; {} bought {edition} itself; nothing sent.",
            plan.to_mail.len(),
            plan.already_sent.len(),
            plan.bought_it.len()
        );
        return Ok(true);
    }

    let ses = aws_sdk_ses::Client::new(&t.sdk);
    let quota = ses.get_send_quota().send().await.map_err(|e| {
        anyhow!(
            "reading the SES sending quota failed: {}",
            aws_sdk_ses::error::DisplayErrorContext(e)
        )
    })?;
    let quota = Quota {
        max_per_second: quota.max_send_rate(),
        max_per_day: quota.max24_hour_send(),
        sent_last_day: quota.sent_last24_hours(),
    };

    if !resume {
        upload(t, &file, &new_file).await?;
        product.edition = edition.clone();
        product.file = new_file;
        store.update_product(&product, now).await?;
        println!(
            "uploaded {} as {}; {id} now sells edition {edition}.",
            file.path.display(),
            product.file.key
        );
    } else {
        println!("{id} already serves this file as edition {edition}; finishing its mail-out.");
    }

    let records = store.edition_mails(&id, &edition).await?;
    let plan = plan(store.buyers_of(&id).await?, &records, &edition);
    println!(
        "mailing {} buyers at up to {} a second (SES quota){}.",
        plan.to_mail.len(),
        quota.max_per_second,
        match quota.left_today() {
            Some(n) => format!(", {n} more allowed today"),
            None => String::new(),
        }
    );
    let mailer = Mailer::new(ses, sender);
    let summary = mail_out(
        &store,
        &mailer,
        &product,
        plan,
        &base,
        a.note.as_deref(),
        quota,
        now,
    )
    .await;
    print_summary(&summary, &edition);
    Ok(summary.ok())
}

#[allow(clippy::too_many_arguments)]
async fn mail_out(
    store: &Store,
    mailer: &Mailer,
    product: &Product,
    plan: Plan,
    base: &str,
    note: Option<&str>,
    quota: Quota,
    now: OffsetDateTime,
) -> Summary {
    let fault_after: Option<usize> = std::env::var("KIOSK_FAULT_EXIT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut summary = Summary {
        already_sent: plan.already_sent.len(),
        bought_it: plan.bought_it.len(),
        ..Summary::default()
    };
    let mut allowed = quota.left_today();
    let mut pacer = Pacer::new(quota.max_per_second);
    let mut progress = Progress::new(plan.to_mail.len());
    let total = plan.to_mail.len();
    for (i, order) in plan.to_mail.into_iter().enumerate() {
        if allowed == Some(0) {
            summary.deferred = total - i;
            break;
        }
        match mail_one(store, mailer, product, &order, base, note, &mut pacer, now).await {
            Ok(Outcome::Sent) => {
                summary.sent += 1;
                if let Some(n) = allowed.as_mut() {
                    *n -= 1;
                }
                if fault_after == Some(summary.sent) {
                    eprintln!("KIOSK_FAULT_EXIT_AFTER={}: stopping abruptly", summary.sent);
                    std::process::exit(137);
                }
            }
            Ok(Outcome::AlreadySent) => summary.already_sent += 1,
            Ok(Outcome::NotPaid) => summary.not_paid += 1,
            Err(why) => summary
                .failed
                .push((format!("{} <{}>", order.id, order.email), why)),
        }
        progress.tick(summary.sent, summary.failed.len());
    }
    summary
}

enum Outcome {
    Sent,
    AlreadySent,
    NotPaid,
}

#[allow(clippy::too_many_arguments)]
async fn mail_one(
    store: &Store,
    mailer: &Mailer,
    product: &Product,
    order: &Order,
    base: &str,
    note: Option<&str>,
    pacer: &mut Pacer,
    now: OffsetDateTime,
) -> Result<Outcome, String> {
    let token = DownloadToken::generate().map_err(|e| e.to_string())?;
    let mut grant = Grant::for_edition(order, product, token, now);
    match store
        .claim_edition_mail(order, &grant, now)
        .await
        .map_err(|e| error_chain(&e))?
    {
        EditionClaim::New => {}
        EditionClaim::Unfinished { token } => grant.token = token,
        EditionClaim::Sent => return Ok(Outcome::AlreadySent),
        EditionClaim::NotPaid => return Ok(Outcome::NotPaid),
    }
    let link = grant.token.url_under(base);
    let mail = edition_mail(order, &grant, &link, note, mailer.from_address());
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        match mailer.send(&order.email, &mail).await {
            Ok(()) => break,
            // Sending too fast for SES right now: back off and try the same mail again.
            Err(e) if e.is_throttling() && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1 << attempt)).await;
            }
            Err(e) => {
                let why = e.reason();
                let _ = store
                    .edition_mail_failed(&product.id, &product.edition, &order.id, &why)
                    .await;
                return Err(why);
            }
        }
    }
    store
        .edition_mail_sent(
            &product.id,
            &product.edition,
            &order.id,
            kiosk::clock::now(),
        )
        .await
        .map_err(|e| {
            format!(
                "mailed, but recording it failed (a rerun would mail again): {}",
                error_chain(&e)
            )
        })?;
    Ok(Outcome::Sent)
}

fn print_summary(s: &Summary, edition: &str) {
    println!(
        "edition {edition}: sent {}, skipped {} (already sent), skipped {} (bought this edition), skipped {} (no longer paid), failed {}.",
        s.sent,
        s.already_sent,
        s.bought_it,
        s.not_paid,
        s.failed.len()
    );
    for (who, why) in &s.failed {
        println!("failed\t{who}\t{why}");
    }
    if s.deferred > 0 {
        println!(
            "{} buyers not mailed yet: SES's daily quota is used up. Run the same command \
             again tomorrow to finish.",
            s.deferred
        );
    }
    if !s.failed.is_empty() {
        println!("Run the same command again to retry the failed ones (with the same links).");
    }
}
