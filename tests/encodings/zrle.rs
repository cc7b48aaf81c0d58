//! ZRLE: every subencoding, partial edge tiles, and the one zlib stream that
//! lasts the whole session.

use flate2::{Compress, Compression, FlushCompress};
use vncmon::rfb::enc;
use vncmon::rfb::encodings::Decoders;
use vncmon::screen::Rect;

use crate::{assert_rect, is_protocol, ok, px, run, screen};

/// The server side of the session's zlib stream.
pub struct Deflater(Compress);

impl Deflater {
    pub fn new() -> Deflater {
        Deflater(Compress::new(Compression::default(), true))
    }
    pub fn with(level: Compression) -> Deflater {
        Deflater(Compress::new(level, true))
    }
    /// Compresses and sync-flushes, as a server does at the end of a rectangle.
    pub fn pack(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() * 2 + 64);
        self.0
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }
    /// A ZRLE payload: u32 length and the zlib data.
    pub fn zrle(&mut self, tiles: &[u8]) -> Vec<u8> {
        let z = self.pack(tiles);
        let mut p = (z.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(&z);
        p
    }
}

/// A CPIXEL: the low three bytes of the little-endian pixel, B, G, R.
fn cpix(p: [u8; 4]) -> [u8; 3] {
    [p[0], p[1], p[2]]
}

const RED: [u8; 4] = [0, 0, 255, 0];
const GREEN: [u8; 4] = [0, 255, 0, 0];
const BLUE: [u8; 4] = [255, 0, 0, 0];
const GREY: [u8; 4] = [99, 99, 99, 0];

fn pattern(x: u16, y: u16) -> [u8; 4] {
    px(x as u8, (y * 2) as u8, (x ^ y) as u8)
}

/// Packs palette indices, `bits` per pixel, rows padded to bytes.
fn pack_rows(w: usize, h: usize, bits: usize, idx: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..h {
        let mut row = vec![0u8; (w * bits).div_ceil(8)];
        for x in 0..w {
            let shift = 8 - bits - (x * bits) % 8;
            row[x * bits / 8] |= idx(x, y) << shift;
        }
        out.extend_from_slice(&row);
    }
    out
}

#[test]
fn raw_solid_palette1_and_plain_rle_with_edge_tiles() {
    let mut d = Decoders::new();
    let mut s = screen(80, 100);
    // 70x66: tiles 64x64 raw, 6x64 solid, 64x2 two-colour palette, 6x2 plain RLE.
    let r = Rect::new(1, 18, 70, 66);
    let mut t = vec![0];
    for y in 0..64 {
        for x in 0..64 {
            t.extend_from_slice(&cpix(pattern(x, y)));
        }
    }
    t.push(1);
    t.extend_from_slice(&cpix(GREY));
    t.push(2);
    t.extend_from_slice(&cpix(RED));
    t.extend_from_slice(&cpix(GREEN));
    t.extend_from_slice(&pack_rows(64, 2, 1, |x, y| ((x + y) % 3 == 0) as u8));
    // Plain RLE over 12 pixels: 5 blue (crossing no row), 7 red (crossing into row 2).
    t.push(128);
    t.extend_from_slice(&cpix(BLUE));
    t.push(4);
    t.extend_from_slice(&cpix(RED));
    t.push(6);
    let mut z = Deflater::new();
    ok(&mut d, &mut s, enc::ZRLE, r, &z.zrle(&t));
    assert_rect(&s, r, |x, y| match (x, y) {
        (0..=63, 0..=63) => pattern(x, y),
        (64.., 0..=63) => GREY,
        (0..=63, _) if (x + y - 64) % 3 == 0 => GREEN,
        (0..=63, _) => RED,
        _ if (x - 64) + (y - 64) * 6 < 5 => BLUE,
        _ => RED,
    });
    assert_eq!(
        s.fb.take_dirty(),
        vec![false, true, true, true, true, true, false]
    );

    // The second rectangle continues the same zlib stream (no new zlib header).
    let r2 = Rect::new(0, 0, 7, 3);
    let mut t2 = vec![3];
    for c in [RED, GREEN, BLUE] {
        t2.extend_from_slice(&cpix(c));
    }
    t2.extend_from_slice(&pack_rows(7, 3, 2, |x, y| ((x + y) % 3) as u8));
    let p2 = z.zrle(&t2);
    ok(&mut d, &mut s, enc::ZRLE, r2, &p2);
    let pal3 = [RED, GREEN, BLUE];
    for y in 0..3 {
        for x in 0..7 {
            assert_eq!(s.fb.pixel(x, y), pal3[(x as usize + y as usize) % 3]);
        }
    }
    // A decoder that missed the first rectangle cannot read the second.
    let mut fresh = Decoders::new();
    assert!(is_protocol(run(&mut fresh, &mut s, enc::ZRLE, r2, &p2)));
}

