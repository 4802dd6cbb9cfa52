// The main future nests the runtime's, the SDK's and the handler's: a fresh build's
// layout query can run deeper than the default limit (CI met it in mail-events).
#![recursion_limit = "256"]

use kiosk::reconcile::Reconciler;
use lambda_http::{LambdaEvent, lambda_runtime, service_fn};
use reconcile::handler;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let shop = Reconciler::from_env(&sdk).await?;
    let shop = &shop;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let out = handler::handle(
                shop,
                &event.payload,
                kiosk::clock::now(),
                event.context.deadline,
            )
            .await?;
            Ok::<_, lambda_runtime::Error>(out)
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
