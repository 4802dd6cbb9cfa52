//! One invocation of the stamping function: a batch of grants whose stamped copies to
//! make ([`kiosk::stamp`] has the rules). Two event sources feed it:
//!
//! - the table's DynamoDB stream, filtered in template.yaml to the *insert* of a grant
//!   whose `stamp` is true: every new purchase, free copy and new edition of a stamped
//!   product, stamped in the background the moment its grant is written;
//! - the stack's `StampQueue`: `{"stamp_grant": token}` from the download function when
//!   a download finds no copy (made before the stream's, or expired by the lifecycle).
//!
//! A record that fails is reported in `batchItemFailures` (the SQS message id, or the
//! stream record's sequence number), so Lambda retries that one and the ones after it,
//! not the whole batch; a record that is not a stamping request is skipped.

use kiosk::DownloadToken;
use kiosk::stamp::{Stamped, Stamper};
use serde::Deserialize;
use serde_json::{Value, json};

/// One record of an SQS or DynamoDB stream event, as far as stamping reads it.
#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "eventSource", default)]
    source: String,
    #[serde(rename = "eventName", default)]
    name: String,
    #[serde(rename = "messageId", default)]
    message_id: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    dynamodb: Option<StreamRecord>,
}

#[derive(Debug, Deserialize)]
struct StreamRecord {
    #[serde(rename = "Keys", default)]
    keys: Option<Keys>,
    #[serde(rename = "SequenceNumber", default)]
    sequence: String,
}

#[derive(Debug, Deserialize)]
struct Keys {
    pk: Option<StringValue>,
}

#[derive(Debug, Deserialize)]
struct StringValue {
    #[serde(rename = "S")]
    s: String,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
}

/// The grant a record asks to stamp, with the id Lambda retries it by; `None`: not a
/// stamping request (skipped).
fn request(r: &Record) -> Option<(DownloadToken, String)> {
    match r.source.as_str() {
        "aws:sqs" => Some((kiosk::stamp::parse_message(&r.body)?, r.message_id.clone())),
        "aws:dynamodb" if r.name == "INSERT" => {
            let d = r.dynamodb.as_ref()?;
            let pk = &d.keys.as_ref()?.pk.as_ref()?.s;
            let token = DownloadToken::parse(pk.strip_prefix("GRANT#")?).ok()?;
            Some((token, d.sequence.clone()))
        }
        _ => None,
    }
}

/// Stamp every grant the event names; the result lists what failed, for Lambda to
/// retry, and counts the rest for the logs.
pub async fn handle(stamper: &Stamper, event: &Value) -> Value {
    let records = Event::deserialize(event)
        .map(|e| e.records)
        .unwrap_or_default();
    let (mut made, mut not_stamped, mut not_served, mut skipped) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for r in &records {
        let Some((token, id)) = request(r) else {
            skipped += 1;
            continue;
        };
        match stamper.stamp_grant(&token).await {
            Ok(Stamped::Made(n)) => made += n,
            Ok(Stamped::NotStamped) => not_stamped += 1,
            Ok(Stamped::NotServed) => not_served += 1,
            Err(e) => {
                tracing::error!(error = %kiosk::error_chain(&e), "stamping failed");
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
    }
    tracing::info!(
        made,
        not_stamped,
        not_served,
        skipped,
        failed = failures.len(),
        "stamp batch"
    );
    json!({
        "batchItemFailures": failures,
        "made": made,
        "not_stamped": not_stamped,
        "not_served": not_served,
        "skipped": skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ExampleGrantToken000000000000004";

    fn record(v: Value) -> Record {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn both_sources_name_a_grant_and_anything_else_is_skipped() {
        let sqs = record(json!({
            "eventSource": "aws:sqs", "messageId": "m1",
            "body": format!("{{\"stamp_grant\":\"{TOKEN}\"}}"),
        }));
        assert_eq!(
            request(&sqs).map(|(t, id)| (t.expose().to_owned(), id)),
            Some((TOKEN.to_owned(), "m1".to_owned()))
        );
        let insert = |name: &str, pk: &str| {
            record(json!({
                "eventSource": "aws:dynamodb", "eventName": name,
                "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "GRANT"}}, "SequenceNumber": "42"},
            }))
        };
        assert_eq!(
            request(&insert("INSERT", &format!("GRANT#{TOKEN}"))).map(|(_, id)| id),
            Some("42".to_owned())
        );
        for r in [
            insert("MODIFY", &format!("GRANT#{TOKEN}")),
            insert("INSERT", "ORDER#K1"),
            insert("INSERT", "GRANT#not a token"),
            record(
                json!({"eventSource": "aws:sqs", "messageId": "m2", "body": "{\"free_order\":\"K1\"}"}),
            ),
            record(json!({"eventSource": "aws:sns"})),
        ] {
            assert!(request(&r).is_none(), "{r:?}");
        }
    }
}
