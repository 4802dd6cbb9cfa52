// The main future nests the runtime's, the SDK's and the handler's: a fresh build's
// layout query can run deeper than the default limit (CI met it in mail-events).
#![recursion_limit = "256"]

use kiosk::stamp::Stamper;
use lambda_http::{LambdaEvent, lambda_runtime, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let stamper = Stamper::from_env(&sdk)?;
    let stamper = &stamper;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(stamp::handler::handle(stamper, &event.payload).await)
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
