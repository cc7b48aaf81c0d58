//! A scripted fake RFB server for tests of the `vncmon` binary: a listener
//! on 127.0.0.1 whose connections the test accepts one at a time and drives
//! step by step (handshake, updates, lies, slow writes, a sudden death).
//! Every socket has read and write timeouts, so a broken test fails instead
//! of hanging; nothing outlives the test.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How long a step waits for vncmon.
const PATIENCE: Duration = Duration::from_secs(5);

pub const RAW: i32 = 0;
pub const TIGHT: i32 = 7;
pub const ZRLE: i32 = 16;
pub const CURSOR: i32 = -239;

/// The listening side; vncmon connects (and reconnects) to `addr`.
pub struct FakeRfb {
    listener: TcpListener,
    pub addr: String,
}

impl FakeRfb {
    pub fn bind() -> FakeRfb {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake RFB server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local_addr").to_string();
        FakeRfb { listener, addr }
    }

    /// Waits up to `timeout` for vncmon's next connection.
    pub fn accept(&self, timeout: Duration) -> Result<RfbConn, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => return RfbConn::new(stream),
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return Err(format!("vncmon did not connect within {timeout:?}"));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        }
    }
}

/// The server's end of one connection.
pub struct RfbConn {
    stream: TcpStream,
}

impl RfbConn {
    fn new(stream: TcpStream) -> Result<RfbConn, String> {
        let setup = || -> std::io::Result<()> {
            stream.set_nonblocking(false)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(PATIENCE))?;
            stream.set_write_timeout(Some(PATIENCE))
        };
        setup().map_err(|e| format!("socket setup: {e}"))?;
        Ok(RfbConn { stream })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    /// Sends `bytes` one at a time with `pause` between them, and a longer
    /// `stall` before each offset listed in `stalls`.
    pub fn send_slowly(
        &mut self,
        bytes: &[u8],
        pause: Duration,
        stalls: &[usize],
        stall: Duration,
    ) -> Result<(), String> {
        for (i, b) in bytes.iter().enumerate() {
            thread::sleep(if stalls.contains(&i) { stall } else { pause });
            self.send(std::slice::from_ref(b))?;
        }
        Ok(())
    }

    fn read(&mut self, n: usize, what: &str) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; n];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| format!("reading {what}: {e}"))?;
        Ok(buf)
    }

    /// RFB 3.8 with security None up to ClientInit, then a ServerInit that
    /// announces `width`×`height` (whatever they are).
    pub fn handshake_to_init(&mut self, width: u16, height: u16) -> Result<(), String> {
        self.send(b"RFB 003.008\n")?;
        let version = self.read(12, "the client's version")?;
        if version != b"RFB 003.008\n" {
            return Err(format!("client version {version:?}"));
        }
        self.send(&[1, 1])?; // one security type: None
        if self.read(1, "the security choice")? != [1] {
            return Err("the client did not choose security None".into());
        }
        self.send(&0u32.to_be_bytes())?;
        self.read(1, "ClientInit")?;
        let name = b"fake";
        let mut init = Vec::new();
        init.extend_from_slice(&width.to_be_bytes());
        init.extend_from_slice(&height.to_be_bytes());
        init.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        init.extend_from_slice(&(name.len() as u32).to_be_bytes());
        init.extend_from_slice(name);
        self.send(&init)
    }

    /// The whole handshake: ServerInit, then vncmon's SetPixelFormat and
    /// SetEncodings are read and checked for their type.
    pub fn handshake(&mut self, width: u16, height: u16) -> Result<(), String> {
        self.handshake_to_init(width, height)?;
        let pf = self.read(20, "SetPixelFormat")?;
        if pf.first() != Some(&0) {
            return Err(format!("expected SetPixelFormat, got {pf:?}"));
        }
        let head = self.read(4, "SetEncodings")?;
        if head.first() != Some(&2) {
            return Err(format!("expected SetEncodings, got {head:?}"));
        }
        let n = u16::from_be_bytes([head[2], head[3]]) as usize;
        self.read(4 * n, "the encoding list")?;
        Ok(())
    }

    /// Ends the connection the way a dying server does: no more bytes from
    /// us, whatever vncmon sent is dropped, and it sees a clean end of stream.
    pub fn close(mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + PATIENCE;
        let mut sink = [0u8; 1024];
        while Instant::now() < deadline && matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// A FramebufferUpdate header with one rectangle header.
pub fn rect_header(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 1];
    for v in [x, y, w, h] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(&encoding.to_be_bytes());
    m
}

/// A FramebufferUpdate painting the whole `width`×`height` screen one colour
/// with a Raw rectangle, in the BGRX format vncmon asks for.
pub fn solid_update(width: u16, height: u16, [r, g, b]: [u8; 3]) -> Vec<u8> {
    let mut m = rect_header(0, 0, width, height, RAW);
    for _ in 0..width as usize * height as usize {
        m.extend_from_slice(&[b, g, r, 0]);
    }
    m
}
