//! The server's view of RFB wire data (RFC 6143): client messages parsed from
//! a byte buffer, pixel formats, the cursor shape, VNC authentication.
//! Pure functions over bytes; every length from the client is bounded here.

use std::io;

/// Most encodings a SetEncodings may list (real clients send about 20).
pub const MAX_ENCODINGS: usize = 256;
/// Longest clipboard text accepted (it is read and thrown away).
pub const MAX_CUT_TEXT: u32 = 1 << 20;
/// Longest client message, so a buffer this size always holds one.
pub const MAX_MESSAGE: usize = 4 + 4 * MAX_ENCODINGS;

pub const ENC_CURSOR: i32 = -239;

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    SetPixelFormat(PixelFormat),
    /// Only what the demo acts on: whether the Cursor pseudo-encoding is listed.
    SetEncodings {
        count: usize,
        cursor: bool,
    },
    UpdateRequest {
        incremental: bool,
        x: u16,
        y: u16,
        w: u16,
        h: u16,
    },
    Key {
        down: bool,
        keysym: u32,
    },
    Pointer {
        buttons: u8,
        x: u16,
        y: u16,
    },
    /// ClientCutText header: this many text bytes follow, to be skipped.
    CutText(u32),
}

pub fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn bytes<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at + N)?.try_into().ok()
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    bytes(buf, at).map(u16::from_be_bytes)
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    bytes(buf, at).map(u32::from_be_bytes)
}

/// Parses the first message in `buf`: `Ok(None)` when more bytes are needed,
/// else the message and the bytes it used. Bad data is an error.
pub fn parse(buf: &[u8]) -> io::Result<Option<(Msg, usize)>> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let need = match kind {
        0 => 20,
        2 => match u16_at(buf, 2) {
            Some(n) if usize::from(n) > MAX_ENCODINGS => {
                return Err(bad(format!("SetEncodings lists {n} encodings")));
            }
            Some(n) => 4 + 4 * usize::from(n),
            None => return Ok(None),
        },
        3 => 10,
        4 => 8,
        5 => 6,
        6 => 8,
        other => return Err(bad(format!("unknown message type {other}"))),
    };
    if buf.len() < need {
        return Ok(None);
    }
    let short = || bad("short message");
    let msg = match kind {
        0 => Msg::SetPixelFormat(PixelFormat::parse(&bytes(buf, 4).ok_or_else(short)?)?),
        2 => {
            let count = (need - 4) / 4;
            let cursor = (0..count)
                .any(|i| bytes(buf, 4 + 4 * i).map(i32::from_be_bytes) == Some(ENC_CURSOR));
            Msg::SetEncodings { count, cursor }
        }
        3 => {
            let f = |at| u16_at(buf, at).ok_or_else(short);
            Msg::UpdateRequest {
                incremental: buf.get(1).is_some_and(|&b| b != 0),
                x: f(2)?,
                y: f(4)?,
                w: f(6)?,
                h: f(8)?,
            }
        }
        4 => Msg::Key {
            down: buf.get(1).is_some_and(|&b| b != 0),
            keysym: u32_at(buf, 4).ok_or_else(short)?,
        },
        5 => Msg::Pointer {
            buttons: buf.get(1).copied().unwrap_or(0),
            x: u16_at(buf, 2).ok_or_else(short)?,
            y: u16_at(buf, 4).ok_or_else(short)?,
        },
        _ => {
            let len = u32_at(buf, 4).ok_or_else(short)?;
            if len > MAX_CUT_TEXT {
                return Err(bad(format!("ClientCutText of {len} bytes")));
            }
            Msg::CutText(len)
        }
    };
    Ok(Some((msg, need)))
}

/// A true-colour pixel format, with per-channel tables from 8-bit values to
/// the client's bits, so converting a pixel is three lookups.
#[derive(Clone, PartialEq, Eq)]
pub struct PixelFormat {
    wire: [u8; 16],
    bytes: usize,
    big_endian: bool,
    tables: Box<[[u32; 256]; 3]>,
}

