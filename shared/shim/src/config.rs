//! Reading typed configuration from the environment, failing fast with the variable's name.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A configuration error: one readable line that names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing environment variable {name}: {hint}")]
    Missing {
        /// The variable's name.
        name: &'static str,
        /// What the variable is for and what it should look like.
        hint: &'static str,
    },
    /// A variable is set but cannot be parsed.
    #[error("malformed environment variable {name}: {reason}")]
    Malformed {
        /// The variable's name.
        name: &'static str,
        /// Why the value was refused. Never contains a secret's value.
        reason: String,
    },
    /// A variable names something to read at start (a secret) that could not be read.
    #[error("{name}: {reason}")]
    Unreadable {
        /// The variable's name.
        name: &'static str,
        /// What could not be read, and why.
        reason: String,
    },
}

/// Where configuration values come from: the process environment in binaries, a map in tests.
pub trait Source {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, key: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Reads `name`; an empty value counts as unset.
pub fn optional(source: &dyn Source, name: &'static str) -> Option<String> {
    source.get(name).filter(|v| !v.trim().is_empty())
}

/// Reads a required variable.
///
/// # Errors
/// [`ConfigError::Missing`] when the variable is unset or empty.
pub fn required(
    source: &dyn Source,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    optional(source, name).ok_or(ConfigError::Missing { name, hint })
}

/// Reads and parses an optional variable, with `default` when it is unset.
///
/// # Errors
/// [`ConfigError::Malformed`] when the value does not parse.
pub fn parsed_or<T>(source: &dyn Source, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    optional(source, name).map_or(Ok(default), |raw| {
        raw.trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Malformed {
                name,
                reason: format!("{e} (got {raw:?})"),
            })
    })
}

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used, never to log it.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Unwraps a parsed configuration, or prints the error as one line on stderr and exits
/// with status 2. Binaries call it once at start, before any work.
pub fn or_exit<T>(binary: &str, parsed: Result<T, ConfigError>) -> T {
    parsed.unwrap_or_else(|error| {
        eprintln!("{binary}: configuration error: {error}");
        std::process::exit(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_one_line_naming_it() {
        let env: [(&str, &str); 0] = [];
        let err = required(&env, "DATABASE_URL", "postgres://user@host/db").unwrap_err();
        let line = err.to_string();
        assert!(line.contains("DATABASE_URL"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn an_empty_variable_counts_as_missing() {
        let env = [("PORT", "  ")];
        assert_eq!(parsed_or(&env, "PORT", 8080_u16), Ok(8080));
    }

    #[test]
    fn a_malformed_number_names_the_variable_and_value() {
        let env = [("PORT", "eighty")];
        let err = parsed_or(&env, "PORT", 8080_u16).unwrap_err();
        assert!(err.to_string().contains("PORT"));
        assert!(err.to_string().contains("eighty"));
    }

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret = Secret::new("hunter2".to_owned());
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
