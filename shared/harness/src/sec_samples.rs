//! Real SEC EDGAR documents, read at run time from `../shared/sec-samples/` beside the
//! project (or `LZSTOCK_SEC_SAMPLES`); the project never holds copies of them.

use std::path::{Path, PathBuf};

use crate::process::workspace_root;

/// The variable that names the samples' folder when it is not beside the project.
pub const SAMPLES_VAR: &str = "LZSTOCK_SEC_SAMPLES";

/// The folder of real SEC documents: `companyfacts/`, `submissions/` and
/// `company_tickers.json`.
#[derive(Debug, Clone)]
pub struct SecSamples {
    dir: PathBuf,
}

impl SecSamples {
    /// The samples, or `None` after printing why a test that needs them is skipped.
    #[must_use]
    pub fn find() -> Option<Self> {
        let dir = std::env::var_os(SAMPLES_VAR).map_or_else(
            || workspace_root().join("../shared/sec-samples"),
            PathBuf::from,
        );
        if dir.join("company_tickers.json").is_file() {
            Some(Self { dir })
        } else {
            eprintln!(
                "skipped: no real SEC documents at {} (set {SAMPLES_VAR} to their folder)",
                dir.display()
            );
            None
        }
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A document's bytes, by its path below the folder (e.g.
    /// `companyfacts/CIK0000320193.json`).
    ///
    /// # Panics
    /// When the document cannot be read.
    #[must_use]
    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(path))
            .unwrap_or_else(|e| panic!("{}: {e}", self.dir.join(path).display()))
    }

    /// A document, parsed.
    ///
    /// # Panics
    /// When the document cannot be read or is not JSON.
    #[must_use]
    pub fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_slice(&self.read(path))
            .unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
    }
}
