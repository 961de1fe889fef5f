//! AuthKit, as the emulator plays it: the sign-in page (`GET /user_management/authorize` and
//! its form) and sign-out (`GET /user_management/sessions/logout`), with WorkOS's parameters
//! and errors, and the short-lived memory they share with the token endpoint (`tokens.rs`).
//!
//! What lives where: users and sessions are the engine's (durable with its store; a session's
//! refresh token is known there by its SHA-256 only). What is kept here, in memory, is what
//! lives minutes: the sign-in page's pending authorizations (ten minutes), the one-time codes
//! (ten minutes by default) and, for the replay window (30 s by default), the answer each
//! spent refresh token was exchanged for. Writing those to disk would put working secrets in
//! the state file for the sake of sign-ins a restart merely asks to start again; a session,
//! which lives on, is what survives a restart.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

use super::Emulator;
use super::api::{ApiError, Reached};
use super::html::{self, OrganizationChoice, SignInPage, UserChoice};
use crate::local::{EngineError, LocalEngine, Membership, MembershipStatus};

/// How long the sign-in page's form may wait before it is submitted.
const AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(600);
/// The most pending authorizations, codes or remembered refreshes at once; beyond, 503.
const MEMORY_CAPACITY: usize = 10_000;
/// The longest `state`, URL, client id or hint the emulator takes.
const STATE_MAX: usize = 2048;
const URL_MAX: usize = 2048;
const CLIENT_ID_MAX: usize = 128;
const HINT_MAX: usize = 320;

/// The characters a query value keeps as they are (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

type Emu = State<Emulator>;

// ----- memory -------------------------------------------------------------------------------

/// Entries that end at their own deadline; expired ones are dropped on every insert, and an
/// insert into a full map is refused rather than pushing a live entry out.
pub(super) struct Expiring<T> {
    entries: HashMap<String, (Instant, T)>,
}

impl<T> Default for Expiring<T> {
    fn default() -> Self {
        Expiring {
            entries: HashMap::new(),
        }
    }
}

/// Too many sign-ins in progress at once.
pub(super) struct Full;

impl<T> Expiring<T> {
    pub(super) fn insert(
        &mut self,
        key: String,
        value: T,
        deadline: Instant,
        now: Instant,
    ) -> Result<(), Full> {
        self.entries.retain(|_, (until, _)| *until > now);
        if self.entries.len() >= MEMORY_CAPACITY {
            return Err(Full);
        }
        self.entries.insert(key, (deadline, value));
        Ok(())
    }

    /// The live entry under `key`.
    pub(super) fn get(&self, key: &str, now: Instant) -> Option<&T> {
        self.entries
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, value)| value)
    }

    /// Removes the entry under `key`, live or not, with its deadline.
    pub(super) fn take(&mut self, key: &str) -> Option<(Instant, T)> {
        self.entries.remove(key)
    }
}

/// A sign-in page that was shown and waits for its form: what the authorize request asked.
#[derive(Clone)]
struct Authorization {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    organization_id: Option<String>,
}

/// A code handed to a redirect URI, waiting for its exchange: bound to the client, the
/// redirect URI and the PKCE challenge of the request it answers.
pub(super) struct IssuedCode {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: Option<String>,
    pub(super) user_id: String,
    pub(super) organization_id: Option<String>,
}

/// What a spent refresh token was exchanged for, answered again within the replay window.
pub(super) struct Replay {
    pub(super) session_id: String,
    /// The `organization_id` the exchange asked for (a replay must ask the same).
    pub(super) organization_id: Option<String>,
    pub(super) answer: Value,
}

/// The emulator's short-lived AuthKit memory. Its Debug shows counts, never a secret.
#[derive(Default)]
pub(crate) struct AuthKitMemory {
    authorizations: Mutex<Expiring<Authorization>>,
    pub(super) codes: Mutex<Expiring<IssuedCode>>,
    /// Also the lock every refresh holds from the replay lookup to the rotation, so that two
    /// requests with one refresh token get one rotation and the same answer.
    pub(super) refreshes: Mutex<Expiring<Replay>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section below changes its map with one call: a panic leaves no half.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for AuthKitMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKitMemory")
            .field("authorizations", &lock(&self.authorizations).entries.len())
            .field("codes", &lock(&self.codes).entries.len())
            .field("replays", &lock(&self.refreshes).entries.len())
            .finish()
    }
}

