//! Tight: fill, JPEG, basic compression with each filter, compact lengths,
//! the four zlib streams and their reset bits, short uncompressed data.

use flate2::Compression;
use vncmon::rfb::enc;
use vncmon::rfb::encodings::Decoders;
use vncmon::screen::Rect;

use crate::zrle::Deflater;
use crate::{assert_rect, is_protocol, ok, px, run, screen};

/// The compact length: 7 bits per byte, least significant first.
pub fn compact(len: usize) -> Vec<u8> {
    match len {
        0..=127 => vec![len as u8],
        128..=16383 => vec![0x80 | (len & 0x7f) as u8, (len >> 7) as u8],
        _ => vec![
            0x80 | (len & 0x7f) as u8,
            0x80 | ((len >> 7) & 0x7f) as u8,
            (len >> 14) as u8,
        ],
    }
}

/// `head` then the filtered `data`, compressed on `z` unless it is under 12 bytes.
fn basic(head: &[u8], data: &[u8], z: &mut Deflater) -> Vec<u8> {
    let mut p = head.to_vec();
    if data.len() < 12 {
        p.extend_from_slice(data);
    } else {
        let c = z.pack(data);
        p.extend_from_slice(&compact(c.len()));
        p.extend_from_slice(&c);
    }
    p
}

/// A TPIXEL: R, G, B.
fn tpix(p: [u8; 4]) -> [u8; 3] {
    [p[2], p[1], p[0]]
}

fn tpixels(w: u16, h: u16, f: impl Fn(u16, u16) -> [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&tpix(f(x, y)));
        }
    }
    v
}

/// Deterministic noise, so compressed sizes are what the tests need.
fn noise(x: u16, y: u16) -> [u8; 4] {
    let mut v = (x as u32).wrapping_mul(2_654_435_761) ^ (y as u32).wrapping_mul(40_503);
    v ^= v >> 13;
    v = v.wrapping_mul(0x5bd1_e995);
    v ^= v >> 15;
    px(v as u8, (v >> 8) as u8, (v >> 16) as u8)
}

#[test]
fn fill_uses_rgb_order() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let r = Rect::new(2, 3, 4, 5);
    ok(&mut d, &mut s, enc::TIGHT, r, &[0x80, 0x11, 0x22, 0x33]);
    assert_rect(&s, r, |_, _| px(0x33, 0x22, 0x11));
}

#[test]
fn copy_filter_compressed_and_short() {
    let mut d = Decoders::new();
    let mut s = screen(20, 20);
    let mut z0 = Deflater::new();
    // 8x4 RGB = 96 bytes: compressed, stream 0, no filter byte.
    let r = Rect::new(3, 4, 8, 4);
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&[0x00], &tpixels(8, 4, noise), &mut z0),
    );
    assert_rect(&s, r, noise);
    // 3x1 = 9 bytes: sent as is, with an explicit copy filter on stream 1.
    let mut s = screen(20, 20);
    let r = Rect::new(0, 19, 3, 1);
    let mut p = vec![0x40 | 0x10, 0];
    p.extend_from_slice(&tpixels(3, 1, noise));
    ok(&mut d, &mut s, enc::TIGHT, r, &p);
    assert_rect(&s, r, noise);
}

#[test]
fn compact_lengths_of_one_two_and_three_bytes() {
    let mut d = Decoders::new();
    let mut z = Deflater::with(Compression::none());
    for (w, h, len_bytes) in [(5u16, 4u16, 1usize), (20, 20, 2), (80, 80, 3)] {
        let mut s = screen(100, 100);
        let r = Rect::new(10, 7, w, h);
        let p = basic(&[0x00], &tpixels(w, h, noise), &mut z);
        let c_len = p.len() - 1 - len_bytes;
        assert_eq!(
            compact(c_len).len(),
            len_bytes,
            "test data has the length it claims"
        );
        ok(&mut d, &mut s, enc::TIGHT, r, &p);
        assert_rect(&s, r, noise);
    }
}

