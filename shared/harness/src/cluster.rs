//! A JetStream cluster on loopback: N `nats-server` nodes on free ports joined by routes,
//! each with its own store, any of which a test can kill, stop, restart or make step down
//! from leading a stream; or the same nodes each on a host of its own
//! ([`NatsCluster::start_isolated`]), which can also be cut off from the others and healed.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use async_nats::jetstream;

use crate::nats::NatsServer;
use crate::network::IsolatedNetwork;
use crate::process;

/// The cluster's name, as its nodes announce it.
pub const CLUSTER_NAME: &str = "lzstock-test";

/// One node: its server and monitoring port.
#[derive(Debug)]
pub struct ClusterNode {
    /// The node's `server_name` (`n1`, `n2`, …), which stream info names a leader by.
    pub name: String,
    /// The server.
    pub server: NatsServer,
    monitor: (String, u16),
}

impl ClusterNode {
    /// Whether the node answers its health check: connected to the cluster, its JetStream
    /// caught up with the meta leader.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        http_ok(&self.monitor.0, self.monitor.1, "/healthz")
    }
}

/// N nodes joined as one JetStream cluster. Killed with the test process.
#[derive(Debug)]
pub struct NatsCluster {
    // Declared before the network: the nodes stop before their hosts are removed.
    nodes: Vec<ClusterNode>,
    network: Option<IsolatedNetwork>,
}

/// The arguments that make a `nats-server` node `name` of the cluster: its route listener
/// at `cluster` (host:port), the `routes` to every node (itself included: nats-server skips
/// it), and its monitoring port.
fn node_arguments(name: &str, cluster: &str, routes: &[String], monitor: u16) -> Vec<String> {
    vec![
        "--name".to_owned(),
        name.to_owned(),
        "--cluster_name".to_owned(),
        CLUSTER_NAME.to_owned(),
        "--cluster".to_owned(),
        format!("nats://{cluster}"),
        "--routes".to_owned(),
        routes.join(","),
        "-m".to_owned(),
        monitor.to_string(),
    ]
}

impl NatsCluster {
    /// Starts `size` nodes (3 or 5 in practice) and waits until every one is healthy.
    ///
    /// # Errors
    /// When a node does not start, or the cluster does not form within a minute.
    pub fn start(size: usize) -> io::Result<Self> {
        // A node that does not join (a free port taken again by another process between
        // picking and binding, say) is rare but possible: a second try on fresh ports.
        match Self::start_once(size) {
            Ok(cluster) => Ok(cluster),
            Err(first) => Self::start_once(size).map_err(|second| {
                io::Error::new(second.kind(), format!("{second} (a first try: {first})"))
            }),
        }
    }

    fn start_once(size: usize) -> io::Result<Self> {
        // Every port distinct: a port handed out twice would leave a node unable to bind.
        let mut taken = std::collections::HashSet::new();
        let mut port = || loop {
            let candidate = process::free_port();
            if taken.insert(candidate) {
                return candidate;
            }
        };
        let ports: Vec<(u16, u16, u16)> = (0..size).map(|_| (port(), port(), port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, cluster, _)| format!("nats://127.0.0.1:{cluster}"))
            .collect();
        let mut nodes = Vec::with_capacity(size);
        for (index, (client, cluster, monitor)) in ports.iter().enumerate() {
            let name = format!("n{}", index + 1);
            let extra = node_arguments(&name, &format!("127.0.0.1:{cluster}"), &routes, *monitor);
            nodes.push(ClusterNode {
                name,
                server: NatsServer::start_with(*client, extra)?,
                monitor: ("127.0.0.1".to_owned(), *monitor),
            });
        }
        Self {
            nodes,
            network: None,
        }
        .healthy()
    }

