//! The system under test: every server and LZStock binary of one path, each of which the
//! nemesis can take down and bring back.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lzstock_harness::cluster::NatsCluster;
use lzstock_harness::lambda::{LambdaEmulator, LambdaFunction};
use lzstock_harness::redis::RedisServer;
use lzstock_harness::smtp_sink::SmtpSink;
use lzstock_harness::{
    base_env, database_on, nats_on_cluster, process, PostgresServer, TestDatabase, TestNats,
};

use crate::options::DeliveryPath;
use crate::throttle::ThrottlingProxy;

/// One LZStock binary the campaign runs, which it can SIGKILL and start again.
#[derive(Debug)]
pub struct Service {
    /// What the report calls it (`events-1`, `bridge-2`, `api`).
    pub name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    fn start(name: &str, binary: PathBuf, env: Vec<(String, String)>, logs: &Path) -> Self {
        let mut service = Self {
            name: name.to_owned(),
            binary,
            env,
            log: logs.join(format!("{name}.log")),
            child: None,
        };
        service.restart();
        service
    }

    /// SIGKILL, as a crash or an out-of-memory kill would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the binary again with the same environment (a no-op while it runs).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            return;
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|file| Ok((file.try_clone()?, file)));
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null());
        if let Ok((out, err)) = log {
            command.stdout(out).stderr(err);
        }
        match process::spawn_tied(command, libc::SIGKILL) {
            Ok(child) => self.child = Some(child),
            Err(error) => eprintln!("campaign: cannot start {}: {error}", self.name),
        }
    }
}

impl Drop for Service {
    /// A path's services end with its system: the next path runs on a quiet machine.
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Lambda side of the Lambda path: the emulator's Invoke API behind a proxy that can
/// throttle, and two function processes polling its Runtime API (two sandboxes).
#[derive(Debug)]
pub struct LambdaSide {
    emulator: LambdaEmulator,
    env: Vec<(String, String)>,
    /// The sandboxes; `None` while killed.
    pub functions: Vec<Option<LambdaFunction>>,
    /// The proxy the bridges invoke through.
    pub throttle: ThrottlingProxy,
    /// Sandboxes that ended by themselves and were started again.
    pub revived: usize,
}

impl LambdaSide {
    /// Starts again every sandbox whose process ended by itself (its runtime connection
    /// failed), as Lambda starts a new sandbox; returns how many.
    pub fn revive(&mut self) -> usize {
        let mut revived = 0;
        for index in 0..self.functions.len() {
            let ended = self.functions[index]
                .as_mut()
                .is_some_and(|function| !function.is_running());
            if ended {
                self.functions[index] = None;
                self.restart(index);
                revived += 1;
            }
        }
        self.revived += revived;
        revived
    }

    /// SIGKILLs sandbox `index`.
    pub fn kill(&mut self, index: usize) {
        self.functions[index] = None;
    }