#[test]
fn palette_two_colours_one_bit_per_pixel() {
    let mut d = Decoders::new();
    let mut z = Deflater::new();
    let (a, b) = (px(1, 2, 3), px(200, 100, 50));
    let head = |stream: u8| {
        let mut h = vec![0x40 | stream << 4, 1, 1];
        h.extend_from_slice(&tpix(a));
        h.extend_from_slice(&tpix(b));
        h
    };
    let bits = |w: u16, h: u16| {
        let mut v = Vec::new();
        for y in 0..h {
            let mut row = vec![0u8; (w as usize).div_ceil(8)];
            for x in 0..w {
                if (x + y) % 3 == 0 {
                    row[x as usize / 8] |= 0x80 >> (x % 8);
                }
            }
            v.extend_from_slice(&row);
        }
        v
    };
    let expect = |x: u16, y: u16| if (x + y) % 3 == 0 { b } else { a };
    // 10x3: two bytes a row, 6 bytes in all: uncompressed.
    let mut s = screen(16, 16);
    let r = Rect::new(5, 6, 10, 3);
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&head(1), &bits(10, 3), &mut z),
    );
    assert_rect(&s, r, expect);
    // 13x9: compressed on stream 1.
    let mut s = screen(16, 16);
    let r = Rect::new(1, 2, 13, 9);
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&head(1), &bits(13, 9), &mut z),
    );
    assert_rect(&s, r, expect);
}

#[test]
fn palette_many_colours_one_byte_per_pixel() {
    let mut d = Decoders::new();
    let mut z = Deflater::new();
    let pal: Vec<[u8; 4]> = (0..200u16).map(|i| noise(i, 7)).collect();
    let mut head = vec![0x40 | 0x20, 1, 199];
    for c in &pal {
        head.extend_from_slice(&tpix(*c));
    }
    let idx = |x: u16, y: u16| ((x * 37 + y * 11) % 200) as u8;
    let data: Vec<u8> = (0..6)
        .flat_map(|y| (0..7).map(move |x| idx(x, y)))
        .collect();
    let mut s = screen(10, 10);
    let r = Rect::new(3, 2, 7, 6);
    ok(&mut d, &mut s, enc::TIGHT, r, &basic(&head, &data, &mut z));
    assert_rect(&s, r, |x, y| pal[idx(x, y) as usize]);

    // An index past the palette.
    let mut s = screen(10, 10);
    let mut bad = vec![0x40, 1, 2];
    bad.extend_from_slice(&[9; 9]);
    bad.extend_from_slice(&[0, 1, 2, 3]);
    assert!(is_protocol(run(
        &mut d,
        &mut s,
        enc::TIGHT,
        Rect::new(0, 0, 4, 1),
        &bad
    )));
}

/// The server side of the gradient filter, as the spec writes it.
fn gradient_encode(w: u16, h: u16, f: impl Fn(u16, u16) -> [u8; 4]) -> Vec<u8> {
    let v = |x: i32, y: i32, c: usize| -> i32 {
        if x < 0 || y < 0 {
            0
        } else {
            tpix(f(x as u16, y as u16))[c] as i32
        }
    };
    let mut out = Vec::new();
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            for c in 0..3 {
                let p = (v(x - 1, y, c) + v(x, y - 1, c) - v(x - 1, y - 1, c)).clamp(0, 255);
                out.push((v(x, y, c) - p) as u8);
            }
        }
    }
    out
}

#[test]
fn gradient_filter() {
    let mut d = Decoders::new();
    let mut z = Deflater::new();
    let smooth = |x: u16, y: u16| px((x * 9) as u8, (y * 7 + x) as u8, 200 - (x + y) as u8);
    for (r, f) in [
        (
            Rect::new(1, 1, 7, 5),
            &smooth as &dyn Fn(u16, u16) -> [u8; 4],
        ),
        (Rect::new(0, 3, 9, 4), &noise),
    ] {
        let mut s = screen(12, 12);
        let data = gradient_encode(r.w, r.h, f);
        ok(
            &mut d,
            &mut s,
            enc::TIGHT,
            r,
            &basic(&[0x40 | 0x30, 2], &data, &mut z),
        );
        assert_rect(&s, r, f);
    }
}

