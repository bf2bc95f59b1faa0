//! Replicated streams on a real 3-node JetStream cluster, reached through a list of seeds:
//! `NATS_STREAM_REPLICAS` creates and raises them, a start without it leaves an operator's
//! replicas alone, lowering them is said in the log, and more replicas than a server can
//! place stops the binary naming the variable and quoting the server.

use std::process::Output;
use std::sync::OnceLock;

use async_nats::jetstream;
use lzstock_harness::cluster::NatsCluster;
use lzstock_harness::NatsServer;

const ADMIN: &str = env!("CARGO_BIN_EXE_lzstock-admin");

fn cluster() -> &'static NatsCluster {
    static CLUSTER: OnceLock<NatsCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| NatsCluster::start(3).expect("a 3-node cluster"))
}

/// This test's stream names, as the variables that set them.
fn names() -> Vec<(String, String)> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    vec![
        ("EVENTS_STREAM".into(), format!("R_{id}")),
        ("DEAD_LETTER_STREAM".into(), format!("R_DLQ_{id}")),
        ("EVENTS_SUBJECT_ROOT".into(), format!("r{id}.lzstock")),
    ]
}

async fn provision(seeds: &str, names: &[(String, String)], replicas: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(ADMIN);
    command
        .arg("provision-streams")
        .env_clear()
        .env("NATS_URL", seeds)
        .env("LOG_FORMAT", "json")
        .envs(names.iter().cloned());
    if let Some(replicas) = replicas {
        command.env("NATS_STREAM_REPLICAS", replicas);
    }
    command.output().await.expect("lzstock-admin runs")
}

async fn client(seeds: &str) -> jetstream::Context {
    let seeds: Vec<&str> = seeds.split(',').collect();
    jetstream::new(async_nats::connect(seeds).await.expect("a client"))
}

/// The replicas of each of the three streams `names` provision.
async fn replicas(js: &jetstream::Context, names: &[(String, String)]) -> Vec<usize> {
    let events = &names[0].1;
    let mut found = Vec::new();
    for stream in [
        events.clone(),
        names[1].1.clone(),
        format!("{events}_ADVISORIES"),
    ] {
        let mut stream = js.get_stream(&stream).await.expect("the stream exists");
        found.push(stream.info().await.expect("its info").config.num_replicas);
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_are_replicated_as_asked_and_an_operators_choice_is_kept() {
    let cluster = cluster();
    let seeds = cluster.seeds();
    let names = names();
    let js = client(&seeds).await;

    let created = provision(&seeds, &names, Some("3")).await;
    assert!(created.status.success(), "{created:?}");
    assert_eq!(replicas(&js, &names).await, [3, 3, 3]);
    let leader = NatsCluster::leader_of(&js, &names[0].1).await;
    assert!(leader.is_some(), "the replicated stream has a leader");

    // Every later start without the setting leaves the operator's replicas alone.
    let again = provision(&seeds, &names, None).await;
    assert!(again.status.success(), "{again:?}");
    assert_eq!(replicas(&js, &names).await, [3, 3, 3]);

    // Asking for fewer lowers them, and says so.
    let lowered = provision(&seeds, &names, Some("1")).await;
    assert!(lowered.status.success(), "{lowered:?}");
    assert_eq!(replicas(&js, &names).await, [1, 1, 1]);
    let log = String::from_utf8_lossy(&lowered.stderr);
    assert!(
        log.contains("lowering the stream's replicas"),
        "the log says replicas were lowered: {log}"
    );

    // And asking for more brings a live stream up again.
    let raised = provision(&seeds, &names, Some("3")).await;
    assert!(raised.status.success(), "{raised:?}");
    assert_eq!(replicas(&js, &names).await, [3, 3, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn more_replicas_than_servers_is_a_start_up_error_naming_the_variable() {
    let single = NatsServer::start().expect("a single server");
    let output = provision(&single.url(), &names(), Some("3")).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .find(|line| line.starts_with("lzstock-admin: "))
        .unwrap_or_default();
    assert!(
        reason.contains("NATS_STREAM_REPLICAS") && reason.contains("non-clustered"),
        "one line naming the variable and quoting the server: {stderr}"
    );

    let five = provision(&cluster().seeds(), &names(), Some("5")).await;
    assert_eq!(five.status.code(), Some(1), "{five:?}");
    let stderr = String::from_utf8_lossy(&five.stderr);
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with("lzstock-admin: NATS_STREAM_REPLICAS")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_count_other_than_one_three_or_five_is_refused_at_start() {
    let output = provision(&cluster().seeds(), &names(), Some("2")).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NATS_STREAM_REPLICAS"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binary_started_while_the_cluster_has_no_quorum_waits_and_provisions_when_it_returns() {
    let mut own = tokio::task::block_in_place(|| NatsCluster::start(3)).expect("a cluster");
    let seeds = own.seeds();
    // Two of three nodes down: no meta leader, nothing can be created.
    for index in [1, 2] {
        tokio::task::block_in_place(|| own.node_mut(index).server.kill());
    }
    let names = names();
    let provisioning = tokio::spawn({
        let (seeds, names) = (seeds.clone(), names.clone());
        async move { provision(&seeds, &names, Some("3")).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert!(
        !provisioning.is_finished(),
        "it waits for the cluster instead of exiting"
    );
    for index in [1, 2] {
        tokio::task::block_in_place(|| own.node_mut(index).server.resume()).expect("back");
    }
    let output = provisioning.await.expect("joined");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(replicas(&client(&seeds).await, &names).await, [3, 3, 3]);
}
