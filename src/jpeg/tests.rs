//! Tests of the banded encoder: spliced frames decode and equal one-shot encodes,
//! only changed bands are re-encoded, odd sizes, cursor, resize, errors.

use std::io::Cursor as IoCursor;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::*;
use crate::screen::{Cursor, Rect};

/// A varied BGRX test picture: gradients, flat panels and text-like strokes.
fn pattern(w: u16, h: u16, seed: u32) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut rng = seed.wrapping_mul(2_654_435_761) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut out = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = if (x / 48 + y / 40) % 3 == 0 {
                // A light panel with dark "glyph" strokes on an 8×12 grid.
                let (cx, cy) = (x % 8, y % 12);
                let stroke =
                    (2..10).contains(&cy) && cx < 6 && (x / 8 * 7 + y / 12 * 3 + cx) % 5 == 0;
                if stroke {
                    (30, 30, 40)
                } else {
                    (235, 235, 225)
                }
            } else {
                (
                    (x * 255 / w.max(1)) as u8,
                    (y * 255 / h.max(1)) as u8,
                    ((x + 2 * y) % 256) as u8,
                )
            };
            let jitter = (next() % 3) as u8;
            out.extend_from_slice(&[b.saturating_add(jitter), g, r, 0]);
        }
    }
    out
}

fn screen_of(w: u16, h: u16, pixels: &[u8]) -> Screen {
    let mut s = Screen::new(w, h);
    s.fb.put_rect(Rect::new(0, 0, w, h), pixels).unwrap();
    s
}

fn decode(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut d = JpegDecoder::new_with_options(IoCursor::new(jpeg), opts);
    let rgb = d.decode().expect("spliced JPEG decodes");
    let info = d.info().unwrap();
    (info.width as usize, info.height as usize, rgb)
}

