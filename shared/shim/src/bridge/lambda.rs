//! Invoking a Lambda function through the Invoke API (on AWS, or `cargo lambda watch`
//! locally).

use aws_sdk_lambda::primitives::Blob;

use super::invoke::{Invoke, InvokeError};
use crate::batch::{BatchResponse, MessageBatch};

/// A Lambda function invoked synchronously (`RequestResponse`) with each batch.
///
/// Region, credentials and endpoint come from the standard AWS configuration: the
/// environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, …), profiles, or the instance role.
/// `AWS_ENDPOINT_URL_LAMBDA` points it at `cargo lambda watch` (which serves the Invoke API
/// at its own address and accepts any credentials).
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    client: aws_sdk_lambda::Client,
    name: String,
}

impl LambdaFunction {
    /// A client for the function `name` from the environment's AWS configuration.
    pub async fn from_env(name: impl Into<String>) -> Self {
        Self::new(&client_from_env().await, name)
    }

    /// The function `name` through an existing client: routes share one, so the AWS
    /// configuration (credentials, possibly from the instance) is resolved once.
    #[must_use]
    pub fn new(client: &aws_sdk_lambda::Client, name: impl Into<String>) -> Self {
        Self {
            client: client.clone(),
            name: name.into(),
        }
    }

    /// The function's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A Lambda client from the environment's AWS configuration.
pub async fn client_from_env() -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&crate::aws::sdk_config().await)
}

impl Invoke for LambdaFunction {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        let payload = serde_json::to_vec(batch).map_err(|source| InvokeError::Response {
            function: self.name.clone(),
            source,
        })?;
        let output = self
            .client
            .invoke()
            .function_name(&self.name)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|error| self.classify(error))?;
        let body = output.payload().map(Blob::as_ref).unwrap_or_default();
        if let Some(kind) = output.function_error() {
            return Err(InvokeError::Function {
                function: self.name.clone(),
                detail: function_error(kind, body),
            });
        }
        serde_json::from_slice(body).map_err(|source| InvokeError::Response {
            function: self.name.clone(),
            source,
        })
    }
}

/// Lambda's error codes that mean "no capacity now", not "this batch is wrong".
const THROTTLES: [&str; 6] = [
    "TooManyRequestsException",
    "EC2ThrottledException",
    "ENILimitReachedException",
    "SubnetIPAddressLimitReachedException",
    "ResourceNotReadyException",
    "ServiceException",
];

impl LambdaFunction {
    /// A throttle or capacity error of the service, or anything else (unreachable, refused).
    fn classify(
        &self,
        error: aws_sdk_lambda::error::SdkError<
            aws_sdk_lambda::operation::invoke::InvokeError,
            aws_sdk_lambda::config::http::HttpResponse,
        >,
    ) -> InvokeError {
        use aws_sdk_lambda::error::ProvideErrorMetadata;
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code().map(str::to_owned);
        let throttled = code.as_deref().is_some_and(|c| THROTTLES.contains(&c))
            || status == Some(429)
            || status.is_some_and(|s| (500..600).contains(&s));
        let text = aws_sdk_lambda::error::DisplayErrorContext(&error).to_string();
        if throttled {
            InvokeError::Throttled {
                function: self.name.clone(),
                reason: format!(
                    "{}: {}",
                    code.unwrap_or_else(|| format!("HTTP {}", status.unwrap_or_default())),
                    error.message().unwrap_or_default()
                ),
            }
        } else {
            InvokeError::Unreachable {
                function: self.name.clone(),
                source: text.into(),
            }
        }
    }
}

/// The runtime's error document, `{"errorType", "errorMessage"}`, as one line of text when
/// it has that shape, or else its raw text. Either may hold line breaks and any length:
/// whoever writes it into a header cleans it first.
fn function_error(kind: &str, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RuntimeError {
        error_type: String,
        error_message: String,
    }
    match serde_json::from_slice::<RuntimeError>(body) {
        Ok(error) => format!("{kind}: {}: {}", error.error_type, error.error_message),
        Err(_) => format!("{kind}: {}", String::from_utf8_lossy(body)),
    }
}
