//! The server side of each encoding, enough to send a whole desktop the way
//! common servers do: one full-screen Raw, Hextile or ZRLE rectangle, or
//! Tight strips (TigerVNC's split: at most 65536 pixels and 2048 columns per
//! rectangle) with basic zlib compression or JPEG. Each encoder picks the
//! cheapest subencoding per tile or strip, as libvncserver and TigerVNC do.

use std::collections::HashMap;
use std::ops::Range;

use flate2::{Compress, Compression, FlushCompress};
use jpeg_encoder::{ColorType, Encoder};
use vncmon::rfb::enc;
use vncmon::screen::{BPP, Rect};

/// One framebuffer update as it comes off the socket after the message
/// header: the rectangles in order and their payloads back to back.
pub struct Update {
    pub rects: Vec<(i32, Rect)>,
    pub bytes: Vec<u8>,
    /// Each zlib chunk: its stream, where it is in `bytes`, how long it inflates to.
    pub zlib: Vec<(usize, Range<usize>, usize)>,
    /// Each Tight-JPEG image: its rectangle and where it is in `bytes`.
    pub jpegs: Vec<(Rect, Range<usize>)>,
}

impl Update {
    fn new() -> Update {
        Update {
            rects: Vec::new(),
            bytes: Vec::new(),
            zlib: Vec::new(),
            jpegs: Vec::new(),
        }
    }

    /// Compresses `data` on `z` with a sync flush (as a server ends a
    /// rectangle) and appends it, recording the chunk.
    fn zlib(&mut self, stream: usize, z: &mut Compress, data: &[u8]) -> Range<usize> {
        let mut c = Vec::with_capacity(data.len() + data.len() / 8 + 64);
        z.compress_vec(data, &mut c, FlushCompress::Sync)
            .expect("deflate into a large enough buffer");
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&c);
        let range = start..self.bytes.len();
        self.zlib.push((stream, range.clone(), data.len()));
        range
    }
}

/// A BGRX frame, `w` pixels wide.
pub struct Frame<'a> {
    pub data: &'a [u8],
    pub w: u16,
    pub h: u16,
}

impl Frame<'_> {
    /// The pixels of `r`, row by row, as little-endian u32 (B, G, R, X).
    fn pixels(&self, r: Rect, out: &mut Vec<u32>) {
        out.clear();
        let stride = self.w as usize * BPP;
        for y in r.y as usize..r.bottom() as usize {
            let row = &self.data[y * stride + r.x as usize * BPP..][..r.w as usize * BPP];
            out.extend(
                row.chunks_exact(BPP)
                    .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
            );
        }
    }

    fn full(&self) -> Rect {
        Rect::new(0, 0, self.w, self.h)
    }
}

/// Tiles (or strips) of at most `tw`×`th` covering `r`, row by row.
fn tiles(r: Rect, tw: u16, th: u16) -> impl Iterator<Item = Rect> {
    (0..r.h).step_by(th as usize).flat_map(move |y| {
        (0..r.w)
            .step_by(tw as usize)
            .map(move |x| Rect::new(r.x + x, r.y + y, tw.min(r.w - x), th.min(r.h - y)))
    })
}

/// The distinct colours of `px` in first-seen order, or `None` past `max`.
fn palette(px: &[u32], max: usize) -> Option<Vec<u32>> {
    let mut pal: Vec<u32> = Vec::new();
    for &p in px {
        if !pal.contains(&p) {
            if pal.len() == max {
                return None;
            }
            pal.push(p);
        }
    }
    Some(pal)
}

pub fn raw(f: &Frame) -> Update {
    let mut u = Update::new();
    u.rects.push((enc::RAW, f.full()));
    u.bytes.extend_from_slice(f.data);
    u
}

pub fn hextile(f: &Frame) -> Update {
    const RAW: u8 = 1;
    const BACKGROUND: u8 = 2;
    const FOREGROUND: u8 = 4;
    const ANY_SUBRECTS: u8 = 8;
    const COLOURED: u8 = 16;
    let mut u = Update::new();
    u.rects.push((enc::HEXTILE, f.full()));
    let out = &mut u.bytes;
    // The colours the client carries over from the previous tile.
    let (mut bg, mut fg) = (None, None);
    let mut px = Vec::new();
    for t in tiles(f.full(), 16, 16) {
        f.pixels(t, &mut px);
        let colours = palette(&px, 3).map_or(3, |p| p.len());
        let tile_bg = most_common(&px);
        let mut mask = 0;
        let mut head = Vec::new();
        if bg != Some(tile_bg) {
            mask |= BACKGROUND;
            head.extend_from_slice(&tile_bg.to_le_bytes());
        }
        if colours == 1 {
            out.push(mask);
            out.extend_from_slice(&head);
            bg = Some(tile_bg);
            continue;
        }
        let subs = subrects(&px, t.w as usize, t.h as usize, tile_bg);
        let mono = colours == 2;
        let mut body = vec![subs.len().min(255) as u8];
        mask |= ANY_SUBRECTS;
        if mono {
            let c = subs[0].0;
            if fg != Some(c) {
                mask |= FOREGROUND;
                head.extend_from_slice(&c.to_le_bytes());
            }
        } else {
            mask |= COLOURED;
        }
        for &(c, x, y, w, h) in &subs {
            if !mono {
                body.extend_from_slice(&c.to_le_bytes());
            }
            body.push(((x as u8) << 4) | y as u8);
            body.push((((w - 1) as u8) << 4) | (h - 1) as u8);
        }
        let raw_len = px.len() * BPP;
        if subs.len() > 255 || head.len() + body.len() >= raw_len {
            out.push(RAW);
            px.iter()
                .for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
            // libvncserver resends both colours after a raw tile.
            (bg, fg) = (None, None);
            continue;
        }
        out.push(mask);
        out.extend_from_slice(&head);
        out.extend_from_slice(&body);
        bg = Some(tile_bg);
        fg = if mono { Some(subs[0].0) } else { None };
    }
    u
}

