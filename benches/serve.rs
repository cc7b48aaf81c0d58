//! `cargo bench --bench serve` (or `make bench`): the cost of serving, measured
//! on the real binary. Starts `vncmon --demo --listen 127.0.0.1:0` (by PID),
//! reads its CPU time and RSS from /proc while 0, 1, 8 and 32 MJPEG clients
//! read /video_feed as fast as they can, then times bursts of /snapshot.jpg
//! against /api/status, then how long a click through `POST /api/input`
//! takes to show in the stream, against the stream's frame interval. Every
//! process is killed by its PID when done.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

const BIN: &str = env!("CARGO_BIN_EXE_vncmon");
const CLIENTS: [usize; 4] = [0, 1, 8, 32];
/// Each client count runs once per round, in one process of its own.
const ROUNDS: usize = 3;
/// The measured part of each run.
const WINDOW: Duration = Duration::from_secs(4);
/// Before the window: the demo settles, then the clients connect and settle.
const SETTLE: Duration = Duration::from_millis(1000);
const CLIENTS_SETTLE: Duration = Duration::from_millis(500);
/// One burst: this many requests over this many keep-alive connections.
const BURST: usize = 10_000;
const BURST_CONNECTIONS: usize = 8;
const BURST_ROUNDS: usize = 5;
/// Clicks timed from `POST /api/input` to the first frame showing them.
const CLICKS: usize = 40;
/// The demo's Alpha button (a left click toggles it) and a pixel of its
/// background, away from the label.
const ALPHA_CENTER: (u16, u16) = (106, 340);
const ALPHA_PIXEL: (usize, usize) = (30, 316);

fn main() {
    println!(
        "vncmon --demo serving MJPEG on 127.0.0.1: {ROUNDS} rounds, each client count in a \
         fresh process, {} s measured per run; medians over rounds; ratio = value / the \
         0-client value of the same round (median)",
        WINDOW.as_secs()
    );
    println!("load average before: {}", loadavg());
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); CLIENTS.len()];
    for round in 0..ROUNDS {
        // Alternate the order, so a load trend does not favour one end.
        let mut order: Vec<usize> = (0..CLIENTS.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            runs[i].push(measure(CLIENTS[i]));
        }
    }
    print_fanout(&runs);
    burst_table();
    input_latency_table();
    println!("load average after: {}", loadavg());
}

/// What one run measured over its window.
#[derive(Clone, Default)]
struct Run {
    /// vncmon CPU seconds (user + system) per second.
    cpu: f64,
    /// VmRSS at the end of the window, VmHWM (peak) of the process, in kB.
    rss_kb: f64,
    hwm_kb: f64,
    /// Frames vncmon encoded per second.
    encoded_fps: f64,
    /// Frames per second the slowest client and the median client received.
    client_min_fps: f64,
    client_median_fps: f64,
    /// Average JPEG size received, in kB.
    jpeg_kb: f64,
    /// CPU seconds per second of this bench process (the clients).
    client_cpu: f64,
}

fn measure(clients: usize) -> Run {
    let server = Server::start();
    thread::sleep(SETTLE);
    let stop = Arc::new(AtomicBool::new(false));
    let mut viewers: Vec<Viewer> = (0..clients)
        .map(|_| Viewer::start(server.addr, &stop))
        .collect();
    thread::sleep(CLIENTS_SETTLE);

    // The status requests stay outside the CPU window: their connection
    // threads end, and an ended thread's CPU time leaves /proc/PID/task.
    let enc0 = frames_encoded(server.addr);
    let seen0: Vec<u64> = viewers.iter().map(Viewer::frames).collect();
    let t0 = Instant::now();
    let cpu0 = cpu_ns(server.pid());
    let self0 = cpu_ns(std::process::id());
    thread::sleep(WINDOW);
    let cpu = cpu_ns(server.pid()).since(&cpu0);
    let client_cpu = cpu_ns(std::process::id()).since(&self0);
    let secs = t0.elapsed().as_secs_f64();
    let seen1: Vec<u64> = viewers.iter().map(Viewer::frames).collect();
    let enc1 = frames_encoded(server.addr);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("vncmon's /proc status");

    let mut fps: Vec<f64> = seen1
        .iter()
        .zip(&seen0)
        .map(|(b, a)| (b - a) as f64 / secs)
        .collect();
    fps.sort_by(f64::total_cmp);
    stop.store(true, Ordering::Release);
    for v in viewers.iter_mut() {
        v.stop();
    }
    drop(server);
    Run {
        cpu: cpu / secs,
        rss_kb: status_kb(&status, "VmRSS:"),
        hwm_kb: status_kb(&status, "VmHWM:"),
        encoded_fps: (enc1 - enc0) as f64 / secs,
        client_min_fps: fps.first().copied().unwrap_or(f64::NAN),
        client_median_fps: fps.get(fps.len() / 2).copied().unwrap_or(f64::NAN),
        client_cpu: client_cpu / secs,
        jpeg_kb: viewers.iter().map(Viewer::bytes).sum::<u64>() as f64
            / viewers.iter().map(Viewer::frames).sum::<u64>().max(1) as f64
            / 1024.0,
    }
}

