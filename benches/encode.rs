//! `cargo bench --bench encode` (or `make bench`): the banded JPEG encoder
//! against a plain whole-image `jpeg-encoder` run on the same pixels, timed
//! in the same process. Prints a table; speeds are ratios to that reference.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::desktop;
use jpeg_encoder::{ColorType, Encoder};
use vncmon::jpeg::BandedEncoder;
use vncmon::screen::Rect;

const QUALITY: u8 = 80;
/// Sampling time per screen size (after one warm-up round).
const BUDGET: Duration = Duration::from_secs(8);

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "banded JPEG encoder, quality {QUALITY}, {cores} core(s); median time per frame; \
         ratio = time / reference (lower is faster)"
    );
    for (w, h) in [(1280, 720), (1920, 1080)] {
        run(w, h, cores);
    }
}

/// One row of the table: a name and a frame step returning the JPEG size (if any).
struct Case<'a> {
    name: String,
    step: Box<dyn FnMut() -> Option<usize> + 'a>,
    samples: Vec<Duration>,
    bytes: Option<usize>,
}

impl<'a> Case<'a> {
    fn new(name: String, step: impl FnMut() -> Option<usize> + 'a) -> Case<'a> {
        let step = Box::new(step);
        Case {
            name,
            step,
            samples: Vec::new(),
            bytes: None,
        }
    }
}

fn run(w: u16, h: u16, cores: usize) {
    let (a, b) = (&desktop(w, h, 1), &desktop(w, h, 2));
    let all = &vec![true; a.fb.bands()];
    let mut cases = Vec::new();

    // (a) reference: one whole-image encode, no restart markers.
    let mut out = Vec::with_capacity(1 << 20);
    cases.push(Case::new(
        "(a) reference: whole image, jpeg-encoder".into(),
        move || {
            out.clear();
            Encoder::new(&mut out, QUALITY)
                .encode(a.fb.data(), w, h, ColorType::Bgra)
                .expect("reference encode");
            Some(black_box(&out).len())
        },
    ));

    // (b) the whole screen changes every frame: alternate between two desktops.
    let mut thread_counts = vec![1, cores];
    thread_counts.dedup();
    for threads in thread_counts {
        let mut enc = BandedEncoder::new(QUALITY, threads);
        let mut flip = false;
        let mut size_of_a = None;
        let name = format!("(b) banded, whole screen changed, {threads} thread(s)");
        cases.push(Case::new(name, move || {
            flip = !flip;
            let s = if flip { a } else { b };
            let jpeg = enc.encode(s, all).expect("encode").expect("a frame");
            if flip {
                size_of_a = Some(jpeg.len());
            }
            black_box(jpeg);
            size_of_a
        }));
    }

    // (c) a blinking caret in a text window: one band changes.
    let mut s = desktop(w, h, 1);
    let mut enc = BandedEncoder::new(QUALITY, cores);
    enc.encode(&s, all).expect("encode");
    let caret = Rect::new(w / 3, 16 * 10 + 1, 2, 14);
    let mut on = false;
    let name = format!("(c) banded, caret blink (1 band), {cores} thread(s)");
    cases.push(Case::new(name, move || {
        on = !on;
        let px = if on {
            [20, 20, 20, 0]
        } else {
            [235, 235, 235, 0]
        };
        s.fb.fill_rect(caret, px).expect("caret inside the screen");
        let dirty = s.fb.take_dirty();
        let before = enc.bands_encoded();
        let jpeg = enc.encode(&s, &dirty).expect("encode").expect("a frame");
        assert_eq!(enc.bands_encoded(), before + 1, "one band per caret frame");
        Some(black_box(jpeg).len())
    }));

    // (d) nothing changed but every band is flagged dirty.
    let mut enc = BandedEncoder::new(QUALITY, cores);
    enc.encode(a, all).expect("encode");
    let name = format!("(d) banded, unchanged, all dirty, {cores} thread(s)");
    cases.push(Case::new(name, move || {
        let r = enc.encode(a, all).expect("encode");
        assert!(r.is_none(), "unchanged screen is not re-encoded");
        None
    }));

    // Interleaved rounds: every case runs once per round, so a machine that
    // gets busier or quieter during the run shifts all rows alike.
    for case in cases.iter_mut() {
        (case.step)(); // warm-up
    }
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < 5 || start.elapsed() < BUDGET {
        for case in cases.iter_mut() {
            let t = Instant::now();
            case.bytes = (case.step)();
            case.samples.push(t.elapsed());
        }
        rounds += 1;
    }
    print_table(w, h, rounds, &mut cases);
}

fn print_table(w: u16, h: u16, rounds: usize, cases: &mut [Case]) {
    let medians: Vec<f64> = cases
        .iter_mut()
        .map(|c| common::median_secs(&mut c.samples))
        .collect();
    let reference = medians[0];
    println!();
    println!("{w}x{h} ({rounds} rounds)");
    println!(
        "  {:<52} {:>10} {:>9} {:>11}",
        "case", "ms/frame", "ratio", "JPEG bytes"
    );
    for (c, t) in cases.iter().zip(medians) {
        let bytes = c.bytes.map_or("-".to_string(), |b| b.to_string());
        println!(
            "  {:<52} {:>10.3} {:>8.3}x {:>11}",
            c.name,
            t * 1e3,
            t / reference,
            bytes
        );
    }
}
