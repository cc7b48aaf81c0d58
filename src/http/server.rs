//! The accept loop and the per-connection thread: the live-connection caps
//! (in all and per client address), socket timeouts, keep-alive, graceful
//! close after errors, panic isolation.

use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::request::{ReadError, RequestReader};
use super::{Handler, Limits, Response};

/// Pause after a failed `accept` (e.g. EMFILE) before trying again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How often the waker looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Connections past the cap are answered 503 by short-lived threads; past
/// this many at once they are simply closed.
const MAX_REJECTING: usize = 16;
/// After an error answer, how long unread request bytes are drained before
/// closing (closing with unread bytes sends a reset that can eat the answer).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// Decrements a counter when dropped, also when a thread unwinds.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Takes a slot if fewer than `max` are taken.
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Live connections per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection of a client address; gives it back when dropped.
struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    /// Takes a slot for `ip` if it has fewer than `max`.
    fn take(table: &Arc<PerClient>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut counts = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// See `super::serve_with`.
pub(crate) fn run(
    listener: TcpListener,
    limits: Limits,
    handler: Arc<dyn Handler>,
    stop: Arc<AtomicBool>,
) {
    // Blocking accept, woken for shutdown by the waker connecting to us.
    if let Err(e) = listener.set_nonblocking(false) {
        log::warn!("http: cannot make the listener blocking: {e}");
    }
    let done = Arc::new(AtomicBool::new(false));
    match listener.local_addr() {
        Ok(addr) => spawn_waker(addr, stop.clone(), done.clone()),
        Err(e) => log::warn!(
            "http: listener has no address ({e}); stop takes effect on the next connection"
        ),
    }
    let limits = Arc::new(limits);
    let live = Arc::new(AtomicUsize::new(0));
    let per_client = Arc::new(PerClient::default());
    let rejecting = Arc::new(AtomicUsize::new(0));
    let mut errors = ErrorLog::default();
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                errors.recovered();
                // An IPv4 client reaching a dual-stack listener counts as itself.
                let ip = peer.ip().to_canonical();
                let Some(client) = PerClient::take(&per_client, ip, limits.max_per_client) else {
                    let why = "too many connections from your address; close some streams or tabs";
                    reject(stream, peer, &rejecting, why);
                    continue;
                };
                match Slot::take(&live, limits.max_connections) {
                    Some(slot) => {
                        spawn_connection(stream, peer, (slot, client), &limits, &handler, &stop)
                    }
                    None => reject(
                        stream,
                        peer,
                        &rejecting,
                        "too many connections; try again shortly",
                    ),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                errors.failed(&e);
                thread::sleep(ACCEPT_RETRY);
            }
        }
    }
    done.store(true, Ordering::Release);
    log::debug!("http: stopped accepting connections");
}

/// Logs the first accept error of a run and then one line every few seconds,
/// so EMFILE under load does not flood the log.
#[derive(Default)]
struct ErrorLog {
    since: Option<Instant>,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn failed(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        self.since.get_or_insert(now);
        if self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5))
        {
            let more = match self.suppressed {
                0 => String::new(),
                n => format!(" ({n} more since the last report)"),
            };
            log::warn!("http: accept failed: {e}{more}; retrying");
            self.last_logged = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }

    fn recovered(&mut self) {
        if let Some(since) = self.since.take() {
            log::info!(
                "http: accepting again after {:.1} s of errors",
                since.elapsed().as_secs_f64()
            );
            self.last_logged = None;
            self.suppressed = 0;
        }
    }
}

