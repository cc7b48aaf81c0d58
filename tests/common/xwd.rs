//! The XWD image format: parsing `xwd -root` captures (ZPixmap, TrueColor or
//! DirectColor, 16/24/32 bits per pixel, either byte order, any channel
//! masks) into RGB, and writing RGB pictures for `xwud` to show.

use super::image::RgbImage;

const HEADER_FIELDS: usize = 25;
const HEADER_BYTES: usize = HEADER_FIELDS * 4;
const COLOR_BYTES: usize = 12;
const ZPIXMAP: u32 = 2;
const TRUE_COLOR: u32 = 4;
const DIRECT_COLOR: u32 = 5;
/// Refuse captures bigger than this (a corrupt header, not a screen).
const MAX_PIXELS: usize = 8192 * 8192;

fn field(data: &[u8], i: usize, big_endian: bool) -> u32 {
    let b = [
        data[i * 4],
        data[i * 4 + 1],
        data[i * 4 + 2],
        data[i * 4 + 3],
    ];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// One channel's 8-bit value from a pixel value and its mask.
fn channel(pixel: u32, mask: u32) -> u8 {
    if mask == 0 {
        return 0;
    }
    let shift = mask.trailing_zeros();
    let max = mask >> shift;
    let v = (pixel & mask) >> shift;
    ((u64::from(v) * 255 + u64::from(max) / 2) / u64::from(max)) as u8
}

/// Parses an XWD file into RGB.
pub fn parse(data: &[u8]) -> Result<RgbImage, String> {
    if data.len() < HEADER_BYTES {
        return Err(format!("XWD too short for a header: {} bytes", data.len()));
    }
    // xwd writes the header most significant byte first; accept the other order too.
    let big_endian = field(data, 1, true) == 7;
    if !big_endian && field(data, 1, false) != 7 {
        return Err("not an XWD version 7 file".into());
    }
    let f = |i: usize| field(data, i, big_endian) as usize;
    let (header_size, format, width, height) = (f(0), f(2) as u32, f(4), f(5));
    let (byte_order, bpp, bytes_per_line) = (f(7), f(11), f(12));
    let (class, masks, ncolors) = (f(13) as u32, [f(14), f(15), f(16)], f(19));
    if format != ZPIXMAP {
        return Err(format!(
            "XWD pixmap format {format}, only ZPixmap (2) is read"
        ));
    }
    if class != TRUE_COLOR && class != DIRECT_COLOR {
        return Err(format!(
            "XWD visual class {class}: only TrueColor/DirectColor are read"
        ));
    }
    if !matches!(bpp, 16 | 24 | 32) {
        return Err(format!("XWD with {bpp} bits per pixel is not read"));
    }
    if width == 0 || height == 0 || width * height > MAX_PIXELS {
        return Err(format!("XWD size {width}x{height} is out of range"));
    }
    let bytes_pp = bpp / 8;
    if bytes_per_line < width * bytes_pp {
        return Err(format!(
            "XWD line of {bytes_per_line} bytes is too short for {width} pixels"
        ));
    }
    let start = header_size
        .checked_add(ncolors.saturating_mul(COLOR_BYTES))
        .ok_or("XWD header sizes overflow")?;
    let end = start + bytes_per_line * height;
    if header_size < HEADER_BYTES || data.len() < end {
        return Err(format!(
            "XWD truncated: {} bytes, the header announces {end}",
            data.len()
        ));
    }
    let masks = masks.map(|m| m as u32);
    let mut img = RgbImage::new(width, height, super::image::Rgb(0, 0, 0));
    for y in 0..height {
        let row = &data[start + y * bytes_per_line..start + (y + 1) * bytes_per_line];
        for x in 0..width {
            let px = &row[x * bytes_pp..(x + 1) * bytes_pp];
            let v = if byte_order == 0 {
                px.iter()
                    .rev()
                    .fold(0u32, |acc, b| acc << 8 | u32::from(*b))
            } else {
                px.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b))
            };
            let i = (y * width + x) * 3;
            img.data[i] = channel(v, masks[0]);
            img.data[i + 1] = channel(v, masks[1]);
            img.data[i + 2] = channel(v, masks[2]);
        }
    }
    Ok(img)
}

/// Writes `img` as a 24-bit TrueColor ZPixmap XWD (32 bits per pixel, least
/// significant byte first) whose window name is `name`.
pub fn write(img: &RgbImage, name: &str) -> Vec<u8> {
    let mut name_bytes = name.as_bytes().to_vec();
    name_bytes.push(0);
    let header_size = HEADER_BYTES + name_bytes.len();
    let (w, h) = (img.width as u32, img.height as u32);
    let fields: [u32; HEADER_FIELDS] = [
        header_size as u32,
        7,
        ZPIXMAP,
        24,
        w,
        h,
        0,
        0, // byte order: LSBFirst
        32,
        0,
        32,
        32,
        w * 4,
        TRUE_COLOR,
        0xff_0000,
        0x00_ff00,
        0x00_00ff,
        8,
        256,
        0, // no colour map entries follow
        w,
        h,
        0,
        0,
        0,
    ];
    let mut out = Vec::with_capacity(header_size + img.data.len() / 3 * 4);
    for v in fields {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&name_bytes);
    for px in img.data.chunks_exact(3) {
        out.extend_from_slice(&[px[2], px[1], px[0], 0]);
    }
    out
}
