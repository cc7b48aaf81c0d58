//! RGB images for comparing what vncmon serves with what the X server shows:
//! JPEG decoding (zune-jpeg), PSNR with excluded rectangles (e.g. the cursor),
//! and a few deterministic test pictures.

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// An 8-bit RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, as X programs take colours.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// The largest difference of one channel.
    pub fn distance(self, other: Rgb) -> u8 {
        self.0
            .abs_diff(other.0)
            .max(self.1.abs_diff(other.1))
            .max(self.2.abs_diff(other.2))
    }
}

/// A pixel rectangle; may reach past an image's edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    pub fn new(x: i64, y: i64, w: i64, h: i64) -> Rect {
        Rect { x, y, w, h }
    }

    /// A square of side `2 * r` centred on (x, y).
    pub fn around(x: i64, y: i64, r: i64) -> Rect {
        Rect::new(x - r, y - r, 2 * r, 2 * r)
    }

    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

/// Packed RGB pixels, row by row.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    pub fn new(width: usize, height: usize, fill: Rgb) -> RgbImage {
        let data = [fill.0, fill.1, fill.2].repeat(width * height);
        RgbImage {
            width,
            height,
            data,
        }
    }

    /// The pixel at (x, y); panics outside the image (a test bug).
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        assert!(
            x < self.width && y < self.height,
            "({x},{y}) outside {self:?}"
        );
        let i = (y * self.width + x) * 3;
        Rgb(self.data[i], self.data[i + 1], self.data[i + 2])
    }

    pub fn set(&mut self, x: usize, y: usize, c: Rgb) {
        assert!(
            x < self.width && y < self.height,
            "({x},{y}) outside {self:?}"
        );
        let i = (y * self.width + x) * 3;
        self.data[i..i + 3].copy_from_slice(&[c.0, c.1, c.2]);
    }

    pub fn fill_rect(&mut self, r: Rect, c: Rgb) {
        for y in r.y.max(0)..(r.y + r.h).min(self.height as i64) {
            for x in r.x.max(0)..(r.x + r.w).min(self.width as i64) {
                self.set(x as usize, y as usize, c);
            }
        }
    }

    /// The part of the image inside `r` (clipped to the image).
    pub fn crop(&self, r: Rect) -> RgbImage {
        let x0 = r.x.clamp(0, self.width as i64) as usize;
        let y0 = r.y.clamp(0, self.height as i64) as usize;
        let x1 = (r.x + r.w).clamp(0, self.width as i64) as usize;
        let y1 = (r.y + r.h).clamp(0, self.height as i64) as usize;
        let mut out = RgbImage::new(x1 - x0, y1 - y0, Rgb(0, 0, 0));
        for y in y0..y1 {
            for x in x0..x1 {
                out.set(x - x0, y - y0, self.pixel(x, y));
            }
        }
        out
    }

    /// The average colour inside `r`.
    pub fn mean(&self, r: Rect) -> Rgb {
        let part = self.crop(r);
        let n = (part.width * part.height).max(1) as u64;
        let mut sum = [0u64; 3];
        for px in part.data.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += u64::from(px[c]);
            }
        }
        Rgb((sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8)
    }

    /// Fraction of pixels (outside `exclude`) within `tolerance` of `c`.
    pub fn fraction_near(&self, c: Rgb, tolerance: u8, exclude: &[Rect]) -> f64 {
        let (mut near, mut total) = (0usize, 0usize);
        for y in 0..self.height {
            for x in 0..self.width {
                if exclude.iter().any(|r| r.contains(x as i64, y as i64)) {
                    continue;
                }
                total += 1;
                near += usize::from(self.pixel(x, y).distance(c) <= tolerance);
            }
        }
        if total == 0 {
            0.0
        } else {
            near as f64 / total as f64
        }
    }

    /// A deterministic picture with many colours that a JPEG still keeps
    /// well (smooth gradients and waves, some grey blocks), varied by `seed`.
    pub fn pattern(width: usize, height: usize, seed: u32) -> RgbImage {
        let mut img = RgbImage::new(width, height, Rgb(0, 0, 0));
        let s = seed as usize;
        for y in 0..height {
            for x in 0..width {
                let gx = (x * 255 / width.max(1)) as u8;
                let gy = (y * 255 / height.max(1)) as u8;
                let phase = (x + 2 * y + 40 * s) as f64 / 18.0;
                let wave = (128.0 + 100.0 * phase.sin()) as u8;
                // Neutral blocks: luma edges, which JPEG keeps at full resolution.
                let c = if (x / 24 + 3 * (y / 24) + s) % 7 == 0 {
                    Rgb(wave, wave, wave)
                } else {
                    Rgb(gx, gy, wave)
                };
                img.set(x, y, c);
            }
        }
        img
    }
}

/// Decodes a baseline or progressive JPEG to RGB.
pub fn decode_jpeg(jpeg: &[u8]) -> Result<RgbImage, String> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let data = decoder
        .decode()
        .map_err(|e| format!("JPEG does not decode ({} bytes): {e:?}", jpeg.len()))?;
    let info = decoder
        .info()
        .ok_or_else(|| "JPEG decoded without header info".to_string())?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    if data.len() != width * height * 3 {
        return Err(format!(
            "JPEG {width}x{height} decoded to {} bytes, not RGB",
            data.len()
        ));
    }
    Ok(RgbImage {
        width,
        height,
        data,
    })
}

/// Peak signal-to-noise ratio in dB over the pixels outside `exclude`
/// (infinite for identical images). Errors when the sizes differ.
pub fn psnr(a: &RgbImage, b: &RgbImage, exclude: &[Rect]) -> Result<f64, String> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(format!("sizes differ: {a:?} vs {b:?}"));
    }
    let (mut sum, mut n) = (0u64, 0u64);
    for y in 0..a.height {
        for x in 0..a.width {
            if exclude.iter().any(|r| r.contains(x as i64, y as i64)) {
                continue;
            }
            let i = (y * a.width + x) * 3;
            for c in 0..3 {
                let d = i64::from(a.data[i + c]) - i64::from(b.data[i + c]);
                sum += (d * d) as u64;
            }
            n += 3;
        }
    }
    if n == 0 {
        return Err("every pixel is excluded".into());
    }
    if sum == 0 {
        return Ok(f64::INFINITY);
    }
    let mse = sum as f64 / n as f64;
    Ok(10.0 * (255.0 * 255.0 / mse).log10())
}

/// Writes a solid red 180×64 JPEG (the size of a demo desktop button, a
/// colour no demo button shows): a reference an `expect` step cannot match.
pub fn write_red_jpeg(path: &std::path::Path) {
    let data = [255u8, 0, 0].repeat(180 * 64);
    jpeg_encoder::Encoder::new_file(path, 90)
        .and_then(|e| e.encode(&data, 180, 64, jpeg_encoder::ColorType::Rgb))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
