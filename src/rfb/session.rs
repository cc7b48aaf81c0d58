//! One RFB session: TCP connect, version and security handshake, ServerInit,
//! SetPixelFormat (BGRX) and SetEncodings, then the server-message loop.
//! The write half sits behind a mutex in `Input`, shared with input senders.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rfb::encodings::{Decoders, RectResult};
use crate::rfb::handshake::handshake;
use crate::rfb::msg::{self, read_capped, read_i32, read_u8, read_u16, read_u32, skip};
use crate::rfb::{RfbError, enc};
use crate::screen::{Rect, Screen};

/// How long a write may block before the session counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may go silent in the middle of a message before the
/// session ends with an error instead of hanging.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole handshake may take. Until it ends no `Input` exists
/// that `Control::disconnect` could shut down, so a server dripping it byte
/// by byte must not be able to hold the capture thread for longer.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest ServerCutText accepted.
const CUT_TEXT_CAP: u32 = 1024 * 1024;
/// CopyRects of one update may move at most this many screens of pixels.
/// Real servers copy a moved window or a scrolled region, well under one
/// screen; without a budget 16 bytes could cost a 64 MB memmove, 65535 times.
const COPY_BUDGET: u64 = 4;

/// How to reach and talk to the server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `host:port` (already normalised from `HOST::PORT` / `HOST:N`).
    pub addr: String,
    pub password: Option<String>,
    /// Encodings in order of preference, pseudo-encodings included.
    pub encodings: Vec<i32>,
    pub connect_timeout: Duration,
}

/// A server message, once applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A whole FramebufferUpdate was applied to the screen.
    Update,
    Bell,
    /// ServerCutText (Latin-1, decoded).
    CutText(String),
    /// SetColourMapEntries and other messages that change nothing here.
    Ignored,
}

/// Sends key and pointer events on the session's socket from any thread,
/// without waiting for screen updates. Cheap to clone.
#[derive(Clone)]
pub struct Input {
    shared: Arc<Shared>,
}

struct Shared {
    /// The write half. Every client message goes out whole under this lock,
    /// so messages from different threads never interleave.
    writer: Mutex<TcpStream>,
    /// A handle for `shutdown` that does not wait for a blocked writer.
    control: TcpStream,
    /// Last pointer event sent: `1 << 40 | buttons << 32 | x << 16 | y`, 0 = none yet.
    pointer: AtomicU64,
}

impl Input {
    fn new(stream: &TcpStream) -> io::Result<Input> {
        Ok(Input {
            shared: Arc::new(Shared {
                writer: Mutex::new(stream.try_clone()?),
                control: stream.try_clone()?,
                pointer: AtomicU64::new(0),
            }),
        })
    }

    /// Writes one whole client message; `then` runs under the lock after
    /// the write succeeded.
    fn send(&self, bytes: &[u8], then: impl FnOnce()) -> Result<(), RfbError> {
        let mut w = self.shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(bytes)?;
        then();
        Ok(())
    }

    /// KeyEvent with an X keysym.
    pub fn key(&self, keysym: u32, down: bool) -> Result<(), RfbError> {
        self.send(&msg::key_event(keysym, down), || {})
    }

    /// PointerEvent; `buttons` is the RFB mask (bit 0 left, 1 middle, 2 right, 3/4 wheel).
    pub fn pointer(&self, x: u16, y: u16, buttons: u8) -> Result<(), RfbError> {
        let packed = 1 << 40 | u64::from(buttons) << 32 | u64::from(x) << 16 | u64::from(y);
        self.send(&msg::pointer_event(x, y, buttons), || {
            self.shared.pointer.store(packed, Ordering::Relaxed)
        })
    }

    /// Closes the session's socket (both directions): the capture thread's
    /// blocked read returns an error and the session ends.
    pub fn shutdown(&self) {
        // Already closed or never connected: either way it is closed now.
        let _ = self.shared.control.shutdown(Shutdown::Both);
    }

    /// Position of the last pointer event sent, if any.
    pub fn pointer_pos(&self) -> Option<(u16, u16)> {
        let p = self.shared.pointer.load(Ordering::Relaxed);
        (p != 0).then_some(((p >> 16) as u16, p as u16))
    }

    /// The button mask of the last pointer event sent (0 before any).
    pub fn buttons(&self) -> u8 {
        (self.shared.pointer.load(Ordering::Relaxed) >> 32) as u8
    }
}

