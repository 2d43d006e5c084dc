//! Connection hardening of `corpus serve`, black-box against the real binary over raw TCP:
//! head, keep-alive and body idle timeouts, a bounded shutdown with a stalled upload, and early
//! refusals (413) that a client writing its whole body before reading can still read.

use std::{
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use corpus_te::auth::token::TokenKeys;
use secrecy::SecretString;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use uuid::Uuid;

use crate::helpers::{TEST_SECRET, TestDb, cli::corpus};

/// The real binary serving a fresh database, with its spool and storage directories.
struct Served {
    child: Child,
    port: u16,
    db: TestDb,
    spool: tempfile::TempDir,
    storage: tempfile::TempDir,
    logs: tempfile::NamedTempFile,
}

impl Served {
    /// Starts `corpus serve` with `settings` (environment variables) on top of the defaults.
    async fn start(settings: &[(&str, &str)]) -> Self {
        let db = TestDb::new().await;
        let spool = tempfile::tempdir().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let logs = tempfile::NamedTempFile::new().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = corpus(&db.url, storage.path());
        cmd.env("CORPUS_BIND", format!("127.0.0.1:{port}"))
            .env("APP_SECRET_KEY", TEST_SECRET)
            .env("UPLOAD_TMP_DIR", spool.path())
            .env("LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(logs.reopen().unwrap());
        for (name, value) in settings {
            cmd.env(name, value);
        }
        let mut served = Self { child: cmd.arg("serve").spawn().unwrap(), port, db, spool, storage, logs };
        served.wait_until_healthy().await;
        served
    }

    async fn wait_until_healthy(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{}/health", self.port)).await
                && r.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited early with {status}: {}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become healthy: {}", self.logs());
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.logs.path()).unwrap_or_default()
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).await.unwrap()
    }

    /// A contributor's bearer token and a category to upload into.
    async fn contributor(&self) -> (String, Uuid) {
        let user: Uuid = sqlx::query_scalar(
            r#"INSERT INTO "user" (id, phone, name, is_active, has_given_consent, consent_given_at)
               VALUES (gen_random_uuid(), $1, 'Uploader', true, true, now()) RETURNING id"#,
        )
        .bind(format!("+919{:09}", rand::random::<u32>() % 1_000_000_000))
        .fetch_one(&self.db.pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM role WHERE name::text = 'user'")
            .bind(user)
            .execute(&self.db.pool)
            .await
            .unwrap();
        let category: Uuid = sqlx::query_scalar(
            "INSERT INTO category (name, title, published) VALUES ('songs', 'Songs', true) RETURNING id",
        )
        .fetch_one(&self.db.pool)
        .await
        .unwrap();
        let token = TokenKeys::new(&SecretString::from(TEST_SECRET), 60).issue(user).unwrap();
        (token, category)
    }

    async fn record_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(&self.db.pool).await.unwrap()
    }

    /// Sends SIGTERM and waits (up to `limit`) for the process to exit: (exit code, time taken).
    fn terminate(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let sent = Instant::now();
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        while sent.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), sent.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server still running {limit:?} after SIGTERM: {}", self.logs());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

/// Waits up to `limit` for `check` to hold.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Reads until the peer closes the connection (or resets it), within `limit`: what arrived, and
/// whether the connection was closed in time.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (received, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `Content-Length` body: (head, body).
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return (head, received[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a response within 10 s")
            .expect("reading the response");
        assert!(n > 0, "connection closed before a whole response: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buf[..n]);
    }
}

/// The start of a multipart upload form: the text fields, then the head of the file part.
fn upload_form_start(boundary: &str, category: Uuid) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [("title", "Stalled"), ("media_type", "image"), ("category_id", &category.to_string())] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body
}

fn upload_head(token: &str, boundary: &str, framing: &str) -> String {
    format!(
        "POST /api/v1/records/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n"
    )
}

/// Starts an upload of `total` file bytes, sends `sent` of them and stalls; returns once the
/// server has begun spooling it.
async fn stalled_upload(served: &Served, total: usize, sent: usize) -> TcpStream {
    let (token, category) = served.contributor().await;
    let boundary = "stalledboundary";
    let start = upload_form_start(boundary, category);
    let end = format!("\r\n--{boundary}--\r\n");
    let length = start.len() + total + end.len();
    let mut stream = served.connect().await;
    stream.write_all(upload_head(&token, boundary, &format!("Content-Length: {length}\r\n")).as_bytes()).await.unwrap();
    stream.write_all(&start).await.unwrap();
    stream.write_all(&vec![0x42; sent]).await.unwrap();
    let spool = served.spool.path().to_owned();
    assert!(
        eventually(Duration::from_secs(10), || !files_in(&spool).is_empty()).await,
        "the upload is being spooled: {}",
        served.logs()
    );
    stream
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_after_the_header_timeout() {
    let served = Served::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "2"), ("HTTP_KEEPALIVE_TIMEOUT_SECONDS", "60")]).await;
    let mut stream = served.connect().await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let mut buf = [0u8; 1024];
    let closed = loop {
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => break true,
                Ok(n) => panic!("no answer is due to an unfinished head: {}", String::from_utf8_lossy(&buf[..n])),
            },
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                if writer.write_all(b"x").await.is_err() {
                    break true;
                }
            }
        }
    };
    assert!(closed, "a head dribbled for 10 s is still being read: {}", served.logs());
    assert!(started.elapsed() >= Duration::from_millis(1500), "cut before the timeout: {:?}", started.elapsed());

    // A client that sends its head at once is unaffected.
    let ok = reqwest::get(format!("http://127.0.0.1:{}/health", served.port)).await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_request_head_over_16_kib_is_refused_and_a_12_kib_one_is_served() {
    // The connection's read buffer is capped at 16 KiB (so a thousand slow uploads stay small);
    // that also bounds a request head, as common proxies do.
    let served = Served::start(&[]).await;
    let mut stream = served.connect().await;
    let cookie = "c".repeat(12 * 1024);
    stream
        .write_all(format!("GET /health HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let mut stream = served.connect().await;
    let cookie = "c".repeat(20 * 1024);
    stream
        .write_all(format!("GET /health HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (rest, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "the connection is closed");
    let answer = String::from_utf8_lossy(&rest);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn a_kept_alive_connection_is_reused_then_closed_once_idle() {
    let served = Served::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "60"), ("HTTP_KEEPALIVE_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = served.connect().await;
    for _ in 0..2 {
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let (rest, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "an idle connection is still open after 10 s");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn a_stalled_upload_is_cut_after_the_body_idle_timeout_leaving_nothing_behind() {
    let served = Served::start(&[("HTTP_BODY_IDLE_TIMEOUT_SECONDS", "2")]).await;
    let mut stream = stalled_upload(&served, 512 * 1024, 64 * 1024).await;
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(12)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(closed, "a stalled upload is still open after 12 s: {}", served.logs());
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#"{"detail":"Request Timeout"}"#), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-request-id:"), "{answer}");
    let spool = served.spool.path().to_owned();
    assert!(eventually(Duration::from_secs(5), || files_in(&spool).is_empty()).await, "{:?}", files_in(&spool));
    assert_eq!(served.record_count().await, 0);
    assert!(files_in(served.storage.path()).is_empty(), "{:?}", files_in(served.storage.path()));
}

#[tokio::test]
async fn sigterm_with_a_stalled_upload_exits_cleanly_after_the_grace_period() {
    let mut served = Served::start(&[("HTTP_BODY_IDLE_TIMEOUT_SECONDS", "300"), ("SHUTDOWN_GRACE_SECONDS", "2")]).await;
    let _stream = stalled_upload(&served, 512 * 1024, 64 * 1024).await;
    // Grace, then at most the abandon wait (5 s), with room for a loaded machine.
    let (code, took) = served.terminate(Duration::from_secs(2 + 5 + 8));
    eprintln!("SIGTERM with a stalled upload: exited after {took:?}");
    assert_eq!(code, Some(0), "{}", served.logs());
    assert!(took >= Duration::from_millis(1500), "in-flight upload got no grace period: {took:?}");
    let logs = served.logs();
    assert!(logs.contains("shutdown grace period over"), "{logs}");
    assert!(files_in(served.spool.path()).is_empty(), "{:?}", files_in(served.spool.path()));
    assert_eq!(served.record_count().await, 0);
    assert!(files_in(served.storage.path()).is_empty(), "{:?}", files_in(served.storage.path()));
}

/// Writes a whole request, as a client that reads only afterwards, then reads the answer.
async fn write_all_then_read(served: &Served, request: &[u8]) -> (String, serde_json::Value) {
    let mut stream = served.connect().await;
    tokio::time::timeout(Duration::from_secs(30), stream.write_all(request))
        .await
        .expect("the server reads the body within 30 s")
        .expect("the whole request is written (no broken pipe)");
    let (head, body) = read_response(&mut stream).await;
    (head, serde_json::from_slice(&body).unwrap_or_default())
}

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn an_upload_declared_over_the_limit_and_written_whole_before_reading_gets_a_readable_413() {
    let served = Served::start(&[("MAX_FILE_SIZE", &(3 * MIB).to_string())]).await;
    let (token, category) = served.contributor().await;
    let boundary = "bigboundary";
    let mut body = upload_form_start(boundary, category);
    body.extend(vec![0x42; 4 * MIB]);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = upload_head(&token, boundary, &format!("Content-Length: {}\r\n", body.len())).into_bytes();
    request.extend(body);

    let (head, json) = write_all_then_read(&served, &request).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(json["detail"], format!("File too large: the limit is {} bytes", 3 * MIB));
    assert_eq!(served.record_count().await, 0);
}

#[tokio::test]
async fn an_upload_streamed_over_the_limit_and_written_whole_before_reading_gets_a_readable_413() {
    let served = Served::start(&[("MAX_FILE_SIZE", &(3 * MIB).to_string())]).await;
    let (token, category) = served.contributor().await;
    let boundary = "chunkedboundary";
    let mut body = upload_form_start(boundary, category);
    // Well over the limit: more than the socket buffers hold after the refusal (about 10 MiB on
    // loopback), so the client is still writing when the server decides.
    body.extend(vec![0x42; 24 * MIB]);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    // No declared length: the limit is found while the file streams in.
    let mut request = upload_head(&token, boundary, "Transfer-Encoding: chunked\r\n").into_bytes();
    for chunk in body.chunks(64 * 1024) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");

    let (head, json) = write_all_then_read(&served, &request).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(json["detail"], format!("File too large: the limit is {} bytes", 3 * MIB));
    assert_eq!(served.record_count().await, 0);
    assert!(files_in(served.spool.path()).is_empty(), "{:?}", files_in(served.spool.path()));
}

#[tokio::test]
async fn an_unauthenticated_upload_written_whole_before_reading_gets_a_readable_401() {
    let served = Served::start(&[]).await;
    let boundary = "anonboundary";
    let mut body = upload_form_start(boundary, Uuid::new_v4());
    body.extend(vec![0x42; 4 * MIB]);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = upload_head("not-a-token", boundary, &format!("Content-Length: {}\r\n", body.len())).into_bytes();
    request.extend(body);

    let (head, json) = write_all_then_read(&served, &request).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(json["detail"].is_string(), "{json}");
}

#[tokio::test]
async fn per_ip_limits_still_see_the_peer_address() {
    // The server loop hands the peer address to the application (ConnectInfo): without it the
    // per-IP OTP limit would not apply at all.
    let served = Served::start(&[("OTP_IP_LIMIT_PER_HOUR", "1"), ("OTP_RATE_LIMIT_MINUTES", "0")]).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for phone in ["9000000001", "9000000002"] {
        let response = client
            .post(format!("http://127.0.0.1:{}/api/v1/auth/send-otp", served.port))
            .json(&serde_json::json!({ "phone_number": phone }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [404, 429]);
}
