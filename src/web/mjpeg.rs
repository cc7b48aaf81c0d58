//! The MJPEG stream: `multipart/x-mixed-replace; boundary=frame`. Each client
//! waits on the hub for a frame newer than the one it sent (a slow client
//! skips frames, nothing is queued), re-sends the last one after a quiet
//! second, and writes the next boundary line with each frame so a browser
//! shows it at once. Holds only `Arc<Frame>`s while writing, never the hub lock.

use std::io::{self, IoSlice, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::http::{Response, Sink};
use crate::hub::{Frame, Hub};

pub const CONTENT_TYPE: &str = "multipart/x-mixed-replace; boundary=frame";
/// Sent once, before the first part.
pub const FIRST_BOUNDARY: &[u8] = b"--frame\r\n";
/// Ends every part and opens the next.
pub const PART_END: &[u8] = b"\r\n--frame\r\n";
/// With no new frame for this long, the last one is sent again.
pub const RESEND_AFTER: Duration = Duration::from_secs(1);

/// The streaming response for one viewer.
pub fn response(hub: Arc<Hub>) -> Response {
    Response::stream(CONTENT_TYPE, move |sink| run(&hub, sink))
        .header("Cache-Control", "no-store")
        // Reverse proxies (nginx) must pass parts on as they come.
        .header("X-Accel-Buffering", "no")
}

/// The head of one part: its headers up to the blank line before the JPEG.
pub fn part_head(jpeg_len: usize) -> String {
    format!("Content-Type: image/jpeg\r\nContent-Length: {jpeg_len}\r\n\r\n")
}

/// Writes one part — head, JPEG, the next boundary line — in as few
/// system calls as the socket takes (one `writev` as a rule), without
/// copying the JPEG.
pub fn write_part(w: &mut impl Write, jpeg: &[u8]) -> io::Result<()> {
    let head = part_head(jpeg.len());
    let mut bufs = [
        IoSlice::new(head.as_bytes()),
        IoSlice::new(jpeg),
        IoSlice::new(PART_END),
    ];
    let mut bufs = &mut bufs[..];
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Streams until the client goes (a failed write, or seen closed while idle)
/// or the hub closes.
fn run(hub: &Arc<Hub>, sink: &mut Sink<'_>) -> io::Result<()> {
    let _viewer = hub.viewer();
    sink.write_all(FIRST_BOUNDARY)?;
    let mut last: Option<Arc<Frame>> = None;
    loop {
        let sent = last.as_ref().map_or(0, |f| f.seq);
        let frame = match hub.wait_newer(sent, RESEND_AFTER) {
            Some(f) => f,
            None if hub.is_closed() || sink.peer_closed() => return Ok(()),
            None => match &last {
                Some(f) => f.clone(),
                None => continue,
            },
        };
        // The part and the boundary after it leave together.
        write_part(sink, &frame.jpeg)?;
        last = Some(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_layout() {
        let mut out = Vec::new();
        write_part(&mut out, b"\xff\xd8abc\xff\xd9").unwrap();
        assert_eq!(
            out,
            b"Content-Type: image/jpeg\r\nContent-Length: 7\r\n\r\n\xff\xd8abc\xff\xd9\r\n--frame\r\n"
        );
    }
}
