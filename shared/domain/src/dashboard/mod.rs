//! Dashboards: a user's named selection of companies and the indicators shown for them.

mod store;
mod usecases;
mod values;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use store::DashboardStore;
pub use usecases::{
    CreateDashboard, CreateDashboardError, DashboardInsights, DeleteDashboard,
    DeleteDashboardError, GetDashboard, GetDashboardError, ListDashboards, ListDashboardsError,
};
pub use values::{parse_indicators, DashboardId, DashboardName, Indicator, TickerList};

use crate::common::OwnerId;

/// A dashboard as stored. Every field is a parsed value, so a `Dashboard` is valid by
/// construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Its id.
    pub id: DashboardId,
    /// The user it belongs to.
    pub owner: OwnerId,
    /// Its name.
    pub name: DashboardName,
    /// Its companies.
    pub tickers: TickerList,
    /// The indicators it shows, distinct, in the order chosen.
    pub indicators: Vec<Indicator>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What a user asks for when creating a dashboard, already parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDashboard {
    /// The name.
    pub name: DashboardName,
    /// The companies.
    pub tickers: TickerList,
    /// The indicators.
    pub indicators: Vec<Indicator>,
}

/// The fact that a dashboard was created: the request and its result, published as
/// `lzstock.dashboards.created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardCreated {
    /// The id of this event, used as `Nats-Msg-Id`.
    pub event_id: uuid::Uuid,
    /// The trace the creation ran in, if any, so consumers continue it.
    pub trace_id: Option<String>,
    /// What was asked for.
    pub request: NewDashboard,
    /// What was created.
    pub dashboard: Dashboard,
}
