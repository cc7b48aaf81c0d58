//! Robustness: a seeded PRNG throws random and mutated-valid payloads and
//! random rectangles at every encoding. Decoding may succeed or fail; it must
//! never panic, and the framebuffer never grows past MAX_DIM.

use vncmon::rfb::enc;
use vncmon::rfb::encodings::Decoders;
use vncmon::screen::{MAX_DIM, MAX_PIXELS, Rect, Screen};

use crate::rng::Rng;
use crate::tight::compact;
use crate::zrle::Deflater;

const ENCODINGS: [i32; 11] = [
    enc::RAW,
    enc::COPYRECT,
    enc::RRE,
    enc::HEXTILE,
    enc::ZRLE,
    enc::TIGHT,
    enc::DESKTOP_SIZE,
    enc::EXT_DESKTOP_SIZE,
    enc::CURSOR,
    enc::POINTER_POS,
    enc::LAST_RECT,
];

fn rect_in(rng: &mut Rng, w: u16, h: u16) -> Rect {
    match rng.below(10) {
        0 => Rect::new(
            rng.next() as u16,
            rng.next() as u16,
            rng.next() as u16,
            rng.next() as u16,
        ),
        1 => Rect::new(rng.below(w as usize) as u16, 0, 0, rng.below(3) as u16),
        _ => {
            let x = rng.below(w as usize) as u16;
            let y = rng.below(h as usize) as u16;
            let rw = 1 + rng.small((w - x - 1) as usize) as u16;
            let rh = 1 + rng.small((h - y - 1) as usize) as u16;
            Rect::new(x, y, rw, rh)
        }
    }
}

/// The server's side of the session's zlib streams.
struct Server {
    zrle: Deflater,
    tight: [Deflater; 4],
}

impl Server {
    fn new() -> Server {
        Server {
            zrle: Deflater::new(),
            tight: std::array::from_fn(|_| Deflater::new()),
        }
    }
}

/// A plausible payload (valid when the rectangle fits the screen).
fn payload(
    rng: &mut Rng,
    encoding: i32,
    r: Rect,
    screen: (u16, u16),
    srv: &mut Server,
    jpeg: &[u8],
) -> Vec<u8> {
    let area = r.area().min(1 << 16);
    match encoding {
        enc::RAW => rng.bytes(area * 4),
        enc::COPYRECT => {
            let sx = rng.below(screen.0.saturating_sub(r.w) as usize + 1) as u16;
            let sy = rng.below(screen.1.saturating_sub(r.h) as usize + 1) as u16;
            [sx.to_be_bytes(), sy.to_be_bytes()].concat()
        }
        enc::RRE => {
            let n = rng.small(6);
            let mut p = (n as u32).to_be_bytes().to_vec();
            p.extend(rng.bytes(4));
            for _ in 0..n {
                p.extend(rng.bytes(4));
                for lim in [r.w, r.h, r.w, r.h] {
                    let v = rng.below(lim as usize + 1) as u16;
                    p.extend(v.to_be_bytes());
                }
            }
            p
        }
        enc::HEXTILE => hextile(rng, r),
        enc::ZRLE => {
            let tiles = zrle_tiles(rng, r);
            srv.zrle.zrle(&tiles)
        }
        enc::TIGHT => tight(rng, r, srv, jpeg),
        enc::EXT_DESKTOP_SIZE => {
            let n = rng.small(3);
            let mut p = vec![n as u8, 0, 0, 0];
            p.extend(rng.bytes(16 * n));
            p
        }
        enc::CURSOR => {
            let n = area * 4 + (r.w as usize).div_ceil(8) * r.h as usize;
            rng.bytes(n.min(1 << 16))
        }
        _ => Vec::new(),
    }
}

fn tiles(r: Rect, size: u16) -> impl Iterator<Item = (usize, usize)> {
    let (w, h) = (r.w.min(256), r.h.min(256));
    (0..h).step_by(size as usize).flat_map(move |y| {
        (0..w)
            .step_by(size as usize)
            .map(move |x| ((size.min(w - x)) as usize, (size.min(h - y)) as usize))
    })
}

