//! A small hardened HTTP/1.1 server: `std::net::TcpListener`, one thread per
//! connection, a cap on live connections, timeouts on every socket, caps on
//! head and body size, `httparse` for request heads. Knows nothing of vncmon's
//! routes: it hands each parsed request to a `Handler` (`serve` uses `web`'s).
//!
//! Shutdown: the accept loop blocks in `accept`; a small waker thread looks at
//! `stop` ten times a second and, once it is set, connects to the listener so
//! the loop wakes, sees the flag and returns. Live connections are not waited
//! for: keep-alive ones close after their current answer, streams end when
//! their client goes or the hub closes.

mod request;
mod response;
mod server;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use request::Request;
pub use response::{Body, Response, Sink, StreamFn, reason};

#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections from one IP address served at once (503 past it), so one
    /// client cannot take every slot.
    pub max_per_client: usize,
    /// Longest wait for a request head (also the idle keep-alive time) and,
    /// separately, for its body.
    pub read_timeout: Duration,
    /// Longest a single socket write may block (a client that stops reading).
    pub write_timeout: Duration,
    /// Largest request head in bytes (431 past it).
    pub max_head: usize,
    /// Largest request body in bytes (413 past it).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_per_client: 32,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_head: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// Answers requests. Called on the connection's thread; a panic inside is
/// answered 500 and ends nothing but that request.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;
}

/// Serves until `stop` is set. Never returns on an `accept` error: it logs and retries.
pub fn serve(
    listener: TcpListener,
    limits: Limits,
    app: Arc<crate::app::App>,
    stop: Arc<AtomicBool>,
) {
    serve_with(listener, limits, app, stop);
}

/// `serve` with any `Handler`.
pub fn serve_with(
    listener: TcpListener,
    limits: Limits,
    handler: Arc<dyn Handler>,
    stop: Arc<AtomicBool>,
) {
    server::run(listener, limits, handler, stop);
}
