use kiosk::collect::Collector;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let collector = Collector::from_env(&sdk).await?;
    let state = (&collector, collector.config());
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(
            collect::handler::handle(state.0, state.1, req, kiosk::clock::now()).await,
        )
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