/// Wakes the blocking `accept` once `stop` is set, by connecting to the
/// listener (on loopback when it listens on every address). Ends with the loop.
fn spawn_waker(addr: SocketAddr, stop: Arc<AtomicBool>, done: Arc<AtomicBool>) {
    let target = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, a.port()))
        }
        a => a,
    };
    let spawned = thread::Builder::new()
        .name("http-waker".into())
        .spawn(move || {
            while !done.load(Ordering::Acquire) {
                thread::sleep(STOP_POLL);
                if stop.load(Ordering::Acquire) && !done.load(Ordering::Acquire) {
                    let _ = TcpStream::connect_timeout(&target, Duration::from_secs(1));
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!(
            "http: cannot start the stop waker ({e}); stop takes effect on the next connection"
        );
    }
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slots: (Slot, ClientSlot),
    limits: &Arc<Limits>,
    handler: &Arc<dyn Handler>,
    stop: &Arc<AtomicBool>,
) {
    let (limits, handler, stop) = (limits.clone(), handler.clone(), stop.clone());
    let spawned = thread::Builder::new()
        .name("http-conn".into())
        .spawn(move || {
            let _slots = slots;
            serve_connection(&stream, peer, &limits, handler.as_ref(), &stop);
        });
    // On failure the closure, with the stream and the slot, is dropped here.
    if let Err(e) = spawned {
        log::warn!("http: cannot start a thread for {peer}: {e}");
    }
}

/// Answers 503 past a connection cap, from a short-lived thread so the
/// accept loop never waits on a client.
fn reject(stream: TcpStream, peer: SocketAddr, rejecting: &Arc<AtomicUsize>, why: &'static str) {
    let Some(slot) = Slot::take(rejecting, MAX_REJECTING) else {
        log::debug!("http: too many connections, closing {peer} without an answer");
        return;
    };
    log::debug!("http: answering 503 to {peer}: {why}");
    let spawned = thread::Builder::new()
        .name("http-reject".into())
        .spawn(move || {
            let _slot = slot;
            let _ = stream.set_write_timeout(Some(LINGER));
            let resp = Response::error(503, why).header("Retry-After", "1");
            if resp.send(&stream, false, false).is_ok() {
                linger_close(&stream, LINGER);
            }
        });
    if let Err(e) = spawned {
        log::debug!("http: cannot start a thread to answer {peer}: {e}");
    }
}

/// Serves requests on one connection until it closes, errs or is done.
fn serve_connection(
    stream: &TcpStream,
    peer: SocketAddr,
    limits: &Limits,
    handler: &dyn Handler,
    stop: &AtomicBool,
) {
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream
        .set_write_timeout(Some(limits.write_timeout))
        .and_then(|()| stream.set_read_timeout(Some(limits.read_timeout)))
    {
        log::debug!("http: cannot set timeouts for {peer}: {e}");
        return;
    }
    let mut reader = RequestReader::new(stream, limits);
    loop {
        let req = match reader.next() {
            Ok(req) => req,
            Err(ReadError::Closed) => return,
            Err(ReadError::Reply(status, message)) => {
                log::debug!("http: {peer}: {status} {message}");
                if Response::error(status, message)
                    .send(stream, false, false)
                    .is_ok()
                {
                    linger_close(stream, limits.read_timeout.min(LINGER));
                }
                return;
            }
        };
        let keep_alive = req.keep_alive() && !stop.load(Ordering::Acquire);
        let resp = catch_unwind(AssertUnwindSafe(|| handler.handle(&req))).unwrap_or_else(|_| {
            log::error!("http: handler panicked on {} {}", req.method, req.path());
            Response::error(500, "internal error")
        });
        let streaming = resp.is_stream();
        log::trace!(
            "http: {peer}: {} {} -> {}",
            req.method,
            req.path(),
            resp.status()
        );
        let sent = resp.send(stream, req.is_head(), keep_alive);
        if sent.is_err() || streaming || !keep_alive {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Ends our side, then reads and drops what the client still sends (up to a
/// deadline and a byte budget) so the answer is not lost to a reset.
fn linger_close(stream: &TcpStream, max_wait: Duration) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + max_wait;
    let mut scratch = [0u8; 4096];
    let mut left = LINGER_BYTES;
    let mut r = stream;
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match r.read(&mut scratch) {
            Ok(0) => return,
            Ok(n) => left = left.saturating_sub(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
