//! Log messages the deployed stack's CloudWatch alarms count (template.yaml metric
//! filters match `$.fields.message` of the JSON log lines exactly): a test checks that
//! every filter names one of these, so renaming a message cannot silently disarm an
//! alarm.

/// A notification was refused: forged or tampered signature, unknown order, wrong
/// amount. Money may have been taken for an order we cannot match.
pub const NOTIFY_REFUSED: &str = "notify refused";

/// A purchase mail failed its last attempt: a paying buyer has no mail.
pub const MAIL_FAILED_FOR_GOOD: &str = "purchase mail failed for good";

/// Reconcile could not settle a pending order (provider unreachable, a payment of the
/// wrong amount, ...).
pub const RECONCILE_ITEM_FAILED: &str = "reconcile: could not settle a pending order";

/// A buyer's bank disputes a card payment (a chargeback): the purchase's links are
/// suspended, and the author has a few days to answer in Stripe's dashboard.
pub const DISPUTE_OPENED: &str = "payment disputed";

/// A dispute was lost: the money went back to the buyer; the links stay suspended.
pub const DISPUTE_LOST: &str = "dispute lost";

/// SES reported a permanent bounce of a buyer's address (counted as `Bounces`).
pub const MAIL_BOUNCED: &str = "mail bounced";

/// A buyer marked a mail as spam (counted as `Complaints`).
pub const MAIL_COMPLAINED: &str = "mail complaint";

/// A free claim was refused because the shop mailed its hourly or daily allowance of
/// free copies (`FreeMailsPerHour`, `FreeMailsPerDay`): a launch, or someone making the
/// shop mail strangers (counted as `FreeCapReached`).
pub const FREE_CAP_REACHED: &str = "free copies: shop-wide cap reached";

/// Every message a metric filter counts.
pub const ALL: [&str; 8] = [
    NOTIFY_REFUSED,
    MAIL_FAILED_FOR_GOOD,
    RECONCILE_ITEM_FAILED,
    DISPUTE_OPENED,
    DISPUTE_LOST,
    MAIL_BOUNCED,
    MAIL_COMPLAINED,
    FREE_CAP_REACHED,
];
