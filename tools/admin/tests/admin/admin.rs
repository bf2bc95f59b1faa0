//! `lzstock-admin` against real NATS servers: `NATS_URL` in the README's cluster form (a
//! comma-separated list of seeds), and TLS with a CA and a client certificate.

use lzstock_harness::tls::TestCertificates;
use lzstock_harness::{nats, process, NatsServer};

const ADMIN: &str = env!("CARGO_BIN_EXE_lzstock-admin");

#[tokio::test]
async fn provisions_the_streams_through_a_list_of_seeds_whose_first_refuses() {
    let bus = nats().await;
    let live = bus
        .env()
        .into_iter()
        .find(|(name, _)| name == "NATS_URL")
        .map(|(_, url)| url)
        .expect("NATS_URL");
    // Nothing listens on the first seed: the client goes on to the next.
    let seeds = format!("nats://127.0.0.1:{},{live}", process::free_port());
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let (events, dead_letters) = (format!("ADMIN_{id}"), format!("ADMIN_DLQ_{id}"));
    let output = tokio::process::Command::new(ADMIN)
        .arg("provision-streams")
        .env_clear()
        .env("NATS_URL", &seeds)
        .env("EVENTS_STREAM", &events)
        .env("DEAD_LETTER_STREAM", &dead_letters)
        .env("EVENTS_SUBJECT_ROOT", format!("a{id}.lzstock"))
        .output()
        .await
        .expect("lzstock-admin runs");
    assert!(output.status.success(), "{output:?}");
    for stream in [&events, &dead_letters] {
        bus.jetstream
            .get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("{stream} was not created: {e}"));
    }
}

#[tokio::test]
async fn a_malformed_seed_list_stops_it_naming_the_variable() {
    let output = tokio::process::Command::new(ADMIN)
        .arg("provision-streams")
        .env_clear()
        .env("NATS_URL", "nats://127.0.0.1:4222,nats://127.0.0.1:port")
        .output()
        .await
        .expect("lzstock-admin runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("NATS_URL"), "{stderr}");
}

/// A nats-server serving TLS only and requiring a client certificate, both signed by a CA
/// made for the test.
fn tls_server() -> (TestCertificates, NatsServer) {
    let certificates = TestCertificates::generate().expect("certificates (openssl)");
    let server = NatsServer::start_with(process::free_port(), certificates.nats_server_args())
        .expect("a TLS nats-server");
    (certificates, server)
}

#[tokio::test]
async fn provisions_over_tls_with_the_ca_and_a_client_certificate() {
    let (certificates, server) = tls_server();
    let output = tokio::process::Command::new(ADMIN)
        .arg("provision-streams")
        .env_clear()
        .env("NATS_URL", format!("tls://127.0.0.1:{}", server.port()))
        .env("NATS_TLS_CA", certificates.path("ca.pem"))
        .env("NATS_TLS_CERT", certificates.path("client.pem"))
        .env("NATS_TLS_KEY", certificates.path("client.key"))
        .output()
        .await
        .expect("lzstock-admin runs");
    assert!(output.status.success(), "{output:?}\n{}", server.log());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ready"),
        "{output:?}"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_tls_file_stops_it_naming_the_variable() {
    let (certificates, server) = tls_server();
    let garbage = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(
        garbage.path(),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .expect("written");
    let ca = certificates.path("ca.pem");
    let cert = certificates.path("client.pem");
    let key = certificates.path("client.key");
    let cases: [(&str, Vec<(&str, &std::path::Path)>); 5] = [
        ("NATS_TLS_CA", vec![("NATS_TLS_CA", garbage.path())]),
        (
            "NATS_TLS_CA",
            vec![("NATS_TLS_CA", std::path::Path::new("/nonexistent/ca.pem"))],
        ),
        (
            "NATS_TLS_KEY",
            vec![("NATS_TLS_CA", &ca), ("NATS_TLS_CERT", &cert)],
        ),
        (
            "NATS_TLS_KEY",
            vec![("NATS_TLS_CERT", &cert), ("NATS_TLS_KEY", &ca)],
        ),
        (
            "NATS_TLS_CERT",
            vec![("NATS_TLS_CERT", &key), ("NATS_TLS_KEY", &key)],
        ),
    ];
    for (named, variables) in cases {
        let output = tokio::process::Command::new(ADMIN)
            .arg("provision-streams")
            .env_clear()
            .env("NATS_URL", format!("tls://127.0.0.1:{}", server.port()))
            .envs(variables.iter().map(|(k, v)| (*k, *v)))
            .output()
            .await
            .expect("lzstock-admin runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variables:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(named),
            "{variables:?} names {named}: {stderr}"
        );
    }
}
