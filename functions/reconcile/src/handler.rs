//! One reconcile run, from a schedule event; or one batch of the free-orders queue
//! (`kiosk::free`), from an SQS event.

use std::time::Duration;

use kiosk::deadline::{Deadline, REPLY_MARGIN};
use kiosk::reconcile::{Reconciled, Reconciler};
use kiosk::store::StoreError;
use time::OffsetDateTime;

/// No new order or mail is started with less than this left before the invocation's
/// deadline. Whatever runs past it is still bounded: the whole run is inside
/// [`kiosk::deadline::Deadline::run`], so every provider attempt is cut to what is left
/// (less the time to record what it found), and the run ends a second before Lambda
/// would stop it ([`run_invocation`]).
pub const MARGIN: Duration = Duration::from_secs(3);

/// When to stop starting new work: [`MARGIN`] before Lambda's deadline, inside the
/// invocation's own deadline (`Deadline::from_lambda`, which keeps [`REPLY_MARGIN`]).
pub fn budget(invocation: Deadline) -> Deadline {
    invocation.earlier_by(MARGIN.saturating_sub(REPLY_MARGIN))
}

/// One run. A store failure ends the run with an error (the invocation fails, which the
/// errors alarm sees); whatever was finished stays finished and the next run continues.
pub async fn run(
    shop: &Reconciler,
    now: OffsetDateTime,
    budget: Deadline,
) -> Result<Reconciled, StoreError> {
    let r = shop.run(now, budget).await?;
    tracing::info!(
        mail_sent = r.mail.sent,
        mail_retry_later = r.mail.retry_later,
        mail_gave_up = r.mail.gave_up,
        mail_blocked = r.mail.blocked,
        mail_claimed_elsewhere = r.mail.claimed_elsewhere,
        mail_errors = r.mail.errors,
        pending_fulfilled = r.pending.fulfilled,
        pending_expired = r.pending.expired,
        pending_refunded = r.pending.refunded,
        pending_still_open = r.pending.still_open,
        pending_errors = r.pending.errors,
        out_of_time = r.mail.out_of_time || r.pending.out_of_time,
        "reconcile run"
    );
    Ok(r)
}

/// One run as the Lambda function makes it: within the invocation's deadline
/// (milliseconds since the epoch, from its context), like the HTTP functions, so a
/// provider that hangs costs a run its remaining items, never the invocation. A run cut
/// at the deadline reports `out_of_time`; everything it finished is recorded (each
/// write is one conditional item or transaction), and the next run continues.
pub async fn run_invocation(
    shop: &Reconciler,
    now: OffsetDateTime,
    deadline_ms: u64,
) -> Result<Reconciled, StoreError> {
    let deadline = Deadline::from_lambda(deadline_ms, std::time::SystemTime::now());
    match deadline.run(run(shop, now, budget(deadline))).await {
        Some(r) => r,
        None => {
            tracing::warn!(
                "reconcile: the run reached the invocation's deadline; what it finished is recorded"
            );
            let mut r = Reconciled::default();
            r.pending.out_of_time = true;
            Ok(r)
        }
    }
}

/// The bodies of an SQS event's records (`Records[].body` of records whose
/// `eventSource` is `aws:sqs`); `None`: not an SQS event (a schedule event).
pub fn sqs_bodies(event: &serde_json::Value) -> Option<Vec<&str>> {
    let records = event.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter(|r| r.get("eventSource").and_then(|s| s.as_str()) == Some("aws:sqs"))
            .filter_map(|r| r.get("body").and_then(|b| b.as_str()))
            .collect(),
    )
}

/// One invocation: an SQS batch of free orders is fulfilled (a store error fails the
/// invocation, and the queue delivers the batch again); anything else is a schedule
/// event and runs reconcile.
pub async fn handle(
    shop: &Reconciler,
    event: &serde_json::Value,
    now: OffsetDateTime,
    deadline_ms: u64,
) -> Result<serde_json::Value, StoreError> {
    if let Some(bodies) = sqs_bodies(event) {
        let run = shop.free_orders(&bodies, now).await?;
        tracing::info!(
            granted = run.granted,
            already = run.already,
            refused = run.refused,
            ignored = run.ignored,
            "free orders"
        );
        return Ok(serde_json::json!({ "free_orders": run }));
    }
    Ok(report(&run_invocation(shop, now, deadline_ms).await?))
}

/// The invocation's result, as JSON for the logs and `sam local invoke`.
pub fn report(r: &Reconciled) -> serde_json::Value {
    serde_json::json!({
        "mail": {
            "sent": r.mail.sent,
            "retry_later": r.mail.retry_later,
            "gave_up": r.mail.gave_up,
            "blocked": r.mail.blocked,
            "claimed_elsewhere": r.mail.claimed_elsewhere,
            "errors": r.mail.errors,
        },
        "pending": {
            "fulfilled": r.pending.fulfilled,
            "expired": r.pending.expired,
            "refunded": r.pending.refunded,
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
    fn sqs_events_are_told_from_schedule_events() {
        let sqs = serde_json::json!({"Records": [
            {"eventSource": "aws:sqs", "body": "{\"free_order\":\"K1\"}"},
            {"eventSource": "aws:sns", "body": "x"}
        ]});
        assert_eq!(sqs_bodies(&sqs), Some(vec!["{\"free_order\":\"K1\"}"]));
        let schedule =
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event"});
        assert_eq!(sqs_bodies(&schedule), None);
    }

    #[test]
    fn the_budget_ends_a_margin_before_the_deadline() {
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // 60 s left: Lambda's deadline less the reply margin, less the rest of MARGIN.
        let b = budget(Deadline::from_lambda(1_000_000_000 + 60_000, wall));
        let left = b.remaining();
        assert!(
            left <= Duration::from_secs(57) && left > Duration::from_millis(56_500),
            "{left:?}"
        );
        // A deadline already closer than the margin: no new work at all.
        assert!(budget(Deadline::from_lambda(1_000_000_000 + 2_000, wall)).passed());
        assert!(budget(Deadline::from_lambda(0, wall)).passed());
    }
}
