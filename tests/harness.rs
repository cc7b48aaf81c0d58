//! Tests of the test harness itself (tests/common): they need the X and VNC
//! servers from Debian's packages but not vncmon's own code.

mod common;

use std::time::Duration;

use common::alloc::{TempFile, free_display, free_port};
use common::x::rfb_greeting;
use common::{Auth, Kind, Rect, Rgb, RgbImage, Server, decode_jpeg, psnr, wait_until, xwd};

#[test]
fn psnr_of_known_images() {
    let a = RgbImage::new(10, 10, Rgb(100, 100, 100));
    assert_eq!(psnr(&a, &a, &[]).unwrap(), f64::INFINITY);
    // Every channel off by 10: MSE 100 → 10·log10(255²/100) ≈ 28.13 dB.
    let b = RgbImage::new(10, 10, Rgb(110, 90, 110));
    let p = psnr(&a, &b, &[]).unwrap();
    assert!((p - 28.13).abs() < 0.01, "{p}");
    // One bad pixel, excluded, leaves identical images.
    let mut c = a.clone();
    c.set(3, 4, Rgb(0, 255, 0));
    assert!(psnr(&a, &c, &[]).unwrap() < 40.0);
    assert_eq!(
        psnr(&a, &c, &[Rect::new(3, 4, 1, 1)]).unwrap(),
        f64::INFINITY
    );
    assert!(psnr(&a, &RgbImage::new(10, 9, Rgb(0, 0, 0)), &[]).is_err());
    assert!(psnr(&a, &a, &[Rect::new(-5, -5, 20, 20)]).is_err());
}

#[test]
fn jpeg_round_trip_of_the_test_pattern() {
    let img = RgbImage::pattern(200, 120, 3);
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(&img.data, 200, 120, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let back = decode_jpeg(&jpeg).unwrap();
    assert_eq!((back.width, back.height), (200, 120));
    let p = psnr(&img, &back, &[]).unwrap();
    assert!(p > 30.0, "quality 80 gave {p:.1} dB");
    assert!(decode_jpeg(b"not a jpeg").is_err());
}

#[test]
fn xwd_round_trip_and_bad_input() {
    let img = RgbImage::pattern(33, 17, 1);
    let file = xwd::write(&img, "t");
    assert_eq!(xwd::parse(&file).unwrap(), img);
    assert!(xwd::parse(&file[..file.len() - 1]).is_err());
    assert!(xwd::parse(&file[..50]).is_err());
    assert!(xwd::parse(&[0u8; 200]).is_err());
}

#[test]
fn ports_and_displays_are_not_handed_out_twice() {
    let ports: std::collections::HashSet<u16> = (0..50).map(|_| free_port()).collect();
    assert_eq!(ports.len(), 50);
    let displays: std::collections::HashSet<u32> = (0..20).map(|_| free_display()).collect();
    assert_eq!(displays.len(), 20);
    assert!(displays.iter().all(|d| *d >= 40));
}

#[test]
fn temp_files_go_away() {
    let f = TempFile::with_contents("t", "txt", b"hi");
    let path = f.path.clone();
    assert_eq!(std::fs::read(&path).unwrap(), b"hi");
    drop(f);
    assert!(!path.exists());
}

/// Starts a server, checks the RFB greeting, paints the root and finds the
/// colour in an xwd capture; stops it and checks the port is closed.
fn server_round_trip(kind: Kind, auth: Auth) {
    let mut s = Server::start(kind, 200, 150, auth);
    assert_eq!(
        rfb_greeting(s.port).as_deref(),
        Some("RFB 003.008\n"),
        "{}",
        s.logs()
    );
    let red = Rgb(200, 30, 40);
    s.set_root(red);
    let cap = s.settle();
    assert_eq!((cap.width, cap.height), (200, 150));
    assert_eq!(cap.fraction_near(red, 0, &[]), 1.0);
    let green = Rgb(10, 220, 90);
    s.set_root(green);
    assert!(wait_until(Duration::from_secs(5), || {
        s.capture().fraction_near(green, 0, &[]) == 1.0
    }));
    let port = s.port;
    s.stop_vnc();
    assert!(rfb_greeting(port).is_none(), "port {port} still answers");
    s.restart_vnc();
    assert_eq!(s.port, port);
    assert!(rfb_greeting(port).is_some());
}

#[test]
fn xtigervnc_starts_draws_and_stops() {
    server_round_trip(Kind::Tiger, Auth::None);
}

#[test]
fn xvfb_x11vnc_starts_draws_and_stops() {
    server_round_trip(Kind::Xvfb, Auth::Password("s3cret".into()));
}

#[test]
fn scene_shows_the_picture_and_the_xterm() {
    let mut s = Server::start(Kind::Xvfb, 320, 240, Auth::None);
    let cap = s.draw_scene(1);
    // The xwud picture sits at (8, 8) unchanged.
    let pattern = RgbImage::pattern(128, 96, 1);
    for (x, y) in [(0, 0), (50, 20), (127, 95), (64, 70)] {
        assert_eq!(cap.pixel(8 + x, 8 + y), pattern.pixel(x, y), "at ({x},{y})");
    }
    // The root colour shows right of the picture; the xterm is white with black text.
    assert_eq!(cap.pixel(300, 10), Rgb(150, 40, 40));
    let xterm = Rect::new(170, 154, 120, 40);
    let mut whites = 0;
    let mut blacks = 0;
    for y in xterm.y..xterm.y + xterm.h {
        for x in xterm.x..xterm.x + xterm.w {
            match cap.pixel(x as usize, y as usize) {
                Rgb(255, 255, 255) => whites += 1,
                Rgb(0, 0, 0) => blacks += 1,
                _ => {}
            }
        }
    }
    assert!(
        whites > 2000 && blacks > 200,
        "white {whites}, black {blacks}"
    );
    assert_eq!(s.pointer(), (160, 120));
    // The same variant draws the same screen again.
    let again = s.draw_scene(1);
    let diff: Vec<(usize, usize)> = (0..cap.height)
        .flat_map(|y| (0..cap.width).map(move |x| (x, y)))
        .filter(|&(x, y)| cap.pixel(x, y) != again.pixel(x, y))
        .collect();
    assert!(
        diff.is_empty(),
        "{} pixels differ, first {:?}",
        diff.len(),
        &diff[..diff.len().min(8)]
    );
}

#[test]
fn xtigervnc_resizes_with_xrandr() {
    let mut s = Server::start(Kind::Tiger, 320, 240, Auth::None);
    s.resize(640, 480);
    let cap = s.capture();
    assert_eq!((cap.width, cap.height), (640, 480));
}

/// The scenes the acceptance tests draw survive a quality-80 JPEG (what
/// vncmon serves by default) well above the 30 dB bound they use.
#[test]
fn scenes_are_jpeg_friendly() {
    let mut s = Server::start(Kind::Tiger, 330, 250, Auth::None);
    for variant in 0..3 {
        let cap = s.draw_scene(variant);
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&cap.data, 330, 250, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let p = psnr(&cap, &decode_jpeg(&jpeg).unwrap(), &[]).unwrap();
        eprintln!("scene {variant}: {p:.1} dB");
        assert!(p > 33.0, "scene {variant} at quality 80: {p:.1} dB");
    }
}

/// Serves one canned response to the first connection, then closes it.
fn one_shot_server(response: Vec<u8>) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&response);
        }
    });
    addr
}

