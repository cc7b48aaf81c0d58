//! The scenario and input API: listing and loading scenario files, the step
//! list, running steps through the runner, stopping, the run log, and remote
//! input performed at once in the HTTP thread. Reads the library; asks the
//! runner; sends input through `Control`.

use serde_json::{Value, json};

use crate::app::App;
use crate::http::Response;
use crate::runner::{Refusal, StepAnswer};
use crate::scenario::{
    Cancel, Ctx, LoadError, LoadErrorKind, Scenario, StepErrorKind, parse_input, run_step,
};

/// Decodes `%XX` escapes of one path segment; refuses bad escapes, invalid
/// UTF-8 and control characters.
pub(super) fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))?;
    if text.chars().any(char::is_control) {
        return Err(format!("{s:?} holds control characters once decoded"));
    }
    Ok(text)
}

fn refusal(r: &Refusal) -> Response {
    let status = match r {
        Refusal::Busy => 409,
        Refusal::NoScenario | Refusal::BadIndex(_) => 400,
        Refusal::Gone => 500,
    };
    Response::error(status, r.to_string())
}

fn view_only(app: &App) -> Option<Response> {
    app.config.view_only.then(|| {
        Response::error(
            403,
            "vncmon runs with --view-only: remote input and step execution are off",
        )
    })
}

fn labels(sc: &Scenario) -> Vec<String> {
    sc.steps.iter().map(|s| s.label()).collect()
}

fn step_json(sc: &Scenario) -> Vec<Value> {
    sc.steps.iter().map(|s| s.json.clone()).collect()
}

/// The live screen size, when a session is up.
fn screen(app: &App) -> Option<(u16, u16)> {
    let st = app.hub.status();
    (st.connected && st.width > 0).then_some((st.width, st.height))
}

