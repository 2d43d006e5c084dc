//! The web console in a real browser: Debian's Chromium, headless, driven through chromedriver
//! (WebDriver) against the application served on loopback. A contributor signs up by code,
//! records audio with Chromium's fake microphone and uploads it through a proxy that drops the
//! connection once in the middle (the page resumes from the chunks the server acknowledged); the
//! record shows in "my contributions"; a reviewer approves it with the keyboard; the admin
//! dashboard's counts change; a contributor cannot open the review page or call its endpoint.
//! Screenshots of every page at phone and desktop widths go to `target/console-screenshots/`.
//!
//! Chromium and chromedriver are installed by `scripts/setup.sh`; without them this test fails.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use fantoccini::{
    Client, ClientBuilder, Locator,
    actions::{InputSource, KeyAction, KeyActions},
};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::helpers::{TestApp, accounts::PASSWORD, sms::FakeSms};
use crate::records_crud::category;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "Chromium and chromedriver are required (scripts/setup.sh installs them)"
        );
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Driver { child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A TCP proxy in front of the app that, once armed, cuts the connection carrying the `cut_at`-th
/// chunk request halfway through its bytes, then refuses connections for a moment (so the browser
/// cannot quietly retry), and from then on forwards everything.
struct DroppingProxy {
    addr: SocketAddr,
    chunk_requests: Arc<AtomicUsize>,
    cut_done: Arc<AtomicBool>,
}

const CHUNK_REQUEST: &[u8] = b"POST /console/api/records/upload/chunk";

impl DroppingProxy {
    async fn start(upstream: SocketAddr, cut_at: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let chunk_requests = Arc::new(AtomicUsize::new(0));
        let cut_done = Arc::new(AtomicBool::new(false));
        let outage_until = Arc::new(std::sync::Mutex::new(None::<tokio::time::Instant>));
        let (requests, done) = (chunk_requests.clone(), cut_done.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let down = outage_until.lock().unwrap().is_some_and(|until| tokio::time::Instant::now() < until);
                if down {
                    drop(client);
                    continue;
                }
                let (requests, done, outage) = (requests.clone(), done.clone(), outage_until.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let back = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    });
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let data = &buffer[..n];
                        if data.windows(CHUNK_REQUEST.len()).any(|w| w == CHUNK_REQUEST) {
                            let seen = requests.fetch_add(1, Ordering::SeqCst) + 1;
                            if seen == cut_at && !done.swap(true, Ordering::SeqCst) {
                                // Half of this request goes through, then the line goes dead.
                                let _ = server_write.write_all(&data[..n / 2]).await;
                                *outage.lock().unwrap() =
                                    Some(tokio::time::Instant::now() + Duration::from_millis(1500));
                                back.abort();
                                return;
                            }
                        }
                        if server_write.write_all(data).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                    let _ = back.await;
                });
            }
        });
        DroppingProxy { addr, chunk_requests, cut_done }
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the current page at phone and desktop widths.
async fn shoot(browser: &Client, name: &str) {
    let dir = screenshot_dir();
    for (label, (w, h)) in [("phone", PHONE), ("desktop", DESKTOP)] {
        browser.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = browser.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn wait_for_path(browser: &Client, path: &str, seconds: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let url = browser.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        let status = browser
            .find(Locator::Id("upload-status"))
            .await
            .ok()
            .map(|e| async move { e.text().await.unwrap_or_default() });
        let status = match status {
            Some(f) => f.await,
            None => String::new(),
        };
        assert!(tokio::time::Instant::now() < deadline, "still on {url} (status: {status}), expected {path}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sign_in(browser: &Client, base: &str, phone: &str) {
    browser.goto(&format!("{base}/console/login")).await.unwrap();
    fill(browser, "#login-password input[name=phone]", phone).await;
    fill(browser, "#login-password input[name=password]", PASSWORD).await;
    click(browser, "#login-password button[type=submit]").await;
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form[action='/console/logout']"))
        .await
        .unwrap();
}

async fn sign_out(browser: &Client) {
    click(browser, "form[action='/console/logout'] button").await;
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("login-password")).await.unwrap();
}

async fn press(browser: &Client, key: char) {
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    browser.perform_actions(keys).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium_sign_up_record_resume_review_and_dashboard() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_webhook(c);
        c.otp.otp_rate_limit_minutes = 0;
    })
    .await;
    category(&app, "కథలు").await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    // Cut the third chunk request of the upload.
    let proxy = DroppingProxy::start(app.addr, 3).await;
    let base = format!("http://{}", proxy.addr);
    let driver = Driver::start().await;
    let browser = driver.browser().await;

    // The admin's dashboard before anything was contributed, and the admin pages.
    sign_in(&browser, &base, &admin.phone).await;
    browser.goto(&format!("{base}/console/admin")).await.unwrap();
    assert_eq!(text_of(&browser, "#stat-records").await, "0");
    shoot(&browser, "dashboard-before").await;
    browser.goto(&format!("{base}/console/admin/users")).await.unwrap();
    shoot(&browser, "users").await;
    browser.goto(&format!("{base}/console/admin/categories")).await.unwrap();
    shoot(&browser, "categories").await;
    sign_out(&browser).await;
    shoot(&browser, "login").await;

    // A contributor signs up by code, with consent, in English this time.
    browser.goto(&format!("{base}/console/lang/en?next=/console/signup")).await.unwrap();
    let phone = "+919833333333";
    fill(&browser, "#signup-phone input[name=name]", "Lakshmi").await;
    fill(&browser, "#signup-phone input[name=phone]", phone).await;
    shoot(&browser, "signup").await;
    click(&browser, "#signup-phone button[type=submit]").await;
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("signup-verify")).await.unwrap();
    fill(&browser, "#signup-verify input[name=code]", &sms.last_code(phone)).await;
    click(&browser, "#signup-verify input[name=consent]").await;
    shoot(&browser, "signup-consent").await;
    click(&browser, "#signup-verify button[type=submit]").await;
    wait_for_path(&browser, "/console/contribute", 10).await;
    browser.goto(&format!("{base}/console/lang/te?next=/console/contribute%3Fchunk%3D2048")).await.unwrap();

    // Records three seconds from the fake microphone and uploads them in 2 KiB chunks.
    fill(&browser, "#upload-form input[name=title]", "నా గొంతు").await;
    click(&browser, "#record-start").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    click(&browser, "#record-stop").await;
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#record-upload:not([disabled])"))
        .await
        .unwrap();
    shoot(&browser, "contribute").await;
    click(&browser, "#record-upload").await;
    wait_for_path(&browser, "/console/mine", 90).await;
    assert!(proxy.cut_done.load(Ordering::SeqCst), "the connection was cut during the upload");
    let (record_id, total_chunks): (uuid::Uuid, i32) =
        sqlx::query_as("SELECT r.uid, s.total_chunks FROM record r JOIN upload_session s ON s.record_uid = r.uid")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(total_chunks >= 3, "{total_chunks} chunks");
    // The cut chunk was sent again: one chunk request more than there are chunks.
    assert!(proxy.chunk_requests.load(Ordering::SeqCst) > total_chunks as usize);
    let (media_type, title): (String, String) =
        sqlx::query_as("SELECT media_type::text, title FROM record WHERE uid = $1")
            .bind(record_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!((media_type.as_str(), title.as_str()), ("audio", "నా గొంతు"));
    assert_eq!(text_of(&browser, "#total-records").await, "1");
    let listed = browser.find_all(Locator::Css("li.record")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(text_of(&browser, "li.record h2").await.contains("నా గొంతు"));
    browser.find(Locator::Css("li.record audio")).await.expect("a player for the recording");
    shoot(&browser, "mine").await;

    // The contributor cannot open the review page, nor post a decision.
    browser.goto(&format!("{base}/console/review")).await.unwrap();
    assert!(browser.find(Locator::Id("review-form")).await.is_err());
    assert_eq!(text_of(&browser, "h1").await, "403");
    shoot(&browser, "review-forbidden").await;
    browser.goto(&format!("{base}/console/mine")).await.unwrap();
    let status = browser
        .execute(
            "const csrf = document.querySelector('input[name=csrf]').value;
             return fetch('/console/review/' + arguments[0], {method: 'POST', credentials: 'same-origin',
                 body: new URLSearchParams({csrf, decision: 'approve'})}).then(r => r.status);",
            vec![json!(record_id.to_string())],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    sign_out(&browser).await;

    // A reviewer approves it with the keyboard.
    sign_in(&browser, &base, &reviewer.phone).await;
    browser.goto(&format!("{base}/console/review")).await.unwrap();
    let item = browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("review-item")).await.unwrap();
    assert_eq!(item.attr("data-id").await.unwrap(), Some(record_id.to_string()));
    assert_eq!(text_of(&browser, "#review-count").await, "0");
    shoot(&browser, "review").await;
    press(&browser, 'a').await;
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("queue-empty")).await.unwrap();
    assert_eq!(text_of(&browser, "#review-count").await, "1");
    shoot(&browser, "review-done").await;
    let status: String = sqlx::query_scalar("SELECT status FROM record WHERE uid = $1")
        .bind(record_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(status, "approved");
    sign_out(&browser).await;

    // The dashboard counts the record and the approval.
    sign_in(&browser, &base, &admin.phone).await;
    browser.goto(&format!("{base}/console/admin")).await.unwrap();
    assert_eq!(text_of(&browser, "#stat-records").await, "1");
    assert_eq!(text_of(&browser, "#stat-approved").await, "1");
    assert_eq!(text_of(&browser, "#stat-backlog").await, "0");
    shoot(&browser, "dashboard-after").await;

    // The exports page: an audio-only export started by the form is listed.
    browser.goto(&format!("{base}/console/admin/exports")).await.unwrap();
    click(&browser, "#export-form input[name=media_type][value=audio]").await;
    click(&browser, "#export-form button[type=submit]").await;
    wait_for_path(&browser, "/console/admin/exports", 10).await;
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("li.export")).await.unwrap();
    let kinds: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'export_dataset'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(kinds, 1);
    shoot(&browser, "exports").await;

    // Telugu is rendered with a Telugu font: the brand text has a real width, not tofu boxes.
    let width = browser
        .execute("return document.querySelector('.brand').getBoundingClientRect().width;", vec![])
        .await
        .unwrap();
    assert!(width.as_f64().unwrap() > 40.0, "{width}");
    browser.close().await.unwrap();
}
