//! The value objects of an email, each valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// An email's id (a UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmailId(uuid::Uuid);

impl EmailId {
    /// A new, time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Wraps a stored id.
    #[must_use]
    pub const fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    /// Parses the text of an id.
    ///
    /// # Errors
    /// When the text is not a UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        raw.parse()
            .map(Self)
            .map_err(|_| InvalidInput::new("id", format!("{raw:?} is not an email id (UUID)")))
    }

    /// The UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl Default for EmailId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EmailId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address as SMTP carries it in an envelope and a header: `local@domain`, ASCII,
/// with no quoting, comments, display name, whitespace or control character, so it can be
/// written into a header as is. The local part is 1 to 64 of letters, digits and
/// ``!#$%&'*+-/=?^_`{|}~.``; the domain is two or more dot-separated labels of letters, digits
/// and inner hyphens (each 1 to 63 long), the last all letters (2 to 63) or an IDN `xn--`
/// label; 254 characters in all. Exactly [`EmailAddress::PATTERN`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The longest address, in characters (RFC 5321's path limit less its brackets).
    pub const MAX_LEN: usize = 254;

    /// The rules above as a regular expression (ECMA 262), for API documents.
    pub const PATTERN: &'static str = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$";

    /// Parses an address; `field` names it in the refusal (`to[2]`, `from`).
    ///
    /// # Errors
    /// When the text is not an address of the form above.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, InvalidInput> {
        let refuse = |why: &str| Err(InvalidInput::new(field, format!("{why}: {raw:?}")));
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return refuse("an address has no spaces or control characters");
        }
        if raw.len() > Self::MAX_LEN {
            return refuse("an address is at most 254 characters");
        }
        let Some((local, domain)) = raw.split_once('@') else {
            return refuse("an address is local@domain");
        };
        let local_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if local.is_empty() || local.len() > 64 || !local.chars().all(local_char) {
            return refuse(
                "the part before @ must be 1 to 64 letters, digits or !#$%&'*+-/=?^_`{|}~.",
            );
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let top_level_ok = labels.last().is_some_and(|tld| {
            ((2..=63).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_alphabetic()))
                || tld.strip_prefix("xn--").is_some_and(|rest| {
                    (1..=59).contains(&rest.len())
                        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        });
        let (_, head) = labels.split_last().unwrap_or((&"", &[]));
        if head.is_empty() || !head.iter().all(label_ok) || !top_level_ok {
            return refuse("the domain must be labels of letters, digits and inner hyphens ending in a top-level domain, like example.com");
        }
        Ok(Self(raw.to_owned()))
    }

    /// Parses an address (see [`EmailAddress::parse_field`]), naming the field `address`.
    ///
    /// # Errors
    /// When the text is not an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        Self::parse_field(raw, "address")
    }

    /// The address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidInput;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> Self {
        address.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email's recipients: 1 to 50 distinct addresses, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Recipients(Vec<EmailAddress>);

impl Recipients {
    /// The most recipients one email may have.
    pub const MAX: usize = 50;

    /// Parses the recipients; a refusal names `to` or the element (`to[3]`).
    ///
    /// # Errors
    /// When there are none, more than 50, a malformed one or a repeated one.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, InvalidInput> {
        if raw.is_empty() || raw.len() > Self::MAX {
            return Err(InvalidInput::new(
                "to",
                format!("must list 1 to {} addresses", Self::MAX),
            ));
        }
        let mut parsed: Vec<EmailAddress> = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            let address = EmailAddress::parse_field(text.as_ref(), &format!("to[{i}]"))?;
            if let Some(first) = parsed.iter().position(|a| a == &address) {
                return Err(InvalidInput::new(
                    format!("to[{i}]"),
                    format!("repeats to[{first}]"),
                ));
            }
            parsed.push(address);
        }
        Ok(Self(parsed))
    }

    /// One recipient.
    #[must_use]
    pub fn from_one(address: EmailAddress) -> Self {
        Self(vec![address])
    }

    /// The addresses, in order.
    #[must_use]
    pub fn as_slice(&self) -> &[EmailAddress] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for Recipients {
    type Error = InvalidInput;
    fn try_from(raw: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Recipients> for Vec<String> {
    fn from(recipients: Recipients) -> Self {
        recipients.0.into_iter().map(String::from).collect()
    }
}

/// A subject line: 1 to 998 characters (RFC 5322's line limit), not only whitespace, with no
/// control character (a CR or LF would end the header and start another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subject(String);

impl Subject {
    /// The longest subject, in characters.
    pub const MAX_CHARS: usize = 998;

    /// Parses a subject.
    ///
    /// # Errors
    /// When it is empty, blank, too long or has a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.trim().is_empty() {
            return Err(InvalidInput::new("subject", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                "subject",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "subject",
                "must not contain control characters (CR, LF, tab…)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A subject for when a generated one does not parse.
    #[must_use]
    pub fn fallback() -> Self {
        Self("LZStock".to_owned())
    }
}

impl TryFrom<String> for Subject {
    type Error = InvalidInput;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Subject> for String {
    fn from(subject: Subject) -> Self {
        subject.0
    }
}

/// A plain-text body: at most 1 MiB of UTF-8, with no NUL (SMTP cannot carry one); line
/// breaks and tabs are fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Body(String);

impl Body {
    /// The largest body, in bytes.
    pub const MAX_BYTES: usize = 1024 * 1024;

    /// Parses a body.
    ///
    /// # Errors
    /// When it is over 1 MiB or has a NUL.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.len() > Self::MAX_BYTES {
            return Err(InvalidInput::new(
                "body",
                format!("must be at most {} bytes (1 MiB)", Self::MAX_BYTES),
            ));
        }
        if raw.contains('\0') {
            return Err(InvalidInput::new("body", "must not contain NUL characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The body.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self(String::new())
    }
}

impl TryFrom<String> for Body {
    type Error = InvalidInput;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Body> for String {
    fn from(body: Body) -> Self {
        body.0
    }
}

/// What a search looks for: user text of at most 200 characters, handed to PostgreSQL's
/// `websearch_to_tsquery` (quotes for phrases, `or`, `-word`), which accepts any text.
/// Empty: every email, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchText(String);

impl SearchText {
    /// The longest search, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a search.
    ///
    /// # Errors
    /// When it is too long or has a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                "search",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "search",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw.trim().to_owned()))
    }

    /// The text, trimmed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it looks for nothing in particular.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
