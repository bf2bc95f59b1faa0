//! Which host runs the binary.

/// The environment variable the Lambda execution environment (and `cargo lambda watch`)
/// sets to the address of the Runtime API.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// How a function binary is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Driven by the Lambda Runtime API: one invocation at a time, no listening socket.
    Lambda,
    /// A long-lived process that owns its trigger (HTTP server, consumer, cron).
    Standalone,
}

impl Host {
    /// Detects the host from the process environment.
    #[must_use]
    pub fn detect() -> Self {
        Self::from_runtime_api(std::env::var_os(RUNTIME_API_VAR).is_some())
    }

    fn from_runtime_api(present: bool) -> Self {
        if present {
            Self::Lambda
        } else {
            Self::Standalone
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_api_variable_selects_lambda() {
        assert_eq!(Host::from_runtime_api(true), Host::Lambda);
        assert_eq!(Host::from_runtime_api(false), Host::Standalone);
    }
}