/// Peak signal-to-noise ratio (dB) of decoded RGB against BGRX source pixels.
fn psnr(bgrx: &[u8], rgb: &[u8]) -> f64 {
    assert_eq!(bgrx.len() / 4 * 3, rgb.len());
    let se: f64 = bgrx
        .chunks_exact(4)
        .zip(rgb.chunks_exact(3))
        .map(|(s, d)| {
            [(s[2], d[0]), (s[1], d[1]), (s[0], d[2])]
                .iter()
                .map(|&(a, b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>()
        })
        .sum();
    let mse = se / rgb.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// The RSTn marker numbers in the entropy-coded part of a JPEG.
fn restart_markers(jpeg: &[u8]) -> Vec<u8> {
    let at = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
    jpeg[at + 2 + len..]
        .windows(2)
        .filter(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
        .map(|w| w[1] - 0xD0)
        .collect()
}

/// The value of the DRI segment.
fn restart_interval(jpeg: &[u8]) -> u16 {
    let at = jpeg
        .windows(4)
        .position(|w| w == [0xFF, 0xDD, 0, 4])
        .unwrap();
    u16::from_be_bytes([jpeg[at + 4], jpeg[at + 5]])
}

/// What `jpeg-encoder` writes in one go with the same settings.
fn one_shot(pixels: &[u8], w: u16, h: u16, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, quality);
    enc.set_sampling_factor(SamplingFactor::F_2_2);
    enc.set_restart_interval(w.div_ceil(16));
    enc.encode(pixels, w, h, ColorType::Bgra).unwrap();
    out
}

/// Encodes what changed since the last call, as the capture loop does.
fn next_frame(enc: &mut BandedEncoder, s: &mut Screen) -> Result<Option<Vec<u8>>, String> {
    let dirty = s.fb.take_dirty();
    enc.encode(s, &dirty)
}

fn all_dirty(s: &Screen) -> Vec<bool> {
    vec![true; s.fb.bands()]
}

#[test]
fn spliced_frame_equals_a_one_shot_encode_with_restarts() {
    for (w, h) in [(1, 1), (17, 33), (64, 16), (100, 37), (333, 250)] {
        for quality in [80, 95] {
            let px = pattern(w, h, 7);
            let s = screen_of(w, h, &px);
            let mut enc = BandedEncoder::new(quality, 2);
            let jpeg = enc.encode(&s, &all_dirty(&s)).unwrap().unwrap();
            assert!(
                jpeg == one_shot(&px, w, h, quality),
                "{w}x{h} q{quality} differs from the one-shot encode"
            );
        }
    }
}

#[test]
fn sampling_is_4_2_0_even_at_high_quality() {
    let s = screen_of(40, 40, &pattern(40, 40, 1));
    let jpeg = BandedEncoder::new(100, 1)
        .encode(&s, &all_dirty(&s))
        .unwrap()
        .unwrap();
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    // FF C0, length, precision, height, width, 3 components: Y is 2×2, Cb and Cr 1×1.
    assert_eq!(&jpeg[sof + 5..sof + 9], &[0, 40, 0, 40]);
    assert_eq!(
        &jpeg[sof + 9..sof + 19],
        &[3, 0, 0x22, 0, 1, 0x11, 1, 2, 0x11, 1]
    );
}

#[test]
fn decodes_close_to_the_source() {
    let (w, h) = (203, 150);
    let px = pattern(w, h, 3);
    let s = screen_of(w, h, &px);
    let jpeg = BandedEncoder::new(80, 2)
        .encode(&s, &all_dirty(&s))
        .unwrap()
        .unwrap();
    let (dw, dh, rgb) = decode(&jpeg);
    assert_eq!((dw, dh), (203, 150));
    let db = psnr(&px, &rgb);
    assert!(db > 30.0, "PSNR {db:.1} dB");
}

#[test]
fn odd_and_tiny_sizes_decode() {
    for (w, h) in [(1, 1), (17, 33), (16, 16), (100, 5), (31, 17)] {
        let px = pattern(w, h, 11);
        let s = screen_of(w, h, &px);
        let jpeg = BandedEncoder::new(90, 2)
            .encode(&s, &all_dirty(&s))
            .unwrap()
            .unwrap();
        let (dw, dh, rgb) = decode(&jpeg);
        assert_eq!((dw, dh), (w as usize, h as usize));
        assert_eq!(restart_markers(&jpeg).len(), (h as usize).div_ceil(16) - 1);
        assert!(psnr(&px, &rgb) > 25.0, "{w}x{h}");
    }
}

#[test]
fn restart_markers_sit_between_bands_and_cycle() {
    let (w, h) = (40, 16 * 20 + 5); // 21 bands, the last 5 rows high
    let s = screen_of(w, h, &pattern(w, h, 5));
    let jpeg = BandedEncoder::new(80, 2)
        .encode(&s, &all_dirty(&s))
        .unwrap()
        .unwrap();
    let expected: Vec<u8> = (0..20).map(|i| i % 8).collect();
    assert_eq!(restart_markers(&jpeg), expected);
    assert_eq!(restart_interval(&jpeg), 3, "ceil(40 / 16) MCUs per row");
    assert!(jpeg.ends_with(&[0xFF, 0xD9]));
    assert_eq!(decode(&jpeg).0, 40);
}

#[test]
fn only_the_changed_band_is_reencoded() {
    let (w, h) = (64, 64);
    let mut s = screen_of(w, h, &pattern(w, h, 2));
    let mut enc = BandedEncoder::new(85, 2);
    next_frame(&mut enc, &mut s).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 4);

    s.fb.fill_rect(Rect::new(8, 36, 20, 6), [0, 0, 255, 0])
        .unwrap(); // red, band 2
    let dirty = s.fb.take_dirty();
    assert_eq!(dirty, vec![false, false, true, false]);
    let jpeg = enc.encode(&s, &dirty).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 5);

    let mut now = Vec::new();
    s.compose_rows(0, h as usize, &mut now);
    assert!(
        jpeg == one_shot(&now, w, h, 85),
        "spliced frame = fresh encode"
    );
    let (_, _, rgb) = decode(&jpeg);
    let at = |x: usize, y: usize| &rgb[(y * 64 + x) * 3..(y * 64 + x) * 3 + 3];
    assert!(at(18, 39)[0] > 200 && at(18, 39)[1] < 60, "red box shows");
    assert!(psnr(&now, &rgb) > 28.0);
}

#[test]
fn unchanged_dirty_bands_give_none() {
    let (w, h) = (48, 40);
    let mut s = screen_of(w, h, &pattern(w, h, 4));
    let mut enc = BandedEncoder::new(80, 2);
    assert!(next_frame(&mut enc, &mut s).unwrap().is_some());
    assert_eq!(enc.encode(&s, &[true, true, true]).unwrap(), None);
    assert_eq!(enc.encode(&s, &[false, false, false]).unwrap(), None);
    assert_eq!(enc.bands_encoded(), 3);

    // A band painted and painted back before the next encode is not re-encoded.
    let before = s.fb.pixel(5, 20);
    s.fb.fill_rect(Rect::new(5, 20, 1, 1), [9, 9, 9, 0])
        .unwrap();
    s.fb.fill_rect(Rect::new(5, 20, 1, 1), before).unwrap();
    assert_eq!(next_frame(&mut enc, &mut s).unwrap(), None);
    assert_eq!(enc.bands_encoded(), 3);

    // A change in a band that is not flagged is not looked at.
    s.fb.fill_rect(Rect::new(0, 0, 4, 4), [1, 2, 3, 0]).unwrap();
    assert_eq!(enc.encode(&s, &[false, true, false]).unwrap(), None);
    assert!(enc.encode(&s, &[true, false, false]).unwrap().is_some());
    assert_eq!(enc.bands_encoded(), 4);
}

#[test]
fn cursor_is_drawn_and_follows_the_pointer() {
    let (w, h) = (64, 64);
    let mut s = Screen::new(w, h); // black
    s.set_cursor(Some(Cursor {
        hot_x: 0,
        hot_y: 0,
        width: 8,
        height: 8,
        pixels: vec![255; 8 * 8 * 4],
        mask: vec![0xFF; 8],
    }));
    s.move_cursor(20, 4);
    let mut enc = BandedEncoder::new(90, 2);
    let jpeg = next_frame(&mut enc, &mut s).unwrap().unwrap();
    let luma = |rgb: &[u8], x: usize, y: usize| rgb[(y * 64 + x) * 3] as u32;
    let (_, _, rgb) = decode(&jpeg);
    assert!(luma(&rgb, 24, 8) > 200, "cursor drawn");
    assert!(luma(&rgb, 24, 40) < 40);

    s.move_cursor(20, 36); // leaves band 0, enters band 2
    let dirty = s.fb.take_dirty();
    assert_eq!(dirty, vec![true, false, true, false]);
    let jpeg = enc.encode(&s, &dirty).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 4 + 2);
    let (_, _, rgb) = decode(&jpeg);
    assert!(luma(&rgb, 24, 8) < 40, "old position repainted");
    assert!(luma(&rgb, 24, 40) > 200, "cursor at its new position");
}

