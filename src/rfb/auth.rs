//! VNC authentication (RFC 6143 §7.2.2): DES-ECB of the server's 16-byte
//! challenge. Pure: no sockets, no state.

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};

/// The 16-byte response to `challenge`. The key is the password's first
/// 8 bytes, zero-padded, with every byte's bits reversed (VNC treats the
/// lowest bit as DES's first key bit).
pub fn vnc_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    let des = Des::new(&key.into());
    let mut out = *challenge;
    for half in out.chunks_exact_mut(8) {
        let mut block = [0u8; 8];
        block.copy_from_slice(half);
        let mut block = block.into();
        des.encrypt_block(&mut block);
        half.copy_from_slice(&block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic DES vector (key 13 34 57 79 9B BC DF F1, plaintext
    /// 01 23 45 67 89 AB CD EF, ciphertext 85 E8 13 54 0F 0A B4 05), with the
    /// key's bytes given bit-reversed the way VNC passwords are.
    #[test]
    fn matches_the_textbook_des_vector() {
        let password = [0xc8, 0x2c, 0xea, 0x9e, 0xd9, 0x3d, 0xfb, 0x8f];
        let plain = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let cipher = [0x85, 0xe8, 0x13, 0x54, 0x0f, 0x0a, 0xb4, 0x05];
        let mut challenge = [0u8; 16];
        challenge[..8].copy_from_slice(&plain);
        challenge[8..].copy_from_slice(&plain);
        let r = vnc_response(&password, &challenge);
        assert_eq!(r[..8], cipher);
        assert_eq!(r[8..], cipher, "each half is encrypted on its own (ECB)");
    }

    #[test]
    fn only_the_first_eight_bytes_count() {
        let c = *b"0123456789abcdef";
        assert_eq!(
            vnc_response(b"password", &c),
            vnc_response(b"password-and-more", &c)
        );
        assert_ne!(vnc_response(b"password", &c), vnc_response(b"passwore", &c));
        // Short passwords are zero-padded.
        assert_eq!(vnc_response(b"pw", &c), vnc_response(b"pw\0\0\0\0\0\0", &c));
    }

    #[test]
    fn auth_response_matches_openssl() {
        // `openssl enc -des-ecb -nopad -K cea6c64ea62e0000` ("secret", bits reversed)
        // of the challenge "0123456789abcdef".
        let want = [
            0x75, 0x24, 0x40, 0xee, 0x2b, 0xfc, 0xc2, 0xa0, 0xd9, 0x01, 0x3f, 0xd2, 0x03, 0x71,
            0xe2, 0x3b,
        ];
        assert_eq!(vnc_response(b"secret", b"0123456789abcdef"), want);
    }

    #[test]
    fn auth_response_depends_on_password_and_challenge() {
        let c = [7u8; 16];
        let a = vnc_response(b"secret", &c);
        assert_eq!(a, vnc_response(b"secret", &c));
        assert_ne!(a, vnc_response(b"secreT", &c));
        assert_ne!(a, c);
        // Only the first 8 bytes count.
        assert_eq!(
            vnc_response(b"12345678", &c),
            vnc_response(b"123456789", &c)
        );
        // Same halves encrypt alike (ECB).
        assert_eq!(a[..8], a[8..]);
    }
}
