//! Token verification standalone: HS256 with the shared secret, an identity provider's
//! RS256/ES256 tokens with its JWKS served over real HTTP (keys rotated mid-test), and the
//! Lambda path that trusts nothing but the authorizer's claims.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lzstock_api::auth::{JwksCache, JwksSettings, TokenError, TokenVerifier};
use lzstock_api::Authenticator;
use lzstock_harness::TEST_JWT_SECRET;
use serde_json::{json, Value};

use crate::helpers::TestApi;

const ISSUER: &str = "https://id.example.test/";
const AUDIENCE: &str = "lzstock-api";

fn key(name: &str) -> EncodingKey {
    let der = std::fs::read(format!(
        "{}/tests/fixtures/keys/{name}.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture key");
    if name.starts_with("ec") {
        EncodingKey::from_ec_der(&der)
    } else {
        EncodingKey::from_rsa_der(&der)
    }
}

/// The public half of fixture key `name`, as a provider publishes it.
fn public_jwk(name: &str, algorithm: Algorithm) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&key(name), algorithm).expect("jwk");
    jwk.common.key_id = Some(name.to_owned());
    jwk
}

/// A provider's JWKS endpoint on a free port; `publish` swaps the set it serves.
struct Provider {
    url: String,
    keys: Arc<Mutex<JwkSet>>,
    fetches: Arc<AtomicUsize>,
}

impl Provider {
    async fn start(keys: Vec<Jwk>) -> Self {
        let keys = Arc::new(Mutex::new(JwkSet { keys }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (Arc::clone(&keys), Arc::clone(&fetches));
        let app = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let set = served.lock().expect("keys").clone();
                async move { Json(set) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("addr")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, keys, fetches }
    }

    fn publish(&self, keys: Vec<Jwk>) {
        *self.keys.lock().expect("keys") = JwkSet { keys };
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({"sub": "ada", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "nbf": now() - 10})
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn sign(algorithm: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("signed")
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        claims,
    )
}

/// A token with `alg: none` and no signature, as an attacker would send it.
fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

fn verifier(provider: &Provider) -> TokenVerifier {
    TokenVerifier::hs256(TEST_JWT_SECRET.as_bytes())
        .with_jwks(JwksCache::new(&provider.url, JwksSettings::default()))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
}

#[tokio::test]
async fn each_kind_of_bad_token_is_refused_for_its_own_reason() {
    let provider = Provider::start(vec![
        public_jwk("rsa-1", Algorithm::RS256),
        public_jwk("ec-1", Algorithm::ES256),
    ])
    .await;
    let verifier = verifier(&provider);
    let rsa = key("rsa-1");
    let ec = key("ec-1");
    let good = claims();
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("HS256 with the secret", hs256(&good), Ok(())),
        (
            "RS256 from the provider",
            sign(Algorithm::RS256, Some("rsa-1"), &rsa, &good),
            Ok(()),
        ),
        (
            "ES256 from the provider",
            sign(Algorithm::ES256, Some("ec-1"), &ec, &good),
            Ok(()),
        ),
        ("alg none", unsigned(&good), Err(TokenError::Malformed)),
        (
            "HS256 with another secret",
            sign(
                Algorithm::HS256,
                None,
                &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
                &good,
            ),
            Err(TokenError::Signature),
        ),
        (
            "RS256 signed by a key the provider does not hold",
            sign(Algorithm::RS256, Some("rsa-1"), &key("rsa-other"), &good),
            Err(TokenError::Signature),
        ),
        (
            "RS384 naming an RS256 key",
            sign(Algorithm::RS384, Some("rsa-1"), &rsa, &good),
            Err(TokenError::Algorithm),
        ),
        (
            "RS256 naming the EC key",
            sign(Algorithm::RS256, Some("ec-1"), &rsa, &good),
            Err(TokenError::Algorithm),
        ),
        (
            "HS512, never accepted",
            sign(
                Algorithm::HS512,
                None,
                &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
                &good,
            ),
            Err(TokenError::Algorithm),
        ),
        (
            "RS256 without a kid",
            sign(Algorithm::RS256, None, &rsa, &good),
            Err(TokenError::NoKeyId),
        ),
        (
            "RS256 naming an unknown kid",
            sign(Algorithm::RS256, Some("nobody"), &rsa, &good),
            Err(TokenError::UnknownKey),
        ),
        (
            "nbf in the future",
            hs256(&with(good.clone(), "nbf", json!(now() + 3600))),
            Err(TokenError::NotYetValid),
        ),
        (
            "expired",
            hs256(&with(good.clone(), "exp", json!(now() - 3600))),
            Err(TokenError::Expired),
        ),
        (
            "another issuer",
            hs256(&with(good.clone(), "iss", json!("https://evil.test/"))),
            Err(TokenError::Issuer),
        ),
        (
            "another audience",
            hs256(&with(good.clone(), "aud", json!("someone-else"))),
            Err(TokenError::Audience),
        ),
        (
            "no subject",
            hs256(&json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600})),
            Err(TokenError::MissingClaim),
        ),
        (
            "no issuer",
            hs256(&json!({"sub": "ada", "aud": AUDIENCE, "exp": now() + 600})),
            Err(TokenError::MissingClaim),
        ),
        (
            "not a JWT",
            "not.a.jwt".to_owned(),
            Err(TokenError::Malformed),
        ),
    ];
    for (case, token, expected) in cases {
        let verified = verifier
            .verify(&token)
            .await
            .map(|t| assert_eq!(t.sub, "ada"));
        assert_eq!(verified, expected, "{case}");
    }

