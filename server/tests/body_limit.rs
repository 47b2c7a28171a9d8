//! The body limit holds for server functions, which read their bodies themselves: a
//! 50 MB POST to `/rpc/login` is refused with 413 and the process's resident memory grows
//! by less than twice the limit. Alone in its test binary, so that no other test's
//! allocations share the process whose memory it measures.

mod common;

use common::{app, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Resident memory of this process, bytes (Linux).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A 50 MB sign-in is refused with 413 after at most the configured limit is read, and
/// the process's memory grows by less than twice that limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_post_to_a_server_function_is_413_without_buffering_it() {
    // The limit as configured out of the box (VIGIL_MAX_BODY_BYTES).
    const LIMIT: usize = 5 * 1024 * 1024;
    let app = app().await;
    let addr = serve(&app).await;
    let total: usize = 50 * 1024 * 1024;
    let before = rss_bytes();
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = s.into_split();
    // Read the answer while sending: the server may answer (and close) before the end.
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let head = format!(
        "POST /rpc/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {total}\r\nConnection: close\r\n\r\nemail="
    );
    wr.write_all(head.as_bytes()).await.expect("head");
    // Stream the body in 64 KiB pieces.
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < total {
        if wr.write_all(&chunk).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    drop(wr);
    let out = reader.await.expect("reader");
    let answer = String::from_utf8_lossy(&out);
    let grew = rss_bytes().saturating_sub(before);
    println!(
        "50 MB POST /rpc/login: {} after {} MB sent; RSS grew by {:.1} MB (limit {:.1} MB)",
        answer.lines().next().unwrap_or("(no answer)"),
        sent / (1024 * 1024),
        grew as f64 / 1_048_576.0,
        LIMIT as f64 / 1_048_576.0
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "expected 413, got {:?}", answer.lines().next());
    assert!(grew < 2 * LIMIT as u64, "memory grew by {grew} bytes, over twice the {LIMIT} B limit");
}
