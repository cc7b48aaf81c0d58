//! The RFB client against a scripted fake server: handshakes for 3.3, 3.7
//! and 3.8, VNC authentication, every refusal and fault the client must turn
//! into a clear `RfbError`, and input sent while the reader is idle.

mod fake;

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use fake::{FakeServer, Peer, update_with_rect};
use vncmon::rfb::{Event, RfbError, Session};
use vncmon::screen::Screen;

/// Connects to `server`, expecting the handshake to fail; returns the error
/// once the fake server's script has ended too.
fn connect_err(server: FakeServer, password: Option<&str>) -> RfbError {
    let result = Session::connect(&server.opts(password));
    let _ = server.join();
    match result {
        Ok(_) => panic!("the handshake should have failed"),
        Err(e) => e,
    }
}

/// A session past a 3.8 handshake with a `width`×`height` screen; the server
/// then runs `rest`.
fn session_with(
    width: u16,
    height: u16,
    rest: impl FnOnce(&mut Peer) -> fake::Script + Send + 'static,
) -> (Session, Screen, FakeServer) {
    let server = FakeServer::start(move |p| {
        p.handshake(width, height, "fake")?;
        rest(p)
    });
    let session = Session::connect(&server.opts(None)).expect("handshake");
    let screen = Screen::new(session.width(), session.height());
    (session, screen, server)
}

// ---- handshakes ----

#[test]
fn handshake_3_3_with_none() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.003\n", b"RFB 003.003\n")?;
        p.security_none(3)?;
        p.init(640, 480, "three-three")
    });
    let s = Session::connect(&server.opts(None)).expect("connect");
    assert_eq!((s.width(), s.height(), s.name()), (640, 480, "three-three"));
    drop(s);
    server.join().unwrap();
}

#[test]
fn handshake_3_7_with_none_has_no_security_result() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.007\n", b"RFB 003.007\n")?;
        p.security_none(7)?;
        p.init(800, 600, "three-seven")
    });
    let s = Session::connect(&server.opts(None)).expect("connect");
    assert_eq!((s.width(), s.height(), s.name()), (800, 600, "three-seven"));
    drop(s);
    server.join().unwrap();
}

#[test]
fn handshake_3_8_with_none_then_an_update_request() {
    let server = FakeServer::start(|p| {
        p.handshake(1024, 768, "Ünïcode desk")?;
        p.expect("FramebufferUpdateRequest", &[3, 0, 0, 0, 0, 0, 4, 0, 3, 0])?;
        p.expect("incremental request", &[3, 1, 0, 0, 0, 0, 4, 0, 3, 0])
    });
    let s = Session::connect(&server.opts(None)).expect("connect");
    assert_eq!(
        (s.width(), s.height(), s.name()),
        (1024, 768, "Ünïcode desk")
    );
    let screen = Screen::new(s.width(), s.height());
    s.request_update(false, &screen).unwrap();
    s.request_update(true, &screen).unwrap();
    drop(s);
    server.join().unwrap();
}

#[test]
fn odd_versions_are_answered_with_one_vncmon_speaks() {
    for (offered, answer, minor) in [
        (b"RFB 003.005\n", b"RFB 003.003\n", 3),
        (b"RFB 003.889\n", b"RFB 003.008\n", 8),
        (b"RFB 004.001\n", b"RFB 003.008\n", 8),
    ] {
        let server = FakeServer::start(move |p| {
            p.version(offered, answer)?;
            p.security_none(minor)?;
            p.init(8, 8, "odd")
        });
        let s = Session::connect(&server.opts(None));
        assert!(s.is_ok(), "{offered:?}: {:?}", s.err());
        drop(s);
        server.join().unwrap();
    }
}

// ---- VNC authentication ----

/// The VNC response computed independently of vncmon: DES-ECB with the
/// password's bytes bit-mirrored one by one.
fn expected_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, &p) in key.iter_mut().zip(password) {
        *k = (0..8).fold(0, |acc, bit| acc | ((p >> bit) & 1) << (7 - bit));
    }
    let des = Des::new(&key.into());
    let mut out = [0u8; 16];
    for (o, c) in out.chunks_exact_mut(8).zip(challenge.chunks_exact(8)) {
        let mut block = [0u8; 8];
        block.copy_from_slice(c);
        let mut block = block.into();
        des.encrypt_block(&mut block);
        o.copy_from_slice(&block);
    }
    out
}