fn most_common(px: &[u32]) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &p in px {
        *counts.entry(p).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(p, n)| (n, p))
        .map_or(0, |(p, _)| p)
}

/// Greedy subrectangles of the non-background pixels: from each uncovered
/// pixel, run right while the colour holds, then down while the whole run does.
fn subrects(px: &[u32], tw: usize, th: usize, bg: u32) -> Vec<(u32, usize, usize, usize, usize)> {
    let mut done = vec![false; px.len()];
    let mut out = Vec::new();
    for y in 0..th {
        for x in 0..tw {
            let c = px[y * tw + x];
            if c == bg || done[y * tw + x] {
                continue;
            }
            let free = |xx: usize, yy: usize| px[yy * tw + xx] == c && !done[yy * tw + xx];
            let mut w = 1;
            while x + w < tw && free(x + w, y) {
                w += 1;
            }
            let mut h = 1;
            while y + h < th && (x..x + w).all(|xx| free(xx, y + h)) {
                h += 1;
            }
            for yy in y..y + h {
                done[yy * tw + x..yy * tw + x + w].fill(true);
            }
            out.push((c, x, y, w, h));
        }
    }
    out
}

/// Bytes of a ZRLE run length: `run - 1` as 255s and a final byte < 255.
fn run_bytes(run: usize) -> usize {
    (run - 1) / 255 + 1
}

fn push_run(out: &mut Vec<u8>, run: usize) {
    let mut left = run - 1;
    while left >= 255 {
        out.push(255);
        left -= 255;
    }
    out.push(left as u8);
}

/// B, G, R: the low three bytes of the pixel.
fn cpixel(p: u32) -> [u8; 3] {
    let b = p.to_le_bytes();
    [b[0], b[1], b[2]]
}

pub fn zrle(f: &Frame) -> Update {
    let mut data = Vec::new();
    let mut px = Vec::new();
    for t in tiles(f.full(), 64, 64) {
        f.pixels(t, &mut px);
        zrle_tile(&px, t.w as usize, t.h as usize, &mut data);
    }
    let mut u = Update::new();
    u.rects.push((enc::ZRLE, f.full()));
    u.bytes.extend_from_slice(&[0; 4]);
    let mut z = Compress::new(Compression::default(), true);
    let range = u.zlib(0, &mut z, &data);
    u.bytes[..4].copy_from_slice(&(range.len() as u32).to_be_bytes());
    u
}

/// One tile in the smallest of: solid, packed palette, palette RLE, plain RLE, raw.
fn zrle_tile(px: &[u32], tw: usize, th: usize, out: &mut Vec<u8>) {
    let pal = palette(px, 127);
    let mut runs: Vec<(u32, usize)> = Vec::new();
    for &p in px {
        match runs.last_mut() {
            Some((c, n)) if *c == p => *n += 1,
            _ => runs.push((p, 1)),
        }
    }
    if let Some([c]) = pal.as_deref() {
        out.push(1);
        out.extend_from_slice(&cpixel(*c));
        return;
    }
    let raw = px.len() * 3;
    let plain: usize = runs.iter().map(|&(_, n)| 3 + run_bytes(n)).sum();
    let (mut packed, mut palette_rle) = (usize::MAX, usize::MAX);
    let mut bits = 0;
    if let Some(pal) = &pal {
        let n = pal.len();
        palette_rle = n * 3
            + runs
                .iter()
                .map(|&(_, r)| if r == 1 { 1 } else { 1 + run_bytes(r) })
                .sum::<usize>();
        if n <= 16 {
            bits = match n {
                2 => 1,
                3 | 4 => 2,
                _ => 4,
            };
            packed = n * 3 + th * (tw * bits).div_ceil(8);
        }
    }
    let best = raw.min(plain).min(packed).min(palette_rle);
    let index = |p: u32| -> u8 {
        let pal = pal.as_deref().unwrap_or_default();
        pal.iter().position(|&c| c == p).unwrap_or_default() as u8
    };
    let put_palette = |out: &mut Vec<u8>| {
        for &c in pal.as_deref().unwrap_or_default() {
            out.extend_from_slice(&cpixel(c));
        }
    };
    if best == packed {
        out.push(pal.as_ref().map_or(0, |p| p.len()) as u8);
        put_palette(out);
        for row in px.chunks_exact(tw) {
            let mut packed_row = vec![0u8; (tw * bits).div_ceil(8)];
            for (x, &p) in row.iter().enumerate() {
                packed_row[x * bits / 8] |= index(p) << (8 - bits - (x * bits) % 8);
            }
            out.extend_from_slice(&packed_row);
        }
    } else if best == palette_rle {
        out.push(128 + pal.as_ref().map_or(0, |p| p.len()) as u8);
        put_palette(out);
        for &(p, n) in &runs {
            if n == 1 {
                out.push(index(p));
            } else {
                out.push(index(p) | 0x80);
                push_run(out, n);
            }
        }
    } else if best == plain {
        out.push(128);
        for &(p, n) in &runs {
            out.extend_from_slice(&cpixel(p));
            push_run(out, n);
        }
    } else {
        out.push(0);
        px.iter().for_each(|&p| out.extend_from_slice(&cpixel(p)));
    }
}

