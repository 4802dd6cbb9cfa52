//! What SES reports back about the shop's mail: bounces and complaints, recorded on the
//! orders of the address they name, so nothing more is mailed there and the author sees
//! why (`kiosk orders --mail bounced|complained`).
//!
//! Every mail goes out with the stack's SES configuration set; its event destination
//! publishes `Bounce` and `Complaint` events to the stack's SNS topic, which invokes the
//! mail-events function with them. A record is believed only when it came from that
//! topic and names that configuration set (`mail.tags["ses:configuration-set"]`);
//! anything else is ignored and logged, so another topic subscribed to the function, or
//! a forwarded report about someone else's mail, changes nothing.
//!
//! - A **permanent** bounce (the address does not take mail, most often a typo) marks
//!   every order of the address `BOUNCED`. A transient or undetermined one (a full
//!   mailbox, a server down) changes nothing: SES retried, and will report again.
//! - A **complaint** (the buyer marked the mail as spam) marks them `COMPLAINED`, which a
//!   later bounce does not replace.
//!
//! A marked order gets no purchase mail (reconcile's retries drop it), no "email me my
//! links" mail and no new-edition mail, until the author corrects the address (`kiosk
//! resend ORDER --to ADDRESS`, which clears the mark). SES's account-level suppression
//! list stops such mail at SES too; our record is what the author sees. Orders placed
//! after the report are not marked: the buyer may have fixed the mailbox, and SES's list
//! still stops mail to an address that is on it.
//!
//! Each reported address is logged once per report ([`crate::alarm::MAIL_BOUNCED`],
//! [`crate::alarm::MAIL_COMPLAINED`]) without the address; the stack counts those as
//! metrics. SNS delivers at least once: a repeated report writes the same record again.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::email::Email;
use crate::order::{MailBlock, MailBlockKind};
use crate::store::{Store, StoreError};

/// The longest detail kept from SES's report (diagnostic codes can be long).
const DETAIL_MAX: usize = 200;

/// One report, as far as it matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The addresses SES could not deliver to; `permanent` only for `bounceType:
    /// Permanent`.
    Bounce {
        permanent: bool,
        at: OffsetDateTime,
        recipients: Vec<(Email, String)>,
    },
    Complaint {
        at: OffsetDateTime,
        recipients: Vec<(Email, String)>,
    },
    /// Another event type (a delivery, an open, ...): the destination should not send
    /// them; nothing is done.
    Other(String),
}

/// Why a record was not believed or not understood. Logged; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("not an SNS record (EventSource {0:?})")]
    NotSns(String),
    #[error("from topic {0:?}, not the shop's")]
    OtherTopic(String),
    #[error("about mail sent with configuration set {0:?}, not the shop's")]
    OtherConfigurationSet(String),
    #[error("not an SES event: {0}")]
    Malformed(String),
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// Addresses reported bouncing for good.
    pub bounced: u32,
    /// Addresses reported bouncing for now (nothing recorded).
    pub transient: u32,
    /// Addresses that complained.
    pub complained: u32,
    /// Orders that now carry the record.
    pub addresses_marked: u32,
    /// Records not believed or not understood.
    pub ignored: u32,
}

