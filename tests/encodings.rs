//! Rectangle decoders: hand-built payloads for every encoding, checked pixel
//! by pixel, and a seeded robustness run over random and mutated payloads.

#[path = "encodings/fuzz.rs"]
mod fuzz;
mod rng;
#[path = "encodings/tight.rs"]
mod tight;
#[path = "encodings/zrle.rs"]
mod zrle;

use vncmon::rfb::encodings::{Decoders, RectResult};
use vncmon::rfb::{RfbError, enc};
use vncmon::screen::{Rect, Screen};

/// A BGRX pixel with the X byte zero (what 3-byte pixels expand to).
pub fn px(b: u8, g: u8, r: u8) -> [u8; 4] {
    [b, g, r, 0]
}

/// A screen with every band clean, so tests can see what a decode marks.
pub fn screen(w: u16, h: u16) -> Screen {
    let mut s = Screen::new(w, h);
    s.fb.take_dirty();
    s
}

/// Decodes one rectangle; a successful decode must consume the whole payload.
pub fn run(
    d: &mut Decoders,
    s: &mut Screen,
    encoding: i32,
    rect: Rect,
    payload: &[u8],
) -> Result<RectResult, RfbError> {
    let mut src = payload;
    let res = d.decode(&mut src, encoding, rect, s);
    if res.is_ok() {
        assert!(src.is_empty(), "{} payload bytes left unread", src.len());
    }
    res
}

/// Decodes one rectangle that must succeed.
pub fn ok(d: &mut Decoders, s: &mut Screen, encoding: i32, rect: Rect, payload: &[u8]) {
    match run(d, s, encoding, rect, payload) {
        Ok(RectResult::Done) => {}
        other => panic!("expected Done, got {other:?}"),
    }
}

pub fn is_protocol<T: std::fmt::Debug>(r: Result<T, RfbError>) -> bool {
    matches!(r, Err(RfbError::Protocol(_)))
}

/// The pixel at (x, y), X byte included.
pub fn at(s: &Screen, x: u16, y: u16) -> [u8; 4] {
    s.fb.pixel(x, y)
}

/// Asserts that `rect` holds `expect(x, y)` (relative coordinates) and that
/// every pixel outside it is still black.
pub fn assert_rect(s: &Screen, rect: Rect, expect: impl Fn(u16, u16) -> [u8; 4]) {
    for y in 0..s.height() {
        for x in 0..s.width() {
            let inside = x >= rect.x
                && y >= rect.y
                && (x as u32) < rect.right()
                && (y as u32) < rect.bottom();
            let want = if inside {
                expect(x - rect.x, y - rect.y)
            } else {
                [0; 4]
            };
            assert_eq!(at(s, x, y), want, "pixel {x},{y}");
        }
    }
}

/// Raw BGRX bytes for `w * h` pixels from `f(x, y)`.
pub fn raw_pixels(w: u16, h: u16, f: impl Fn(u16, u16) -> [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&f(x, y));
        }
    }
    v
}

fn pattern(x: u16, y: u16) -> [u8; 4] {
    [x as u8, y as u8, (x * 3 + y) as u8, 0]
}

#[test]
fn raw_writes_pixels_and_marks_bands() {
    let mut d = Decoders::new();
    let mut s = screen(40, 48);
    let r = Rect::new(3, 17, 5, 4);
    ok(&mut d, &mut s, enc::RAW, r, &raw_pixels(5, 4, pattern));
    assert_rect(&s, r, pattern);
    assert_eq!(s.fb.take_dirty(), vec![false, true, false]);
}

#[test]
fn raw_outside_the_framebuffer_is_refused_before_reading() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let payload = raw_pixels(4, 4, pattern);
    let mut src = &payload[..];
    let r = d.decode(&mut src, enc::RAW, Rect::new(8, 8, 4, 4), &mut s);
    assert!(is_protocol(r));
    assert_eq!(src.len(), payload.len(), "nothing read");
    let r = d.decode(
        &mut src,
        enc::RAW,
        Rect::new(65535, 65535, 65535, 65535),
        &mut s,
    );
    assert!(is_protocol(r));
    assert!(!s.fb.any_dirty());
}

#[test]
fn raw_truncated_is_an_io_error() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let r = run(&mut d, &mut s, enc::RAW, Rect::new(0, 0, 2, 2), &[1; 15]);
    assert!(matches!(r, Err(RfbError::Io(_))));
}

