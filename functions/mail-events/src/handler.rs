//! One SNS invocation of SES's reports ([`kiosk::mail_events`] has the rules).

use kiosk::mail_events::{Handled, MailEvents};
use kiosk::store::StoreError;
use time::OffsetDateTime;

/// Record what the invocation's reports say. A store failure fails the invocation, so
/// Lambda retries it (recording a report again changes nothing).
pub async fn run(
    events: &MailEvents,
    event: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<Handled, StoreError> {
    let done = events.handle(event, now).await?;
    tracing::info!(
        bounced = done.bounced,
        transient = done.transient,
        complained = done.complained,
        addresses_marked = done.addresses_marked,
        ignored = done.ignored,
        "mail events handled"
    );
    Ok(done)
}

/// The invocation's result, as JSON for the logs and `make invoke`.
pub fn report(done: &Handled) -> serde_json::Value {
    serde_json::json!({
        "bounced": done.bounced,
        "transient": done.transient,
        "complained": done.complained,
        "addresses_marked": done.addresses_marked,
        "ignored": done.ignored,
    })
}
