//! The WorkOS API emulator: `workos-authz-emulator --addr 127.0.0.1:8787 --policy FILE
//! --state FILE [--api-key KEY] [--access-token-lifetime SECONDS] [--base-url URL]`, and
//! `workos-authz-emulator export --state FILE [--output FILE]`. See `docs/local-engine.md`.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use workos_authz::emulator::Emulator;
use workos_authz::local::{LocalEngine, Policy};

const USAGE: &str = "\
workos-authz-emulator: the WorkOS authorization API and AuthKit over an embedded engine

USAGE:
    workos-authz-emulator [--addr HOST:PORT] [--policy FILE] [--state FILE] [--api-key KEY]
                          [--access-token-lifetime SECONDS] [--base-url URL]
    workos-authz-emulator export --state FILE [--output FILE]

OPTIONS:
    --addr HOST:PORT   where to listen (default 127.0.0.1:8787)
    --policy FILE      start from this policy file (.toml or .json); with --state, it seeds
                       a new state database and is ignored once the database exists
    --state FILE       keep the state in this SQLite database (created when missing): every
                       change, AuthKit's users and sessions included, is committed (and
                       synced to disk) before it is answered
    --api-key KEY      accept only this API key (as Bearer, and as the client_secret of
                       POST /user_management/authenticate); without it, any sk_ key
    --access-token-lifetime SECONDS
                       how long AuthKit's access tokens live (default 300)
    --base-url URL     the URL clients reach the emulator at (the tokens' iss and the
                       sign-in page's form); default http://{Host header}
    -h, --help         print this help

EXPORT:
    export --state FILE [--output FILE]
                       write the state database as a policy file (.toml or .json, by the
                       name), or as JSON to standard output; the database is only read

Every route except GET /sso/jwks/{client_id} and AuthKit's (GET /user_management/authorize,
POST /user_management/authenticate, GET /user_management/sessions/logout) needs
'Authorization: Bearer sk_<anything>' (or the --api-key).
POST /_emulator/sessions {\"organization_membership_id\": \"om_...\"} mints a session token.
Logs go to standard error; RUST_LOG sets the level (default info: a line per request).";

/// The AuthKit settings of the command line.
#[derive(Default)]
struct Settings {
    api_key: Option<String>,
    access_token_lifetime: Option<Duration>,
    base_url: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[derive(Debug)]
enum Command {
    Serve {
        addr: SocketAddr,
        policy: Option<PathBuf>,
        state: Option<PathBuf>,
        settings: Settings,
    },
    Export {
        state: PathBuf,
        output: Option<PathBuf>,
    },
    Help,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut args = args.peekable();
    let export = args.peek().is_some_and(|first| first == "export");
    if export {
        args.next();
    }
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 8787));
    let (mut policy, mut state, mut output) = (None, None, None);
    let mut settings = Settings::default();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(Command::Help);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match (export, name.as_str()) {
            (false, "--addr") => {
                let text = value()?;
                addr = text
                    .parse()
                    .map_err(|e| format!("--addr {text:?} is not HOST:PORT: {e}"))?;
            }
            (false, "--policy") => policy = Some(PathBuf::from(value()?)),
            (false, "--api-key") => settings.api_key = Some(value()?),
            (false, "--base-url") => settings.base_url = Some(value()?),
            (false, "--access-token-lifetime") => {
                let text = value()?;
                let seconds: u64 = text
                    .parse()
                    .ok()
                    .filter(|seconds| *seconds > 0)
                    .ok_or_else(|| {
                        format!(
                            "--access-token-lifetime {text:?} is not a number of seconds above 0"
                        )
                    })?;
                settings.access_token_lifetime = Some(Duration::from_secs(seconds));
            }
            (_, "--state") => state = Some(PathBuf::from(value()?)),
            (true, "--output") => output = Some(PathBuf::from(value()?)),
            (_, other) => return Err(format!("unknown argument {other:?}")),
        }
    }
    if export {
        let state = state.ok_or("export needs --state FILE")?;
        return Ok(Command::Export { state, output });
    }
    Ok(Command::Serve {
        addr,
        policy,
        state,
        settings,
    })
}

