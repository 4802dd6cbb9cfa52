//! Answers every event with a constant: what any Rust function costs before it does
//! anything (init, first and warm invocation under the Lambda RIE).

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "hello": "world" }))
    }))
    .await
}
