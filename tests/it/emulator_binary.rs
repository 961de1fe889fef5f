//! The `workos-authz-emulator` binary: arguments, and a restart with `--state` that keeps
//! every change made over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_workos-authz-emulator");
const DOCS: &str = include_str!("../../docs/local-engine.md");

struct Running {
    child: Child,
    base: String,
    // Kept open: the emulator would fail writing to a closed stderr.
    _stderr: BufReader<ChildStderr>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BINARY)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    // The banner is three lines, printed before the first request is accepted.
    for _ in 0..3 {
        stderr.read_line(&mut banner).unwrap();
    }
    let base = banner
        .lines()
        .next()
        .and_then(|line| line.split("listening on ").nth(1))
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .trim()
        .to_owned();
    Running {
        child,
        base,
        _stderr: stderr,
    }
}

async fn call(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

fn documented_toml() -> &'static str {
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
    let state = directory.path().join("state.json");
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