const CHALLENGE: [u8; 16] = *b"\x01\x9f\x42\x00\xfe\x10\x77\x3c\xaa\x55\x08\xc1\x3d\x00\xe4\x5a";

#[test]
fn vnc_auth_3_8_sends_the_des_response() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.send(&[2, 16, 2])?;
        p.expect("chosen security type", &[2])?;
        p.send(&CHALLENGE)?;
        p.expect("DES response", &expected_response(b"sesame12", &CHALLENGE))?;
        p.send(&0u32.to_be_bytes())?;
        p.init(320, 200, "locked")
    });
    // Only the first 8 bytes of the password count.
    let s = Session::connect(&server.opts(Some("sesame12-and-more"))).expect("connect");
    assert_eq!(s.name(), "locked");
    drop(s);
    server.join().unwrap();
}

#[test]
fn vnc_auth_3_3_short_password_is_zero_padded() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.003\n", b"RFB 003.003\n")?;
        p.send(&2u32.to_be_bytes())?;
        p.send(&CHALLENGE)?;
        p.expect("DES response", &expected_response(b"pw", &CHALLENGE))?;
        p.send(&0u32.to_be_bytes())?;
        p.init(320, 200, "old")
    });
    let s = Session::connect(&server.opts(Some("pw"))).expect("connect");
    assert_eq!(s.name(), "old");
    drop(s);
    server.join().unwrap();
}

#[test]
fn auth_failure_3_8_carries_the_servers_reason() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.send(&[1, 2])?;
        p.expect("chosen security type", &[2])?;
        p.send(&CHALLENGE)?;
        p.read(16)?;
        p.send(&1u32.to_be_bytes())?;
        let reason = b"Authentication failure: wrong password";
        p.send(&(reason.len() as u32).to_be_bytes())?;
        p.send(reason)
    });
    match connect_err(server, Some("wrong")) {
        RfbError::AuthFailed(r) => assert_eq!(r, "Authentication failure: wrong password"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn auth_failure_3_7_has_a_clear_text_without_a_reason() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.007\n", b"RFB 003.007\n")?;
        p.send(&[1, 2])?;
        p.expect("chosen security type", &[2])?;
        p.send(&CHALLENGE)?;
        p.read(16)?;
        p.send(&1u32.to_be_bytes())
    });
    let e = connect_err(server, Some("wrong"));
    assert!(matches!(e, RfbError::AuthFailed(_)), "{e:?}");
    assert!(e.to_string().contains("rejected the password"), "{e}");
}

#[test]
fn a_password_is_required_but_none_is_set() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.send(&[1, 2])
    });
    let e = connect_err(server, None);
    assert!(matches!(e, RfbError::PasswordRequired), "{e:?}");
}

// ---- refusals ----

#[test]
fn server_refusal_3_8_with_zero_types() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        let reason = b"Too many security failures";
        p.send(&[0])?;
        p.send(&(reason.len() as u32).to_be_bytes())?;
        p.send(reason)
    });
    let e = connect_err(server, None);
    assert!(
        matches!(&e, RfbError::ServerRefused(r) if r == "Too many security failures"),
        "{e:?}"
    );
    assert!(e.to_string().contains("Too many security failures"));
}

#[test]
fn server_refusal_3_3_with_type_zero() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.003\n", b"RFB 003.003\n")?;
        p.send(&0u32.to_be_bytes())?;
        p.send(&7u32.to_be_bytes())?;
        p.send(b"go away")
    });
    let e = connect_err(server, None);
    assert!(
        matches!(&e, RfbError::ServerRefused(r) if r == "go away"),
        "{e:?}"
    );
}

#[test]
fn no_supported_security_type() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.send(&[2, 16, 19])
    });
    let e = connect_err(server, Some("pw"));
    assert!(
        matches!(&e, RfbError::NoSupportedSecurity(t) if t == &[16, 19]),
        "{e:?}"
    );
}