fn print_fanout(runs: &[Vec<Run>]) {
    let base = &runs[0];
    // Median over rounds of the value, and of its ratio to that round's 0-client run.
    let stat = |rs: &[Run], f: fn(&Run) -> f64| {
        let ratios: Vec<f64> = rs.iter().zip(base).map(|(r, b)| f(r) / f(b)).collect();
        (median(rs.iter().map(f).collect()), median(ratios))
    };
    println!();
    println!(
        "  {:>7} {:>7} {:>7} {:>10} {:>9} {:>7} {:>9} {:>7} {:>8} {:>15} {:>9}",
        "clients",
        "CPU/s",
        "ratio",
        "ms/s/cli",
        "RSS MB",
        "ratio",
        "peak MB",
        "ratio",
        "enc fps",
        "client fps",
        "bench CPU"
    );
    for (n, rs) in CLIENTS.iter().zip(runs) {
        let (cpu, cpu_r) = stat(rs, |r| r.cpu);
        let per_client = if *n == 0 {
            "-".to_string()
        } else {
            let added = rs
                .iter()
                .zip(base)
                .map(|(r, b)| (r.cpu - b.cpu) / *n as f64);
            format!("{:.2}", median(added.collect()) * 1e3)
        };
        let (rss, rss_r) = stat(rs, |r| r.rss_kb);
        let (hwm, hwm_r) = stat(rs, |r| r.hwm_kb);
        let enc = median(rs.iter().map(|r| r.encoded_fps).collect());
        let cmin = median(rs.iter().map(|r| r.client_min_fps).collect());
        let cmed = median(rs.iter().map(|r| r.client_median_fps).collect());
        let client = if *n == 0 {
            "-".to_string()
        } else {
            format!("{cmin:.1} / {cmed:.1}")
        };
        let bench_cpu = median(rs.iter().map(|r| r.client_cpu).collect());
        println!(
            "  {n:>7} {cpu:>7.3} {cpu_r:>6.2}x {per_client:>10} {:>9.1} {rss_r:>6.2}x {:>9.1} {hwm_r:>6.2}x \
             {enc:>8.1} {client:>15} {bench_cpu:>9.3}",
            rss / 1024.0,
            hwm / 1024.0,
        );
    }
    let kb = median(
        runs.iter()
            .flatten()
            .map(|r| r.jpeg_kb)
            .filter(|k| *k > 0.0)
            .collect(),
    );
    println!("  (frames sent: {kb:.1} kB JPEG each, median)");
    println!(
        "  (CPU/s: CPU seconds per second, 1.0 = one core; ms/s/cli: CPU ms per second each \
         client adds; client fps: slowest / median client; bench CPU: the client threads)"
    );
}

/// Bursts of GETs on keep-alive connections, /api/status and /snapshot.jpg
/// alternating, in one process.
fn burst_table() {
    let server = Server::start();
    thread::sleep(SETTLE);
    let paths = ["/api/status", "/snapshot.jpg"];
    let mut rates = vec![Vec::new(); paths.len()];
    for _ in 0..BURST_ROUNDS {
        for (i, path) in paths.iter().enumerate() {
            rates[i].push(burst(server.addr, path));
        }
    }
    drop(server);
    let ratios: Vec<f64> = rates[1].iter().zip(&rates[0]).map(|(s, a)| s / a).collect();
    println!();
    println!(
        "burst: {BURST} GETs over {BURST_CONNECTIONS} keep-alive connections, {BURST_ROUNDS} \
         rounds alternating; medians; ratio = / api/status requests/s of the same round"
    );
    println!("  {:<16} {:>11} {:>8}", "path", "requests/s", "ratio");
    println!(
        "  {:<16} {:>11.0} {:>7.3}x",
        paths[0],
        median(rates[0].clone()),
        1.0
    );
    println!(
        "  {:<16} {:>11.0} {:>7.3}x",
        paths[1],
        median(rates[1].clone()),
        median(ratios)
    );
}

/// Requests per second for `BURST` GETs of `path`.
fn burst(addr: SocketAddr, path: &'static str) -> f64 {
    let per = BURST / BURST_CONNECTIONS;
    let start = Instant::now();
    let threads: Vec<_> = (0..BURST_CONNECTIONS)
        .map(|_| thread::spawn(move || keep_alive_gets(addr, path, per)))
        .collect();
    for t in threads {
        t.join().expect("burst thread").expect("burst requests");
    }
    (per * BURST_CONNECTIONS) as f64 / start.elapsed().as_secs_f64()
}