/// A fresh secret (a code, a refresh token, an authorization id): 32 bytes from the system's
/// secure generator, base64url. No fallback: without secure randomness there is no secret.
pub(super) fn secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The key a secret is remembered under: its SHA-256, so the maps hold no working secret.
pub(super) fn digest(secret: &str) -> String {
    crate::support::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref(),
    )
}

pub(super) fn no_randomness() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "randomness_unavailable",
        "no secure random bytes could be had; try again",
    )
}

fn memory_full() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_sign_ins",
        "too many sign-ins are in progress; try again in a few minutes",
    )
}

// ----- input --------------------------------------------------------------------------------

/// `name=value&...` (a query or a form body), percent-decoded, `+` as a space. A name given
/// twice is refused (RFC 6749 §3.1: parameters must not repeat); an empty value is absent.
pub(super) fn parse_form(text: &str) -> Result<HashMap<String, String>, String> {
    let decode = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| "a parameter is not UTF-8 once percent-decoded".to_owned())
    };
    let mut pairs = HashMap::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        if pairs.contains_key(&name) {
            return Err(format!("the parameter {} is given twice", quoted(&name)));
        }
        pairs.insert(name, value);
    }
    pairs.retain(|_, value| !value.is_empty());
    Ok(pairs)
}

/// A short, printable rendering of a value for an error message.
pub(super) fn quoted(text: &str) -> String {
    crate::limits::quote(text)
}

/// An absolute `http(s)` URL to send a browser to: a host, no user information, no fragment,
/// at most 2,048 characters. `None` when it is not one.
fn http_url(text: &str) -> Option<http::Uri> {
    if text.len() > URL_MAX || text.contains('#') {
        return None;
    }
    let uri: http::Uri = text.parse().ok()?;
    let authority = uri.authority()?;
    if !matches!(uri.scheme_str(), Some("http" | "https"))
        || authority.as_str().contains('@')
        || authority.host().is_empty()
    {
        return None;
    }
    Some(uri)
}

