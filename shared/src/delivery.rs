//! Delivering the purchase mail, at payment time and again later until it goes out
//! (docs/architecture.md, "Delivery and reconcile").
//!
//! A paid order carries its mail state. Fulfilment marks the mail due and *leases* it to
//! the process that just recorded the payment for [`MAIL_LEASE`]; that process sends it.
//! Whatever did not go out -- SES refused, throttled, or the process died -- stays due with
//! a next-try time in the sparse `MailDue` index, and [`Delivery::retry_due_mails`] (run by
//! the reconcile function on a schedule, `kiosk reconcile` and the devstack) sends it:
//! each order is claimed with one conditional write before its mail is sent, so two runs,
//! or a run and a late notification, never mail a buyer twice. After
//! [`MAX_MAIL_ATTEMPTS`] (about two days of retries) the mail is marked failed for good
//! and shows in `kiosk orders --mail failed`.
//!
//! The one way a buyer can get a purchase mail twice: the process stops after SES
//! accepted the mail and before its record (SES takes no idempotency key, and a mail
//! cannot be unsent). That moment is kept out of reach of a timeout -- a send is not
//! started with less than [`MAIL_ROOM`] left of the request -- and its record is retried
//! beyond the SDK's own attempts; a crash in those milliseconds can still send a second
//! mail with the same link (never a second link or payment). An order whose address bounced or
//! complained ([`crate::mail_events`]) is not mailed at all: its due mail is dropped.

use std::collections::HashSet;

use time::{Duration, OffsetDateTime};

use crate::grant::Grant;
use crate::ids::OrderId;
use crate::mail::{Mailer, purchase_mail};
use crate::order::{MailState, Order, OrderState};
use crate::store::StoreError;
use crate::store::views::MailStore;

pub use crate::order::{MAIL_LEASE, MAX_MAIL_ATTEMPTS};

/// Left of the request, at least, to start a purchase mail: SES's answer and the
/// record of it (each a few tens of milliseconds; this leaves room for the SDK's retries).
pub const MAIL_ROOM: std::time::Duration = std::time::Duration::from_millis(1500);

/// The pauses between further tries of recording a mail that went out (after the SDK's
/// own three attempts each, when its retry quota allows them): five more tries within
/// about 1.3 s, inside [`MAIL_ROOM`].
const RECORD_PAUSES: [std::time::Duration; 5] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(350),
    std::time::Duration::from_millis(600),
];

/// A mail not tried this time and not recorded: still due as the order says (its lease,
/// or its next try), no attempt counted.
fn left_due(order: &Order, now: OffsetDateTime) -> MailOutcome {
    let attempts = match order.mail {
        MailState::Due { attempts, .. } => attempts,
        _ => 0,
    };
    MailOutcome::Retry {
        attempts,
        next_at: now,
    }
}

/// Whether a mail may be started: outside a request's deadline always; inside one, with
/// at least [`MAIL_ROOM`] left, so the deadline cannot fall between the send and its
/// record (the purchase mail here, a new edition's in [`crate::mailout`]).
pub(crate) fn room_to_send() -> bool {
    crate::deadline::time_left().is_none_or(|left| left >= MAIL_ROOM)
}

/// Record that a mail went out (`record`, an idempotent write), trying again after the
/// SDK's own attempts: the record is what keeps a later run from sending the mail again.
pub(crate) async fn record_sent<F, Fut, E>(mut record: F) -> Result<(), E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut recorded = record().await;
    for pause in RECORD_PAUSES {
        if recorded.is_ok() {
            break;
        }
        tokio::time::sleep(pause).await;
        recorded = record().await;
    }
    recorded
}

/// When a failed purchase mail is next due: 1, 2, 4, ... minutes, at most 6 hours apart.
pub fn mail_backoff(attempts: u32) -> Duration {
    Duration::minutes(1i64 << attempts.min(9)).min(Duration::hours(6))
}

