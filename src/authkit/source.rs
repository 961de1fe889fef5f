//! The `wos-session` cookie as a token source: what [`TokenSource::authkit_cookie`] reads, when
//! its session is refreshed, and which requests it may authenticate.
//!
//! [`TokenSource::authkit_cookie`]: crate::session::TokenSource::authkit_cookie

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method};

use super::cookie::{CookieConfig, CookieConfigError, CookieReadError, SealedSession, vars};
use super::iron::UnsealError;
use super::payload::SessionPayload;
use super::refresh::{DEFAULT_REPLAY_WINDOW, RefreshError, Refreshed, Refresher};
use crate::support::{SecretKey, SecretRef};
use crate::workos::WorkOsClient;

/// How early a session is refreshed: this long before its access token expires...
const REFRESH_BUFFER: Duration = Duration::from_secs(60);
/// ...or this long for access tokens that live [`SHORT_LIVED`] or less (WorkOS's own last
/// five minutes).
const SHORT_REFRESH_BUFFER: Duration = Duration::from_secs(30);
const SHORT_LIVED: Duration = Duration::from_secs(300);

/// How many unsealed cookies are kept: unsealing costs a few microseconds (two key
/// derivations, a MAC, a decryption), and a browser sends the same seal until it changes.
const UNSEALED_CAPACITY: usize = 10_000;

/// AuthKit's `wos-session` cookie as a source of session tokens, for
/// [`TokenSource::authkit_cookie`](crate::session::TokenSource::authkit_cookie).
///
/// The access token inside is verified exactly like a bearer token; the sealed user must be
/// the token's `sub`. Requests authenticated by it get `Cache-Control: private, no-store` and
/// `Vary: Cookie`; state-changing ones (POST, PUT, PATCH, DELETE) must come from the same
/// origin (`Sec-Fetch-Site`, else `Origin` against [`AuthKitCookie::allowed_origins`], else the
/// request's `Host`), since a browser sends the cookie with cross-site form posts too.
///
/// With [`AuthKitCookie::refresh_through`], a session whose access token has expired or
/// expires within 60 s (30 s for tokens that live five minutes or less) is refreshed through
/// WorkOS, once per refresh token however many requests carry it, and the response carries the
/// new cookie.
///
/// ```
/// use workos_authz::authkit::{AuthKitCookie, CookieConfig, Password};
/// use workos_authz::session::{TokenSource, TokenSources};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let password = Password::new("a password of at least thirty-two characters")?;
/// let cookie = AuthKitCookie::new(CookieConfig::new(password))
///     .allowed_origins(["https://app.example.com"]);
/// // Bearer tokens first (API clients), the browser's cookie after.
/// let sources = TokenSources::from([TokenSource::Bearer, TokenSource::authkit_cookie(cookie)]);
/// # let _ = sources; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthKitCookie {
    config: CookieConfig,
    pub(super) refresher: Option<Refresher>,
    pub(super) redirect_uri: Option<String>,
    origins: Vec<String>,
    replay_window: Duration,
    unsealed: Arc<quick_cache::sync::Cache<SecretKey, Arc<SessionPayload>>>,
}

impl fmt::Debug for AuthKitCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKitCookie")
            .field("config", &self.config)
            .field("refresher", &self.refresher)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl PartialEq for AuthKitCookie {
    /// The same source (clones of one), not merely an equal configuration.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.unsealed, &other.unsealed)
    }
}

impl Eq for AuthKitCookie {}

/// What the source found in a request.
pub(crate) enum FoundCookie {
    Absent,
    Unreadable(&'static str),
    Seal(String),
}

/// Whether a session's access token is due for a refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefreshDue {
    No,
    /// Still valid, but within the buffer: refresh, and serve with it if the refresh fails.
    Early,
}

impl AuthKitCookie {
    /// The cookie `config` describes, without refresh.
    pub fn new(config: CookieConfig) -> Self {
        AuthKitCookie {
            config,
            refresher: None,
            redirect_uri: None,
            origins: Vec::new(),
            replay_window: DEFAULT_REPLAY_WINDOW,
            unsealed: Arc::new(quick_cache::sync::Cache::new(UNSEALED_CAPACITY)),
        }
    }

