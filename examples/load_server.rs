//! The server side of the load benchmark (`scripts/load-bench`, issue 9).
//!
//! Two roles, chosen by the first argument:
//!
//! ```sh
//! # Signs the benchmark's tokens and serves their JWKS on loopback.
//! load_server issuer --dir DIR [--tokens 1000] [--fresh 100000] [--port 0] [--max-seconds 3600]
//! # One configuration of the route under load.
//! load_server serve --config bare|guarded|handwritten --jwks-url URL \
//!     [--cache-capacity 10000] [--port 0] [--max-seconds 3600]
//! ```
//!
//! `issuer` generates one RSA-2048 key ([`TokenSigner`]), writes `DIR/tokens.txt` (`--tokens`
//! distinct tokens), `DIR/one.txt` (the first of them) and `DIR/fresh.txt` (`--fresh` more
//! distinct tokens, meant to be seen once each), one token a line, then serves the key's JWKS at
//! `http://127.0.0.1:PORT/jwks.json` and prints `ready URL` on stdout. Every token carries
//! WorkOS-shaped claims (`iss`, `sub`, `sid`, `org_id`, `role`, `roles`, `permissions` with
//! `posts:write`, `entitlements`, `feature_flags`, `jti`, `iat`, `exp` an hour ahead), about 800
//! bytes like a WorkOS access token.
//!
//! `serve` answers `GET /posts` with `ok` on 127.0.0.1, on a tokio runtime with one worker
//! thread (the benchmark pins the process to one core with `taskset`), and prints
//! `listening 127.0.0.1:PORT` once it accepts connections:
//!
//! - `bare`: the axum route alone;
//! - `guarded`: `authz.layer()` + `require_permission("posts:write")`, the verifier reading the
//!   JWKS URL, its verified-token cache holding `--cache-capacity` tokens;
//! - `handwritten`: `axum::middleware::from_fn` + `jsonwebtoken::decode` with the same key
//!   (fetched once from the JWKS URL at start), checking `exp` and the permission on every
//!   request, no cache: what a team writes by hand.
//!
//! Both roles stop on SIGINT or SIGTERM, and by themselves after `--max-seconds`.
//!
//! A third role counts what one request costs without sockets, for `valgrind --tool=callgrind`
//! (instruction counts are repeatable on a busy machine, where timings are not):
//!
//! ```sh
//! load_server count --config bare|noop-layers|guarded --jwks-url URL --dir DIR [--requests 10000]
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_requests*' \
//!     target/release/examples/load_server count ...
//! ```
//!
//! It builds the configuration's router, sends every token of `DIR/tokens.txt` once through it
//! (the verified-token cache warm, as under load), then `--requests` more, cycling the tokens,
//! inside `measured_requests`: the instructions counted there, divided by `--requests`, are
//! the per-request cost of the router and the middleware.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::header::AUTHORIZATION;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::{Authz, SessionVerifier, require_permission};

const USAGE: &str = "usage: load_server issuer --dir DIR [--tokens N] [--fresh N] [--port P] [--max-seconds S]
       load_server serve --config bare|guarded|handwritten --jwks-url URL [--cache-capacity N] [--port P] [--max-seconds S]
       load_server count --config bare|noop-layers|guarded --jwks-url URL --dir DIR [--requests N]";

/// The most tokens one file may ask for: bounds the signing loop.
const MAX_TOKENS: usize = 2_000_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("issuer") => Options::parse(&args[1..]).and_then(|o| issuer(&o)),
        Some("serve") => Options::parse(&args[1..]).and_then(|o| serve(&o)),
        Some("count") => Options::parse(&args[1..]).and_then(|o| count(&o)),
        _ => Err(USAGE.to_owned()),
    };
    if let Err(message) = result {
        eprintln!("load_server: {message}");
        std::process::exit(2);
    }
}

/// The command line, both roles' flags together.
#[derive(Debug)]
struct Options {
    dir: Option<PathBuf>,
    tokens: usize,
    fresh: usize,
    port: u16,
    max_seconds: u64,
    config: Option<String>,
    jwks_url: Option<String>,
    cache_capacity: u64,
    requests: u64,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            dir: None,
            tokens: 1000,
            fresh: 0,
            port: 0,
            max_seconds: 3600,
            config: None,
            jwks_url: None,
            cache_capacity: 10_000,
            requests: 10_000,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag}: not a number: {value}"))
            };
            match flag.as_str() {
                "--dir" => options.dir = Some(PathBuf::from(value)),
                "--tokens" => options.tokens = number()? as usize,
                "--fresh" => options.fresh = number()? as usize,
                "--port" => {
                    options.port = u16::try_from(number()?).map_err(|_| "--port: too large")?
                }
                "--max-seconds" => options.max_seconds = number()?,
                "--config" => options.config = Some(value.clone()),
                "--jwks-url" => options.jwks_url = Some(value.clone()),
                "--cache-capacity" => options.cache_capacity = number()?,
                "--requests" => options.requests = number()?.min(10_000_000),
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        if options.tokens == 0 || options.tokens > MAX_TOKENS || options.fresh > MAX_TOKENS {
            return Err(format!(
                "--tokens must be 1..={MAX_TOKENS}, --fresh at most that"
            ));
        }
        Ok(options)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// Resolves on SIGINT, SIGTERM or after `max_seconds`, whichever comes first.
async fn stop_signal(max_seconds: u64) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = tokio::time::sleep(Duration::from_secs(max_seconds)) => {
            eprintln!("load_server: --max-seconds {max_seconds} reached, stopping");
        }
    }
}

