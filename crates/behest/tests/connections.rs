//! Connection-level hardening against the real binary over loopback, with raw TCP: the
//! header and idle timeouts (and that neither cuts a request in flight), the body
//! timeout, the connection cap, JSON bodies on the HTTP parser's own answers, and
//! `Connection: close` on a response sent before the request's body was read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use common::{Backend, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server whose connection timeouts are `header`, `idle` and `body` seconds.
async fn server(header: u64, idle: u64, body: u64, extra: &[&str], config: &str) -> Server {
    let (header, idle, body) = (header.to_string(), idle.to_string(), body.to_string());
    let mut args = vec![
        "--header-read-timeout-secs",
        &header,
        "--idle-timeout-secs",
        &idle,
        "--request-body-timeout-secs",
        &body,
    ];
    args.extend_from_slice(extra);
    Server::start_with(Backend::Sqlite, &args, config).await
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap()
}

/// Waits (at most `limit`) for the server to close the connection, returning how long
/// that took and whatever arrived before.
async fn closed_after(tcp: &mut TcpStream, since: Instant, limit: Duration) -> (Duration, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at((since + limit).into(), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (since.elapsed(), String::from_utf8_lossy(&got).into_owned())
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; received {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// One HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    /// `name: value`, names lowercased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// Asserts a contract error body and returns `error.code`.
    fn error_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let value: Value = serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("{self:?}"));
        let error = &value["error"];
        assert!(error["message"].is_string(), "{self:?}");
        assert!(error["type"].is_string(), "{self:?}");
        error["code"].as_str().unwrap().to_owned()
    }
}

/// Reads one response with a `Content-Length` body (what every error here has).
async fn read_response(tcp: &mut TcpStream) -> Raw {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let head_end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!(
                "closed before a response head: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response: {:?}", String::from_utf8_lossy(&got)),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{head}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = got[head_end + 4..].to_vec();
    while body.len() < length {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => body.extend_from_slice(&buf[..n]),
        }
    }
    Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