#[test]
fn an_http_server_is_not_rfb() {
    let server = FakeServer::start(|p| p.send(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    let e = connect_err(server, None);
    assert!(
        matches!(&e, RfbError::NotRfb(got) if got == "HTTP/1.1 400"),
        "{e:?}"
    );
}

#[test]
fn connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // the listener is gone: nobody listens on that port now
    let opts = vncmon::rfb::ConnectOptions {
        addr: format!("127.0.0.1:{port}"),
        password: None,
        encodings: vec![0],
        connect_timeout: Duration::from_secs(2),
    };
    match Session::connect(&opts) {
        Err(RfbError::Connect { addr, source }) => {
            assert_eq!(addr, opts.addr);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("{:?}", other.err()),
    }
    let bad = vncmon::rfb::ConnectOptions {
        addr: "127.0.0.1".into(), // no port
        ..opts
    };
    assert!(matches!(
        Session::connect(&bad),
        Err(RfbError::Connect { .. })
    ));
}

#[test]
fn a_hostname_is_resolved() {
    let server = FakeServer::start(|p| p.handshake(16, 16, "by name"));
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let mut opts = server.opts(None);
    opts.addr = format!("localhost:{port}");
    let s = Session::connect(&opts).expect("connect by name");
    assert_eq!(s.name(), "by name");
    drop(s);
    server.join().unwrap();
}

#[test]
fn server_init_too_large() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.security_none(8)?;
        p.expect("ClientInit", &[1])?;
        p.send(&fake::server_init(60000, 60000, b"huge"))
    });
    let e = connect_err(server, None);
    assert!(
        matches!(&e, RfbError::Protocol(m) if m.contains("60000x60000")),
        "{e:?}"
    );
}

#[test]
fn server_init_huge_name_length() {
    let server = FakeServer::start(|p| {
        p.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        p.security_none(8)?;
        p.expect("ClientInit", &[1])?;
        let mut init = fake::server_init(64, 64, b"");
        let len = init.len();
        init[len - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
        p.send(&init)
    });
    let e = connect_err(server, None);
    assert!(
        matches!(&e, RfbError::Protocol(m) if m.contains("desktop name")),
        "{e:?}"
    );
}

// ---- server messages ----

#[test]
fn bell_colour_map_and_latin1_cut_text() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&[2])?; // Bell
        p.send(&[1, 0, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])?; // 2 colours
        p.send(&[3, 0, 0, 0, 0, 0, 0, 5, b'c', b'a', b'f', 0xe9, b'!'])
    });
    let mut next = || {
        assert!(s.wait_readable(Duration::from_secs(5)).unwrap());
        s.read_message(&mut screen).unwrap()
    };
    assert_eq!(next(), Event::Bell);
    assert_eq!(next(), Event::Ignored);
    assert_eq!(next(), Event::CutText("café!".into()));
    // The fake server is done: the client sees the socket close.
    assert!(s.wait_readable(Duration::from_secs(5)).is_err());
    drop(s);
    server.join().unwrap();
}

#[test]
fn huge_cut_text_is_refused_before_allocating() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&[3, 0, 0, 0])?;
        p.send(&0xffff_fff0u32.to_be_bytes())
    });
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(
        matches!(&e, RfbError::Protocol(m) if m.contains("ServerCutText")),
        "{e:?}"
    );
    drop(s);
    server.join().unwrap();
}

#[test]
fn unknown_message_type_is_named() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| p.send(&[200]));
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(
        matches!(&e, RfbError::Protocol(m) if m.contains("200")),
        "{e:?}"
    );
    drop(s);
    server.join().unwrap();
}

#[test]
fn closing_mid_rectangle_header_is_a_clean_error() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&update_with_rect(0, 0, 4, 4, 0)[..7])?;
        p.close();
        Ok(())
    });
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(
        matches!(&e, RfbError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "the server closed the connection");
    drop(s);
    server.join().unwrap();
}

#[test]
fn idle_session_reports_nothing_then_a_close() {
    let (mut s, _screen, server) =
        session_with(16, 16, |p| p.expect("key", &[4, 0, 0, 0, 0, 0, 0, 0x41]));
    assert!(!s.wait_readable(Duration::from_millis(20)).unwrap());
    s.input().key(0x41, false).unwrap();
    // The server's script ends and it closes its side.
    assert!(s.wait_readable(Duration::from_secs(5)).is_err());
    drop(s);
    server.join().unwrap();
}