fn emulator(engine: LocalEngine, settings: Settings) -> Result<Emulator, String> {
    let mut emulator = Emulator::new(engine);
    if let Some(key) = &settings.api_key {
        emulator = emulator
            .with_api_key(key)
            .map_err(|e| format!("--api-key: {e}"))?;
    }
    if let Some(url) = &settings.base_url {
        emulator = emulator
            .with_base_url(url)
            .map_err(|e| format!("--base-url: {e}"))?;
    }
    if let Some(lifetime) = settings.access_token_lifetime {
        emulator = emulator
            .with_access_token_lifetime(lifetime)
            .map_err(|e| format!("--access-token-lifetime: {e}"))?;
    }
    Ok(emulator)
}

fn open_engine(policy: Option<&PathBuf>, state: Option<&PathBuf>) -> Result<LocalEngine, String> {
    let policy = policy
        .map(|path| Policy::from_file(path).map_err(|e| format!("policy: {e}")))
        .transpose()?;
    let Some(state) = state else {
        return match policy {
            Some(policy) => LocalEngine::from_policy(&policy).map_err(|e| format!("policy: {e}")),
            None => Ok(LocalEngine::new()),
        };
    };
    let existed = state.exists();
    let engine = match &policy {
        Some(policy) => LocalEngine::open_with_seed(state, policy),
        None => LocalEngine::open(state),
    }
    .map_err(|e| format!("state: {e}"))?;
    match (existed, policy.is_some()) {
        (true, true) => tracing::warn!(
            state = %state.display(),
            "the state database exists: --policy is not used (export the state, or remove the file, to start over)"
        ),
        (false, true) => {
            tracing::info!(state = %state.display(), "new state database, seeded from --policy")
        }
        (false, false) => tracing::info!(state = %state.display(), "new state database"),
        (true, false) => tracing::info!(state = %state.display(), "state database opened"),
    }
    Ok(engine)
}

async fn serve(
    addr: SocketAddr,
    policy: Option<PathBuf>,
    state: Option<PathBuf>,
    settings: Settings,
) -> Result<(), String> {
    let engine = open_engine(policy.as_ref(), state.as_ref())?;
    // The banner never repeats a configured key.
    let key = if settings.api_key.is_some() {
        "$API_KEY"
    } else {
        "sk_test"
    };
    let emulator = emulator(engine, settings)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("workos-authz-emulator listening on http://{addr}");
    eprintln!("  JWKS:    http://{addr}/sso/jwks/client_emulator");
    eprintln!(
        "  sign-in: http://{addr}/user_management/authorize?client_id=client_emulator&response_type=code&redirect_uri=..."
    );
    eprintln!(
        "  example: curl -H \"Authorization: Bearer {key}\" http://{addr}/authorization/roles"
    );
    // No graceful shutdown needed: every change is committed before its response leaves.
    axum::serve(listener, emulator.router())
        .await
        .map_err(|e| e.to_string())
}

fn export(state: &PathBuf, output: Option<&PathBuf>) -> Result<(), String> {
    let policy = LocalEngine::read_store(state)
        .map_err(|e| format!("state: {e}"))?
        .dump_policy();
    match output {
        Some(path) => policy.save_file(path).map_err(|e| format!("output: {e}")),
        None => {
            println!("{}", policy.to_json());
            Ok(())
        }
    }
}

fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    install_logging();
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Export { state, output } => export(&state, output.as_ref()),
        Command::Serve {
            addr,
            policy,
            state,
            settings,
        } => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(serve(addr, policy, state, settings)),
            Err(e) => Err(format!("cannot start the runtime: {e}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