/// A Tight compact length: 7 bits per byte, least significant first.
fn compact(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=127 => out.push(len as u8),
        128..=16383 => out.extend_from_slice(&[0x80 | (len & 0x7f) as u8, (len >> 7) as u8]),
        _ => out.extend_from_slice(&[
            0x80 | (len & 0x7f) as u8,
            0x80 | ((len >> 7) & 0x7f) as u8,
            (len >> 14) as u8,
        ]),
    }
}

/// R, G, B.
fn tpixel(p: u32) -> [u8; 3] {
    let b = p.to_le_bytes();
    [b[2], b[1], b[0]]
}

/// Tight strips: solid ones as fills, up to 16 colours as a palette, the
/// rest in full colour (zlib, or JPEG at `jpeg_quality`). The first
/// rectangle resets all four zlib streams, so the update decodes on its own
/// with a long-lived `Decoders`, as many times as the bench likes.
pub fn tight(f: &Frame, jpeg_quality: Option<u8>) -> Update {
    let mut u = Update::new();
    let mut z: [Compress; 4] = std::array::from_fn(|_| Compress::new(Compression::default(), true));
    let mut px = Vec::new();
    let strip_w = f.w.min(2048);
    let strip_h = (65536 / strip_w as usize).clamp(1, f.h as usize) as u16;
    for (i, t) in tiles(f.full(), strip_w, strip_h).enumerate() {
        u.rects.push((enc::TIGHT, t));
        let reset = if i == 0 { 0x0f } else { 0 };
        f.pixels(t, &mut px);
        let pal = palette(&px, 16);
        let (stream, data) = match (pal.as_deref(), jpeg_quality) {
            (Some([c]), _) => {
                u.bytes.push(0x80 | reset);
                u.bytes.extend_from_slice(&tpixel(*c));
                continue;
            }
            (Some(pal), _) => {
                let stream = if pal.len() == 2 { 1 } else { 2 };
                u.bytes.push(((4 | stream) << 4) | reset);
                u.bytes.push(1); // palette filter
                u.bytes.push(pal.len() as u8 - 1);
                pal.iter()
                    .for_each(|&c| u.bytes.extend_from_slice(&tpixel(c)));
                let index = |p: u32| pal.iter().position(|&c| c == p).unwrap_or_default() as u8;
                let mut data = Vec::new();
                for row in px.chunks_exact(t.w as usize) {
                    if pal.len() == 2 {
                        let mut bits = vec![0u8; row.len().div_ceil(8)];
                        for (x, &p) in row.iter().enumerate() {
                            bits[x / 8] |= index(p) << (7 - x % 8);
                        }
                        data.extend_from_slice(&bits);
                    } else {
                        data.extend(row.iter().map(|&p| index(p)));
                    }
                }
                (stream as usize, data)
            }
            (None, Some(q)) => {
                let mut jpeg = Vec::new();
                let bgrx: Vec<u8> = px.iter().flat_map(|p| p.to_le_bytes()).collect();
                Encoder::new(&mut jpeg, q)
                    .encode(&bgrx, t.w, t.h, ColorType::Bgra)
                    .expect("JPEG encode");
                u.bytes.push(0x90 | reset);
                compact(&mut u.bytes, jpeg.len());
                let start = u.bytes.len();
                u.bytes.extend_from_slice(&jpeg);
                u.jpegs.push((t, start..u.bytes.len()));
                continue;
            }
            (None, None) => {
                u.bytes.push(reset); // stream 0, copy filter
                (0, px.iter().flat_map(|&p| tpixel(p)).collect())
            }
        };
        if data.len() < 12 {
            u.bytes.extend_from_slice(&data);
            continue;
        }
        // The compact length comes first: compress aside, then splice it in.
        let at = u.bytes.len();
        let range = u.zlib(stream, &mut z[stream], &data);
        let mut len = Vec::new();
        compact(&mut len, range.len());
        u.bytes.splice(at..at, len.iter().copied());
        if let Some(last) = u.zlib.last_mut() {
            last.1 = range.start + len.len()..range.end + len.len();
        }
    }
    u
}
