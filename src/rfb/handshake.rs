//! The RFB handshake up to the first normal message (RFC 6143 §7.1–7.3):
//! version, security (None or VNC authentication), ClientInit/ServerInit,
//! then SetPixelFormat and SetEncodings. Generic over `Read`/`Write`: the
//! caller owns the socket and its timeouts.

use std::io::{self, Read, Write};

use crate::rfb::RfbError;
use crate::rfb::auth::vnc_response;
use crate::rfb::msg::{read_array, read_capped, read_reason, read_u8, read_u16, read_u32};
use crate::screen::Framebuffer;

/// Longest desktop name accepted from ServerInit.
const NAME_CAP: u32 = 64 * 1024;

const SEC_NONE: u8 = 1;
const SEC_VNC: u8 = 2;

/// The protocol version both sides speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V3_3,
    V3_7,
    V3_8,
}

impl Version {
    /// The 12-byte ProtocolVersion message for this version.
    pub fn greeting(self) -> &'static [u8; 12] {
        match self {
            Version::V3_3 => b"RFB 003.003\n",
            Version::V3_7 => b"RFB 003.007\n",
            Version::V3_8 => b"RFB 003.008\n",
        }
    }
}

/// Picks the version to answer a server's `RFB xxx.yyy\n` greeting with:
/// the highest one vncmon speaks that is not above the server's. Odd minors
/// (3.5, 3.6, ...) mean 3.3; 3.8 and above (Apple's 3.889, 4.x) mean 3.8.
pub fn parse_version(greeting: &[u8]) -> Result<Version, RfbError> {
    let not_rfb = || RfbError::NotRfb(String::from_utf8_lossy(greeting).into_owned());
    let [b'R', b'F', b'B', b' ', major @ .., b'.', m0, m1, m2, b'\n'] = greeting else {
        return Err(not_rfb());
    };
    let digits = |d: &[u8]| -> Option<u32> {
        d.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(major), Some(minor)) = (
        (major.len() == 3).then(|| digits(major)).flatten(),
        digits(&[*m0, *m1, *m2]),
    ) else {
        return Err(not_rfb());
    };
    Ok(match (major, minor) {
        (0..=2, _) => {
            return Err(RfbError::UnsupportedVersion(format!("{major}.{minor}")));
        }
        (3, 0..=6) => Version::V3_3,
        (3, 7) => Version::V3_7,
        _ => Version::V3_8,
    })
}

/// What ServerInit told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub name: String,
}

/// Runs the whole handshake: reads from `r`, writes to `w`. On success the
/// server has our pixel format and encodings and normal messages follow.
pub fn handshake<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    password: Option<&str>,
    encodings: &[i32],
) -> Result<(Version, ServerInit), RfbError> {
    let version = parse_version(&read_greeting(r)?)?;
    w.write_all(version.greeting())?;
    security(r, w, version, password)?;
    w.write_all(&[1])?; // ClientInit: shared, leave other viewers connected
    let init = server_init(r)?;
    let mut setup = crate::rfb::msg::set_pixel_format().to_vec();
    setup.extend_from_slice(&crate::rfb::msg::set_encodings(encodings));
    w.write_all(&setup)?;
    w.flush()?;
    Ok((version, init))
}

/// Reads the 12-byte greeting. A peer that sends less and stops (or closes)
/// is not an RFB server; one that sends nothing at all closed on us.
fn read_greeting(r: &mut impl Read) -> Result<Vec<u8>, RfbError> {
    let mut buf = [0u8; 12];
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if n == 0 => return Err(e.into()),
            Err(_) => break,
        }
        // A peer that does not start with "RFB " will not turn into one:
        // report it now instead of waiting for 12 bytes that may never come.
        if !buf[..n].iter().zip(b"RFB ").all(|(a, b)| a == b) {
            break;
        }
    }
    if n == 0 {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(buf[..n].to_vec())
}

fn security<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    version: Version,
    password: Option<&str>,
) -> Result<(), RfbError> {
    let chosen = if version == Version::V3_3 {
        // The server decides.
        match read_u32(r)? {
            0 => return Err(RfbError::ServerRefused(read_reason(r, "no reason given"))),
            1 => SEC_NONE,
            2 if password.is_none() => return Err(RfbError::PasswordRequired),
            2 => SEC_VNC,
            t => {
                return Err(match u8::try_from(t) {
                    Ok(t) => RfbError::NoSupportedSecurity(vec![t]),
                    Err(_) => RfbError::protocol(format!("invalid security type {t}")),
                });
            }
        }
    } else {
        let count = read_u8(r)?;
        if count == 0 {
            return Err(RfbError::ServerRefused(read_reason(r, "no reason given")));
        }
        let mut types = vec![0u8; count as usize];
        r.read_exact(&mut types)?;
        let chosen = if types.contains(&SEC_NONE) {
            SEC_NONE
        } else if types.contains(&SEC_VNC) {
            if password.is_none() {
                return Err(RfbError::PasswordRequired);
            }
            SEC_VNC
        } else {
            return Err(RfbError::NoSupportedSecurity(types));
        };
        w.write_all(&[chosen])?;
        w.flush()?;
        chosen
    };

    if chosen == SEC_VNC {
        let challenge = read_array::<16>(r)?;
        let key = password.unwrap_or_default().as_bytes();
        w.write_all(&vnc_response(key, &challenge))?;
        w.flush()?;
    } else if version != Version::V3_8 {
        // 3.3 and 3.7 send no SecurityResult for None.
        return Ok(());
    }

    match read_u32(r)? {
        0 => Ok(()),
        status => {
            let fallback = match (chosen, status) {
                (_, 2) => "too many authentication attempts".to_string(),
                (SEC_VNC, _) => "the server rejected the password".to_string(),
                _ => format!("the server refused the connection (security result {status})"),
            };
            let reason = if version == Version::V3_8 {
                read_reason(r, &fallback)
            } else {
                fallback
            };
            Err(RfbError::AuthFailed(reason))
        }
    }
}

