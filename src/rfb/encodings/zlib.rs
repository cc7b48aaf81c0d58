//! Inflating the persistent zlib streams of ZRLE and Tight on demand: a
//! rectangle's compressed bytes are pulled from the socket in fixed chunks and
//! inflated into a fixed window, so neither a huge length nor a zlib bomb can
//! make vncmon allocate. Touches only its own buffers and the stream it is given.

use std::io::Read;

use flate2::{Decompress, FlushDecompress};

use crate::rfb::RfbError;

/// Compressed bytes read from the socket at a time.
const IN_CAP: usize = 32 * 1024;
/// Largest run of inflated bytes a decoder may ask for at once (a Tight row
/// of 8192 three-byte pixels, a ZRLE raw tile of 64×64×3).
pub const OUT_CAP: usize = 64 * 1024;

/// The largest compressed length accepted for data that inflates to
/// `inflated` bytes: deflate's worst case (stored blocks) plus slack for the
/// flush markers a server adds.
pub fn compressed_cap(inflated: usize) -> usize {
    inflated.saturating_add(inflated / 8).saturating_add(1024)
}

/// Something decoders take exact runs of bytes from: an inflating zlib
/// stream, or a short uncompressed Tight payload.
pub trait Bytes {
    /// The next `n` bytes (`n <= OUT_CAP`), or an error when the data ends first.
    fn take(&mut self, n: usize) -> Result<&[u8], RfbError>;

    fn byte(&mut self) -> Result<u8, RfbError> {
        self.take(1)?
            .first()
            .copied()
            .ok_or_else(|| RfbError::protocol("empty read"))
    }
}

/// Bytes from a slice that already holds the whole payload.
pub struct SliceBytes<'a> {
    data: &'a [u8],
}

impl<'a> SliceBytes<'a> {
    pub fn new(data: &'a [u8]) -> SliceBytes<'a> {
        SliceBytes { data }
    }
}

impl Bytes for SliceBytes<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], RfbError> {
        if n > self.data.len() {
            return Err(RfbError::protocol("rectangle data ended early"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }
}

/// The input and output windows shared by every zlib stream of a session.
pub struct Buffers {
    input: Box<[u8]>,
    out: Box<[u8]>,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            input: vec![0; IN_CAP].into_boxed_slice(),
            out: vec![0; OUT_CAP].into_boxed_slice(),
        }
    }
}

/// One rectangle's worth of a zlib stream: `len` compressed bytes from `src`.
pub struct ZlibReader<'a, R: Read> {
    src: &'a mut R,
    /// Compressed bytes still in the socket.
    remaining: usize,
    z: &'a mut Decompress,
    buf: &'a mut Buffers,
    in_pos: usize,
    in_end: usize,
    out_pos: usize,
    out_end: usize,
}

impl<'a, R: Read> ZlibReader<'a, R> {
    pub fn new(src: &'a mut R, len: usize, z: &'a mut Decompress, buf: &'a mut Buffers) -> Self {
        ZlibReader {
            src,
            remaining: len,
            z,
            buf,
            in_pos: 0,
            in_end: 0,
            out_pos: 0,
            out_end: 0,
        }
    }

    /// Reads more compressed input when the window is empty.
    fn refill_input(&mut self) -> Result<(), RfbError> {
        if self.in_pos == self.in_end && self.remaining > 0 {
            let chunk = self.remaining.min(self.buf.input.len());
            self.src.read_exact(&mut self.buf.input[..chunk])?;
            self.in_pos = 0;
            self.in_end = chunk;
            self.remaining -= chunk;
        }
        Ok(())
    }

