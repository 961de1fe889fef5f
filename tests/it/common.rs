//! Helpers shared by the integration tests: keys generated in memory, tokens assembled by hand
//! (including the malformed ones no JWT library would produce), a JWKS server on loopback
//! whose document, health and fetch count the tests control, and assertions on refusals.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

/// The issuer and audience the strict test verifiers are configured with.
pub(crate) const ISSUER: &str = "https://auth.example.test";
pub(crate) const AUDIENCE: &str = "client_test";

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh random identifier (hex), for kids, users and so on.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `header.claims.signature`, with the header and claims taken as raw bytes (so duplicate
/// members, non-UTF-8 and non-objects can be signed) and signed by `key` with `alg`.
pub(crate) fn sign_raw(key: &EncodingKey, alg: Algorithm, header: &[u8], claims: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// An unsigned `header.claims.` prefix with an arbitrary signature segment.
pub(crate) fn with_signature(header: &[u8], claims: &[u8], signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header), b64(claims))
}

/// Standard claims of a valid session for `sub`, with the test issuer and audience.
pub(crate) fn claims(sub: &str) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "sid": random_id("session_"),
        "org_id": "org_acme",
        "role": "member",
        "permissions": ["posts:read"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    })
}

/// An RSA key pair (2048 bits) with its public half in every form a test needs.
pub(crate) struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub public_pem: String,
    pub public_der: Vec<u8>,
    pub n: String,
    pub e: String,
}

impl RsaKey {
    pub(crate) fn generate(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let encoding =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).unwrap();
        let public = pair.public_key();
        let spki: PublicKeyX509Der<'static> = public.as_der().unwrap();
        RsaKey {
            kid: kid.to_owned(),
            encoding,
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
            public_der: spki.as_ref().to_vec(),
            n: b64(public.modulus().big_endian_without_leading_zero()),
            e: b64(public.exponent().big_endian_without_leading_zero()),
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": self.n, "e": self.e})
    }

    /// RS256 with this key's kid.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_header(
            &json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }

    /// RS256 with the given header (whose `alg` is not checked here).
    pub(crate) fn sign_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_alg(Algorithm::RS256, header, claims)
    }

    pub(crate) fn sign_alg(&self, alg: Algorithm, header: &Value, claims: &Value) -> String {
        sign_raw(
            &self.encoding,
            alg,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    /// RS256 over already encoded header and claims segments (which may be bad base64).
    pub(crate) fn sign_segments(&self, header: &str, claims: &str) -> String {
        let message = format!("{header}.{claims}");
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .unwrap();
        format!("{message}.{signature}")
    }

    /// RS256 over raw header and claims bytes.
    pub(crate) fn sign_bytes(&self, header: &[u8], claims: &[u8]) -> String {
        sign_raw(&self.encoding, Algorithm::RS256, header, claims)
    }
}

/// A P-256 key pair.
pub(crate) struct EcKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub public_pem: String,
    pub x: String,
    pub y: String,
}

impl EcKey {
    pub(crate) fn generate(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let public = pair.public_key();
        let spki: PublicKeyX509Der<'static> = public.as_der().unwrap();
        let point = public.as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        EcKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
            x: b64(&point[1..33]),
            y: b64(&point[33..]),
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256", "x": self.x, "y": self.y})
    }

