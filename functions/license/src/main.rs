// The main future nests the runtime's, the SDK's and the handler's: a fresh build's
// layout query can run deeper than the default limit (CI met it in mail-events).
#![recursion_limit = "256"]

use kiosk::licenses::Licenses;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let licenses = Licenses::from_env(&sdk).await?;
    let licenses = &licenses;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(
            license::handler::handle(licenses, req, kiosk::clock::now()).await,
        )
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