/// What one attempt to send a purchase mail led to (and what was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    /// SES refused; due again at `next_at`.
    Retry {
        attempts: u32,
        next_at: OffsetDateTime,
    },
    /// SES refused for the last time: the order's mail is failed for good.
    GaveUp {
        attempts: u32,
    },
    /// The order's address bounced for good or complained: nothing sent, the mail is no
    /// longer due.
    Blocked,
}

/// What one run over the due mails did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailRun {
    pub sent: u32,
    pub retry_later: u32,
    pub gave_up: u32,
    /// Due mails dropped because their address bounced or complained.
    pub blocked: u32,
    /// Claimed by another run (or already sent) between the query and the claim.
    pub claimed_elsewhere: u32,
    /// Due orders whose grant is missing or unreadable: logged, left due.
    pub errors: u32,
    /// The run stopped because its time budget ran out; the next run continues.
    pub out_of_time: bool,
}

/// Sends purchase mails and records the outcome on the order.
pub struct Delivery<'a> {
    store: &'a MailStore,
    mailer: &'a Mailer,
    /// Base URL of the API, for the download link.
    public_base_url: &'a str,
    /// The language of a mail whose order has none recorded.
    default_lang: crate::i18n::Lang,
}

/// How many due orders one query reads; a run queries again while it has time.
const PAGE: i32 = 50;

impl<'a> Delivery<'a> {
    pub fn new(
        store: &'a MailStore,
        mailer: &'a Mailer,
        public_base_url: &'a str,
        default_lang: crate::i18n::Lang,
    ) -> Self {
        Delivery {
            store,
            mailer,
            public_base_url,
            default_lang,
        }
    }

    /// Send the purchase mail for `grant` and record the outcome. A failure is logged and
    /// left due (or failed for good after [`MAX_MAIL_ATTEMPTS`]), never propagated: the
    /// payment is what matters, and the mail is retried.
    pub async fn send_purchase_mail(
        &self,
        order: &Order,
        grant: &Grant,
        now: OffsetDateTime,
    ) -> MailOutcome {
        // The order's own mark (recorded before SES's reports were kept per address), or
        // its address's.
        let block = match &order.mail_block {
            Some(b) => Some(b.clone()),
            None => match self.store.address_block(&order.email).await {
                Ok(b) => b,
                Err(e) => {
                    // Not known: stays due (the lease, or its next try), and the next
                    // run asks again; no attempt is counted.
                    tracing::warn!(order_id = %order.id, error = %e, "could not read the address's mail block");
                    return left_due(order, now);
                }
            },
        };
        if let Some(block) = &block {
            tracing::info!(order_id = %order.id, block = block.kind.as_str(), "purchase mail not sent: the address bounced or complained");
            if let Err(e) = self.store.mail_not_needed(&order.id).await {
                // Still due: the next run sees the block again and drops it then.
                tracing::warn!(order_id = %order.id, error = %e, "could not drop a blocked mail");
            }
            return MailOutcome::Blocked;
        }
        let mail = purchase_mail(
            order,
            grant,
            &grant.token.url_under(self.public_base_url),
            self.mailer.help(),
            self.default_lang,
        );
        // SES takes no idempotency key, so a mail sent and then not recorded goes out
        // again from reconcile. The send and its record must both fit in what is left of
        // the request: with less, the mail is left due (its lease, then reconcile).
        if !room_to_send() {
            tracing::warn!(order_id = %order.id, "purchase mail left to reconcile: too little time left to send and record it");
            return left_due(order, now);
        }
        match self.mailer.send(&order.email, &mail).await {
            Ok(()) => {
                if let Err(e) = record_sent(|| self.store.mail_sent(&order.id, now)).await {
                    // The buyer has the mail; the order still says due, so a later
                    // reconcile run may send it once more after the lease.
                    tracing::error!(order_id = %order.id, error = %e, "mail sent but not recorded");
                }
                MailOutcome::Sent
            }
            Err(e) => {
                let attempts = match order.mail {
                    MailState::Due { attempts, .. } => attempts + 1,
                    _ => 1,
                };
                let outcome = if attempts >= MAX_MAIL_ATTEMPTS {
                    tracing::error!(message = crate::alarm::MAIL_FAILED_FOR_GOOD, order_id = %order.id, error = %e, reason = %e.reason(), attempts);
                    self.store
                        .mail_given_up(&order.id, attempts, now)
                        .await
                        .map(|()| MailOutcome::GaveUp { attempts })
                } else {
                    let next_at = now + mail_backoff(attempts);
                    tracing::warn!(order_id = %order.id, error = %e, reason = %e.reason(), attempts, "purchase mail failed; left due for retry");
                    self.store
                        .mail_failed(&order.id, attempts, next_at)
                        .await
                        .map(|()| MailOutcome::Retry { attempts, next_at })
                };
                outcome.unwrap_or_else(|e| {
                    tracing::error!(order_id = %order.id, error = %e, "could not record mail failure");
                    // Still due with its old next-try time (or the lease): it is retried.
                    MailOutcome::Retry {
                        attempts,
                        next_at: now,
                    }
                })
            }
        }
    }