#[test]
fn copy_rect_overlapping() {
    let mut d = Decoders::new();
    let mut s = screen(8, 8);
    let full = Rect::new(0, 0, 8, 8);
    ok(&mut d, &mut s, enc::RAW, full, &raw_pixels(8, 8, pattern));
    s.fb.take_dirty();
    // Move the 6x6 block at (0,0) one pixel right and down, onto itself.
    ok(
        &mut d,
        &mut s,
        enc::COPYRECT,
        Rect::new(1, 1, 6, 6),
        &[0, 0, 0, 0],
    );
    for y in 0..8 {
        for x in 0..8 {
            let want = if (1..7).contains(&x) && (1..7).contains(&y) {
                pattern(x - 1, y - 1)
            } else {
                pattern(x, y)
            };
            assert_eq!(at(&s, x, y), want, "pixel {x},{y}");
        }
    }
    assert_eq!(s.fb.take_dirty(), vec![true]);
    // And back up-left.
    ok(
        &mut d,
        &mut s,
        enc::COPYRECT,
        Rect::new(0, 0, 6, 6),
        &[0, 1, 0, 1],
    );
    assert_eq!(at(&s, 0, 0), pattern(0, 0));
    assert_eq!(at(&s, 5, 5), pattern(5, 5));
    // A source outside the framebuffer is refused.
    let r = run(
        &mut d,
        &mut s,
        enc::COPYRECT,
        Rect::new(0, 0, 4, 4),
        &[0, 6, 0, 0],
    );
    assert!(is_protocol(r));
}

#[test]
fn desktop_size_resizes_after_checking() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    ok(
        &mut d,
        &mut s,
        enc::RAW,
        Rect::new(0, 0, 1, 1),
        &[9, 9, 9, 0],
    );
    // Same size: no change, pixels kept.
    ok(
        &mut d,
        &mut s,
        enc::DESKTOP_SIZE,
        Rect::new(0, 0, 10, 10),
        &[],
    );
    assert_eq!(at(&s, 0, 0), [9, 9, 9, 0]);
    ok(
        &mut d,
        &mut s,
        enc::DESKTOP_SIZE,
        Rect::new(5, 5, 30, 20),
        &[],
    );
    assert_eq!((s.width(), s.height()), (30, 20));
    assert_eq!(at(&s, 0, 0), [0; 4]);
    assert!(s.fb.any_dirty());
    for bad in [
        Rect::new(0, 0, 0, 10),
        Rect::new(0, 0, 8193, 10),
        Rect::new(0, 0, 10, 65535),
    ] {
        assert!(is_protocol(run(
            &mut d,
            &mut s,
            enc::DESKTOP_SIZE,
            bad,
            &[]
        )));
        assert_eq!((s.width(), s.height()), (30, 20));
    }
}

#[test]
fn ext_desktop_size_resizes_only_on_success() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let mut payload = vec![2, 0, 0, 0];
    payload.extend_from_slice(&[7; 32]);
    // Reason 1 (this client), status 3 (invalid layout): no resize.
    ok(
        &mut d,
        &mut s,
        enc::EXT_DESKTOP_SIZE,
        Rect::new(1, 3, 50, 40),
        &payload,
    );
    assert_eq!((s.width(), s.height()), (10, 10));
    ok(
        &mut d,
        &mut s,
        enc::EXT_DESKTOP_SIZE,
        Rect::new(0, 0, 50, 40),
        &payload,
    );
    assert_eq!((s.width(), s.height()), (50, 40));
    // A truncated screen list is an I/O error.
    let r = run(
        &mut d,
        &mut s,
        enc::EXT_DESKTOP_SIZE,
        Rect::new(0, 0, 5, 5),
        &payload[..20],
    );
    assert!(matches!(r, Err(RfbError::Io(_))));
    let r = run(
        &mut d,
        &mut s,
        enc::EXT_DESKTOP_SIZE,
        Rect::new(0, 0, 9000, 5),
        &payload,
    );
    assert!(is_protocol(r));
}

#[test]
fn last_rect_pointer_pos_and_unknown() {
    let mut d = Decoders::new();
    let mut s = screen(100, 100);
    let r = run(&mut d, &mut s, enc::LAST_RECT, Rect::default(), &[]);
    assert_eq!(r.unwrap(), RectResult::LastRect);
    ok(
        &mut d,
        &mut s,
        enc::POINTER_POS,
        Rect::new(12, 34, 0, 0),
        &[],
    );
    assert_eq!(s.cursor_pos(), Some((12, 34)));
    let r = run(&mut d, &mut s, 6, Rect::new(0, 0, 1, 1), &[]);
    match r {
        Err(RfbError::Protocol(m)) => assert!(m.contains("unsupported encoding 6"), "{m}"),
        other => panic!("{other:?}"),
    }
}

const A: [u8; 4] = [10, 20, 30, 0];
const B: [u8; 4] = [40, 50, 60, 0];
const C: [u8; 4] = [70, 80, 90, 0];