    /// Inflates what fits after `out_end`; returns (consumed, produced).
    fn inflate(&mut self) -> Result<(usize, usize), RfbError> {
        self.refill_input()?;
        let (in0, out0) = (self.z.total_in(), self.z.total_out());
        self.z
            .decompress(
                &self.buf.input[self.in_pos..self.in_end],
                &mut self.buf.out[self.out_end..],
                FlushDecompress::None,
            )
            .map_err(|e| RfbError::protocol(format!("corrupt zlib data: {e}")))?;
        let consumed = (self.z.total_in() - in0) as usize;
        let produced = (self.z.total_out() - out0) as usize;
        self.in_pos += consumed;
        self.out_end += produced;
        Ok((consumed, produced))
    }

    /// Checks that the rectangle's compressed data holds nothing more: every
    /// remaining byte is read and must inflate to nothing.
    pub fn finish(mut self) -> Result<(), RfbError> {
        let longer = || RfbError::protocol("zlib data inflates to more than the rectangle");
        if self.out_pos != self.out_end {
            return Err(longer());
        }
        loop {
            let last = self.in_pos == self.in_end && self.remaining == 0;
            self.out_pos = 0;
            self.out_end = 0;
            let (consumed, produced) = self.inflate()?;
            if produced > 0 {
                return Err(longer());
            }
            if last {
                return Ok(());
            }
            if consumed == 0 && self.in_pos < self.in_end {
                return Err(RfbError::protocol("data after the end of the zlib stream"));
            }
        }
    }
}

impl<R: Read> Bytes for ZlibReader<'_, R> {
    #[inline]
    fn take(&mut self, n: usize) -> Result<&[u8], RfbError> {
        if self.out_end - self.out_pos < n {
            self.fill(n)?;
        }
        let start = self.out_pos;
        self.out_pos += n;
        Ok(&self.buf.out[start..start + n])
    }
}

impl<R: Read> ZlibReader<'_, R> {
    /// Inflates until `n` bytes are waiting in the window.
    #[cold]
    fn fill(&mut self, n: usize) -> Result<(), RfbError> {
        if n > self.buf.out.len() {
            return Err(RfbError::protocol(
                "decoder asked for more than the zlib window",
            ));
        }
        if self.out_pos > 0 {
            self.buf.out.copy_within(self.out_pos..self.out_end, 0);
            self.out_end -= self.out_pos;
            self.out_pos = 0;
        }
        while self.out_end < n {
            let (consumed, produced) = self.inflate()?;
            if consumed == 0 && produced == 0 {
                return Err(RfbError::protocol(
                    "zlib data ended before the rectangle was complete",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        out
    }

    #[test]
    fn takes_across_chunks_and_checks_the_end() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut c = Compress::new(Compression::fast(), true);
        let z = deflate(&mut c, &data);
        let mut d = Decompress::new(true);
        let mut buf = Buffers::default();
        let mut src = &z[..];
        let mut r = ZlibReader::new(&mut src, z.len(), &mut d, &mut buf);
        let mut got = Vec::new();
        for n in [1usize, 5000, 65536, 3, 65536].iter().cycle() {
            let n = (*n).min(data.len() - got.len());
            if n == 0 {
                break;
            }
            got.extend_from_slice(r.take(n).unwrap());
        }
        r.finish().unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn short_and_long_data_are_errors() {
        let mut c = Compress::new(Compression::fast(), true);
        let z = deflate(&mut c, &[1, 2, 3, 4]);
        let run = |want: usize| {
            let mut d = Decompress::new(true);
            let mut buf = Buffers::default();
            let mut src = &z[..];
            let mut r = ZlibReader::new(&mut src, z.len(), &mut d, &mut buf);
            r.take(want)?;
            r.finish()
        };
        assert!(run(4).is_ok());
        assert!(matches!(run(5), Err(RfbError::Protocol(_))));
        assert!(matches!(run(3), Err(RfbError::Protocol(_))));
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let z = [0x78, 0x9c, 0xff, 0xff, 0xff, 0xff];
        let mut d = Decompress::new(true);
        let mut buf = Buffers::default();
        let mut src = &z[..];
        let mut r = ZlibReader::new(&mut src, z.len(), &mut d, &mut buf);
        assert!(matches!(r.take(10), Err(RfbError::Protocol(_))));
    }
}
