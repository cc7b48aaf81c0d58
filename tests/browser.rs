//! The web page in headless Chromium against `vncmon --demo`: the live
//! picture shows the demo's pixels and moves, the status panel fills in, the
//! Connect / Disconnect buttons drive the session, and the layout fits a
//! phone. Screenshots land in `target/tmp/browser/` for a human to look at.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::{RgbImage, Vncmon, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// Demo regions that never change by themselves, with distinct colours:
/// the header's title side, the text box, two buttons, the bottom background.
const STATIC_REGIONS: [(usize, usize, usize, usize); 5] = [
    (0, 0, 400, 56),
    (16, 228, 768, 64),
    (16, 308, 180, 64),
    (604, 308, 180, 64),
    (0, 444, 800, 36),
];

/// Draws the live `<img>` onto a canvas; returns its size, a hash of all its
/// pixels and the mean RGB of each region in `arguments[0]` (null before the
/// first frame).
const READ_PICTURE: &str = r#"
const img = document.getElementById('screen');
if (!img || !img.complete || img.naturalWidth === 0) { return null; }
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d', { willReadFrequently: true });
g.drawImage(img, 0, 0);
const all = g.getImageData(0, 0, c.width, c.height).data;
let hash = 0;
for (let i = 0; i < all.length; i += 1) { hash = (Math.imul(hash, 31) + all[i]) | 0; }
const means = arguments[0].map(([x, y, w, h]) => {
  const d = g.getImageData(x, y, w, h).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
  return sum.map((s) => s / (d.length / 4));
});
return { width: c.width, height: c.height, hash, means };
"#;

/// What the status panel shows.
const READ_PANEL: &str = r#"
const t = (id) => document.getElementById(id).textContent.trim();
const notice = document.getElementById('notice');
return {
  state: t('state'), tone: document.getElementById('state').className,
  resolution: t('resolution'), fps: t('fps'),
  notice: notice.hidden ? '' : t('notice'),
  connectEnabled: !document.getElementById('connect').disabled,
  disconnectEnabled: !document.getElementById('disconnect').disabled,
};
"#;

/// vncmon's demo and a browser showing its page.
fn open_page(width: u32, height: u32) -> (Vncmon, Browser) {
    let v = Vncmon::start(&["--demo"], None);
    v.wait_connected();
    let b = Browser::start(width, height);
    b.navigate(&format!("http://{}/", v.addr));
    (v, b)
}

/// Waits until the page's picture has its first frame, then reads it.
fn read_picture(b: &Browser) -> Value {
    let regions = json!(STATIC_REGIONS.map(|(x, y, w, h)| [x, y, w, h]));
    b.wait_js(WAIT, "a frame in the picture", READ_PICTURE, &[regions])
}

fn mean(img: &RgbImage, (x, y, w, h): (usize, usize, usize, usize)) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for yy in y..y + h {
        for xx in x..x + w {
            let p = img.pixel(xx, yy);
            for (s, c) in sum.iter_mut().zip([p.0, p.1, p.2]) {
                *s += f64::from(c);
            }
        }
    }
    sum.map(|s| s / (w * h) as f64)
}