#[test]
fn mjpeg_reader_checks_the_framing() {
    let img = RgbImage::pattern(32, 16, 0);
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 90)
        .encode(&img.data, 32, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let head =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n";
    let part = |len: usize| {
        let mut p = format!("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n")
            .into_bytes();
        p.extend_from_slice(&jpeg);
        p.extend_from_slice(b"\r\n");
        p
    };
    let mut good = head.to_vec();
    good.extend(part(jpeg.len()));
    good.extend(part(jpeg.len()));
    let mut s = common::MjpegStream::open(&one_shot_server(good), "/video_feed").unwrap();
    for _ in 0..2 {
        let got = s.next_image(Duration::from_secs(5)).unwrap();
        assert!(psnr(&img, &got, &[]).unwrap() > 30.0);
    }
    assert!(
        s.next_jpeg(Duration::from_secs(5))
            .unwrap_err()
            .contains("closed")
    );

    // A wrong Content-Length leaves the reader off the boundary: an error, not a frame.
    let mut bad = head.to_vec();
    bad.extend(part(jpeg.len() - 3));
    bad.extend(part(jpeg.len()));
    let mut s = common::MjpegStream::open(&one_shot_server(bad), "/video_feed").unwrap();
    assert!(s.next_jpeg(Duration::from_secs(5)).is_err());

    let plain =
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 0\r\n\r\n".to_vec();
    assert!(common::MjpegStream::open(&one_shot_server(plain), "/video_feed").is_err());
}

#[test]
fn http_get_reads_lengths_and_chunks() {
    let r = common::http::request(
        &one_shot_server(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!extra".to_vec()),
        "GET",
        "/x",
        b"",
    )
    .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (404, &b"nope!"[..]));
    let r = common::get(
        &one_shot_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5\r\n\":1}\n\r\n0\r\n\r\n".to_vec(),
        ),
        "/",
    );
    assert_eq!(r.json()["a"], 1);
    assert!(wait_until(Duration::from_millis(500), || true));
    assert!(!wait_until(Duration::from_millis(100), || false));
}
