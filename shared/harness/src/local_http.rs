//! An HTTP server of a test's own on a free loopback port, stopped when dropped: the base
//! of the stand-ins for services LZStock calls (Lambda's Invoke API, SEC EDGAR).

use std::net::SocketAddr;

use axum::Router;

/// A router served on `127.0.0.1:<free port>` until dropped.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    /// Serves `app`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
