//! One demo client connection: the server side of the RFB handshake and
//! message loop. Reads the shared desktop (briefly, under its lock) and writes
//! only to its own socket; never panics on what the client sends.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::Shared;
use super::desktop::layout::SCREEN;
use super::proto::{self, Msg, PixelFormat, bad};
use super::region::{Region, intersect, union};
use crate::screen::Rect;

/// How long the handshake may take, and a stuck write may block.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The message loop's read timeout: how often a waiting client looks for changes.
const POLL: Duration = Duration::from_millis(15);
const NAME: &str = "vncmon demo";

/// Serves one client until it leaves, misbehaves or the demo stops.
pub(super) fn run(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let mut client = Client::new(stream, peer);
    let result = client.handshake(shared).and_then(|ok| {
        if !ok {
            return Ok(());
        }
        log::info!("demo: {peer} connected");
        shared.viewer_joined();
        let r = client.serve(shared);
        shared.viewer_left();
        r
    });
    match result {
        Ok(()) => log::info!("demo: {peer} disconnected"),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            log::info!("demo: {peer} closed the connection")
        }
        Err(e) if shared.stopping() => log::debug!("demo: {peer} ended by stop: {e}"),
        Err(e) => log::warn!("demo: dropping client {peer}: {e}"),
    }
}

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    format: PixelFormat,
    wants_cursor: bool,
    cursor_sent: bool,
    /// The desktop's change number this client has collected up to.
    seen: u64,
    dirty: Region,
    /// The union of the areas asked for and not yet answered.
    requested: Option<Rect>,
    /// A non-incremental request is pending: answer even if nothing changed.
    forced: bool,
    buttons: u8,
    input: Vec<u8>,
    /// ClientCutText bytes still to throw away.
    skip: usize,
    out: Vec<u8>,
    rects: Vec<Rect>,
}

impl Client {
    fn new(stream: TcpStream, peer: SocketAddr) -> Client {
        Client {
            stream,
            peer,
            format: PixelFormat::bgrx(),
            wants_cursor: false,
            cursor_sent: false,
            seen: 0,
            dirty: Region::default(),
            requested: None,
            forced: false,
            buttons: 0,
            input: Vec::with_capacity(proto::MAX_MESSAGE * 2),
            skip: 0,
            out: Vec::new(),
            rects: Vec::new(),
        }
    }

