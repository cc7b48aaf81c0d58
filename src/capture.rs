//! The capture thread: owns the RFB session and the screen, asks for updates
//! at most `max_fps` times a second, encodes only when something changed,
//! publishes to the hub and reconnects with backoff (0.5 s doubling to 5 s).
//! `Control` lets HTTP threads start/stop the session and reach its input.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::hub::{ErrorKind, Hub};
use crate::jpeg::BandedEncoder;
use crate::rfb::{ConnectOptions, Event, Input, RfbError, Session, enc};
use crate::screen::Screen;

const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the loop wakes while waiting for the server, to pick up pointer
/// moves (the cursor is drawn by vncmon) and control changes.
const POLL: Duration = Duration::from_millis(50);

/// Encoding settings for the capture thread.
#[derive(Clone, Debug)]
pub struct CaptureSettings {
    pub quality: u8,
    pub max_fps: u32,
}

struct CtlState {
    /// Keep a session up (set by connect, cleared by disconnect).
    monitoring: bool,
    /// Leave the thread for good.
    stop: bool,
    /// Input of the live session, if one is up.
    input: Option<Input>,
    /// `disconnect` or `stop` shut the live session's socket: its end is
    /// no failure, even when a `connect` came right after.
    shut_on_request: bool,
}

/// Start/stop requests to the capture thread, and its session's input.
#[derive(Clone)]
pub struct Control {
    inner: Arc<(Mutex<CtlState>, Condvar)>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl CtlState {
    fn shut_input(&mut self) {
        if let Some(i) = self.input.take() {
            i.shutdown();
            self.shut_on_request = true;
        }
    }
}

impl Control {
    pub fn new() -> Control {
        Control {
            inner: Arc::new((
                Mutex::new(CtlState {
                    monitoring: true,
                    stop: false,
                    input: None,
                    shut_on_request: false,
                }),
                Condvar::new(),
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CtlState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep a session to the configured server up (the default at start).
    pub fn connect(&self) {
        self.lock().monitoring = true;
        self.inner.1.notify_all();
    }

    /// End the session and stay disconnected until `connect`.
    pub fn disconnect(&self) {
        let mut st = self.lock();
        st.monitoring = false;
        st.shut_input();
        drop(st);
        self.inner.1.notify_all();
    }

    /// End the session and the capture thread.
    pub fn stop(&self) {
        let mut st = self.lock();
        st.stop = true;
        st.monitoring = false;
        st.shut_input();
        drop(st);
        self.inner.1.notify_all();
    }

    pub fn monitoring(&self) -> bool {
        self.lock().monitoring
    }

    /// The live session's input sender, if a session is up.
    pub fn input(&self) -> Option<Input> {
        self.lock().input.clone()
    }

    /// Publishes a new session's input.
    fn set_input(&self, input: Input) {
        let mut st = self.lock();
        st.input = Some(input);
        st.shut_on_request = false;
    }

    /// Forgets the ended session's input; returns whether `disconnect` or
    /// `stop` ended it.
    fn end_session(&self) -> bool {
        let mut st = self.lock();
        st.input = None;
        std::mem::take(&mut st.shut_on_request)
    }

    fn stopped(&self) -> bool {
        self.lock().stop
    }

    fn wants_session(&self) -> bool {
        let st = self.lock();
        st.monitoring && !st.stop
    }

    /// Sleeps up to `d`, waking early on any control change. Returns whether
    /// a session is still wanted.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut st = self.lock();
        while st.monitoring && !st.stop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .inner
                .1
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.monitoring && !st.stop
    }

    /// Blocks while monitoring is off; returns false when the thread must stop.
    fn wait_for_monitoring(&self) -> bool {
        let mut st = self.lock();
        while !st.monitoring && !st.stop {
            st = self.inner.1.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        !st.stop
    }
}

/// Starts the capture thread.
pub fn spawn(
    opts: ConnectOptions,
    settings: CaptureSettings,
    hub: Arc<Hub>,
    control: Control,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("capture".into())
        .spawn(move || run(opts, settings, hub, control))
}

fn run(opts: ConnectOptions, settings: CaptureSettings, hub: Arc<Hub>, control: Control) {
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let mut encoder = BandedEncoder::new(settings.quality, threads);
    let mut backoff = BACKOFF_FIRST;
    loop {
        if !control.wait_for_monitoring() {
            break;
        }
        log::info!("connecting to {}", opts.addr);
        // A bug must not end the capture thread for good: a panic in a
        // session ends that session, and the next one starts afresh.
        let result = guarded(|| {
            Session::connect(&opts).and_then(|session| {
                log::info!(
                    "connected to {} ({}x{}, {:?})",
                    opts.addr,
                    session.width(),
                    session.height(),
                    session.name()
                );
                run_session(
                    session,
                    &settings,
                    &mut encoder,
                    &hub,
                    &control,
                    &mut backoff,
                )
            })
        });
        if let Err(RfbError::Internal(_)) = result {
            encoder = BandedEncoder::new(settings.quality, threads);
        }
        // A disconnect (perhaps followed at once by a connect) that closed
        // the socket under the session is not the server's failure.
        let on_request = control.end_session();
        let failure = match &result {
            Err(e) if !on_request && control.wants_session() => Some(e.to_string()),
            _ => None,
        };
        let kind = result.as_ref().err().map(error_kind);
        hub.update_status(|s| {
            s.connected = false;
            s.fps = 0.0;
            if failure.is_some() {
                s.last_error.clone_from(&failure);
                s.last_error_kind = kind;
            }
        });
        match &failure {
            Some(e) => log::warn!("session to {}: {e}; retrying in {backoff:?}", opts.addr),
            None => log::info!("session to {} closed", opts.addr),
        }
        if control.stopped() {
            break;
        }
        if failure.is_some() {
            control.sleep(backoff);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
    hub.update_status(|s| s.connected = false);
}

/// Sorts a session failure for `SessionStatus::last_error_kind`.
fn error_kind(e: &RfbError) -> ErrorKind {
    match e {
        RfbError::Connect { .. } | RfbError::ServerRefused(_) => ErrorKind::Connect,
        RfbError::NotRfb(_)
        | RfbError::UnsupportedVersion(_)
        | RfbError::NoSupportedSecurity(_)
        | RfbError::Protocol(_) => ErrorKind::Protocol,
        RfbError::PasswordRequired | RfbError::AuthFailed(_) => ErrorKind::Auth,
        RfbError::Io(_) | RfbError::Internal(_) => ErrorKind::Session,
    }
}

/// Runs `f`, turning a panic into `RfbError::Internal` with its message.
fn guarded<T>(f: impl FnOnce() -> Result<T, RfbError>) -> Result<T, RfbError> {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(RfbError::Internal(msg))
    })
}

/// Runs one session until it fails or is no longer wanted. `backoff` starts
/// afresh once the server has sent a whole update: a server that completes
/// the handshake and then fails every time keeps backing off.
fn run_session(
    mut session: Session,
    settings: &CaptureSettings,
    encoder: &mut BandedEncoder,
    hub: &Hub,
    control: &Control,
    backoff: &mut Duration,
) -> Result<(), RfbError> {
    let input = session.input();
    control.set_input(input.clone());
    if !control.wants_session() {
        // A disconnect raced with the handshake.
        input.shutdown();
        return Ok(());
    }
    let mut screen = Screen::new(session.width(), session.height());
    hub.update_status(|s| {
        s.connected = true;
        s.width = screen.width();
        s.height = screen.height();
        s.desktop_name = session.name().to_string();
        s.last_error = None;
        s.last_error_kind = None;
        s.rects.clear();
    });
    let interval = Duration::from_secs(1) / settings.max_fps.max(1);
    let mut fps = FpsMeter::default();
    let mut last_encode: Option<Instant> = None;
    let mut last_request = Instant::now();
    let mut outstanding = true;
    let mut last_sent_pointer = None;
    // Nothing is published until the server has drawn: the new screen is
    // black, and the hub still holds the last frame of an earlier session.
    let mut painted = false;
    session.request_update(false, &screen)?;

    while control.wants_session() {
        // Our own pointer events move the drawn cursor; so do the server's
        // position reports, so only a new event of ours counts here.
        let sent = input.pointer_pos();
        if sent != last_sent_pointer {
            if let Some((x, y)) = sent {
                screen.move_cursor(x, y);
            }
            last_sent_pointer = sent;
        }
        let now = Instant::now();
        // Ask for the next update before encoding this one, so the server
        // prepares it while we encode.
        if !outstanding && now >= last_request + interval {
            session.request_update(true, &screen)?;
            last_request = now;
            outstanding = true;
        }
        let slot_free = last_encode.is_none_or(|t| now >= t + interval);
        if painted && screen.fb.any_dirty() && slot_free {
            let dirty = screen.fb.take_dirty();
            match encoder.encode(&screen, &dirty) {
                Ok(Some(jpeg)) => {
                    hub.publish(jpeg, screen.width(), screen.height());
                    last_encode = Some(now);
                    fps.tick(now);
                }
                Ok(None) => {} // the bands changed back to what was served
                Err(e) => log::error!("JPEG encoding failed: {e}"),
            }
        }
        let rate = fps.rate(now);
        hub.update_status(|s| s.fps = rate);

        // Sleep until the next thing to do, waking early when the server speaks.
        let mut wait = POLL;
        if painted && screen.fb.any_dirty() {
            if let Some(t) = last_encode {
                wait = wait.min((t + interval).saturating_duration_since(now));
            }
        }
        if !outstanding {
            wait = wait.min((last_request + interval).saturating_duration_since(now));
        }
        if session.wait_readable(wait.max(Duration::from_millis(1)))? {
            let before = (screen.width(), screen.height());
            if session.read_message(&mut screen)? == Event::Update {
                outstanding = false;
                if !painted {
                    painted = true;
                    *backoff = BACKOFF_FIRST;
                }
                let rects = session
                    .rect_counts()
                    .iter()
                    .map(|&(code, n)| (enc::name(code), n))
                    .collect();
                hub.update_status(|s| s.rects = rects);
                if before != (screen.width(), screen.height()) {
                    log::info!("screen resized to {}x{}", screen.width(), screen.height());
                    hub.update_status(|s| {
                        s.width = screen.width();
                        s.height = screen.height();
                    });
                    // A resized screen wants a whole fresh picture.
                    session.request_update(false, &screen)?;
                    last_request = Instant::now();
                    outstanding = true;
                }
            }
        }
    }
    input.shutdown();
    Ok(())
}

/// Frames per second over the last two seconds.
#[derive(Default)]
struct FpsMeter {
    times: VecDeque<Instant>,
}

const FPS_WINDOW: Duration = Duration::from_secs(2);

impl FpsMeter {
    fn tick(&mut self, now: Instant) {
        self.times.push_back(now);
        self.trim(now);
    }
    fn trim(&mut self, now: Instant) {
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > FPS_WINDOW)
        {
            self.times.pop_front();
        }
    }
    fn rate(&mut self, now: Instant) -> f64 {
        self.trim(now);
        self.times.len() as f64 / FPS_WINDOW.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;

    /// The server side of a 3.8 handshake (security None) for a 4×4 screen,
    /// then one whole Raw update.
    fn serve_one_update(s: &mut TcpStream) -> std::io::Result<()> {
        let mut buf = [0u8; 64];
        s.write_all(b"RFB 003.008\n")?;
        s.read_exact(&mut buf[..12])?;
        s.write_all(&[1, 1])?;
        s.read_exact(&mut buf[..1])?;
        s.write_all(&[0, 0, 0, 0])?;
        s.read_exact(&mut buf[..1])?;
        let mut init = vec![0, 4, 0, 4];
        init.extend_from_slice(&[0; 16]);
        init.extend_from_slice(&[0, 0, 0, 0]);
        s.write_all(&init)?;
        s.read_exact(&mut buf[..20 + 4 + 4])?; // SetPixelFormat, SetEncodings([0])
        let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 0];
        update.extend_from_slice(&[200; 4 * 4 * 4]);
        s.write_all(&update)
    }

    #[test]
    fn a_disconnect_followed_at_once_by_a_connect_is_no_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (second_tx, second_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            first
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            serve_one_update(&mut first).unwrap();
            // Hold the second connection in the handshake until the test is done.
            let (second, _) = listener.accept().unwrap();
            second_tx.send(()).unwrap();
            let _ = done_rx.recv_timeout(Duration::from_secs(10));
            drop((first, second));
        });
        let hub = Arc::new(Hub::new());
        let control = Control::new();
        let opts = ConnectOptions {
            addr,
            password: None,
            encodings: vec![0],
            connect_timeout: Duration::from_secs(2),
        };
        let settings = CaptureSettings {
            quality: 80,
            max_fps: 30,
        };
        spawn(opts, settings, hub.clone(), control.clone()).unwrap();
        assert!(
            hub.wait_newer(0, Duration::from_secs(10)).is_some(),
            "no first frame"
        );

        control.disconnect();
        control.connect();
        second_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the capture thread reconnects");
        let st = hub.status();
        assert_eq!(st.last_error, None, "{st:?}");
        assert!(control.monitoring());
        control.stop();
        done_tx.send(()).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let r: Result<(), RfbError> = guarded(|| panic!("decoder bug at {}", 7));
        match r {
            Err(RfbError::Internal(msg)) => assert_eq!(msg, "decoder bug at 7"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(guarded(|| Ok::<_, RfbError>(5)).ok(), Some(5));
    }
}
