//! The HTTP server and vncmon's routes, in process: a hub fed with real JPEGs,
//! `serve` on 127.0.0.1:0, raw `TcpStream` clients with timeouts.

mod http_support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_support::*;
use vncmon::app::App;
use vncmon::http::{Handler, Limits, Request, Response};
use vncmon::hub::Hub;

/// Reads one MJPEG part (headers and JPEG) and checks its framing exactly.
fn read_part(c: &mut Client) -> Vec<u8> {
    let headers = String::from_utf8(c.read_until(b"\r\n\r\n")).unwrap();
    let len: usize = headers
        .strip_prefix("Content-Type: image/jpeg\r\nContent-Length: ")
        .and_then(|r| r.strip_suffix("\r\n\r\n"))
        .unwrap_or_else(|| panic!("unexpected part headers {headers:?}"))
        .parse()
        .unwrap();
    let jpeg = c.read_exact(len);
    assert_eq!(
        c.read_exact(11),
        b"\r\n--frame\r\n",
        "boundary after the part"
    );
    jpeg
}

/// Opens a stream at `target` and reads its head and first boundary line.
fn open_stream(s: &TestServer, target: &str) -> Client {
    let mut c = s.client();
    c.request("GET", target, "");
    let head = c.read_head();
    assert_eq!(head.status, 200, "{}", head.head);
    assert_eq!(
        head.header("content-type"),
        Some("multipart/x-mixed-replace; boundary=frame")
    );
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("content-length"), None);
    assert_eq!(c.read_exact(9), b"--frame\r\n");
    c
}

#[test]
fn mjpeg_framing_is_exact_and_the_boundary_comes_with_the_frame() {
    let s = TestServer::start(test_limits());
    let a = jpeg(64, 48, 1);
    s.hub().publish(a.clone(), 64, 48);
    for target in ["/video_feed", "/stream", "/?action=stream"] {
        let mut c = open_stream(&s, target);
        let headers = String::from_utf8(c.read_until(b"\r\n\r\n")).unwrap();
        assert_eq!(
            headers,
            format!(
                "Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                a.len()
            )
        );
        assert_eq!(c.read_exact(a.len()), a);
        // Nothing new is published: the boundary must already be here, sent
        // with the frame, not with the next one (or the re-send a second later).
        assert!(c.available_now(11), "boundary line not sent with the frame");
        assert_eq!(c.read_exact(11), b"\r\n--frame\r\n");
        assert_eq!(decode(&a), (64, 48));
    }
}

#[test]
fn a_new_frame_reaches_a_waiting_client() {
    let s = TestServer::start(test_limits());
    s.hub().publish(jpeg(32, 32, 1), 32, 32);
    let mut c = open_stream(&s, "/video_feed");
    assert_eq!(decode(&read_part(&mut c)), (32, 32));
    let b = jpeg(80, 16, 9);
    s.hub().publish(b.clone(), 80, 16);
    // A re-send of the first frame may already be on its way; the new one follows.
    let got = (0..5).map(|_| read_part(&mut c)).find(|p| *p == b);
    assert_eq!(got.map(|p| decode(&p)), Some((80, 16)));
}

#[test]
fn the_last_frame_is_resent_when_nothing_changes() {
    let s = TestServer::start(test_limits());
    let a = jpeg(16, 16, 3);
    s.hub().publish(a.clone(), 16, 16);
    let mut c = open_stream(&s, "/video_feed");
    assert_eq!(read_part(&mut c), a);
    assert_eq!(read_part(&mut c), a);
    assert_eq!(s.hub().frames_encoded(), 1);
}

#[test]
fn a_client_leaving_mid_stream_frees_its_thread_and_slot() {
    let s = TestServer::start(Limits {
        max_connections: 1,
        ..test_limits()
    });
    // Before any frame: nothing is written, the departure is still noticed.
    let c = open_stream(&s, "/video_feed");
    wait_until("a viewer", || s.hub().clients() == 1);
    drop(c);
    wait_until("no viewers", || s.hub().clients() == 0);

    s.hub().publish(jpeg(16, 16, 1), 16, 16);
    let mut c = open_stream(&s, "/video_feed");
    read_part(&mut c);
    assert_eq!(s.hub().clients(), 1);
    drop(c);
    s.hub().publish(jpeg(16, 16, 2), 16, 16);
    wait_until("no viewers", || s.hub().clients() == 0);
    // The only connection slot is free again.
    wait_until("a slot", || get(s.addr, "GET", "/api/status").status == 200);
}

