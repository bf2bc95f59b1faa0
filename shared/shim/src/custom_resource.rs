//! Hosting a CloudFormation custom resource on Lambda: CloudFormation invokes the function
//! with a request (`Create`, `Update` or `Delete`) and waits, up to an hour, for an answer
//! PUT to the request's pre-signed `ResponseURL`. The function's own return value is not the
//! answer; a function that fails without answering leaves the stack hanging. So every
//! request is answered: `SUCCESS` with the handler's data, or `FAILED` with its reason.
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html>

use std::collections::HashMap;
use std::time::Duration;

pub use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest as CustomResourceRequest,
    CloudFormationCustomResourceResponse as CustomResourceResponse,
    CloudFormationCustomResourceResponseStatus as Status,
};
use serde::Serialize;
use serde_json::Value;

/// CloudFormation refuses an answer over 4096 bytes; the reason is cut to fit.
const MAX_RESPONSE_BYTES: usize = 4096;

/// How long the answer's PUT may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The fields every request carries, whatever its type: where the answer goes and what it
/// must name. Read from the event as sent, so that a request the typed parse refuses is
/// still answered (`FAILED`, with the reason) instead of leaving the stack waiting.
struct Addressed<'a> {
    response_url: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
}

fn addressed(event: &Value) -> Option<Addressed<'_>> {
    event.get("RequestType")?.as_str()?;
    Some(Addressed {
        response_url: event.get("ResponseURL")?.as_str()?,
        stack_id: event.get("StackId")?.as_str()?,
        request_id: event.get("RequestId")?.as_str()?,
        logical_resource_id: event.get("LogicalResourceId")?.as_str()?,
    })
}

/// The answer to `request`: `outcome`'s reason and data on success, its error as the reason
/// on failure, under `physical_resource_id`.
fn answer<E: std::fmt::Display>(
    request: &Addressed<'_>,
    physical_resource_id: &str,
    outcome: Result<(String, HashMap<String, String>), E>,
) -> CustomResourceResponse {
    let (status, reason, data) = match outcome {
        Ok((reason, data)) => (Status::Success, reason, data),
        Err(error) => (Status::Failed, error.to_string(), HashMap::new()),
    };
    let mut response = CustomResourceResponse::default();
    response.status = status;
    response.reason = Some(reason);
    response.physical_resource_id = physical_resource_id.to_owned();
    response.stack_id = request.stack_id.to_owned();
    response.request_id = request.request_id.to_owned();
    response.logical_resource_id = request.logical_resource_id.to_owned();
    response.data = data;
    response
}

/// `response` as JSON within CloudFormation's limit: the reason is shortened (and the data
/// dropped, if need be) until it fits.
#[must_use]
pub fn to_json(response: &CustomResourceResponse) -> Vec<u8> {
    let mut answer = response.clone();
    loop {
        let body = serde_json::to_vec(&answer).unwrap_or_default();
        if body.len() <= MAX_RESPONSE_BYTES {
            return body;
        }
        if !answer.data.is_empty() {
            answer.data.clear();
            continue;
        }
        let reason = answer.reason.get_or_insert_with(String::new);
        let mut cut = reason
            .len()
            .saturating_sub(body.len() - MAX_RESPONSE_BYTES + 3);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push_str("...");
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
        .body(to_json(response))
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
/// runs `job` with the request and is answered at its response URL under
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
    J: Fn(Option<CustomResourceRequest>) -> Fut + Send + Sync,
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
    J: Fn(Option<CustomResourceRequest>) -> Fut,
    Fut: std::future::Future<Output = Result<R, E>>,
    R: Serialize,
    E: std::fmt::Display,
{
    let Some(address) = addressed(&event) else {
        return match job(None).await {
            Ok(result) => Ok(serde_json::to_value(result)?),
            Err(error) => Err(error.to_string().into()),
        };
    };
    tracing::info!(
        request_type = event["RequestType"].as_str().unwrap_or_default(),
        logical_resource_id = %address.logical_resource_id,
        "CloudFormation request"
    );
    let outcome = match serde_json::from_value::<CustomResourceRequest>(event.clone()) {
        Ok(request) => job(Some(request)).await.map_err(|error| error.to_string()),
        Err(error) => Err(format!(
            "not a custom resource request LZStock can act on: {error}"
        )),
    };
    let outcome = outcome.map(|result| {
        let result = serde_json::to_string(&result).unwrap_or_default();
        let data = HashMap::from([("Result".to_owned(), result.clone())]);
        (result, data)
    });
    if let Err(error) = &outcome {
        tracing::error!(%error, "the custom resource failed; CloudFormation is told so");
    }
    let response = answer(&address, physical_resource_id, outcome);
    respond(address.response_url, &response).await?;
    Ok(serde_json::from_slice(&to_json(&response))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Value {
        serde_json::json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/lzstock/guid",
            "RequestId": "unique-id",
            "LogicalResourceId": "Migrations",
            "ResourceType": "Custom::Migrations",
            "ResourceProperties": {"ServiceToken": "arn", "Version": "7"}
        })
    }

    #[test]
    fn an_answer_names_the_request_and_fits_cloudformations_limit() {
        let event = request();
        let typed: CustomResourceRequest = serde_json::from_value(event.clone()).expect("typed");
        assert!(matches!(typed, CustomResourceRequest::Create(_)));
        let address = addressed(&event).expect("answerable");
        let failed = answer(
            &address,
            "lzstock-migrations",
            Err::<(String, HashMap<String, String>), _>("x".repeat(10_000)),
        );
        let body = to_json(&failed);
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let parsed: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(parsed["Status"], "FAILED");
        assert_eq!(parsed["RequestId"], "unique-id");
        assert_eq!(parsed["LogicalResourceId"], "Migrations");
        assert!(parsed["Reason"].as_str().expect("reason").ends_with("..."));
    }
}