    pub(crate) fn sign_header(&self, header: &Value, claims: &Value) -> String {
        sign_raw(
            &self.encoding,
            Algorithm::ES256,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_header(
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }
}

/// An Ed25519 key pair.
pub(crate) struct EdKey {
    pub encoding: EncodingKey,
    pub public_pem: String,
}

impl EdKey {
    pub(crate) fn generate() -> Self {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
        let pkcs8 = pair.to_pkcs8().unwrap();
        let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
        EdKey {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    pub(crate) fn sign_header(&self, header: &Value, claims: &Value) -> String {
        sign_raw(
            &self.encoding,
            Algorithm::EdDSA,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }
}

/// HS256 over `header` and `claims` with `secret`.
pub(crate) fn hmac_sign(secret: &[u8], header: &Value, claims: &Value) -> String {
    sign_raw(
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// How the JWKS server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JwksMode {
    /// 200 with the current document.
    Up,
    /// 500 with an error body.
    Error500,
    /// 200 with a body that is not a JWKS.
    Garbage,
    /// 200 with the current document followed by 2 MiB of whitespace (valid JSON, too big).
    Huge,
    /// Never answers (the request is counted).
    Hang,
}

struct JwksState {
    document: Value,
    mode: JwksMode,
    log: Vec<(Instant, String)>,
}

#[derive(Clone)]
struct JwksShared {
    state: Arc<Mutex<JwksState>>,
    fetches: Arc<AtomicUsize>,
}

/// A JWKS endpoint on `127.0.0.1:0`. Every request to any path counts as a fetch (and is
/// logged with its path and arrival time); the document and the mode can change at any time.
pub(crate) struct JwksServer {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    /// `{base}/jwks.json`.
    pub url: String,
    shared: JwksShared,
}

impl JwksServer {
    pub(crate) async fn start(keys: Vec<Value>) -> Self {
        let shared = JwksShared {
            state: Arc::new(Mutex::new(JwksState {
                document: json!({ "keys": keys }),
                mode: JwksMode::Up,
                log: Vec::new(),
            })),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .fallback(serve_jwks)
            .with_state(shared.clone());
        let addr = serve(app).await;
        JwksServer {
            base: format!("http://{addr}"),
            url: format!("http://{addr}/jwks.json"),
            shared,
        }
    }

    pub(crate) fn set_keys(&self, keys: Vec<Value>) {
        self.shared.state.lock().unwrap().document = json!({ "keys": keys });
    }

    pub(crate) fn set_mode(&self, mode: JwksMode) {
        self.shared.state.lock().unwrap().mode = mode;
    }

    pub(crate) fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    pub(crate) fn paths(&self) -> Vec<String> {
        let state = self.shared.state.lock().unwrap();
        state.log.iter().map(|(_, path)| path.clone()).collect()
    }

    pub(crate) fn fetch_times(&self) -> Vec<Instant> {
        let state = self.shared.state.lock().unwrap();
        state.log.iter().map(|(at, _)| *at).collect()
    }
}

async fn serve_jwks(State(shared): State<JwksShared>, request: Request) -> Response {
    let response = jwks_response(&shared, &request);
    match response {
        Some(response) => response,
        None => std::future::pending().await,
    }
}

/// `None`: hang.
fn jwks_response(shared: &JwksShared, request: &Request) -> Option<Response> {
    // Counting, logging and reading the document happen under one lock: a fetch counted after
    // a change to the document has seen that change.
    let mut state = shared.state.lock().unwrap();
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    state
        .log
        .push((Instant::now(), request.uri().path().to_owned()));
    Some(match state.mode {
        JwksMode::Hang => return None,
        JwksMode::Up => (
            [(header::CONTENT_TYPE, "application/json")],
            state.document.to_string(),
        )
            .into_response(),
        JwksMode::Error500 => (StatusCode::INTERNAL_SERVER_ERROR, "jwks is down").into_response(),
        JwksMode::Huge => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{}{}", state.document, " ".repeat(2 * 1024 * 1024)),
        )
            .into_response(),
        JwksMode::Garbage => (
            [(header::CONTENT_TYPE, "application/json")],
            "<html>not a key set</html>",
        )
            .into_response(),
    })
}

/// Serves `app` on a fresh loopback port and returns its address.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// A loopback port nothing listens on (bound, then released).
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// Calls `probe` every 10 ms until it returns true or 5 s have passed (at most 500 calls);
/// returns whether it ever did. For time-based behaviour only (cooldowns, refresh
/// intervals, expiry): the condition polled is the observable effect, never the clock.
pub(crate) async fn poll_until(mut probe: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    for _ in 0..500 {
        if probe().await {
            return true;
        }
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn challenge(&self) -> &str {
        self.header("www-authenticate").unwrap_or("")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

pub(crate) async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body read");
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GET `url` with `Authorization: Bearer {token}`.
pub(crate) async fn get_bearer(client: &reqwest::Client, url: &str, token: &str) -> Reply {
    send(
        client
            .get(url)
            .header("authorization", format!("Bearer {token}")),
    )
    .await
}

/// An RFC 9457 body with the given status, served as `application/problem+json`.
pub(crate) fn assert_problem(reply: &Reply, status: u16, context: &str) {
    assert_eq!(reply.status, status, "{context}: {reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{context}: {reply:?}"
    );
    let body = reply.json();
    assert_eq!(body["status"], json!(status), "{context}: {body}");
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "{context}: no {member} in {body}");
    }
}

/// The body and the headers never carry the token, nor any of its three segments.
pub(crate) fn assert_no_echo(reply: &Reply, token: &str, context: &str) {
    let mut secrets: Vec<&str> = token.split('.').filter(|s| s.len() >= 16).collect();
    if token.len() >= 16 {
        secrets.push(token);
    }
    let headers = format!("{:?}", reply.headers);
    for secret in secrets {
        assert!(
            !reply.body.contains(secret),
            "{context}: body echoes the token: {}",
            reply.body
        );
        assert!(
            !headers.contains(secret),
            "{context}: headers echo the token: {headers}"
        );
    }
}

/// 401, `WWW-Authenticate: Bearer realm=..., error="invalid_token"`, a problem body, and no
/// trace of the token.
pub(crate) fn assert_invalid_token(reply: &Reply, token: &str, context: &str) {
    assert_problem(reply, 401, context);
    let challenge = reply.challenge();
    assert!(
        challenge.starts_with("Bearer realm=\""),
        "{context}: challenge {challenge:?}"
    );
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{context}: challenge {challenge:?}"
    );
    assert_no_echo(reply, token, context);
}

/// 401 for a request without token: a challenge naming the realm and no `error` (RFC 6750
/// §3.1).
pub(crate) fn assert_missing_token(reply: &Reply, context: &str) {
    assert_problem(reply, 401, context);
    let challenge = reply.challenge();
    assert!(
        challenge.starts_with("Bearer realm=\""),
        "{context}: challenge {challenge:?}"
    );
    assert!(
        !challenge.contains("error="),
        "{context}: challenge {challenge:?}"
    );
}

/// 403 with `error="insufficient_scope"` and a problem body.
pub(crate) fn assert_forbidden(reply: &Reply, context: &str) {
    assert_problem(reply, 403, context);
    let challenge = reply.challenge();
    assert!(
        challenge.starts_with("Bearer realm=\""),
        "{context}: challenge {challenge:?}"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{context}: challenge {challenge:?}"
    );
}

// ----- resource-scoped authorization (issue 5): the demo's model and its tokens -----

use workos_authz::local::{LocalEngine, NewPermission, NewResource, NewRole};
use workos_authz::session::{SessionClaims, TokenSigner};

/// The demo's projects: (organization, external id).
pub(crate) const DEMO_PROJECTS: [(&str, &str); 3] = [
    ("org_acme", "proj_apollo"),
    ("org_acme", "proj_zeus"),
    ("org_globex", "proj_hermes"),
];

/// The demo's model on one engine: orgs `org_acme` and `org_globex`; roles `admin`
/// (projects:read, projects:delete), `member` (the seeded default, no project permission) and
/// `viewer` (projects:read, for resources of type `project`); alice admin of acme, bob member
/// of acme with `viewer` on proj_apollo, carol admin of globex.
pub(crate) struct DemoModel {
    pub engine: LocalEngine,
    /// Organization membership ids.
    pub alice: String,
    pub bob: String,
    pub carol: String,
}

pub(crate) fn demo_model() -> DemoModel {
    let engine = LocalEngine::new();
    for (slug, name) in [
        ("projects:read", "Read projects"),
        ("projects:delete", "Delete projects"),
    ] {
        engine
            .create_permission(NewPermission::new(slug, name))
            .expect("create permission");
    }
    engine
        .create_environment_role(
            NewRole::new("admin", "Admin").permissions(["projects:read", "projects:delete"]),
        )
        .expect("create admin");
    engine
        .create_environment_role(
            NewRole::new("viewer", "Viewer")
                .resource_type("project")
                .permissions(["projects:read"]),
        )
        .expect("create viewer");
    engine
        .create_organization_with_id("org_acme", "Acme")
        .expect("create acme");
    engine
        .create_organization_with_id("org_globex", "Globex")
        .expect("create globex");
    for (organization, project) in DEMO_PROJECTS {
        engine
            .create_resource(NewResource::new(organization, "project", project, project))
            .expect("create project");
    }
    let alice = engine
        .create_membership("user_alice", "org_acme", &["admin"])
        .expect("alice")
        .id;
    let bob = engine
        .create_membership("user_bob", "org_acme", &["member"])
        .expect("bob")
        .id;
    let carol = engine
        .create_membership("user_carol", "org_globex", &["admin"])
        .expect("carol")
        .id;
    engine
        .assign_role(
            &bob,
            "viewer",
            &workos_authz::check::ResourceRef::external("project", "proj_apollo"),
        )
        .expect("bob views apollo");
    DemoModel {
        engine,
        alice,
        bob,
        carol,
    }
}

impl DemoModel {
    /// The WorkOS resource id (`authz_resource_...`) of one of [`DEMO_PROJECTS`].
    pub(crate) fn project_id(&self, external_id: &str) -> String {
        let (organization, _) = DEMO_PROJECTS
            .iter()
            .find(|(_, project)| *project == external_id)
            .expect("a demo project");
        self.engine
            .get_resource_by_external_id(organization, "project", external_id)
            .expect("the demo project exists")
            .id
    }
}

/// A verifier trusting exactly `signer`'s key.
pub(crate) fn verifier_for(signer: &TokenSigner) -> workos_authz::SessionVerifier {
    workos_authz::SessionVerifier::builder()
        .jwks_document(signer.jwks().to_string().as_bytes())
        .expect("the signer's JWKS is valid")
        .build()
        .expect("verifier builds")
}

/// The claims WorkOS would issue for a member of `organization` whose organization-level role
/// carries `permissions`, with the `organization_membership_id` claim when `membership` is set.
pub(crate) fn member_claims(
    user: &str,
    organization: &str,
    membership: Option<&str>,
    permissions: &[&str],
) -> SessionClaims {
    let claims = SessionClaims::new(user)
        .organization(organization)
        .permissions(permissions.iter().copied());
    match membership {
        Some(membership) => claims.organization_membership(membership),
        None => claims,
    }
}

// ----- logs -----

thread_local! {
    /// Where the global test subscriber writes on this thread; nowhere when unset.
    static CAPTURE: std::cell::RefCell<Option<Arc<std::sync::Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Writes to this thread's capture buffer, if any.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(buffer) = &*capture.borrow() {
                buffer.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures what this thread logs from now on. The subscriber is global (installed once):
/// a thread-local `set_default` misses events whose callsites other tests of this binary
/// registered concurrently, and a test crate has one global subscriber. `#[tokio::test]` runs the test and the apps it serves on one
/// thread, so the capture sees exactly this test's events.
pub(crate) fn capture_this_thread() -> Arc<std::sync::Mutex<Vec<u8>>> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            // Every level of this crate; other crates' chatter is not what is audited.
            .with_env_filter("warn,workos_authz=trace")
            .with_ansi(false)
            .init();
    });
    let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(buffer.clone()));
    buffer
}

// ----- AuthKit's sign-in, driven over HTTP as a browser would (issue 12) -----

/// A PKCE pair: a random verifier and its S256 challenge.
pub(crate) struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub(crate) fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let verifier = b64(&bytes);
    let challenge =
        b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref());
    Pkce {
        verifier,
        challenge,
    }
}

/// `a=1&b=2`, each value percent-encoded: a form body or a query.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A client that never follows redirects (the tests read `Location` themselves).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The value of the first `name="{name}" value="..."` of a page, HTML entities left as they are.
pub(crate) fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

/// The percent-decoded value of `name` in the query of `url`.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
    })
}