pub struct Session {
    reader: BufReader<TcpStream>,
    /// The read timeout currently set on the socket (saves a syscall per message).
    read_timeout: Option<Duration>,
    input: Input,
    decoders: Decoders,
    width: u16,
    height: u16,
    name: String,
    /// Rectangles received per encoding, in order of first appearance.
    rects: Vec<(i32, u64)>,
}

impl Session {
    /// Connects and completes the handshake; the session then has the server's
    /// size and name, and has sent SetPixelFormat and SetEncodings.
    pub fn connect(opts: &ConnectOptions) -> Result<Session, RfbError> {
        Session::connect_within(opts, HANDSHAKE_TIMEOUT)
    }

    /// `connect` with `limit` for the whole handshake.
    fn connect_within(opts: &ConnectOptions, limit: Duration) -> Result<Session, RfbError> {
        let stream = connect_tcp(&opts.addr, opts.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let input = Input::new(&stream)?;
        let mut reader = BufReader::new(stream);
        let (_version, init) = {
            let mut w = input
                .shared
                .writer
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            handshake(
                &mut Deadline::new(&mut reader, limit),
                &mut *w,
                opts.password.as_deref(),
                &opts.encodings,
            )?
        };
        Ok(Session {
            reader,
            // The handshake left some shorter timeout on the socket.
            read_timeout: None,
            input,
            decoders: Decoders::new(),
            width: init.width,
            height: init.height,
            name: init.name,
            rects: Vec::new(),
        })
    }

    /// Width of the remote screen (from ServerInit, then from resizes).
    pub fn width(&self) -> u16 {
        self.width
    }
    /// Height of the remote screen (from ServerInit, then from resizes).
    pub fn height(&self) -> u16 {
        self.height
    }
    /// The desktop name from ServerInit.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// How many rectangles of each encoding the server has sent, in order of
    /// first appearance (pseudo-encodings included).
    pub fn rect_counts(&self) -> &[(i32, u64)] {
        &self.rects
    }
    /// The input sender for this session.
    pub fn input(&self) -> Input {
        self.input.clone()
    }

    /// FramebufferUpdateRequest for the whole `screen`.
    pub fn request_update(&self, incremental: bool, screen: &Screen) -> Result<(), RfbError> {
        let m = msg::update_request(incremental, screen.width(), screen.height());
        self.input.send(&m, || {})
    }

    /// Waits up to `timeout` for the next server message to start arriving.
    /// `Ok(false)` means nothing came; a closed socket is an error.
    pub fn wait_readable(&mut self, timeout: Duration) -> Result<bool, RfbError> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        // A zero timeout means "block forever" to the OS: wait at least 1 ms.
        self.set_read_timeout(timeout.max(Duration::from_millis(1)))?;
        match self.reader.get_ref().peek(&mut [0u8]) {
            Ok(0) => Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(_) => Ok(true),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads one whole server message and applies it to `screen`.
    pub fn read_message(&mut self, screen: &mut Screen) -> Result<Event, RfbError> {
        self.set_read_timeout(STALL_TIMEOUT)?;
        let r = &mut Stalls::new(&mut self.reader, "in the middle of a message");
        let event = match read_u8(r)? {
            0 => {
                let _padding = read_u8(r)?;
                let count = read_u16(r)?;
                let mut copied: u64 = 0;
                for _ in 0..count {
                    let rect = Rect::new(read_u16(r)?, read_u16(r)?, read_u16(r)?, read_u16(r)?);
                    let encoding = read_i32(r)?;
                    if encoding == enc::COPYRECT {
                        copied += u64::from(rect.w) * u64::from(rect.h);
                        let screen_px = u64::from(screen.width()) * u64::from(screen.height());
                        if copied > COPY_BUDGET * screen_px.max(1) {
                            return Err(RfbError::protocol(format!(
                                "CopyRect: one update copies more than {COPY_BUDGET} screens of pixels"
                            )));
                        }
                    }
                    match self.rects.iter_mut().find(|(e, _)| *e == encoding) {
                        Some((_, n)) => *n += 1,
                        None => self.rects.push((encoding, 1)),
                    }
                    if self.decoders.decode(r, encoding, rect, screen)? == RectResult::LastRect {
                        break;
                    }
                }
                self.width = screen.width();
                self.height = screen.height();
                Event::Update
            }
            1 => {
                // SetColourMapEntries: meaningless with a true-colour format.
                let [_padding, _first @ .., n0, n1] = msg::read_array::<5>(r)?;
                skip(r, u64::from(u16::from_be_bytes([n0, n1])) * 6)?;
                Event::Ignored
            }
            2 => Event::Bell,
            3 => {
                let _padding = msg::read_array::<3>(r)?;
                let len = read_u32(r)?;
                let text = read_capped(r, len, CUT_TEXT_CAP, "ServerCutText")?;
                Event::CutText(text.iter().map(|&b| char::from(b)).collect())
            }
            t => {
                return Err(RfbError::protocol(format!(
                    "unknown server message type {t}"
                )));
            }
        };
        Ok(event)
    }

    fn set_read_timeout(&mut self, d: Duration) -> io::Result<()> {
        if self.read_timeout != Some(d) {
            self.reader.get_ref().set_read_timeout(Some(d))?;
            self.read_timeout = Some(d);
        }
        Ok(())
    }
}

/// Resolves `addr` and tries each address in turn, `timeout` each.
fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream, RfbError> {
    let fail = |source| RfbError::Connect {
        addr: addr.to_string(),
        source,
    };
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(fail)?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout.max(Duration::from_millis(1))) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(fail(last))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Reads the handshake under one deadline for all of it: each socket read
/// waits only for what is left, and running out is a clear error.
struct Deadline<'a> {
    reader: &'a mut BufReader<TcpStream>,
    deadline: Instant,
    limit: Duration,
}

impl<'a> Deadline<'a> {
    fn new(reader: &'a mut BufReader<TcpStream>, limit: Duration) -> Self {
        Deadline {
            reader,
            deadline: Instant::now() + limit,
            limit,
        }
    }

