//! open-streams: holds many streamed chat completions open at once against one URL, to
//! measure what an open stream costs the gateway (its memory, mostly).
//!
//! Opens `-n` streams over plain HTTP/1.1 on loopback, at most `--opening` handshakes at
//! a time; a stream counts as open once its first event arrived. Every stream is read
//! (and discarded) as it comes, so none is held up by a full socket buffer. Once all are
//! open (or `--max-seconds` passed) it prints `open N` on stdout, holds them for
//! `--hold-secs`, prints `held N` (how many were still open at the end) and exits,
//! which closes them.
//!
//! usage: open-streams --url http://127.0.0.1:PORT/p/slug/v1/chat/completions [-n 10000]
//!                     [--opening 256] [--hold-secs 5] [--max-seconds 120]
//! OPEN_STREAMS_AUTH_FILE names a file of header lines (one `Authorization: Bearer …`
//! per end user); stream i carries line i mod N.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

fn die(msg: &str) -> ! {
    eprintln!("open-streams: {msg}");
    std::process::exit(2)
}

struct Opts {
    addr: SocketAddr,
    host: String,
    path: String,
    n: usize,
    opening: usize,
    hold: Duration,
    max: Duration,
    auths: Vec<String>,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args.get(i + 1).cloned().unwrap_or_else(|| die(&format!("{name} needs a value"))))
    };
    let number = |name: &str, default: u64| {
        value(name).map_or(default, |v| v.parse().unwrap_or_else(|_| die(&format!("{name}: not a number"))))
    };
    let url = value("--url").unwrap_or_else(|| die("--url is required"));
    let rest = url.strip_prefix("http://").unwrap_or_else(|| die("only http:// URLs"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host.parse().unwrap_or_else(|_| die("the URL's host must be IP:port"));
    let auths = match std::env::var("OPEN_STREAMS_AUTH_FILE") {
        Ok(file) => std::fs::read_to_string(file)
            .unwrap_or_else(|e| die(&format!("OPEN_STREAMS_AUTH_FILE: {e}")))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    };
    Opts {
        addr,
        host: host.to_owned(),
        path: if path.is_empty() { "/".into() } else { path.to_owned() },
        n: number("-n", 10_000) as usize,
        opening: number("--opening", 256) as usize,
        hold: Duration::from_secs(number("--hold-secs", 5)),
        max: Duration::from_secs(number("--max-seconds", 120)),
        auths,
    }
}

/// Opens one stream; answers once its first event arrived (`true`), then reads it to
/// the end in the background, counting it in `open` while it lasts.
async fn open(opts: Arc<Opts>, i: usize, open: Arc<AtomicUsize>) -> bool {
    let Ok(mut socket) = TcpStream::connect(opts.addr).await else {
        return false;
    };
    let body = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hold this stream open, please."}]}"#;
    let auth = if opts.auths.is_empty() {
        String::new()
    } else {
        format!("{}\r\n", opts.auths[i % opts.auths.len()])
    };
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        opts.path,
        opts.host,
        body.len()
    );
    if socket.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    // The head and the first event: `data:` after the blank line that ends the head.
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            if !seen.starts_with(b"HTTP/1.1 200") {
                let head = String::from_utf8_lossy(&seen[..end]);
                eprintln!("open-streams: stream {i}: {}", head.lines().next().unwrap_or(""));
                return false;
            }
            if seen[end..].windows(5).any(|w| w == b"data:") {
                break;
            }
        }
    }
    open.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1024];
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        open.fetch_sub(1, Ordering::Relaxed);
    });
    true
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let opts = Arc::new(opts());
    let started = Instant::now();
    let open_now = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(opts.opening.max(1)));
    let mut tasks = Vec::with_capacity(opts.n);
    for i in 0..opts.n {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let (task_opts, open_now, failed) = (opts.clone(), open_now.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            if !open(task_opts, i, open_now).await {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        }));
        if started.elapsed() > opts.max {
            break;
        }
    }
    for task in tasks {
        let _ = tokio::time::timeout(opts.max.saturating_sub(started.elapsed()), task).await;
    }
    println!(
        "open {} failed {} in {:.1} s",
        open_now.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(opts.hold).await;
    println!("held {}", open_now.load(Ordering::Relaxed));
}
