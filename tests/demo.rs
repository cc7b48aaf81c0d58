//! The demo desktop seen from the wire: a minimal RFB client written here
//! (independent of vncmon's own client) drives `vncmon::demo::Demo`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use vncmon::demo::{Demo, layout};
use vncmon::screen::Rect;

const TIMEOUT: Duration = Duration::from_secs(5);
const BGRX: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];
const RGB565_BE: [u8; 16] = [16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0];
const CURSOR: i32 = -239;

/// One rectangle header from a FramebufferUpdate.
#[derive(Debug, Clone, Copy)]
struct Got {
    x: u16,
    y: u16,
    w: u16,
    h: u16,
    enc: i32,
}

impl Got {
    fn covers(&self, r: Rect) -> bool {
        self.x <= r.x
            && self.y <= r.y
            && u32::from(self.x) + u32::from(self.w) >= r.right()
            && u32::from(self.y) + u32::from(self.h) >= r.bottom()
    }
}

struct Client {
    s: TcpStream,
    width: u16,
    height: u16,
    name: String,
    bytes_pp: usize,
    fb: Vec<u32>,
}

fn vnc_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password.bytes()) {
        *k = p.reverse_bits();
    }
    let des = Des::new(&key.into());
    let mut out = *challenge;
    for half in out.chunks_exact_mut(8) {
        let mut block: [u8; 8] = half.try_into().unwrap();
        let mut b = block.into();
        des.encrypt_block(&mut b);
        block = b.into();
        half.copy_from_slice(&block);
    }
    out
}

