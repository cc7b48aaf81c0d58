//! Free TCP ports, free X display numbers and temporary files, safe when
//! tests run in parallel threads and other X servers exist on the machine.
//! Nothing here is a guarantee against other processes: the servers that use
//! these numbers fail fast when one is taken, and their starters retry.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Lowest display number tried: well above the :0..:9 people use by hand.
const FIRST_DISPLAY: u32 = 40;
const DISPLAY_SPAN: u32 = 900;

/// A loopback TCP port that was free a moment ago and was never handed out
/// before by this process.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
        let mut given = given.lock().unwrap_or_else(|e| e.into_inner());
        if given.insert(port) {
            return port;
        }
    }
}

/// An X display number with no lock file and no socket, never handed out
/// before by this process. Each process starts at its own offset so that
/// test binaries running at the same time rarely collide.
pub fn free_display() -> u32 {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id() % DISPLAY_SPAN));
    loop {
        let n = FIRST_DISPLAY + next.fetch_add(1, Ordering::Relaxed) % DISPLAY_SPAN;
        let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        if !lock.exists() && !socket.exists() {
            return n;
        }
    }
}

/// Guards creating and removing files in the temp directory, so the directory
/// is removed only when empty and never under a file being created.
static FILES: Mutex<()> = Mutex::new(());

/// This process's directory for logs and temporary files (removed when the
/// last `TempFile` in it goes away).
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("vncmon-itest-{}", std::process::id()))
}

/// Whether logs and files are kept after a passing test (`VNCMON_KEEP_LOGS=1`).
pub fn keep_files() -> bool {
    std::env::var_os("VNCMON_KEEP_LOGS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A file created empty in `temp_dir()`, removed when dropped (kept when a
/// test fails or with `VNCMON_KEEP_LOGS`).
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    /// A new empty file named like `STEM-N.EXT`.
    pub fn new(stem: &str, ext: &str) -> TempFile {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let _guard = FILES.lock().unwrap_or_else(|e| e.into_inner());
        let dir = temp_dir();
        let path = dir.join(format!("{stem}-{n}.{ext}"));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::File::create(&path))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempFile { path }
    }

    /// A new file holding `bytes`.
    pub fn with_contents(stem: &str, ext: &str, bytes: &[u8]) -> TempFile {
        let f = TempFile::new(stem, ext);
        std::fs::write(&f.path, bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", f.path.display()));
        f
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if std::thread::panicking() || keep_files() {
            return;
        }
        let _guard = FILES.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::fs::remove_file(&self.path);
        // Succeeds only once the directory is empty.
        let _ = std::fs::remove_dir(temp_dir());
    }
}

/// A new directory in `temp_dir()` with its files, removed with them when
/// dropped (kept when a test fails or with `VNCMON_KEEP_LOGS`).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    /// A new empty directory named like `STEM-N`.
    pub fn new(stem: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let _guard = FILES.lock().unwrap_or_else(|e| e.into_inner());
        let path = temp_dir().join(format!("{stem}-dir-{n}"));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self/name` as a string, for command lines.
    pub fn join(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    /// Writes `self/name`.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || keep_files() {
            return;
        }
        let _guard = FILES.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::fs::remove_dir_all(&self.path);
        let _ = std::fs::remove_dir(temp_dir());
    }
}