    /// Version, security, ClientInit, ServerInit. `Ok(false)`: authentication failed.
    fn handshake(&mut self, shared: &Shared) -> io::Result<bool> {
        let s = &mut self.stream;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))?;
        s.write_all(b"RFB 003.008\n")?;
        let mut version = [0u8; 12];
        s.read_exact(&mut version)?;
        let minor = parse_version(&version).ok_or_else(|| {
            bad(format!(
                "not an RFB client: {:?}",
                String::from_utf8_lossy(&version)
            ))
        })?;
        let sec_type: u8 = if shared.password.is_some() { 2 } else { 1 };
        if minor >= 7 {
            s.write_all(&[1, sec_type])?;
            let mut chosen = [0u8];
            s.read_exact(&mut chosen)?;
            if chosen[0] != sec_type {
                return Err(bad(format!(
                    "chose security type {} (offered {sec_type})",
                    chosen[0]
                )));
            }
        } else {
            s.write_all(&u32::from(sec_type).to_be_bytes())?;
        }
        if let Some(password) = &shared.password {
            let challenge = challenge();
            s.write_all(&challenge)?;
            let mut response = [0u8; 16];
            s.read_exact(&mut response)?;
            if response != crate::rfb::auth::vnc_response(password.as_bytes(), &challenge) {
                let reason = "wrong password";
                let mut msg = 1u32.to_be_bytes().to_vec();
                if minor >= 8 {
                    msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
                    msg.extend_from_slice(reason.as_bytes());
                }
                s.write_all(&msg)?;
                log::warn!("demo: {}: authentication failed", self.peer);
                return Ok(false);
            }
            s.write_all(&0u32.to_be_bytes())?;
        } else if minor >= 8 {
            s.write_all(&0u32.to_be_bytes())?;
        }
        let mut shared_flag = [0u8];
        s.read_exact(&mut shared_flag)?;
        let mut init = Vec::with_capacity(24 + NAME.len());
        init.extend_from_slice(&SCREEN.w.to_be_bytes());
        init.extend_from_slice(&SCREEN.h.to_be_bytes());
        init.extend_from_slice(PixelFormat::bgrx().wire());
        init.extend_from_slice(&(NAME.len() as u32).to_be_bytes());
        init.extend_from_slice(NAME.as_bytes());
        s.write_all(&init)?;
        s.set_read_timeout(Some(POLL))?;
        self.seen = shared.desktop().changes_since(0, &mut Region::default());
        Ok(true)
    }

    /// The message loop: answer update requests when there is something to
    /// send, read and apply client messages in between.
    fn serve(&mut self, shared: &Shared) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        while !shared.stopping() {
            if self.requested.is_some() && self.has_news(shared) {
                self.send_update(shared)?;
            }
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            };
            self.absorb(buf.get(..n).unwrap_or(&[]), shared)?;
        }
        Ok(())
    }

    /// Collects the desktop's changes; true when the pending request can be answered.
    fn has_news(&mut self, shared: &Shared) -> bool {
        self.seen = shared.desktop().changes_since(self.seen, &mut self.dirty);
        let area = self.requested.unwrap_or(SCREEN);
        self.forced
            || (self.wants_cursor && !self.cursor_sent)
            || self
                .dirty
                .rects()
                .iter()
                .any(|&r| intersect(r, area).is_some())
    }

    /// Applies every complete message in `bytes` plus what was left over before.
    fn absorb(&mut self, bytes: &[u8], shared: &Shared) -> io::Result<()> {
        self.input.extend_from_slice(bytes);
        let mut used = 0;
        while let Some(rest) = self.input.get(used..) {
            if self.skip > 0 {
                let n = self.skip.min(rest.len());
                self.skip -= n;
                used += n;
                if self.skip > 0 {
                    break;
                }
                continue;
            }
            let Some((msg, n)) = proto::parse(rest)? else {
                break;
            };
            used += n;
            self.apply(msg, shared);
        }
        self.input.drain(..used.min(self.input.len()));
        if self.input.len() > proto::MAX_MESSAGE {
            return Err(bad("message too long"));
        }
        Ok(())
    }

    fn apply(&mut self, msg: Msg, shared: &Shared) {
        match msg {
            Msg::SetPixelFormat(f) => {
                log::debug!("demo: {} pixel format {f:?}", self.peer);
                self.format = f;
                // A cursor sent in the old format would now be wrong.
                self.cursor_sent = false;
            }
            Msg::SetEncodings { count, cursor } => {
                log::debug!(
                    "demo: {} lists {count} encodings, cursor: {cursor}",
                    self.peer
                );
                self.cursor_sent &= cursor;
                self.wants_cursor = cursor;
            }
            Msg::UpdateRequest {
                incremental,
                x,
                y,
                w,
                h,
            } => {
                let area = Rect::new(x, y, w, h);
                if !incremental {
                    self.forced = true;
                    if let Some(r) = intersect(area, SCREEN) {
                        self.dirty.add(r);
                    }
                }
                self.requested = Some(self.requested.map_or(area, |r| union(r, area)));
            }
            Msg::Key { down, keysym } => {
                if down {
                    shared.desktop().key(keysym);
                }
            }
            Msg::Pointer { buttons, x, y } => {
                let pressed = buttons & !self.buttons;
                self.buttons = buttons;
                for b in 0..3u8 {
                    if pressed & (1 << b) != 0 {
                        shared.desktop().click(x, y, b + 1);
                    }
                }
            }
            Msg::CutText(len) => self.skip = len as usize,
        }
    }

    /// Sends a FramebufferUpdate: the cursor shape if due, then the dirty
    /// parts of the requested area as Raw rectangles.
    fn send_update(&mut self, shared: &Shared) -> io::Result<()> {
        let area = self.requested.take().unwrap_or(SCREEN);
        self.forced = false;
        self.rects.clear();
        self.out.clear();
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        let mut count = 0u16;
        if self.wants_cursor && !self.cursor_sent {
            proto::encode_cursor(&self.format, &mut self.out);
            self.cursor_sent = true;
            count += 1;
        }
        {
            let desktop = shared.desktop();
            self.seen = desktop.changes_since(self.seen, &mut self.dirty);
            self.dirty.take_within(area, &mut self.rects);
            let bpp = self.format.bytes_per_pixel();
            let total: usize = self.rects.iter().map(|r| 12 + r.area() * bpp).sum();
            self.out.reserve(total);
            for r in &self.rects {
                for v in [r.x, r.y, r.w, r.h] {
                    self.out.extend_from_slice(&v.to_be_bytes());
                }
                self.out.extend_from_slice(&0i32.to_be_bytes());
                for y in r.y..r.y + r.h {
                    let row = desktop
                        .row(r.x, y, r.w)
                        .ok_or_else(|| bad("rect off screen"))?;
                    self.format.encode(row, &mut self.out);
                }
                count += 1;
            }
        }
        if let Some(c) = self.out.get_mut(2..4) {
            c.copy_from_slice(&count.to_be_bytes());
        }
        self.stream.write_all(&self.out)?;
        // Keep one full screen's worth of buffer at most between updates.
        self.out.truncate(0);
        self.out.shrink_to(SCREEN.area() * 4 + 4096);
        Ok(())
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The minor version a client's `RFB 003.00x\n` asks for (3.3 for 3..=6, as RFC 6143 says).
fn parse_version(v: &[u8; 12]) -> Option<u16> {
    let text = std::str::from_utf8(v).ok()?;
    let rest = text.strip_prefix("RFB 003.")?.strip_suffix('\n')?;
    let minor: u16 = rest.parse().ok()?;
    match minor {
        0..=2 => None,
        3..=6 => Some(3),
        7 => Some(7),
        _ => Some(8),
    }
}

/// 16 unpredictable bytes from std's randomly keyed hasher, the time and a counter.
fn challenge() -> [u8; 16] {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = [0u8; 16];
    for (i, half) in out.chunks_exact_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_usize(i);
        h.write_u64(super::NEXT_ID.fetch_add(1, Ordering::Relaxed));
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version(b"RFB 003.008\n"), Some(8));
        assert_eq!(parse_version(b"RFB 003.007\n"), Some(7));
        assert_eq!(parse_version(b"RFB 003.003\n"), Some(3));
        assert_eq!(parse_version(b"RFB 003.889\n"), Some(8));
        assert_eq!(parse_version(b"RFB 004.001\n"), None);
        assert_eq!(parse_version(b"GET / HTTP/1"), None);
    }

    #[test]
    fn challenges_differ() {
        assert_ne!(challenge(), challenge());
    }
}
