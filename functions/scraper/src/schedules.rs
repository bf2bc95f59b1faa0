//! The scraper's scheduled jobs: one row per job, naming the handler that runs a fire of
//! it. A schedule is background orchestration: it enters at a usecase.

use futures::future::BoxFuture;
use lzstock_shim::schedule::ScheduledRun;

use crate::{RunError, RunReport, ScraperDeps};

/// A scheduled job's handler: runs one fire of the schedule.
pub type RunJob =
    for<'a> fn(&'a ScraperDeps, ScheduledRun) -> BoxFuture<'a, Result<RunReport, RunError>>;

/// One scheduled job's row: its name and the handler that runs it. A schedule is
/// background orchestration: it enters at a usecase.
#[derive(Clone, Copy)]
pub struct ScheduledJob {
    /// The job's name, e.g. `sec_sync`.
    pub name: &'static str,
    /// What runs it.
    pub run: RunJob,
}

impl std::fmt::Debug for ScheduledJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledJob")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The nightly SEC sync: ScrapeCompanies over what the fire's input names.
pub const SEC_SYNC: ScheduledJob = ScheduledJob {
    name: "sec_sync",
    run: |deps, run| Box::pin(crate::scheduled(deps, run)),
};

/// The scheduled jobs.
pub const SCHEDULES: [ScheduledJob; 1] = [SEC_SYNC];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheduled_job_is_in_the_table_once() {
        let mut names: Vec<_> = SCHEDULES.iter().map(|j| j.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SCHEDULES.len());
    }
}
