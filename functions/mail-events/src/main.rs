// The main future nests the runtime's, the SDK's and the handler's: a fresh build's
// layout query can run deeper than the default limit (CI met it in mail-events).
#![recursion_limit = "256"]

use kiosk::mail_events::MailEvents;
use lambda_http::{LambdaEvent, lambda_runtime, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let events = MailEvents::from_env(&sdk)?;
    let events = &events;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let done =
                mail_events::handler::run(events, &event.payload, kiosk::clock::now()).await?;
            Ok::<_, lambda_runtime::Error>(mail_events::handler::report(&done))
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
