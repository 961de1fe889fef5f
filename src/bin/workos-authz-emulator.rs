//! The WorkOS API emulator: `workos-authz-emulator --addr 127.0.0.1:8787 --policy FILE
//! --state FILE`. See `docs/local-engine.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use workos_authz::emulator::Emulator;
use workos_authz::local::LocalEngine;

const USAGE: &str = "\
workos-authz-emulator: the WorkOS authorization API over an embedded engine

USAGE:
    workos-authz-emulator [--addr HOST:PORT] [--policy FILE] [--state FILE]

OPTIONS:
    --addr HOST:PORT   where to listen (default 127.0.0.1:8787)
    --policy FILE      load this policy file (.toml or .json) at start
    --state FILE       persist every change to FILE (atomically) and reload it on start;
                       when FILE exists it wins over --policy
    -h, --help         print this help

Every route except GET /sso/jwks/{client_id} needs 'Authorization: Bearer sk_<anything>'.
POST /_emulator/sessions {\"organization_membership_id\": \"om_...\"} mints a session token.";

struct Options {
    addr: SocketAddr,
    policy: Option<PathBuf>,
    state: Option<PathBuf>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
        policy: None,
        state: None,
    };
    let mut args = args;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--addr" => {
                let text = value()?;
                options.addr = text
                    .parse()
                    .map_err(|e| format!("--addr {text:?} is not HOST:PORT: {e}"))?;
            }
            "--policy" => options.policy = Some(PathBuf::from(value()?)),
            "--state" => options.state = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

async fn run(options: Options) -> Result<(), String> {
    let engine = match &options.policy {
        Some(path) => LocalEngine::load_policy_file(path).map_err(|e| e.to_string())?,
        None => LocalEngine::new(),
    };
    let mut emulator = Emulator::new(engine);
    if let Some(path) = &options.state {
        emulator = emulator
            .with_state_file(path)
            .map_err(|e| format!("state file: {e}"))?;
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("workos-authz-emulator listening on http://{addr}");
    eprintln!("  JWKS:    http://{addr}/sso/jwks/client_emulator");
    eprintln!(
        "  example: curl -H 'Authorization: Bearer sk_test' http://{addr}/authorization/roles"
    );
    // No graceful shutdown needed: every change is already on disk when its response leaves.
    axum::serve(listener, emulator.router())
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