/// `n` GETs on one connection; each answer must be a 200 with a body.
fn keep_alive_gets(addr: SocketAddr, path: &str, n: usize) -> io::Result<()> {
    let stream = connect(addr)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let mut line = Vec::new();
    let mut body = Vec::new();
    for _ in 0..n {
        w.write_all(request.as_bytes())?;
        let mut len = None;
        let mut status = None;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end();
            if text.is_empty() {
                break;
            }
            status = status.or_else(|| text.split(' ').nth(1).map(str::to_owned));
            if let Some(v) = header(text, "content-length") {
                len = v.parse::<usize>().ok();
            }
        }
        let len = len.ok_or_else(|| io::Error::other("no Content-Length"))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
        if status.as_deref() != Some("200") || body.is_empty() {
            return Err(io::Error::other(format!("{path}: status {status:?}")));
        }
    }
    Ok(())
}

/// The value of header `name` (lower case) in one header line.
fn header<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (k, v) = line.split_once(':')?;
    k.eq_ignore_ascii_case(name).then(|| v.trim())
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// An MJPEG client counting the parts it reads.
struct Viewer {
    frames: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    socket: TcpStream,
    thread: Option<thread::JoinHandle<()>>,
}

impl Viewer {
    fn start(addr: SocketAddr, stop: &Arc<AtomicBool>) -> Viewer {
        let stream = connect(addr).expect("connect a viewer");
        let socket = stream.try_clone().expect("clone a socket");
        let frames = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (f, b, stop) = (frames.clone(), bytes.clone(), stop.clone());
        let thread = thread::spawn(move || {
            if let Err(e) = read_stream(stream, &f, &b)
                && !stop.load(Ordering::Acquire)
            {
                panic!("viewer stopped early: {e}");
            }
        });
        Viewer {
            frames,
            bytes,
            socket,
            thread: Some(thread),
        }
    }

    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Acquire)
    }

    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    fn stop(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            t.join().expect("viewer thread");
        }
    }
}

/// An MJPEG client's side of /video_feed, part by part.
struct Parts {
    r: BufReader<TcpStream>,
    line: Vec<u8>,
}

impl Parts {
    /// Asks for the stream and reads the response head.
    fn open(mut stream: TcpStream) -> io::Result<Parts> {
        stream.write_all(b"GET /video_feed HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        let mut p = Parts {
            r: BufReader::with_capacity(256 * 1024, stream),
            line: Vec::new(),
        };
        loop {
            if !p.read_line()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if p.line == b"\r\n" {
                return Ok(p);
            }
        }
    }

    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        Ok(self.r.read_until(b'\n', &mut self.line)? > 0)
    }

    /// Reads the next part's headers: its JPEG's length, None at the end.
    fn next_len(&mut self) -> io::Result<Option<u64>> {
        let mut len = None;
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&self.line);
            if let Some(v) = header(text.trim_end(), "content-length") {
                len = v.parse::<u64>().ok();
            } else if self.line == b"\r\n" && len.is_some() {
                return Ok(len);
            }
        }
    }

    /// Skips the next JPEG; its length, None at the end.
    fn skip(&mut self) -> io::Result<Option<u64>> {
        let Some(len) = self.next_len()? else {
            return Ok(None);
        };
        if io::copy(&mut (&mut self.r).take(len), &mut io::sink())? < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Some(len))
    }

    /// The next JPEG.
    fn jpeg(&mut self) -> io::Result<Vec<u8>> {
        let len = self.next_len()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        let mut jpeg = vec![0; len as usize];
        self.r.read_exact(&mut jpeg)?;
        Ok(jpeg)
    }
}

