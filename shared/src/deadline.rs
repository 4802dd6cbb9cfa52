//! The invocation's deadline, and how much of it each outbound provider call may take.
//!
//! Lambda stops a function at its timeout wherever the work has got to, and API Gateway
//! then answers the buyer with a bare 503. So each HTTP function runs a request inside
//! [`Deadline::run`], which
//! - ends the work [`REPLY_MARGIN`] before Lambda would, so the handler still answers
//!   with its own fallback (the return page: "confirming your payment", which refreshes
//!   itself); every outbound call, AWS SDK ones included, is bounded by that;
//! - makes the deadline visible to the payment channels ([`attempt_timeout`]), which fit
//!   each attempt and each retry into what is left, keeping [`AFTER_CALL`] for recording
//!   a payment and mailing the buyer, instead of a fixed 3 × 6 s.
//!
//! Cutting the work short is safe by construction: every write is one conditional item
//! or transaction (done or not), and a recorded payment's mail is due from the same
//! transaction, so reconcile sends it if the invocation ends first.
//!
//! The deadline is task-local rather than a parameter of every channel method: only the
//! request's own task reads it, and code outside [`Deadline::run`] (the CLI) sees none
//! and keeps the fixed per-call timeouts. Runs that stop between whole items (reconcile,
//! `kiosk reconcile`) take the same type as their budget ([`Deadline::passed`]): one
//! deadline type for every stop.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Kept back from Lambda's deadline: time to render the reply and for the runtime to post
/// it before the function is stopped.
pub const REPLY_MARGIN: Duration = Duration::from_millis(1000);

/// Kept back by a provider call for the work that follows it: recording the payment (one
/// transaction) and the purchase mail (one SES call), both well under a second.
pub const AFTER_CALL: Duration = Duration::from_secs(2);

/// No provider attempt starts with less than this left: too short for a TLS handshake and
/// a reply, and it would only delay the fallback.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// When the current request must be answered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// `d` from now (the devstack and tests, which have no Lambda context).
    pub fn after(d: Duration) -> Self {
        Deadline {
            end: Instant::now() + d,
        }
    }

    /// From the Lambda context's deadline (milliseconds since the epoch) and the wall
    /// clock now, less [`REPLY_MARGIN`]. A deadline already past gives one that has
    /// passed: the work is not started and the fallback is answered at once.
    pub fn from_lambda(deadline_ms: u64, now_wall: SystemTime) -> Self {
        Deadline::after(lambda_time_left(deadline_ms, now_wall).saturating_sub(REPLY_MARGIN))
    }

    /// Whether it has passed: work that is finished whole or not started checks this
    /// between items (reconcile's runs, `kiosk reconcile`).
    pub fn passed(&self) -> bool {
        Instant::now() >= self.end
    }

    /// The deadline `d` before this one (a run's budget for starting new work, inside the
    /// invocation's deadline).
    pub fn earlier_by(self, d: Duration) -> Deadline {
        Deadline {
            end: self.end.checked_sub(d).unwrap_or_else(Instant::now),
        }
    }

    /// Time left until the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Run `work` with this deadline visible to [`attempt_timeout`]; `None` if the
    /// deadline came first (the work is dropped where it was).
    pub async fn run<F: Future>(self, work: F) -> Option<F::Output> {
        DEADLINE
            .scope(self.end, tokio::time::timeout_at(self.end, work))
            .await
            .ok()
    }
}

/// Time left until a Lambda context's deadline (milliseconds since the epoch), by the
/// wall clock `now_wall`; zero once past.
pub fn lambda_time_left(deadline_ms: u64, now_wall: SystemTime) -> Duration {
    let now_ms = now_wall
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// What is left of the current request's deadline; `None` outside [`Deadline::run`]
/// (the CLI, which has no deadline).
pub fn time_left() -> Option<Duration> {
    DEADLINE
        .try_with(|end| end.saturating_duration_since(Instant::now()))
        .ok()
}

/// How long the next attempt of a provider call may take: `cap` (the call's own limit),
/// cut to what is left of the current request's deadline less [`AFTER_CALL`]; `None`
/// when that is under [`MIN_ATTEMPT`], so the caller stops retrying and reports it.
/// Outside [`Deadline::run`] it is always `cap`.
pub fn attempt_timeout(cap: Duration) -> Option<Duration> {
    let Ok(end) = DEADLINE.try_with(|end| *end) else {
        return Some(cap);
    };
    let left = end
        .saturating_duration_since(Instant::now())
        .saturating_sub(AFTER_CALL);
    (left >= MIN_ATTEMPT).then(|| left.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(6);

    #[test]
    fn the_lambda_deadline_is_kept_a_margin_short() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let d = Deadline::from_lambda(1_000_000_000 + 15_000, now);
        let left = d.remaining();
        assert!(left <= Duration::from_secs(14), "{left:?}");
        assert!(left > Duration::from_secs(13), "{left:?}");
        // Already past, or a context without a deadline: nothing left.
        assert_eq!(
            Deadline::from_lambda(1_000_000_000 - 1, now).remaining(),
            Duration::ZERO
        );
        assert_eq!(Deadline::from_lambda(0, now).remaining(), Duration::ZERO);
    }

    #[tokio::test]
    async fn attempts_fit_in_what_is_left() {
        assert_eq!(attempt_timeout(CAP), Some(CAP), "no deadline: the cap");
        let long = Deadline::after(Duration::from_secs(60));
        assert_eq!(
            long.run(async { attempt_timeout(CAP) }).await,
            Some(Some(CAP))
        );
        let short = Deadline::after(Duration::from_secs(4));
        let t = short.run(async { attempt_timeout(CAP) }).await.flatten();
        let t = t.expect("time for one attempt");
        assert!(
            t <= Duration::from_secs(2) && t > Duration::from_secs(1),
            "{t:?}"
        );
        let none = Deadline::after(AFTER_CALL + MIN_ATTEMPT / 2);
        assert_eq!(none.run(async { attempt_timeout(CAP) }).await, Some(None));
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_cut_off() {
        let d = Deadline::after(Duration::from_millis(50));
        let out = d
            .run(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "finished"
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(
            Deadline::after(Duration::from_secs(5))
                .run(async { "finished" })
                .await,
            Some("finished")
        );
    }
}