#[test]
fn a_client_that_stops_reading_is_dropped_at_the_write_timeout() {
    let s = TestServer::start(Limits {
        write_timeout: Duration::from_millis(300),
        ..test_limits()
    });
    let _stalled = open_stream(&s, "/video_feed");
    wait_until("a viewer", || s.hub().clients() == 1);
    // Big frames fill the socket buffers; the client never reads them.
    let big = vec![0x55u8; 1 << 20];
    let mut published = 0;
    wait_until("the stalled viewer to be dropped", || {
        if published < 200 {
            s.hub().publish(big.clone(), 1, 1);
            published += 1;
        }
        s.hub().clients() == 0
    });
}

#[test]
fn closing_the_hub_ends_streams() {
    let s = TestServer::start(test_limits());
    s.hub().publish(jpeg(16, 16, 1), 16, 16);
    let mut c = open_stream(&s, "/video_feed");
    read_part(&mut c);
    s.hub().close();
    assert!(c.closed_by_server());
    wait_until("no viewers", || s.hub().clients() == 0);
}

#[test]
fn past_the_connection_cap_the_answer_is_503() {
    let s = TestServer::start(Limits {
        max_connections: 2,
        ..test_limits()
    });
    let a = open_stream(&s, "/video_feed");
    let _b = open_stream(&s, "/video_feed");
    let r = get(s.addr, "GET", "/api/status");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["success"], false);
    assert!(r.json()["error"].as_str().unwrap().contains("too many"));
    assert_eq!(r.header("connection"), Some("close"));
    drop(a);
    wait_until("a freed slot", || {
        get(s.addr, "GET", "/api/status").status == 200
    });
}

#[test]
fn one_client_cannot_take_every_slot() {
    let s = TestServer::start(Limits {
        max_connections: 8,
        max_per_client: 2,
        ..test_limits()
    });
    let a = open_stream(&s, "/video_feed");
    let _b = open_stream(&s, "/video_feed");
    wait_until("two viewers", || s.hub().clients() == 2);
    // The third connection from this address is refused although slots are free.
    let r = get(s.addr, "GET", "/api/status");
    assert_eq!(r.status, 503);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("from your address"),
        "{}",
        r.json()
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    // Its slot is given back when a connection ends.
    drop(a);
    wait_until("a freed slot for this address", || {
        get(s.addr, "GET", "/api/status").status == 200
    });
}

#[test]
fn an_oversized_head_gets_431() {
    let s = TestServer::start(test_limits());
    let mut c = s.client();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20 * 1024));
    c.send(big.as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 431);
    assert_eq!(r.json()["success"], false);
    assert!(c.closed_by_server());

    let mut c = s.client();
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    c.request("GET", "/", &many);
    assert_eq!(c.read_response().status, 431);
}