/// Reads /video_feed part by part, skipping each JPEG, until the connection ends.
fn read_stream(stream: TcpStream, frames: &AtomicU64, bytes: &AtomicU64) -> io::Result<()> {
    let mut parts = Parts::open(stream)?;
    while let Some(len) = parts.skip()? {
        bytes.fetch_add(len, Ordering::AcqRel);
        frames.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Click → picture: `CLICKS` clicks on the demo's Alpha button through
/// `POST /api/input`, each timed from the request to the first streamed frame
/// whose button colour changed. The reference is the stream's own frame
/// interval, measured on the same connection just before.
fn input_latency_table() {
    let server = Server::start();
    thread::sleep(SETTLE);
    let mut parts = Parts::open(connect(server.addr).expect("connect")).expect("open the stream");
    let mut intervals = Vec::new();
    parts.skip().expect("a frame");
    let mut last = Instant::now();
    for _ in 0..60 {
        parts.skip().expect("a frame");
        let now = Instant::now();
        intervals.push(now.duration_since(last).as_secs_f64());
        last = now;
    }
    let mut latencies = Vec::new();
    let body = format!(
        r#"{{"action":"click","x":{},"y":{}}}"#,
        ALPHA_CENTER.0, ALPHA_CENTER.1
    );
    for _ in 0..CLICKS {
        let before = alpha_colour(&parts.jpeg().expect("a frame"));
        let start = Instant::now();
        post(server.addr, "/api/input", &body).expect("POST /api/input");
        loop {
            let now = alpha_colour(&parts.jpeg().expect("a frame"));
            if distance(now, before) > 60 {
                latencies.push(start.elapsed().as_secs_f64());
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the click never showed"
            );
        }
    }
    drop(server);
    let interval = median(intervals);
    let p90 = {
        let mut l = latencies.clone();
        l.sort_by(f64::total_cmp);
        l[l.len() * 9 / 10]
    };
    let med = median(latencies);
    println!();
    println!(
        "input: {CLICKS} clicks through POST /api/input, each timed until a streamed frame \
         shows it; ratio = / the stream's median frame interval on the same connection"
    );
    println!("  {:<22} {:>8} {:>8}", "", "ms", "ratio");
    println!(
        "  {:<22} {:>8.1} {:>7.2}x",
        "frame interval",
        interval * 1e3,
        1.0
    );
    println!(
        "  {:<22} {:>8.1} {:>7.2}x",
        "click → frame, median",
        med * 1e3,
        med / interval
    );
    println!(
        "  {:<22} {:>8.1} {:>7.2}x",
        "click → frame, p90",
        p90 * 1e3,
        p90 / interval
    );
}

/// The RGB colour of `ALPHA_PIXEL` in a streamed frame.
fn alpha_colour(jpeg: &[u8]) -> [u8; 3] {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let rgb = dec.decode().expect("a streamed frame decodes");
    let width = dec.info().expect("header info").width as usize;
    let i = (ALPHA_PIXEL.1 * width + ALPHA_PIXEL.0) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| u32::from(x.abs_diff(y)))
        .sum()
}

/// One POST on a fresh connection; the answer must be a 200.
fn post(addr: SocketAddr, path: &str, body: &str) -> io::Result<()> {
    let mut s = connect(addr)?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(io::Error::other(answer))
    }
}

/// `vncmon --demo` on a free loopback port; killed by PID when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(BIN)
            // Every bench client comes from loopback: lift the per-client cap.
            .args([
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--max-per-client",
                "1000",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vncmon");
        let stdout = child.stdout.take().expect("vncmon's stdout");
        // Read the "serving" line, then keep draining stdout so vncmon never blocks on it.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("vncmon: serving http://") {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                }
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("vncmon prints its address");
        server.addr = addr.parse().expect("a socket address");
        // The first frame: the demo desktop is being captured and encoded.
        let deadline = Instant::now() + Duration::from_secs(10);
        while frames_encoded(server.addr) == 0 {
            assert!(Instant::now() < deadline, "no frame within 10 s");
            thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `frames_encoded` from /api/status (0 while vncmon is not answering).
fn frames_encoded(addr: SocketAddr) -> u64 {
    let get = || -> io::Result<Vec<u8>> {
        let mut s = connect(addr)?;
        s.write_all(b"GET /api/status HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    };
    let Ok(resp) = get() else { return 0 };
    let body = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |i| &resp[i + 4..]);
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("frames_encoded")?.as_u64())
        .unwrap_or(0)
}

/// CPU time of each thread of a process, from /proc/PID/task/*/schedstat
/// (nanoseconds; /proc/PID/stat counts only 10 ms ticks, too coarse for a
/// process that idles at 2 % of a core).
struct CpuTimes(HashMap<String, u64>);

fn cpu_ns(pid: u32) -> CpuTimes {
    let mut times = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return CpuTimes(times);
    };
    for task in tasks.flatten() {
        // A thread may end between the listing and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = stat.split_whitespace().next().and_then(|v| v.parse().ok()) {
            times.insert(task.file_name().to_string_lossy().into_owned(), ns);
        }
    }
    CpuTimes(times)
}

impl CpuTimes {
    /// CPU seconds spent since `before` by the threads alive now (new ones in full).
    fn since(&self, before: &CpuTimes) -> f64 {
        let ns: u64 = self
            .0
            .iter()
            .map(|(tid, &t)| t.saturating_sub(before.0.get(tid).copied().unwrap_or(0)))
            .sum();
        ns as f64 / 1e9
    }
}

/// A "Name:   1234 kB" line of /proc/PID/status, in kB.
fn status_kb(status: &str, name: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
