//! SES's reports about a mail as the mail-events function receives them: an SNS
//! notification (what Lambda's SNS trigger delivers) whose message is an SES event
//! publishing record, shaped as AWS documents them ("Examples of event data that Amazon
//! SES publishes to Amazon SNS"). SES itself cannot run here; the events in `events/`,
//! the tests and the devstack's bounce button all build their reports with this.

use serde_json::{Value, json};

/// What SES reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// `bounceType: Permanent` (`General`: the address does not exist).
    PermanentBounce,
    /// `bounceType: Transient` (`MailboxFull`).
    TransientBounce,
    /// The recipient marked the mail as spam (`complaintFeedbackType: abuse`).
    Complaint,
}

/// The mail a report is about, and where it came from.
#[derive(Debug, Clone)]
pub struct About<'a> {
    /// The SNS topic that delivers the report.
    pub topic_arn: &'a str,
    /// The configuration set the mail was sent with.
    pub configuration_set: &'a str,
    /// The mail's From address.
    pub source: &'a str,
    /// The recipient the report is about.
    pub recipient: &'a str,
    /// SES's message id of the mail.
    pub message_id: &'a str,
    /// When SES saw the bounce or complaint (RFC 3339, milliseconds, `Z`).
    pub at: &'a str,
}

/// The SNS event Lambda delivers for one SES report.
pub fn sns_event(report: Report, about: &About<'_>) -> Value {
    let account = about.topic_arn.split(':').nth(4).unwrap_or("123456789012");
    let region = about.topic_arn.split(':').nth(3).unwrap_or("us-east-1");
    let from_domain = about.source.rsplit('@').next().unwrap_or_default();
    let mail = json!({
        "timestamp": about.at,
        "source": about.source,
        "sourceArn": format!("arn:aws:ses:{region}:{account}:identity/{}", about.source),
        "sendingAccountId": account,
        "messageId": about.message_id,
        "destination": [about.recipient],
        "headersTruncated": false,
        "tags": {
            "ses:configuration-set": [about.configuration_set],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": [from_domain],
            "ses:caller-identity": ["kiosk"],
        },
    });
    let feedback_id = format!("{}-000000", about.message_id);
    let message = match report {
        Report::PermanentBounce | Report::TransientBounce => {
            let (kind, sub, status, code) = if report == Report::PermanentBounce {
                (
                    "Permanent",
                    "General",
                    "5.1.1",
                    "smtp; 550 5.1.1 user unknown",
                )
            } else {
                (
                    "Transient",
                    "MailboxFull",
                    "4.2.2",
                    "smtp; 452 4.2.2 mailbox full",
                )
            };
            json!({
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": kind,
                    "bounceSubType": sub,
                    "bouncedRecipients": [{
                        "emailAddress": about.recipient,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": code,
                    }],
                    "timestamp": about.at,
                    "feedbackId": feedback_id,
                    "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
                },
                "mail": mail,
            })
        }
        Report::Complaint => json!({
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{ "emailAddress": about.recipient }],
                "timestamp": about.at,
                "feedbackId": feedback_id,
                "userAgent": "Mozilla/5.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": about.at,
            },
            "mail": mail,
        }),
    };
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{}:0b7a9c3e-5d1f-4e2a-8b6c-1d2e3f405162", about.topic_arn),
            "Sns": {
                "Type": "Notification",
                "MessageId": format!("{}-sns", about.message_id),
                "TopicArn": about.topic_arn,
                "Subject": null,
                "Message": message.to_string(),
                "Timestamp": about.at,
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"),
                "UnsubscribeUrl": format!("https://sns.{region}.amazonaws.com/?Action=Unsubscribe"),
                "MessageAttributes": {},
            },
        }],
    })
}