fn u16_of(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn u32_of(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Client {
    fn read_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0; n];
        self.s.read_exact(&mut v)?;
        Ok(v)
    }

    fn read_u32(&mut self) -> io::Result<u32> {
        Ok(u32_of(&self.read_n(4)?))
    }

    /// Handshake as an RFB 3.8 client; `Err` carries the server's failure reason.
    fn connect(addr: SocketAddr, password: Option<&str>) -> Result<Client, String> {
        Client::connect_version(addr, password, 8)
    }

    fn connect_version(
        addr: SocketAddr,
        password: Option<&str>,
        minor: u8,
    ) -> Result<Client, String> {
        let s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut c = Client {
            s,
            width: 0,
            height: 0,
            name: String::new(),
            bytes_pp: 4,
            fb: Vec::new(),
        };
        let io = |e: io::Error| e.to_string();
        assert_eq!(c.read_n(12).map_err(io)?, b"RFB 003.008\n");
        c.s.write_all(format!("RFB 003.00{minor}\n").as_bytes())
            .map_err(io)?;
        let sec = if minor >= 7 {
            let n = c.read_n(1).map_err(io)?[0];
            assert_eq!(n, 1, "the demo offers one security type");
            let t = c.read_n(1).map_err(io)?[0];
            c.s.write_all(&[t]).map_err(io)?;
            t
        } else {
            c.read_u32().map_err(io)? as u8
        };
        if sec == 2 {
            let challenge: [u8; 16] = c.read_n(16).map_err(io)?.try_into().unwrap();
            let resp = vnc_response(password.expect("server asks for a password"), &challenge);
            c.s.write_all(&resp).map_err(io)?;
        }
        if (sec == 2 || minor >= 8) && c.read_u32().map_err(io)? != 0 {
            if minor < 8 {
                return Err("failed (no reason before 3.8)".into());
            }
            let len = c.read_u32().map_err(io)? as usize;
            assert!(len < 1000);
            return Err(String::from_utf8_lossy(&c.read_n(len).map_err(io)?).into_owned());
        }
        c.s.write_all(&[1]).map_err(io)?;
        let init = c.read_n(24).map_err(io)?;
        c.width = u16_of(&init[0..]);
        c.height = u16_of(&init[2..]);
        assert_eq!(init[4..20], BGRX, "ServerInit announces 32-bit BGRX");
        let name_len = u32_of(&init[20..]) as usize;
        c.name = String::from_utf8_lossy(&c.read_n(name_len).map_err(io)?).into_owned();
        c.fb = vec![0; usize::from(c.width) * usize::from(c.height)];
        c.set_format(BGRX);
        c.set_encodings(&[0]);
        Ok(c)
    }

    fn set_format(&mut self, pf: [u8; 16]) {
        let mut m = vec![0, 0, 0, 0];
        m.extend_from_slice(&pf);
        self.s.write_all(&m).unwrap();
        self.bytes_pp = usize::from(pf[0] / 8);
    }

    fn set_encodings(&mut self, encs: &[i32]) {
        let mut m = vec![2, 0];
        m.extend_from_slice(&(encs.len() as u16).to_be_bytes());
        for e in encs {
            m.extend_from_slice(&e.to_be_bytes());
        }
        self.s.write_all(&m).unwrap();
    }

    fn request(&mut self, incremental: bool, r: Rect) {
        let mut m = vec![3, u8::from(incremental)];
        for v in [r.x, r.y, r.w, r.h] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        self.s.write_all(&m).unwrap();
    }

    fn key(&mut self, keysym: u32) {
        for down in [1, 0] {
            let mut m = vec![4, down, 0, 0];
            m.extend_from_slice(&keysym.to_be_bytes());
            self.s.write_all(&m).unwrap();
        }
    }

    fn click(&mut self, x: u16, y: u16) {
        for mask in [1u8, 0] {
            let mut m = vec![5, mask];
            m.extend_from_slice(&x.to_be_bytes());
            m.extend_from_slice(&y.to_be_bytes());
            self.s.write_all(&m).unwrap();
        }
    }

    /// Reads one FramebufferUpdate into `fb` (Raw pixels as the raw pixel value).
    fn read_update(&mut self) -> io::Result<Vec<Got>> {
        let head = self.read_n(4)?;
        assert_eq!(head[0], 0, "expected a FramebufferUpdate");
        let mut got = Vec::new();
        for _ in 0..u16_of(&head[2..]) {
            let h = self.read_n(12)?;
            let g = Got {
                x: u16_of(&h[0..]),
                y: u16_of(&h[2..]),
                w: u16_of(&h[4..]),
                h: u16_of(&h[6..]),
                enc: u32_of(&h[8..]) as i32,
            };
            let (w, hh) = (usize::from(g.w), usize::from(g.h));
            let data = self.read_n(w * hh * self.bytes_pp)?;
            match g.enc {
                0 => {
                    assert!(u32::from(g.x) + u32::from(g.w) <= u32::from(self.width));
                    assert!(u32::from(g.y) + u32::from(g.h) <= u32::from(self.height));
                    for (i, px) in data.chunks_exact(self.bytes_pp).enumerate() {
                        let v = match px.len() {
                            4 => u32::from_le_bytes([px[0], px[1], px[2], px[3]]),
                            _ => u32::from(u16::from_be_bytes([px[0], px[1]])),
                        };
                        let (x, y) = (usize::from(g.x) + i % w, usize::from(g.y) + i / w);
                        self.fb[y * usize::from(self.width) + x] = v;
                    }
                }
                CURSOR => {
                    self.read_n(w.div_ceil(8) * hh)?;
                }
                e => panic!("unexpected encoding {e}"),
            }
            got.push(g);
        }
        Ok(got)
    }

    fn full_update(&mut self) -> Vec<Got> {
        self.request(false, layout::SCREEN);
        self.read_update().unwrap()
    }

    fn pixels(&self, r: Rect) -> Vec<u32> {
        let w = usize::from(self.width);
        (r.y..r.y + r.h)
            .flat_map(|y| {
                let start = usize::from(y) * w + usize::from(r.x);
                self.fb[start..start + usize::from(r.w)].to_vec()
            })
            .collect()
    }

    /// Asks for incremental updates until `done` holds; false after a few seconds.
    fn update_until(&mut self, mut done: impl FnMut(&Client) -> bool) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            self.request(true, layout::SCREEN);
            self.read_update().unwrap();
            if done(self) {
                return true;
            }
        }
        false
    }

    /// True when the server closes the connection (EOF or reset) within the timeout.
    fn closed_by_server(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
        false
    }
}

#[test]
fn handshake_without_password() {
    let demo = Demo::start(None).unwrap();
    let c = Client::connect(demo.addr(), None).unwrap();
    assert_eq!((c.width, c.height), (800, 480));
    assert_eq!(c.name, "vncmon demo");
    assert!(demo.addr().ip().is_loopback());
}

