//! The cookie side of signing in and out with AuthKit: the sign-in state sealed into the
//! short-lived `wos-auth-verifier` cookie (the `state`, the PKCE verifier, where to return),
//! the authorization and sign-out URLs, the code exchange, and which return paths may be
//! followed. The handlers that put these in order are `authz`'s.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::cookie::{SealedSession, read_cookie};
use super::iron::Ttl;
use super::payload::SessionPayload;
use super::refresh::{RefreshError, session_user};
use super::source::AuthKitCookie;
use crate::single_flight::FlightError;
use crate::support::random_bytes;

/// The cookie that carries the sign-in state from `/login` to `/callback`.
pub const SIGN_IN_COOKIE: &str = "wos-auth-verifier";

/// How long a sign-in may take, from `/login` to `/callback` (authkit-nextjs's 10 minutes).
const SIGN_IN_SECONDS: u64 = 600;

/// What `/login` seals for `/callback`.
#[derive(Serialize, Deserialize)]
pub(crate) struct SignInState {
    pub(crate) state: String,
    pub(crate) verifier: String,
    pub(crate) return_to: String,
}

/// A sign-in started: where to send the browser, and the cookie to set.
pub(crate) struct SignInStart {
    pub(crate) location: String,
    pub(crate) set_cookie: HeaderValue,
}

/// Why `/callback` refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// No sign-in state cookie, or one that does not unseal (expired after 10 minutes, tampered,
    /// from another application): the sign-in has to start again.
    #[error("no sign-in is in progress in this browser (or it took longer than 10 minutes)")]
    NoSignInInProgress,
    /// The `state` WorkOS sent back is not the one this browser's sign-in sealed: a forged or
    /// replayed callback.
    #[error("the sign-in state does not match")]
    StateMismatch,
    /// WorkOS refused the code (spent, expired, or the PKCE verifier does not fit).
    #[error("the sign-in code was refused: {0}")]
    CodeRefused(String),
    /// WorkOS could not answer now.
    #[error("the sign-in could not be completed now: {0}")]
    Unavailable(String),
    /// This setup cannot sign in: no redirect URI, or no WorkOS client to exchange codes with.
    #[error("sign-in is not configured: {0}")]
    NotConfigured(&'static str),
}

