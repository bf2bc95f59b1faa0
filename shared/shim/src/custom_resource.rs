//! Hosting a CloudFormation custom resource on Lambda: CloudFormation invokes the function
//! with a request (`Create`, `Update` or `Delete`) and waits, up to an hour, for an answer
//! PUT to the request's pre-signed `ResponseURL`. The function's own return value is not the
//! answer; a function that fails without answering leaves the stack hanging. So every
//! request is answered: `SUCCESS` with the handler's data, or `FAILED` with its reason.
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html>

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What CloudFormation asks of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RequestType {
    /// The stack is created (or the resource added).
    Create,
    /// The stack is updated and the resource's properties changed.
    Update,
    /// The stack is deleted (or the resource removed, or replaced after an update).
    Delete,
}

/// A custom resource request, as CloudFormation sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    /// What to do.
    pub request_type: RequestType,
    /// Where the answer goes (a pre-signed S3 URL).
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack's id.
    pub stack_id: String,
    /// This request's id.
    pub request_id: String,
    /// The resource's name in the template.
    pub logical_resource_id: String,
    /// The id an earlier answer gave the resource (absent on `Create`).
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// The resource's properties in the template.
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
}

/// The answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The request was done.
    Success,
    /// It was not; the stack rolls back.
    Failed,
}

/// The answer CloudFormation reads from the response URL.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    /// Done or not.
    pub status: Status,
    /// Why not, or what was done (shown in the stack's events).
    pub reason: String,
    /// The resource's id: stable, or CloudFormation takes a change as a replacement.
    pub physical_resource_id: String,
    /// From the request.
    pub stack_id: String,
    /// From the request.
    pub request_id: String,
    /// From the request.
    pub logical_resource_id: String,
    /// Values `Fn::GetAtt` can read.
    pub data: Map<String, Value>,
}

/// CloudFormation refuses an answer over 4096 bytes; the reason is cut to fit.
const MAX_RESPONSE_BYTES: usize = 4096;
/// How long the answer's PUT may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

impl CustomResourceResponse {
    /// The answer to `request`: `outcome`'s data on success, its error as the reason on
    /// failure, under `physical_resource_id`.
    pub fn to<E: std::fmt::Display>(
        request: &CustomResourceRequest,
        physical_resource_id: &str,
        outcome: Result<(String, Map<String, Value>), E>,
    ) -> Self {
        let (status, reason, data) = match outcome {
            Ok((reason, data)) => (Status::Success, reason, data),
            Err(error) => (Status::Failed, error.to_string(), Map::new()),
        };
        Self {
            status,
            reason,
            physical_resource_id: physical_resource_id.to_owned(),
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data,
        }
    }

    /// The answer as JSON within CloudFormation's limit: the reason is shortened (and the
    /// data dropped, if need be) until it fits.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut answer = self.clone();
        loop {
            let body = serde_json::to_vec(&answer).unwrap_or_default();
            if body.len() <= MAX_RESPONSE_BYTES {
                return body;
            }
            if !answer.data.is_empty() {
                answer.data.clear();
                continue;
            }
            let keep = answer
                .reason
                .len()
                .saturating_sub(body.len() - MAX_RESPONSE_BYTES + 3);
            let mut cut = keep;
            while !answer.reason.is_char_boundary(cut) {
                cut -= 1;
            }
            answer.reason.truncate(cut);
            answer.reason.push_str("...");
        }
    }
}

/// Why an answer could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// The PUT failed.
    #[error("the answer to CloudFormation could not be sent: {0}")]
    Http(#[from] reqwest::Error),
    /// The response URL refused it.
    #[error("the response URL answered {status}: {body}")]
    Refused {
        /// Its status.
        status: u16,
        /// Its body, shortened.
        body: String,
    },
}

