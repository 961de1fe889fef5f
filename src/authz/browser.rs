//! Requests authenticated by AuthKit's `wos-session` cookie: the seal opened, the access token
//! inside verified like a bearer token, the session refreshed when it expires, and the
//! response marked private (and given the new cookie).
//!
//! The cookie itself (its format, its attributes, the refresh call, the same-origin rule) is
//! `authkit`'s; this file is the order in which the request path uses it.

use std::sync::Arc;

use axum::response::Response;
use http::{Request, Uri};
use tower::Service;

use super::handle::{Authz, forbidden};
use super::layer::{AuthzService, admit, navigation, refusal};
use crate::authkit::{AuthKitCookie, RefreshDue, RefreshError, SessionPayload};
use crate::rejection::AuthzRejection;
use crate::response_future::{ResponseFuture, ResponsePatch};
use crate::session::{Attempt, Session, TokenError};
use crate::support::unix_now;

impl<S> AuthzService<S> {
    pub(super) fn call_with_cookie<B>(
        &mut self,
        mut request: Request<B>,
        cookie: Arc<AuthKitCookie>,
        seal: String,
    ) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
        S::Future: Send + 'static,
        B: Send + 'static,
    {
        let authz = &self.authz;
        let page = navigation(&request);
        // A browser sends the cookie with a cross-site form post too: the cookie may change
        // state only for the site that set it.
        if !cookie.allows(request.method(), request.headers()) {
            let rejection = forbidden(
                "a request that changes state with the session cookie must come from the same origin",
                None,
            );
            return ResponseFuture::reject(ResponsePatch::default().applied(refusal(
                authz,
                page.as_ref(),
                rejection,
            )));
        }
        let payload = match cookie.open(&seal) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::info!(%error, "session cookie refused");
                let rejection =
                    AuthzRejection::InvalidSession("the session cookie cannot be read".into());
                return ResponseFuture::reject(ResponsePatch::default().applied(refusal(
                    authz,
                    page.as_ref(),
                    rejection,
                )));
            }
        };
        // The common case decides without waiting: a valid token of the sealed user, not due.
        if let Attempt::Done(Ok(session)) = authz
            .verifier()
            .verify_with_loaded_keys(payload.access_token.as_bytes())
            && refresh_due(&cookie, &session) == RefreshDue::No
        {
            if session.user_id() != payload.user.id {
                return ResponseFuture::reject(user_mismatch(authz, page.as_ref(), &cookie));
            }
            admit(&mut request, authz, Some(session.with_cookie(payload)));
            return ResponseFuture::forward_patched(
                self.inner.call(request),
                ResponsePatch::default(),
            );
        }
        let authz = authz.clone();
        // The ready service goes with the decision; a clone stays for the next call.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let decision = Box::pin(async move {
            let patch = decide(&authz, &cookie, payload, &mut request, page.as_ref()).await?;
            Ok((request, Some(patch)))
        });
        ResponseFuture::decide(decision, inner)
    }
}

fn refresh_due(cookie: &AuthKitCookie, session: &Session) -> RefreshDue {
    let claims = session.claims();
    cookie.refresh_due(claims.iat, claims.exp, unix_now())
}

/// Verifies the cookie's session, refreshing it when it has expired or is about to; admits
/// the request and says what its response must carry, or refuses it.
async fn decide<B>(
    authz: &Authz,
    cookie: &AuthKitCookie,
    payload: Arc<SessionPayload>,
    request: &mut Request<B>,
    page: Option<&Uri>,
) -> Result<ResponsePatch, Response> {
    let refuse = |rejection: AuthzRejection, patch: ResponsePatch| {
        patch.applied(refusal(authz, page, rejection))
    };
    let current = match authz.verifier().verify(&payload.access_token).await {
        Ok(session) if session.user_id() != payload.user.id => {
            return Err(user_mismatch(authz, page, cookie));
        }
        Ok(session) if refresh_due(cookie, &session) == RefreshDue::No => {
            admit(request, authz, Some(session.with_cookie(payload)));
            return Ok(ResponsePatch::default());
        }
        Ok(session) => Some(session),
        Err(TokenError::Expired) if cookie.refreshes() => None,
        Err(error) => return Err(refuse(error.into(), ResponsePatch::default())),
    };
    let organization = current
        .as_ref()
        .and_then(Session::organization_id)
        .or(payload.organization_id.as_deref())
        .map(str::to_owned);
    let refreshed = match cookie.refresh(&payload, organization.as_deref()).await {
        Ok(refreshed) => refreshed,
        // An early refresh that failed leaves a token that is still valid: serve with it, and
        // the next request tries again.
        Err(error) if current.is_some() => {
            tracing::warn!(%error, "early session refresh failed; serving with the current token");
            let session = current.expect("matched above");
            admit(request, authz, Some(session.with_cookie(payload)));
            return Ok(ResponsePatch::default());
        }
        Err(RefreshError::Refused(reason)) => {
            return Err(refuse(
                AuthzRejection::InvalidSession(format!("the session has ended ({reason})")),
                ResponsePatch::setting(cookie.clear_cookie()),
            ));
        }
        Err(RefreshError::Denied { code, .. }) => {
            return Err(refuse(
                AuthzRejection::InvalidSession(format!(
                    "the session cannot continue: WorkOS requires {code}"
                )),
                ResponsePatch::setting(cookie.clear_cookie()),
            ));
        }
        // Never a sign-out on a failure that may pass: the cookie stays as it is.
        Err(error) => {
            tracing::warn!(%error, "session refresh unavailable");
            return Err(refuse(
                AuthzRejection::Unavailable("the session could not be refreshed; try again".into()),
                ResponsePatch::default(),
            ));
        }
    };
    match authz
        .verifier()
        .verify(&refreshed.payload.access_token)
        .await
    {
        Ok(session) if session.user_id() == refreshed.payload.user.id => {
            admit(request, authz, Some(session.with_cookie(refreshed.payload)));
            Ok(ResponsePatch::setting(cookie.set_cookie(&refreshed.sealed)))
        }
        Ok(_) => Err(user_mismatch(authz, page, cookie)),
        Err(TokenError::KeysUnavailable) => Err(refuse(
            TokenError::KeysUnavailable.into(),
            ResponsePatch::default(),
        )),
        Err(error) => {
            tracing::error!(%error, "a refreshed session's access token does not verify");
            Err(refuse(
                error.into(),
                ResponsePatch::setting(cookie.clear_cookie()),
            ))
        }
    }
}

/// A cookie whose sealed user is not its token's subject was not sealed by a session of that
/// user: refused, and cleared.
fn user_mismatch(authz: &Authz, page: Option<&Uri>, cookie: &AuthKitCookie) -> Response {
    let rejection = AuthzRejection::InvalidSession(
        "the session cookie's user is not its token's subject".into(),
    );
    ResponsePatch::setting(cookie.clear_cookie()).applied(refusal(authz, page, rejection))
}
