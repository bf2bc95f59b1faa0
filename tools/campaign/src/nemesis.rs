//! The nemesis: a seeded plan of faults, injected one at a time, each held for a while and
//! then healed, with a pause between them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use lzstock_harness::cluster::NatsCluster;

use crate::options::DeliveryPath;
use crate::system::System;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL one events host (standalone) or one function sandbox (Lambda); restart it.
    KillEventsHost,
    /// SIGKILL one nats-bridge; restart it (Lambda path).
    KillBridge,
    /// SIGKILL the API (which also relays the outbox); restart it.
    KillApi,
    /// SIGKILL a cluster node; restart it.
    KillNode,
    /// SIGKILL the node leading the events stream; restart it.
    KillStreamLeader,
    /// Cut a node off from the others and from every client; heal it.
    Partition,
    /// Stop PostgreSQL (fast shutdown); start it again.
    StopPostgres,
    /// The SMTP server refuses connections; it comes back.
    SmtpDown,
    /// The SMTP server answers every message 451 (try again later); it accepts again.
    Smtp4xx,
    /// Redis stops; it comes back.
    RedisDown,
    /// The Invoke API answers every invoke 429 `TooManyRequestsException` (Lambda path).
    Throttle,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KillEventsHost => "kill events host",
            Self::KillBridge => "kill bridge",
            Self::KillApi => "kill API",
            Self::KillNode => "kill node",
            Self::KillStreamLeader => "kill stream leader",
            Self::Partition => "partition node",
            Self::StopPostgres => "stop PostgreSQL",
            Self::SmtpDown => "SMTP down",
            Self::Smtp4xx => "SMTP 4xx",
            Self::RedisDown => "Redis down",
            Self::Throttle => "Invoke throttled",
        })
    }
}

impl Fault {
    /// The kinds a path can suffer.
    #[must_use]
    pub fn kinds(path: DeliveryPath, partitions: bool) -> Vec<Self> {
        let mut kinds = vec![
            Self::KillEventsHost,
            Self::KillApi,
            Self::KillNode,
            Self::KillStreamLeader,
            Self::StopPostgres,
            Self::SmtpDown,
            Self::Smtp4xx,
            Self::RedisDown,
        ];
        if partitions {
            kinds.push(Self::Partition);
        }
        if path == DeliveryPath::Lambda {
            kinds.extend([Self::KillBridge, Self::Throttle]);
        }
        kinds
    }
}

/// One planned fault: which, on which instance, held how long, then how long a pause.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The fault.
    pub fault: Fault,
    /// Which node, host or bridge (taken modulo how many there are).
    pub target: usize,
    /// How long the fault lasts.
    pub hold: Duration,
    /// The pause after healing it.
    pub pause: Duration,
}

/// SplitMix64: a small, well-mixed generator, so a seed means the same plan everywhere.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// The faults a seed picks among `kinds`: every kind at least once when `count` allows,
/// in a shuffled order, the rest at random.
#[must_use]
pub fn plan(seed: u64, count: usize, kinds: &[Fault]) -> Vec<Step> {
    let mut rng = SplitMix(seed);
    let mut faults: Vec<Fault> = (0..count)
        .map(|i| {
            if i < kinds.len() {
                kinds[i]
            } else {
                kinds[usize::try_from(rng.below(kinds.len() as u64)).unwrap_or(0)]
            }
        })
        .collect();
    for i in (1..faults.len()).rev() {
        let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
        faults.swap(i, j);
    }
    faults
        .into_iter()
        .map(|fault| Step {
            fault,
            target: usize::try_from(rng.below(3)).unwrap_or(0),
            hold: Duration::from_millis(1000 + rng.below(3000)),
            pause: Duration::from_millis(1000 + rng.below(1500)),
        })
        .collect()
}

/// How long a plan takes if every fault is injected and healed at once.
#[must_use]
pub fn planned_duration(plan: &[Step]) -> Duration {
    plan.iter().map(|step| step.hold + step.pause).sum()
}

/// Faults injected, by kind.
pub type Tally = BTreeMap<Fault, usize>;

/// Runs `plan` against `system`, one fault at a time, counting each finished one in
/// `done`; returns what it injected.
pub async fn run(system: &mut System, plan: &[Step], done: &AtomicUsize) -> Tally {
    let mut tally = Tally::new();
    for (number, step) in plan.iter().enumerate() {
        let injected = inject(system, step).await;
        if let Some(what) = &injected {
            println!(
                "  fault {:>3}: {} ({what}), {} ms",
                number + 1,
                step.fault,
                step.hold.as_millis()
            );
            *tally.entry(step.fault).or_default() += 1;
        }
        tokio::time::sleep(step.hold).await;
        heal(system, step, injected.as_deref()).await;
        if let Some(lambda) = &mut system.lambda {
            let revived = lambda.revive();
            if revived > 0 {
                println!("  {revived} sandbox(es) had ended by themselves: started again");
            }
        }
        tokio::time::sleep(step.pause).await;
        done.fetch_add(1, Ordering::SeqCst);
    }
    tally
}