fn server_init(r: &mut impl Read) -> Result<ServerInit, RfbError> {
    let width = read_u16(r)?;
    let height = read_u16(r)?;
    Framebuffer::check_size(width, height).map_err(RfbError::Protocol)?;
    let _server_pixel_format = read_array::<16>(r)?; // replaced by SetPixelFormat
    let len = read_u32(r)?;
    let name = read_capped(r, len, NAME_CAP, "desktop name")?;
    Ok(ServerInit {
        width,
        height,
        name: String::from_utf8_lossy(&name).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(s: &[u8]) -> Result<Version, RfbError> {
        parse_version(s)
    }

    #[test]
    fn versions_map_to_what_vncmon_speaks() {
        assert_eq!(version(b"RFB 003.003\n").ok(), Some(Version::V3_3));
        assert_eq!(version(b"RFB 003.005\n").ok(), Some(Version::V3_3));
        assert_eq!(version(b"RFB 003.006\n").ok(), Some(Version::V3_3));
        assert_eq!(version(b"RFB 003.007\n").ok(), Some(Version::V3_7));
        assert_eq!(version(b"RFB 003.008\n").ok(), Some(Version::V3_8));
        assert_eq!(version(b"RFB 003.889\n").ok(), Some(Version::V3_8));
        assert_eq!(version(b"RFB 004.001\n").ok(), Some(Version::V3_8));
    }

    #[test]
    fn old_majors_are_unsupported() {
        assert!(
            matches!(version(b"RFB 002.009\n"), Err(RfbError::UnsupportedVersion(v)) if v == "2.9")
        );
    }

    #[test]
    fn anything_else_is_not_rfb() {
        for bad in [
            &b"HTTP/1.1 400"[..],
            b"RFB 003.008",
            b"RFB 003.008\r",
            b"RFB 3.8\n",
            b"RFB 0x3.008\n",
            b"RFB 003.00a\n",
            b"rfb 003.008\n",
            b"",
        ] {
            match version(bad) {
                Err(RfbError::NotRfb(got)) => assert_eq!(got.as_bytes(), bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    /// A 3.8 server with VNC authentication, end to end in memory.
    #[test]
    fn handshake_3_8_with_vnc_auth() {
        let challenge = *b"0123456789ABCDEF";
        let mut server = Vec::new();
        server.extend_from_slice(b"RFB 003.008\n");
        server.extend_from_slice(&[2, 16, 2]); // two types: Tight, VNC auth
        server.extend_from_slice(&challenge);
        server.extend_from_slice(&[0, 0, 0, 0]); // SecurityResult OK
        server.extend_from_slice(&[0, 4, 0, 3]); // 4x3
        server.extend_from_slice(&[0; 16]);
        server.extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
        let mut client = Vec::new();
        let (v, init) = handshake(&mut &server[..], &mut client, Some("secret"), &[0]).unwrap();
        assert_eq!(v, Version::V3_8);
        assert_eq!((init.width, init.height, init.name.as_str()), (4, 3, "hi"));
        let mut want = b"RFB 003.008\n".to_vec();
        want.push(2);
        want.extend_from_slice(&vnc_response(b"secret", &challenge));
        want.push(1);
        want.extend_from_slice(&crate::rfb::msg::set_pixel_format());
        want.extend_from_slice(&crate::rfb::msg::set_encodings(&[0]));
        assert_eq!(client, want);
    }

    /// Gives its bytes once, then fails the test if read again.
    struct Once(&'static [u8], bool);
    impl Read for Once {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            assert!(!self.1, "read again after a non-RFB greeting");
            self.1 = true;
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_foreign_greeting_is_reported_without_waiting_for_more() {
        let e = handshake(&mut Once(b"SSH-2", false), &mut Vec::new(), None, &[]).unwrap_err();
        assert!(
            matches!(e, RfbError::NotRfb(ref s) if s == "SSH-2"),
            "{e:?}"
        );
    }

    #[test]
    fn a_short_peer_that_closes_is_not_rfb() {
        let e = handshake(&mut &b"SSH-2"[..], &mut Vec::new(), None, &[]).unwrap_err();
        assert!(
            matches!(e, RfbError::NotRfb(ref s) if s == "SSH-2"),
            "{e:?}"
        );
    }
}
