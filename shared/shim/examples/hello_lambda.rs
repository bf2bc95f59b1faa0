//! The smallest Rust Lambda function: `lambda_runtime` answering each event with itself.
//! `scripts/bench-cold-start` measures every LZStock function against it (BENCHMARKS.md).

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
