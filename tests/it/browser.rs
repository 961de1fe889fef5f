//! The demo in a real browser: headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, which `scripts/test` installs when missing). Bob signs in on the
//! emulator's page, sees `proj_apollo` and not `proj_zeus`, is refused deleting `proj_apollo`,
//! signs out and is signed out; dave signs in, switches to `org_globex` and sees `proj_hermes`.
//! Screenshots of the signed-in pages go to `target/browser/`.
//!
//! Without `chromedriver` the test says so and passes, unless `WORKOS_AUTHZ_REQUIRE_BROWSER=1`
//! (set by `scripts/test` once it installed the browser), which makes a missing browser a
//! failure.
//!
//! The WebDriver client is the few calls the test needs, over `reqwest`: the protocol is plain
//! JSON over HTTP (W3C WebDriver), not worth a dependency.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long any one wait of the test may last.
const PATIENCE: Duration = Duration::from_secs(15);

struct Driver {
    process: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

struct Browser<'d> {
    driver: &'d Driver,
    session: String,
}

impl Driver {
    /// `chromedriver` on a free loopback port, once it answers; `None` when it is not installed.
    async fn start() -> Option<Driver> {
        let binary = ["chromedriver", "/usr/bin/chromedriver"]
            .into_iter()
            .find(|candidate| {
                Command::new(candidate)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            process,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await;
            if let Ok(response) = ready
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer within {PATIENCE:?}");
    }

    async fn browser(&self, profile: &std::path::Path) -> Browser<'_> {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .expect("chromium is installed beside chromedriver");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // As root, with no network but loopback: no sandbox, nothing in the background.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1100,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let created: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&capabilities)
            .send()
            .await
            .expect("a WebDriver session")
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        let browser = Browser {
            driver: self,
            session,
        };
        // Elements are waited for by the driver itself, up to the test's patience.
        browser
            .command(
                "POST",
                "timeouts",
                json!({"implicit": PATIENCE.as_millis() as u64}),
            )
            .await;
        browser
    }
}

impl Browser<'_> {
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver.base, self.session);
        let request = match method {
            "GET" => self.driver.http.get(url),
            "DELETE" => self.driver.http.delete(url),
            _ => self.driver.http.post(url).json(&body),
        };
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                answer["value"]["message"]
            );
        }
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.command("POST", "url", json!({"url": url})).await;
    }

    async fn url(&self) -> String {
        self.command("GET", "url", json!({}))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first element matching `css` (waiting for it).
    async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                "POST",
                "element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_object()
            .and_then(|element| element.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element for {css}: {found}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("element/{element}/click"), json!({}))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.command("GET", &format!("element/{element}/text"), json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits, polling at most every 100 ms up to the test's patience, for the text of `css`
    /// to satisfy `wanted`; returns it.
    async fn text_when(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if wanted(&text) || started.elapsed() > PATIENCE {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.command("GET", "screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn close(self) {
        let url = format!("{}/session/{}", self.driver.base, self.session);
        let _ = self.driver.http.delete(url).send().await;
    }
}

/// Signs in as `user`, choosing `organization` when the sign-in page offers several.
async fn sign_in(browser: &Browser<'_>, base: &str, user: &str, organization: &str) {
    browser.go(&format!("{base}/")).await;
    browser.click("#sign-in").await;
    let choice = format!(
        "form.user[data-user-id=\"{user}\"] button[data-organization-id=\"{organization}\"]"
    );
    browser.click(&choice).await;
    let who = browser.text_when("#who", |text| text.contains(user)).await;
    assert!(who.contains(user), "not signed in as {user}: {who}");
}

#[tokio::test]
async fn the_demo_in_a_real_browser() {
    let Some(driver) = Driver::start().await else {
        assert!(
            std::env::var("WORKOS_AUTHZ_REQUIRE_BROWSER").is_err(),
            "WORKOS_AUTHZ_REQUIRE_BROWSER is set but chromedriver is not installed"
        );
        eprintln!("browser test skipped: chromedriver is not installed (scripts/test installs it)");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let demo = crate::demo::demo_app::build(|_| None, addr).expect("the demo builds");
    tokio::spawn(async move { axum::serve(listener, demo.router).await });

    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;

    // Bob: a member of Acme, a viewer of Apollo only.
    sign_in(&browser, &base, "user_bob", "org_acme").await;
    let projects = browser.text("#projects").await;
    assert!(projects.contains("proj_apollo"), "{projects}");
    assert!(!projects.contains("proj_zeus"), "{projects}");
    browser.click("#call-delete-projects-proj_apollo").await;
    let outcome = browser
        .text_when("#outcome-delete-projects-proj_apollo", |text| {
            text.starts_with(|c: char| c.is_ascii_digit())
        })
        .await;
    assert_eq!(outcome, "403 refused");
    browser.click("#call-get-projects-proj_apollo").await;
    let outcome = browser
        .text_when("#outcome-get-projects-proj_apollo", |text| {
            text.starts_with(|c: char| c.is_ascii_digit())
        })
        .await;
    assert_eq!(outcome, "200 allowed");
    browser.screenshot("demo-bob").await;
    browser.click("#sign-out").await;
    let signed_out = browser
        .text_when("body", |text| text.contains("You are signed out"))
        .await;
    assert!(signed_out.contains("You are signed out"), "{signed_out}");
    assert_eq!(browser.url().await, format!("{base}/"));

    // Dave: a member of Acme and an admin of Globex.
    sign_in(&browser, &base, "user_dave", "org_acme").await;
    let projects = browser.text("#projects").await;
    assert!(!projects.contains("proj_hermes"), "{projects}");
    browser
        .click("#organization-choice option[value=\"org_globex\"]")
        .await;
    browser.click("#switch-button").await;
    let organization = browser
        .text_when("#organization", |text| text == "org_globex")
        .await;
    assert_eq!(organization, "org_globex");
    let projects = browser.text("#projects").await;
    assert!(projects.contains("proj_hermes"), "{projects}");
    browser.screenshot("demo-dave-globex").await;
    browser.close().await;
}
