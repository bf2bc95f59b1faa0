//! `lzstock.v1.EmailService` over Connect, gRPC-Web and gRPC: the REST controller's
//! parsing, usecases and error mapping, through the generated stubs.

use buffa_types::google::protobuf::Timestamp;
use chrono::{DateTime, Utc};
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use lzstock_domain::email::Email;
use lzstock_proto::lzstock::v1 as pb;

use super::caller::authenticate;
use super::emails::{CreateEmailBody, EmailPage, EmailView};
use super::ApiState;

/// The generated `EmailService` trait, implemented over the email usecases.
#[derive(Debug, Clone)]
pub struct EmailRpc {
    pub(super) state: ApiState,
}

fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
        ..Default::default()
    }
}

/// The REST view is the one mapping from the domain; the proto changes only the
/// timestamps' form.
fn to_proto(email: Email) -> pb::Email {
    from_view(EmailView::from(email))
}

fn from_view(view: EmailView) -> pb::Email {
    pb::Email {
        id: view.id,
        owner_id: view.owner_id,
        from: view.from,
        to: view.to,
        subject: view.subject,
        body: view.body,
        status: view.status,
        last_error: view.last_error.unwrap_or_default(),
        created_at: Some(timestamp(view.created_at)).into(),
        sent_at: view.sent_at.map(timestamp).into(),
        ..Default::default()
    }
}

#[allow(refining_impl_trait)]
impl pb::EmailService for EmailRpc {
    async fn create(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::CreateRequest>,
    ) -> ServiceResult<pb::CreateResponse> {
        let owner = authenticate(ctx.headers(), ctx.extensions(), &self.state.auth).await?;
        let body = request.to_owned_message();
        let email = self
            .state
            .create_email(
                owner,
                CreateEmailBody {
                    from: Some(body.from),
                    to: body.to,
                    subject: body.subject,
                    body: body.body,
                },
                ctx.extensions()
                    .get::<super::trace::RequestTrace>()
                    .map(|t| t.0.clone()),
            )
            .await?;
        Response::ok(pb::CreateResponse {
            email: Some(to_proto(email)).into(),
            ..Default::default()
        })
    }

    async fn get_by_id(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::GetByIdRequest>,
    ) -> ServiceResult<pb::GetByIdResponse> {
        let owner = authenticate(ctx.headers(), ctx.extensions(), &self.state.auth).await?;
        let email = self.state.get_email(&owner, request.id).await?;
        Response::ok(pb::GetByIdResponse {
            email: Some(to_proto(email)).into(),
            ..Default::default()
        })
    }

    async fn search(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::SearchRequest>,
    ) -> ServiceResult<pb::SearchResponse> {
        let owner = authenticate(ctx.headers(), ctx.extensions(), &self.state.auth).await?;
        // proto3 has no "unset" for scalars: 0 means the default.
        let nonzero = |n: u32| (n != 0).then_some(n);
        let page = self
            .state
            .search_emails(
                &owner,
                request.search,
                nonzero(request.page),
                nonzero(request.size),
            )
            .await?;
        let page = EmailPage::from(page);
        Response::ok(pb::SearchResponse {
            total_count: page.total_count,
            total_pages: page.total_pages,
            page: page.page,
            size: page.size,
            has_more: page.has_more,
            emails: page.emails.into_iter().map(from_view).collect(),
            ..Default::default()
        })
    }
}
