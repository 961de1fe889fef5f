//! AuthKit's token endpoint, as the emulator plays it: `POST /user_management/authenticate`
//! with grant `authorization_code` (PKCE S256, codes single use and short-lived, the client
//! secret checked) or `refresh_token` (single use, rotated, the replay window, organization
//! switching), WorkOS's answer and errors, and the claims of the access tokens it mints.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Emulator;
use super::api::{ApiError, Reached, user_json};
use super::authkit::{
    Replay, digest, is_form, is_verifier, lock, no_randomness, parse_form, quoted, s256, secret,
};
use crate::local::{AuthSession, EngineError, LocalEngine, Membership, User};
use crate::session::SessionClaims;

type Emu = State<Emulator>;

/// An OAuth error of the token endpoint: `{ "error", "error_description" }`, as WorkOS
/// answers `invalid_grant`.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }
}

/// What the token endpoint can answer besides a session.
enum Refusal {
    OAuth(OAuthError),
    /// WorkOS's other shape (`{ "code", "message" }`): the 403s, and the emulator's own
    /// 5xx (storage, randomness, signing).
    Api(ApiError),
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Refusal::OAuth(error)
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Api(error)
    }
}

impl From<EngineError> for Refusal {
    fn from(error: EngineError) -> Self {
        Refusal::Api(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = match self {
            Refusal::OAuth(error) => (
                error.status,
                Json(json!({ "error": error.error, "error_description": error.description })),
            )
                .into_response(),
            Refusal::Api(error) => error.into_response(),
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn membership_not_found(user: &User, organization_id: &str) -> Refusal {
    Refusal::Api(ApiError::new(
        StatusCode::FORBIDDEN,
        "organization_membership_not_found",
        format!(
            "The user {} is not an active member of the organization {}.",
            user.email,
            quoted(organization_id)
        ),
    ))
}

/// The body of `POST /user_management/authenticate`, JSON or form-encoded; other fields
/// (`ip_address`, `user_agent`, ...) are ignored. Secrets: never shown.
#[derive(Default, Deserialize)]
struct AuthenticateBody {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    code_verifier: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
    organization_id: Option<String>,
}

impl AuthenticateBody {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        if is_form(headers) {
            let text = std::str::from_utf8(body)
                .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
            let mut form = parse_form(text).map_err(OAuthError::invalid_request)?;
            let mut take = |name: &str| form.remove(name);
            return Ok(AuthenticateBody {
                grant_type: take("grant_type"),
                client_id: take("client_id"),
                client_secret: take("client_secret"),
                code: take("code"),
                code_verifier: take("code_verifier"),
                redirect_uri: take("redirect_uri"),
                refresh_token: take("refresh_token"),
                organization_id: take("organization_id"),
            });
        }
        let media = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase());
        if media
            .as_deref()
            .is_some_and(|media| media != "application/json")
        {
            return Err(OAuthError::invalid_request(
                "the body must be application/json or application/x-www-form-urlencoded",
            ));
        }
        let body: AuthenticateBody = serde_json::from_slice(body).map_err(|_| {
            OAuthError::invalid_request("the body is not a JSON object of string fields")
        })?;
        // An empty field is an absent one, as in a form.
        let keep = |value: Option<String>| value.filter(|value| !value.is_empty());
        Ok(AuthenticateBody {
            grant_type: keep(body.grant_type),
            client_id: keep(body.client_id),
            client_secret: keep(body.client_secret),
            code: keep(body.code),
            code_verifier: keep(body.code_verifier),
            redirect_uri: keep(body.redirect_uri),
            refresh_token: keep(body.refresh_token),
            organization_id: keep(body.organization_id),
        })
    }
}

/// `POST /user_management/authenticate`: grant `authorization_code` or `refresh_token`.
pub(crate) async fn authenticate(State(emulator): Emu, parts: Parts, body: Bytes) -> Response {
    match exchange(&emulator, &parts, &body) {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

fn exchange(emulator: &Emulator, parts: &Parts, body: &[u8]) -> Result<Value, Refusal> {
    let body = AuthenticateBody::parse(&parts.headers, body)?;
    let grant = body
        .grant_type
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if grant != "authorization_code" && grant != "refresh_token" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {} is not supported: authorization_code or refresh_token",
                quoted(&grant)
            ),
        )
        .into());
    }
    // The client secret first: a request that does not authenticate changes nothing (a code
    // it names is not spent).
    if !body
        .client_secret
        .as_deref()
        .is_some_and(|secret| emulator.accepts_key(secret))
    {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_secret must be the API key of this environment",
        )
        .into());
    }
    let client_id = body
        .client_id
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
    let reached = Reached::from_parts(parts, emulator.settings.base_url.as_deref())?;
    if grant == "authorization_code" {
        exchange_code(emulator, &reached, &client_id, body)
    } else {
        refresh(emulator, &reached, &client_id, body)
    }
}

