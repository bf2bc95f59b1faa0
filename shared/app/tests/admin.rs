//! `lzstock-admin` against a real NATS server, given `NATS_URL` in the README's cluster form:
//! a comma-separated list of seeds.

use lzstock_harness::{nats, process};

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
