//! A small HTTP/1.1 server on 127.0.0.1 that serves a directory in the Hugging Face hub's URL
//! layout, with the headers hf-hub reads, so the real hf-hub client runs against it:
//!
//! `GET /{owner}/{name}/resolve/{revision}/{file}` and `/datasets/{owner}/{name}/resolve/…`
//! → the file `root/{owner}/{name}/{file}` (datasets: `root/datasets/…`), with `ETag`,
//! `X-Repo-Commit`, `Content-Length`, and for a `Range: bytes=a-[b]` request 206 with
//! `Content-Range`. Anything else is 404.
//!
//! Like the real hub, large files (`*.safetensors`, `*.parquet`: the ones the hub keeps in LFS)
//! are not served from `resolve/`: it answers `302 Found` with an absolute `Location` on a
//! "CDN" path (`/lfs/…`, same server) and the file's identity in `X-Linked-Etag` /
//! `X-Linked-Size`. `GET /api/{models,datasets}/{owner}/{name}/revision/{revision}` answers the
//! repository's info as JSON (`sha`, `siblings` = every file), as the hub does for listings.
//! A repository folder holding a file `.moved-to` (text `owner/name`) answers
//! `307` with a relative `Location` to that repository, as the hub does for a renamed one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The commit every served revision resolves to.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

pub struct HubServer {
    pub endpoint: String,
    stop: Arc<AtomicBool>,
    /// Requests answered so far.
    pub requests: Arc<AtomicUsize>,
    handle: Option<JoinHandle<()>>,
    addr: std::net::SocketAddr,
}

impl HubServer {
    /// Serves `root` until dropped or [`HubServer::stop`]ped.
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let (stop, requests) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (s, r, root) = (stop.clone(), requests.clone(), root.to_path_buf());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = serve(conn, &root, addr);
                }
            }
        });
        Self { endpoint: format!("http://{addr}"), stop, requests, handle: Some(handle), addr }
    }

    /// Stops accepting connections; later requests are refused.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut conn: TcpStream, root: &Path, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let (a, b) = v.trim().split_once('-').unwrap_or((v.trim(), ""));
            range = Some((a.parse::<u64>().unwrap_or(0), b.parse::<u64>().ok()));
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if let Some(moved) = moved(root, path) {
        return write!(
            conn,
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {moved}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    if let Some(body) = info(root, path) {
        return write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let (file, cdn) = match path.strip_prefix("/lfs/") {
        Some(rel) if !rel.split('/').any(|p| p.is_empty() || p == "..") => (Some(root.join(rel)), true),
        Some(_) => (None, true),
        None => (resolve(root, path), false),
    };
    let Some(file) = file.filter(|f| f.is_file()) else {
        return write!(conn, "{not_found}");
    };
    let mut body = Vec::new();
    std::fs::File::open(&file)?.read_to_end(&mut body)?;
    let total = body.len() as u64;
    let etag = format!("{:016x}", fnv1a(&body));
    let lfs = file.extension().is_some_and(|e| e == "safetensors" || e == "parquet");
    if lfs && !cdn {
        let rel = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        return write!(
            conn,
            "HTTP/1.1 302 Found\r\nLocation: http://{addr}/lfs/{rel}\r\nX-Linked-Etag: \"{etag}\"\r\nX-Linked-Size: {total}\r\nX-Repo-Commit: {COMMIT}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    let (status, slice, extra) = match range {
        Some((a, b)) => {
            let end = b.unwrap_or(total.saturating_sub(1)).min(total.saturating_sub(1));
            let part = body.get(a as usize..=end as usize).unwrap_or(&[]).to_vec();
            ("206 Partial Content", part, format!("Content-Range: bytes {a}-{end}/{total}\r\n"))
        }
        None => ("200 OK", body, String::new()),
    };
    // The CDN knows nothing of commits; the hub names one on every answer.
    let commit = if cdn { String::new() } else { format!("X-Repo-Commit: {COMMIT}\r\n") };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\n{commit}{extra}Connection: close\r\n\r\n",
        slice.len()
    )?;
    conn.write_all(&slice)
}

/// `/api/{models|datasets}/{owner}/{name}/revision/{rev}` → `{"sha", "siblings": [{"rfilename"}]}`.
fn info(root: &Path, url_path: &str) -> Option<String> {
    let parts: Vec<&str> = url_path.trim_start_matches('/').split('/').collect();
    let [_, kind, owner, name, "revision", _] = parts.as_slice() else { return None };
    if parts[0] != "api" || [owner, name].iter().any(|p| p.is_empty() || **p == "..") {
        return None;
    }
    let mut dir = root.to_path_buf();
    dir.extend((*kind == "datasets").then_some("datasets"));
    dir.extend([owner, name]);
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    let siblings: Vec<String> = files.iter().map(|f| format!("{{\"rfilename\":\"{f}\"}}")).collect();
    Some(format!("{{\"sha\":\"{COMMIT}\",\"siblings\":[{}]}}", siblings.join(",")))
}

/// The relative URL of the same file in the repository named by `{repo}/.moved-to`, if any.
fn moved(root: &Path, url_path: &str) -> Option<String> {
    let parts: Vec<&str> = url_path.trim_start_matches('/').split('/').collect();
    let skip = usize::from(parts.first() == Some(&"datasets"));
    let (owner, name) = (parts.get(skip)?, parts.get(skip + 1)?);
    let dir = resolve(root, url_path)?.ancestors().find(|a| a.ends_with(Path::new(owner).join(name)))?.to_path_buf();
    let to = std::fs::read_to_string(dir.join(".moved-to")).ok()?;
    let mut p = parts.clone();
    let to: Vec<&str> = to.trim().split('/').collect();
    p[skip] = to[0];
    p[skip + 1] = to[1];
    Some(format!("/{}", p.join("/")))
}

/// `/[datasets/]{owner}/{name}/resolve/{revision}/{file…}` → `root/[datasets/]{owner}/{name}/{file…}`.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = url_path.trim_start_matches('/').split('/').collect();
    let (prefix, rest) = match parts.first() {
        Some(&"datasets") => (Some("datasets"), &parts[1..]),
        _ => (None, &parts[..]),
    };
    if rest.len() < 5 || rest[2] != "resolve" || rest.iter().any(|p| p.is_empty() || *p == "..") {
        return None;
    }
    let mut p = root.to_path_buf();
    p.extend(prefix);
    p.extend([rest[0], rest[1]]);
    p.extend(&rest[4..]);
    Some(p)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}