// These need the rectangle decoders (Raw, DesktopSize) from the `enc` branch.

#[test]
fn raw_rectangle_is_drawn() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&update_with_rect(3, 2, 2, 1, 0))?;
        p.send(&[10, 20, 30, 0, 40, 50, 60, 0])
    });
    assert_eq!(s.read_message(&mut screen).unwrap(), Event::Update);
    assert_eq!(screen.fb.pixel(3, 2)[..3], [10, 20, 30]);
    assert_eq!(screen.fb.pixel(4, 2)[..3], [40, 50, 60]);
    drop(s);
    server.join().unwrap();
}

/// One update of `n` full-screen CopyRects (source at the origin) on a 16×16 screen.
fn full_screen_copies(n: u16) -> Vec<u8> {
    let mut m = vec![0, 0];
    m.extend_from_slice(&n.to_be_bytes());
    for _ in 0..n {
        for v in [0u16, 0, 16, 16] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(&1i32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
    }
    m
}

#[test]
fn copyrects_may_copy_four_screens_per_update_not_more() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&full_screen_copies(4))?;
        p.send(&full_screen_copies(5))
    });
    assert_eq!(s.read_message(&mut screen).unwrap(), Event::Update);
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(
        matches!(&e, RfbError::Protocol(m) if m.contains("CopyRect")),
        "{e:?}"
    );
    drop(s);
    let _ = server.join();
}

#[test]
fn raw_rectangle_past_the_framebuffer() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&update_with_rect(10, 0, 8, 1, 0))?;
        p.send(&[0; 32])
    });
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(matches!(e, RfbError::Protocol(_)), "{e:?}");
    drop(s);
    let _ = server.join();
}

#[test]
fn closing_mid_rectangle_payload_is_a_clean_error() {
    let (mut s, mut screen, server) = session_with(16, 16, |p| {
        p.send(&update_with_rect(0, 0, 4, 4, 0))?;
        p.send(&[7; 10])?; // of 64 bytes
        p.close();
        Ok(())
    });
    let e = s.read_message(&mut screen).unwrap_err();
    assert!(
        matches!(&e, RfbError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof),
        "{e:?}"
    );
    drop(s);
    server.join().unwrap();
}

#[test]
fn desktop_size_resizes_the_screen() {
    let (mut s, mut screen, server) =
        session_with(16, 16, |p| p.send(&update_with_rect(0, 0, 40, 24, -223)));
    assert_eq!(s.read_message(&mut screen).unwrap(), Event::Update);
    assert_eq!((screen.width(), screen.height()), (40, 24));
    assert_eq!((s.width(), s.height()), (40, 24));
    drop(s);
    server.join().unwrap();
}

// ---- input ----

#[test]
fn input_goes_out_while_the_reader_waits() {
    let (mut s, mut screen, server) = session_with(64, 64, |p| {
        p.expect("KeyEvent", &[4, 1, 0, 0, 0, 0, 0xff, 0x0d])?;
        p.expect("PointerEvent", &[5, 1, 0, 10, 1, 2])?;
        p.send(&[2]) // Bell: wakes the waiting reader
    });
    let input = s.input();
    assert_eq!(input.pointer_pos(), None);
    // The reader blocks for up to 20 s; input must not wait for it.
    let reader = thread::spawn(move || {
        let ready = s.wait_readable(Duration::from_secs(20));
        let event = s.read_message(&mut screen);
        (
            ready.map_err(|e| e.to_string()),
            event.map_err(|e| e.to_string()),
        )
    });
    input.key(0xff0d, true).unwrap();
    input.pointer(10, 258, 1).unwrap();
    assert_eq!(input.pointer_pos(), Some((10, 258)));
    let (ready, event) = reader.join().unwrap();
    assert_eq!(ready, Ok(true));
    assert_eq!(event, Ok(Event::Bell));
    drop(input);
    server.join().unwrap();
}

#[test]
fn shutdown_ends_a_waiting_reader() {
    let (mut s, _screen, server) = session_with(16, 16, |_| Ok(()));
    let input = s.input();
    input.shutdown();
    assert!(s.wait_readable(Duration::from_secs(20)).is_err());
    assert!(
        input.key(0x41, true).is_err(),
        "writing after shutdown fails"
    );
    drop(s);
    server.join().unwrap();
}