#[test]
fn palette_4bit_and_palette_rle() {
    let mut d = Decoders::new();
    let mut s = screen(30, 30);
    let mut z = Deflater::new();
    let pal: Vec<[u8; 4]> = (0..16).map(|i| px(i * 10, 255 - i, i)).collect();

    // 4-bit packed palette, odd width so rows end in a half byte.
    let r = Rect::new(2, 2, 5, 4);
    let mut t = vec![16];
    for c in &pal {
        t.extend_from_slice(&cpix(*c));
    }
    t.extend_from_slice(&pack_rows(5, 4, 4, |x, y| (x * 3 + y) as u8 % 16));
    ok(&mut d, &mut s, enc::ZRLE, r, &z.zrle(&t));
    for y in 0..4u16 {
        for x in 0..5u16 {
            assert_eq!(
                s.fb.pixel(2 + x, 2 + y),
                pal[(x as usize * 3 + y as usize) % 16]
            );
        }
    }

    // Palette RLE on a 20x20 tile: a run of 300 (two length bytes), a single
    // pixel, then a run of 99.
    let r = Rect::new(5, 6, 20, 20);
    let mut t = vec![128 + 3];
    for c in [RED, GREEN, BLUE] {
        t.extend_from_slice(&cpix(c));
    }
    t.extend_from_slice(&[0x80 | 2, 255, 44, 1, 0x80, 98]);
    let mut s = screen(30, 30);
    ok(&mut d, &mut s, enc::ZRLE, r, &z.zrle(&t));
    assert_rect(&s, r, |x, y| match x as usize + 20 * y as usize {
        0..300 => BLUE,
        300 => GREEN,
        _ => RED,
    });
}

#[test]
fn malformed_zrle_is_a_protocol_error() {
    let tile = |t: &[u8], r: Rect| {
        let mut d = Decoders::new();
        let mut s = screen(64, 64);
        run(&mut d, &mut s, enc::ZRLE, r, &Deflater::new().zrle(t))
    };
    let r = Rect::new(0, 0, 2, 2);
    // Valid: a solid tile.
    assert!(tile(&[1, 1, 2, 3], r).is_ok());
    // Inflates to more than the rectangle.
    assert!(is_protocol(tile(&[1, 1, 2, 3, 0], r)));
    // Inflates to less.
    assert!(is_protocol(tile(&[1, 1, 2], r)));
    // Invalid subencodings.
    for sub in [17u8, 127, 129] {
        assert!(
            is_protocol(tile(&[sub, 0, 0, 0, 0, 0, 0, 0, 0], r)),
            "{sub}"
        );
    }
    // A run past the tile, and a palette index past the palette.
    assert!(is_protocol(tile(&[128, 1, 2, 3, 4], r)));
    assert!(is_protocol(tile(&[130, 1, 1, 1, 2, 2, 2, 0x85, 2], r)));
    assert!(is_protocol(tile(
        &[3, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0b1100_0000, 0],
        r
    )));
    // Corrupt zlib data.
    let mut d = Decoders::new();
    let mut s = screen(8, 8);
    let bad = [0, 0, 0, 6, 0x78, 0x9c, 0xff, 0xff, 0xff, 0xff];
    assert!(is_protocol(run(&mut d, &mut s, enc::ZRLE, r, &bad)));
    // A length no valid 2x2 rectangle needs.
    let huge = [0x7f, 0xff, 0xff, 0xff];
    assert!(is_protocol(run(&mut d, &mut s, enc::ZRLE, r, &huge)));
}
