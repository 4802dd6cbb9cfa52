//! One reconcile run, from a schedule event.

use std::time::{Duration, Instant};

use kiosk::Config;
use kiosk::delivery::{Delivery, MailRun};
use kiosk::mail::Mailer;
use kiosk::store::{Store, StoreError};
use time::OffsetDateTime;

/// What the function holds between invocations, built once at cold start.
pub struct State {
    pub config: Config,
    pub store: Store,
    pub mailer: Mailer,
}

impl State {
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> State {
        State {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            mailer: Mailer::new(aws_sdk_ses::Client::new(sdk), config.sender_email.clone()),
            config,
        }
    }

    pub fn delivery(&self) -> Delivery<'_> {
        Delivery {
            store: &self.store,
            mailer: &self.mailer,
            public_base_url: &self.config.public_base_url,
        }
    }
}

/// Time kept back from the invocation's deadline: one order's work (a claim, a grant
/// read, an SES call, a write) finishes well inside it, so a run never overruns.
pub const MARGIN: Duration = Duration::from_secs(10);

/// The instant to stop starting new work, from the invocation's deadline (milliseconds
/// since the epoch, as the runtime reports it) and the current wall clock.
pub fn budget_end(deadline_ms: u64, now_wall: std::time::SystemTime, now: Instant) -> Instant {
    let now_ms = now_wall
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    now + left.saturating_sub(MARGIN)
}

/// One run. A store failure ends the run with an error (the invocation fails, which the
/// errors alarm sees); whatever was finished stays finished and the next run continues.
pub async fn run(
    state: &State,
    now: OffsetDateTime,
    stop_at: Instant,
) -> Result<MailRun, StoreError> {
    let run = state.delivery().retry_due_mails(now, stop_at).await?;
    tracing::info!(
        sent = run.sent,
        retry_later = run.retry_later,
        gave_up = run.gave_up,
        claimed_elsewhere = run.claimed_elsewhere,
        errors = run.errors,
        out_of_time = run.out_of_time,
        "reconcile run"
    );
    Ok(run)
}

/// The invocation's result, as JSON for the logs and `sam local invoke`.
pub fn report(run: &MailRun) -> serde_json::Value {
    serde_json::json!({
        "mail": {
            "sent": run.sent,
            "retry_later": run.retry_later,
            "gave_up": run.gave_up,
            "claimed_elsewhere": run.claimed_elsewhere,
            "errors": run.errors,
        },
        "out_of_time": run.out_of_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_ends_a_margin_before_the_deadline() {
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let now = Instant::now();
        let deadline_ms = 1_000_000_000 + 60_000;
        assert_eq!(
            budget_end(deadline_ms, wall, now),
            now + Duration::from_secs(50)
        );
        // A deadline already closer than the margin: no new work at all.
        assert_eq!(budget_end(1_000_000_000 + 5_000, wall, now), now);
        assert_eq!(budget_end(0, wall, now), now);
    }
}