impl std::fmt::Debug for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PixelFormat({:?})", self.wire)
    }
}

impl PixelFormat {
    /// 32 bpp, depth 24, little-endian, red at bit 16: BGRX bytes in memory (ServerInit).
    pub const DEFAULT_WIRE: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

    pub fn bgrx() -> PixelFormat {
        PixelFormat::build(&Self::DEFAULT_WIRE)
    }

    /// The 16 PIXEL_FORMAT bytes of SetPixelFormat, checked.
    pub fn parse(b: &[u8; 16]) -> io::Result<PixelFormat> {
        let [bpp, _depth, _big_endian, true_colour, ..] = *b;
        if true_colour == 0 {
            return Err(bad("colour-map pixel formats are not supported"));
        }
        if !matches!(bpp, 8 | 16 | 32) {
            return Err(bad(format!("{bpp} bits per pixel is not supported")));
        }
        if let Some(&shift) = b[10..13].iter().find(|&&s| s >= bpp) {
            return Err(bad(format!("colour shift {shift} past {bpp} bits")));
        }
        Ok(PixelFormat::build(b))
    }

    fn build(b: &[u8; 16]) -> PixelFormat {
        let mut tables = Box::new([[0u32; 256]; 3]);
        for (c, table) in tables.iter_mut().enumerate() {
            let max = u32::from(u16::from_be_bytes([b[4 + 2 * c], b[5 + 2 * c]]));
            let shift = u32::from(b[10 + c]);
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = ((v as u32 * max + 127) / 255).wrapping_shl(shift);
            }
        }
        PixelFormat {
            wire: *b,
            bytes: usize::from(b[0] / 8).max(1),
            big_endian: b[2] != 0,
            tables,
        }
    }

    pub fn wire(&self) -> &[u8; 16] {
        &self.wire
    }

    pub fn bytes_per_pixel(&self) -> usize {
        self.bytes
    }

    /// Appends 0x00RRGGBB pixels in this format.
    pub fn encode(&self, pixels: &[u32], out: &mut Vec<u8>) {
        let [r, g, b] = &*self.tables;
        for &p in pixels {
            let v =
                r[(p >> 16) as usize & 0xff] | g[(p >> 8) as usize & 0xff] | b[p as usize & 0xff];
            match (self.bytes, self.big_endian) {
                (4, false) => out.extend_from_slice(&v.to_le_bytes()),
                (4, true) => out.extend_from_slice(&v.to_be_bytes()),
                (2, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
                (2, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
                _ => out.push(v as u8),
            }
        }
    }
}

/// An arrow pointer: `X` black, `o` white, space transparent; hotspot at the tip.
const ARROW: [&str; 18] = [
    "X           ",
    "XX          ",
    "XoX         ",
    "XooX        ",
    "XoooX       ",
    "XooooX      ",
    "XoooooX     ",
    "XooooooX    ",
    "XoooooooX   ",
    "XooooooooX  ",
    "XoooooooooX ",
    "XooooooXXXXX",
    "XoooXooX    ",
    "XooX XooX   ",
    "XoX  XooX   ",
    "XX    XooX  ",
    "X     XooX  ",
    "       XX   ",
];

/// Appends a Cursor pseudo-encoding rectangle (header, pixels, bitmask).
pub fn encode_cursor(format: &PixelFormat, out: &mut Vec<u8>) {
    let w = ARROW[0].len();
    let h = ARROW.len();
    for v in [0u16, 0, w as u16, h as u16] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&ENC_CURSOR.to_be_bytes());
    for row in ARROW {
        let pixels: Vec<u32> = row
            .bytes()
            .map(|c| if c == b'o' { 0xffffff } else { 0 })
            .collect();
        format.encode(&pixels, out);
    }
    for row in ARROW {
        let mut mask = vec![0u8; w.div_ceil(8)];
        for (x, c) in row.bytes().enumerate() {
            if c != b' ' {
                if let Some(m) = mask.get_mut(x / 8) {
                    *m |= 0x80 >> (x % 8);
                }
            }
        }
        out.extend_from_slice(&mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_message_and_waits_for_more_bytes() {
        let req = [3, 1, 0, 10, 0, 20, 1, 0, 0, 200, 9];
        assert_eq!(parse(&req[..9]).ok(), Some(None));
        let (msg, used) = parse(&req).unwrap().unwrap();
        assert_eq!(used, 10);
        assert_eq!(
            msg,
            Msg::UpdateRequest {
                incremental: true,
                x: 10,
                y: 20,
                w: 256,
                h: 200
            }
        );
        let key = [4, 1, 0, 0, 0, 0, 0xff, 0x0d];
        assert!(matches!(
            parse(&key).ok().flatten(),
            Some((
                Msg::Key {
                    down: true,
                    keysym: 0xff0d
                },
                8
            ))
        ));
        let ptr = [5, 1, 1, 2, 0, 3];
        assert!(matches!(
            parse(&ptr).ok().flatten(),
            Some((
                Msg::Pointer {
                    buttons: 1,
                    x: 258,
                    y: 3
                },
                6
            ))
        ));
        assert_eq!(parse(&[]).ok(), Some(None));
    }

    #[test]
    fn set_encodings_notices_the_cursor() {
        let mut m = vec![2, 0, 0, 3];
        for e in [7i32, 0, ENC_CURSOR] {
            m.extend_from_slice(&e.to_be_bytes());
        }
        assert_eq!(parse(&m[..15]).ok(), Some(None));
        assert_eq!(
            parse(&m).ok().flatten().map(|(m, _)| m),
            Some(Msg::SetEncodings {
                count: 3,
                cursor: true
            })
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse(&[9, 0, 0]).is_err());
        assert!(parse(&[255]).is_err());
        assert!(parse(&[2, 0, 0xff, 0xff]).is_err());
        assert!(parse(&[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(matches!(
            parse(&[6, 0, 0, 0, 0, 0, 0, 5]).ok().flatten(),
            Some((Msg::CutText(5), 8))
        ));
        let mut pf = [0u8; 20];
        pf[4..20].copy_from_slice(&PixelFormat::DEFAULT_WIRE);
        pf[4 + 3] = 0; // colour map
        assert!(parse(&pf).is_err());
        pf[4 + 3] = 1;
        pf[4] = 24;
        assert!(parse(&pf).is_err());
        pf[4] = 16;
        assert!(parse(&pf).is_err(), "shift 16 is past 16 bits");
    }

    #[test]
    fn encodes_32_and_16_bpp_in_either_byte_order() {
        let px = [0x00ff8000u32];
        let mut out = Vec::new();
        PixelFormat::bgrx().encode(&px, &mut out);
        assert_eq!(out, [0x00, 0x80, 0xff, 0x00]);
        // RGB565 big-endian.
        let rgb565 = [16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0];
        let f = PixelFormat::parse(&rgb565).unwrap();
        out.clear();
        f.encode(&px, &mut out);
        let v: u16 = (31 << 11) | (32 << 5);
        assert_eq!(out, v.to_be_bytes());
        // RGBX little-endian (red in the low byte).
        let rgbx = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0];
        let f = PixelFormat::parse(&rgbx).unwrap();
        out.clear();
        f.encode(&px, &mut out);
        assert_eq!(out, [0xff, 0x80, 0x00, 0x00]);
    }

    #[test]
    fn cursor_rect_has_header_pixels_and_mask() {
        let mut out = Vec::new();
        encode_cursor(&PixelFormat::bgrx(), &mut out);
        assert_eq!(out.len(), 12 + 12 * 18 * 4 + 2 * 18);
        assert_eq!(out[8..12], ENC_CURSOR.to_be_bytes());
        let mask = &out[12 + 12 * 18 * 4..];
        assert_eq!(mask[0], 0x80, "only the tip is visible in the first row");
    }
}
