//! RGB pictures for `expect`, `wait_for_change` and `wait_until_still`:
//! decoding JPEG frames and JPEG/PNG references, cropping, comparing, and
//! encoding the snapshots `expect` leaves behind. Pure: no files, no threads.

use std::fmt;
use std::io::Cursor;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::Region;

/// Largest reference image side accepted.
const MAX_SIDE: u32 = 8192;
/// Largest reference image area accepted (as the screen's cap).
const MAX_AREA: u64 = 4096 * 4096;
/// A region "changed" when its `block_difference` from before is above
/// this. JPEG noise of an unchanged region stays below 8 at quality 80 (a
/// change next to a region re-encodes the 16×16 blocks it shares with the
/// region); a changed glyph moves its blocks by 60 and more.
pub const CHANGE_THRESHOLD: f64 = 24.0;
/// Side of the blocks `block_difference` compares.
pub const BLOCK: usize = 4;

/// An RGB picture: an `expect` reference, or a decoded screen region.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u16,
    pub height: u16,
    /// RGB, row by row.
    pub rgb: Vec<u8>,
}

impl fmt::Debug for Picture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

fn check_size(w: u32, h: u32) -> Result<(u16, u16), String> {
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_AREA {
        return Err(format!(
            "{w}x{h} is not a usable size (at most {MAX_SIDE} a side, 4096x4096 in all)"
        ));
    }
    Ok((w as u16, h as u16))
}

