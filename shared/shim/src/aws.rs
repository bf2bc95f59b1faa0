//! The AWS configuration every SDK client of a binary is built from: region, credentials
//! and endpoints from the standard places (the environment, profiles, the function's or
//! instance's role; `AWS_ENDPOINT_URL_<SERVICE>` for a stand-in), over rustls with ring.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Loads the configuration once; clients built from it share its credentials provider.
pub async fn sdk_config() -> SdkConfig {
    // ring, like the rest of the workspace, rather than the SDK's default aws-lc, which
    // would need a C toolchain build of its own.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}