#[test]
fn bodies_too_large_or_chunked_are_refused() {
    let s = TestServer::start(test_limits());
    let mut c = s.client();
    c.request("POST", "/api/connect", "Content-Length: 100000\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("too large"));
    assert!(c.closed_by_server());

    let mut c = s.client();
    c.request("POST", "/api/connect", "Transfer-Encoding: chunked\r\n");
    c.send(b"5\r\nhello\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 411);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("Content-Length")
    );

    // A body within the cap is read and the connection stays usable.
    let mut c = s.client();
    c.request("POST", "/api/connect", "Content-Length: 5\r\n");
    c.send(b"hello");
    assert_eq!(c.read_response().status, 200);
    c.request("GET", "/api/status", "");
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn garbage_gets_400() {
    let s = TestServer::start(test_limits());
    for raw in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/3.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let mut c = s.client();
        c.send(raw);
        let r = c.read_response();
        assert_eq!(r.status, 400, "{raw:?}");
        assert_eq!(r.json()["success"], false);
        assert!(c.closed_by_server());
    }
}

#[test]
fn unknown_paths_404_and_wrong_methods_405() {
    let s = TestServer::start(test_limits());
    let r = get(s.addr, "GET", "/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["success"], false);
    assert!(r.json()["error"].is_string());

    let r = get(s.addr, "POST", "/api/status");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(r.json()["success"], false);
    let r = get(s.addr, "GET", "/api/connect");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let r = get(s.addr, "PUT", "/video_feed");
    assert_eq!(r.status, 405);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let s = TestServer::start(test_limits());
    let mut c = s.client();
    c.request("GET", "/api/status", "");
    let r = c.read_response();
    assert_eq!((r.status, r.header("connection")), (200, None));
    c.request("GET", "/api/screenshot", "");
    assert_eq!(c.read_response().status, 404);
    // Two pipelined requests in one write.
    c.send(b"GET /api/status HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    assert_eq!(c.read_response().status, 404);
    c.request("GET", "/api/status", "Connection: close\r\n");
    let r = c.read_response();
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert!(c.closed_by_server());

    // HTTP/1.0 gets one answer, then the connection closes.
    let mut c = s.client();
    c.send(b"GET /api/status HTTP/1.0\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    assert!(c.closed_by_server());
}

#[test]
fn snapshot_waits_then_503_before_the_first_frame() {
    let s = TestServer::start(test_limits());
    let r = get(s.addr, "GET", "/snapshot.jpg");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["success"], false);

    let a = jpeg(40, 30, 5);
    s.hub().publish(a.clone(), 40, 30);
    for target in ["/snapshot.jpg", "/?action=snapshot"] {
        let r = get(s.addr, "GET", target);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.body, a);
        assert_eq!(decode(&r.body), (40, 30));
    }
}

#[test]
fn a_snapshot_request_gets_a_frame_published_while_it_waits() {
    let s = TestServer::start(test_limits());
    let mut c = s.client();
    c.request("GET", "/snapshot.jpg", "");
    let a = jpeg(8, 8, 1);
    s.hub().publish(a.clone(), 8, 8);
    let r = c.read_response();
    assert_eq!((r.status, r.body), (200, a));
}

#[test]
fn api_screenshot_is_a_data_url() {
    let s = TestServer::start(test_limits());
    let r = get(s.addr, "GET", "/api/screenshot");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"success": false, "error": "No screenshot available"})
    );

    let a = jpeg(24, 24, 7);
    s.hub().publish(a.clone(), 24, 24);
    let v = get(s.addr, "GET", "/api/screenshot").json();
    assert_eq!(v["success"], true);
    let b64 = v["image"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/jpeg;base64,")
        .expect("a JPEG data URL");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(bytes, a);
}

#[test]
fn api_status_reports_the_session() {
    let s = TestServer::start(test_limits());
    let v = get(s.addr, "GET", "/api/status").json();
    assert_eq!(v["connected"], false);
    assert_eq!(v["last_error"], serde_json::Value::Null);
    assert_eq!(v["frames_encoded"], 0);

    s.hub().update_status(|st| {
        st.connected = true;
        st.width = 1280;
        st.height = 800;
        st.desktop_name = "pi:1 (kiosk)".into();
        st.last_error = Some("earlier: connection reset".into());
        st.fps = 12.345;
        st.rects = vec![("zrle", 40), ("cursor", 1)];
    });
    s.hub().publish(jpeg(16, 16, 1), 16, 16);
    s.hub().publish(jpeg(16, 16, 2), 16, 16);
    let _viewer = open_stream(&s, "/video_feed");
    wait_until("a viewer", || s.hub().clients() == 1);
    let v = get(s.addr, "GET", "/api/status").json();
    assert_eq!(
        v,
        serde_json::json!({
            "connected": true,
            "monitoring": true,
            "scenario": null,
            "file": null,
            "current_step": 0,
            "total_steps": 0,
            "is_executing": false,
            "last_result": null,
            "width": 1280,
            "height": 800,
            "fps": 12.3,
            "clients": 1,
            "frames_encoded": 2,
            "last_error": "earlier: connection reset",
            "server": VNC_ADDR,
            "desktop_name": "pi:1 (kiosk)",
            "view_only": false,
            "rects": {"zrle": 40, "cursor": 1},
        })
    );
}

