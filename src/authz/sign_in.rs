//! The routes an app mounts to sign its users in and out with AuthKit: `GET /login`,
//! `GET /callback`, `POST /logout` and `POST /switch-organization`, and the sign-in redirect
//! of page navigations that have no session.
//!
//! The cookie pieces (the sealed sign-in state, the URLs, the code exchange, the refresh) are
//! `authkit`'s; these handlers put them in order and verify what WorkOS answers.

use std::sync::Arc;

use axum::Form;
use axum::extract::Query;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde::Deserialize;

use super::handle::{Authz, forbidden};
use crate::authkit::{
    AuthKitCookie, RefreshError, SessionPayload, SignInError, safe_return_path, session_id_of,
};
use crate::rejection::AuthzRejection;
use crate::session::TokenError;

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    organization_id: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct LogoutForm {
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct SwitchForm {
    organization_id: String,
    return_to: Option<String>,
}

impl Authz {
    /// The routes that sign users in and out with AuthKit, to merge into the app's router
    /// (outside [`Authz::layer`], or behind [`Authz::optional_layer`]):
    ///
    /// - `GET /login?return_to=/path`: redirects to AuthKit (`{base}/user_management/authorize`
    ///   with `client_id`, `redirect_uri`, `response_type=code`, `provider=authkit`, a random
    ///   `state` and a PKCE S256 `code_challenge`), the state, verifier and return path sealed
    ///   into a 10-minute `wos-auth-verifier` cookie;
    /// - `GET /callback?code&state`: the state must be this browser's (else 400 and nothing is
    ///   exchanged); the code is exchanged with the verifier and the API key, the session sealed
    ///   into `wos-session`, and the browser sent back to the return path (only paths of this
    ///   site are followed: anything else goes to `/`);
    /// - `POST /logout`: clears the cookie and redirects to WorkOS's sign-out with the
    ///   session's `sid` (also when the access token has expired);
    /// - `POST /switch-organization` (form field `organization_id`, optional `return_to`): a
    ///   refresh into that organization and the new cookie; a 403 from WorkOS (no membership,
    ///   SSO or MFA required) is answered 403 and the session is kept.
    ///
    /// Needs the AuthKit cookie source with [`AuthKitCookie::sign_in_at`] and
    /// [`AuthKitCookie::refresh_through`] (what `Authz::from_env` sets up from
    /// `WORKOS_REDIRECT_URI`, `WORKOS_API_KEY` and `WORKOS_COOKIE_PASSWORD`).
    pub fn authkit_routes(&self) -> Result<axum::Router, SignInError> {
        let cookie = self
            .inner_authkit_cookie()
            .ok_or(SignInError::NotConfigured("no AuthKit cookie source"))?;
        if !cookie.refreshes() {
            return Err(SignInError::NotConfigured(
                "no WorkOS client: set WORKOS_API_KEY, or AuthKitCookie::refresh_through",
            ));
        }
        if cookie.redirect_uri().is_none() {
            return Err(SignInError::NotConfigured(
                "no redirect URI: set WORKOS_REDIRECT_URI, or AuthKitCookie::sign_in_at",
            ));
        }
        let routes = axum::Router::new()
            .route(
                "/login",
                get({
                    let (authz, cookie) = (self.clone(), cookie.clone());
                    move |Query(query): Query<LoginQuery>| async move {
                        login(&authz, &cookie, query)
                    }
                }),
            )
            .route(
                "/callback",
                get({
                    let (authz, cookie) = (self.clone(), cookie.clone());
                    move |headers: HeaderMap, Query(query): Query<CallbackQuery>| async move {
                        callback(&authz, &cookie, &headers, query).await
                    }
                }),
            )
            .route(
                "/logout",
                post({
                    let (authz, cookie) = (self.clone(), cookie.clone());
                    // The form is optional: an API client may post nothing at all.
                    move |headers: HeaderMap, form: Result<Form<LogoutForm>, FormRejection>| async move {
                        let return_to = form.ok().and_then(|Form(form)| form.return_to);
                        logout(&authz, &cookie, &headers, return_to)
                    }
                }),
            )
            .route(
                "/switch-organization",
                post({
                    let (authz, cookie) = (self.clone(), cookie.clone());
                    move |headers: HeaderMap, Form(form): Form<SwitchForm>| async move {
                        switch_organization(&authz, &cookie, &headers, form).await
                    }
                }),
            );
        Ok(routes)
    }

    fn inner_authkit_cookie(&self) -> Option<Arc<AuthKitCookie>> {
        self.sources().authkit_cookies().next().cloned()
    }
}

fn login(authz: &Authz, cookie: &AuthKitCookie, query: LoginQuery) -> Response {
    match cookie.start_sign_in(query.return_to.as_deref(), query.organization_id.as_deref()) {
        Ok(start) => redirect(&start.location, [start.set_cookie]),
        Err(error) => sign_in_refusal(authz, &error),
    }
}

async fn callback(
    authz: &Authz,
    cookie: &AuthKitCookie,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Response {
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or(error);
        tracing::info!(error = %detail, "AuthKit sign-in failed");
        let rejection = AuthzRejection::BadRequest(format!(
            "the sign-in failed: {}",
            crate::support::printable(&detail, 200)
        ));
        return no_store(authz.reject(&rejection));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        let rejection = AuthzRejection::BadRequest("the callback needs a code and a state".into());
        return no_store(authz.reject(&rejection));
    };
    // Nothing is exchanged for a state this browser did not seal: a forged or replayed callback
    // stops here.
    let sign_in = match cookie.sign_in_in_progress(headers, &state) {
        Ok(sign_in) => sign_in,
        Err(error) => return sign_in_refusal(authz, &error),
    };
    let (payload, sealed) = match cookie.exchange_code(&code, &sign_in.verifier).await {
        Ok(session) => session,
        Err(error) => return sign_in_refusal(authz, &error),
    };
    if let Err(response) = verify_session(authz, &payload).await {
        return response;
    }
    redirect(
        &sign_in.return_to,
        [cookie.set_cookie(&sealed), cookie.clear_sign_in_cookie()],
    )
}

fn logout(
    authz: &Authz,
    cookie: &AuthKitCookie,
    headers: &HeaderMap,
    return_to: Option<String>,
) -> Response {
    if !cookie.allows(&Method::POST, headers) {
        return no_store(authz.reject(&cross_site()));
    }
    // The session id is read from the sealed token as it is: signing out must work after the
    // access token has expired.
    let session_id = match cookie.find(headers) {
        crate::authkit::FoundCookie::Seal(seal) => cookie
            .open(&seal)
            .ok()
            .and_then(|payload| session_id_of(&payload)),
        _ => None,
    };
    let return_to = safe_return_path(return_to.as_deref());
    let location = cookie.sign_out_url(session_id.as_deref(), &return_to);
    redirect(&location, [cookie.clear_cookie()])
}

async fn switch_organization(
    authz: &Authz,
    cookie: &AuthKitCookie,
    headers: &HeaderMap,
    form: SwitchForm,
) -> Response {
    if !cookie.allows(&Method::POST, headers) {
        return no_store(authz.reject(&cross_site()));
    }
    let payload = match cookie.find(headers) {
        crate::authkit::FoundCookie::Seal(seal) => cookie.open(&seal).ok(),
        _ => None,
    };
    let Some(payload) = payload else {
        return no_store(authz.reject(&AuthzRejection::MissingToken));
    };
    let organization_id = form.organization_id.trim();
    if organization_id.is_empty() || organization_id.len() > 256 {
        let rejection = AuthzRejection::BadRequest("organization_id is not an organization".into());
        return no_store(authz.reject(&rejection));
    }
    match cookie.refresh(&payload, Some(organization_id)).await {
        Ok(refreshed) => {
            if let Err(response) = verify_session(authz, &refreshed.payload).await {
                return response;
            }
            let return_to = safe_return_path(form.return_to.as_deref());
            redirect(&return_to, [cookie.set_cookie(&refreshed.sealed)])
        }
        // The user may not enter that organization (no membership, SSO or MFA required): say
        // so, and keep the session they have.
        Err(RefreshError::Denied { code, message }) => {
            let rejection = forbidden(
                &format!(
                    "WorkOS refused the switch ({}): {}",
                    crate::support::printable(&code, 64),
                    crate::support::printable(&message, 200)
                ),
                None,
            );
            no_store(authz.reject(&rejection))
        }
        Err(RefreshError::Refused(reason)) => {
            let rejection =
                AuthzRejection::InvalidSession(format!("the session has ended ({reason})"));
            with_cookies(no_store(authz.reject(&rejection)), [cookie.clear_cookie()])
        }
        Err(error) => {
            tracing::warn!(%error, "organization switch unavailable");
            let rejection = AuthzRejection::Unavailable(
                "the organization could not be switched; try again".into(),
            );
            no_store(authz.reject(&rejection))
        }
    }
}

/// The access token WorkOS answered must verify and be the user's.
async fn verify_session(authz: &Authz, payload: &SessionPayload) -> Result<(), Response> {
    match authz.verifier().verify(&payload.access_token).await {
        Ok(session) if session.user_id() == payload.user.id => Ok(()),
        Ok(_) => Err(no_store(authz.reject(&AuthzRejection::InvalidSession(
            "WorkOS answered a session whose user is not its token's subject".into(),
        )))),
        Err(TokenError::KeysUnavailable) => {
            Err(no_store(authz.reject(&TokenError::KeysUnavailable.into())))
        }
        Err(error) => {
            tracing::error!(%error, "WorkOS answered a session whose access token does not verify");
            Err(no_store(authz.reject(&AuthzRejection::InvalidSession(
                "WorkOS answered a session whose access token does not verify".into(),
            ))))
        }
    }
}

fn sign_in_refusal(authz: &Authz, error: &SignInError) -> Response {
    tracing::info!(%error, "sign-in refused");
    let rejection = match error {
        SignInError::Unavailable(_) => AuthzRejection::Unavailable(error.to_string()),
        SignInError::NotConfigured(_) => AuthzRejection::Misconfigured(error.to_string()),
        _ => AuthzRejection::BadRequest(error.to_string()),
    };
    no_store(authz.reject(&rejection))
}

fn cross_site() -> AuthzRejection {
    forbidden(
        "a request that changes state with the session cookie must come from the same origin",
        None,
    )
}

/// 302 to `location` with `cookies` set: never cached (it carries a session).
fn redirect<const N: usize>(location: &str, cookies: [HeaderValue; N]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    match HeaderValue::try_from(location) {
        Ok(location) => {
            response.headers_mut().insert(LOCATION, location);
        }
        // Every location here is built from checked parts; should one not be a header, go home.
        Err(_) => {
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/"));
        }
    }
    with_cookies(no_store(response), cookies)
}

fn with_cookies<const N: usize>(mut response: Response, cookies: [HeaderValue; N]) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// Whether a request is a browser's page navigation (not an API call): only those are sent
/// to sign in rather than answered 401.
pub(crate) fn is_page_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return false;
    }
    if let Some(mode) = headers.get("sec-fetch-mode") {
        return mode.as_bytes() == b"navigate";
    }
    headers
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `302 {login}?return_to={the request's path and query}`.
pub(crate) fn sign_in_redirect(login_path: &str, uri: &Uri) -> Response {
    let here = uri.path_and_query().map_or("/", |path| path.as_str());
    let return_to = safe_return_path(Some(here));
    let encoded: String =
        percent_encoding::utf8_percent_encode(&return_to, percent_encoding::NON_ALPHANUMERIC)
            .collect();
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::try_from(format!("{login_path}?return_to={encoded}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    no_store(response)
}
