//! Banded JPEG encoder: a baseline 4:2:0 JPEG whose restart interval is one
//! MCU row, so each 16-pixel band is an independent entropy-coded segment.
//! Only dirty bands are re-encoded; frames are spliced from kept segments.
//! Reads a `Screen`; touches nothing else.

use crate::screen::Screen;

pub struct BandedEncoder {}

impl BandedEncoder {
    /// `quality` 1..=100; `threads` bands encoded in parallel when many changed.
    pub fn new(quality: u8, threads: usize) -> BandedEncoder {
        let _ = (quality, threads);
        todo!("jpeg helper")
    }

    /// Re-encodes the bands flagged in `dirty` (every band when the screen
    /// size changed since the last call) and returns a whole JPEG file, or
    /// `None` when every flagged band holds exactly the pixels last encoded.
    pub fn encode(&mut self, screen: &Screen, dirty: &[bool]) -> Result<Option<Vec<u8>>, String> {
        let _ = (screen, dirty);
        todo!("jpeg helper")
    }
}