/// Injects one fault; what it hit, or `None` when it could not (said why).
async fn inject(system: &mut System, step: &Step) -> Option<String> {
    let node = step.target % 3;
    match step.fault {
        Fault::KillEventsHost => match &mut system.lambda {
            Some(lambda) => {
                let index = step.target % lambda.functions.len();
                lambda.kill(index);
                Some(format!("sandbox {}", index + 1))
            }
            None => kill_consumer(system, step.target),
        },
        Fault::KillBridge => kill_consumer(system, step.target),
        Fault::KillApi => {
            system.api.kill();
            Some("api".into())
        }
        Fault::KillNode => {
            tokio::task::block_in_place(|| system.cluster.node_mut(node).server.kill());
            Some(format!("n{}", node + 1))
        }
        Fault::KillStreamLeader => {
            let leader = leader(&system.bus.jetstream, &system.bus.streams.events).await?;
            let index = system.cluster.index_of(&leader)?;
            tokio::task::block_in_place(|| system.cluster.node_mut(index).server.kill());
            Some(leader)
        }
        Fault::Partition => match system.cluster.cut(node) {
            Ok(()) => Some(format!("n{}", node + 1)),
            Err(error) => {
                eprintln!("campaign: cannot cut n{}: {error}", node + 1);
                None
            }
        },
        Fault::StopPostgres => {
            tokio::task::block_in_place(|| system.postgres.stop());
            Some("postgres".into())
        }
        Fault::SmtpDown => {
            system.smtp.stop().await;
            Some("smtp".into())
        }
        Fault::Smtp4xx => {
            // More answers than the hold can take; the heal drops the rest.
            let answers = vec![(451, "4.3.0 campaign: try again later"); 100_000];
            system.smtp.answer_next(&answers);
            Some("smtp".into())
        }
        Fault::RedisDown => {
            tokio::task::block_in_place(|| system.redis.stop());
            Some("redis".into())
        }
        Fault::Throttle => {
            let lambda = system.lambda.as_ref()?;
            lambda.throttle.start_throttling();
            Some("invoke".into())
        }
    }
}

fn kill_consumer(system: &mut System, target: usize) -> Option<String> {
    let count = system.consumers.len();
    let consumer = system.consumers.get_mut(target % count.max(1))?;
    consumer.kill();
    Some(consumer.name.clone())
}

/// Heals the fault `inject` made; `what` names what it hit.
async fn heal(system: &mut System, step: &Step, what: Option<&str>) {
    let Some(what) = what else {
        return;
    };
    match step.fault {
        Fault::KillEventsHost | Fault::KillBridge => {
            if let Some(lambda) = &mut system.lambda {
                if step.fault == Fault::KillEventsHost {
                    lambda.restart(step.target % lambda.functions.len());
                    return;
                }
            }
            for consumer in &mut system.consumers {
                consumer.restart();
            }
        }
        Fault::KillApi => system.api.restart(),
        Fault::KillNode | Fault::KillStreamLeader => {
            let index = system.cluster.index_of(what).unwrap_or(step.target % 3);
            let resumed =
                tokio::task::block_in_place(|| system.cluster.node_mut(index).server.resume());
            if let Err(error) = resumed {
                eprintln!("campaign: node {what} did not come back: {error}");
            }
        }
        Fault::Partition => {
            if let Err(error) = system.cluster.heal(step.target % 3) {
                eprintln!("campaign: cannot heal {what}: {error}");
            }
        }
        Fault::StopPostgres => {
            if let Err(error) = tokio::task::block_in_place(|| system.postgres.resume()) {
                eprintln!("campaign: PostgreSQL did not come back: {error}");
            }
        }
        Fault::SmtpDown => system.smtp.resume().await,
        Fault::Smtp4xx => system.smtp.accept_all(),
        Fault::RedisDown => {
            if let Err(error) = tokio::task::block_in_place(|| system.redis.resume()) {
                eprintln!("campaign: Redis did not come back: {error}");
            }
        }
        Fault::Throttle => {
            if let Some(lambda) = &system.lambda {
                lambda.throttle.stop();
            }
        }
    }
    // A node back in the cluster catches up before the next fault: two nodes down at once
    // is an outage of a 3-node cluster, not a fault it is built to survive.
    if matches!(
        step.fault,
        Fault::KillNode | Fault::KillStreamLeader | Fault::Partition
    ) {
        let healthy =
            tokio::task::block_in_place(|| system.cluster.wait_healthy(Duration::from_secs(60)));
        if let Err(error) = healthy {
            eprintln!("campaign: the cluster did not recover: {error}");
        }
    }
}

async fn leader(js: &jetstream::Context, stream: &str) -> Option<String> {
    NatsCluster::leader_of(js, stream).await
}