#[test]
fn vnc_authentication_right_and_wrong_password() {
    let demo = Demo::start(Some("s3cret".into())).unwrap();
    let mut c = Client::connect(demo.addr(), Some("s3cret")).unwrap();
    assert_eq!(c.name, "vncmon demo");
    c.full_update();
    let err = Client::connect(demo.addr(), Some("wrong")).err().unwrap();
    assert!(err.contains("wrong password"), "{err}");
}

#[test]
fn older_protocol_versions() {
    let open = Demo::start(None).unwrap();
    let mut c = Client::connect_version(open.addr(), None, 3).unwrap();
    assert!(c.full_update().iter().any(|g| g.covers(layout::SCREEN)));
    let mut c = Client::connect_version(open.addr(), None, 7).unwrap();
    assert!(c.full_update().iter().any(|g| g.covers(layout::SCREEN)));
    let locked = Demo::start(Some("pw".into())).unwrap();
    assert!(Client::connect_version(locked.addr(), Some("pw"), 7).is_ok());
    assert!(Client::connect_version(locked.addr(), Some("nope"), 7).is_err());
    assert!(Client::connect_version(locked.addr(), Some("pw"), 3).is_ok());
}

#[test]
fn a_full_update_covers_the_whole_screen() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    let got = c.full_update();
    let mut covered = vec![false; c.fb.len()];
    for g in got.iter().filter(|g| g.enc == 0) {
        for y in g.y..g.y + g.h {
            for x in g.x..g.x + g.w {
                covered[usize::from(y) * 800 + usize::from(x)] = true;
            }
        }
    }
    assert!(covered.iter().all(|&c| c), "some pixels were not sent");
    let title = c.pixels(Rect::new(16, 16, 300, 24));
    assert!(title.contains(&0xffffff), "the title is drawn in white");
    assert!(title.iter().any(|&p| p != 0xffffff));
}

#[test]
fn the_clock_ticks() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    c.full_update();
    let before = c.pixels(layout::CLOCK);
    thread::sleep(Duration::from_millis(1100));
    c.request(true, layout::SCREEN);
    let got = c.read_update().unwrap();
    assert!(got.iter().any(|g| g.covers(layout::CLOCK)), "{got:?}");
    assert_ne!(c.pixels(layout::CLOCK), before);
}

#[test]
fn an_incremental_request_is_answered_only_with_changes() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    c.full_update();
    c.request(true, layout::SCREEN);
    let got = c.read_update().unwrap();
    assert!(!got.is_empty());
    assert!(got.iter().all(|g| !g.covers(layout::SCREEN)), "{got:?}");
    // An area where nothing ever changes gets no answer until a full request.
    let still = Rect::new(16, 16, 300, 24);
    c.request(true, still);
    c.s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        c.s.peek(&mut b).is_err(),
        "answered an incremental request with nothing new"
    );
    c.s.set_read_timeout(Some(TIMEOUT)).unwrap();
    c.request(false, still);
    let got = c.read_update().unwrap();
    assert!(got.iter().any(|g| g.covers(still)));
}

#[test]
fn typed_keys_show_up() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    c.full_update();
    let before = c.pixels(layout::TEXT_BOX);
    for k in "Hi!".bytes() {
        c.key(u32::from(k));
    }
    assert!(c.update_until(|c| c.pixels(layout::TEXT_BOX) != before));
    // BackSpace three times brings the line back to what it was.
    for _ in 0..3 {
        c.key(0xff08);
    }
    assert!(c.update_until(|c| c.pixels(layout::TEXT_BOX) == before));
}

#[test]
fn clicking_a_button_toggles_only_that_button() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    c.full_update();
    let buttons = |c: &Client| layout::BUTTONS.map(|b| c.pixels(b));
    let before = buttons(&c);
    let b1 = layout::BUTTONS[1];
    c.click(b1.x + b1.w / 2, b1.y + b1.h / 2);
    assert!(c.update_until(|c| c.pixels(b1) != before[1]));
    let after = buttons(&c);
    for i in [0, 2, 3] {
        assert_eq!(after[i], before[i], "button {i} changed too");
    }
    // A click outside every button shows in the click line but toggles nothing.
    let line = c.pixels(layout::CLICK_LINE);
    c.click(400, 100);
    assert!(c.update_until(|c| c.pixels(layout::CLICK_LINE) != line));
    assert_eq!(buttons(&c), after);
}