fn exchange_code(
    emulator: &Emulator,
    reached: &Reached,
    client_id: &str,
    body: AuthenticateBody,
) -> Result<Value, Refusal> {
    let code = body
        .code
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    // Any authenticated exchange spends the code, whether it then succeeds or not.
    let taken = lock(&emulator.authkit.codes).take(&digest(&code));
    let Some((until, issued)) = taken else {
        return Err(OAuthError::invalid_grant("the code is unknown or was already used").into());
    };
    if Instant::now() >= until {
        return Err(OAuthError::invalid_grant("the code has expired").into());
    }
    if issued.client_id != client_id {
        return Err(OAuthError::invalid_grant("the code was issued to another client").into());
    }
    if body
        .redirect_uri
        .as_deref()
        .is_some_and(|uri| uri != issued.redirect_uri)
    {
        return Err(
            OAuthError::invalid_grant("the code was issued for another redirect_uri").into(),
        );
    }
    match (&issued.code_challenge, body.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) => {
            if !is_verifier(verifier) || s256(verifier) != *challenge {
                return Err(OAuthError::invalid_grant(
                    "the code_verifier does not match the code_challenge",
                )
                .into());
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "the sign-in sent a code_challenge: code_verifier is required",
            )
            .into());
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "the sign-in sent no code_challenge: a code_verifier cannot be checked",
            )
            .into());
        }
        (None, None) => {}
    }
    let engine = &emulator.engine;
    let user = engine
        .get_user(&issued.user_id)
        .map_err(|_| OAuthError::invalid_grant("the user no longer exists"))?;
    let membership = match &issued.organization_id {
        Some(organization) => Some(
            engine
                .active_membership(&user.id, organization)
                .ok_or_else(|| membership_not_found(&user, organization))?,
        ),
        None => None,
    };
    let refresh_token = secret().ok_or_else(no_randomness)?;
    let session = engine.start_session(
        &user.id,
        issued.organization_id.as_deref(),
        client_id,
        &refresh_token,
    )?;
    let access_token = match mint(emulator, reached, &user, membership.as_ref(), &session) {
        Ok(token) => token,
        Err(error) => {
            // A session nobody holds a token of is ended at once.
            let _ = engine.end_session(&session.id);
            return Err(error.into());
        }
    };
    Ok(session_answer(
        &user,
        session.organization_id.as_deref(),
        &access_token,
        &refresh_token,
    ))
}

