//! `cargo lambda watch` as the Lambda Runtime API emulator for tests.
//!
//! The emulator runs with `--only-lambda-apis`: it serves the Runtime API and the Invoke
//! API, and the test starts the function binary itself (already built by `cargo test`)
//! with the environment Lambda would give it. The function then runs exactly as on AWS:
//! it polls the Runtime API for the next event and posts its response back.

use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process;

/// A running `cargo lambda watch --only-lambda-apis`.
#[derive(Debug)]
pub struct LambdaEmulator {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

/// A function binary connected to the emulator's Runtime API; killed on drop. Its stdout
/// (where a function prints its EMF metric lines) is kept in a file.
#[derive(Debug)]
pub struct LambdaFunction {
    child: Child,
    stdout: tempfile::NamedTempFile,
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LambdaFunction {
    /// Whether the function process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Freezes the function's process (SIGSTOP), as Lambda freezes an idle sandbox.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Thaws it (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    #[allow(unsafe_code)]
    fn signal(&self, signal: libc::c_int) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a pid this handle owns and a valid signal number.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Sends SIGTERM, as Lambda does at shutdown when an extension is registered, and waits
    /// up to `within` for the process to exit; its exit status, if it did.
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// What the function has printed to stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.stdout.path()).unwrap_or_default()
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The emulator could not be reached.
    #[error("invoke request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The function answered with an error.
    #[error("the function returned {status}: {body}")]
    Function {
        /// The Invoke API's status.
        status: u16,
        /// The error document.
        body: String,
    },
}

impl LambdaEmulator {
    /// Starts the emulator on a free port.
    ///
    /// # Errors
    /// When `cargo-lambda` is missing (the README's test command installs it into `.venv`)
    /// or does not start.
    pub fn start() -> io::Result<Self> {
        let bin = process::find_program("cargo-lambda", "CARGO_LAMBDA_BIN").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "cargo-lambda was not found: run the README's test command (it installs it \
                 into .venv) or `pip install cargo-lambda`",
            )
        })?;
        let port = process::free_port();
        let mut command = Command::new(bin);
        command
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(process::workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = process::spawn_tied(command, libc::SIGKILL)?;
        process::wait_for_port(port, Duration::from_secs(30))?;
        // A fresh connection per invoke: the emulator may drop an idle keep-alive connection
        // while the client reuses it, which fails the request with an unexpected message.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(io::Error::other)?;
        Ok(Self { child, port, http })
    }

    /// The emulator's address, serving the Invoke API: a client's `AWS_ENDPOINT_URL_LAMBDA`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `binary` as the function behind the emulator, with `env` on top of the
    /// variables Lambda sets.
    ///
    /// # Errors
    /// When the binary cannot be started.
    pub fn run_function(
        &self,
        binary: &Path,
        env: &[(String, String)],
    ) -> io::Result<LambdaFunction> {
        let mut command = Command::new(binary);
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        let stdout = tempfile::NamedTempFile::new()?;
        command.stdout(stdout.reopen()?);
        let child = process::spawn_tied(command, libc::SIGKILL)?;
        Ok(LambdaFunction { child, stdout })
    }

    /// Invokes the function with `event` through the Invoke API and returns its response.
    ///
    /// # Errors
    /// See [`InvokeError`].
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let response = self
            .http
            .post(format!(
                "http://127.0.0.1:{}/2015-03-31/functions/_/invocations",
                self.port
            ))
            .json(event)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.text().await?;
        if !status.is_success() || function_error {
            return Err(InvokeError::Function {
                status: status.as_u16(),
                body,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
    }
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
