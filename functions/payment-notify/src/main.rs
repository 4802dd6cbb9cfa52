use kiosk::shop::Shop;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = kiosk::tls::sdk_config().await?;
    let shop = Shop::from_env(&sdk).await?;
    let shop = &shop;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(
            payment_notify::handler::handle(shop, req, kiosk::clock::now()).await,
        )
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