fn refresh(
    emulator: &Emulator,
    reached: &Reached,
    client_id: &str,
    body: AuthenticateBody,
) -> Result<Value, Refusal> {
    let old = body
        .refresh_token
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let requested = body.organization_id;
    let key = digest(&old);
    let engine = &emulator.engine;
    // One refresh at a time: the replay lookup, the rotation and the remembering of its answer
    // are one step for every request holding this token.
    let mut refreshes = lock(&emulator.authkit.refreshes);
    let now = Instant::now();
    if let Some(replay) = refreshes.get(&key, now) {
        let live = engine
            .get_session(&replay.session_id)
            .filter(|session| session.ended_at.is_none() && session.client_id == client_id);
        if live.is_some() && replay.organization_id == requested {
            return Ok(replay.answer.clone());
        }
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used (with another organization_id), or its session has ended",
        )
        .into());
    }
    let spent =
        || OAuthError::invalid_grant("the refresh token is unknown, already used or revoked");
    let session = engine.session_for_refresh_token(&old).ok_or_else(spent)?;
    if session.client_id != client_id {
        return Err(
            OAuthError::invalid_grant("the refresh token was issued to another client").into(),
        );
    }
    let user = engine
        .get_user(&session.user_id)
        .map_err(|_| OAuthError::invalid_grant("the session's user no longer exists"))?;
    let organization = requested.clone().or(session.organization_id.clone());
    // A refused switch spends nothing: the session goes on with its token.
    let membership = match &organization {
        Some(organization) => Some(
            engine
                .active_membership(&user.id, organization)
                .ok_or_else(|| membership_not_found(&user, organization))?,
        ),
        None => None,
    };
    let new = secret().ok_or_else(no_randomness)?;
    let scoped = AuthSession {
        organization_id: organization.clone(),
        ..session
    };
    // Signed before the rotation: a token that could not be signed spends nothing.
    let access_token = mint(emulator, reached, &user, membership.as_ref(), &scoped)?;
    let session = engine
        .rotate_refresh_token(&old, &new, organization.as_deref())
        .map_err(|error| match error {
            EngineError::NotFound { .. } => Refusal::OAuth(spent()),
            other => other.into(),
        })?;
    let answer = session_answer(
        &user,
        session.organization_id.as_deref(),
        &access_token,
        &new,
    );
    let window = emulator.settings.replay_window;
    if !window.is_zero() {
        // A full memory only costs the replay: the rotation stands, and is answered.
        let _ = refreshes.insert(
            key,
            Replay {
                session_id: session.id,
                organization_id: requested,
                answer: answer.clone(),
            },
            now + window,
            now,
        );
    }
    Ok(answer)
}

/// The claims of a session token for `user_id`: issued by `issuer`, living `lifetime`, and,
/// with a membership, its organization, its organization-level role(s) (`role` the highest)
/// and their permissions as the engine computes them, and the membership id a WorkOS JWT
/// template would add. `POST /_emulator/sessions` mints with the same claims.
pub(crate) fn session_claims(
    engine: &LocalEngine,
    user_id: &str,
    membership: Option<&Membership>,
    issuer: &str,
    lifetime: Duration,
) -> Result<SessionClaims, ApiError> {
    let mut claims = SessionClaims::new(user_id)
        .issuer(issuer)
        .expires_in(lifetime);
    claims.jti = Some(crate::support::random_hex(16));
    if let Some(membership) = membership {
        claims = claims
            .organization(&membership.organization_id)
            .roles(membership.role_slugs.iter())
            .permissions(engine.organization_permissions(&membership.id)?)
            .organization_membership(&membership.id);
        claims.role = membership.role_slugs.first().cloned();
    }
    Ok(claims)
}

/// Signs `claims` with the emulator's key.
pub(crate) fn sign(emulator: &Emulator, claims: &SessionClaims) -> Result<String, ApiError> {
    emulator.signer.sign(claims).map_err(|error| {
        tracing::error!(%error, "a session token could not be signed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "signing_failed",
            "the session token could not be signed",
        )
    })
}

/// The access token of `session`: its `sid`, the configured lifetime.
fn mint(
    emulator: &Emulator,
    reached: &Reached,
    user: &User,
    membership: Option<&Membership>,
    session: &AuthSession,
) -> Result<String, ApiError> {
    let mut claims = session_claims(
        &emulator.engine,
        &user.id,
        membership,
        &reached.base,
        emulator.settings.access_token_lifetime,
    )?;
    claims.sid = Some(session.id.clone());
    sign(emulator, &claims)
}

/// What both grants answer.
fn session_answer(
    user: &User,
    organization_id: Option<&str>,
    access_token: &str,
    refresh_token: &str,
) -> Value {
    let mut answer = json!({
        "user": user_json(user),
        "access_token": access_token,
        "refresh_token": refresh_token,
        "authentication_method": "Password",
    });
    if let Some(organization_id) = organization_id {
        answer["organization_id"] = json!(organization_id);
    }
    answer
}
