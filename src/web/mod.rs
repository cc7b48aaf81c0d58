//! vncmon's routes: the page, the MJPEG stream, snapshots and the JSON API.
//! Reads the hub and status; asks the capture thread to connect/disconnect.

mod api;
pub mod mjpeg;

use crate::app::App;
use crate::http::{Handler, Request, Response};

/// The page, embedded in the binary.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

const GET: &[&str] = &["GET", "HEAD"];
const POST: &[&str] = &["POST"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Page,
    Stream,
    Snapshot,
    Screenshot,
    Status,
    Connect,
    Disconnect,
}

impl Handler for App {
    fn handle(&self, req: &Request) -> Response {
        match resolve(req) {
            Ok(route) => answer(self, route),
            Err(resp) => resp,
        }
    }
}

/// The route for a request, or the 404/405 answer.
fn resolve(req: &Request) -> Result<Route, Response> {
    let (route, allowed) = match req.path() {
        "/" | "/index.html" => {
            let route = match req.query_param("action") {
                None => Route::Page,
                // The mjpg-streamer URLs, so MJPEG consumers can use vncmon as a camera.
                Some("stream") => Route::Stream,
                Some("snapshot") => Route::Snapshot,
                Some(_) => {
                    return Err(Response::error(
                        404,
                        "unknown action: use ?action=stream or ?action=snapshot",
                    ));
                }
            };
            (route, GET)
        }
        "/video_feed" | "/stream" => (Route::Stream, GET),
        "/snapshot.jpg" => (Route::Snapshot, GET),
        "/api/screenshot" => (Route::Screenshot, GET),
        "/api/status" => (Route::Status, GET),
        "/api/connect" => (Route::Connect, POST),
        "/api/disconnect" => (Route::Disconnect, POST),
        _ => return Err(Response::error(404, "not found")),
    };
    if !allowed.contains(&req.method.as_str()) {
        let allow = allowed.join(", ");
        return Err(Response::error(
            405,
            format!("method {} not allowed; use {allow}", req.method),
        )
        .header("Allow", &allow));
    }
    Ok(route)
}

fn answer(app: &App, route: Route) -> Response {
    match route {
        Route::Page => Response::bytes(200, "text/html; charset=utf-8", INDEX_HTML.into())
            .header("Cache-Control", "no-cache"),
        Route::Stream => mjpeg::response(app.hub.clone()),
        Route::Snapshot => api::snapshot(app),
        Route::Screenshot => api::screenshot(app),
        Route::Status => api::status(app),
        Route::Connect => api::connect(app),
        Route::Disconnect => api::disconnect(app),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            minor_version: 1,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn routes() {
        let ok = |m, t| resolve(&req(m, t)).unwrap();
        assert_eq!(ok("GET", "/"), Route::Page);
        assert_eq!(ok("HEAD", "/?foo=1"), Route::Page);
        assert_eq!(ok("GET", "/?action=stream"), Route::Stream);
        assert_eq!(ok("GET", "/?action=snapshot"), Route::Snapshot);
        assert_eq!(ok("GET", "/video_feed?t=5"), Route::Stream);
        assert_eq!(ok("GET", "/stream"), Route::Stream);
        assert_eq!(ok("POST", "/api/connect"), Route::Connect);
        let err = |m, t| resolve(&req(m, t)).unwrap_err();
        assert_eq!(err("GET", "/nope").status(), 404);
        assert_eq!(err("GET", "/?action=zoom").status(), 404);
        let r = err("GET", "/api/disconnect");
        assert_eq!((r.status(), r.header_value("allow")), (405, Some("POST")));
        let r = err("DELETE", "/api/status");
        assert_eq!(
            (r.status(), r.header_value("allow")),
            (405, Some("GET, HEAD"))
        );
    }

    #[test]
    fn page_is_self_contained() {
        assert!(INDEX_HTML.contains("/video_feed") && INDEX_HTML.contains("/api/status"));
        assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
    }
}
