//! Values the tests hand the binaries where the real thing would come from elsewhere.

/// A NATS user credentials file as `nsc` writes it (the JWT is a placeholder: the binaries
/// only check the file's shape at start).
pub const NATS_USER_CREDS: &str =
    "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n";
