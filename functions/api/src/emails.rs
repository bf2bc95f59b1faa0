//! The email controller: `POST /v1/emails`, `GET /v1/emails/{id}`, `GET /v1/emails` and
//! `lzstock.v1.EmailService`, over the email usecases with one error mapping.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use lzstock_domain::common::{OwnerId, Page, PageRequest};
use lzstock_domain::email::{
    Body, CreateEmail, CreateEmailError, Email, EmailAddress, EmailId, GetEmail, GetEmailError,
    NewEmail, Recipients, SearchEmails, SearchEmailsError, SearchText, Subject,
};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::error::{ApiError, ErrorCode};
use super::json::ApiJson;
use super::trace::RequestTrace;
use super::ApiState;

/// `POST /v1/emails`. The schema states the rules the parsers enforce (the contract test
/// holds the two together).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEmailBody {
    /// The sender; omitted, null or empty for the service's own address (`EMAIL_FROM`).
    #[schema(value_type = Option<SenderAddress>)]
    pub from: Option<String>,
    /// 1 to 50 distinct addresses.
    #[schema(value_type = BTreeSet<EmailAddressText>, min_items = 1, max_items = 50)]
    pub to: Vec<String>,
    /// 1 to 998 characters, no control characters (CR, LF, tab…), not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 998,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub subject: String,
    /// Plain text, at most 1 MiB of UTF-8, no NUL; line breaks are fine.
    #[schema(max_length = 1_048_576, pattern = "^[^\\u0000]*$")]
    pub body: String,
}

/// An email address as the document describes it (the domain's `EmailAddress` parses it; a
/// test keeps the two patterns equal).
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(
    value_type = String,
    max_length = 254,
    pattern = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$"
)]
pub struct EmailAddressText(pub String);

/// A sender: an address, or empty for the service's own.
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(
    value_type = String,
    max_length = 254,
    pattern = "^(?:|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}))$"
)]
pub struct SenderAddress(pub String);

impl CreateEmailBody {
    /// The parsed request; every refusal names its field.
    ///
    /// # Errors
    /// The first field that does not parse.
    pub fn parse(self) -> Result<NewEmail, ApiError> {
        let from = match self.from.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(EmailAddress::parse_field(raw, "from")?),
        };
        Ok(NewEmail {
            from,
            to: Recipients::parse(&self.to)?,
            subject: Subject::parse(&self.subject)?,
            body: Body::parse(&self.body)?,
        })
    }
}

/// An email as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailView {
    /// Its id.
    pub id: String,
    /// Its owner (the JWT `sub`).
    pub owner_id: String,
    /// The sender.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The body.
    pub body: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Email> for EmailView {
    fn from(email: Email) -> Self {
        Self {
            id: email.id.to_string(),
            owner_id: email.owner.to_string(),
            from: email.from.to_string(),
            to: email.to.into(),
            subject: email.subject.into(),
            body: email.body.into(),
            status: email.status.as_str().to_owned(),
            last_error: email.last_error,
            created_at: email.created_at,
            sent_at: email.sent_at,
        }
    }
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailPage {
    /// Emails matching, across every page.
    pub total_count: u64,
    /// Pages of `size` they fill.
    pub total_pages: u64,
    /// This page, from 1.
    pub page: u32,
    /// The page size.
    pub size: u32,
    /// Whether a later page has emails.
    pub has_more: bool,
    /// This page's emails: best match first, then newest.
    pub emails: Vec<EmailView>,
}

impl From<Page<Email>> for EmailPage {
    fn from(page: Page<Email>) -> Self {
        let size = u64::from(page.request.size());
        let total_pages = page.total.div_ceil(size);
        Self {
            total_count: page.total,
            total_pages,
            page: page.request.page(),
            size: page.request.size(),
            has_more: u64::from(page.request.page()) < total_pages,
            emails: page.items.into_iter().map(Into::into).collect(),
        }
    }
}

/// `GET /v1/emails?search=&page=&size=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words, `"a phrase"`, `or`, `-excluded`; at most 200 characters, no control
    /// characters; empty lists every email, newest first.
    #[param(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub search: Option<String>,
    /// From 1 (default 1).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub size: Option<u32>,
}

