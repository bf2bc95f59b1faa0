//! The cluster rounds: the bridge core on a 3-node JetStream cluster with R3 streams, and how
//! long delivery stalls when the stream leader is killed.

use super::*;

/// One round of each case on the single private server and on a 3-node cluster with
/// replicated streams, then the stall a SIGKILL of the stream's leader causes.
pub(crate) async fn cluster_rounds(rounds: usize, kills: usize) {
    let cluster = tokio::task::block_in_place(|| NatsCluster::start(3)).expect("a cluster");
    let (empty_count, signup_count) = (20_000, 1_000);
    let mut rows: Vec<[f64; 4]> = Vec::new();
    for round in 1..=rounds {
        // Alternate which runs first, so neither always meets a warmer machine.
        let single = || async {
            (
                empty(&nats().await, empty_count).await,
                signups(signup_count).await,
            )
        };
        let replicated = || async {
            (
                empty(&nats_on_cluster(&cluster).await, empty_count).await,
                signups_on(&nats_on_cluster(&cluster).await, signup_count).await,
            )
        };
        let ((single_empty, single_signup), (r3_empty, r3_signup)) = if round % 2 == 1 {
            let a = single().await;
            (a, replicated().await)
        } else {
            let b = replicated().await;
            (single().await, b)
        };
        println!(
            "round {round}: empty {single_empty:.0}/s single, {r3_empty:.0}/s R3 ({:.2}); signed_up {single_signup:.0}/s single, {r3_signup:.0}/s R3 ({:.2})",
            r3_empty / single_empty,
            r3_signup / single_signup
        );
        rows.push([single_empty, r3_empty, single_signup, r3_signup]);
    }
    let column = |i: usize| median(&rows.iter().map(|r| r[i]).collect::<Vec<_>>());
    let ratio = |a: usize, b: usize| median(&rows.iter().map(|r| r[b] / r[a]).collect::<Vec<_>>());
    println!();
    println!("{rounds} rounds, medians (ratio: median of the rounds' R3 / single):");
    println!("| consumer | messages | single node, events/s | 3-node R3, events/s | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| bridge core, empty handler | {empty_count} | {:.0} | {:.0} | {:.2} |",
        column(0),
        column(1),
        ratio(0, 1)
    );
    println!(
        "| bridge core, users.signed_up → PostgreSQL | {signup_count} | {:.0} | {:.0} | {:.2} |",
        column(2),
        column(3),
        ratio(2, 3)
    );
    let headline = |figure| Headline {
        area: "Cluster",
        figure,
        unit: "events/s",
        baseline: "the same on one node",
    };
    headline("bridge core, empty handler, 3 nodes, R3 streams").report(
        column(1),
        column(0),
        ratio(0, 1),
    );
    headline("users.signed_up → PostgreSQL, 3 nodes, R3 streams").report(
        column(3),
        column(2),
        ratio(2, 3),
    );
    let mut cluster = cluster;
    let mut stalls = Vec::new();
    for kill in 1..=kills {
        let stall = leader_kill_stall(&mut cluster).await;
        println!("kill {kill}: delivery stalled {:.2} s", stall.as_secs_f64());
        stalls.push(stall.as_secs_f64());
    }
    if !stalls.is_empty() {
        let worst = stalls.iter().copied().fold(0.0, f64::max);
        println!();
        println!(
            "leader SIGKILLed {kills} times: longest gap between deliveries median {:.2} s, worst {worst:.2} s",
            median(&stalls)
        );
    }
}

/// A handler that notes when each message arrived.
pub(crate) struct Arrivals(std::sync::Mutex<Vec<Instant>>);

impl MessageHandler for Arrivals {
    async fn handle(&self, _: &MessageRecord) -> Outcome {
        self.0.lock().expect("lock").push(Instant::now());
        Outcome::Ack
    }
}

/// Publishes a steady trickle through the bridge core, SIGKILLs the node leading the
/// stream, and returns the longest gap between two handled messages from a second before
/// the kill to the end of the run (twenty seconds after it; the end counts as an arrival, so
/// a delivery that never resumed shows as the whole window). The node is restarted
/// afterwards.
pub(crate) async fn leader_kill_stall(cluster: &mut NatsCluster) -> Duration {
    let bus = nats_on_cluster(cluster).await;
    let arrivals = Arrivals(std::sync::Mutex::new(Vec::new()));
    let mut settings = settings(&bus, "stall");
    settings.max_wait = Duration::from_millis(100);
    settings.batch_size = 10;
    let invoker = InProcess::new(&arrivals, CONCURRENCY);
    let metrics = BridgeMetrics::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consuming = bridge::run(&bus.jetstream, &settings, &invoker, &metrics, async {
        let mut stopped = stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    });
    let publishing = async {
        let subject = bus.streams.subject("users.signed_up");
        let started = Instant::now();
        let mut killed: Option<(usize, Instant)> = None;
        let mut n = 0_u64;
        while started.elapsed() < Duration::from_secs(23) {
            if killed.is_none() && started.elapsed() >= Duration::from_secs(3) {
                let leader = NatsCluster::leader_of(&bus.jetstream, &bus.streams.events)
                    .await
                    .expect("a leader");
                let index = cluster.index_of(&leader).expect("a node");
                tokio::task::block_in_place(|| cluster.node_mut(index).server.kill());
                killed = Some((index, Instant::now()));
            }
            n += 1;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("stall-{n}").as_str());
            if let Ok(ack) = bus
                .jetstream
                .publish_with_headers(subject.clone(), headers, "{}".into())
                .await
            {
                let _ = tokio::time::timeout(Duration::from_secs(2), ack).await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop.send(true);
        killed.expect("killed")
    };
    let (consumed, (index, at)) = tokio::join!(consuming, publishing);
    consumed.expect("bridge");
    tokio::task::block_in_place(|| {
        cluster.node_mut(index).server.resume().expect("back");
        cluster
            .wait_healthy(Duration::from_secs(60))
            .expect("healthy");
    });
    let ended = Instant::now().min(at + Duration::from_secs(20));
    let arrivals = arrivals.0.lock().expect("lock").clone();
    let mut window: Vec<Instant> = arrivals
        .into_iter()
        .filter(|t| *t + Duration::from_secs(1) >= at && *t <= ended)
        .collect();
    window.push(ended);
    window.insert(0, at);
    window.sort();
    window
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default()
}
