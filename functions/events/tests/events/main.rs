//! The events function's integration tests, one binary (one link of the tree): the handlers
//! in process, batches under `cargo lambda watch`, the standalone consumer, emails end to
//! end, faults and the cluster.

mod batches;
mod cluster;
mod emails;
mod faults;
mod handlers;
mod lambda;