#[test]
fn streams_persist_and_reset_bits_reset_them() {
    let mut d = Decoders::new();
    let mut s = screen(20, 20);
    let r = Rect::new(0, 0, 6, 6);
    let data = tpixels(6, 6, noise);
    let mut z = Deflater::new();
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&[0x20], &data, &mut z),
    );
    // The same stream continues.
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&[0x20], &data, &mut z),
    );
    // The server restarts stream 2: without the reset bit the data is garbage ...
    let mut fresh = Deflater::new();
    let p = basic(&[0x20], &data, &mut fresh);
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r, &p)));
    // ... with it (bit 2), the stream starts over. A fill rect may carry reset bits too.
    let mut d = Decoders::new();
    ok(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &basic(&[0x20], &data, &mut Deflater::new()),
    );
    ok(&mut d, &mut s, enc::TIGHT, r, &[0x80 | 0x04, 1, 2, 3]);
    ok(&mut d, &mut s, enc::TIGHT, r, &p);
    assert_rect(&s, r, noise);
}

#[test]
fn jpeg_within_tolerance() {
    let (w, h) = (32u16, 24u16);
    let colour = |x: u16, y: u16| px((x * 6) as u8, 128, (y * 8) as u8);
    let mut rgb = Vec::new();
    for y in 0..h {
        for x in 0..w {
            rgb.extend_from_slice(&tpix(colour(x, y)));
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 95)
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let mut p = vec![0x90];
    p.extend_from_slice(&compact(jpeg.len()));
    p.extend_from_slice(&jpeg);
    let mut d = Decoders::new();
    let mut s = screen(40, 40);
    let r = Rect::new(4, 8, w, h);
    ok(&mut d, &mut s, enc::TIGHT, r, &p);
    for y in 0..h {
        for x in 0..w {
            let got = s.fb.pixel(r.x + x, r.y + y);
            let want = colour(x, y);
            for c in 0..3 {
                let diff = (got[c] as i32 - want[c] as i32).abs();
                assert!(diff <= 10, "pixel {x},{y}: {got:?} vs {want:?}");
            }
        }
    }
    assert_eq!(s.fb.pixel(3, 8), [0; 4], "outside untouched");
    // A JPEG of another size than its rectangle, and a corrupt one.
    let r2 = Rect::new(0, 0, 16, 24);
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r2, &p)));
    let mut bad = p.clone();
    let n = bad.len();
    bad[n / 2..n - 2].fill(0xff);
    let _ = run(&mut d, &mut s, enc::TIGHT, r, &bad);
    let mut junk = vec![0x90, 5];
    junk.extend_from_slice(&[1, 2, 3, 4, 5]);
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r, &junk)));
}

#[test]
fn malformed_tight_is_a_protocol_error() {
    let mut d = Decoders::new();
    let mut s = screen(10, 10);
    let r = Rect::new(0, 0, 8, 8);
    // Compression types 0xA0..0xF0 do not exist; filter 3 does not exist.
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r, &[0xa0])));
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r, &[0x40, 3])));
    // zlib data far longer than 8x8 pixels can need.
    assert!(is_protocol(run(
        &mut d,
        &mut s,
        enc::TIGHT,
        r,
        &[0x00, 0xff, 0xff, 0x7f]
    )));
    // Zlib data that inflates to less than the rectangle.
    let p = basic(&[0x00], &tpixels(8, 7, noise), &mut Deflater::new());
    assert!(is_protocol(run(&mut d, &mut s, enc::TIGHT, r, &p)));
    // A rectangle outside the framebuffer.
    assert!(is_protocol(run(
        &mut d,
        &mut s,
        enc::TIGHT,
        Rect::new(5, 5, 8, 8),
        &[0x80, 1, 2, 3]
    )));
}
