//! Client-to-server message bytes (RFC 6143 §7.5) and the small big-endian
//! readers the handshake and the message loop share. Pure: no sockets here.

use std::io::{self, Read};

use crate::rfb::RfbError;

/// SetPixelFormat: 32 bpp, depth 24, little-endian true colour, 8 bits per
/// channel at red 16, green 8, blue 0, so each pixel lands in memory as B, G, R, X.
pub fn set_pixel_format() -> [u8; 20] {
    [
        0, 0, 0, 0, // type, padding
        32, 24, 0, 1, // bits-per-pixel, depth, big-endian, true-colour
        0, 255, 0, 255, 0, 255, // red/green/blue max
        16, 8, 0, // red/green/blue shift
        0, 0, 0, // padding
    ]
}

/// SetEncodings with `encodings` in order of preference (at most 65535).
pub fn set_encodings(encodings: &[i32]) -> Vec<u8> {
    let encodings = &encodings[..encodings.len().min(u16::MAX as usize)];
    let mut m = Vec::with_capacity(4 + 4 * encodings.len());
    m.extend_from_slice(&[2, 0]);
    m.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
    for e in encodings {
        m.extend_from_slice(&e.to_be_bytes());
    }
    m
}

/// FramebufferUpdateRequest for the `width`×`height` area at the origin.
pub fn update_request(incremental: bool, width: u16, height: u16) -> [u8; 10] {
    let [w0, w1] = width.to_be_bytes();
    let [h0, h1] = height.to_be_bytes();
    [3, incremental as u8, 0, 0, 0, 0, w0, w1, h0, h1]
}

/// KeyEvent with an X keysym.
pub fn key_event(keysym: u32, down: bool) -> [u8; 8] {
    let [k0, k1, k2, k3] = keysym.to_be_bytes();
    [4, down as u8, 0, 0, k0, k1, k2, k3]
}

/// PointerEvent with the RFB button mask.
pub fn pointer_event(x: u16, y: u16, buttons: u8) -> [u8; 6] {
    let [x0, x1] = x.to_be_bytes();
    let [y0, y1] = y.to_be_bytes();
    [5, buttons, x0, x1, y0, y1]
}

pub fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

pub fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    Ok(read_array::<1>(r)?[0])
}

pub fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    read_array(r).map(u16::from_be_bytes)
}

pub fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    read_array(r).map(u32::from_be_bytes)
}

pub fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    read_array(r).map(i32::from_be_bytes)
}

/// Reads and drops `n` bytes without buffering them.
pub fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Reads exactly `len` bytes after checking `len` against `cap`; `what`
/// names the field in the error.
pub fn read_capped(r: &mut impl Read, len: u32, cap: u32, what: &str) -> Result<Vec<u8>, RfbError> {
    if len > cap {
        return Err(RfbError::protocol(format!(
            "{what} of {len} bytes exceeds the {cap}-byte limit"
        )));
    }
    let mut buf = vec![0; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Longest reason string kept; the rest is read and dropped.
const REASON_CAP: u32 = 4096;

/// Reads a failure reason (u32 length + text) as the server closes the
/// connection. Never fails: a missing or cut reason yields what arrived, or
/// `fallback` when nothing did.
pub fn read_reason(r: &mut impl Read, fallback: &str) -> String {
    let Ok(len) = read_u32(r) else {
        return fallback.to_string();
    };
    let mut buf = Vec::new();
    // A short read is fine: keep whatever part of the reason arrived.
    let _ = r.take(len.min(REASON_CAP) as u64).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).trim().to_string();
    if text.is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_big_endian() {
        assert_eq!(
            set_encodings(&[0, -223]),
            [2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]
        );
        assert_eq!(
            update_request(true, 0x0102, 0x0304),
            [3, 1, 0, 0, 0, 0, 1, 2, 3, 4]
        );
        assert_eq!(key_event(0xff0d, true), [4, 1, 0, 0, 0, 0, 0xff, 0x0d]);
        assert_eq!(pointer_event(300, 2, 4), [5, 4, 1, 44, 0, 2]);
    }

    #[test]
    fn capped_reads_refuse_before_allocating() {
        let mut src: &[u8] = b"abc";
        let e = read_capped(&mut src, u32::MAX, 16, "cut text").unwrap_err();
        assert!(e.to_string().contains("4294967295"), "{e}");
    }

    #[test]
    fn reasons_survive_truncation() {
        let mut cut: &[u8] = &[0, 0, 0, 10, b'n', b'o'];
        assert_eq!(read_reason(&mut cut, "fallback"), "no");
        let mut none: &[u8] = &[0, 0];
        assert_eq!(read_reason(&mut none, "fallback"), "fallback");
    }

    #[test]
    fn skip_reports_a_short_stream() {
        let mut src: &[u8] = &[1, 2, 3];
        assert!(skip(&mut src, 4).is_err());
        let mut src: &[u8] = &[1, 2, 3];
        skip(&mut src, 2).unwrap();
        assert_eq!(src, [3]);
    }
}