#[test]
fn rre_background_and_subrects() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let r = Rect::new(1, 1, 6, 5);
    let mut p = vec![0, 0, 0, 2];
    p.extend_from_slice(&A);
    p.extend_from_slice(&B);
    p.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1]);
    p.extend_from_slice(&C);
    p.extend_from_slice(&[0, 3, 0, 2, 0, 3, 0, 3]);
    ok(&mut d, &mut s, enc::RRE, r, &p);
    assert_rect(&s, r, |x, y| match (x, y) {
        (0..=1, 0) => B,
        (3..=5, 2..=4) => C,
        _ => A,
    });
    // A subrectangle past the rectangle's right edge.
    let mut bad = p.clone();
    bad[29] = 4;
    assert!(is_protocol(run(&mut d, &mut s, enc::RRE, r, &bad)));
    // More subrectangles than pixels.
    let mut bad = p.clone();
    bad[3] = 31;
    assert!(is_protocol(run(&mut d, &mut s, enc::RRE, r, &bad)));
    // Whole-rectangle subrectangles: four coats are accepted, a fifth is refused.
    let coats = |n: u8| {
        let mut p = vec![0, 0, 0, n];
        p.extend_from_slice(&A);
        for _ in 0..n {
            p.extend_from_slice(&C);
            p.extend_from_slice(&[0, 0, 0, 0, 0, 6, 0, 5]);
        }
        p
    };
    ok(&mut d, &mut s, enc::RRE, r, &coats(4));
    assert!(is_protocol(run(&mut d, &mut s, enc::RRE, r, &coats(5))));
}

#[test]
fn hextile_all_subencodings_with_edge_tiles() {
    let mut d = Decoders::new();
    let mut s = screen(24, 24);
    // 20x18: tiles 16x16, 4x16 (right edge), 16x2 and 4x2 (bottom edge).
    let r = Rect::new(2, 3, 20, 18);
    let mut p = Vec::new();
    // Tile 1: background, foreground, two subrects in the foreground colour.
    p.push(2 | 4 | 8);
    p.extend_from_slice(&A);
    p.extend_from_slice(&B);
    p.extend_from_slice(&[2, 0x12, 0x20, 0xff, 0x00]);
    // Tile 2: raw.
    p.push(1);
    p.extend_from_slice(&raw_pixels(4, 16, pattern));
    // Tile 3: subrects only; background A and foreground B carry over.
    p.extend_from_slice(&[8, 1, 0x00, 0x11]);
    // Tile 4: one coloured subrect, background still A.
    p.extend_from_slice(&[8 | 16, 1]);
    p.extend_from_slice(&C);
    p.extend_from_slice(&[0x31, 0x00]);
    ok(&mut d, &mut s, enc::HEXTILE, r, &p);
    assert_rect(&s, r, |x, y| match (x, y) {
        (1..=3, 2) | (15, 15) => B,
        (16.., 0..=15) => pattern(x - 16, y),
        (0..=1, 16..=17) => B,
        (19, 17) => C,
        _ => A,
    });
    assert_eq!(s.fb.take_dirty(), vec![true, true]);

    // A solid tile (background only), then a second tile with no bits: same background.
    let r2 = Rect::new(0, 0, 24, 2);
    let mut p2 = vec![2];
    p2.extend_from_slice(&C);
    p2.push(0);
    ok(&mut d, &mut s, enc::HEXTILE, r2, &p2);
    assert!((0..24).all(|x| at(&s, x, 0) == C && at(&s, x, 1) == C));

    // A subrect past the 4-pixel edge tile, and unknown subencoding bits.
    let mut bad = vec![0x20 | 2];
    bad.extend_from_slice(&A);
    assert!(is_protocol(run(
        &mut d,
        &mut s,
        enc::HEXTILE,
        Rect::new(0, 0, 4, 4),
        &bad
    )));
    let mut bad = vec![2 | 8];
    bad.extend_from_slice(&A);
    bad.extend_from_slice(&[1, 0x30, 0x10]);
    assert!(is_protocol(run(
        &mut d,
        &mut s,
        enc::HEXTILE,
        Rect::new(0, 0, 4, 4),
        &bad
    )));
}

#[test]
fn cursor_shape_hide_and_cap() {
    let mut d = Decoders::new();
    let mut s = screen(20, 20);
    let pixels = raw_pixels(3, 2, pattern);
    let mut p = pixels.clone();
    p.extend_from_slice(&[0b1010_0000, 0b0100_0000]);
    s.move_cursor(5, 5);
    s.fb.take_dirty();
    ok(&mut d, &mut s, enc::CURSOR, Rect::new(1, 0, 3, 2), &p);
    let c = s.cursor().expect("cursor set");
    assert_eq!((c.hot_x, c.hot_y, c.width, c.height), (1, 0, 3, 2));
    assert_eq!(c.pixels, pixels);
    assert!(c.opaque(0, 0) && !c.opaque(1, 0) && c.opaque(2, 0) && c.opaque(1, 1));
    assert!(s.fb.any_dirty(), "a new cursor repaints its bands");

    ok(&mut d, &mut s, enc::CURSOR, Rect::new(0, 0, 0, 0), &[]);
    assert!(s.cursor().is_none());

    let r = run(
        &mut d,
        &mut s,
        enc::CURSOR,
        Rect::new(0, 0, 513, 1),
        &[0; 4096],
    );
    assert!(is_protocol(r));
    let r = run(&mut d, &mut s, enc::CURSOR, Rect::new(0, 0, 3, 2), &pixels);
    assert!(matches!(r, Err(RfbError::Io(_))), "mask missing");
}
