//! The `workos-authz-emulator` binary: arguments, and a restart with `--state` that keeps
//! every change made over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_workos-authz-emulator");
const DOCS: &str = include_str!("../../docs/local-engine.md");

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// Every line the emulator wrote to stderr so far, read by a thread so the pipe never
    /// fills (the emulator logs a line per request).
    pub(crate) logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub(crate) fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

/// Starts the binary on a fresh loopback port and waits (at most 30 s) for its banner.
pub(crate) fn start(args: &[&str]) -> Running {
    start_with_env(args, &[])
}

pub(crate) fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BINARY)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (address, banner) = mpsc::channel();
    let lines = logs.clone();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if let Some(base) = line.split("listening on ").nth(1) {
                let _ = address.send(base.trim().to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let base = banner
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no banner; stderr: {:?}", logs.lock().unwrap()));
    Running { child, base, logs }
}

/// Runs the binary to its end (at most 30 s) and returns its exit status and output.
pub(crate) fn run_to_end(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not end within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth("sk_test");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

pub(crate) fn documented_toml() -> &'static str {
    let start = DOCS.find("```toml\n").unwrap() + "```toml\n".len();
    &DOCS[start..start + DOCS[start..].find("```").unwrap()]
}

#[test]
fn help_prints_usage_and_bad_arguments_fail() {
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--state FILE"));
    let bad = Command::new(BINARY).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument"));
    let bad_policy = Command::new(BINARY)
        .args(["--policy", "/nonexistent/policy.toml"])
        .output()
        .unwrap();
    assert_eq!(bad_policy.status.code(), Some(1));
}

#[tokio::test]
async fn a_restart_with_state_keeps_every_change() {
    let directory = tempfile::tempdir().unwrap();
    let policy = directory.path().join("acme.toml");
    std::fs::write(&policy, documented_toml()).unwrap();
    let state = directory.path().join("state.db");
    let (policy, state) = (policy.to_str().unwrap(), state.to_str().unwrap());

    let first = start(&["--policy", policy, "--state", state]);
    let resource = call(
        &first.base,
        reqwest::Method::POST,
        "/authorization/resources",
        Some(
            json!({ "organization_id": "org_acme", "resource_type_slug": "project",
                     "external_id": "proj_gemini", "name": "Gemini" }),
        ),
    )
    .await;
    call(
        &first.base,
        reqwest::Method::POST,
        "/authorization/organization_memberships/om_bob/role_assignments",
        Some(json!({ "role_slug": "viewer", "resource_id": resource["id"] })),
    )
    .await;
    drop(first);

    // The state file wins over the policy it started from.
    let second = start(&["--policy", policy, "--state", state]);
    let reloaded = call(
        &second.base,
        reqwest::Method::GET,
        "/authorization/organizations/org_acme/resources/project/proj_gemini",
        None,
    )
    .await;
    assert_eq!(reloaded["id"], resource["id"]);
    let check = call(
        &second.base,
        reqwest::Method::POST,
        "/authorization/organization_memberships/om_bob/check",
        Some(json!({ "permission_slug": "projects:read", "resource_id": resource["id"] })),
    )
    .await;
    assert_eq!(check, json!({ "authorized": true }));
}