async fn bind(port: u16) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))
}

/// Runs `app` on `listener` on the runtime's worker until the stop signal.
fn run(
    runtime: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    max_seconds: u64,
) -> Result<(), String> {
    // Spawned, so the accept loop runs on the worker like the connections; the main thread only
    // waits for the stop signal.
    let server = runtime.spawn(async move { axum::serve(listener, app).await });
    runtime.block_on(async {
        tokio::select! {
            served = server => match served {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("server: {e}")),
                Err(e) => Err(format!("server task: {e}")),
            },
            _ = stop_signal(max_seconds) => Ok(()),
        }
    })
}

fn announce(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // The benchmark waits for this line; a closed stdout only means nobody waits.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

// ---------------------------------------------------------------------------------------------
// issuer

fn issuer(options: &Options) -> Result<(), String> {
    let dir = options.dir.as_deref().ok_or("issuer needs --dir")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let signer = TokenSigner::generate().map_err(|e| e.to_string())?;
    let mut ids = Ids::seeded();
    let tokens = sign_many(&signer, &mut ids, options.tokens)?;
    write_lines(&dir.join("tokens.txt"), &tokens)?;
    write_lines(&dir.join("one.txt"), &tokens[..1])?;
    let fresh = sign_many(&signer, &mut ids, options.fresh)?;
    write_lines(&dir.join("fresh.txt"), &fresh)?;
    drop(fresh);

    let runtime = runtime()?;
    let listener = runtime.block_on(bind(options.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let jwks = signer.jwks().to_string();
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { ([(http::header::CONTENT_TYPE, "application/json")], jwks) }
        }),
    );
    announce(&format!("ready http://{address}/jwks.json"));
    run(&runtime, listener, app, options.max_seconds)
}

/// Signs `count` tokens with distinct claims on every core (the signing is the slow part: one
/// RSA-2048 signature each).
fn sign_many(signer: &TokenSigner, ids: &mut Ids, count: usize) -> Result<Vec<String>, String> {
    let claims: Vec<SessionClaims> = (0..count).map(|_| workos_claims(ids)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = claims
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|c| signer.sign(c).map_err(|e| e.to_string()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(count);
        for handle in handles {
            tokens.extend(handle.join().map_err(|_| "a signing thread panicked")??);
        }
        Ok(tokens)
    })
}