/// The query of an AuthKit authorization URL for `client_id` and `redirect_uri`, with a PKCE
/// challenge and a state.
pub(crate) fn authorize_query(
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
) -> String {
    form(&[
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("provider", "authkit"),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ])
}

/// Opens the sign-in page at `{base}/user_management/authorize?{query}`, then submits the
/// form of `user_id` (with the button of `organization_id`, if given), as a browser does.
/// Returns the page and the answer to the form.
pub(crate) async fn sign_in_as(
    base: &str,
    query: &str,
    user_id: &str,
    organization_id: Option<&str>,
) -> (Reply, Reply) {
    let http = browser();
    let page = send(
        http.get(format!("{base}/user_management/authorize?{query}"))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 200, "the sign-in page: {page:?}");
    let authorization = hidden_value(&page.body, "authorization").expect("a sign-in form");
    let action = {
        let marker = "action=\"";
        let start = page.body.find(marker).expect("a form action") + marker.len();
        page.body[start..start + page.body[start..].find('"').unwrap()].to_owned()
    };
    let mut fields = vec![
        ("authorization", authorization.as_str()),
        ("user_id", user_id),
    ];
    if let Some(organization) = organization_id {
        fields.push(("organization_id", organization));
    }
    let answer = send(
        http.post(action)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body(form(&fields)),
    )
    .await;
    (page, answer)
}

/// The code and state of a sign-in's redirect to `redirect_uri`.
pub(crate) fn redirected_code(answer: &Reply, redirect_uri: &str) -> (String, Option<String>) {
    assert_eq!(answer.status, 302, "the sign-in redirects: {answer:?}");
    let location = answer.header("location").expect("a Location");
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location} goes back to {redirect_uri}"
    );
    (
        query_param(location, "code").expect("a code"),
        query_param(location, "state"),
    )
}
