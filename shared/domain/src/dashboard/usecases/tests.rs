use std::sync::Mutex;

use super::*;
use crate::company::{Company, CompanyStore, Fact, Reading};
use crate::dashboard::{parse_indicators, DashboardName, TickerList};
use crate::Ticker;

/// An in-memory store: enough to test the usecases' own logic (ownership, error
/// mapping); the SQL adapter is tested against PostgreSQL.
#[derive(Default)]
struct MemoryStore {
    dashboards: Mutex<Vec<Dashboard>>,
    events: Mutex<Vec<DashboardCreated>>,
    processed: Mutex<Vec<String>>,
    conflict: bool,
}

impl CompanyStore for &MemoryStore {
    async fn company(&self, _ticker: &Ticker) -> Result<Option<Company>, StoreError> {
        Ok(None)
    }

    async fn annual_facts(&self, _ticker: &Ticker) -> Result<Vec<Fact>, StoreError> {
        Ok(Vec::new())
    }

    async fn facts_of(
        &self,
        _tickers: &[Ticker],
        _concepts: &[&str],
    ) -> Result<Vec<(Ticker, Fact)>, StoreError> {
        Ok(Vec::new())
    }
}

impl DashboardStore for &MemoryStore {
    async fn create(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
    ) -> Result<(), StoreError> {
        if self.conflict {
            return Err(StoreError::Conflict("id".into()));
        }
        self.dashboards.lock().unwrap().push(dashboard.clone());
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }

    async fn create_once(
        &self,
        dashboard: &Dashboard,
        event: &DashboardCreated,
        processed: &ProcessedEvent,
        _contact: Option<&crate::email::Contact>,
    ) -> Result<bool, StoreError> {
        {
            let mut seen = self.processed.lock().unwrap();
            if seen.contains(&processed.event_id) {
                return Ok(false);
            }
            seen.push(processed.event_id.clone());
        }
        self.create(dashboard, event).await?;
        Ok(true)
    }

    async fn get(&self, id: DashboardId) -> Result<Option<Dashboard>, StoreError> {
        Ok(self
            .dashboards
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.id == id)
            .cloned())
    }

    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: PageRequest,
    ) -> Result<Page<Dashboard>, StoreError> {
        let items: Vec<_> = self
            .dashboards
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.owner == *owner)
            .cloned()
            .collect();
        Ok(Page {
            total: items.len() as u64,
            items,
            request: page,
        })
    }

    async fn delete_owned(&self, id: DashboardId, owner: &OwnerId) -> Result<bool, StoreError> {
        let mut dashboards = self.dashboards.lock().unwrap();
        let before = dashboards.len();
        dashboards.retain(|d| !(d.id == id && d.owner == *owner));
        Ok(dashboards.len() < before)
    }
}

fn request() -> NewDashboard {
    NewDashboard {
        name: DashboardName::parse("Tech").unwrap(),
        tickers: TickerList::parse(&["AAPL", "MSFT"]).unwrap(),
        indicators: parse_indicators(&["net_margin"]).unwrap(),
    }
}

fn owner(name: &str) -> OwnerId {
    OwnerId::parse(name).unwrap()
}

#[tokio::test]
async fn creating_a_dashboard_records_the_event_with_request_and_result() {
    let store = MemoryStore::default();
    let created = CreateDashboard::new(&store)
        .execute(owner("ada"), request(), Some("trace-1".into()))
        .await
        .unwrap();
    let events = store.events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].dashboard, created);
    assert_eq!(events[0].request, request());
    assert_eq!(events[0].trace_id.as_deref(), Some("trace-1"));
}

#[tokio::test]
async fn someone_elses_dashboard_is_not_found_for_reading_or_deleting() {
    let store = MemoryStore::default();
    let created = CreateDashboard::new(&store)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    let get = GetDashboard::new(&store, &store);
    assert!(matches!(
        get.execute(&owner("bob"), created.id).await,
        Err(GetDashboardError::NotFound)
    ));
    assert!(matches!(
        DeleteDashboard::new(&store)
            .execute(&owner("bob"), created.id)
            .await,
        Err(DeleteDashboardError::NotFound)
    ));
    let read = get.execute(&owner("ada"), created.id).await.unwrap();
    assert_eq!(read.dashboard, created);
    // No facts synced yet: each ticker's indicators say so rather than guess.
    assert_eq!(read.companies.len(), created.tickers.as_slice().len());
    for company in &read.companies {
        assert!(!company.insights.is_empty());
        assert!(company
            .insights
            .iter()
            .all(|i| matches!(&i.reading, Reading::NotAvailable { reason } if reason.contains("no facts"))));
    }
    DeleteDashboard::new(&store)
        .execute(&owner("ada"), created.id)
        .await
        .unwrap();
    assert!(matches!(
        get.execute(&owner("ada"), created.id).await,
        Err(GetDashboardError::NotFound)
    ));
}

/// The usecase's part of exactly-once: it hands the store the event's claim and reports
/// what the store says. (That the claim holds is the store's: tested against PostgreSQL.)
#[tokio::test]
async fn an_event_the_store_has_processed_gives_nothing_and_a_new_one_its_dashboard() {
    let store = MemoryStore::default();
    store.processed.lock().unwrap().push("e1".into());
    let event = |id: &str| ProcessedEvent {
        handler: "users.signed_up".into(),
        event_id: id.into(),
        subject: "lzstock.users.signed_up".into(),
    };
    let create = CreateDashboard::new(&store);
    let seen = create
        .execute_once(owner("ada"), request(), None, &event("e1"), None)
        .await
        .unwrap();
    assert!(seen.is_none());
    assert!(store.dashboards.lock().unwrap().is_empty());
    let new = create
        .execute_once(owner("ada"), request(), None, &event("e2"), None)
        .await
        .unwrap()
        .expect("a new event's dashboard");
    assert_eq!(store.dashboards.lock().unwrap().as_slice(), [new]);
    assert_eq!(store.processed.lock().unwrap().as_slice(), ["e1", "e2"]);
}

#[tokio::test]
async fn a_storage_conflict_is_a_conflict() {
    let store = MemoryStore {
        conflict: true,
        ..MemoryStore::default()
    };
    let result = CreateDashboard::new(&store)
        .execute(owner("ada"), request(), None)
        .await;
    assert!(matches!(result, Err(CreateDashboardError::Conflict(_))));
}