#[test]
fn resize_reencodes_everything() {
    let mut s = screen_of(64, 64, &pattern(64, 64, 8));
    let mut enc = BandedEncoder::new(80, 3);
    next_frame(&mut enc, &mut s).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 4);

    s.resize(50, 40);
    let px = pattern(50, 40, 9);
    s.fb.put_rect(Rect::new(0, 0, 50, 40), &px).unwrap();
    // Even with no band flagged, a new size means a whole new picture.
    let jpeg = enc.encode(&s, &[false; 3]).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 4 + 3);
    assert!(jpeg == one_shot(&px, 50, 40, 80));
    let (dw, dh, _) = decode(&jpeg);
    assert_eq!((dw, dh), (50, 40));
    assert_eq!(restart_interval(&jpeg), 4);

    // Back to a taller size: bands are laid out again.
    s.resize(64, 80);
    let jpeg = enc.encode(&s, &[]).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), 4 + 3 + 5);
    assert_eq!(restart_markers(&jpeg).len(), 4);
}

#[test]
fn thread_count_does_not_change_the_bytes() {
    let (w, h) = (120, 200);
    let mut screens = [Screen::new(w, h), Screen::new(w, h), Screen::new(w, h)];
    for s in screens.iter_mut() {
        s.fb.put_rect(Rect::new(0, 0, w, h), &pattern(w, h, 20))
            .unwrap();
    }
    let mut encs = [1, 2, 5].map(|t| BandedEncoder::new(75, t));
    for step in 0..4u16 {
        let mut frames = Vec::new();
        for (s, enc) in screens.iter_mut().zip(encs.iter_mut()) {
            // Each step changes a different number of bands.
            s.fb.fill_rect(
                Rect::new(step * 10, 0, 7, 16 * step + 1),
                [step as u8 * 50; 4],
            )
            .unwrap();
            let dirty = s.fb.take_dirty();
            frames.push(enc.encode(s, &dirty).unwrap());
        }
        assert!(frames.iter().all(|f| *f == frames[0]), "step {step}");
    }
    assert!(
        encs.iter()
            .all(|e| e.bands_encoded() == encs[0].bands_encoded())
    );
}