impl From<CreateEmailError> for ApiError {
    fn from(error: CreateEmailError) -> Self {
        match error {
            CreateEmailError::Conflict(what) => Self::new(ErrorCode::AlreadyExists, what),
            CreateEmailError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<GetEmailError> for ApiError {
    fn from(error: GetEmailError) -> Self {
        match error {
            GetEmailError::NotFound => Self::email_not_found(),
            GetEmailError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<SearchEmailsError> for ApiError {
    fn from(error: SearchEmailsError) -> Self {
        match error {
            SearchEmailsError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl ApiError {
    /// The one answer for an absent email and another user's.
    pub fn email_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "email not found")
    }
}

/// The email controller's usecases, shared by REST and Connect.
impl ApiState {
    pub(super) async fn create_email(
        &self,
        owner: OwnerId,
        body: CreateEmailBody,
        trace_id: Option<String>,
    ) -> Result<Email, ApiError> {
        let request = body.parse()?;
        let default_from = match (&request.from, &self.default_from) {
            (_, Some(default)) => default.clone(),
            (Some(from), None) => from.clone(),
            (None, None) => {
                return Err(ApiError::from(lzstock_domain::InvalidInput::new(
                    "from",
                    "required: this service has no EMAIL_FROM to send from",
                )))
            }
        };
        let email = CreateEmail::new(self.emails.clone(), default_from)
            .execute(owner, request, trace_id)
            .await?;
        self.wake_relay();
        Ok(email)
    }

    pub(super) async fn get_email(&self, owner: &OwnerId, raw: &str) -> Result<Email, ApiError> {
        // A malformed id cannot name an email: not found, like any other absent one.
        let id = EmailId::parse(raw).map_err(|_| ApiError::email_not_found())?;
        Ok(GetEmail::new(self.emails.clone(), self.email_cache.clone())
            .execute(owner, id)
            .await?)
    }

    pub(super) async fn search_emails(
        &self,
        owner: &OwnerId,
        search: &str,
        page: Option<u32>,
        size: Option<u32>,
    ) -> Result<Page<Email>, ApiError> {
        let search = SearchText::parse(search)?;
        let page = PageRequest::parse(page, size)?;
        Ok(SearchEmails::new(self.emails.clone())
            .execute(owner, &search, page)
            .await?)
    }
}

/// Queues an email; it is sent shortly after (watch its `status`).
#[utoipa::path(
    post,
    path = "/v1/emails",
    operation_id = "createEmail",
    tag = "emails",
    request_body = CreateEmailBody,
    responses(
        (status = 202, description = "Queued", body = EmailView,
            headers(("Location" = String, description = "The email's URL"))),
        (status = 400, description = "A field is invalid (named in `field`)", body = ApiError),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 413, description = "The request is over its limit", body = ApiError),
        (status = 415, description = "The body is not JSON", body = ApiError),
        (status = 500, description = "Internal error, with a reference", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    trace: Option<Extension<RequestTrace>>,
    ApiJson(body): ApiJson<CreateEmailBody>,
) -> Result<Response, ApiError> {
    let email = state
        .create_email(owner, body, trace.map(|Extension(t)| t.0))
        .await?;
    let location = format!("/v1/emails/{}", email.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(EmailView::from(email)),
    )
        .into_response())
}

/// One of the caller's emails.
#[utoipa::path(
    get,
    path = "/v1/emails/{id}",
    operation_id = "getEmail",
    tag = "emails",
    params(("id" = String, Path, description = "The email's id (any other text names no email: 404)")),
    responses(
        (status = 200, description = "The email", body = EmailView),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 404, description = "No such email, or not the caller's", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<Json<EmailView>, ApiError> {
    Ok(Json(state.get_email(&owner, &id).await?.into()))
}

/// Searches the caller's emails: best match first, then newest.
#[utoipa::path(
    get,
    path = "/v1/emails",
    operation_id = "searchEmails",
    tag = "emails",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page", body = EmailPage),
        (status = 400, description = "search, page or size out of range", body = ApiError),
        (status = 401, description = "No valid bearer token", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn search(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EmailPage>, ApiError> {
    let Query(query) = query?;
    let page = state
        .search_emails(
            &owner,
            query.search.as_deref().unwrap_or_default(),
            query.page,
            query.size,
        )
        .await?;
    Ok(Json(page.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern<T: utoipa::PartialSchema>() -> String {
        let schema = serde_json::to_value(T::schema()).expect("a schema");
        schema["pattern"].as_str().expect("a pattern").to_owned()
    }

    #[test]
    fn the_documented_address_pattern_is_the_domains() {
        assert_eq!(pattern::<EmailAddressText>(), EmailAddress::PATTERN);
        let inner = EmailAddress::PATTERN
            .trim_start_matches('^')
            .trim_end_matches('$');
        assert_eq!(pattern::<SenderAddress>(), format!("^(?:|{inner})$"));
    }
}
