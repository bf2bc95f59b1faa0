//! An ephemeral Redis: `redis-server` on a free port, keeping nothing on disk, stoppable and
//! restartable mid-test.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process;

/// A private `redis-server` owned by the test process.
#[derive(Debug)]
pub struct RedisServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port. The binary is `$REDIS_SERVER_BIN`, else
    /// `redis-server` on `PATH` (Debian's `redis-server` package; the README's commands
    /// install it).
    ///
    /// # Errors
    /// When the binary is missing or the server does not start.
    pub fn start() -> io::Result<Self> {
        let bin = process::find_program("redis-server", "REDIS_SERVER_BIN").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-server was not found: run the README's test command (it installs \
                 Debian's redis-server) or set REDIS_SERVER_BIN",
            )
        })?;
        let mut server = Self {
            dir: process::server_dir("lzstock-redis-")?,
            bin,
            port: process::free_port(),
            child: None,
        };
        server.resume()?;
        Ok(server)
    }

    /// The client URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port (empty: it keeps nothing).
    ///
    /// # Errors
    /// When the server does not come back.
    pub fn resume(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut command = Command::new(&self.bin);
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(process::spawn_tied(command, libc::SIGKILL)?);
        process::wait_for_port(self.port, Duration::from_secs(20))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
