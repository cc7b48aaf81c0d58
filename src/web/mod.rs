//! vncmon's routes: the page, the MJPEG stream, snapshots and the JSON API.
//! Reads the hub and status; asks the capture thread to connect/disconnect
//! and the runner to load and run scenarios.

mod api;
pub mod mjpeg;
mod scenarios;

use crate::app::App;
use crate::http::{Handler, Request, Response};

/// The page, embedded in the binary.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

const GET: &[&str] = &["GET", "HEAD"];
const POST: &[&str] = &["POST"];

#[derive(Clone, Debug, PartialEq)]
enum Route {
    Page,
    Stream,
    Snapshot,
    Screenshot,
    Status,
    Connect,
    Disconnect,
    Scenarios,
    /// `/api/load/<file>/<name>`, both still percent-encoded.
    LoadGet(String, String),
    LoadPost,
    Steps,
    /// `/api/execute_step/<i>`, the index as sent.
    ExecuteStep(String),
    ExecuteAll,
    Stop,
    Logs,
    LogsClear,
    LogsDownload,
    Input,
}

impl Handler for App {
    fn handle(&self, req: &Request) -> Response {
        match resolve(req) {
            Ok(route) => answer(self, route, req),
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
        "/api/scenarios" => (Route::Scenarios, GET),
        "/api/load" => (Route::LoadPost, POST),
        "/api/steps" => (Route::Steps, GET),
        "/api/execute_all" => (Route::ExecuteAll, POST),
        "/api/stop" => (Route::Stop, POST),
        "/api/logs" => (Route::Logs, GET),
        "/api/logs/clear" => (Route::LogsClear, POST),
        "/api/logs/download" => (Route::LogsDownload, GET),
        "/api/input" => (Route::Input, POST),
        path => {
            if let Some(rest) = path.strip_prefix("/api/load/") {
                // The name is the last segment; the file is everything before it.
                let Some((file, name)) = rest.rsplit_once('/') else {
                    return Err(Response::error(
                        404,
                        "not found: use /api/load/<file>/<name>",
                    ));
                };
                (Route::LoadGet(file.into(), name.into()), GET)
            } else if let Some(i) = path.strip_prefix("/api/execute_step/") {
                (Route::ExecuteStep(i.into()), POST)
            } else {
                return Err(Response::error(404, "not found"));
            }
        }
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

fn answer(app: &App, route: Route, req: &Request) -> Response {
    match route {
        Route::Page => Response::bytes(200, "text/html; charset=utf-8", INDEX_HTML.into())
            .header("Cache-Control", "no-cache"),
        Route::Stream => mjpeg::response(app.hub.clone()),
        Route::Snapshot => api::snapshot(app),
        Route::Screenshot => api::screenshot(app),
        Route::Status => api::status(app),
        Route::Connect => api::connect(app),
        Route::Disconnect => api::disconnect(app),
        Route::Scenarios => scenarios::list(app),
        Route::LoadGet(file, name) => scenarios::load_get(app, &file, &name),
        Route::LoadPost => scenarios::load_post(app, &req.body),
        Route::Steps => scenarios::steps(app),
        Route::ExecuteStep(i) => scenarios::execute_step(app, &i),
        Route::ExecuteAll => scenarios::execute_all(app),
        Route::Stop => scenarios::stop(app),
        Route::Logs => scenarios::logs(app),
        Route::LogsClear => scenarios::logs_clear(app),
        Route::LogsDownload => scenarios::logs_download(app),
        Route::Input => scenarios::input(app, &req.body),
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
        assert_eq!(
            ok("GET", "/api/load/my%20demo.json/tour?x=1"),
            Route::LoadGet("my%20demo.json".into(), "tour".into())
        );
        assert_eq!(
            ok("GET", "/api/load/sub/a.json/tour"),
            Route::LoadGet("sub/a.json".into(), "tour".into())
        );
        assert_eq!(
            ok("POST", "/api/execute_step/3"),
            Route::ExecuteStep("3".into())
        );
        assert_eq!(ok("POST", "/api/logs/clear"), Route::LogsClear);
        assert_eq!(ok("POST", "/api/input"), Route::Input);
        let err = |m, t| resolve(&req(m, t)).unwrap_err();
        assert_eq!(err("GET", "/nope").status(), 404);
        assert_eq!(err("GET", "/?action=zoom").status(), 404);
        let r = err("GET", "/api/disconnect");
        assert_eq!((r.status(), r.header_value("allow")), (405, Some("POST")));
        assert_eq!(err("GET", "/api/load/demo.json").status(), 404);
        for (m, t, allow) in [
            ("GET", "/api/execute_step/1", "POST"),
            ("POST", "/api/load/a.json/b", "GET, HEAD"),
            ("GET", "/api/input", "POST"),
            ("GET", "/api/stop", "POST"),
            ("POST", "/api/logs", "GET, HEAD"),
        ] {
            let r = err(m, t);
            assert_eq!((r.status(), r.header_value("allow")), (405, Some(allow)));
        }
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