/// A `code_challenge` of S256: the base64url (unpadded) of a SHA-256, 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A `code_verifier` (RFC 7636 §4.1): 43 to 128 unreserved characters.
pub(super) fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(super) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// A value that fits in a header and a log-free page: visible ASCII, at most `max` bytes.
fn is_token_like(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether the caller is a browser (it accepts HTML): refusals are then pages, not JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A refusal of a browser endpoint: a page for a browser, WorkOS's JSON error otherwise.
/// Never a redirect: a request that cannot be trusted is not sent anywhere.
fn refuse(html: bool, error: ApiError) -> Response {
    if html {
        html::refusal(error.status(), error.message())
    } else {
        error.into_response()
    }
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

// ----- the sign-in page ---------------------------------------------------------------------

/// The validated parameters of `GET /user_management/authorize`.
struct AuthorizeRequest {
    authorization: Authorization,
    login_hint: Option<String>,
    sign_up: bool,
}

fn authorize_request(
    engine: &LocalEngine,
    query: Option<&str>,
) -> Result<AuthorizeRequest, ApiError> {
    let mut params = parse_form(query.unwrap_or_default())
        .map_err(|problem| bad_request("invalid_request", problem))?;
    let mut take = |name: &str| params.remove(name);
    let client_id =
        take("client_id").ok_or_else(|| bad_request("invalid_request", "client_id is required"))?;
    if !is_token_like(&client_id, CLIENT_ID_MAX) {
        return Err(bad_request(
            "invalid_request",
            format!("client_id {} is not a client id", quoted(&client_id)),
        ));
    }
    let redirect_uri = take("redirect_uri")
        .ok_or_else(|| bad_request("invalid_redirect_uri", "redirect_uri is required"))?;
    if http_url(&redirect_uri).is_none() {
        return Err(bad_request(
            "invalid_redirect_uri",
            format!(
                "redirect_uri {} is not an absolute http(s) URL with a host and no fragment",
                quoted(&redirect_uri)
            ),
        ));
    }
    match take("response_type").as_deref() {
        Some("code") => {}
        None => {
            return Err(bad_request(
                "unsupported_response_type",
                "response_type is required, and must be code",
            ));
        }
        Some(other) => {
            return Err(bad_request(
                "unsupported_response_type",
                format!(
                    "response_type {} is not supported: only code",
                    quoted(other)
                ),
            ));
        }
    }
    match take("provider").as_deref() {
        None | Some("authkit") => {}
        Some(other) => {
            return Err(bad_request(
                "invalid_request",
                format!(
                    "provider {} is not offered by the emulator: only authkit",
                    quoted(other)
                ),
            ));
        }
    }
    let code_challenge = match (take("code_challenge"), take("code_challenge_method")) {
        (None, None) => None,
        (Some(challenge), Some(method)) if method == "S256" => {
            if !is_s256_challenge(&challenge) {
                return Err(bad_request(
                    "invalid_request",
                    "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
                ));
            }
            Some(challenge)
        }
        (Some(_), None) => {
            return Err(bad_request(
                "invalid_request",
                "code_challenge_method is required with code_challenge, and must be S256 (plain is not accepted)",
            ));
        }
        (None, Some(_)) => {
            return Err(bad_request(
                "invalid_request",
                "code_challenge_method was given without code_challenge",
            ));
        }
        (Some(_), Some(method)) => {
            return Err(bad_request(
                "invalid_request",
                format!(
                    "code_challenge_method {} is not supported: only S256",
                    quoted(&method)
                ),
            ));
        }
    };
    let state = take("state");
    if state.as_ref().is_some_and(|state| state.len() > STATE_MAX) {
        return Err(bad_request(
            "invalid_request",
            format!("state is longer than {STATE_MAX} bytes"),
        ));
    }
    let organization_id = take("organization_id");
    if let Some(organization) = &organization_id {
        engine.get_organization(organization).map_err(|_| {
            bad_request(
                "invalid_request",
                format!(
                    "organization_id {} names no organization",
                    quoted(organization)
                ),
            )
        })?;
    }
    let login_hint = take("login_hint");
    if login_hint
        .as_ref()
        .is_some_and(|hint| hint.len() > HINT_MAX)
    {
        return Err(bad_request(
            "invalid_request",
            format!("login_hint is longer than {HINT_MAX} bytes"),
        ));
    }
    let sign_up = match take("screen_hint").as_deref() {
        None | Some("sign-in") => false,
        Some("sign-up") => true,
        Some(other) => {
            return Err(bad_request(
                "invalid_request",
                format!("screen_hint {} is not sign-in or sign-up", quoted(other)),
            ));
        }
    };
    Ok(AuthorizeRequest {
        authorization: Authorization {
            client_id,
            redirect_uri,
            state,
            code_challenge,
            organization_id,
        },
        login_hint,
        sign_up,
    })
}

/// The active memberships of `user_id`, in creation order, limited to `only` when given.
fn active_memberships(engine: &LocalEngine, user_id: &str, only: Option<&str>) -> Vec<Membership> {
    engine
        .list_memberships(Some(user_id), only)
        .into_iter()
        .filter(|membership| membership.status == MembershipStatus::Active)
        .collect()
}

/// `GET /user_management/authorize`: the sign-in page, listing the environment's users.
pub(crate) async fn authorize_page(State(emulator): Emu, parts: Parts) -> Response {
    let html = wants_html(&parts.headers);
    match show_sign_in(&emulator, &parts) {
        Ok(page) => page,
        Err(error) => refuse(html, error),
    }
}

fn show_sign_in(emulator: &Emulator, parts: &Parts) -> Result<Response, ApiError> {
    let engine = &emulator.engine;
    let request = authorize_request(engine, parts.uri.query())?;
    let reached = Reached::from_parts(parts, emulator.settings.base_url.as_deref())?;
    let only = request.authorization.organization_id.clone();
    let hint = request.login_hint.as_deref();
    let mut users: Vec<UserChoice> = Vec::new();
    for user in engine.list_users() {
        let memberships = active_memberships(engine, &user.id, only.as_deref());
        if only.is_some() && memberships.is_empty() {
            continue;
        }
        let organizations = memberships
            .into_iter()
            .map(|membership| OrganizationChoice {
                name: engine
                    .get_organization(&membership.organization_id)
                    .map(|organization| organization.name)
                    .unwrap_or_default(),
                id: membership.organization_id,
                roles: membership.role_slugs,
            })
            .collect();
        users.push(UserChoice {
            hinted: hint.is_some_and(|hint| hint.eq_ignore_ascii_case(&user.email)),
            name: user.display_name(),
            id: user.id,
            email: user.email,
            organizations,
        });
    }
    // The hinted user first; the rest in creation order.
    users.sort_by_key(|user| !user.hinted);
    let organization = only.as_deref().map(|id| {
        let name = engine
            .get_organization(id)
            .map(|organization| organization.name)
            .unwrap_or_default();
        (id.to_owned(), name)
    });
    let returns_to = http_url(&request.authorization.redirect_uri)
        .and_then(|uri| {
            Some(format!(
                "{}://{}",
                uri.scheme_str()?,
                uri.authority()?.as_str()
            ))
        })
        .unwrap_or_default();
    let id = secret().ok_or_else(no_randomness)?;
    let now = Instant::now();
    let client_id = request.authorization.client_id.clone();
    lock(&emulator.authkit.authorizations)
        .insert(
            digest(&id),
            request.authorization,
            now + AUTHORIZATION_LIFETIME,
            now,
        )
        .map_err(|Full| memory_full())?;
    let action = format!("{}/user_management/authorize", reached.base);
    Ok(html::sign_in(&SignInPage {
        action: &action,
        authorization: &id,
        client_id: &client_id,
        returns_to: &returns_to,
        sign_up: request.sign_up,
        organization: organization
            .as_ref()
            .map(|(id, name)| (id.as_str(), name.as_str())),
        users,
    }))
}

/// `POST /user_management/authorize` (the page's form: `authorization`, `user_id`,
/// `organization_id`): 302 to the redirect URI with a one-time code and the state.
pub(crate) async fn authorize_submit(State(emulator): Emu, parts: Parts, body: Bytes) -> Response {
    let html = wants_html(&parts.headers);
    match complete_sign_in(&emulator, &parts, &body) {
        Ok(response) => response,
        Err(error) => refuse(html, error),
    }
}

pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn complete_sign_in(emulator: &Emulator, parts: &Parts, body: &[u8]) -> Result<Response, ApiError> {
    if !is_form(&parts.headers) {
        return Err(bad_request(
            "invalid_request",
            "the sign-in form is application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| bad_request("invalid_request", "the form is not UTF-8"))?;
    let mut form = parse_form(text).map_err(|problem| bad_request("invalid_request", problem))?;
    let id = form
        .remove("authorization")
        .ok_or_else(|| bad_request("invalid_request", "the form has no authorization"))?;
    let key = digest(&id);
    let expired = || {
        bad_request(
            "authorization_expired",
            "this sign-in expired or was already completed: start it again from the application",
        )
    };
    let authorization = lock(&emulator.authkit.authorizations)
        .get(&key, Instant::now())
        .cloned()
        .ok_or_else(expired)?;
    let engine = &emulator.engine;
    let user_id = form
        .remove("user_id")
        .ok_or_else(|| bad_request("invalid_request", "choose a user (user_id)"))?;
    let user = engine
        .get_user(&user_id)
        .map_err(|_| bad_request("invalid_request", format!("no user {}", quoted(&user_id))))?;
    let memberships =
        active_memberships(engine, &user.id, authorization.organization_id.as_deref());
    let chosen = form.remove("organization_id");
    let organization_id = match (chosen, memberships.as_slice()) {
        (Some(chosen), memberships) => {
            if !memberships.iter().any(|m| m.organization_id == chosen) {
                return Err(bad_request(
                    "organization_membership_not_found",
                    format!(
                        "{} is not an active member of organization {}{}",
                        user.email,
                        quoted(&chosen),
                        if authorization.organization_id.is_some() {
                            " (the only organization this sign-in allows)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            Some(chosen)
        }
        (None, []) if authorization.organization_id.is_some() => {
            return Err(bad_request(
                "organization_membership_not_found",
                format!(
                    "{} is not an active member of the organization this sign-in is for",
                    user.email
                ),
            ));
        }
        (None, []) => None,
        (None, [only]) => Some(only.organization_id.clone()),
        (None, _) => {
            return Err(bad_request(
                "organization_selection_required",
                format!(
                    "{} is a member of several organizations: choose one",
                    user.email
                ),
            ));
        }
    };
    // Single use: only the request that takes the authorization issues a code.
    let now = Instant::now();
    let taken = lock(&emulator.authkit.authorizations).take(&key);
    if taken.is_none_or(|(until, _)| until <= now) {
        return Err(expired());
    }
    let code = secret().ok_or_else(no_randomness)?;
    lock(&emulator.authkit.codes)
        .insert(
            digest(&code),
            IssuedCode {
                client_id: authorization.client_id,
                redirect_uri: authorization.redirect_uri.clone(),
                code_challenge: authorization.code_challenge,
                user_id: user.id,
                organization_id,
            },
            now + emulator.settings.code_lifetime,
            now,
        )
        .map_err(|Full| memory_full())?;
    let mut location = authorization.redirect_uri;
    location.push(if location.contains('?') { '&' } else { '?' });
    location.push_str("code=");
    location.extend(utf8_percent_encode(&code, QUERY_VALUE));
    if let Some(state) = &authorization.state {
        location.push_str("&state=");
        location.extend(utf8_percent_encode(state, QUERY_VALUE));
    }
    let location = HeaderValue::from_str(&location).map_err(|_| {
        bad_request(
            "invalid_redirect_uri",
            "the redirect URI cannot be a header",
        )
    })?;
    Ok((
        StatusCode::FOUND,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

// ----- sign-out -----------------------------------------------------------------------------

/// `GET /user_management/sessions/logout?session_id=...&return_to=...`: ends the session
/// (its refresh token stops working), then 302 to `return_to` when it is an absolute http(s)
/// URL, or a page saying so.
pub(crate) async fn logout(State(emulator): Emu, parts: Parts) -> Response {
    let html = wants_html(&parts.headers);
    let result = (|| {
        let mut params = parse_form(parts.uri.query().unwrap_or_default())
            .map_err(|problem| bad_request("invalid_request", problem))?;
        let session_id = params
            .remove("session_id")
            .ok_or_else(|| bad_request("invalid_request", "session_id is required"))?;
        emulator
            .engine
            .end_session(&session_id)
            .map_err(|error| match error {
                EngineError::NotFound { .. } => ApiError::new(
                    StatusCode::NOT_FOUND,
                    "session_not_found",
                    format!("no session {}", quoted(&session_id)),
                ),
                other => other.into(),
            })?;
        Ok::<_, ApiError>(params.remove("return_to"))
    })();
    match result {
        Err(error) => refuse(html, error),
        Ok(return_to) => {
            let location = return_to
                .filter(|url| http_url(url).is_some())
                .and_then(|url| HeaderValue::from_str(&url).ok());
            match location {
                Some(location) => (
                    StatusCode::FOUND,
                    [
                        (LOCATION, location),
                        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    ],
                )
                    .into_response(),
                None => html::signed_out(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_refuse_repeated_names() {
        let form = parse_form("a=1&b=x+y%2Bz&c=&d").unwrap();
        assert_eq!(form.get("a").map(String::as_str), Some("1"));
        assert_eq!(form.get("b").map(String::as_str), Some("x y+z"));
        assert!(!form.contains_key("c") && !form.contains_key("d"));
        assert!(parse_form("a=1&a=2").is_err());
        assert!(parse_form("a=%FF").is_err());
    }

    #[test]
    fn redirect_urls_are_absolute_http_without_fragment_or_user() {
        for good in [
            "http://localhost:3000/callback",
            "https://app.example/cb?x=1",
        ] {
            assert!(http_url(good).is_some(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "//evil.example/cb",
            "/callback",
            "ftp://host/x",
            "http://host/cb#frag",
            "http://user:pw@host/cb",
            "http:///cb",
            "",
        ] {
            assert!(http_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_verifier(verifier));
        assert!(is_s256_challenge(&s256(verifier)));
        assert!(!is_verifier("short"));
    }

    #[test]
    fn memory_debug_shows_counts_only() {
        let memory = AuthKitMemory::default();
        let now = Instant::now();
        lock(&memory.codes)
            .insert(
                digest("secret-code"),
                IssuedCode {
                    client_id: "client_1".into(),
                    redirect_uri: "http://localhost/cb".into(),
                    code_challenge: None,
                    user_id: "user_1".into(),
                    organization_id: None,
                },
                now + Duration::from_secs(60),
                now,
            )
            .ok()
            .unwrap();
        let debug = format!("{memory:?}");
        assert!(debug.contains("codes: 1"), "{debug}");
        assert!(
            !debug.contains("secret") && !debug.contains("user_1"),
            "{debug}"
        );
    }
}
