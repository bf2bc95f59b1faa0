//! The signing keys of an identity provider, fetched from its JWKS URL and cached.
//!
//! Keys are looked up by the token's `kid`. An unknown `kid` refetches the set at once (a
//! provider that rotated its keys is followed without delay), but after a refetch that
//! still did not know the asked `kid`, the next one waits [`JwksSettings::cooldown`]: a
//! stream of made-up `kid`s cannot turn the API into a load generator against the
//! provider. The set is also refetched when older than [`JwksSettings::max_age`]; while the
//! provider is unreachable, the keys already held keep working.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;

/// The algorithms a provider's keys may sign with. HMAC is not among them: a shared secret
/// is never published in a key set.
pub const ASYMMETRIC: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::RS384,
    Algorithm::ES384,
];

/// The largest key set accepted, in bytes; a provider's is a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How the cache refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksSettings {
    /// A set older than this is refetched on the next lookup.
    pub max_age: Duration,
    /// After a refetch that did not know an asked `kid`, the next refetch waits this long.
    pub cooldown: Duration,
    /// How long one fetch may take.
    pub timeout: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(15 * 60),
            cooldown: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }
}

/// One verification key.
#[derive(Clone)]
pub struct SigningKey {
    /// The algorithm the key signs with.
    pub algorithm: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// Why no key could be found for a `kid`.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The provider's set holds no usable key with that `kid`.
    #[error("no signing key {0:?}")]
    UnknownKey(String),
    /// The set could not be fetched and no key with that `kid` is cached.
    #[error("the identity provider's keys are unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, SigningKey>,
    fetched_at: Option<Instant>,
    /// When a refetch last failed to find an asked `kid`.
    fruitless_at: Option<Instant>,
}

/// A provider's key set, cached.
pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    settings: JwksSettings,
    cached: RwLock<Cached>,
    /// One refetch at a time; lookups waiting on it use its result.
    refetching: Mutex<()>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache of the set at `url`; nothing is fetched until the first lookup.
    #[must_use]
    pub fn new(url: impl Into<String>, settings: JwksSettings) -> Self {
        Self {
            url: url.into(),
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()
                .unwrap_or_default(),
            settings,
            cached: RwLock::new(Cached::default()),
            refetching: Mutex::new(()),
        }
    }

    /// The key `kid`, from the cache or a refetch.
    ///
    /// # Errors
    /// See [`JwksError`].
    pub async fn key(&self, kid: &str) -> Result<SigningKey, JwksError> {
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let _one_at_a_time = self.refetching.lock().await;
        // Another lookup may have refetched while this one waited.
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let (stale, may_refetch) = {
            let cached = self.cached.read().await;
            let stale = cached.keys.get(kid).cloned();
            let cooling = cached
                .fruitless_at
                .is_some_and(|at| at.elapsed() < self.settings.cooldown);
            let may_refetch = stale.is_some() || !cooling;
            (stale, may_refetch)
        };
        if !may_refetch {
            return Err(JwksError::UnknownKey(kid.to_owned()));
        }
        match self.fetch().await {
            Ok(keys) => {
                let mut cached = self.cached.write().await;
                cached.keys = keys;
                cached.fetched_at = Some(Instant::now());
                let found = cached.keys.get(kid).cloned();
                cached.fruitless_at = if found.is_some() {
                    None
                } else {
                    Some(Instant::now())
                };
                found.ok_or_else(|| JwksError::UnknownKey(kid.to_owned()))
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "fetching the JWKS failed");
                // A stale key beats no key while the provider is away.
                stale.ok_or(JwksError::Unavailable(reason))
            }
        }
    }

    /// The cached key `kid` when the set is younger than `max_age`.
    async fn fresh(&self, kid: &str) -> Option<SigningKey> {
        let cached = self.cached.read().await;
        let young = cached
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.max_age);
        young.then(|| cached.keys.get(kid).cloned()).flatten()
    }

    async fn fetch(&self) -> Result<HashMap<String, SigningKey>, String> {
        let mut response = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the key set is over {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(set.keys.iter().filter_map(usable).collect())
    }
}

/// A key the API can verify with: it has a `kid`, an asymmetric algorithm (its own `alg`,
/// or the one its type and curve imply), and parses.
fn usable(jwk: &Jwk) -> Option<(String, SigningKey)> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, PublicKeyUse};
    let kid = jwk.common.key_id.clone()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let algorithm = match (jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(alg), _) => alg.to_string().parse::<Algorithm>().ok()?,
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        (None, _) => return None,
    };
    if !ASYMMETRIC.contains(&algorithm) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, SigningKey { algorithm, key }))
}