impl AuthKitCookie {
    /// Starts a sign-in that returns to `return_to` (a relative path of this site; anything
    /// else returns to `/`): a random `state` and PKCE verifier sealed into the sign-in cookie,
    /// and the authorization URL with `client_id`, `redirect_uri`, `response_type=code`,
    /// `provider=authkit`, the `state` and the S256 `code_challenge`.
    pub(crate) fn start_sign_in(
        &self,
        return_to: Option<&str>,
        organization_id: Option<&str>,
    ) -> Result<SignInStart, SignInError> {
        let (refresher, redirect_uri) = self.sign_in_parts()?;
        let state = SignInState {
            state: random_token(),
            verifier: random_token(),
            return_to: safe_return_path(return_to),
        };
        let challenge = URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, state.verifier.as_bytes())
                .as_ref(),
        );
        let mut url = Url::parse(&format!(
            "{}/user_management/authorize",
            refresher.client().base_url()
        ))
        .map_err(|_| SignInError::NotConfigured("the WorkOS base URL is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("client_id", refresher.client_id())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("provider", "authkit")
            .append_pair("state", &state.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(organization_id) = organization_id {
            url.query_pairs_mut()
                .append_pair("organization_id", organization_id);
        }
        let sealed = self
            .config()
            .iron()
            .seal_json(&state, Ttl::SIGN_IN_STATE)
            .map_err(|_| {
                SignInError::Unavailable("the sign-in state could not be sealed".into())
            })?;
        Ok(SignInStart {
            location: url.into(),
            set_cookie: self
                .config()
                .render_named(SIGN_IN_COOKIE, &sealed, SIGN_IN_SECONDS),
        })
    }

    /// The sign-in this browser started, if `state` is the one it sealed.
    pub(crate) fn sign_in_in_progress(
        &self,
        headers: &HeaderMap,
        state: &str,
    ) -> Result<SignInState, SignInError> {
        let sealed = read_cookie(headers, SIGN_IN_COOKIE)
            .ok()
            .flatten()
            .ok_or(SignInError::NoSignInInProgress)?;
        let sign_in: SignInState = self
            .config()
            .iron()
            .unseal_json(&sealed)
            .map_err(|_| SignInError::NoSignInInProgress)?;
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            sign_in.state.as_bytes(),
            state.as_bytes(),
        )
        .is_ok();
        if !matches {
            return Err(SignInError::StateMismatch);
        }
        Ok(sign_in)
    }

    /// The `Set-Cookie` value that deletes the sign-in state cookie.
    pub(crate) fn clear_sign_in_cookie(&self) -> HeaderValue {
        self.config().render_named(SIGN_IN_COOKIE, "", 0)
    }

    /// Exchanges the callback's `code` (with the sign-in's PKCE verifier) for a session, sealed
    /// for the cookie: one exchange per code however many times the callback is sent, in its
    /// own task, under the upstream timeout.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<(Arc<SessionPayload>, SealedSession), SignInError> {
        let (refresher, _) = self.sign_in_parts()?;
        let (client, client_id) = (refresher.client().clone(), refresher.client_id().to_owned());
        let (code, verifier) = (code.to_owned(), verifier.to_owned());
        let config = self.config().clone();
        let key = crate::support::sha256(code.as_bytes());
        let (_, answer) = refresher
            .exchanges()
            .run(
                key,
                || None,
                move || async move {
                    let authentication = client
                        .authenticate_with_code(&client_id, &code, Some(&verifier))
                        .await
                        .map_err(|error| match super::refresh::classify(&error) {
                            RefreshError::Unavailable(reason) => SignInError::Unavailable(reason),
                            RefreshError::Refused(reason)
                            | RefreshError::Denied {
                                message: reason, ..
                            } => SignInError::CodeRefused(reason),
                        })?;
                    let mut payload = SessionPayload::new(
                        authentication.access_token,
                        authentication.refresh_token,
                        session_user(authentication.user),
                    );
                    payload.organization_id = authentication.organization_id;
                    payload.impersonator = authentication.impersonator.map(|impersonator| {
                        super::payload::Impersonator::new(impersonator.email, impersonator.reason)
                    });
                    let sealed = config.seal(&payload).map_err(|_| {
                        SignInError::Unavailable("the session could not be sealed".into())
                    })?;
                    if sealed.exceeds_browser_limit() {
                        tracing::warn!(
                            bytes = sealed.as_str().len(),
                            "the session cookie is over 4,096 bytes: browsers will drop it"
                        );
                    }
                    Ok((Arc::new(payload), sealed))
                },
                |_| {},
            )
            .await;
        answer.map_err(|error| match error {
            FlightError::Failed(error) => error,
            FlightError::Timeout(timeout) => {
                SignInError::Unavailable(format!("no answer within {timeout:?}"))
            }
            FlightError::Abandoned => {
                SignInError::Unavailable("the code exchange ended without an answer".into())
            }
        })
    }

    /// Where to send the browser to end its WorkOS session: `{base}/user_management/sessions/
    /// logout?session_id=...&return_to=...`, or `return_to` itself when there is no session id
    /// (or no WorkOS to tell).
    pub(crate) fn sign_out_url(&self, session_id: Option<&str>, return_to: &str) -> String {
        let absolute = self.absolute(return_to);
        let (Some(session_id), Some(refresher)) = (session_id, &self.refresher) else {
            return return_to.to_owned();
        };
        match Url::parse(&format!(
            "{}/user_management/sessions/logout",
            refresher.client().base_url()
        )) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .append_pair("session_id", session_id)
                    .append_pair("return_to", &absolute);
                url.into()
            }
            Err(_) => return_to.to_owned(),
        }
    }

    /// `path` (already a safe relative path) on this site's origin, from the redirect URI.
    fn absolute(&self, path: &str) -> String {
        match self
            .redirect_uri
            .as_deref()
            .and_then(super::source::origin_of)
        {
            Some(origin) => format!("{origin}{path}"),
            None => path.to_owned(),
        }
    }

    fn sign_in_parts(&self) -> Result<(&super::refresh::Refresher, &str), SignInError> {
        let refresher = self.refresher.as_ref().ok_or(SignInError::NotConfigured(
            "no WorkOS client: set WORKOS_API_KEY, or AuthKitCookie::refresh_through",
        ))?;
        let redirect_uri = self
            .redirect_uri
            .as_deref()
            .ok_or(SignInError::NotConfigured(
                "no redirect URI: set WORKOS_REDIRECT_URI, or AuthKitCookie::sign_in_at",
            ))?;
        Ok((refresher, redirect_uri))
    }
}

/// The session id (`sid`) of a sealed session's access token, read without checking its
/// signature or expiry: the seal's MAC already proves this application wrote the token, and
/// signing out must work with an expired one.
pub(crate) fn session_id_of(payload: &SessionPayload) -> Option<String> {
    let claims = payload.access_token.split('.').nth(1)?;
    let claims = URL_SAFE_NO_PAD.decode(claims).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&claims).ok()?;
    claims["sid"].as_str().map(str::to_owned)
}

/// `candidate` if it is a path of this site (`/projects?x=1`), `/` otherwise: never another
/// site (`//evil.example`, `/\evil.example`, `https://...`), never a header break.
pub fn safe_return_path(candidate: Option<&str>) -> String {
    let Some(path) = candidate else {
        return "/".to_owned();
    };
    let same_site = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && path
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'\\');
    if same_site {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

/// 32 random bytes, base64url: a `state`, or a PKCE verifier (43 characters, within RFC 7636's
/// 43 to 128).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        for (candidate, expected) in [
            (Some("/projects"), "/projects"),
            (
                Some("/projects/proj_1?tab=members#top"),
                "/projects/proj_1?tab=members#top",
            ),
            (Some("//evil.example"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("projects"), "/"),
            (Some("/a\r\nSet-Cookie: x=1"), "/"),
            (Some("/a b"), "/"),
            (Some(""), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_return_path(candidate), expected, "{candidate:?}");
        }
    }
}
