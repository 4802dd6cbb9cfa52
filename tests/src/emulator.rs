//! Writing and reading the emulator's SSM parameters and sent mail.

use anyhow::Result;

use crate::*;

/// Store a SecureString parameter in the emulator's SSM, as an author does with keys.
pub async fn put_secret(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) -> Result<()> {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await?;
    Ok(())
}

/// Mails SES accepted for `to`, read back from the emulator.
pub async fn read_mails(http: &reqwest::Client, endpoint: &str, to: &str) -> Vec<SentMail> {
    kiosk_localaws::sent_mail(http, endpoint, Some(to))
        .await
        .expect("read sent mail from the emulator")
}

/// Replace the stored order with `order` as given (a test setting up, or rewinding to,
/// a state no command writes directly).
pub async fn rewrite_order(store: &kiosk::store::Store, order: &kiosk::Order) {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    aws_sdk_dynamodb::Client::new(&sdk)
        .delete_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORDER#{}", order.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
        )
        .send()
        .await
        .unwrap();
    store.create_order(order).await.unwrap();
}