/// PUTs `response` to `url`. The body goes without a `Content-Type`: the pre-signed URL is
/// signed without one, and S3 refuses a request that adds it.
///
/// # Errors
/// See [`RespondError`].
pub async fn respond(url: &str, response: &CustomResourceResponse) -> Result<(), RespondError> {
    // One client for the process: TLS roots are loaded once, not per answer.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let answered = CLIENT
        .get_or_init(reqwest::Client::new)
        .put(url)
        .timeout(RESPONSE_TIMEOUT)
        .body(response.to_json())
        .send()
        .await?;
    let status = answered.status();
    if status.is_success() {
        return Ok(());
    }
    let body = answered.text().await.unwrap_or_default();
    Err(RespondError::Refused {
        status: status.as_u16(),
        body: body.chars().take(200).collect(),
    })
}

/// Runs `job` for each Lambda invocation until the runtime stops. A CloudFormation request
/// runs `job` with its [`RequestType`] and is answered at its response URL under
/// `physical_resource_id` (`SUCCESS` with the job's result as `Data.Result` and the reason,
/// or `FAILED` with the job's error); the invocation then returns the answer, and fails only
/// when the answer cannot be delivered (so Lambda retries it). Any other event (a direct
/// invoke) runs `job` with `None` and returns its result, its error as a function error.
///
/// # Errors
/// When the Lambda runtime fails.
pub async fn run<J, Fut, R, E>(
    physical_resource_id: &'static str,
    job: J,
) -> Result<(), lambda_runtime::Error>
where
    J: Fn(Option<RequestType>) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<R, E>> + Send,
    R: Serialize + Send,
    E: std::fmt::Display + Send,
{
    let job = &job;
    crate::invocation::flush_on_sigterm();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            crate::invocation::invocation(handle(physical_resource_id, job, event.payload)).await
        },
    ))
    .await
}

async fn handle<J, Fut, R, E>(
    physical_resource_id: &str,
    job: &J,
    event: Value,
) -> Result<Value, lambda_runtime::Error>
where
    J: Fn(Option<RequestType>) -> Fut,
    Fut: std::future::Future<Output = Result<R, E>>,
    R: Serialize,
    E: std::fmt::Display,
{
    let Ok(request) = serde_json::from_value::<CustomResourceRequest>(event) else {
        return match job(None).await {
            Ok(result) => Ok(serde_json::to_value(result)?),
            Err(error) => Err(error.to_string().into()),
        };
    };
    tracing::info!(
        request_type = ?request.request_type,
        logical_resource_id = %request.logical_resource_id,
        "CloudFormation request"
    );
    let outcome = job(Some(request.request_type)).await.map(|result| {
        let result = serde_json::to_string(&result).unwrap_or_default();
        let mut data = Map::new();
        data.insert("Result".into(), Value::String(result.clone()));
        (result, data)
    });
    if let Err(error) = &outcome {
        tracing::error!(%error, "the custom resource failed; CloudFormation is told so");
    }
    let response = CustomResourceResponse::to(&request, physical_resource_id, outcome);
    respond(&request.response_url, &response).await?;
    Ok(serde_json::from_slice(&response.to_json())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CustomResourceRequest {
        serde_json::from_value(serde_json::json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/lzstock/guid",
            "RequestId": "unique-id",
            "LogicalResourceId": "Migrations",
            "ResourceType": "Custom::Migrations",
            "ResourceProperties": {"ServiceToken": "arn", "Version": "7"}
        }))
        .expect("a request")
    }

    #[test]
    fn an_answer_names_the_request_and_fits_cloudformations_limit() {
        let request = request();
        assert_eq!(request.request_type, RequestType::Create);
        let failed = CustomResourceResponse::to(
            &request,
            "lzstock-migrations",
            Err::<(String, Map<String, Value>), _>("x".repeat(10_000)),
        );
        let body = failed.to_json();
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let parsed: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(parsed["Status"], "FAILED");
        assert_eq!(parsed["RequestId"], "unique-id");
        assert_eq!(parsed["LogicalResourceId"], "Migrations");
        assert!(parsed["Reason"].as_str().expect("reason").ends_with("..."));
    }
}
