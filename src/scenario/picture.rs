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
/// A pixel "changed" when some channel moved by more than this (of 255).
/// Smaller moves are JPEG noise: a change next to a region re-encodes the
/// 16×16 blocks it shares with the region.
pub const CHANGE_THRESHOLD: u8 = 48;

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

    /// Mean absolute difference per channel (0-255); None when sizes differ.
    pub fn mean_difference(&self, other: &Picture) -> Option<f64> {
        if (self.width, self.height) != (other.width, other.height) || self.rgb.is_empty() {
            return None;
        }
        let sum: u64 = self
            .rgb
            .iter()
            .zip(&other.rgb)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        Some(sum as f64 / self.rgb.len() as f64)
    }

    /// Whether some pixel differs by more than `CHANGE_THRESHOLD` in some
    /// channel (or the sizes differ).
    pub fn changed_from(&self, other: &Picture) -> bool {
        (self.width, self.height) != (other.width, other.height)
            || self
                .rgb
                .iter()
                .zip(&other.rgb)
                .any(|(a, b)| a.abs_diff(*b) > CHANGE_THRESHOLD)
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
        let d = back.mean_difference(&p).unwrap();
        assert!(d < 20.0, "{d}");
        assert!(d > 0.0);
    }

    #[test]
    fn comparisons() {
        let a = pattern(8, 8);
        let mut b = a.clone();
        assert_eq!(a.mean_difference(&b), Some(0.0));
        assert!(!a.changed_from(&b));
        b.rgb[5] = b.rgb[5].wrapping_add(40);
        assert!(!a.changed_from(&b));
        b.rgb[5] = b.rgb[5].wrapping_add(40);
        assert!(a.changed_from(&b));
        assert!(a.mean_difference(&pattern(8, 7)).is_none());
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