#[derive(Deserialize)]
struct SnsEvent {
    #[serde(rename = "Records", default)]
    records: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct SnsRecord {
    #[serde(rename = "EventSource", default)]
    event_source: String,
    #[serde(rename = "Sns")]
    sns: SnsMessage,
}

#[derive(Deserialize)]
struct SnsMessage {
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: String,
    mail: SesMail,
    bounce: Option<SesBounce>,
    complaint: Option<SesComplaint>,
}

#[derive(Deserialize)]
struct SesMail {
    #[serde(default)]
    tags: std::collections::HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    bounced_recipients: Vec<SesRecipient>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    complained_recipients: Vec<SesRecipient>,
    complaint_feedback_type: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesRecipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

/// One SNS record of an invocation, checked against the shop's topic and configuration
/// set, and its SES event read. `now` stands in for a report without a time.
pub fn parse_record(
    record: &serde_json::Value,
    topic_arn: &str,
    configuration_set: &str,
    now: OffsetDateTime,
) -> Result<Report, Ignored> {
    let record = SnsRecord::deserialize(record)
        .map_err(|e| Ignored::Malformed(format!("SNS record: {e}")))?;
    if record.event_source != "aws:sns" {
        return Err(Ignored::NotSns(record.event_source));
    }
    if record.sns.topic_arn != topic_arn {
        return Err(Ignored::OtherTopic(record.sns.topic_arn));
    }
    let event: SesEvent = serde_json::from_str(&record.sns.message)
        .map_err(|e| Ignored::Malformed(format!("SES event: {e}")))?;
    let sets = event
        .mail
        .tags
        .get("ses:configuration-set")
        .map(Vec::as_slice)
        .unwrap_or_default();
    if sets != [configuration_set] {
        return Err(Ignored::OtherConfigurationSet(sets.join(",")));
    }
    let at = |ts: Option<&str>| {
        ts.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .unwrap_or(now)
    };
    match event.event_type.as_str() {
        "Bounce" => {
            let b = event
                .bounce
                .ok_or_else(|| Ignored::Malformed("a Bounce without a bounce".into()))?;
            let kind = format!("{}/{}", b.bounce_type, b.bounce_sub_type);
            Ok(Report::Bounce {
                permanent: b.bounce_type == "Permanent",
                at: at(b.timestamp.as_deref()),
                recipients: recipients(&b.bounced_recipients, |r| match &r.diagnostic_code {
                    Some(d) => format!("{kind}: {d}"),
                    None => kind.clone(),
                })?,
            })
        }
        "Complaint" => {
            let c = event
                .complaint
                .ok_or_else(|| Ignored::Malformed("a Complaint without a complaint".into()))?;
            let kind = c
                .complaint_feedback_type
                .unwrap_or_else(|| "complaint".into());
            Ok(Report::Complaint {
                at: at(c.timestamp.as_deref()),
                recipients: recipients(&c.complained_recipients, |_| kind.clone())?,
            })
        }
        other => Ok(Report::Other(other.to_owned())),
    }
}

/// The reported addresses with what to record for each: SES's words without the
/// address, printable and at most [`DETAIL_MAX`] bytes.
fn recipients(
    list: &[SesRecipient],
    detail: impl Fn(&SesRecipient) -> String,
) -> Result<Vec<(Email, String)>, Ignored> {
    if list.is_empty() {
        return Err(Ignored::Malformed("no recipients".into()));
    }
    list.iter()
        .map(|r| {
            let email = Email::parse(&r.email_address)
                .map_err(|e| Ignored::Malformed(format!("a recipient: {e}")))?;
            let text: String = crate::mail::redact(&detail(r), &r.email_address)
                .chars()
                .filter(|&c| !crate::text::is_hidden(c))
                .collect();
            let mut end = text.len().min(DETAIL_MAX);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Ok((email, text[..end].trim().to_owned()))
        })
        .collect()
}

/// The mail-events function's handle: the store, and whose reports it believes.
pub struct MailEvents {
    store: crate::store::views::MailEventsStore,
    topic_arn: String,
    configuration_set: String,
}

impl MailEvents {
    /// A handle over a store built elsewhere (tests).
    pub fn from_parts(store: Store, config: &crate::config::MailEventsConfig) -> MailEvents {
        MailEvents {
            store: crate::store::views::MailEventsStore::of(store),
            topic_arn: config.topic_arn.clone(),
            configuration_set: config.configuration_set.clone(),
        }
    }

    /// The mail-events function's handle, built once from the environment.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::startup::InitError> {
        Ok(Self::new(
            sdk,
            &crate::config::MailEventsConfig::from_env()?,
        ))
    }

    /// A handle with `config` (`make dev`).
    pub fn new(sdk: &aws_config::SdkConfig, config: &crate::config::MailEventsConfig) -> Self {
        Self::from_parts(crate::startup::open_store(sdk, &config.table_name), config)
    }

