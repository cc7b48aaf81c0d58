//! `cargo bench --bench decode` (or `make bench`): the RFB rectangle decoders
//! on a desktop-like full-screen update, against a plain memcpy of the frame
//! and, for the compressed encodings, the same compressed bytes decoded alone
//! (flate2 inflate, zune-jpeg). Prints a table; speeds are ratios.

#[path = "../common/mod.rs"]
mod common;
mod payloads;

use std::hint::black_box;
use std::time::{Duration, Instant};

use flate2::{Decompress, FlushDecompress};
use vncmon::rfb::encodings::{Decoders, RectResult};
use vncmon::screen::{BPP, Screen};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use payloads::{Frame, Update};

/// Sampling time per screen size (after one warm-up round).
const BUDGET: Duration = Duration::from_secs(8);
/// Tight-JPEG quality, as the encode bench and vncmon's default.
const JPEG_QUALITY: u8 = 80;

fn main() {
    println!(
        "RFB rectangle decoders, one full-screen update per frame; median time per frame; \
         x memcpy = time / memcpy of the frame, x alone = time / the same compressed \
         bytes decoded alone (lower is faster)"
    );
    for (w, h) in [(1280, 720), (1920, 1080)] {
        run(w, h);
    }
}

/// One row: a frame step that times its own work (set-up is left out).
struct Case<'a> {
    name: String,
    step: Box<dyn FnMut() -> Duration + 'a>,
    samples: Vec<Duration>,
    /// The row this one is compared with in the "x alone" column.
    alone: Option<usize>,
    bytes: usize,
}

impl<'a> Case<'a> {
    fn new(name: &str, bytes: usize, step: impl FnMut() -> Duration + 'a) -> Case<'a> {
        Case {
            name: name.into(),
            step: Box::new(step),
            samples: Vec::new(),
            alone: None,
            bytes,
        }
    }

    fn alone(mut self, reference: usize) -> Case<'a> {
        self.alone = Some(reference);
        self
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn run(w: u16, h: u16) {
    let source = common::desktop(w, h, 1);
    let frame = Frame {
        data: source.fb.data(),
        w,
        h,
    };
    let raw = payloads::raw(&frame);
    let hextile = payloads::hextile(&frame);
    let zrle = payloads::zrle(&frame);
    let tight = payloads::tight(&frame, None);
    let tight_jpeg = payloads::tight(&frame, Some(JPEG_QUALITY));
    let mut cases = Vec::new();

    // (m) reference: what Raw costs at best, one copy of the frame's bytes.
    let mut fb = vec![1u8; frame.data.len()];
    cases.push(Case::new(
        "(m) reference: memcpy of the frame",
        frame.data.len(),
        move || timed(|| black_box(&mut fb[..]).copy_from_slice(black_box(frame.data))),
    ));
    cases.push(decode_case("Raw", &raw, w, h, false));
    cases.push(decode_case("Hextile", &hextile, w, h, false));
    // Each decoder below is compared with the reference pushed just before it.
    cases.push(inflate_case(
        "(z) reference: inflate ZRLE data alone",
        &zrle,
    ));
    // ZRLE's one zlib stream lasts the session and cannot be reset: each
    // frame gets fresh decoders, made outside the timed part.
    cases.push(decode_case("ZRLE", &zrle, w, h, true).alone(cases.len() - 1));
    cases.push(inflate_case(
        "(t) reference: inflate Tight zlib data alone",
        &tight,
    ));
    cases.push(decode_case("Tight basic (zlib)", &tight, w, h, false).alone(cases.len() - 1));
    let name = "(j) reference: zune-jpeg on the JPEG data alone";
    cases.push(jpeg_case(name, &tight_jpeg));
    cases.push(decode_case("Tight JPEG", &tight_jpeg, w, h, false).alone(cases.len() - 1));

    // Warm-up, then a check that every update really decodes to the desktop.
    for case in cases.iter_mut() {
        (case.step)();
    }
    let decoded = |u: &Update| {
        let mut s = Screen::new(w, h);
        decode(u, &mut Decoders::new(), &mut s);
        s
    };
    for (name, u) in [("Raw", &raw), ("Hextile", &hextile), ("ZRLE", &zrle)] {
        let s = decoded(u);
        assert!(s.fb.data() == frame.data, "{name} decodes to the desktop");
    }
    assert!(decoded(&tight).fb.data() == frame.data, "Tight decodes");
    let err = mean_abs_diff(decoded(&tight_jpeg).fb.data(), frame.data);
    assert!(err < 4.0, "Tight JPEG decodes close to the desktop ({err})");

    // Interleaved rounds: every case runs once per round, so a machine that
    // gets busier or quieter during the run shifts all rows alike.
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < 5 || start.elapsed() < BUDGET {
        for case in cases.iter_mut() {
            let t = (case.step)();
            case.samples.push(t);
        }
        rounds += 1;
    }
    let inflated = |u: &Update| u.zlib.iter().map(|z| z.2).sum::<usize>();
    println!();
    println!(
        "{w}x{h} ({rounds} rounds; ZRLE inflates to {} bytes; Tight: {} rectangles, \
         zlib data inflates to {} bytes, JPEG mean error {err:.2}/255)",
        inflated(&zrle),
        tight.rects.len(),
        inflated(&tight)
    );
    print_table(&mut cases);
}

/// Decodes one whole update; every rectangle must be applied.
fn decode(u: &Update, d: &mut Decoders, s: &mut Screen) {
    let mut src = &u.bytes[..];
    for &(encoding, rect) in &u.rects {
        let r = d.decode(&mut src, encoding, rect, s);
        assert!(matches!(r, Ok(RectResult::Done)), "{r:?}");
    }
    assert!(src.is_empty(), "{} payload bytes left", src.len());
}

/// `u` decoded into a screen of its own; with `fresh`, by new decoders each frame.
fn decode_case<'a>(name: &str, u: &'a Update, w: u16, h: u16, fresh: bool) -> Case<'a> {
    let mut d = Decoders::new();
    let mut s = Screen::new(w, h);
    Case::new(name, u.bytes.len(), move || {
        if fresh {
            d = Decoders::new();
        }
        let t = timed(|| decode(u, &mut d, &mut s));
        s.fb.take_dirty();
        t
    })
}