fn hextile(rng: &mut Rng, r: Rect) -> Vec<u8> {
    let mut p = Vec::new();
    for (tw, th) in tiles(r, 16) {
        let mask = if p.is_empty() {
            2 | rng.byte() & 29
        } else {
            rng.byte() & 31
        };
        p.push(mask);
        if mask & 1 != 0 {
            p.extend(rng.bytes(tw * th * 4));
            continue;
        }
        for bit in [2, 4] {
            if mask & bit != 0 {
                p.extend(rng.bytes(4));
            }
        }
        if mask & 8 != 0 {
            let n = rng.small(8);
            p.push(n as u8);
            for _ in 0..n {
                if mask & 16 != 0 {
                    p.extend(rng.bytes(4));
                }
                let (x, y) = (rng.below(tw), rng.below(th));
                let (w, h) = (1 + rng.below(tw - x), 1 + rng.below(th - y));
                p.push((x << 4 | y) as u8);
                p.push(((w - 1) << 4 | (h - 1)) as u8);
            }
        }
    }
    p
}

/// Run lengths covering `n` pixels, each encoded as ZRLE writes them.
fn runs(rng: &mut Rng, n: usize, mut each: impl FnMut(&mut Rng, usize) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let run = 1 + rng.small(left.min(600) - 1);
        out.extend(each(rng, run));
        left -= run;
    }
    out
}

fn run_len(mut run: usize) -> Vec<u8> {
    let mut v = Vec::new();
    run -= 1;
    while run >= 255 {
        v.push(255);
        run -= 255;
    }
    v.push(run as u8);
    v
}

fn zrle_tiles(rng: &mut Rng, r: Rect) -> Vec<u8> {
    let mut p = Vec::new();
    for (tw, th) in tiles(r, 64) {
        let n = tw * th;
        match rng.below(5) {
            0 => {
                p.push(0);
                p.extend(rng.bytes(n * 3));
            }
            1 => {
                p.push(1);
                p.extend(rng.bytes(3));
            }
            2 => {
                let k = 2 + rng.below(15);
                let bits = match k {
                    2 => 1,
                    3 | 4 => 2,
                    _ => 4,
                };
                p.push(k as u8);
                p.extend(rng.bytes(k * 3));
                for _ in 0..th {
                    let mut row = vec![0u8; (tw * bits).div_ceil(8)];
                    for x in 0..tw {
                        row[x * bits / 8] |= (rng.below(k) as u8) << (8 - bits - x * bits % 8);
                    }
                    p.extend(row);
                }
            }
            3 => {
                p.push(128);
                p.extend(runs(rng, n, |rng, run| {
                    let mut v = rng.bytes(3);
                    v.extend(run_len(run));
                    v
                }));
            }
            _ => {
                let k = 2 + rng.below(126);
                p.push(128 + k as u8);
                p.extend(rng.bytes(k * 3));
                p.extend(runs(rng, n, |rng, run| {
                    let i = rng.below(k) as u8;
                    if run == 1 && rng.one_in(2) {
                        vec![i]
                    } else {
                        let mut v = vec![i | 0x80];
                        v.extend(run_len(run));
                        v
                    }
                }));
            }
        }
    }
    p
}

fn tight(rng: &mut Rng, r: Rect, srv: &mut Server, jpeg: &[u8]) -> Vec<u8> {
    let resets = if rng.one_in(4) { rng.byte() & 15 } else { 0 };
    for (i, z) in srv.tight.iter_mut().enumerate() {
        if resets & (1 << i) != 0 {
            *z = Deflater::new();
        }
    }
    let (w, h) = (r.w.min(256) as usize, r.h.min(256) as usize);
    match rng.below(6) {
        0 => {
            let mut p = vec![0x80 | resets];
            p.extend(rng.bytes(3));
            p
        }
        1 => {
            let mut p = vec![0x90 | resets];
            p.extend(compact(jpeg.len()));
            p.extend_from_slice(jpeg);
            p
        }
        _ => {
            let stream = rng.below(4);
            let filter = rng.below(3) as u8;
            let mut p = vec![0x40 | (stream as u8) << 4 | resets, filter];
            let data = match filter {
                0 => rng.bytes(w * h * 3),
                1 => {
                    let n = 1 + rng.small(255);
                    p.push((n - 1) as u8);
                    p.extend(rng.bytes(n * 3));
                    if n == 2 {
                        rng.bytes(w.div_ceil(8) * h)
                    } else {
                        (0..w * h).map(|_| rng.below(n) as u8).collect()
                    }
                }
                _ => rng.bytes(w * h * 3),
            };
            if data.len() < 12 {
                p.extend(data);
            } else {
                let z = srv.tight[stream].pack(&data);
                p.extend(compact(z.len()));
                p.extend(z);
            }
            p
        }
    }
}

