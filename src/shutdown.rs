//! A clean stop on SIGTERM and SIGINT (Ctrl-C): both signals are blocked in
//! every thread and taken by one watcher thread with `sigwait`, which stops
//! the capture thread (its VNC socket is shut), closes the hub (MJPEG streams
//! end) and sets the HTTP server's stop flag. Touches the signal mask and what
//! it is handed, nothing else.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::capture::Control;
use crate::hub::Hub;

/// Exit status when a second signal ends the process without waiting (128 + SIGINT).
pub const FORCED_EXIT: i32 = 130;

/// SIGTERM and SIGINT, blocked in the thread that called `block` and in every
/// thread started from it afterwards.
pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks SIGTERM and SIGINT. Call it before any other thread starts:
    /// threads inherit the mask, and a signal that finds a thread not blocking
    /// it is delivered there with its default action (the process dies).
    pub fn block() -> io::Result<Signals> {
        // SAFETY: plain libc calls on a local, zero-initialised sigset_t.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            if libc::sigemptyset(&mut set) != 0
                || libc::sigaddset(&mut set, libc::SIGTERM) != 0
                || libc::sigaddset(&mut set, libc::SIGINT) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(Signals { set })
        }
    }

    /// Starts the watcher thread: the first signal calls `on_signal` with the
    /// signal's name; a second one ends the process at once (`FORCED_EXIT`).
    pub fn watch(self, on_signal: impl FnOnce(&'static str) + Send + 'static) -> io::Result<()> {
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut on_signal = Some(on_signal);
                loop {
                    let name = self.wait();
                    match on_signal.take() {
                        Some(f) => f(name),
                        None => {
                            log::warn!("{name} again: exiting without waiting");
                            std::process::exit(FORCED_EXIT);
                        }
                    }
                }
            })
            .map(drop)
    }

    /// Waits for one of the blocked signals; returns its name.
    fn wait(&self) -> &'static str {
        loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid, initialised sigset_t; `sig` is a local.
            let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
            match (rc, sig) {
                (0, libc::SIGTERM) => return "SIGTERM",
                (0, libc::SIGINT) => return "SIGINT",
                // EINTR or a signal outside the set: neither happens with
                // this set, but waiting again is the right answer to both.
                _ => continue,
            }
        }
    }
}

/// What a signal stops in a serving vncmon.
pub struct Stop {
    /// The HTTP server's stop flag (`http::serve`).
    pub flag: Arc<AtomicBool>,
    pub hub: Arc<Hub>,
    pub control: Control,
}

impl Stop {
    /// Stops the session (the VNC socket is shut: the server sees a clean
    /// close), ends every MJPEG stream and the accept loop.
    pub fn now(&self) {
        self.control.stop();
        self.hub.close();
        self.flag.store(true, Ordering::Release);
    }
}

/// Makes SIGTERM and SIGINT call `stop.now()`. `signals` is what `Signals::block`
/// gave at the start of `main`; when blocking failed, the signals keep their
/// default action (the process ends at once) and a warning says so.
pub fn stop_on_signals(signals: io::Result<Signals>, stop: Stop) {
    let watched = signals.and_then(|s| {
        s.watch(move |name| {
            log::info!("{name}: stopping");
            stop.now();
        })
    });
    if let Err(e) = watched {
        log::warn!("cannot watch SIGTERM/SIGINT ({e}); they end vncmon without a clean stop");
    }
}

/// After the HTTP server returned: waits up to `limit` for the capture thread
/// to end (its session closed) and the MJPEG viewers to be gone. Returns
/// whether both happened in time.
pub fn finish(hub: &Hub, capture: Option<JoinHandle<()>>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut capture = capture;
    loop {
        if capture.as_ref().is_some_and(JoinHandle::is_finished) {
            // A capture thread that panicked has nothing left to close either.
            let _ = capture.take().map(JoinHandle::join);
        }
        if capture.is_none() && hub.clients() == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            log::warn!(
                "stopping with {} stream(s) open{}",
                hub.clients(),
                if capture.is_some() {
                    " and the VNC session still closing"
                } else {
                    ""
                }
            );
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_closes_the_hub_stops_capture_and_sets_the_flag() {
        let hub = Arc::new(Hub::new());
        let control = Control::new();
        let stop = Stop {
            flag: Arc::new(AtomicBool::new(false)),
            hub: hub.clone(),
            control: control.clone(),
        };
        stop.now();
        assert!(stop.flag.load(Ordering::Acquire));
        assert!(hub.is_closed());
        assert!(!control.monitoring());
    }

    #[test]
    fn finish_waits_for_the_capture_thread_and_the_viewers() {
        let hub = Arc::new(Hub::new());
        let viewer = hub.viewer();
        let capture = thread::spawn(|| thread::sleep(Duration::from_millis(50)));
        // A viewer that never goes: finish gives up at the limit.
        assert!(!finish(&hub, None, Duration::from_millis(50)));
        drop(viewer);
        assert!(finish(&hub, Some(capture), Duration::from_secs(30)));
    }
}