    /// Starts `size` nodes, each in a network namespace of its own
    /// ([`IsolatedNetwork`]), on the standard ports of its own address, and waits until
    /// every one is healthy. Needs CAP_NET_ADMIN.
    ///
    /// # Errors
    /// When the hosts cannot be made, a node does not start, or the cluster does not form.
    pub fn start_isolated(size: usize) -> io::Result<Self> {
        let network = IsolatedNetwork::create(size)?;
        let routes: Vec<String> = network
            .hosts()
            .iter()
            .map(|host| format!("nats://{}:6222", host.address))
            .collect();
        let mut nodes = Vec::with_capacity(size);
        for (index, host) in network.hosts().iter().enumerate() {
            let name = format!("n{}", index + 1);
            // Monitoring listens on the client address (`-a`).
            let extra = node_arguments(&name, &format!("{}:6222", host.address), &routes, 8222);
            nodes.push(ClusterNode {
                name,
                server: NatsServer::start_in(&host.netns, &host.address, 4222, extra)?,
                monitor: (host.address.clone(), 8222),
            });
        }
        Self {
            nodes,
            network: Some(network),
        }
        .healthy()
    }

    /// Cuts node `index` off from the other nodes and from every client, until
    /// [`heal`](Self::heal).
    ///
    /// # Errors
    /// When the cluster was not started isolated, or `ip` refuses.
    pub fn cut(&self, index: usize) -> io::Result<()> {
        self.isolated()?.cut(index)
    }

    /// Joins node `index` to the others again.
    ///
    /// # Errors
    /// When the cluster was not started isolated, or `ip` refuses.
    pub fn heal(&self, index: usize) -> io::Result<()> {
        self.isolated()?.heal(index)
    }

    fn isolated(&self) -> io::Result<&IsolatedNetwork> {
        self.network.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the cluster runs on loopback: start it with start_isolated to cut nodes off",
            )
        })
    }

    /// `self` once every node is healthy, or an error quoting the unhealthy ones' logs.
    fn healthy(self) -> io::Result<Self> {
        let cluster = self;
        if let Err(error) = cluster.wait_healthy(Duration::from_secs(45)) {
            let logs: Vec<String> = cluster
                .nodes
                .iter()
                .filter(|node| !node.is_healthy())
                .map(|node| {
                    let log = node.server.log();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    format!("{}: {}", node.name, tail.join(" | "))
                })
                .collect();
            return Err(io::Error::new(
                error.kind(),
                format!("{error}; last log lines: {}", logs.join("; ")),
            ));
        }
        Ok(cluster)
    }

    /// The nodes, in order.
    #[must_use]
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// Node `index` (from 0).
    ///
    /// # Panics
    /// When there is no such node.
    pub fn node_mut(&mut self, index: usize) -> &mut ClusterNode {
        &mut self.nodes[index]
    }

    /// The index of the node named `name`.
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    /// Every node's client URL, comma-separated: a `NATS_URL` of seeds.
    #[must_use]
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|node| node.server.url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every running node is healthy.
    ///
    /// # Errors
    /// When one is not within `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) -> io::Result<()> {
        let started = Instant::now();
        loop {
            let unhealthy: Vec<&str> = self
                .nodes
                .iter()
                .filter(|node| node.server.is_running() && !node.is_healthy())
                .map(|node| node.name.as_str())
                .collect();
            if unhealthy.is_empty() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("cluster nodes {unhealthy:?} not healthy within {timeout:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The name of the node leading `stream`, as the stream's info reports it.
    pub async fn leader_of(js: &jetstream::Context, stream: &str) -> Option<String> {
        let mut stream = js.get_stream(stream).await.ok()?;
        let info = stream.info().await.ok()?;
        info.cluster
            .as_ref()
            .and_then(|cluster| cluster.leader.clone())
    }

    /// Asks the leader of `stream` to step down, so another replica is elected.
    ///
    /// # Errors
    /// When the request is not answered or refused.
    pub async fn step_down(js: &jetstream::Context, stream: &str) -> Result<(), String> {
        let answer: serde_json::Value = js
            .request(format!("STREAM.LEADER.STEPDOWN.{stream}"), &())
            .await
            .map_err(|e| e.to_string())?;
        if answer["success"] == serde_json::Value::Bool(true) {
            Ok(())
        } else {
            Err(answer.to_string())
        }
    }
}

/// Whether `GET path` on the monitoring port answers 200.
fn http_ok(host: &str, port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &std::net::SocketAddr::new(
            host.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
            port,
        ),
        Duration::from_secs(2),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
