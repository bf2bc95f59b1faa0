//! Developer and operator tooling, linked by no function: `lzstock-admin` (migrations,
//! streams, dev tokens, the outbox's parked events, the local trace store) and the local
//! scheduler that fires the template's EventBridge rules at the functions, with the
//! schedule-expression parser it reads them with. Its tests check the repository as a
//! whole: the README's promises, the SAM template, the ops files and the cluster setup.
#![warn(missing_docs)]

pub mod local_schedules;
pub mod schedule_expression;