#[test]
fn extreme_shapes_encode() {
    for (w, h) in [(8192, 16), (8192, 1), (1, 8192), (16, 8192)] {
        let s = Screen::new(w, h);
        let mut enc = BandedEncoder::new(80, 2);
        let jpeg = enc.encode(&s, &all_dirty(&s)).unwrap().unwrap();
        assert_eq!(restart_markers(&jpeg).len(), (h as usize).div_ceil(16) - 1);
        assert_eq!(restart_interval(&jpeg), w.div_ceil(16));
        let (dw, dh, _) = decode(&jpeg);
        assert_eq!((dw, dh), (w as usize, h as usize));
    }
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let mut enc = BandedEncoder::new(0, 0); // clamped to quality 1, one thread
    let empty = Screen::new(0, 0);
    assert!(enc.encode(&empty, &[]).is_err());
    let s = screen_of(20, 40, &pattern(20, 40, 1));
    // Dirty lists of the wrong length are read as far as they go.
    assert!(enc.encode(&s, &[]).unwrap().is_some());
    assert_eq!(enc.encode(&s, &[true; 9]).unwrap(), None);
    assert!(enc.encode(&empty, &[true]).is_err());
    // After an error the next frame is whole again.
    assert!(enc.encode(&s, &[]).unwrap().is_some());
    assert_eq!(enc.bands_encoded(), 6);
}

#[test]
fn largest_screen_encodes() {
    let w = crate::screen::MAX_DIM;
    let h = (crate::screen::MAX_PIXELS / w as usize) as u16;
    let bands = h as u64 / 16;
    let mut s = Screen::new(w, h);
    assert_eq!((s.width(), s.height()), (w, h));
    let mut enc = BandedEncoder::new(80, 2);
    let jpeg = next_frame(&mut enc, &mut s).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), bands);
    assert_eq!(restart_markers(&jpeg).len() as u64, bands - 1);
    assert_eq!(restart_interval(&jpeg), w / 16);
    s.fb.fill_rect(Rect::new(8000, h - 12, 10, 10), [255; 4])
        .unwrap();
    let jpeg = next_frame(&mut enc, &mut s).unwrap().unwrap();
    assert_eq!(enc.bands_encoded(), bands + 1);
    let mut d = JpegDecoder::new(IoCursor::new(&jpeg));
    d.decode_headers().unwrap();
    let info = d.info().unwrap();
    assert_eq!((info.width, info.height), (w, h));
}