/// The zlib chunks of `u` inflated on their streams, nothing else.
fn inflate_case<'a>(name: &str, u: &'a Update) -> Case<'a> {
    let biggest = u.zlib.iter().map(|z| z.2).max().unwrap_or(0);
    let mut out = vec![0u8; biggest + 1];
    let mut streams: [Decompress; 4] = std::array::from_fn(|_| Decompress::new(true));
    let bytes = u.zlib.iter().map(|z| z.1.len()).sum();
    Case::new(name, bytes, move || {
        for z in streams.iter_mut() {
            *z = Decompress::new(true);
        }
        timed(|| {
            for (stream, range, inflated) in &u.zlib {
                let z = &mut streams[*stream];
                let before = z.total_out();
                z.decompress(&u.bytes[range.clone()], &mut out, FlushDecompress::Sync)
                    .expect("inflate");
                assert_eq!((z.total_out() - before) as usize, *inflated);
            }
        })
    })
}

/// The Tight-JPEG images of `u` decoded to BGRA by zune-jpeg, nothing else.
fn jpeg_case<'a>(name: &str, u: &'a Update) -> Case<'a> {
    let biggest = u.jpegs.iter().map(|j| j.0.area()).max().unwrap_or(0);
    let mut out = vec![0u8; biggest * BPP];
    let bytes = u.jpegs.iter().map(|j| j.1.len()).sum();
    Case::new(name, bytes, move || {
        timed(|| {
            for (rect, range) in &u.jpegs {
                let options = DecoderOptions::default()
                    .jpeg_set_out_colorspace(ColorSpace::BGRA)
                    .set_max_width(rect.w as usize)
                    .set_max_height(rect.h as usize);
                let mut dec =
                    JpegDecoder::new_with_options(ZCursor::new(&u.bytes[range.clone()]), options);
                dec.decode_into(&mut out[..rect.area() * BPP])
                    .expect("JPEG decode");
            }
        })
    })
}

/// Mean absolute difference of the B, G, R bytes (JPEG fills X with 255).
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let (mut sum, mut n) = (0u64, 0u64);
    for (p, q) in a.chunks_exact(BPP).zip(b.chunks_exact(BPP)) {
        sum += (0..3).map(|c| p[c].abs_diff(q[c]) as u64).sum::<u64>();
        n += 3;
    }
    sum as f64 / n.max(1) as f64
}

fn print_table(cases: &mut [Case]) {
    let medians: Vec<f64> = cases
        .iter_mut()
        .map(|c| common::median_secs(&mut c.samples))
        .collect();
    println!(
        "  {:<50} {:>9} {:>9} {:>8} {:>10}",
        "case", "ms/frame", "x memcpy", "x alone", "bytes in"
    );
    for (c, &t) in cases.iter().zip(&medians) {
        let alone = c
            .alone
            .map_or("-".to_string(), |i| format!("{:.3}x", t / medians[i]));
        println!(
            "  {:<50} {:>9.3} {:>8.3}x {:>8} {:>10}",
            c.name,
            t * 1e3,
            t / medians[0],
            alone,
            c.bytes
        );
    }
}
