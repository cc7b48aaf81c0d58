//! Banded JPEG encoder: a baseline 4:2:0 JPEG whose restart interval is one
//! MCU row, so each 16-pixel band is an independent entropy-coded segment.
//! Only dirty bands are re-encoded; frames are spliced from kept segments.
//! Reads a `Screen`; touches nothing else.

mod splice;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::thread;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use crate::screen::{BAND, Screen};

/// One 16-row band: the composed pixels it was last encoded from, and that
/// encoding (a complete little JPEG, of which `scan` is the part we splice).
#[derive(Default)]
struct Band {
    y0: usize,
    rows: usize,
    /// Pixels last encoded (BGRX); empty until the band is first encoded.
    pixels: Vec<u8>,
    jpeg: Vec<u8>,
    scan: Range<usize>,
}

pub struct BandedEncoder {
    quality: u8,
    threads: usize,
    /// Size the bands were encoded for; (0, 0) forces a full re-encode.
    size: (u16, u16),
    bands: Vec<Band>,
    /// One composition buffer per worker thread, kept between frames.
    scratch: Vec<Vec<u8>>,
    /// SOI … DRI … SOS of the whole frame.
    header: Vec<u8>,
    bands_encoded: u64,
}

impl BandedEncoder {
    /// `quality` 1..=100; `threads` bands encoded in parallel when many changed.
    pub fn new(quality: u8, threads: usize) -> BandedEncoder {
        let threads = threads.max(1);
        BandedEncoder {
            quality: quality.clamp(1, 100),
            threads,
            size: (0, 0),
            bands: Vec::new(),
            scratch: (0..threads).map(|_| Vec::new()).collect(),
            header: Vec::new(),
            bands_encoded: 0,
        }
    }

    /// Re-encodes the bands flagged in `dirty` (every band when the screen
    /// size changed since the last call) and returns a whole JPEG file, or
    /// `None` when every flagged band holds exactly the pixels last encoded.
    pub fn encode(&mut self, screen: &Screen, dirty: &[bool]) -> Result<Option<Vec<u8>>, String> {
        let size = (screen.width(), screen.height());
        if size.0 == 0 || size.1 == 0 {
            self.size = (0, 0);
            return Err(format!(
                "cannot encode an empty {}x{} screen",
                size.0, size.1
            ));
        }
        let reset = size != self.size;
        if reset {
            self.reset(size.1);
        }
        self.size = size;
        match self.refresh(screen, dirty, reset) {
            Ok(0) if !reset => Ok(None),
            Ok(_) => self.frame().map(Some),
            Err(e) => Err(e),
        }
        .inspect_err(|_| self.size = (0, 0)) // kept bands may be stale: start afresh
    }

    /// Total number of bands encoded since this encoder was made.
    pub fn bands_encoded(&self) -> u64 {
        self.bands_encoded
    }

    /// Lays out the bands for a screen `height` rows high, forgetting their pixels.
    fn reset(&mut self, height: u16) {
        let height = height as usize;
        self.bands.resize_with(height.div_ceil(BAND), Band::default);
        for (i, band) in self.bands.iter_mut().enumerate() {
            band.y0 = i * BAND;
            band.rows = BAND.min(height - band.y0);
            band.pixels.clear();
        }
        self.header.clear();
    }

    /// Composes the flagged bands (all after a reset), re-encodes those whose
    /// pixels changed, in parallel when there are several; returns how many.
    fn refresh(&mut self, screen: &Screen, dirty: &[bool], all: bool) -> Result<usize, String> {
        let quality = self.quality;
        let mut work: Vec<&mut Band> = self
            .bands
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| all || dirty.get(*i).copied().unwrap_or(false))
            .map(|(_, b)| b)
            .collect();
        let workers = self.threads.min(work.len());
        let encoded = if workers <= 1 {
            let scratch = self.scratch.first_mut().ok_or("no scratch buffer")?;
            refresh_bands(&mut work, screen, quality, scratch)?
        } else {
            // Contiguous chunks, one per worker; the calling thread takes the first.
            // A chunk whose thread cannot be started is encoded here afterwards.
            let per = work.len().div_ceil(workers);
            let jobs: Vec<Mutex<Option<Job>>> = work
                .chunks_mut(per)
                .zip(self.scratch.iter_mut())
                .map(|job| Mutex::new(Some(job)))
                .collect();
            let run = |job: &Mutex<Option<Job>>| {
                let job = job.lock().unwrap_or_else(PoisonError::into_inner).take();
                job.map_or(Ok(0), |(chunk, scratch)| {
                    refresh_bands(chunk, screen, quality, scratch)
                })
            };
            thread::scope(|s| {
                let handles: Vec<_> = jobs
                    .iter()
                    .skip(1)
                    .filter_map(|job| {
                        thread::Builder::new()
                            .name("jpeg-band".into())
                            .spawn_scoped(s, move || run(job))
                            .ok()
                    })
                    .collect();
                let mut total = jobs.first().map_or(Ok(0), run);
                for h in handles {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Err("a JPEG band thread panicked".into()));
                    total = sum(total, r);
                }
                jobs.iter().map(run).fold(total, sum)
            })?
        };
        self.bands_encoded += encoded as u64;
        Ok(encoded)
    }

    /// Splices the kept scans into one JPEG. After a reset the header is
    /// taken afresh from band 0 (all band headers match but for the height).
    fn frame(&mut self) -> Result<Vec<u8>, String> {
        let first = self.bands.first().ok_or("no bands to splice")?;
        if self.header.is_empty() {
            let at = splice::layout(&first.jpeg)?;
            let mcus_per_row = (self.size.0 as usize).div_ceil(BAND) as u16;
            self.header = splice::frame_header(&first.jpeg, &at, self.size.1, mcus_per_row)?;
        }
        let scans = self
            .bands
            .iter()
            .map(|b| b.jpeg.get(b.scan.clone()).unwrap_or_default());
        Ok(splice::splice(&self.header, scans))
    }
}

/// A worker's share: contiguous bands and its composition buffer.
type Job<'a, 'b> = (&'a mut [&'b mut Band], &'a mut Vec<u8>);

fn sum(a: Result<usize, String>, b: Result<usize, String>) -> Result<usize, String> {
    Ok(a? + b?)
}

/// Composes each band into `scratch`; where it differs from the band's kept
/// pixels, keeps the new pixels and re-encodes. Returns how many were encoded.
fn refresh_bands(
    bands: &mut [&mut Band],
    screen: &Screen,
    quality: u8,
    scratch: &mut Vec<u8>,
) -> Result<usize, String> {
    let mut encoded = 0;
    for band in bands.iter_mut() {
        screen.compose_rows(band.y0, band.rows, scratch);
        if *scratch == band.pixels {
            continue;
        }
        std::mem::swap(scratch, &mut band.pixels);
        encode_band(band, screen.width(), quality).inspect_err(|_| band.pixels.clear())?;
        encoded += 1;
    }
    Ok(encoded)
}

/// Encodes the band's pixels as a small JPEG with the frame's tables and
/// 4:2:0 sampling, and finds its scan.
fn encode_band(band: &mut Band, width: u16, quality: u8) -> Result<(), String> {
    band.jpeg.clear();
    let mut enc = Encoder::new(&mut band.jpeg, quality);
    enc.set_sampling_factor(SamplingFactor::F_2_2);
    enc.encode(&band.pixels, width, band.rows as u16, ColorType::Bgra)
        .map_err(|e| format!("JPEG band at row {}: {e}", band.y0))?;
    band.scan = splice::layout(&band.jpeg)?.scan;
    Ok(())
}