fn mutate(rng: &mut Rng, p: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(p.len() + 1);
        match rng.below(5) {
            0 if at < p.len() => p[at] ^= 1 << rng.below(8),
            1 if at < p.len() => p[at] = [0, 0xff, 0x7f, 0x80][rng.below(4)],
            2 => p.truncate(at),
            3 => {
                let n = 1 + rng.small(16);
                let extra = rng.bytes(n);
                p.splice(at..at, extra);
            }
            _ => {
                let end = (at + rng.small(32)).min(p.len());
                let copy = p[at..end].to_vec();
                p.splice(at..at, copy);
            }
        }
    }
}

#[test]
fn random_and_mutated_payloads_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let jpeg8 = {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 50)
            .encode(&[128; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    };
    // (ok, err) per encoding: the generators must reach both outcomes.
    let mut outcomes = [(0usize, 0usize); ENCODINGS.len()];
    for _ in 0..4000 {
        let mut s = Screen::new(1 + rng.small(63) as u16, 1 + rng.small(63) as u16);
        let mut d = Decoders::new();
        let mut srv = Server::new();
        for _ in 0..1 + rng.below(3) {
            let k = rng.below(ENCODINGS.len() + 1);
            let encoding = ENCODINGS.get(k).copied().unwrap_or(rng.next() as i32);
            let mut r = rect_in(&mut rng, s.width(), s.height());
            if encoding == enc::TIGHT && rng.one_in(2) && s.width() >= 8 && s.height() >= 8 {
                r = Rect::new(0, 0, 8, 8);
            }
            if encoding == enc::DESKTOP_SIZE || encoding == enc::EXT_DESKTOP_SIZE {
                let sizes = [0, 1, 2, 40, 77, 100, 8193, 65535];
                r.w = sizes[rng.below(sizes.len())];
                r.h = sizes[rng.below(sizes.len())];
            }
            let mut p = if rng.one_in(8) {
                let n = rng.small(600);
                rng.bytes(n)
            } else {
                let dims = (s.width(), s.height());
                payload(&mut rng, encoding, r, dims, &mut srv, &jpeg8)
            };
            if rng.one_in(2) {
                mutate(&mut rng, &mut p);
            }
            let mut src = &p[..];
            let res = d.decode(&mut src, encoding, r, &mut s);
            if std::env::var_os("FUZZ_VERBOSE").is_some() {
                eprintln!("{encoding} {r:?} {} bytes: {res:?}", p.len());
            }
            if let Some(o) = outcomes.get_mut(k) {
                if res.is_ok() { o.0 += 1 } else { o.1 += 1 }
            }
            assert!(s.width() <= MAX_DIM && s.height() <= MAX_DIM);
            assert!(s.width() as usize * s.height() as usize <= MAX_PIXELS);
            assert!(s.width() >= 1 && s.height() >= 1);
            assert_eq!(
                s.fb.data().len(),
                s.width() as usize * s.height() as usize * 4
            );
            if res.is_err() {
                break;
            }
        }
    }
    for (e, (okays, errs)) in ENCODINGS.iter().zip(outcomes) {
        assert!(okays > 20, "encoding {e}: only {okays} successful decodes");
        if ![enc::POINTER_POS, enc::LAST_RECT].contains(e) {
            assert!(errs > 20, "encoding {e}: only {errs} failed decodes");
        }
    }
}