    /// Record every believable report of one SNS invocation. A store failure stops the
    /// invocation with an error (Lambda retries it; writing a record again is
    /// harmless); a record not believed or not understood is logged and skipped.
    pub async fn handle(
        &self,
        event: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Handled, StoreError> {
        let mut done = Handled::default();
        let records = match SnsEvent::deserialize(event) {
            Ok(e) => e.records,
            Err(e) => {
                tracing::warn!(error = %e, "mail event ignored: not an SNS event");
                done.ignored += 1;
                return Ok(done);
            }
        };
        for record in &records {
            let report = match parse_record(record, &self.topic_arn, &self.configuration_set, now) {
                Ok(r) => r,
                Err(why) => {
                    tracing::warn!(why = %why, "mail event ignored");
                    done.ignored += 1;
                    continue;
                }
            };
            match report {
                Report::Bounce {
                    permanent: false,
                    recipients,
                    ..
                } => {
                    tracing::info!(
                        recipients = recipients.len(),
                        "transient bounce: nothing recorded"
                    );
                    done.transient += recipients.len() as u32;
                }
                Report::Bounce {
                    permanent: true,
                    at,
                    recipients,
                } => {
                    for (email, detail) in recipients {
                        let kind = MailBlockKind::Bounced;
                        let n = self.mark(&email, MailBlock { kind, at, detail }).await?;
                        tracing::warn!(message = crate::alarm::MAIL_BOUNCED, orders = n);
                        done.bounced += 1;
                        done.addresses_marked += n;
                    }
                }
                Report::Complaint { at, recipients } => {
                    for (email, detail) in recipients {
                        let kind = MailBlockKind::Complained;
                        let n = self.mark(&email, MailBlock { kind, at, detail }).await?;
                        tracing::warn!(message = crate::alarm::MAIL_COMPLAINED, orders = n);
                        done.complained += 1;
                        done.addresses_marked += n;
                    }
                }
                Report::Other(kind) => {
                    tracing::info!(event_type = %kind, "mail event of another type: nothing to do");
                }
            }
        }
        Ok(done)
    }

    /// Record the block on `email`'s one block item (one write, however many orders the
    /// address has); 1 when written, 0 when a complaint was there for a bounce.
    async fn mark(&self, email: &Email, block: MailBlock) -> Result<u32, StoreError> {
        let written = self.store.block_address(email, &block).await?;
        if written {
            tracing::info!(block = block.kind.as_str(), "mail to the address stopped");
        }
        Ok(u32::from(written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kiosk-MailEvents";
    const SET: &str = "kiosk-mail";
    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn record(topic: &str, message: serde_json::Value) -> serde_json::Value {
        json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "TopicArn": topic, "Message": message.to_string()}
        })
    }

    fn bounce(kind: &str, set: &str, to: &str) -> serde_json::Value {
        json!({
            "eventType": "Bounce",
            "bounce": {
                "bounceType": kind, "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                    "diagnosticCode": format!("smtp; 550 5.1.1 <{to}>: user unknown")}],
                "timestamp": "2026-11-28T10:00:00.123Z", "feedbackId": "f1"
            },
            "mail": {"messageId": "m1", "tags": {"ses:configuration-set": [set]}}
        })
    }

    #[test]
    fn a_permanent_bounce_is_read_without_the_address_in_its_detail() {
        let r = parse_record(
            &record(TOPIC, bounce("Permanent", SET, "Reader@Example.com")),
            TOPIC,
            SET,
            NOW,
        )
        .unwrap();
        let Report::Bounce {
            permanent,
            at,
            recipients,
        } = r
        else {
            panic!("{r:?}")
        };
        assert!(permanent);
        assert_eq!(at, datetime!(2026-11-28 10:00:00.123 UTC));
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients[0].0, Email::parse("Reader@example.com").unwrap());
        assert_eq!(
            recipients[0].1,
            "Permanent/General: smtp; 550 5.1.1 <<recipient>>: user unknown"
        );
        for kind in ["Transient", "Undetermined"] {
            let r = parse_record(
                &record(TOPIC, bounce(kind, SET, "a@example.com")),
                TOPIC,
                SET,
                NOW,
            );
            assert!(
                matches!(
                    r,
                    Ok(Report::Bounce {
                        permanent: false,
                        ..
                    })
                ),
                "{kind}: {r:?}"
            );
        }
    }

