//! SIGTERM and SIGINT stop a serving vncmon cleanly: its MJPEG streams are
//! closed, the VNC session ends on request, and the exit status is 0.

mod common;

use std::time::Duration;

use common::Vncmon;

fn stop_cleanly(signal: &str) {
    let mut v = Vncmon::start(&["--demo", "--max-fps", "10"], None);
    v.wait_connected();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = v.stream();
        s.next_image(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("a first frame: {e}\n{}", v.log_tail()));
        streams.push(s);
    }
    let took = v.stop_by_signal(signal, streams);
    // Reported, not asserted: speed is for benches.
    eprintln!("SIG{signal}: exited 0 after {} ms", took.as_millis());
}

#[test]
fn sigterm_closes_streams_and_session_and_exits_0() {
    stop_cleanly("TERM");
}

#[test]
fn sigint_closes_streams_and_session_and_exits_0() {
    stop_cleanly("INT");
}
