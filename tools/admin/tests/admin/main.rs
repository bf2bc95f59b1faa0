//! The repository-wide tests, one binary (one link of the tree): `lzstock-admin`, the local
//! scheduler, the SAM template, the ops files, the cluster setup and the README's promises.

mod admin;
mod benchmarks;
mod checkout;
mod cluster;
mod ops;
mod readme;
mod samples;
mod schedules;
mod template;