    fn late(&self) -> io::Error {
        let msg = format!(
            "the server did not finish the handshake within {:.1} s",
            self.limit.as_secs_f64()
        );
        io::Error::new(io::ErrorKind::TimedOut, msg)
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reader.buffer().is_empty() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.late());
            }
            // A zero timeout means "block forever" to the OS: wait at least 1 ms.
            let wait = left.max(Duration::from_millis(1));
            self.reader.get_ref().set_read_timeout(Some(wait))?;
        }
        self.reader
            .read(buf)
            .map_err(|e| if is_timeout(&e) { self.late() } else { e })
    }
}

/// Turns a read timeout into an error that says what happened: the server
/// went silent for `STALL_TIMEOUT` while vncmon expected more bytes.
struct Stalls<'a, R> {
    inner: &'a mut R,
    when: &'static str,
}

impl<'a, R> Stalls<'a, R> {
    fn new(inner: &'a mut R, when: &'static str) -> Self {
        Stalls { inner, when }
    }
}

impl<R> Stalls<'_, R> {
    fn explain(&self, e: io::Error) -> io::Error {
        if !is_timeout(&e) {
            return e;
        }
        let secs = STALL_TIMEOUT.as_secs();
        let msg = format!("the server sent nothing for {secs} s {}", self.when);
        io::Error::new(io::ErrorKind::TimedOut, msg)
    }
}

impl<R: Read> Read for Stalls<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.explain(e))
    }
    // Forwarded so `BufReader`'s fast path for small exact reads is kept.
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf).map_err(|e| self.explain(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A server that answers every step at once but drips its desktop name,
    /// one byte every 20 ms for up to 3 s, then closes.
    fn dripping_server() -> (String, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let t = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 12];
            s.write_all(b"RFB 003.008\n").unwrap();
            s.read_exact(&mut buf).unwrap();
            s.write_all(&[1, 1]).unwrap(); // one security type: None
            s.read_exact(&mut buf[..1]).unwrap();
            s.write_all(&[0, 0, 0, 0]).unwrap(); // SecurityResult OK
            s.read_exact(&mut buf[..1]).unwrap(); // ClientInit
            let mut init = vec![0, 16, 0, 16];
            init.extend_from_slice(&[0; 16]);
            init.extend_from_slice(&60_000u32.to_be_bytes());
            s.write_all(&init).unwrap();
            let end = Instant::now() + Duration::from_secs(3);
            while Instant::now() < end && s.write_all(b"x").is_ok() {
                thread::sleep(Duration::from_millis(20));
            }
        });
        (addr, t)
    }

    #[test]
    fn a_dripped_handshake_ends_at_the_deadline() {
        let (addr, server) = dripping_server();
        let opts = ConnectOptions {
            addr,
            password: None,
            encodings: vec![0],
            connect_timeout: Duration::from_secs(2),
        };
        let e = match Session::connect_within(&opts, Duration::from_millis(300)) {
            Ok(_) => panic!("the handshake should have timed out"),
            Err(e) => e,
        };
        assert!(
            e.to_string()
                .contains("did not finish the handshake within 0.3 s"),
            "{e}"
        );
        server.join().unwrap();
    }
}
