//! Tight: fill, JPEG (decoded with zune-jpeg straight to BGRA), and basic
//! compression with the copy, palette and gradient filters on four
//! persistent zlib streams. TPIXELs are 3 bytes, R, G, B. Touches only the
//! given rectangle.

use std::io::Read;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::zlib::{Bytes, SliceBytes, ZlibReader, compressed_cap};
use super::zrle::unpack;
use super::{Decoders, read_array, read_u8, rgb};
use crate::rfb::RfbError;
use crate::screen::{BPP, Framebuffer, Rect};

/// Filtered data shorter than this is sent uncompressed.
const MIN_TO_COMPRESS: usize = 12;

#[derive(Clone, Copy)]
enum Filter {
    Copy,
    /// Number of colours (1..=256).
    Palette(usize),
    Gradient,
}

pub fn tight<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    d: &mut Decoders,
) -> Result<(), RfbError> {
    let ctl = read_u8(src)?;
    for (i, z) in d.tight.iter_mut().enumerate() {
        if ctl & (1 << i) != 0 {
            z.reset(true);
        }
    }
    match ctl >> 4 {
        8 => fb.fill_rect(rect, rgb(&read_array::<3, R>(src)?))?,
        9 => jpeg(src, rect, fb, d)?,
        kind @ 0..=7 => basic(src, rect, fb, d, kind)?,
        _ => {
            return Err(RfbError::protocol(format!(
                "Tight: invalid compression control {ctl:#04x}"
            )));
        }
    }
    Ok(())
}

/// A length in 1–3 bytes, 7 bits at a time, least significant first.
fn compact_len<R: Read>(src: &mut R) -> Result<usize, RfbError> {
    let b = read_u8(src)?;
    let mut len = (b & 0x7f) as usize;
    if b & 0x80 != 0 {
        let b = read_u8(src)?;
        len |= ((b & 0x7f) as usize) << 7;
        if b & 0x80 != 0 {
            len |= (read_u8(src)? as usize) << 14;
        }
    }
    Ok(len)
}

fn basic<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    d: &mut Decoders,
    kind: u8,
) -> Result<(), RfbError> {
    let w = rect.w as usize;
    let mut pal = [[0u8; 4]; 256];
    let filter_id = if kind & 4 != 0 { read_u8(src)? } else { 0 };
    let filter = match filter_id {
        0 => Filter::Copy,
        1 => {
            let n = read_u8(src)? as usize + 1;
            let mut raw = [0u8; 256 * 3];
            src.read_exact(&mut raw[..n * 3])?;
            for (e, s) in pal.iter_mut().zip(raw[..n * 3].chunks_exact(3)) {
                *e = rgb(s);
            }
            Filter::Palette(n)
        }
        2 => Filter::Gradient,
        f => return Err(RfbError::protocol(format!("Tight: unknown filter {f}"))),
    };
    let row_len = match filter {
        Filter::Palette(2) => w.div_ceil(8),
        Filter::Palette(_) => w,
        Filter::Copy | Filter::Gradient => w * 3,
    };
    let len = row_len * rect.h as usize;
    let prev = &mut d.scratch;
    if let Filter::Gradient = filter {
        prev.clear();
        prev.resize(w * 3, 0);
    }
    if len < MIN_TO_COMPRESS {
        let mut raw = [0u8; MIN_TO_COMPRESS];
        src.read_exact(&mut raw[..len])?;
        return rows(
            &mut SliceBytes::new(&raw[..len]),
            rect,
            fb,
            filter,
            &pal,
            prev,
        );
    }
    let zlen = compact_len(src)?;
    if zlen > compressed_cap(len) {
        return Err(RfbError::protocol(format!(
            "Tight: {zlen} bytes of zlib data for {len} bytes of pixels"
        )));
    }
    let stream = &mut d.tight[(kind & 3) as usize];
    let mut z = ZlibReader::new(src, zlen, stream, &mut d.zbuf);
    rows(&mut z, rect, fb, filter, &pal, prev)?;
    z.finish()
}

/// Unfilters the rectangle row by row straight into the framebuffer.
fn rows<B: Bytes>(
    b: &mut B,
    rect: Rect,
    fb: &mut Framebuffer,
    filter: Filter,
    pal: &[[u8; 4]; 256],
    prev: &mut [u8],
) -> Result<(), RfbError> {
    let w = rect.w as usize;
    for y in rect.y..rect.y + rect.h {
        let row = fb.row_mut(rect.x, y, rect.w)?;
        match filter {
            Filter::Copy => {
                let data = b.take(w * 3)?;
                for (d, s) in row.chunks_exact_mut(BPP).zip(data.chunks_exact(3)) {
                    d.copy_from_slice(&rgb(s));
                }
            }
            Filter::Palette(2) => unpack(b.take(w.div_ceil(8))?, 1, &pal[..2], row)?,
            Filter::Palette(n) => {
                for (d, &i) in row.chunks_exact_mut(BPP).zip(b.take(w)?) {
                    if i as usize >= n {
                        return Err(RfbError::protocol(format!(
                            "Tight: palette index {i} past a {n}-colour palette"
                        )));
                    }
                    d.copy_from_slice(&pal[i as usize]);
                }
            }
            Filter::Gradient => gradient(b.take(w * 3)?, prev, row),
        }
    }
    Ok(())
}

