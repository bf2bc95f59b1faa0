//! Every command of the README's `sh` blocks, pasted as a user pastes it: each into a new
//! shell that has done only what the README says (its `source .lzstock/env` line), from the
//! checkout, against the stack the README's first command started — `scripts/dev`, or
//! `scripts/dev --lambda` for a block of `cargo lambda invoke` lines, or `scripts/dev
//! --cluster` for a block about the cluster's nodes. A command that exits non-zero fails the
//! test with its output.

use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lzstock_harness::process::spawn_tied;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};

use super::{readme, root};

/// Commands of the README this test does not run, and why. An entry the README no longer
/// has fails the test, so the list cannot go stale.
const NOT_RUN: [(&str, &str); 5] = [
    (
        "scripts/dev",
        "it starts the stack: this test runs it (and with --lambda) itself",
    ),
    ("scripts/test", "the command this test runs in"),
    (
        "cargo lambda build --release --arm64 --output-format zip",
        "scripts/build-lambda runs it, verbatim, in the test command",
    ),
    (
        "sam build",
        "scripts/build-lambda runs it, verbatim, in the test command",
    ),
    ("sam deploy --guided", "it needs an AWS account"),
];

/// One command of a `sh` block, its continuation lines joined as the shell joins them.
#[derive(Debug)]
struct ReadmeCommand {
    /// The README's line it starts on.
    line: usize,
    /// The text as written, continuation lines included.
    text: String,
    /// The stack its block runs against.
    stack: Stack,
}

/// The stacks `scripts/dev` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Standalone,
    Lambda,
    Cluster,
}

impl Stack {
    /// The stack a block of commands is for.
    fn of(block: &[ReadmeCommand]) -> Self {
        if block
            .iter()
            .any(|c| c.text.starts_with("cargo lambda invoke"))
        {
            Self::Lambda
        } else if block.iter().any(|c| c.text.contains(".lzstock/cluster/")) {
            Self::Cluster
        } else {
            Self::Standalone
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Self::Standalone => &[],
            Self::Lambda => &["--lambda"],
            Self::Cluster => &["--cluster"],
        }
    }
}

impl ReadmeCommand {
    /// The command without its trailing comment, to compare with [`NOT_RUN`].
    fn bare(&self) -> &str {
        self.text.split(" # ").next().unwrap_or_default().trim()
    }
}

/// Every command of every ```` ```sh ```` block, each with the stack its block is for.
fn commands() -> Vec<ReadmeCommand> {
    let text = readme();
    let mut found = Vec::new();
    let mut block: Vec<ReadmeCommand> = Vec::new();
    let mut in_block = false;
    let mut pending: Option<ReadmeCommand> = None;
    for (index, line) in text.lines().enumerate() {
        if !in_block {
            in_block = line.trim_end() == "```sh";
            continue;
        }
        if line.starts_with("```") {
            in_block = false;
            let stack = Stack::of(&block);
            found.extend(block.drain(..).map(|c| ReadmeCommand { stack, ..c }));
            continue;
        }
        let continued = match pending.as_mut() {
            Some(command) => {
                command.text.push('\n');
                command.text.push_str(line);
                true
            }
            None => false,
        };
        if !continued {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            pending = Some(ReadmeCommand {
                line: index + 1,
                text: line.to_owned(),
                stack: Stack::Standalone,
            });
        }
        if !line.trim_end().ends_with('\\') {
            block.extend(pending.take());
        }
    }
    found
}

/// The environment of a new shell: the user's own, without what the test command put there
/// (the project's `.venv/bin` on `PATH`, cargo's variables).
fn new_shell() -> Vec<(String, String)> {
    let root = root();
    let path = std::env::var("PATH").unwrap_or_default();
    let path: Vec<&str> = path
        .split(':')
        .filter(|dir| !Path::new(dir).starts_with(&root))
        .collect();
    let mut env = vec![("PATH".to_owned(), path.join(":"))];
    for name in [
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "TERM",
        "TMPDIR",
        "CARGO_HOME",
        "RUSTUP_HOME",
    ] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_owned(), value));
        }
    }
    env
}

