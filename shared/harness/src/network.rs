//! Hosts of their own on one machine, for partitions: each host is a network namespace
//! joined to a Linux bridge by a veth pair, with an address on a private /24 that the
//! bridge also holds, so processes in the root namespace reach every host and hosts reach
//! each other without forwarding. Cutting a host sets its end of the pair down: nothing
//! reaches it and it reaches nothing until it is healed.
//!
//! Made with `ip` (iproute2) and needs CAP_NET_ADMIN (root, or a namespace where the
//! caller has it); [`IsolatedNetwork::create`] says so when it cannot. Everything it made is
//! removed when it is dropped, and namespaces left by a process that died are removed by
//! the next one.
#![allow(unsafe_code)]

use std::io;
use std::process::{Command, Stdio};

/// The prefix of every name this module gives a namespace, bridge or link.
const PREFIX: &str = "lzn";

/// One host: a namespace and its address.
#[derive(Debug)]
pub struct IsolatedHost {
    /// The network namespace, for `ip netns exec`.
    pub netns: String,
    /// The host's address, reachable from the root namespace while the host is not cut.
    pub address: String,
    /// The root namespace's end of its veth pair.
    link: String,
}

/// Hosts in namespaces on one bridge; removed when dropped.
#[derive(Debug)]
pub struct IsolatedNetwork {
    bridge: String,
    hosts: Vec<IsolatedHost>,
}

impl IsolatedNetwork {
    /// Makes `count` hosts (at most 200).
    ///
    /// # Errors
    /// When `ip` is missing or refuses (no CAP_NET_ADMIN, most often); what was made is
    /// removed again.
    pub fn create(count: usize) -> io::Result<Self> {
        sweep_orphans();
        let pid = std::process::id();
        // Interface names have at most 15 bytes: lzn + pid (up to 7 digits) + b / h<n>.
        let tag = format!("{PREFIX}{}", pid % 10_000_000);
        let subnet = free_subnet()?;
        let mut network = Self {
            bridge: format!("{tag}b"),
            hosts: Vec::new(),
        };
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{subnet}.1/24"),
            "dev",
            &network.bridge,
        ])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        for index in 0..count.min(200) {
            let netns = format!("{tag}n{index}");
            let link = format!("{tag}h{index}");
            let inner = format!("{tag}i{index}");
            let address = format!("{subnet}.{}", index + 2);
            ip(&["netns", "add", &netns])?;
            network.hosts.push(IsolatedHost {
                netns: netns.clone(),
                address: address.clone(),
                link: link.clone(),
            });
            ip(&["link", "add", &link, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &netns])?;
            ip(&["link", "set", &link, "master", &network.bridge, "up"])?;
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &netns, "link", "set", &inner, "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    /// The hosts, in order.
    #[must_use]
    pub fn hosts(&self) -> &[IsolatedHost] {
        &self.hosts
    }

    /// Cuts host `index` off from every other host and from the root namespace.
    ///
    /// # Errors
    /// When there is no such host or `ip` refuses.
    pub fn cut(&self, index: usize) -> io::Result<()> {
        ip(&["link", "set", &self.host(index)?.link, "down"])
    }

    /// Joins host `index` to the others again.
    ///
    /// # Errors
    /// When there is no such host or `ip` refuses.
    pub fn heal(&self, index: usize) -> io::Result<()> {
        ip(&["link", "set", &self.host(index)?.link, "up"])
    }

    fn host(&self, index: usize) -> io::Result<&IsolatedHost> {
        self.hosts
            .get(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no host {index}")))
    }
}

impl Drop for IsolatedNetwork {
    fn drop(&mut self) {
        for host in &self.hosts {
            // Deleting the namespace destroys its end of the pair, and with it the other.
            let _ = ip(&["netns", "del", &host.netns]);
            let _ = ip(&["link", "del", &host.link]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// Runs `ip args…`, quietly, and fails with its error output.
fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip (iproute2): {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Whether a process with this pid exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Removes the namespaces, links and bridges of processes that died without dropping
/// their network (SIGKILL), so their addresses and names are free again.
fn sweep_orphans() {
    let owner = |name: &str| -> Option<u32> {
        let rest = name.strip_prefix(PREFIX)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let listed = |args: &[&str]| -> Vec<String> {
        Command::new("ip")
            .args(args)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                // `ip -o link`: "7: name@peer: <…"; `ip netns list`: "name (id: 3)".
                let field = line.split_whitespace().nth(usize::from(args[0] == "-o"))?;
                Some(field.trim_end_matches(':').split('@').next()?.to_owned())
            })
            .collect()
    };
    for netns in listed(&["netns", "list"]) {
        if owner(&netns).is_some_and(|pid| !alive(pid)) {
            let _ = ip(&["netns", "del", &netns]);
        }
    }
    for link in listed(&["-o", "link"]) {
        if owner(&link).is_some_and(|pid| !alive(pid)) {
            let _ = ip(&["link", "del", &link]);
        }
    }
}

/// A /24 in 10.233.0.0/16 that no interface here has an address in.
fn free_subnet() -> io::Result<String> {
    let output = Command::new("ip")
        .args(["-o", "-4", "addr"])
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip (iproute2): {e}")))?;
    let taken = String::from_utf8_lossy(&output.stdout).into_owned();
    (0..=255)
        .map(|third| format!("10.233.{third}"))
        .find(|subnet| !taken.contains(&format!(" {subnet}.")))
        .ok_or_else(|| io::Error::other("no free 10.233.x.0/24 subnet"))
}
