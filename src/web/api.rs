//! The JSON API and the snapshot: status, screenshot as a data URL, the
//! latest JPEG, connect/disconnect. Reads the hub; pokes `Control`.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::app::App;
use crate::http::Response;

/// How long a snapshot waits for the first frame before answering 503.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(2);

pub(super) fn snapshot(app: &App) -> Response {
    let frame = app
        .hub
        .latest()
        .or_else(|| app.hub.wait_newer(0, SNAPSHOT_WAIT));
    match frame {
        Some(f) => {
            Response::bytes(200, "image/jpeg", f.jpeg.clone()).header("Cache-Control", "no-store")
        }
        None => {
            let why = app
                .hub
                .status()
                .last_error
                .map_or_else(String::new, |e| format!(" (last error: {e})"));
            Response::error(
                503,
                format!("no frame yet: the VNC screen has not arrived{why}"),
            )
            .header("Retry-After", "1")
        }
    }
}

/// As the original: a data URL, or 404 "No screenshot available".
pub(super) fn screenshot(app: &App) -> Response {
    match app.hub.latest() {
        Some(f) => {
            let image = format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&f.jpeg)
            );
            Response::json(200, &json!({ "success": true, "image": image }))
        }
        None => Response::error(404, "No screenshot available"),
    }
}

pub(super) fn status(app: &App) -> Response {
    let st = app.hub.status();
    let mut v = json!({
            "connected": st.connected,
            "monitoring": app.control.monitoring(),
            "width": st.width,
            "height": st.height,
            "fps": (st.fps * 10.0).round() / 10.0,
            "clients": app.hub.clients(),
            "frames_encoded": app.hub.frames_encoded(),
            "last_error": st.last_error,
            "server": app.config.vnc,
            "desktop_name": st.desktop_name,
            "rects": st.rects.iter().map(|(name, n)| (name.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
    });
    for (k, val) in super::scenarios::status_fields(app) {
        v[k] = val;
    }
    Response::json(200, &v)
}

fn server_name(app: &App) -> &str {
    app.config.vnc.as_deref().unwrap_or("the VNC server")
}

pub(super) fn connect(app: &App) -> Response {
    app.control.connect();
    let message = format!("Monitoring on: connecting to {}", server_name(app));
    Response::json(200, &json!({ "success": true, "message": message }))
}

pub(super) fn disconnect(app: &App) -> Response {
    app.control.disconnect();
    let message = format!("Disconnected from {}", server_name(app));
    Response::json(200, &json!({ "success": true, "message": message }))
}