/// A `scripts/dev` run: stopped (and its servers with it) on drop.
struct DevStack {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl DevStack {
    /// Runs `scripts/dev args` as the README says, with `extra` set (SEC's stand-in), and
    /// waits for its banner.
    fn start(args: &[&str], extra: &[(String, String)]) -> Self {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut command = Command::new(root().join("scripts/dev"));
        command
            .args(args)
            .current_dir(root())
            .env_clear()
            .envs(new_shell())
            .envs(extra.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("the log"))
            .stderr(log.reopen().expect("the log"));
        // If this test dies, scripts/dev gets SIGTERM and stops its servers.
        let child = spawn_tied(command, libc::SIGTERM).expect("scripts/dev starts");
        let mut stack = Self { child, log };
        let started = Instant::now();
        while !stack.output().contains("LZStock is up") {
            if let Ok(Some(status)) = stack.child.try_wait() {
                panic!(
                    "scripts/dev {args:?} exited ({status}) before it was up:\n{}",
                    stack.output()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(1200),
                "scripts/dev {args:?} was not up within 20 minutes:\n{}",
                stack.output()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        stack
    }

    /// What scripts/dev printed so far (its banner, then the servers' logs).
    fn output(&self) -> String {
        let mut text = String::new();
        let mut file = self.log.reopen().expect("the log");
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        text
    }

    /// Ctrl-C, as the banner says, and waits for everything to stop.
    fn stop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            #[allow(unsafe_code)]
            // SAFETY: kill(2) on the pid of a child this handle owns.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `command` in a new shell set up with `setup` only, from the checkout.
fn run_in_new_shell(setup: &str, command: &str) -> Output {
    Command::new("bash")
        .args(["--noprofile", "--norc", "-c"])
        .arg(format!("set -euo pipefail\n{setup}\n{command}"))
        .current_dir(root())
        .env_clear()
        .envs(new_shell())
        .stdin(Stdio::null())
        .output()
        .expect("bash runs")
}

fn check(stack: &DevStack, setup: &str, command: &ReadmeCommand) {
    let output = run_in_new_shell(setup, &command.text);
    assert!(
        output.status.success(),
        "README line {}: `{}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- scripts/dev\n{}",
        command.line,
        command.text,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        stack.output()
    );
    eprintln!("README line {}: `{}` ok", command.line, command.bare());
}

#[test]
#[ignore = "starts the dev stack on its fixed ports; the test command runs it (scripts/test)"]
fn every_readme_command_runs_verbatim_against_the_dev_stack() {
    let all = commands();
    for (skipped, why) in NOT_RUN {
        assert!(
            all.iter().any(|c| c.bare() == skipped),
            "NOT_RUN lists `{skipped}` ({why}), which the README no longer has"
        );
    }
    let build_script =
        std::fs::read_to_string(root().join("scripts/build-lambda")).expect("build-lambda");
    for (built, _) in NOT_RUN
        .iter()
        .filter(|(_, why)| why.contains("build-lambda"))
    {
        assert!(
            build_script.lines().any(|line| line.trim() == *built),
            "scripts/build-lambda no longer runs `{built}` as the README shows it"
        );
    }
    let setups: Vec<&ReadmeCommand> = all
        .iter()
        .filter(|c| c.text.starts_with("source "))
        .collect();
    let setup = match setups.as_slice() {
        [first, rest @ ..] if rest.iter().all(|c| c.text == first.text) => first.text.clone(),
        other => panic!("the README sets up a shell one way, with one `source` line: {other:?}"),
    };
    let runnable: Vec<&ReadmeCommand> = all
        .iter()
        .filter(|c| !NOT_RUN.iter().any(|(skipped, _)| c.bare() == *skipped))
        .filter(|c| !c.text.starts_with("source "))
        .collect();
    let stacks = [Stack::Standalone, Stack::Lambda, Stack::Cluster];
    for stack in stacks {
        assert!(
            runnable.iter().any(|c| c.stack == stack),
            "the README has commands for {stack:?}"
        );
    }

    // SEC, as the scraper's documented variables allow: the stand-in the scraper's tests use.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let sec = runtime.block_on(SecStandIn::start(StandInRules::default()));
    sec.put_companies(&[("AAPL", 320_193, 391_035.0), ("MSFT", 789_019, 245_122.0)]);

    for which in stacks {
        let mut stack = DevStack::start(which.args(), &sec.env());
        for command in runnable.iter().filter(|c| c.stack == which) {
            check(&stack, &setup, command);
        }
        stack.stop();
    }
}
