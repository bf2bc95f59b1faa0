//! Spawning server processes that die with the test process.
//!
//! A test binary keeps its servers in statics, which are never dropped, so the servers are
//! tied to the process instead: each is spawned with a parent-death signal from one
//! long-lived thread (the signal fires when the *spawning thread* ends, and this thread
//! ends only with the process).
#![allow(unsafe_code)]

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // Every sender lives in a static, so this thread parks for the process's life.
                loop {
                    thread::park();
                }
            })
            .expect("the harness can start its spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `command` so that it receives `signal` when the test process exits.
///
/// # Errors
/// When the program cannot be started.
pub fn spawn_tied(mut command: Command, signal: i32) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl and getppid are async-signal-safe and touch no memory of the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() == 1 {
                return Err(io::Error::other("parent exited before the server started"));
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .map_err(|_| io::Error::other("spawner lock poisoned"))?
        .send((command, tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// Sends `signal` to `child`.
pub fn signal(child: &Child, signal: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill has no memory effects; a stale pid at worst gets ESRCH.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Waits up to `timeout` for `child` to exit; kills it if it does not.
pub fn wait_or_kill(child: &mut Child, timeout: Duration) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Panics
/// When no port can be bound at all.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
///
/// # Errors
/// When nothing does within `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) -> io::Result<()> {
    wait_for_address("127.0.0.1", port, timeout)
}

/// Waits until something accepts TCP connections on `host:port`.
///
/// # Errors
/// When nothing does within `timeout`.
pub fn wait_for_address(host: &str, port: u16, timeout: Duration) -> io::Result<()> {
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect((host, port)).is_ok() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing listened on {host}:{port} within {timeout:?}"),
            ));
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// The workspace root (where `Cargo.lock` is).
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Finds `program`: in `$<env_var>` if set, then in the project's virtualenv, then on `PATH`.
#[must_use]
pub fn find_program(program: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let venv = workspace_root().join(".venv/bin").join(program);
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Creates a temporary directory named `<prefix>…` for a server, first removing those
/// left by test processes that have exited. A server held in a static is never dropped,
/// so its directory outlives the process; this sweep keeps `/tmp` from filling up.
///
/// # Errors
/// When the directory cannot be created.
pub fn server_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(prefix) {
            continue;
        }
        let owner = std::fs::read_to_string(entry.path().join("owner.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<i32>().ok());
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = owner.is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        if owner.is_some() && !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(tmp)?;
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())?;
    Ok(dir)
}

/// Sends `signal` to the process `pid` (for children spawned by other means).
pub fn signal_pid(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill has no memory effects.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// A binary of this workspace built beside the running test (`cargo test --workspace`
/// builds every binary) or beside the running tool, for tests and tools that drive another
/// crate's binary.
///
/// # Panics
/// When the binary has not been built.
#[must_use]
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // A test runs from `target/<profile>/deps`, a tool from `target/<profile>`.
    let beside = exe.parent().map(|dir| dir.join(name));
    let path = match beside {
        Some(path) if path.is_file() => path,
        _ => exe
            .parent()
            .and_then(Path::parent)
            .map(|dir| dir.join(name))
            .unwrap_or_default(),
    };
    assert!(
        path.is_file(),
        "{} is not built; run `cargo test --workspace` (or `cargo build --bin {name}`)",
        path.display()
    );
    path
}
