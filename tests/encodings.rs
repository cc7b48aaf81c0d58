//! Rectangle decoders: hand-built payloads for every encoding, checked pixel
//! by pixel, and a seeded robustness run over random and mutated payloads.

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
    assert_eq!(s.cursor_pos(), (12, 34));
    let r = run(&mut d, &mut s, 6, Rect::new(0, 0, 1, 1), &[]);
    match r {
        Err(RfbError::Protocol(m)) => assert!(m.contains("unsupported encoding 6"), "{m}"),
        other => panic!("{other:?}"),
    }
}