impl Picture {
    /// Decodes a JPEG or a PNG (told apart by their signatures).
    pub fn decode(bytes: &[u8]) -> Result<Picture, String> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Picture::decode_png(bytes)
        } else if bytes.starts_with(&[0xff, 0xd8]) {
            Picture::decode_jpeg(bytes)
        } else {
            Err("not a PNG or JPEG image".into())
        }
    }

    pub fn decode_jpeg(bytes: &[u8]) -> Result<Picture, String> {
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        decoder
            .decode_headers()
            .map_err(|e| format!("JPEG does not decode: {e:?}"))?;
        let (w, h) = decoder
            .dimensions()
            .ok_or_else(|| "JPEG without a size".to_string())?;
        let (width, height) = check_size(w as u32, h as u32)?;
        let rgb = decoder
            .decode()
            .map_err(|e| format!("JPEG does not decode: {e:?}"))?;
        if rgb.len() != usize::from(width) * usize::from(height) * 3 {
            return Err(format!("JPEG {width}x{height} did not decode to RGB"));
        }
        Ok(Picture { width, height, rgb })
    }

    pub fn decode_png(bytes: &[u8]) -> Result<Picture, String> {
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("PNG does not decode: {e}"))?;
        let info = reader.info();
        let (width, height) = check_size(info.width, info.height)?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let out = reader
            .next_frame(&mut buf)
            .map_err(|e| format!("PNG does not decode: {e}"))?;
        buf.truncate(out.buffer_size());
        let per = match out.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Indexed => return Err("PNG palette was not expanded".into()),
        };
        let pixels = usize::from(width) * usize::from(height);
        let stride = out.line_size;
        let mut rgb = Vec::with_capacity(pixels * 3);
        for row in buf.chunks(stride).take(usize::from(height)) {
            for px in row.chunks(per).take(usize::from(width)) {
                match per {
                    1 | 2 => rgb.extend_from_slice(&[px[0]; 3]),
                    _ => rgb.extend_from_slice(&px[..3]),
                }
            }
        }
        if rgb.len() != pixels * 3 {
            return Err(format!("PNG {width}x{height} is truncated"));
        }
        Ok(Picture { width, height, rgb })
    }

    /// The part inside `r`, or None when `r` does not fit.
    pub fn crop(&self, r: Region) -> Option<Picture> {
        if !r.fits(self.width, self.height) || r.w == 0 || r.h == 0 {
            return None;
        }
        let mut rgb = Vec::with_capacity(usize::from(r.w) * usize::from(r.h) * 3);
        for y in r.y..r.y + r.h {
            let start = (usize::from(y) * usize::from(self.width) + usize::from(r.x)) * 3;
            rgb.extend_from_slice(self.rgb.get(start..start + usize::from(r.w) * 3)?);
        }
        Some(Picture {
            width: r.w,
            height: r.h,
            rgb,
        })
    }

    /// The largest difference between the mean colours of corresponding
    /// `BLOCK`×`BLOCK` blocks, in any channel (0-255); None when sizes
    /// differ. Averaging over a block cancels most JPEG noise (it is
    /// roughly zero-mean), while a changed glyph moves its blocks' means a
    /// lot.
    pub fn block_difference(&self, other: &Picture) -> Option<f64> {
        if (self.width, self.height) != (other.width, other.height) || self.rgb.is_empty() {
            return None;
        }
        let (w, h) = (usize::from(self.width), usize::from(self.height));
        let mut worst = 0.0f64;
        for by in (0..h).step_by(BLOCK) {
            for bx in (0..w).step_by(BLOCK) {
                let mut sums = [0i64; 3];
                let mut n = 0i64;
                for y in by..(by + BLOCK).min(h) {
                    for x in bx..(bx + BLOCK).min(w) {
                        let i = (y * w + x) * 3;
                        for (c, sum) in sums.iter_mut().enumerate() {
                            *sum += i64::from(self.rgb[i + c]) - i64::from(other.rgb[i + c]);
                        }
                        n += 1;
                    }
                }
                for sum in sums {
                    worst = worst.max(sum.abs() as f64 / n as f64);
                }
            }
        }
        Some(worst)
    }

    /// Whether the pictures differ by more than `CHANGE_THRESHOLD` (by
    /// `block_difference`), or in size.
    pub fn changed_from(&self, other: &Picture) -> bool {
        self.block_difference(other)
            .is_none_or(|d| d > CHANGE_THRESHOLD)
    }

    /// Per-pixel absolute difference, amplified 4× so small differences show.
    pub fn diff(&self, other: &Picture) -> Option<Picture> {
        if (self.width, self.height) != (other.width, other.height) {
            return None;
        }
        let rgb = self
            .rgb
            .iter()
            .zip(&other.rgb)
            .map(|(a, b)| a.abs_diff(*b).saturating_mul(4))
            .collect();
        Some(Picture {
            width: self.width,
            height: self.height,
            rgb,
        })
    }

    /// Encodes as a JPEG of `quality` (1-100).
    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(
                &self.rgb,
                self.width,
                self.height,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(|e| format!("JPEG encoding failed: {e}"))?;
        Ok(out)
    }

    /// Encodes as a PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, u32::from(self.width), u32::from(self.height));
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| format!("PNG encoding failed: {e}"))?;
        w.write_image_data(&self.rgb)
            .map_err(|e| format!("PNG encoding failed: {e}"))?;
        w.finish()
            .map_err(|e| format!("PNG encoding failed: {e}"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u16, h: u16) -> Picture {
        let rgb = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| [(i * 7) as u8, (i * 13) as u8, 200])
            .collect();
        Picture {
            width: w,
            height: h,
            rgb,
        }
    }

    #[test]
    fn png_round_trip_and_crop() {
        let p = pattern(20, 10);
        let back = Picture::decode(&p.to_png().unwrap()).unwrap();
        assert_eq!(back, p);
        let c = p
            .crop(Region {
                x: 2,
                y: 3,
                w: 4,
                h: 2,
            })
            .unwrap();
        assert_eq!((c.width, c.height), (4, 2));
        assert_eq!(&c.rgb[..3], &p.rgb[(3 * 20 + 2) * 3..(3 * 20 + 2) * 3 + 3]);
        assert!(
            p.crop(Region {
                x: 18,
                y: 0,
                w: 4,
                h: 1
            })
            .is_none()
        );
    }

    #[test]
    fn jpeg_round_trip_is_close() {
        let p = pattern(64, 32);
        let back = Picture::decode(&p.to_jpeg(90).unwrap()).unwrap();
        assert_eq!((back.width, back.height), (64, 32));
        let d = back.block_difference(&p).unwrap();
        assert!(d > 0.0 && d < CHANGE_THRESHOLD, "{d}");
    }

    #[test]
    fn comparisons() {
        let a = Picture {
            width: 8,
            height: 8,
            rgb: vec![100; 8 * 8 * 3],
        };
        let mut b = a.clone();
        assert_eq!(a.block_difference(&b), Some(0.0));
        assert!(!a.changed_from(&b));
        // One pixel 155 brighter in blue: its 4x4 block's mean moves by 9.7.
        b.rgb[5] = 255;
        assert_eq!(a.block_difference(&b), Some(155.0 / 16.0));
        assert!(!a.changed_from(&b));
        // Half a block (a 2-pixel stroke) black: the mean moves by 50.
        for y in 4..8 {
            for x in 4..6 {
                let i = (y * 8 + x) * 3;
                b.rgb[i..i + 3].fill(0);
            }
        }
        assert_eq!(a.block_difference(&b), Some(50.0));
        assert!(a.changed_from(&b));
        // Noise that averages out within blocks is no change.
        let mut c = a.clone();
        for (i, v) in c.rgb.iter_mut().enumerate() {
            *v = if i % 2 == 0 { 130 } else { 70 };
        }
        assert!(!a.changed_from(&c), "{:?}", a.block_difference(&c));
        assert!(a.block_difference(&pattern(8, 7)).is_none());
        assert!(a.changed_from(&pattern(8, 7)));
        let d = a.diff(&b).unwrap();
        assert_eq!(d.rgb[5], 255);
        assert_eq!(d.rgb[4], 0);
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(
            Picture::decode(b"hello").unwrap_err(),
            "not a PNG or JPEG image"
        );
        assert!(
            Picture::decode(b"\x89PNG\r\n\x1a\nxx")
                .unwrap_err()
                .starts_with("PNG does not decode")
        );
        assert!(
            Picture::decode(&[0xff, 0xd8, 0xff, 0x00])
                .unwrap_err()
                .starts_with("JPEG")
        );
    }
}