    // Without JWT_JWKS_URL an asymmetric token has no key; without JWT_SECRET, HS256 none.
    let secret_only = TokenVerifier::hs256(TEST_JWT_SECRET.as_bytes());
    let rs256 = sign(Algorithm::RS256, Some("rsa-1"), &rsa, &good);
    assert_eq!(secret_only.verify(&rs256).await, Err(TokenError::Algorithm));
    let keys_only =
        TokenVerifier::default().with_jwks(JwksCache::new(&provider.url, JwksSettings::default()));
    assert_eq!(
        keys_only.verify(&hs256(&good)).await,
        Err(TokenError::Algorithm)
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_at_once_and_made_up_kids_do_not_flood_the_provider() {
    let provider = Provider::start(vec![public_jwk("rsa-1", Algorithm::RS256)]).await;
    let verifier = verifier(&provider);
    let good = claims();
    let old = sign(Algorithm::RS256, Some("rsa-1"), &key("rsa-1"), &good);
    let new = sign(Algorithm::RS256, Some("rsa-2"), &key("rsa-2"), &good);

    assert!(verifier.verify(&old).await.is_ok());
    assert!(verifier.verify(&old).await.is_ok());
    assert_eq!(provider.fetches(), 1, "the set is cached");

    // The provider rotates: the first token with the new kid refetches the set.
    provider.publish(vec![public_jwk("rsa-2", Algorithm::RS256)]);
    assert!(verifier.verify(&new).await.is_ok());
    assert_eq!(provider.fetches(), 2);

    // The retired key is gone; one refetch confirms it, then the cooldown holds.
    assert_eq!(verifier.verify(&old).await, Err(TokenError::UnknownKey));
    assert_eq!(provider.fetches(), 3);
    for n in 0..20 {
        let made_up = sign(
            Algorithm::RS256,
            Some(&format!("kid-{n}")),
            &key("rsa-1"),
            &good,
        );
        assert_eq!(verifier.verify(&made_up).await, Err(TokenError::UnknownKey));
    }
    assert_eq!(provider.fetches(), 3, "no refetch during the cooldown");
    assert!(
        verifier.verify(&new).await.is_ok(),
        "known keys still verify"
    );
}

#[tokio::test]
async fn the_api_accepts_provider_tokens_standalone_and_says_503_when_its_keys_are_unreachable() {
    let provider = Provider::start(vec![public_jwk("ec-1", Algorithm::ES256)]).await;
    let api = TestApi::with_auth(Authenticator::tokens(verifier(&provider))).await;
    let token = sign(Algorithm::ES256, Some("ec-1"), &key("ec-1"), &claims());
    let request = |token: &str| {
        Request::get("/v1/dashboards")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(api.send(request(&token)).await.status, StatusCode::OK);

    let unreachable = TestApi::with_auth(Authenticator::tokens(
        TokenVerifier::default().with_jwks(JwksCache::new(
            "http://127.0.0.1:9/.well-known/jwks.json",
            JwksSettings::default(),
        )),
    ))
    .await;
    let reply = unreachable.send(request(&token)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body["code"], "unavailable");
}

#[tokio::test]
async fn on_lambda_a_valid_token_without_authorizer_claims_is_401() {
    let api = TestApi::with_auth(Authenticator::Authorizer).await;
    let reply = api
        .send(
            Request::get("/v1/dashboards")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", hs256(&claims())),
                )
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["code"], "unauthenticated");
}
