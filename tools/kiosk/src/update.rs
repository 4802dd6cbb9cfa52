//! `kiosk update PRODUCT --file F`: a new edition, mailed to every paying buyer. The
//! workflow (upload, switch, claim, mail at SES's pace, resume after a stop) is
//! [`kiosk::mailout`]; this module parses, prints progress and sums up.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use kiosk::mailout::{Prepared, Progress, Summary, UpdateError, UpdateRequest};
use time::OffsetDateTime;

use crate::products::{parse_edition, parse_id, read_files};
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
    /// The new edition's files: the whole set every buyer gets (repeat for several).
    #[arg(long, value_name = "PATH", required = true)]
    pub file: Vec<PathBuf>,
    /// A few words for the mail: what changed in this edition.
    #[arg(long)]
    pub note: Option<String>,
    /// Label for the new edition (default: today's date, like 2026-11-21).
    #[arg(long)]
    pub edition: Option<String>,
    /// Content type sent with downloads (default: from the file's extension); with one
    /// --file only.
    #[arg(long)]
    pub content_type: Option<String>,
    /// List who would get mail; upload, change and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The request `a` describes: its product, its file read whole, its edition label.
pub fn request(a: &UpdateArgs) -> Result<UpdateRequest> {
    Ok(UpdateRequest {
        product: parse_id(&a.product)?,
        files: read_files(&a.file, a.content_type.as_deref())?,
        edition: a.edition.as_deref().map(parse_edition).transpose()?,
        note: a.note.clone(),
    })
}

fn explain(e: UpdateError) -> anyhow::Error {
    match e {
        UpdateError::Missing(m) => crate::target::explain(m),
        e => anyhow!(kiosk::error_chain(&e)),
    }
}

pub async fn run(t: &Target, a: UpdateArgs, now: OffsetDateTime) -> Result<bool> {
    let req = request(&a)?;
    let author = t.author()?;
    if a.dry_run {
        let p = author.prepare_update(&req, now).await.map_err(explain)?;
        print_dry_run(&p, &a);
        return Ok(true);
    }
    let mut bar = Bar::new(&a.file);
    let summary = author
        .run_update(&req, now, &mut |p: Progress<'_>| bar.show(p))
        .await
        .map_err(explain)?;
    print_summary(&summary, &bar.edition);
    Ok(summary.ok())
}

fn print_dry_run(p: &Prepared, a: &UpdateArgs) {
    let (id, edition) = (p.product.id(), &p.edition);
    if p.resume {
        println!(
            "{id} already serves this file as edition {edition}; a real run would finish its mail-out."
        );
    } else {
        let uploads: Vec<String> = a
            .file
            .iter()
            .zip(&p.file_keys)
            .map(|(f, key)| format!("{} as {key}", f.display()))
            .collect();
        println!(
            "a real run would upload {} and make it edition {edition} of {id}.",
            uploads.join(", ")
        );
    }
    for order in &p.plan.to_mail {
        println!("would mail\t{}\t{}", order.id, order.email);
    }
    println!(
        "dry run: {} would get mail; {} already mailed about {edition}; {} bought {edition} itself; \
         {} not mailed (address bounced or complained); nothing sent.",
        p.plan.to_mail.len(),
        p.plan.already_sent.len(),
        p.plan.bought_it.len(),
        p.plan.blocked.len()
    );
}

/// Progress on the terminal: the steps as lines on stdout, the mail-out as a one-line
/// bar on a terminal's stderr, elsewhere (CI logs, pipes) a line every tenth.
struct Bar {
    paths: String,
    /// The edition being mailed, once the run says which.
    edition: String,
    tty: bool,
    last_tenth: usize,
}

impl Bar {
    fn new(paths: &[std::path::PathBuf]) -> Self {
        Bar {
            paths: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            edition: String::new(),
            tty: std::io::stderr().is_terminal(),
            last_tenth: 0,
        }
    }

    fn show(&mut self, p: Progress<'_>) -> ControlFlow<()> {
        match p {
            Progress::Switched { product } => {
                self.edition = product.edition().to_string();
                println!(
                    "uploaded {} as {}; {} now sells edition {}.",
                    self.paths,
                    product
                        .files()
                        .iter()
                        .map(|f| f.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    product.id(),
                    product.edition()
                )
            }
            Progress::Resuming { product } => {
                self.edition = product.edition().to_string();
                println!(
                    "{} already serves this file as edition {}; finishing its mail-out.",
                    product.id(),
                    product.edition()
                )
            }
            Progress::Mailing { to_mail, quota } => println!(
                "mailing {to_mail} buyers at up to {} a second (SES quota){}.",
                quota.max_per_second,
                match quota.left_today() {
                    Some(n) => format!(", {n} more allowed today"),
                    None => String::new(),
                }
            ),
            Progress::Buyer {
                done,
                total,
                summary,
                ..
            } => self.tick(done, total, summary.sent, summary.failed.len()),
        }
        ControlFlow::Continue(())
    }

    fn tick(&mut self, done: usize, total: usize, sent: usize, failed: usize) {
        if self.tty {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total} (sent {sent}, failed {failed})",
                "#".repeat(filled),
                ".".repeat(width - filled),
            );
            if done == total {
                eprintln!();
            }
        } else {
            let tenth = done * 10 / total.max(1);
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!("progress: {done}/{total} (sent {sent}, failed {failed})");
            }
        }
    }
}

fn print_summary(s: &Summary, edition: &str) {
    println!(
        "edition {edition}: sent {}, skipped {} (already sent), skipped {} (bought this edition), skipped {} (no longer paid), \
         skipped {} (address bounced or complained), failed {}.",
        s.sent,
        s.already_sent,
        s.bought_it,
        s.not_paid,
        s.blocked,
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
