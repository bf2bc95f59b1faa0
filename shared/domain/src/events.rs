//! The events LZStock publishes and handles, each named once: its subject below the
//! stream's root (`EVENTS_SUBJECT_ROOT`, `lzstock` by default), which is also the name its
//! handler's [`ProcessedEvent`](crate::common::ProcessedEvent)s are recorded under. The
//! producer's store writes the event with this subject; the events function's routing
//! matrix has one row per subject. The payloads' wire shapes are the envelope's request
//! and response messages in `proto/lzstock/v1/events.proto` (and, for the events the stores
//! announce, the API's own messages).

/// A user signed up (published by the identity service; request and response
/// `UserSignedUpRequest` / `UserSignedUpResponse`): they get a first dashboard.
pub const USER_SIGNED_UP: &str = "users.signed_up";

/// A dashboard was created (the dashboard store, with the dashboard; request
/// `CreateDashboardRequest`, response the dashboard): its owner's first one gets a welcome.
pub const DASHBOARD_CREATED: &str = "dashboards.created";

/// Another service asks for an email (`EmailRequestedRequest`), parsed like an API request.
pub const EMAIL_REQUESTED: &str = "emails.requested";

/// An email was accepted (the email store, with the email; response the email as the API
/// answers it): send it.
pub const EMAIL_CREATED: &str = "emails.created";

/// A company's facts changed (the SEC sync; `CompanyFactsUpdatedRequest` /
/// `CompanyFactsUpdatedResponse`): alert the owners tracking it.
pub const FACTS_UPDATED: &str = "companies.facts_updated";

/// Every subject above, in the order the routing matrix lists them.
pub const ALL: [&str; 5] = [
    USER_SIGNED_UP,
    DASHBOARD_CREATED,
    EMAIL_REQUESTED,
    EMAIL_CREATED,
    FACTS_UPDATED,
];