const READYZ: &[u8] = b"GET /readyz HTTP/1.1\r\nhost: localhost\r\n\r\n";

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    let server = server(1, 5, 5, &[], "").await;
    let mut tcp = connect(&server).await;
    let opened = Instant::now();
    let (after, got) = closed_after(&mut tcp, opened, Duration::from_secs(4)).await;
    assert!(got.is_empty(), "{got}");
    assert!(
        after >= Duration::from_millis(500),
        "closed too soon: {after:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_head_sent_byte_by_byte_is_cut_at_the_header_timeout() {
    let server = server(1, 5, 5, &[], "").await;
    let mut tcp = connect(&server).await;
    let opened = Instant::now();
    let (mut reader, mut writer) = tcp.split();
    // The whole head would take 200 ms × 41 bytes ≈ 8 s.
    let trickle = async {
        for byte in READYZ {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut got = Vec::new();
    let closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return opened.elapsed(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let after = tokio::select! {
        after = closed => after,
        () = trickle => unreachable!(),
        () = tokio::time::sleep(Duration::from_secs(5)) => panic!("a trickled head kept the connection open"),
    };
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        after >= Duration::from_millis(500),
        "closed too soon: {after:?}"
    );
    assert!(after < Duration::from_secs(3), "closed too late: {after:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_slow_next_head_cut_sooner() {
    let server = server(1, 2, 5, &[], "").await;
    // Idle after a full response: closed at the idle timeout, not the header one.
    let mut tcp = connect(&server).await;
    tcp.write_all(READYZ).await.unwrap();
    let r = read_response(&mut tcp).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!r.closes(), "{r:?}");
    let answered = Instant::now();
    let (after, got) = closed_after(&mut tcp, answered, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{got}");
    assert!(
        after >= Duration::from_millis(1500),
        "closed at {after:?}, idle is 2 s"
    );
    assert!(
        after < Duration::from_secs(3),
        "closed at {after:?}, idle is 2 s"
    );

    // The next head's first byte starts the (shorter) header clock.
    let mut tcp = connect(&server).await;
    tcp.write_all(READYZ).await.unwrap();
    assert_eq!(read_response(&mut tcp).await.status, 200);
    tcp.write_all(b"GET /rea").await.unwrap();
    let started = Instant::now();
    let (after, _) = closed_after(&mut tcp, started, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(500),
        "closed too soon: {after:?}"
    );
    assert!(
        after < Duration::from_millis(1800),
        "the idle clock was used: {after:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_stream_longer_than_both_timeouts_is_not_cut() {
    let fakes = FakeProviders::start().await.unwrap();
    let config = format!(
        "[providers.openai]\napi_key = \"sk-openai-test\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url()
    );
    let server = server(1, 1, 1, &[], &config).await;
    let account = server.signup("streams@example.com").await;
    let project = server.project_with_token(&account, "Streams").await;
    server
        .deploy_model(&account, &project.id, "gpt-4o-mini")
        .await;

    // 150 ms between ~28 events: about 4 s in flight.
    let words = "one two three four five six seven eight nine ten eleven twelve thirteen \
                 fourteen fifteen sixteen seventeen eighteen nineteen twenty";
    let body = json!({
        "messages": [{"role": "user", "content": format!("#slow {words}")}],
        "stream": true,
    })
    .to_string();
    let request = format!(
        "POST /p/{}/v1/chat/completions HTTP/1.1\r\nhost: localhost\r\n\
         authorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        project.slug,
        project.token,
        body.len()
    );
    let mut tcp = connect(&server).await;
    let started = Instant::now();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(15), tcp.read(&mut buf))
            .await
            .expect("the stream stalled")
            .unwrap();
        assert!(
            n > 0,
            "the stream was cut after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\r\n0\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("data: [DONE]"), "{text}");
    assert!(text.contains("twenty"), "{text}");
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(2500),
        "the stream took only {took:?}: it proves nothing"
    );
    // Done, the connection is idle: now the idle timeout applies.
    let (after, _) = closed_after(&mut tcp, Instant::now(), Duration::from_secs(4)).await;
    assert!(after >= Duration::from_millis(500), "{after:?}");
    server.stop().await;
}

#[tokio::test]
async fn oversized_and_malformed_heads_get_json_errors() {
    let server = server(5, 5, 5, &[], "").await;

    let mut big = b"GET /readyz HTTP/1.1\r\nhost: localhost\r\nx-big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let mut tcp = connect(&server).await;
    // The server answers before the head ends and stops reading: the rest may fail.
    let _ = tcp.write_all(&big).await;
    let r = read_response(&mut tcp).await;
    assert_eq!(r.status, 431, "{r:?}");
    assert!(r.closes(), "{r:?}");
    assert!(!r.error_code().is_empty());
    assert!(r.header("x-trace-id").is_some(), "{r:?}");

    for garbage in [
        &b"\x16\x03\x01\x02\x00 hello\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let mut tcp = connect(&server).await;
        tcp.write_all(garbage).await.unwrap();
        let r = read_response(&mut tcp).await;
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.closes(), "{r:?}");
        assert_eq!(r.error_code(), "invalid_request");
    }

    // After a good response on the same connection, too.
    let mut tcp = connect(&server).await;
    tcp.write_all(READYZ).await.unwrap();
    assert_eq!(read_response(&mut tcp).await.status, 200);
    tcp.write_all(b"BAD\x01 / HTTP/1.1\r\n\r\n").await.unwrap();
    let r = read_response(&mut tcp).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.error_code(), "invalid_request");
    server.stop().await;
}

#[tokio::test]
async fn over_the_connection_cap_a_connection_gets_503_until_one_closes() {
    let server = server(3, 1, 5, &["--max-connections", "2"], "").await;
    // The readiness probe's pooled connection holds a slot until it idles out.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = connect(&server).await;
    let _second = connect(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut third = connect(&server).await;
    let r = read_response(&mut third).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("1"), "{r:?}");
    assert!(r.closes(), "{r:?}");
    assert_eq!(r.error_code(), "overloaded");
    let (_, rest) = closed_after(&mut third, Instant::now(), Duration::from_secs(2)).await;
    assert!(rest.is_empty(), "{rest}");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut tcp = connect(&server).await;
        let _ = tcp.write_all(READYZ).await;
        let r = read_response(&mut tcp).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{r:?}");
        assert!(
            Instant::now() < deadline,
            "the closed slot was never reused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_refused_unread_closes_the_connection() {
    let server = server(5, 5, 5, &[], "").await;
    for path in ["/p/no-such-project/v1/chat/completions", "/no/such/route"] {
        let mut tcp = connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             content-length: 100000\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let r = read_response(&mut tcp).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(r.closes(), "{path}: {r:?}");
        r.error_code();
        let (after, rest) = closed_after(&mut tcp, Instant::now(), Duration::from_secs(3)).await;
        assert!(rest.is_empty(), "{rest}");
        assert!(after < Duration::from_secs(2), "{after:?}");
    }

    // A body read to its end keeps the connection.
    let mut tcp = connect(&server).await;
    tcp.write_all(
        b"POST /auth/v1/signup HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
          content-length: 8\r\n\r\nnot json",
    )
    .await
    .unwrap();
    let r = read_response(&mut tcp).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!r.closes(), "{r:?}");
    tcp.write_all(READYZ).await.unwrap();
    assert_eq!(read_response(&mut tcp).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408() {
    let server = server(5, 5, 1, &[], "").await;
    let mut tcp = connect(&server).await;
    tcp.write_all(
        b"POST /auth/v1/signup HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
          content-length: 1000\r\n\r\n{\"email\": \"slow@",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let r = read_response(&mut tcp).await;
    let after = started.elapsed();
    assert_eq!(r.status, 408, "{r:?}");
    assert!(r.closes(), "{r:?}");
    assert_eq!(r.error_code(), "invalid_request");
    assert!(r.header("x-trace-id").is_some(), "{r:?}");
    assert!(after >= Duration::from_millis(500), "{after:?}");
    let (_, rest) = closed_after(&mut tcp, Instant::now(), Duration::from_secs(3)).await;
    assert!(rest.is_empty(), "{rest}");
    server.stop().await;
}
