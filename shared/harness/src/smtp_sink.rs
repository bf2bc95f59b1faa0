//! A mail server of a test's own: a real SMTP server (RFC 5321 as lettre and other clients
//! speak it: EHLO/HELO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT) on a loopback
//! port, keeping every message it accepts. A test can script the answer to the next DATA
//! commands (`451` then `250`, a `550`), stop and resume it on the same port to play a
//! server that is down, and require a login (`AUTH PLAIN`) to play one whose password was
//! rotated.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub envelope_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub envelope_to: Vec<String>,
    /// The message as sent, dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// The first header named `name` (case-insensitive), unfolded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(found) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    found.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
        value
    }

    /// The body: what follows the headers.
    #[must_use]
    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned())
    }
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedMail>,
    /// Answers to the next DATA commands, in order; then `250`.
    answers: VecDeque<(u16, String)>,
    refused: usize,
    /// The user and password `AUTH PLAIN` must give before MAIL, when one is required.
    login: Option<(String, String)>,
    /// `AUTH` commands answered 535.
    logins_refused: usize,
}

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SmtpSink {
    /// Starts a sink on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("address");
        let mut sink = Self {
            addr,
            state: Arc::default(),
            tasks: JoinSet::new(),
        };
        sink.serve(listener);
        sink
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = Arc::clone(&self.state);
        self.tasks.spawn(async move {
            let mut sessions = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session(stream, Arc::clone(&state)));
            }
        });
    }

    /// `smtp://127.0.0.1:<port>`, plain: what `SMTP_URL` is set to.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answers the next DATA commands with `answers` (code, text), in order.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    pub fn answer_next(&self, answers: &[(u16, &str)]) {
        self.state.lock().expect("state").answers.extend(
            answers
                .iter()
                .map(|(code, text)| (*code, (*text).to_owned())),
        );
    }

    /// Forgets the answers [`answer_next`](Self::answer_next) queued that no DATA command
    /// has taken yet: every message is accepted again.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    pub fn accept_all(&self) {
        self.state.lock().expect("state").answers.clear();
    }

    /// From now on, new sessions must log in as `user` with `password` (`AUTH PLAIN`)
    /// before MAIL; a wrong login is answered `535`. Sessions already logged in go on, as a
    /// real server's do when a password is changed.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    pub fn require_login(&self, user: &str, password: &str) {
        self.state.lock().expect("state").login = Some((user.to_owned(), password.to_owned()));
    }

    /// `AUTH` commands refused so far.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    #[must_use]
    pub fn logins_refused(&self) -> usize {
        self.state.lock().expect("state").logins_refused
    }

    /// `smtp://user:password@127.0.0.1:<port>`: the URL with a login.
    #[must_use]
    pub fn url_with_login(&self, user: &str, password: &str) -> String {
        format!("smtp://{user}:{password}@{}", self.addr)
    }

    /// Every message accepted so far.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    #[must_use]
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state.lock().expect("state").received.clone()
    }

    /// DATA commands answered with anything but 250.
    ///
    /// # Panics
    /// When a session panicked while holding the state.
    #[must_use]
    pub fn refused(&self) -> usize {
        self.state.lock().expect("state").refused
    }

    /// Waits until `count` messages have been accepted, or `within` passes.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops listening and drops every session: connections are refused until
    /// [`SmtpSink::resume`].
    pub async fn stop(&mut self) {
        self.tasks.shutdown().await;
    }

    /// Listens again on the same port.
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub async fn resume(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind the port");
        self.serve(listener);
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if !say(&mut write, "220 lzstock-test ESMTP ready").await {
        return;
    }
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut logged_in = false;
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let login = state.lock().expect("state").login.clone();
        let answer = match verb.as_str() {
            "EHLO" if login.is_some() => "250-lzstock-test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                 250-AUTH PLAIN\r\n250 SIZE 20000000"
                .to_owned(),
            "EHLO" => {
                "250-lzstock-test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 20000000".to_owned()
            }
            "HELO" => "250 lzstock-test".to_owned(),
            "AUTH" => {
                if login.is_some() && plain_login(&command) == login {
                    logged_in = true;
                    "235 2.7.0 Authentication successful".to_owned()
                } else {
                    state.lock().expect("state").logins_refused += 1;
                    "535 5.7.8 Authentication credentials invalid".to_owned()
                }
            }
            "MAIL" if login.is_some() && !logged_in => {
                "530 5.7.0 Authentication required".to_owned()
            }
            "MAIL" => {
                from = angle(&command);
                to.clear();
                "250 2.1.0 Ok".to_owned()
            }
            "RCPT" => {
                to.push(angle(&command));
                "250 2.1.5 Ok".to_owned()
            }
            "DATA" => {
                if !say(&mut write, "354 End data with <CR><LF>.<CR><LF>").await {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let text = line.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    data.push_str(text.strip_prefix('.').unwrap_or(text));
                    data.push_str("\r\n");
                }
                let mut shared = state.lock().expect("state");
                match shared.answers.pop_front() {
                    Some((code, text)) if code != 250 => {
                        shared.refused += 1;
                        format!("{code} {text}")
                    }
                    _ => {
                        shared.received.push(ReceivedMail {
                            envelope_from: from.clone(),
                            envelope_to: to.clone(),
                            data,
                        });
                        "250 2.0.0 Ok: queued".to_owned()
                    }
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 Ok".to_owned()
            }
            "NOOP" => "250 2.0.0 Ok".to_owned(),
            "QUIT" => {
                let _ = say(&mut write, "221 2.0.0 Bye").await;
                return;
            }
            _ => "502 5.5.2 Command not recognized".to_owned(),
        };
        if !say(&mut write, &answer).await {
            return;
        }
    }
}

/// Writes one reply; `false` when the client is gone.
async fn say(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .is_ok()
}

/// The address inside `<…>` of `MAIL FROM:<a@b>` / `RCPT TO:<a@b>`.
fn angle(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(String::new(), |(address, _)| address.to_owned())
}

/// The user and password of `AUTH PLAIN <base64 of authzid NUL user NUL password>`.
fn plain_login(command: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let mut words = command.split_whitespace().skip(1);
    if !words.next()?.eq_ignore_ascii_case("PLAIN") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(words.next()?)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let mut parts = text.split('\0').skip(1);
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
}
