//! One reconcile run, from a schedule event.

use std::time::{Duration, Instant};

use kiosk::reconcile::Reconciled;
use kiosk::shop::Shop;
use kiosk::store::StoreError;
use time::OffsetDateTime;

/// Time kept back from the invocation's deadline: one item's work (a provider call of
/// at most 6 s, or a claim, a grant read, an SES call and a write) finishes well inside
/// it, so a run never overruns.
pub const MARGIN: Duration = Duration::from_secs(10);

/// The instant to stop starting new work, from the invocation's deadline (milliseconds
/// since the epoch, as the runtime reports it) and the current wall clock.
pub fn budget_end(deadline_ms: u64, now_wall: std::time::SystemTime, now: Instant) -> Instant {
    now + kiosk::deadline::lambda_time_left(deadline_ms, now_wall).saturating_sub(MARGIN)
}

/// One run. A store failure ends the run with an error (the invocation fails, which the
/// errors alarm sees); whatever was finished stays finished and the next run continues.
pub async fn run(
    shop: &Shop,
    now: OffsetDateTime,
    stop_at: Instant,
) -> Result<Reconciled, StoreError> {
    let r = shop.reconcile(now, stop_at).await?;
    tracing::info!(
        mail_sent = r.mail.sent,
        mail_retry_later = r.mail.retry_later,
        mail_gave_up = r.mail.gave_up,
        mail_claimed_elsewhere = r.mail.claimed_elsewhere,
        mail_errors = r.mail.errors,
        pending_fulfilled = r.pending.fulfilled,
        pending_expired = r.pending.expired,
        pending_still_open = r.pending.still_open,
        pending_errors = r.pending.errors,
        out_of_time = r.mail.out_of_time || r.pending.out_of_time,
        "reconcile run"
    );
    Ok(r)
}

/// The invocation's result, as JSON for the logs and `sam local invoke`.
pub fn report(r: &Reconciled) -> serde_json::Value {
    serde_json::json!({
        "mail": {
            "sent": r.mail.sent,
            "retry_later": r.mail.retry_later,
            "gave_up": r.mail.gave_up,
            "claimed_elsewhere": r.mail.claimed_elsewhere,
            "errors": r.mail.errors,
        },
        "pending": {
            "fulfilled": r.pending.fulfilled,
            "expired": r.pending.expired,
            "still_open": r.pending.still_open,
            "errors": r.pending.errors,
        },
        "out_of_time": r.mail.out_of_time || r.pending.out_of_time,
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