/// Claims shaped like a WorkOS AuthKit access token's, with fresh ids.
fn workos_claims(ids: &mut Ids) -> SessionClaims {
    let mut claims = SessionClaims::new(format!("user_{}", ids.ulid()))
        .issuer("https://api.workos.com")
        .organization(format!("org_{}", ids.ulid()))
        .role("member")
        .roles(["member"])
        .permissions(["posts:read", "posts:write"])
        .entitlements(["sso"])
        .feature_flags(["beta"]);
    claims.sid = Some(format!("session_{}", ids.ulid()));
    claims.jti = Some(ids.ulid());
    claims
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), String> {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    // Written whole, then renamed: a reader never sees half a file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// ULID-like ids (26 Crockford base32 characters: milliseconds, then 80 pseudo-random bits) from
/// a splitmix64 sequence; unique within a run, which is all the tokens need.
struct Ids {
    state: u64,
    millis: u64,
}

impl Ids {
    fn seeded() -> Ids {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ids {
            state: now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32),
            millis: now.as_millis() as u64,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn ulid(&mut self) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let random = (u128::from(self.next()) << 16) ^ u128::from(self.next() & 0xffff);
        let value = (u128::from(self.millis & 0xffff_ffff_ffff) << 80) | random;
        (0..26)
            .rev()
            .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// serve

async fn ok() -> &'static str {
    "ok"
}

fn serve(options: &Options) -> Result<(), String> {
    let config = options.config.as_deref().ok_or("serve needs --config")?;
    let runtime = runtime()?;
    let app = runtime.block_on(async {
        match config {
            "bare" => Ok(Router::new().route("/posts", get(ok))),
            "guarded" => guarded(options).await,
            "handwritten" => handwritten(options).await,
            other => Err(format!("unknown --config {other}\n{USAGE}")),
        }
    })?;
    let listener = runtime.block_on(bind(options.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    announce(&format!("listening {address}"));
    run(&runtime, listener, app, options.max_seconds)
}

// ---------------------------------------------------------------------------------------------
// count

fn count(options: &Options) -> Result<(), String> {
    let config = options.config.as_deref().ok_or("count needs --config")?;
    let dir = options.dir.as_ref().ok_or("count needs --dir")?;
    let text = std::fs::read_to_string(dir.join("tokens.txt"))
        .map_err(|e| format!("{}: {e}", dir.join("tokens.txt").display()))?;
    let tokens: Vec<String> = text.lines().map(str::to_owned).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let app = runtime.block_on(async {
        let app = match config {
            "bare" => Router::new().route("/posts", get(ok)),
            // Two layers that do nothing, placed like the guarded ones: what axum's own
            // per-layer plumbing costs.
            "noop-layers" => Router::new()
                .route(
                    "/posts",
                    get(ok).route_layer(tower::layer::util::Identity::new()),
                )
                .layer(tower::layer::util::Identity::new()),
            "guarded" => guarded(options).await?,
            other => return Err(format!("unknown --config {other}\n{USAGE}")),
        };
        // What `axum::serve` does once: turn every handler into a route eagerly (a router used
        // with `oneshot` as it is would rebuild its route layers on every request).
        let app: Router = app.with_state(());
        for token in &tokens {
            send(&app, token).await?;
        }
        Ok::<_, String>(app)
    })?;
    let started = std::time::Instant::now();
    measured_requests(&runtime, &app, &tokens, options.requests)?;
    announce(&format!(
        "{} requests in {:?} after {} warm-up requests",
        options.requests,
        started.elapsed(),
        tokens.len()
    ));
    Ok(())
}

/// The requests whose instructions callgrind counts (`--toggle-collect`): a plain function,
/// not inlined, so that the name stays in the binary and every poll happens inside it.
#[inline(never)]
fn measured_requests(
    runtime: &tokio::runtime::Runtime,
    app: &Router,
    tokens: &[String],
    requests: u64,
) -> Result<(), String> {
    runtime.block_on(async {
        for (_, token) in (0..requests).zip(tokens.iter().cycle()) {
            send(app, token).await?;
        }
        Ok(())
    })
}

async fn send(app: &Router, token: &str) -> Result<(), String> {
    use tower::ServiceExt as _;
    let request = Request::get("/posts")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .map_err(|e| e.to_string())?;
    let response = app
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != StatusCode::OK {
        return Err(format!("answered {}", response.status()));
    }
    Ok(())
}

async fn guarded(options: &Options) -> Result<Router, String> {
    let url = options
        .jwks_url
        .as_deref()
        .ok_or("guarded needs --jwks-url")?;
    let verifier = SessionVerifier::builder()
        .jwks_url(url)
        .cache_capacity(options.cache_capacity)
        .build()
        .map_err(|e| e.to_string())?;
    verifier.prefetch().await.map_err(|e| e.to_string())?;
    let authz = Authz::builder()
        .verifier(verifier)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Router::new()
        .route(
            "/posts",
            get(ok).route_layer(require_permission("posts:write")),
        )
        .layer(authz.layer()))
}

/// The claims the hand-written middleware reads and hands on.
#[derive(Clone, Debug, Deserialize)]
#[allow(dead_code)] // read by handlers in a real application, not by `ok`
struct HandClaims {
    sub: String,
    sid: Option<String>,
    org_id: Option<String>,
    role: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    entitlements: Vec<String>,
    #[serde(default)]
    feature_flags: Vec<String>,
    exp: u64,
}

/// The keys of the JWKS by `kid`, and the validation rules.
struct HandKeys {
    by_kid: HashMap<String, DecodingKey>,
    validation: Validation,
}

async fn handwritten(options: &Options) -> Result<Router, String> {
    let url = options
        .jwks_url
        .as_deref()
        .ok_or("handwritten needs --jwks-url")?;
    let jwks: JwkSet = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("JWKS: {e}"))?
        .json()
        .await
        .map_err(|e| format!("JWKS: {e}"))?;
    let mut by_kid = HashMap::new();
    for jwk in &jwks.keys {
        let kid = jwk.common.key_id.clone().ok_or("a JWK without kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWK {kid}: {e}"))?;
        by_kid.insert(kid, key);
    }
    let keys = Arc::new(HandKeys {
        by_kid,
        validation: Validation::new(Algorithm::RS256),
    });
    Ok(Router::new().route("/posts", get(ok)).layer(from_fn(
        move |request: Request, next: Next| {
            let keys = Arc::clone(&keys);
            async move { authorize_by_hand(&keys, request, next).await }
        },
    )))
}

async fn authorize_by_hand(keys: &HandKeys, mut request: Request, next: Next) -> Response {
    let Some(token) = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(key) = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|header| header.kid)
        .and_then(|kid| keys.by_kid.get(&kid))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let claims = match jsonwebtoken::decode::<HandClaims>(token, key, &keys.validation) {
        Ok(data) => data.claims,
        Err(_) => return StatusCode::UNAUTHORIZED.into_response(),
    };
    if !claims.permissions.iter().any(|p| p == "posts:write") {
        return StatusCode::FORBIDDEN.into_response();
    }
    request.extensions_mut().insert(claims);
    next.run(request).await
}