/// Undoes the gradient filter for one row: each component is the sent
/// difference plus the prediction left + up - up-left, clamped to 0..=255.
/// `prev` holds the row above (zeros for the first row) and becomes this row.
fn gradient(diff: &[u8], prev: &mut [u8], row: &mut [u8]) {
    let mut left = [0i16; 3];
    let mut up_left = [0i16; 3];
    for ((d, up), out) in diff
        .chunks_exact(3)
        .zip(prev.chunks_exact_mut(3))
        .zip(row.chunks_exact_mut(BPP))
    {
        for c in 0..3 {
            let u = up[c] as i16;
            let p = (left[c] + u - up_left[c]).clamp(0, 255) as u8;
            let v = d[c].wrapping_add(p);
            up_left[c] = u;
            left[c] = v as i16;
            up[c] = v;
        }
        out.copy_from_slice(&rgb(up));
    }
}

fn jpeg<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    d: &mut Decoders,
) -> Result<(), RfbError> {
    let len = compact_len(src)?;
    let data = &mut d.scratch;
    data.clear();
    data.resize(len, 0);
    src.read_exact(data)?;
    if rect.is_empty() {
        return Ok(());
    }
    let bad = |e: String| RfbError::protocol(format!("Tight: bad JPEG data: {e}"));
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::BGRA)
        .set_max_width(rect.w as usize)
        .set_max_height(rect.h as usize);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(&data[..]), options);
    dec.decode_headers().map_err(|e| bad(e.to_string()))?;
    // zune-jpeg does not map greyscale to BGRA: decode luma and expand it here.
    let grey = dec.input_colorspace() == Some(ColorSpace::Luma);
    if grey {
        dec.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
    }
    let want = rect.area() * BPP;
    let size = if grey { rect.area() } else { want };
    if dec.dimensions() != Some((rect.w as usize, rect.h as usize))
        || dec.output_buffer_size() != Some(size)
    {
        return Err(bad(format!(
            "a {:?} image for a {}x{} rectangle",
            dec.dimensions(),
            rect.w,
            rect.h
        )));
    }
    let pixels = &mut d.pixels;
    pixels.resize(want, 0);
    // zune-jpeg is fuzzed, but a panic on server bytes must not end the
    // capture thread: treat one as corrupt data.
    let out = &mut pixels[..size];
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dec.decode_into(out)))
        .map_err(|_| bad("the decoder panicked".into()))?
        .map_err(|e| bad(e.to_string()))?;
    if grey {
        // Back to front, so each grey byte is read before its BGRX pixel overwrites it.
        for i in (0..size).rev() {
            let v = pixels[i];
            pixels[i * BPP..i * BPP + BPP].copy_from_slice(&[v, v, v, 0]);
        }
    }
    fb.put_rect(rect, &pixels[..want])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Screen;

    #[test]
    fn compact_length_matches_the_spec_example() {
        assert_eq!(compact_len(&mut &[0x90u8, 0x4e][..]).unwrap(), 10000);
        assert_eq!(compact_len(&mut &[0x7fu8][..]).unwrap(), 127);
        assert_eq!(
            compact_len(&mut &[0xffu8, 0xff, 0xff][..]).unwrap(),
            4_194_303
        );
        assert!(compact_len(&mut &[0x80u8][..]).is_err());
    }

    #[test]
    fn grayscale_jpeg_is_expanded_to_bgrx() {
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90)
            .encode(&[77; 16 * 8], 16, 8, jpeg_encoder::ColorType::Luma)
            .unwrap();
        let mut p = vec![
            0x90,
            0x80 | (jpeg.len() & 0x7f) as u8,
            (jpeg.len() >> 7) as u8,
        ];
        p.extend_from_slice(&jpeg);
        let mut s = Screen::new(16, 8);
        let mut d = Decoders::new();
        let r = d.decode(
            &mut &p[..],
            crate::rfb::enc::TIGHT,
            Rect::new(0, 0, 16, 8),
            &mut s,
        );
        assert!(r.is_ok(), "{r:?}");
        let got = s.fb.pixel(5, 5);
        assert!(got[..3].iter().all(|c| c.abs_diff(77) <= 2), "{got:?}");
    }
}