    /// The cookie the `WORKOS_COOKIE_*` variables describe, read through `lookup` (see
    /// [`CookieConfig::from_lookup`]); `Ok(None)` when `WORKOS_COOKIE_PASSWORD` is not set.
    /// The origin of `WORKOS_REDIRECT_URI`, when set, is the allowed origin.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CookieConfigError> {
        if lookup(vars::PASSWORD).is_none() {
            return Ok(None);
        }
        let cookie = AuthKitCookie::new(CookieConfig::from_lookup(&lookup)?);
        Ok(Some(match lookup(vars::REDIRECT_URI) {
            Some(uri) => cookie.sign_in_at(uri),
            None => cookie,
        }))
    }

    /// Refreshes expiring sessions with `POST /user_management/authenticate` through
    /// `client` (its API key is the `client_secret`), for the AuthKit application `client_id`.
    pub fn refresh_through(mut self, client: WorkOsClient, client_id: impl Into<String>) -> Self {
        self.refresher = Some(Refresher::new(client, client_id.into(), self.replay_window));
        self
    }

    /// Signs users in with AuthKit, WorkOS sending them back to `redirect_uri` (the app's
    /// `/callback`, as registered in the WorkOS dashboard): enables
    /// [`Authz::authkit_routes`](crate::Authz::authkit_routes) (with
    /// [`AuthKitCookie::refresh_through`] for the code exchange). Its origin becomes the
    /// allowed origin unless [`AuthKitCookie::allowed_origins`] says otherwise.
    pub fn sign_in_at(mut self, redirect_uri: impl Into<String>) -> Self {
        let redirect_uri = redirect_uri.into();
        if self.origins.is_empty()
            && let Some(origin) = origin_of(&redirect_uri)
        {
            self.origins = vec![origin];
        }
        self.redirect_uri = Some(redirect_uri);
        self
    }

    /// How long a completed refresh is answered again for the same refresh token (default
    /// 30 s): a second tab, or a request already on its way with the old cookie, gets the same
    /// new session instead of an `invalid_grant`. Set it before
    /// [`AuthKitCookie::refresh_through`].
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.replay_window = window;
        self
    }

    /// The origins (`https://app.example.com`) a state-changing request may come from when the
    /// browser sends no `Sec-Fetch-Site` (default: the request's own `Host`).
    pub fn allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.origins = origins
            .into_iter()
            .map(|origin| origin.into().trim_end_matches('/').to_owned())
            .collect();
        self
    }

    /// The cookie's name, passwords and attributes.
    pub fn config(&self) -> &CookieConfig {
        &self.config
    }

    /// Where WorkOS sends users back after signing in ([`AuthKitCookie::sign_in_at`]).
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// Whether expiring sessions are refreshed.
    pub fn refreshes(&self) -> bool {
        self.refresher.is_some()
    }

    pub(crate) fn set_timeout(&self, timeout: Duration) {
        if let Some(refresher) = &self.refresher {
            refresher.set_timeout(timeout);
        }
    }

    pub(crate) fn find(&self, headers: &HeaderMap) -> FoundCookie {
        match self.config.read(headers) {
            Ok(None) => FoundCookie::Absent,
            Ok(Some(seal)) => FoundCookie::Seal(seal),
            Err(CookieReadError::Duplicate { .. }) => {
                FoundCookie::Unreadable("the session cookie appears more than once")
            }
            Err(_) => FoundCookie::Unreadable("the session cookie cannot be read"),
        }
    }

    /// The session a seal carries. Unsealed once per seal and then remembered: the seal is
    /// immutable and authenticated, so the same text always opens to the same session.
    pub(crate) fn open(&self, seal: &str) -> Result<Arc<SessionPayload>, UnsealError> {
        if let Some(payload) = self.unsealed.get(&SecretRef(seal.as_bytes())) {
            return Ok(payload);
        }
        let payload = Arc::new(self.config.unseal(seal)?);
        self.unsealed.insert(SecretKey::new(seal), payload.clone());
        Ok(payload)
    }

    /// Whether a valid access token issued at `issued_at` (if known) and expiring at
    /// `expires_at` (Unix seconds) should be refreshed at `now`.
    pub(crate) fn refresh_due(
        &self,
        issued_at: Option<u64>,
        expires_at: u64,
        now: u64,
    ) -> RefreshDue {
        if self.refresher.is_none() {
            return RefreshDue::No;
        }
        let lifetime = issued_at.map(|issued_at| expires_at.saturating_sub(issued_at));
        let buffer = match lifetime {
            Some(lifetime) if lifetime <= SHORT_LIVED.as_secs() => SHORT_REFRESH_BUFFER,
            _ => REFRESH_BUFFER,
        };
        if expires_at.saturating_sub(now) <= buffer.as_secs() {
            RefreshDue::Early
        } else {
            RefreshDue::No
        }
    }

    /// A new session for `current` in `organization_id`; an error without a refresher.
    pub(crate) async fn refresh(
        &self,
        current: &SessionPayload,
        organization_id: Option<&str>,
    ) -> Result<Refreshed, RefreshError> {
        match &self.refresher {
            Some(refresher) => {
                refresher
                    .refresh(&self.config, current, organization_id)
                    .await
            }
            None => Err(RefreshError::Refused(
                "sessions are not refreshed here: sign in again".into(),
            )),
        }
    }

    /// Whether a request authenticated by this cookie may do what its method does: reads
    /// always; changes only from the same origin.
    pub(crate) fn allows(&self, method: &Method, headers: &HeaderMap) -> bool {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return true;
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            // `none`: the user's own action (a bookmark, the address bar), never a third site.
            return matches!(site.as_bytes(), b"same-origin" | b"none");
        }
        match headers.get(ORIGIN) {
            // Browsers send Origin with every cross-origin POST, PUT, PATCH and DELETE: a
            // request with neither header is not a cross-site request from a browser.
            None => true,
            Some(origin) => self.is_allowed_origin(origin, headers.get(HOST)),
        }
    }

    fn is_allowed_origin(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if !self.origins.is_empty() {
            return self.origins.iter().any(|allowed| allowed == origin);
        }
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        match (authority, host.and_then(|host| host.to_str().ok())) {
            (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
            _ => false,
        }
    }

    /// The `Set-Cookie` value that stores `sealed`.
    pub(crate) fn set_cookie(&self, sealed: &SealedSession) -> HeaderValue {
        self.config.set_cookie(sealed)
    }

    /// The `Set-Cookie` value that deletes the cookie.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        self.config.clear_cookie()
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
pub(super) fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authkit::Password;

    fn cookie() -> AuthKitCookie {
        AuthKitCookie::new(CookieConfig::new(
            Password::new("a password of at least thirty-two characters").unwrap(),
        ))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn changes_need_the_same_origin_reads_do_not() {
        let cookie = cookie();
        let post = Method::POST;
        assert!(cookie.allows(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cookie.allows(&post, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cookie.allows(&post, &headers(&[("sec-fetch-site", "same-site")])));
        assert!(cookie.allows(&post, &headers(&[("sec-fetch-site", "same-origin")])));
        assert!(cookie.allows(&post, &headers(&[("sec-fetch-site", "none")])));
        // Without Sec-Fetch-Site: Origin against the Host (no origins configured) ...
        let same = headers(&[
            ("origin", "https://app.example.com"),
            ("host", "app.example.com"),
        ]);
        assert!(cookie.allows(&Method::DELETE, &same));
        let other = headers(&[
            ("origin", "https://evil.example"),
            ("host", "app.example.com"),
        ]);
        assert!(!cookie.allows(&Method::DELETE, &other));
        assert!(!cookie.allows(&post, &headers(&[("origin", "null"), ("host", "x")])));
        // ... or against the configured origins.
        let configured = cookie.allowed_origins(["https://app.example.com/"]);
        assert!(configured.allows(&post, &headers(&[("origin", "https://app.example.com")])));
        assert!(!configured.allows(&post, &headers(&[("origin", "http://app.example.com")])));
        // Neither header: not a browser's cross-site request.
        assert!(configured.allows(&Method::PUT, &HeaderMap::new()));
    }

    #[test]
    fn refresh_is_due_within_the_buffer_only_with_a_refresher() {
        let client = WorkOsClient::new("sk_test_refresh").unwrap();
        let cookie = cookie().refresh_through(client, "client_1");
        let now = 1_000_000;
        // A 5-minute token: 30 s buffer.
        assert_eq!(
            cookie.refresh_due(Some(now - 200), now + 100, now),
            RefreshDue::No
        );
        assert_eq!(
            cookie.refresh_due(Some(now - 270), now + 30, now),
            RefreshDue::Early
        );
        // A 1-hour token: 60 s buffer.
        assert_eq!(
            cookie.refresh_due(Some(now - 3540), now + 60, now),
            RefreshDue::Early
        );
        assert_eq!(
            cookie.refresh_due(Some(now - 3500), now + 100, now),
            RefreshDue::No
        );
        assert_eq!(cookie.refresh_due(None, now + 45, now), RefreshDue::Early);
        // Without a refresher nothing is ever due.
        assert_eq!(
            self::cookie().refresh_due(None, now + 1, now),
            RefreshDue::No
        );
    }

    #[test]
    fn the_redirect_uri_gives_the_allowed_origin() {
        assert_eq!(
            origin_of("https://app.example.com:8443/callback?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(origin_of("ftp://x/y"), None);
        assert_eq!(origin_of("https:///callback"), None);
        let cookie = AuthKitCookie::from_lookup(|name| match name {
            "WORKOS_COOKIE_PASSWORD" => Some("a password of at least thirty-two characters".into()),
            "WORKOS_REDIRECT_URI" => Some("http://localhost:3000/callback".into()),
            _ => None,
        })
        .unwrap()
        .expect("a password is set");
        assert_eq!(cookie.origins, ["http://localhost:3000"]);
        assert!(AuthKitCookie::from_lookup(|_| None).unwrap().is_none());
    }
}