#[test]
fn connect_and_disconnect_flip_monitoring() {
    let s = TestServer::start(test_limits());
    assert!(s.app.control.monitoring());
    let r = get(s.addr, "POST", "/api/disconnect");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["success"], true);
    assert!(r.json()["message"].as_str().unwrap().contains(VNC_ADDR));
    assert!(!s.app.control.monitoring());
    assert_eq!(
        get(s.addr, "GET", "/api/status").json()["monitoring"],
        false
    );

    let r = get(s.addr, "POST", "/api/connect");
    assert_eq!(
        (r.status, &r.json()["success"]),
        (200, &serde_json::json!(true))
    );
    assert!(s.app.control.monitoring());
}

#[test]
fn the_page_and_head_requests() {
    let s = TestServer::start(test_limits());
    let page = get(s.addr, "GET", "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("src=\"/video_feed\"") || html.contains("'/video_feed'"));
    assert!(html.contains("/api/status"));

    // HEAD: the same head, no body; the next request on the connection proves it.
    let mut c = s.client();
    c.request("HEAD", "/", "");
    let head = c.read_response_to(true);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(page.body.len().to_string().as_str())
    );
    c.request("GET", "/api/status", "");
    assert_eq!(c.read_response().status, 200);

    // HEAD of the stream: the head, then the connection closes.
    let mut c = s.client();
    c.request("HEAD", "/video_feed", "");
    let head = c.read_head();
    assert_eq!(
        head.header("content-type"),
        Some("multipart/x-mixed-replace; boundary=frame")
    );
    assert!(c.closed_by_server());
    assert_eq!(s.hub().clients(), 0);
}

#[test]
fn a_stalled_half_head_is_closed_at_the_read_timeout() {
    let s = TestServer::start(Limits {
        read_timeout: Duration::from_millis(300),
        ..test_limits()
    });
    let mut c = s.client();
    c.send(b"GET /api/status HTTP/1.1\r\nHost: te");
    let r = c.read_response();
    assert_eq!(r.status, 408);
    assert!(c.closed_by_server());

    // An idle keep-alive connection ends too, silently.
    let mut c = s.client();
    c.request("GET", "/api/status", "");
    assert_eq!(c.read_response().status, 200);
    assert!(c.closed_by_server());
}

#[test]
fn the_accept_loop_keeps_serving_after_many_connections() {
    let s = TestServer::start(Limits {
        max_connections: 4,
        ..test_limits()
    });
    for i in 0..300 {
        let mut c = s.client();
        match i % 3 {
            0 => drop(c),
            1 => {
                c.send(b"\x00\x01garbage\r\n\r\n");
                drop(c);
            }
            _ => {
                c.request("GET", "/api/status", "Connection: close\r\n");
                // 503 is fine while closed connections' threads finish.
                let status = c.read_response().status;
                assert!(status == 200 || status == 503, "{status}");
            }
        }
    }
    wait_until("a served request", || {
        get(s.addr, "GET", "/api/status").status == 200
    });
}

/// Panics on `/panic`, answers 200 otherwise.
struct Panicky;

impl Handler for Panicky {
    fn handle(&self, req: &Request) -> Response {
        assert!(req.path() != "/panic", "handler bug on purpose");
        Response::bytes(200, "text/plain", b"ok".to_vec())
    }
}

#[test]
fn a_panic_in_a_handler_is_a_500_and_harms_nothing_else() {
    let app = Arc::new(
        App::new(
            Arc::new(Hub::new()),
            vncmon::capture::Control::new(),
            Arc::new(config()),
        )
        .unwrap(),
    );
    let s = TestServer::start_with(test_limits(), app, Arc::new(Panicky));
    let mut other = s.client();
    other.request("GET", "/a", "");
    assert_eq!(other.read_response().status, 200);
    let r = get(s.addr, "GET", "/panic");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["success"], false);
    other.request("GET", "/b", "");
    assert_eq!(other.read_response().body, b"ok");
}

#[test]
fn serve_returns_when_stop_is_set() {
    let mut s = TestServer::start(test_limits());
    assert_eq!(get(s.addr, "GET", "/api/status").status, 200);
    assert!(s.shutdown());
}
