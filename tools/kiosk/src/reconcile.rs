//! `kiosk reconcile`: one run of the same reconcile the scheduled function does, from the
//! author's machine (or against `make dev`): send every purchase mail that is due, then
//! settle the pending orders with their payment channels (when a channel's settings are
//! known: `--stack`, `--local`, or the `--alipay-*` / `--stripe-*` flags).

use std::time::Duration;

use anyhow::{Result, anyhow};
use kiosk::author::AuthorError;
use kiosk::delivery::MailRun;
use kiosk::reconcile::{PendingRun, Reconciler};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop reconcile\n  kiosk --local reconcile --budget 10"
)]
pub struct ReconcileArgs {
    /// Stop starting new work after this many seconds; the next run continues.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub budget: u64,
}

pub fn summary(run: &MailRun) -> String {
    let mut s = format!(
        "purchase mails: sent {}, failed again (retried later) {}, failed for good {}, \
         not sent (address bounced or complained) {}, taken by another run {}, errors {}",
        run.sent, run.retry_later, run.gave_up, run.blocked, run.claimed_elsewhere, run.errors
    );
    if run.out_of_time {
        s.push_str("; stopped at the time budget, run again for the rest");
    }
    s
}

pub fn pending_summary(run: &PendingRun) -> String {
    let mut s = format!(
        "pending orders: paid and fulfilled {}, closed and expired {}, still open {}, errors {}",
        run.fulfilled, run.expired, run.still_open, run.errors
    );
    if run.out_of_time {
        s.push_str("; stopped at the time budget, run again for the rest");
    }
    s
}

/// `Ok(false)` when some item could not be handled (an error, not SES refusing).
pub async fn run(t: &Target, a: ReconcileArgs, now: OffsetDateTime) -> Result<bool> {
    let deadline = kiosk::deadline::Deadline::after(Duration::from_secs(a.budget));
    if t.has_channel() {
        let r = Reconciler::new(t.shop().await?).run(now, deadline).await?;
        println!("{}", summary(&r.mail));
        println!("{}", pending_summary(&r.pending));
        return Ok(r.mail.errors == 0 && r.pending.errors == 0);
    }
    let run = t
        .author()?
        .retry_due_mails(now, deadline)
        .await
        .map_err(|e| match e {
            AuthorError::Missing(m) => crate::target::explain(m),
            e => anyhow!(kiosk::error_chain(&e)),
        })?;
    println!("{}", summary(&run));
    println!(
        "pending orders: not checked (no payment channel settings: use --stack, --local, --alipay-* or --stripe-*)"
    );
    Ok(run.errors == 0)
}
