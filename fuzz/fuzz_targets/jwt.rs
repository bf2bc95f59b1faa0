//! The API's token check: any text as a bearer token against a verifier with an HS256
//! secret, an issuer and an audience. It must refuse without panicking, and accept only a
//! token signed with that secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lzstock_api::auth::TokenVerifier;

const SECRET: &[u8] = b"lzstock-fuzz-secret-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let verifier = TokenVerifier::hs256(SECRET)
        .with_issuer("https://issuer.lzstock.test")
        .with_audience("lzstock");
    let _ = futures::executor::block_on(verifier.verify(&token));
});