    #[test]
    fn a_complaint_is_read_with_its_feedback_type() {
        let msg = json!({
            "eventType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "a@example.com"}],
                "complaintFeedbackType": "abuse"},
            "mail": {"tags": {"ses:configuration-set": [SET]}}
        });
        let r = parse_record(&record(TOPIC, msg), TOPIC, SET, NOW).unwrap();
        assert_eq!(
            r,
            Report::Complaint {
                at: NOW,
                recipients: vec![(Email::parse("a@example.com").unwrap(), "abuse".into())]
            }
        );
    }

    #[test]
    fn only_the_shops_topic_and_configuration_set_are_believed() {
        let other_topic = "arn:aws:sns:us-east-1:123456789012:someone-else";
        assert_eq!(
            parse_record(
                &record(other_topic, bounce("Permanent", SET, "a@example.com")),
                TOPIC,
                SET,
                NOW
            ),
            Err(Ignored::OtherTopic(other_topic.into()))
        );
        assert_eq!(
            parse_record(
                &record(TOPIC, bounce("Permanent", "other-set", "a@example.com")),
                TOPIC,
                SET,
                NOW
            ),
            Err(Ignored::OtherConfigurationSet("other-set".into()))
        );
        // Two sets named, or none (an identity's feedback notification): not ours.
        let mut two = bounce("Permanent", SET, "a@example.com");
        two["mail"]["tags"]["ses:configuration-set"] = json!([SET, "other-set"]);
        assert!(matches!(
            parse_record(&record(TOPIC, two), TOPIC, SET, NOW),
            Err(Ignored::OtherConfigurationSet(_))
        ));
        let mut none = bounce("Permanent", SET, "a@example.com");
        none["mail"]["tags"] = json!({});
        assert!(matches!(
            parse_record(&record(TOPIC, none), TOPIC, SET, NOW),
            Err(Ignored::OtherConfigurationSet(_))
        ));
        let mut sqs = record(TOPIC, bounce("Permanent", SET, "a@example.com"));
        sqs["EventSource"] = json!("aws:sqs");
        assert!(matches!(
            parse_record(&sqs, TOPIC, SET, NOW),
            Err(Ignored::NotSns(_))
        ));
    }

    #[test]
    fn malformed_reports_are_ignored_with_a_reason() {
        let cases = [
            json!({"EventSource": "aws:sns"}),
            json!({"EventSource": "aws:sns", "Sns": {"TopicArn": TOPIC, "Message": "not json"}}),
            record(
                TOPIC,
                json!({"eventType": "Bounce", "mail": {"tags": {"ses:configuration-set": [SET]}}}),
            ),
            record(TOPIC, bounce("Permanent", SET, "not an address")),
            record(
                TOPIC,
                json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": []},
                "mail": {"tags": {"ses:configuration-set": [SET]}}}),
            ),
        ];
        for case in cases {
            assert!(
                matches!(
                    parse_record(&case, TOPIC, SET, NOW),
                    Err(Ignored::Malformed(_))
                ),
                "{case}"
            );
        }
        let delivery = record(
            TOPIC,
            json!({"eventType": "Delivery", "mail": {"tags": {"ses:configuration-set": [SET]}}}),
        );
        assert_eq!(
            parse_record(&delivery, TOPIC, SET, NOW),
            Ok(Report::Other("Delivery".into()))
        );
    }

    #[test]
    fn a_long_or_hostile_diagnostic_is_cut_and_made_printable() {
        let mut msg = bounce("Permanent", SET, "a@example.com");
        msg["bounce"]["bouncedRecipients"][0]["diagnosticCode"] =
            json!(format!("\u{1b}[31m{}", "é".repeat(300)));
        let Report::Bounce { recipients, .. } =
            parse_record(&record(TOPIC, msg), TOPIC, SET, NOW).unwrap()
        else {
            panic!()
        };
        let detail = &recipients[0].1;
        assert!(detail.len() <= DETAIL_MAX, "{}", detail.len());
        assert!(!detail.contains('\u{1b}'), "{detail}");
        assert!(detail.starts_with("Permanent/General: [31mé"), "{detail}");
    }
}