/// `/api/status`'s scenario fields.
pub(super) fn status_fields(app: &App) -> [(&'static str, Value); 6] {
    let st = app.runner.state();
    let sc = st.scenario.as_deref();
    [
        ("scenario", json!(sc.map(|s| &s.name))),
        ("file", json!(sc.map(|s| &s.file))),
        ("current_step", json!(st.current_step)),
        ("total_steps", json!(sc.map_or(0, |s| s.steps.len()))),
        ("is_executing", json!(st.is_executing)),
        (
            "last_result",
            st.last_result.map_or(
                Value::Null,
                |r| json!({"success": r.success, "step_index": r.step_index, "error": r.error}),
            ),
        ),
    ]
}

pub(super) fn list(app: &App) -> Response {
    let items: Vec<Value> = app
        .library
        .list()
        .into_iter()
        .map(|l| {
            let mut v = json!({"file": l.file, "name": l.name, "path": l.path, "steps": l.steps});
            if let Some(e) = l.error {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    Response::json(200, &Value::Array(items))
}

fn load_error(e: &LoadError) -> Response {
    let status = match e.kind {
        LoadErrorKind::NotFound => 404,
        LoadErrorKind::Refused | LoadErrorKind::Invalid => 400,
    };
    Response::error(status, e.to_string())
}

fn load(app: &App, file: &str, name: &str) -> Response {
    if app.runner.state().is_executing {
        return refusal(&Refusal::Busy);
    }
    let sc = match app.library.load(file, name, screen(app)) {
        Ok(s) => s,
        Err(e) => return load_error(&e),
    };
    match app.runner.set_scenario(sc) {
        Ok(sc) => Response::json(
            200,
            &json!({
                "success": true,
                "scenario": sc.name,
                "file": sc.file,
                "steps": step_json(&sc),
                "labels": labels(&sc),
                "step_count": sc.steps.len(),
            }),
        ),
        Err(r) => refusal(&r),
    }
}

/// `GET /api/load/<file>/<name>` with both segments percent-encoded.
pub(super) fn load_get(app: &App, file: &str, name: &str) -> Response {
    match (percent_decode(file), percent_decode(name)) {
        (Ok(f), Ok(n)) => load(app, &f, &n),
        (Err(e), _) | (_, Err(e)) => Response::error(400, e),
    }
}

/// `POST /api/load` with `{"file":..,"name":..}`.
pub(super) fn load_post(app: &App, body: &[u8]) -> Response {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Response::error(400, format!("body is not JSON: {e}")),
    };
    match (v["file"].as_str(), v["name"].as_str()) {
        (Some(f), Some(n)) => load(app, f, n),
        _ => Response::error(
            400,
            r#"body must be {"file": "<file>.json", "name": "<scenario>"} with both strings"#,
        ),
    }
}

pub(super) fn steps(app: &App) -> Response {
    let st = app.runner.state();
    let sc = st.scenario.as_deref();
    Response::json(
        200,
        &json!({
            "success": true,
            "scenario": sc.map(|s| &s.name),
            "file": sc.map(|s| &s.file),
            "current_step": st.current_step,
            "steps": sc.map_or_else(Vec::new, step_json),
            "labels": sc.map_or_else(Vec::new, labels),
            "total": sc.map_or(0, |s| s.steps.len()),
            "is_executing": st.is_executing,
        }),
    )
}

pub(super) fn execute_step(app: &App, index: &str) -> Response {
    if let Some(r) = view_only(app) {
        return r;
    }
    let Ok(i) = index.parse::<usize>() else {
        return Response::error(
            400,
            format!("step index must be a whole number from 0, not {index:?}"),
        );
    };
    match app.runner.execute_step(i) {
        Ok(StepAnswer::Passed { scenario, note }) => Response::json(
            200,
            &json!({
                "success": true,
                "step_index": i,
                "step": scenario.steps[i].json,
                "note": note,
            }),
        ),
        Ok(StepAnswer::Failed(f)) => Response::json(
            422,
            &json!({"success": false, "step_index": f.step_index, "error": f.message}),
        ),
        Err(r) => refusal(&r),
    }
}

pub(super) fn execute_all(app: &App) -> Response {
    if let Some(r) = view_only(app) {
        return r;
    }
    match app.runner.execute_all() {
        Ok(sc) => Response::json(
            200,
            &json!({
                "success": true,
                "message": format!("running {} steps of {}", sc.steps.len(), sc.name),
                "total_steps": sc.steps.len(),
            }),
        ),
        Err(r) => refusal(&r),
    }
}

pub(super) fn stop(app: &App) -> Response {
    let message = if app.runner.stop() {
        "stopping"
    } else {
        "nothing is running"
    };
    Response::json(200, &json!({"success": true, "message": message}))
}

pub(super) fn logs(app: &App) -> Response {
    let entries: Vec<Value> = app
        .runner
        .log()
        .entries()
        .into_iter()
        .map(|e| json!({"timestamp": e.timestamp, "level": e.level.as_str(), "message": e.message}))
        .collect();
    Response::json(200, &Value::Array(entries))
}

pub(super) fn logs_clear(app: &App) -> Response {
    app.runner.log().clear();
    Response::json(200, &json!({"success": true}))
}

pub(super) fn logs_download(app: &App) -> Response {
    Response::bytes(
        200,
        "text/plain; charset=utf-8",
        app.runner.log().text().into_bytes(),
    )
    .header(
        "Content-Disposition",
        "attachment; filename=\"vncmon-log.txt\"",
    )
    .header("Cache-Control", "no-store")
}

/// `POST /api/input`: every action of the body, at once, in this thread.
pub(super) fn input(app: &App, body: &[u8]) -> Response {
    if let Some(r) = view_only(app) {
        return r;
    }
    let actions = match parse_input(body) {
        Ok(a) => a,
        Err(e) => return Response::error(400, e),
    };
    if app.control.input().is_none() {
        return Response::error(503, "not connected").header("Retry-After", "1");
    }
    if let Some((w, h)) = screen(app) {
        for (i, step) in actions.iter().enumerate() {
            if let Err(e) = step.check_screen(w, h) {
                let n = i + 1;
                return Response::error(400, format!("action {n} ({}): {e}", step.label()));
            }
        }
    }
    let ctx = Ctx {
        hub: app.hub.clone(),
        control: app.control.clone(),
        output: app.output.clone(),
        cancel: Cancel::new(),
    };
    for (done, step) in actions.iter().enumerate() {
        if let Err(e) = run_step(step, &ctx) {
            let status = if e.kind == StepErrorKind::NotConnected {
                503
            } else {
                422
            };
            return Response::json(
                status,
                &json!({
                    "success": false,
                    "error": format!("action {} ({}): {}", done + 1, step.label(), e.message),
                    "events": done,
                }),
            );
        }
    }
    Response::json(200, &json!({"success": true, "events": actions.len()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("demo.json").unwrap(), "demo.json");
        assert_eq!(percent_decode("my%20file.json").unwrap(), "my file.json");
        assert_eq!(percent_decode("..%2f..%2Fetc").unwrap(), "../../etc");
        assert_eq!(percent_decode("caf%C3%A9").unwrap(), "café");
        assert!(percent_decode("bad%2").is_err());
        assert!(percent_decode("bad%zz").is_err());
        assert!(percent_decode("%ff").is_err());
        assert!(percent_decode("nul%00").is_err());
    }
}
