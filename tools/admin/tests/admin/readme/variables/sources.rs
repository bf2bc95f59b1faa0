//! The environments the variables test reads from: one that records what a binary asked
//! for, and one that adds what the secrets a binary names would hold.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use lzstock_shim::config::{ConfigError, Source};

use crate::samples::NATS_USER_CREDS;

/// An environment that remembers which variables were asked for.
pub(super) struct Recorded {
    pub(super) values: HashMap<String, String>,
    pub(super) read: RefCell<BTreeSet<String>>,
}

impl Recorded {
    pub(super) fn new(values: HashMap<String, String>) -> Self {
        Self {
            values,
            read: RefCell::new(BTreeSet::new()),
        }
    }
}

impl Source for Recorded {
    fn get(&self, key: &str) -> Option<String> {
        self.read.borrow_mut().insert(key.to_owned());
        self.values.get(key).cloned()
    }
}

/// The lengths of the lists a binary parsed, by variable.
pub(super) type Lists = BTreeMap<&'static str, usize>;

/// `source` with each variable a `*_SECRET` names set to what such a secret would hold, as
/// a binary's `main` reads them before anything else (`secrets::process_env`).
pub(super) struct WithSampleSecrets<'a> {
    inner: &'a Recorded,
    secrets: HashMap<&'static str, String>,
}

impl<'a> WithSampleSecrets<'a> {
    pub(super) fn read(inner: &'a Recorded, variables: &[&str]) -> Result<Self, ConfigError> {
        let secrets = lzstock_shim::secrets::references(inner, variables)?
            .into_iter()
            .map(|(variable, _)| {
                let sample = match variable {
                    "DATABASE_URL" => "postgres://lzstock:secret@db.internal:5432/lzstock",
                    "SMTP_URL" => "smtp://user:secret@email-smtp.eu-west-1.amazonaws.com:587",
                    "NATS_CREDS" => NATS_USER_CREDS,
                    other => panic!("{other} can come from a secret: add a sample here"),
                };
                (variable, sample.to_owned())
            })
            .collect();
        Ok(Self { inner, secrets })
    }
}

impl Source for WithSampleSecrets<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.secrets
            .get(key)
            .cloned()
            .or_else(|| self.inner.get(key))
    }
}
