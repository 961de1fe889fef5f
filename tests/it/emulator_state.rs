//! The binary's `--state` database: a crash (SIGKILL) loses no answered write, a bad state file
//! stops the start with the file's name and is left as it was, a commit that fails answers 503
//! and changes nothing (in memory, on disk, after a restart), `--policy` seeds only a new
//! database, `export` writes a policy file, and every request is logged.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use workos_authz::local::{LocalEngine, NewResource, Policy};

use super::emulator_binary::{Running, documented_toml, run_to_end, start, start_with_env};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn send(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, String), reqwest::Error> {
    let mut request = http()
        .request(method, format!("{base}{path}"))
        .bearer_auth("sk_test");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn status_of(base: &str, path: &str) -> u16 {
    send(base, reqwest::Method::GET, path, None)
        .await
        .unwrap()
        .0
}

/// The documented `acme.toml` (organization `org_acme`, workspace `ws_engineering` with the
/// project `proj_apollo` under it) written into `directory`.
fn acme_policy(directory: &Path) -> String {
    let path = directory.join("acme.toml");
    std::fs::write(&path, documented_toml()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn resource_path(external_id: &str) -> String {
    format!("/authorization/organizations/org_acme/resources/project/{external_id}")
}

fn new_project(external_id: &str) -> Value {
    json!({ "organization_id": "org_acme", "resource_type_slug": "project",
            "external_id": external_id, "name": "Crash test" })
}

/// Stops a killed or running emulator and waits (at most 10 s) for the process to be gone.
fn kill(running: &mut Running) {
    let _ = running.child.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the emulator did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A small deterministic generator (xorshift64*), so each seed replays the same choices.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// Writers create resources as fast as they are answered; once the seed's number of answers
/// is reached the process is killed with SIGKILL while writes are still in flight. Returns the
/// external ids that were answered 201.
async fn burst_then_kill(running: &mut Running, seed: u64) -> Vec<String> {
    let mut random = Seeded(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let kill_after = 5 + random.below(60) as usize;
    let writers = 2 + random.below(4) as usize;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (base, answered, progress) = (running.base.clone(), answered.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            // Bounded: the kill comes long before a writer could finish.
            for index in 0..400 {
                let external_id = format!("crash-{seed}-{writer}-{index}");
                let body = Some(new_project(&external_id));
                match send(
                    &base,
                    reqwest::Method::POST,
                    "/authorization/resources",
                    body,
                )
                .await
                {
                    Ok((201, _)) => {
                        answered.lock().unwrap().push(external_id);
                        progress.notify_one();
                    }
                    Ok((status, body)) => panic!("{external_id}: {status} {body}"),
                    // The process is gone: this write was never answered.
                    Err(_) => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < kill_after {
        assert!(Instant::now() < deadline, "seed {seed}: too slow");
        let _ = tokio::time::timeout(Duration::from_secs(1), progress.notified()).await;
    }
    kill(running);
    for task in tasks {
        task.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= kill_after, "seed {seed}");
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_a_burst_of_writes_loses_no_answered_write() {
    let directory = tempfile::tempdir().unwrap();
    let policy = acme_policy(directory.path());
    let started = Instant::now();
    let mut total = 0;
    for seed in 1..=5u64 {
        let state = directory.path().join(format!("crash-{seed}.db"));
        let state = state.to_str().unwrap();
        let mut running = start(&["--policy", &policy, "--state", state]);
        let answered = burst_then_kill(&mut running, seed).await;
        drop(running);

        // The database opens, and every write that was answered is in it.
        let restarted = start(&["--state", state]);
        for external_id in &answered {
            assert_eq!(
                status_of(&restarted.base, &resource_path(external_id)).await,
                200,
                "seed {seed}: {external_id} was answered 201 and is gone"
            );
        }
        eprintln!(
            "crash seed {seed}: {} writes answered 201 before SIGKILL, all present after restart",
            answered.len()
        );
        total += answered.len();
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
    assert!(total >= 25, "{total} answered writes over five seeds");
}

/// Runs the binary on `state` and asserts it refuses to start: a non-zero exit, a message
/// naming the file, and the file as it was.
fn assert_refused(state: &Path, expected: &str) {
    let before = snapshot(state);
    let output = run_to_end(&["--addr", "127.0.0.1:0", "--state", state.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{state:?}: {stderr}");
    assert!(
        stderr.contains(state.to_str().unwrap()),
        "the message names the file: {stderr}"
    );
    assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert_eq!(snapshot(state), before, "{state:?} changed");
    let mut wal = state.as_os_str().to_owned();
    wal.push("-wal");
    assert!(
        !Path::new(&wal).exists(),
        "no log was started beside {state:?}"
    );
}

/// A file's bytes, or a directory's entries.
fn snapshot(path: &Path) -> Vec<u8> {
    if path.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.join("\n").into_bytes()
    } else {
        std::fs::read(path).unwrap()
    }
}

#[test]
fn a_state_file_that_is_not_a_sound_state_database_stops_the_start_and_is_left_as_it_was() {
    let directory = tempfile::tempdir().unwrap();

    let empty = directory.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert_refused(&empty, "is empty");

    let text = directory.path().join("notes.db");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(100)).unwrap();
    assert_refused(&text, "not an SQLite database");

    let short = directory.path().join("short.db");
    std::fs::write(&short, b"SQLite").unwrap();
    assert_refused(&short, "not an SQLite database");

    // A real state database, cut in half.
    let truncated = directory.path().join("truncated.db");
    {
        let engine = LocalEngine::open(&truncated).unwrap();
        let organization = engine.create_organization("Big").unwrap();
        for index in 0..500 {
            engine
                .create_resource(NewResource::new(
                    &organization.id,
                    "project",
                    format!("project-{index}"),
                    "A project with a name",
                ))
                .unwrap();
        }
    }
    let whole = std::fs::read(&truncated).unwrap();
    assert!(whole.len() > 64 * 1024, "{} bytes", whole.len());
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    assert_refused(&truncated, "");

    // Another application's SQLite database.
    let foreign = directory.path().join("foreign.db");
    {
        let connection = rusqlite::Connection::open(&foreign).unwrap();
        connection
            .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER); INSERT INTO invoices (total) VALUES (42);")
            .unwrap();
    }
    assert_refused(&foreign, "another application");

    // Unreadable as a file: a directory stands where the database should be.
    let folder = directory.path().join("folder.db");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("keep"), b"x").unwrap();
    assert_refused(&folder, "is a directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_fails_answers_503_and_changes_nothing_in_memory_or_on_disk() {
    let directory = tempfile::tempdir().unwrap();
    let policy = acme_policy(directory.path());
    let state = directory.path().join("state.db");
    let state_text = state.to_str().unwrap().to_owned();
    let mut running = start(&["--policy", &policy, "--state", &state_text]);
    let base = running.base.clone();
    let (status, _) = send(
        &base,
        reqwest::Method::POST,
        "/authorization/permissions",
        Some(json!({ "slug": "kept:one", "name": "Kept" })),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);

    // Another connection holds the database's write lock: the emulator's commits fail.
    let blocker = rusqlite::Connection::open(&state).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, body) = send(
        &base,
        reqwest::Method::POST,
        "/authorization/permissions",
        Some(json!({ "slug": "lost:one", "name": "Lost" })),
    )
    .await
    .unwrap();
    assert_eq!(status, 503, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "storage_unavailable", "{body}");
    let directory_text = directory.path().to_str().unwrap();
    assert!(
        !body.contains(directory_text) && !body.contains("state.db"),
        "{body}"
    );
    // A cascade is one transaction too: the workspace and its project both stay.
    let (status, body) = send(
        &base,
        reqwest::Method::DELETE,
        "/authorization/organizations/org_acme/resources/workspace/ws_engineering?cascade_delete=true",
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 503, "{body}");
    // Memory is as it was.
    assert_eq!(
        status_of(&base, "/authorization/permissions/lost:one").await,
        404
    );
    let workspace = "/authorization/organizations/org_acme/resources/workspace/ws_engineering";
    assert_eq!(status_of(&base, workspace).await, 200);
    assert_eq!(status_of(&base, &resource_path("proj_apollo")).await, 200);
    assert_eq!(
        status_of(&base, "/authorization/permissions/kept:one").await,
        200
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let logs = running.log_text();
    assert!(
        logs.contains("could not be committed"),
        "the failure is logged: {logs}"
    );
    kill(&mut running);
    drop(running);

    // And so is the disk, after a restart.
    let restarted = start(&["--state", &state_text]);
    let base = restarted.base.clone();
    assert_eq!(
        status_of(&base, "/authorization/permissions/lost:one").await,
        404
    );
    assert_eq!(
        status_of(&base, "/authorization/permissions/kept:one").await,
        200
    );
    assert_eq!(status_of(&base, workspace).await, 200);
    assert_eq!(status_of(&base, &resource_path("proj_apollo")).await, 200);
    // The client's retry now acts: nothing of the failed attempt stands in its way.
    let (status, body) = send(
        &base,
        reqwest::Method::POST,
        "/authorization/permissions",
        Some(json!({ "slug": "lost:one", "name": "Lost" })),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn policy_seeds_only_a_new_database_and_export_writes_it_back_as_a_policy() {
    let directory = tempfile::tempdir().unwrap();
    let policy = acme_policy(directory.path());
    let state = directory.path().join("state.db");
    let state_text = state.to_str().unwrap().to_owned();
    let mut first = start(&["--policy", &policy, "--state", &state_text]);
    let (status, _) = send(
        &first.base,
        reqwest::Method::POST,
        "/authorization/resources",
        Some(new_project("proj_exported")),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    kill(&mut first);
    drop(first);

    // A second start with another policy keeps the database's state.
    let other = directory.path().join("other.json");
    std::fs::write(
        &other,
        r#"{ "organizations": [{ "id": "org_other", "name": "Other" }] }"#,
    )
    .unwrap();
    let mut second = start(&["--policy", other.to_str().unwrap(), "--state", &state_text]);
    assert_eq!(
        status_of(&second.base, "/organizations/org_acme").await,
        200
    );
    assert_eq!(
        status_of(&second.base, "/organizations/org_other").await,
        404
    );
    assert!(
        second.log_text().contains("--policy is not used"),
        "{}",
        second.log_text()
    );
    kill(&mut second);
    drop(second);

    // export: a TOML file, a JSON file, and JSON on standard output, all with the change.
    for name in ["export.toml", "export.json"] {
        let output = directory.path().join(name);
        let run = run_to_end(&[
            "export",
            "--state",
            &state_text,
            "--output",
            output.to_str().unwrap(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let exported = LocalEngine::load_policy_file(&output).unwrap();
        assert!(
            exported
                .get_resource_by_external_id("org_acme", "project", "proj_exported")
                .is_ok()
        );
    }
    let run = run_to_end(&["export", "--state", &state_text]);
    assert!(run.status.success());
    let printed = Policy::from_json(&String::from_utf8_lossy(&run.stdout)).unwrap();
    assert!(
        printed
            .resources
            .iter()
            .any(|resource| resource.external_id == "proj_exported")
    );
    // Only the expected files: no temporary file was left behind.
    let mut names: Vec<String> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("state.db"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["acme.toml", "export.json", "export.toml", "other.json"]
    );

    // Exporting a database that does not exist fails, names it, and creates nothing.
    let missing = directory.path().join("missing.db");
    let run = run_to_end(&["export", "--state", missing.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains(missing.to_str().unwrap()));
    assert!(!missing.exists());
}

#[tokio::test]
async fn the_binary_logs_a_line_per_request_and_honours_rust_log() {
    let running = start_with_env(&[], &[("RUST_LOG", "info")]);
    for path in [
        "/authorization/roles",
        "/authorization/permissions/none:here",
    ] {
        let response = http()
            .get(format!("{}{path}", running.base))
            .bearer_auth("sk_never_logged_4242")
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = [
        ("/authorization/roles", "status=200"),
        ("/authorization/permissions/none:here", "status=404"),
    ];
    loop {
        let logs = running.log_text();
        let found = expected.iter().all(|(path, status)| {
            logs.lines()
                .any(|line| line.contains(path) && line.contains(status) && line.contains("GET"))
        });
        if found {
            assert!(
                !logs.contains("never_logged"),
                "the API key is never logged: {logs}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no request lines in {logs}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(running);

    let quiet = start_with_env(&[], &[("RUST_LOG", "error")]);
    send(
        &quiet.base,
        reqwest::Method::GET,
        "/authorization/roles",
        None,
    )
    .await
    .unwrap();
    // The request was answered; at level error no request line is ever written.
    assert!(
        !quiet.log_text().contains("status="),
        "{}",
        quiet.log_text()
    );
}