    /// Send every purchase mail whose next try has come, oldest first, until none is left
    /// or `deadline` passes. Each order is claimed (its next try moved to `now +`
    /// [`MAIL_LEASE`]) by a conditional write before its mail is sent, so a concurrent run
    /// skips it. An order is finished whole or not started: the deadline is checked
    /// between orders, so give it a margin of one send.
    pub async fn retry_due_mails(
        &self,
        now: OffsetDateTime,
        deadline: crate::deadline::Deadline,
    ) -> Result<MailRun, StoreError> {
        let mut run = MailRun::default();
        // The index is eventually consistent: an order handled this run may still show as
        // due for a moment. Each is tried at most once per run.
        let mut seen: HashSet<OrderId> = HashSet::new();
        loop {
            let page = self.store.due_mails(now, PAGE).await?;
            let fresh: Vec<Order> = page
                .into_iter()
                .filter(|o| seen.insert(o.id.clone()))
                .collect();
            if fresh.is_empty() {
                return Ok(run);
            }
            for order in fresh {
                if deadline.passed() {
                    run.out_of_time = true;
                    return Ok(run);
                }
                let MailState::Due { next_at, .. } = order.mail else {
                    continue;
                };
                let Some(claimed) = self
                    .store
                    .claim_due_mail(&order.id, next_at, now + MAIL_LEASE)
                    .await?
                else {
                    run.claimed_elsewhere += 1;
                    continue;
                };
                let OrderState::Paid(granted) = claimed.state() else {
                    // Refunded before its mail went out: the link is revoked, so no mail.
                    self.store.mail_not_needed(&claimed.id).await?;
                    continue;
                };
                let grant = match self.store.get_grant(&granted.grant).await {
                    Ok(Some(g)) => g,
                    Ok(None) => {
                        tracing::error!(order_id = %claimed.id, "due purchase mail has no grant to link to");
                        run.errors += 1;
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(order_id = %claimed.id, error = %e, "could not read the grant of a due mail");
                        run.errors += 1;
                        continue;
                    }
                };
                match self.send_purchase_mail(&claimed, &grant, now).await {
                    MailOutcome::Sent => run.sent += 1,
                    MailOutcome::Retry { .. } => run.retry_later += 1,
                    MailOutcome::GaveUp { .. } => run.gave_up += 1,
                    MailOutcome::Blocked => run.blocked += 1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_backoff_grows_and_caps() {
        assert_eq!(mail_backoff(0), Duration::minutes(1));
        assert_eq!(mail_backoff(1), Duration::minutes(2));
        assert_eq!(mail_backoff(3), Duration::minutes(8));
        assert_eq!(mail_backoff(30), Duration::hours(6));
    }

    #[test]
    fn giving_up_takes_about_two_days() {
        let total: Duration = (1..MAX_MAIL_ATTEMPTS).map(mail_backoff).sum();
        assert!(
            total >= Duration::hours(36) && total <= Duration::hours(60),
            "{total}"
        );
    }
}
