use kiosk::Config;
use kiosk::clock::{Clock, SystemClock};
use lambda_http::{LambdaEvent, lambda_runtime, service_fn};
use reconcile::handler::{self, State};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiosk_web::init_tracing();
    let sdk = aws_config::load_from_env().await;
    let state = State::new(&sdk, Config::from_env()?);
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let stop_at = handler::budget_end(
                event.context.deadline,
                std::time::SystemTime::now(),
                std::time::Instant::now(),
            );
            let run = handler::run(state, SystemClock.now(), stop_at).await?;
            Ok::<_, lambda_runtime::Error>(handler::report(&run))
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