fn assert_no_console_errors(b: &Browser) {
    let errors = b.console_errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[test]
fn live_picture_shows_the_demo_desktop_and_moves() {
    let (v, b) = open_page(1280, 800);
    assert_eq!(b.execute("return document.title", &[]), "vncmon");

    let pic = read_picture(&b);
    assert_eq!(
        (pic["width"].as_u64(), pic["height"].as_u64()),
        (Some(800), Some(480)),
        "{pic}"
    );

    // The same regions of /snapshot.jpg, decoded here: equal up to JPEG noise.
    let snap = v.snapshot().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((snap.width, snap.height), (800, 480));
    for (i, region) in STATIC_REGIONS.into_iter().enumerate() {
        let want = mean(&snap, region);
        let got: Vec<f64> = (0..3)
            .map(|c| pic["means"][i][c].as_f64().unwrap_or(-1.0))
            .collect();
        let off = want
            .iter()
            .zip(&got)
            .map(|(w, g)| (w - g).abs())
            .fold(0.0, f64::max);
        assert!(
            off <= 4.0,
            "region {region:?}: page {got:?}, snapshot {want:?}"
        );
    }
    // The reference itself is the demo: a dark header and a light text box.
    let (header, text_box) = (
        mean(&snap, STATIC_REGIONS[0]),
        mean(&snap, STATIC_REGIONS[1]),
    );
    assert!(header.iter().all(|&c| c < 80.0), "header {header:?}");
    assert!(text_box.iter().all(|&c| c > 180.0), "text box {text_box:?}");

    // The picture is live: the ball and the clock change what a later read sees.
    let first = pic["hash"].clone();
    let moved = wait_for(WAIT, || {
        let later = read_picture(&b);
        (later["hash"] != first).then_some(later)
    });
    assert!(moved.is_some(), "the picture in the page never changed");

    screenshot(&b, "desktop-1280x800");
    assert_no_console_errors(&b);
}

#[test]
fn status_panel_shows_connected_resolution_and_fps() {
    let (_v, b) = open_page(1280, 800);
    let panel = b.wait_js(
        WAIT,
        "connected, 800 × 480 and an fps value",
        &format!(
            "const p = (() => {{ {READ_PANEL} }})();
             return p.state === 'Connected' && p.tone.includes('ok')
               && p.resolution === '800 × 480' && /^\\d+\\.\\d fps$/.test(p.fps) ? p : null;"
        ),
        &[],
    );
    assert_eq!(panel["disconnectEnabled"], true, "{panel}");
    assert_eq!(panel["connectEnabled"], false, "{panel}");
    assert_no_console_errors(&b);
}

#[test]
fn disconnect_and_connect_buttons_drive_the_session() {
    let (v, b) = open_page(1280, 800);
    read_picture(&b);
    let connected = format!(
        "const p = (() => {{ {READ_PANEL} }})(); return p.state === 'Connected' ? p : null;"
    );
    b.wait_js(WAIT, "the Connected state", &connected, &[]);

    b.click(&b.find("#disconnect"));
    v.wait_status(WAIT, "monitoring:false", |s| s["monitoring"] == false);
    let panel = b.wait_js(
        WAIT,
        "the Disconnected state",
        &format!(
            "const p = (() => {{ {READ_PANEL} }})(); return p.state === 'Disconnected' ? p : null;"
        ),
        &[],
    );
    assert!(
        panel["tone"].as_str().unwrap_or("").contains("bad"),
        "{panel}"
    );
    assert_eq!(panel["connectEnabled"], true, "{panel}");
    assert_eq!(panel["disconnectEnabled"], false, "{panel}");
    assert_eq!(panel["fps"], "–", "{panel}");
    // The last frame stays, and the page says that it is the last one.
    assert!(
        panel["notice"]
            .as_str()
            .unwrap_or("")
            .contains("last frame"),
        "{panel}"
    );
    screenshot(&b, "desktop-disconnected");

    // Near its bottom-right corner: checks the pointer offsets of `click_at`.
    let connect = b.find("#connect");
    let r = b.rect(&connect);
    b.click_at(&connect, r.width - 4.0, r.height - 4.0, 0);
    v.wait_status(WAIT, "monitoring and connected", |s| {
        s["monitoring"] == true && s["connected"] == true
    });
    let panel = b.wait_js(WAIT, "the Connected state again", &connected, &[]);
    assert_eq!(panel["notice"], "", "{panel}");
    assert_eq!(panel["disconnectEnabled"], true, "{panel}");
    assert_no_console_errors(&b);
}

#[test]
fn phone_layout_has_no_horizontal_scroll_and_the_picture_fits() {
    let (_v, b) = open_page(500, 844);
    b.emulate_viewport(390, 844, true);
    read_picture(&b);
    // Wait for the status to render too: long texts must not widen the page.
    b.wait_js(
        WAIT,
        "the Connected state",
        "return document.getElementById('state').textContent === 'Connected'",
        &[],
    );
    let layout = b.execute(
        r#"const r = document.getElementById('screen').getBoundingClientRect();
           return { inner: window.innerWidth, scroll: document.documentElement.scrollWidth,
                    left: r.left, right: r.right, width: r.width, height: r.height };"#,
        &[],
    );
    let f = |k: &str| layout[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(
        f("inner"),
        390.0,
        "the phone viewport was not applied: {layout}"
    );
    assert!(f("scroll") <= f("inner"), "horizontal scrolling: {layout}");
    assert!(
        f("left") >= 0.0 && f("right") <= f("inner"),
        "picture past the edges: {layout}"
    );
    assert!(
        f("width") >= f("inner") - 32.0,
        "picture much narrower than the phone: {layout}"
    );
    // The 800×480 picture keeps its shape.
    assert!(
        (f("height") * 800.0 / 480.0 - f("width")).abs() <= 2.0,
        "picture distorted: {layout}"
    );

    screenshot(&b, "phone-390x844");
    assert_no_console_errors(&b);
}

/// Saves a screenshot; checks that it is a PNG of the whole viewport.
fn screenshot(b: &Browser, name: &str) {
    let shot = b.screenshot(name);
    let view = b.execute("return [innerWidth, innerHeight]", &[]);
    let view = (view[0].as_u64(), view[1].as_u64());
    let png = png_size(&shot).map(|(w, h)| (Some(u64::from(w)), Some(u64::from(h))));
    assert_eq!(png, Some(view), "{} is not the viewport", shot.display());
}

/// Width and height from a PNG file's IHDR chunk.
fn png_size(path: &std::path::Path) -> Option<(u32, u32)> {
    let png = std::fs::read(path).ok()?;
    let word = |at: usize| Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?));
    png.starts_with(b"\x89PNG\r\n\x1a\n").then_some(())?;
    Some((word(16)?, word(20)?))
}
