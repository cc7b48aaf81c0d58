//! The latest-frame hub between the capture thread and HTTP clients, and the
//! session status shown by `/api/status`. A `Mutex` + `Condvar` around one
//! `Arc<Frame>`: publishing replaces it, waiting returns the newest, nothing
//! is queued per client. Never held across socket I/O.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One encoded screen.
#[derive(Debug)]
pub struct Frame {
    /// Publication number, starting at 1; strictly increasing.
    pub seq: u64,
    pub jpeg: Vec<u8>,
    pub width: u16,
    pub height: u16,
}

/// What the capture thread reports about its session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionStatus {
    /// An RFB session is up and updates are flowing.
    pub connected: bool,
    pub width: u16,
    pub height: u16,
    /// The server's desktop name.
    pub desktop_name: String,
    /// Why the last session ended or the last attempt failed.
    pub last_error: Option<String>,
    /// What kind of failure `last_error` is.
    pub last_error_kind: Option<ErrorKind>,
    /// Frames encoded per second over the last few seconds.
    pub fps: f64,
    /// Rectangles received in this session, per encoding name.
    pub rects: Vec<(&'static str, u64)>,
}

/// The kind of a session failure, so callers can tell a wrong password from
/// an unreachable server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP connect failed, or the server closed or refused before security.
    Connect,
    /// The peer is not an RFB server or speaks it wrongly.
    Protocol,
    /// Password required but none given, or the password was rejected.
    Auth,
    /// The session failed after it was up (I/O, internal error).
    Session,
}

struct State {
    seq: u64,
    frame: Option<Arc<Frame>>,
    closed: bool,
}

/// Shared between the capture thread and every HTTP connection thread.
pub struct Hub {
    state: Mutex<State>,
    cond: Condvar,
    status: Mutex<SessionStatus>,
    frames_encoded: AtomicU64,
    clients: AtomicUsize,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            state: Mutex::new(State {
                seq: 0,
                frame: None,
                closed: false,
            }),
            cond: Condvar::new(),
            status: Mutex::new(SessionStatus::default()),
            frames_encoded: AtomicU64::new(0),
            clients: AtomicUsize::new(0),
        }
    }

    /// Publishes a new frame and wakes every waiting client. Returns its seq.
    pub fn publish(&self, jpeg: Vec<u8>, width: u16, height: u16) -> u64 {
        self.frames_encoded.fetch_add(1, Ordering::Relaxed);
        let mut st = lock(&self.state);
        st.seq += 1;
        let seq = st.seq;
        st.frame = Some(Arc::new(Frame {
            seq,
            jpeg,
            width,
            height,
        }));
        drop(st);
        self.cond.notify_all();
        seq
    }

    /// The newest frame, if any was published.
    pub fn latest(&self) -> Option<Arc<Frame>> {
        lock(&self.state).frame.clone()
    }

    /// Waits until a frame with `seq > after` exists and returns the newest one,
    /// or `None` when `timeout` passes first or the hub is closed.
    pub fn wait_newer(&self, after: u64, timeout: Duration) -> Option<Arc<Frame>> {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.state);
        loop {
            if let Some(f) = st.frame.as_ref().filter(|f| f.seq > after) {
                return Some(f.clone());
            }
            if st.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wakes every waiter for good (server shutdown).
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.cond.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    pub fn frames_encoded(&self) -> u64 {
        self.frames_encoded.load(Ordering::Relaxed)
    }

    /// A snapshot of the session status.
    pub fn status(&self) -> SessionStatus {
        lock(&self.status).clone()
    }

    /// Changes the session status in place.
    pub fn update_status(&self, f: impl FnOnce(&mut SessionStatus)) {
        f(&mut lock(&self.status));
    }

    /// Number of MJPEG viewers right now.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Counts a viewer for as long as the returned guard lives.
    pub fn viewer(self: &Arc<Self>) -> ViewerGuard {
        self.clients.fetch_add(1, Ordering::Relaxed);
        ViewerGuard(self.clone())
    }
}

/// Decrements the viewer count when an MJPEG stream ends, however it ends.
pub struct ViewerGuard(Arc<Hub>);

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn waiters_get_the_newest_frame_not_a_queue() {
        let hub = Arc::new(Hub::new());
        for i in 0..5u8 {
            hub.publish(vec![i], 1, 1);
        }
        let f = hub.wait_newer(0, Duration::from_millis(10)).unwrap();
        assert_eq!((f.seq, f.jpeg[0]), (5, 4));
        assert!(hub.wait_newer(5, Duration::from_millis(20)).is_none());
    }

    #[test]
    fn publish_wakes_a_waiter() {
        let hub = Arc::new(Hub::new());
        let h2 = hub.clone();
        let t = thread::spawn(move || h2.wait_newer(0, Duration::from_secs(10)));
        thread::sleep(Duration::from_millis(50));
        hub.publish(vec![7], 2, 2);
        let f = t.join().unwrap().unwrap();
        assert_eq!(f.jpeg, vec![7]);
    }

    #[test]
    fn close_releases_waiters_and_viewer_guard_counts() {
        let hub = Arc::new(Hub::new());
        {
            let _g = hub.viewer();
            assert_eq!(hub.clients(), 1);
        }
        assert_eq!(hub.clients(), 0);
        let h2 = hub.clone();
        let t = thread::spawn(move || h2.wait_newer(0, Duration::from_secs(10)));
        thread::sleep(Duration::from_millis(50));
        hub.close();
        assert!(t.join().unwrap().is_none());
    }
}
