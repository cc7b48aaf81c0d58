//! The built-in demo desktop: a small RFB server on a loopback port that draws
//! a clock, a bouncing ball, the keys typed and a few clickable buttons, so
//! `vncmon --demo` shows the product working with no VNC server around.
//! Owns its listener, one ticker thread and one thread per client; the scene
//! lives in one `Desktop` behind a mutex that every client reads.

mod desktop;
mod font;
mod proto;
mod region;
mod server;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use desktop::Desktop;
pub use desktop::layout;

/// Ball steps per second.
const TICK: Duration = Duration::from_millis(40);
/// Clients served at once; more are turned away.
const MAX_CLIENTS: usize = 16;

/// Unique ids for client sockets (and a little extra entropy for challenges).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A running demo server; stops when dropped.
pub struct Demo {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What the ticker, the acceptor and the client threads share.
struct Shared {
    desktop: Mutex<Desktop>,
    password: Option<String>,
    stop: AtomicBool,
    /// Live client sockets, so `stop` can wake threads blocked on them.
    sockets: Mutex<Vec<(u64, TcpStream)>>,
    viewers: AtomicUsize,
}

impl Shared {
    /// The scene; a thread that panicked holding it leaves a usable scene.
    fn desktop(&self) -> MutexGuard<'_, Desktop> {
        self.desktop.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<(u64, TcpStream)>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn viewer_joined(&self) {
        let n = self.viewers.fetch_add(1, Ordering::AcqRel) + 1;
        self.desktop().set_viewers(n);
    }

    fn viewer_left(&self) {
        let n = self
            .viewers
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        self.desktop().set_viewers(n);
    }
}

impl Demo {
    /// Starts the server on 127.0.0.1 and a free port, in background threads.
    /// With a password, it asks for VNC authentication.
    pub fn start(password: Option<String>) -> io::Result<Demo> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut desktop = Desktop::new();
        desktop.tick(unix_secs());
        let shared = Arc::new(Shared {
            desktop: Mutex::new(desktop),
            password,
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
            viewers: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let ticker = thread::Builder::new()
            .name("demo-ticker".into())
            .spawn(move || tick_loop(&s))?;
        let s = shared.clone();
        let acceptor = thread::Builder::new()
            .name("demo-accept".into())
            .spawn(move || accept_loop(listener, s));
        let acceptor = match acceptor {
            Ok(a) => a,
            Err(e) => {
                shared.stop.store(true, Ordering::Release);
                let _ = ticker.join();
                return Err(e);
            }
        };
        Ok(Demo {
            addr,
            shared,
            threads: Mutex::new(vec![ticker, acceptor]),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener, disconnects every client and waits for all the
    /// demo's threads to end. Calling it again does nothing.
    pub fn stop(&self) {
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        if threads.is_empty() {
            return;
        }
        self.shared.stop.store(true, Ordering::Release);
        // Wake the acceptor blocked in accept(); it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        shutdown_all(&self.shared);
        for t in threads {
            let _ = t.join();
        }
        log::info!("demo desktop on {} stopped", self.addr);
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn tick_loop(shared: &Shared) {
    while !shared.stopping() {
        thread::sleep(TICK);
        shared.desktop().tick(unix_secs());
    }
}

fn shutdown_all(shared: &Shared) {
    for (_, s) in shared.sockets().iter() {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::warn!("demo: accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        workers.retain(|w| !w.is_finished());
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        if workers.len() >= MAX_CLIENTS {
            log::warn!("demo: turning {peer} away: {MAX_CLIENTS} clients already");
            continue;
        }
        let s = shared.clone();
        let spawned = thread::Builder::new()
            .name("demo-client".into())
            .spawn(move || client_thread(stream, peer, &s));
        match spawned {
            Ok(w) => workers.push(w),
            Err(e) => log::warn!("demo: cannot start a thread for {peer}: {e}"),
        }
    }
    drop(listener);
    shutdown_all(&shared);
    for w in workers {
        let _ = w.join();
    }
}

/// Registers the socket for `stop`, serves the client, unregisters.
fn client_thread(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    {
        let mut sockets = shared.sockets();
        // Checked under the lock `stop` takes to shut sockets down: either
        // this socket is in the list it walks, or the flag is already visible.
        if shared.stopping() {
            return;
        }
        match stream.try_clone() {
            Ok(clone) => sockets.push((id, clone)),
            Err(e) => {
                log::warn!("demo: {peer}: {e}");
                return;
            }
        }
    }
    server::run(stream, peer, shared);
    shared.sockets().retain(|(i, _)| *i != id);
}
