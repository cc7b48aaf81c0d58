//! A small hardened HTTP/1.1 server: `std::net::TcpListener`, one thread per
//! connection, a cap on live connections, timeouts on every socket, caps on
//! head and body size, `httparse` for request heads. Knows nothing of vncmon's
//! routes: it hands each parsed request to a `Handler`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_head: usize,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_head: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// Serves until `stop` is set. Never returns on an `accept` error: it logs and retries.
pub fn serve(
    listener: TcpListener,
    limits: Limits,
    app: Arc<crate::app::App>,
    stop: Arc<AtomicBool>,
) {
    let _ = (listener, limits, app, stop);
    todo!("http helper")
}