#[test]
fn two_clients_both_get_updates_and_see_each_others_input() {
    let demo = Demo::start(None).unwrap();
    let mut a = Client::connect(demo.addr(), None).unwrap();
    let mut b = Client::connect(demo.addr(), None).unwrap();
    a.full_update();
    b.full_update();
    let before = b.pixels(layout::TEXT_BOX);
    a.key(u32::from(b'x'));
    assert!(b.update_until(|b| b.pixels(layout::TEXT_BOX) != before));
    assert!(a.update_until(|a| a.pixels(layout::TEXT_BOX) == b.pixels(layout::TEXT_BOX)));
}

#[test]
fn cursor_shape_is_sent_once_when_asked_for() {
    let demo = Demo::start(None).unwrap();
    let mut c = Client::connect(demo.addr(), None).unwrap();
    c.set_encodings(&[0, CURSOR]);
    let got = c.full_update();
    let cursors: Vec<_> = got.iter().filter(|g| g.enc == CURSOR).collect();
    assert_eq!(cursors.len(), 1, "{got:?}");
    assert!(cursors[0].w > 0 && cursors[0].h > 0);
    let again = c.full_update();
    assert!(again.iter().all(|g| g.enc != CURSOR));
}

#[test]
fn sixteen_bit_clients_get_converted_pixels() {
    let demo = Demo::start(None).unwrap();
    let mut wide = Client::connect(demo.addr(), None).unwrap();
    let mut narrow = Client::connect(demo.addr(), None).unwrap();
    narrow.set_format(RGB565_BE);
    wide.full_update();
    narrow.full_update();
    let title = Rect::new(16, 16, 300, 24);
    let to_565 = |p: u32| {
        let c = |v: u32, max: u32| ((v & 0xff) * max + 127) / 255;
        (c(p >> 16, 31) << 11) | (c(p >> 8, 63) << 5) | c(p, 31)
    };
    let expected: Vec<u32> = wide.pixels(title).into_iter().map(to_565).collect();
    assert_eq!(narrow.pixels(title), expected);
    assert!(expected.contains(&0xffff));
}

#[test]
fn misbehaving_clients_are_dropped_and_others_keep_working() {
    let demo = Demo::start(None).unwrap();
    let mut good = Client::connect(demo.addr(), None).unwrap();
    good.full_update();
    let mut unknown = Client::connect(demo.addr(), None).unwrap();
    unknown.s.write_all(&[99, 0, 0, 0]).unwrap();
    assert!(unknown.closed_by_server());
    let mut huge = Client::connect(demo.addr(), None).unwrap();
    huge.s
        .write_all(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    assert!(huge.closed_by_server());
    let mut many = Client::connect(demo.addr(), None).unwrap();
    many.s.write_all(&[2, 0, 0xff, 0xff]).unwrap();
    assert!(many.closed_by_server());
    let mut format = Client::connect(demo.addr(), None).unwrap();
    format.set_format([8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(format.closed_by_server());
    // A modest clipboard is read and skipped, and the session carries on.
    good.s.write_all(&[6, 0, 0, 0, 0, 0, 0x10, 0]).unwrap();
    good.s.write_all(&[b'z'; 4096]).unwrap();
    let got = good.full_update();
    assert!(got.iter().any(|g| g.covers(layout::SCREEN)));
    assert!(good.update_until(|_| true));
}

#[test]
fn stop_ends_the_listener_and_the_clients() {
    let demo = Demo::start(None).unwrap();
    let addr = demo.addr();
    let mut c = Client::connect(addr, None).unwrap();
    c.full_update();
    // A client stuck in the handshake must not hold up stop either.
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut greeting = [0u8; 12];
    silent.read_exact(&mut greeting).unwrap();
    demo.stop();
    assert!(
        TcpStream::connect_timeout(&addr, TIMEOUT).is_err(),
        "still accepting"
    );
    assert!(c.closed_by_server());
    let mut rest = Vec::new();
    assert!(silent.read_to_end(&mut rest).is_ok(), "handshake left open");
    assert!(rest.is_empty());
    demo.stop();
}
