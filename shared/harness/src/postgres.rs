//! An ephemeral PostgreSQL server: `initdb` into a temporary directory, `postgres` on a free
//! port, stoppable and restartable mid-test.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process;

/// A private PostgreSQL server owned by the test process.
#[derive(Debug)]
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    durable: bool,
    child: Option<Child>,
}

/// How long a server may take to start or stop.
const STARTUP: Duration = Duration::from_secs(30);

impl PostgresServer {
    /// Creates a cluster with `initdb` and starts it on a free port.
    ///
    /// When the tests run as root (as in a container or CI), the server runs as the
    /// `postgres` user, because PostgreSQL refuses to run as root.
    ///
    /// # Errors
    /// When PostgreSQL's binaries are missing or the server does not start.
    pub fn start() -> io::Result<Self> {
        Self::start_with(false)
    }

    /// Like [`PostgresServer::start`], with production's durability: `fsync`,
    /// `synchronous_commit` and `full_page_writes` on, so each commit waits for the disk.
    /// For benchmarks of what commits cost.
    ///
    /// # Errors
    /// When PostgreSQL's binaries are missing or the server does not start.
    pub fn start_durable() -> io::Result<Self> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> io::Result<Self> {
        let bin = find_bin_dir().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "PostgreSQL's initdb and postgres were not found: install the postgresql \
                 package, set PG_BIN to their directory, or set DATABASE_URL",
            )
        })?;
        let dir = process::server_dir("lzstock-pg-")?;
        let owner = server_owner()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_owner(&mut initdb, owner);
        let output = initdb.output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let mut server = Self {
            dir,
            bin,
            port: process::free_port(),
            owner,
            durable,
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

    /// The URL of `database` on this server, as the `postgres` superuser.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Whether the server process is running.
    #[must_use]
    pub const fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server with a fast shutdown (clients are disconnected) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::signal(&child, libc::SIGINT);
            process::wait_or_kill(&mut child, STARTUP);
        }
    }

    /// Starts the stopped server again on the same port with the same data.
    ///
    /// # Errors
    /// When the server does not come back.
    pub fn resume(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let data = self.dir.path().join("data");
        let log = fs::File::create(self.dir.path().join("postgres.log"))?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(self.dir.path().join("postgres.log"), Some(uid), Some(gid))?;
        }
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
            ]);
        // Durability buys nothing for a throw-away cluster and costs seconds per test.
        let durability = if self.durable { "on" } else { "off" };
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            command.arg("-c").arg(format!("{setting}={durability}"));
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        as_owner(&mut command, self.owner);
        // SIGQUIT is PostgreSQL's immediate shutdown: the right end for a dying test process.
        let child = process::spawn_tied(command, libc::SIGQUIT)?;
        self.child = Some(child);
        self.wait_ready(&data)
    }

    fn wait_ready(&mut self, data: &Path) -> io::Result<()> {
        let started = Instant::now();
        // PostgreSQL writes "ready" into postmaster.pid once it accepts connections.
        while started.elapsed() < STARTUP {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "postgres exited with {status}: {}",
                        fs::read_to_string(self.dir.path().join("postgres.log"))
                            .unwrap_or_default()
                    )));
                }
            }
            let pid_file = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if pid_file.lines().any(|line| line.trim() == "ready") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "postgres did not become ready",
        ))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

/// `Some((uid, gid))` of the `postgres` user when running as root, `None` otherwise.
fn server_owner() -> io::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres"))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "running as root, but there is no postgres user to run PostgreSQL as \
                 (install the postgresql package, or run the tests as another user)",
            )
        })
}

/// A directory holding both `initdb` and `postgres`: `$PG_BIN`, a `PATH` entry, or the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`).
fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return has_both(&dir).then_some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    debian
        .into_iter()
        .map(|(_, dir)| dir)
        .chain(on_path)
        .find(|dir| has_both(dir))
}