    /// Starts sandbox `index` again.
    pub fn restart(&mut self, index: usize) {
        if self.functions[index].is_none() {
            let binary = process::workspace_binary("events");
            self.functions[index] = self.emulator.run_function(&binary, &self.env).ok();
        }
    }
}

/// Everything one path of the campaign runs.
#[derive(Debug)]
pub struct System {
    /// The 3-node JetStream cluster.
    pub cluster: NatsCluster,
    /// Whether its nodes can be cut off (they run in network namespaces).
    pub partitions: bool,
    /// PostgreSQL, private to the campaign.
    pub postgres: PostgresServer,
    /// The database every binary uses.
    pub db: TestDatabase,
    /// The streams and a client on them.
    pub bus: TestNats,
    /// The mail server.
    pub smtp: SmtpSink,
    /// The email cache.
    pub redis: RedisServer,
    /// The standalone API (it also relays the outbox).
    pub api: Service,
    /// The API's address.
    pub api_url: String,
    /// Events hosts (standalone) or bridges (Lambda).
    pub consumers: Vec<Service>,
    /// The durable consumer that delivers to the handlers.
    pub durable: String,
    /// The function and throttling proxy, on the Lambda path.
    pub lambda: Option<LambdaSide>,
}

impl System {
    /// Starts every server and binary for `path`, logging into `logs`.
    ///
    /// # Errors
    /// When a server cannot be started.
    pub async fn start(path: DeliveryPath, logs: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(logs)?;
        let (cluster, partitions) =
            match tokio::task::block_in_place(|| NatsCluster::start_isolated(3)) {
                Ok(cluster) => (cluster, true),
                Err(error) => {
                    eprintln!(
                        "campaign: nodes on loopback, no partitions (cannot make network \
                     namespaces: {error})"
                    );
                    (
                        tokio::task::block_in_place(|| NatsCluster::start(3))?,
                        false,
                    )
                }
            };
        let postgres = tokio::task::block_in_place(PostgresServer::start)?;
        let redis = tokio::task::block_in_place(RedisServer::start)?;
        let (db, bus, smtp) = tokio::join!(
            database_on(&postgres),
            nats_on_cluster(&cluster),
            SmtpSink::start()
        );
        let durable = match path {
            DeliveryPath::Standalone => "campaign".to_owned(),
            DeliveryPath::Lambda => "bridge".to_owned(),
        };
        let mut env = base_env();
        env.extend(bus.env());
        env.extend(
            [
                ("NATS_STREAM_REPLICAS", "3".to_owned()),
                ("DATABASE_URL", db.url.clone()),
                ("SMTP_URL", smtp.url()),
                ("REDIS_URL", redis.url()),
                ("EVENTS_CONSUMER", durable.clone()),
                ("RUST_LOG", "warn".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );

        let port = process::free_port();
        let mut api_env = env.clone();
        api_env.push(("PORT".into(), port.to_string()));
        let api = Service::start("api", process::workspace_binary("api"), api_env, logs);
        let api_url = format!("http://127.0.0.1:{port}");

        let (consumers, lambda) = match path {
            DeliveryPath::Standalone => {
                let hosts = (1..=2)
                    .map(|n| {
                        Service::start(
                            &format!("events-{n}"),
                            process::workspace_binary("events"),
                            env.clone(),
                            logs,
                        )
                    })
                    .collect();
                (hosts, None)
            }
            DeliveryPath::Lambda => {
                let emulator = tokio::task::block_in_place(LambdaEmulator::start)?;
                let throttle = ThrottlingProxy::start(&emulator.endpoint()).await;
                let mut function_env = env.clone();
                // A sandbox's stderr is the campaign's own: only errors.
                function_env.push(("RUST_LOG".into(), "error".into()));
                let mut side = LambdaSide {
                    emulator,
                    env: function_env,
                    functions: vec![None, None],
                    throttle,
                    revived: 0,
                };
                side.restart(0);
                side.restart(1);
                let bridges = (1..=2)
                    .map(|n| {
                        let mut bridge_env = env.clone();
                        bridge_env.extend(
                            [
                                ("BRIDGE_FUNCTION", "_".to_owned()),
                                ("BRIDGE_MAX_WAIT_MS", "200".to_owned()),
                                // A sandbox killed mid-invoke never answers: fail the invoke
                                // (and nak its batch) well within the ack wait.
                                ("BRIDGE_INVOKE_TIMEOUT_MS", "20000".to_owned()),
                                ("AWS_REGION", "us-east-1".to_owned()),
                                ("AWS_ACCESS_KEY_ID", "local".to_owned()),
                                ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
                                ("AWS_ENDPOINT_URL_LAMBDA", side.throttle.url()),
                                ("PORT", process::free_port().to_string()),
                            ]
                            .map(|(k, v)| (k.to_owned(), v)),
                        );
                        Service::start(
                            &format!("bridge-{n}"),
                            process::workspace_binary("nats-bridge"),
                            bridge_env,
                            logs,
                        )
                    })
                    .collect();
                (bridges, Some(side))
            }
        };
        process::wait_for_port(port, std::time::Duration::from_secs(120))?;
        Ok(Self {
            cluster,
            partitions,
            postgres,
            db,
            bus,
            smtp,
            redis,
            api,
            api_url,
            consumers,
            durable,
            lambda,
        })
    }
}
