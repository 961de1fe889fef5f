//! The `wos-session` cookie: its configuration (authkit-nextjs's defaults and variable names),
//! the `Set-Cookie` values that write and clear it, and reading its value from a request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::header::{COOKIE, HeaderMap, HeaderValue};
use percent_encoding::percent_decode;

use super::iron::{Iron, Password, PasswordError, PasswordMap, SealError, Ttl, UnsealError};
use super::payload::SessionPayload;

/// The cookie's name unless configured: AuthKit's.
pub const DEFAULT_COOKIE_NAME: &str = "wos-session";

/// `Max-Age` unless configured: 400 days (34,560,000 s), the most a browser keeps a cookie. The
/// tokens inside carry the real time limits.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(400 * 24 * 3600);

/// The most a browser keeps: a cookie whose name and value together exceed this is dropped
/// (RFC 6265bis).
pub const BROWSER_COOKIE_LIMIT: usize = 4096;

/// The variables [`CookieConfig::from_lookup`] reads, authkit-nextjs's names.
pub mod vars {
    /// The password (at least 32 characters). Required.
    pub const PASSWORD: &str = "WORKOS_COOKIE_PASSWORD";
    /// The cookie's name (default `wos-session`).
    pub const NAME: &str = "WORKOS_COOKIE_NAME";
    /// `Max-Age` in seconds (default 34560000).
    pub const MAX_AGE: &str = "WORKOS_COOKIE_MAX_AGE";
    /// `Domain` (default none: the host only).
    pub const DOMAIN: &str = "WORKOS_COOKIE_DOMAIN";
    /// `SameSite`: `lax` (default), `strict` or `none` (which forces `Secure`).
    pub const SAME_SITE: &str = "WORKOS_COOKIE_SAMESITE";
    /// The sign-in redirect URI: `Secure` unless it is `http://`.
    pub const REDIRECT_URI: &str = "WORKOS_REDIRECT_URI";
}

/// The cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests or form posts.
    #[default]
    Lax,
    /// Sent only with requests from the same site.
    Strict,
    /// Sent everywhere; browsers require `Secure` with it, so it forces `Secure`.
    None,
}

impl SameSite {
    /// The attribute's value as written: `Lax`, `Strict` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

impl FromStr for SameSite {
    type Err = CookieConfigError;

    /// `lax`, `strict` or `none`, in any case (as authkit-nextjs reads them).
    fn from_str(text: &str) -> Result<SameSite, CookieConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            _ => Err(CookieConfigError::SameSite {
                value: text.to_owned(),
            }),
        }
    }
}

/// Why a cookie configuration was refused. Never shows a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// A required variable is not set.
    #[error("{variable} is not set")]
    Missing {
        /// The variable.
        variable: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("{variable}: {problem}")]
    Variable {
        /// The variable.
        variable: &'static str,
        /// What is wrong with it (never the value of a password).
        problem: String,
    },
    /// The password or password map was refused.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Not a cookie name (an HTTP token: letters, digits and ``!#$%&'*+-.^_`|~``).
    #[error("cookie name {name:?} is not an HTTP token")]
    Name {
        /// The name refused.
        name: String,
    },
    /// Not a domain (letters, digits, `-` and `.`, an optional leading `.`).
    #[error("cookie domain {domain:?} is not a domain name")]
    Domain {
        /// The domain refused.
        domain: String,
    },
    /// Not `lax`, `strict` or `none`.
    #[error("SameSite {value:?} is not lax, strict or none")]
    SameSite {
        /// The value refused.
        value: String,
    },
}

impl CookieConfigError {
    /// The environment variable the error is about.
    pub fn variable(&self) -> &'static str {
        match self {
            CookieConfigError::Missing { variable }
            | CookieConfigError::Variable { variable, .. } => variable,
            CookieConfigError::Password(_) => vars::PASSWORD,
            CookieConfigError::Name { .. } => vars::NAME,
            CookieConfigError::Domain { .. } => vars::DOMAIN,
            CookieConfigError::SameSite { .. } => vars::SAME_SITE,
        }
    }
}

/// Why the cookie could not be read from a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieReadError {
    /// The request carries the cookie more than once (say, one per `Path` or `Domain`): which
    /// one is the session is not guessed.
    #[error("the request carries the {name} cookie {count} times")]
    Duplicate {
        /// The cookie's name.
        name: String,
        /// How many times.
        count: usize,
    },
    /// The value does not percent-decode to UTF-8, so it cannot be a seal.
    #[error("the {name} cookie's value is not UTF-8 once percent-decoded")]
    NotUtf8 {
        /// The cookie's name.
        name: String,
    },
}

/// A sealed session, ready for [`CookieConfig::set_cookie`]. `Debug` hides the seal: whoever
/// holds it holds the session.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSession {
    seal: String,
    exceeds_browser_limit: bool,
}

impl SealedSession {
    /// The seal (the cookie's value).
    pub fn as_str(&self) -> &str {
        &self.seal
    }

    /// The seal, owned.
    pub fn into_string(self) -> String {
        self.seal
    }

    /// Whether the cookie's name and value together exceed [`BROWSER_COOKIE_LIMIT`], in which
    /// case browsers drop it: the caller should log a warning (the seal is still usable, for
    /// instance in a header).
    pub fn exceeds_browser_limit(&self) -> bool {
        self.exceeds_browser_limit
    }
}

impl fmt::Debug for SealedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSession")
            .field("seal", &"<redacted>")
            .field("length", &self.seal.len())
            .field("exceeds_browser_limit", &self.exceeds_browser_limit)
            .finish()
    }
}

/// The session cookie: name, passwords and attributes, with authkit-nextjs's defaults
/// (`wos-session`, `Path=/`, `HttpOnly`, `SameSite=Lax`, `Max-Age=34560000`, `Secure`).
#[derive(Clone, Debug)]
pub struct CookieConfig {
    name: String,
    iron: Iron,
    max_age: Duration,
    same_site: SameSite,
    secure: bool,
    domain: Option<String>,
}

impl CookieConfig {
    /// The defaults, sealing with `passwords`. `Secure` is on, as authkit-nextjs sets it when no
    /// redirect URI tells otherwise.
    pub fn new(passwords: impl Into<PasswordMap>) -> CookieConfig {
        CookieConfig {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            iron: Iron::new(passwords),
            max_age: DEFAULT_MAX_AGE,
            same_site: SameSite::Lax,
            secure: true,
            domain: None,
        }
    }

    /// From the process environment: [`CookieConfig::from_lookup`] over `std::env::var`.
    pub fn from_env() -> Result<CookieConfig, CookieConfigError> {
        CookieConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// From authkit-nextjs's variables, read through `lookup` (empty values count as unset, as
    /// they do there):
    ///
    /// - `WORKOS_COOKIE_PASSWORD` (required, at least 32 characters): password id `1`;
    /// - `WORKOS_COOKIE_NAME` (default `wos-session`);
    /// - `WORKOS_COOKIE_MAX_AGE` in seconds (default 34560000; `0` is refused, since the
    ///   browser would drop the cookie at once);
    /// - `WORKOS_COOKIE_DOMAIN` (default none);
    /// - `WORKOS_COOKIE_SAMESITE`: `lax` (default), `strict` or `none` (forces `Secure`);
    /// - `WORKOS_REDIRECT_URI`: an `http://` URI turns `Secure` off (local development), an
    ///   `https://` one or none leaves it on.
    ///
    /// Every refusal names its variable. authkit-nextjs falls back to the default on an
    /// unparsable `WORKOS_COOKIE_MAX_AGE` and to `Secure` on an unparsable redirect URI; both
    /// are errors here.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<CookieConfig, CookieConfigError> {
        let lookup = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let password = lookup(vars::PASSWORD).ok_or(CookieConfigError::Missing {
            variable: vars::PASSWORD,
        })?;
        let password = Password::new(password).map_err(|error| CookieConfigError::Variable {
            variable: vars::PASSWORD,
            problem: error.to_string(),
        })?;
        let mut config = CookieConfig::new(password);
        let in_variable = |variable: &'static str| {
            move |error: CookieConfigError| CookieConfigError::Variable {
                variable,
                problem: error.to_string(),
            }
        };
        if let Some(name) = lookup(vars::NAME) {
            config = config.with_name(name).map_err(in_variable(vars::NAME))?;
        }
        if let Some(max_age) = lookup(vars::MAX_AGE) {
            let seconds = max_age
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds > 0)
                .ok_or_else(|| CookieConfigError::Variable {
                    variable: vars::MAX_AGE,
                    problem: format!("{max_age:?} is not a positive number of seconds"),
                })?;
            config = config.with_max_age(Duration::from_secs(seconds));
        }
        if let Some(domain) = lookup(vars::DOMAIN) {
            config = config
                .with_domain(domain)
                .map_err(in_variable(vars::DOMAIN))?;
        }
        if let Some(same_site) = lookup(vars::SAME_SITE) {
            config =
                config.with_same_site(same_site.parse().map_err(in_variable(vars::SAME_SITE))?);
        }
        if let Some(uri) = lookup(vars::REDIRECT_URI) {
            let scheme = http::Uri::try_from(uri.as_str())
                .ok()
                .filter(|parsed| parsed.authority().is_some())
                .and_then(|parsed| parsed.scheme_str().map(str::to_ascii_lowercase));
            let secure = match scheme.as_deref() {
                Some("https") => true,
                Some("http") => false,
                _ => {
                    return Err(CookieConfigError::Variable {
                        variable: vars::REDIRECT_URI,
                        problem: format!("{uri:?} is not an http or https URL"),
                    });
                }
            };
            config = config.with_secure(secure);
        }
        Ok(config)
    }

    /// Names the cookie `name` (an HTTP token).
    pub fn with_name(mut self, name: impl Into<String>) -> Result<CookieConfig, CookieConfigError> {
        let name = name.into();
        if !is_token(&name) {
            return Err(CookieConfigError::Name { name });
        }
        self.name = name;
        Ok(self)
    }

    /// Seals with `passwords` instead (rotation: seal with the newest id, read any).
    pub fn with_passwords(mut self, passwords: impl Into<PasswordMap>) -> CookieConfig {
        self.iron = Iron::new(passwords);
        self
    }

    /// `Max-Age`, in whole seconds.
    pub fn with_max_age(mut self, max_age: Duration) -> CookieConfig {
        self.max_age = max_age;
        self
    }

    /// `SameSite`; [`SameSite::None`] forces `Secure`.
    pub fn with_same_site(mut self, same_site: SameSite) -> CookieConfig {
        self.same_site = same_site;
        self
    }

    /// `Secure` on or off (it stays on with `SameSite=None`).
    pub fn with_secure(mut self, secure: bool) -> CookieConfig {
        self.secure = secure;
        self
    }

    /// `Domain`, to share the cookie with subdomains.
    pub fn with_domain(
        mut self,
        domain: impl Into<String>,
    ) -> Result<CookieConfig, CookieConfigError> {
        let domain = domain.into();
        if !is_domain(&domain) {
            return Err(CookieConfigError::Domain { domain });
        }
        self.domain = Some(domain);
        Ok(self)
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sealer, with the configured passwords (also for the sign-in state:
    /// `iron().seal_json(&state, Ttl::SIGN_IN_STATE)`).
    pub fn iron(&self) -> &Iron {
        &self.iron
    }

    /// `Max-Age`.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// `SameSite`.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// Whether the cookie is written `Secure` (configured, or forced by `SameSite=None`).
    pub fn secure(&self) -> bool {
        self.secure || self.same_site == SameSite::None
    }

    /// `Domain`, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Seals `payload` for the cookie (no expiration inside: sessions end with their tokens).
    /// A seal over [`BROWSER_COOKIE_LIMIT`] is returned all the same and reported by
    /// [`SealedSession::exceeds_browser_limit`].
    pub fn seal(&self, payload: &SessionPayload) -> Result<SealedSession, SealError> {
        let seal = self.iron.seal_json(payload, Ttl::SESSION)?;
        let exceeds_browser_limit = self.name.len() + seal.len() > BROWSER_COOKIE_LIMIT;
        Ok(SealedSession {
            seal,
            exceeds_browser_limit,
        })
    }

    /// Unseals a cookie value into the session it carries.
    pub fn unseal(&self, seal: &str) -> Result<SessionPayload, UnsealError> {
        self.iron.unseal_json(seal)
    }

    /// The `Set-Cookie` value that stores `session`, attributes in authkit-nextjs's order:
    /// `wos-session=<seal>; Path=/; HttpOnly; SameSite=Lax; Max-Age=34560000[; Domain=...][; Secure]`.
    /// Marked sensitive, so HTTP/2 never indexes it.
    pub fn set_cookie(&self, session: &SealedSession) -> HeaderValue {
        self.render(&session.seal, self.max_age.as_secs())
    }

    /// The `Set-Cookie` value that deletes the cookie: empty, `Max-Age=0`, the same `Path` and
    /// `Domain` (a browser only replaces a cookie with the same name, path and domain).
    pub fn clear_cookie(&self) -> HeaderValue {
        self.render("", 0)
    }

    fn render(&self, value: &str, max_age: u64) -> HeaderValue {
        self.render_named(&self.name, value, max_age)
    }

    /// A `Set-Cookie` value for another cookie of this application (the sign-in state's),
    /// with this cookie's attributes but `SameSite=Lax` at least (the sign-in redirect comes
    /// back from WorkOS's site, a top-level navigation that Lax lets through and Strict would
    /// not). `name` must be a token and `value` visible ASCII without `;`.
    pub(crate) fn render_named(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let same_site = if name == self.name {
            self.same_site
        } else {
            match self.same_site {
                SameSite::Strict => SameSite::Lax,
                other => other,
            }
        };
        let mut text = format!(
            "{name}={value}; Path=/; HttpOnly; SameSite={}; Max-Age={max_age}",
            same_site.as_str()
        );
        if let Some(domain) = &self.domain {
            text.push_str("; Domain=");
            text.push_str(domain);
        }
        if self.secure() {
            text.push_str("; Secure");
        }
        // Every part is visible ASCII: the name is a token, the domain checked, the value a
        // seal (base64url, hex, digits, `*`, `~`, `.`) made by `seal`.
        let mut header = HeaderValue::try_from(text)
            .expect("a cookie of a token name, a checked domain and a seal is a valid header");
        header.set_sensitive(true);
        header
    }

    /// The cookie's value in `headers` (every `Cookie` header, as HTTP/2 may split them),
    /// percent-decoded and without surrounding quotes: `None` when absent or empty (as the JS
    /// SDKs read an empty cookie: no session), an error when it appears more than once or does
    /// not decode to UTF-8. Other cookies are not looked at beyond their names.
    pub fn read(&self, headers: &HeaderMap) -> Result<Option<String>, CookieReadError> {
        read_cookie(headers, &self.name)
    }
}

/// The value of the cookie `name` in `headers`, as [`CookieConfig::read`] reads it.
pub(crate) fn read_cookie(
    headers: &HeaderMap,
    name: &str,
) -> Result<Option<String>, CookieReadError> {
    let mut found: Option<&[u8]> = None;
    let mut count = 0;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|byte| *byte == b';') {
            let Some(equals) = pair.iter().position(|byte| *byte == b'=') else {
                continue;
            };
            if trim(&pair[..equals]) != name.as_bytes() {
                continue;
            }
            count += 1;
            found = Some(trim(&pair[equals + 1..]));
        }
    }
    if count > 1 {
        return Err(CookieReadError::Duplicate {
            name: name.to_owned(),
            count,
        });
    }
    let Some(mut value) = found else {
        return Ok(None);
    };
    if let [b'"', inner @ .., b'"'] = value {
        value = inner;
    }
    if value.is_empty() {
        return Ok(None);
    }
    percent_decode(value)
        .decode_utf8()
        .map(|decoded| Some(decoded.into_owned()))
        .map_err(|_| CookieReadError::NotUtf8 {
            name: name.to_owned(),
        })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !matches!(byte, b' ' | b'\t'))
        .map_or(start, |last| last + 1);
    &bytes[start..end.max(start)]
}

/// RFC 9110 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn is_domain(domain: &str) -> bool {
    let name = domain.strip_prefix('.').unwrap_or(domain);
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authkit::SessionUser;

    const PASSWORD: &str = "cookie-test-password-0123456789abcdef";

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn config() -> CookieConfig {
        CookieConfig::new(Password::new(PASSWORD).unwrap())
    }

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for cookie in cookies {
            map.append(COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        map
    }

    #[test]
    fn defaults_are_authkit_nextjs_defaults() {
        let config =
            CookieConfig::from_lookup(vars(&[("WORKOS_COOKIE_PASSWORD", PASSWORD)])).unwrap();
        assert_eq!(config.name(), "wos-session");
        assert_eq!(config.max_age(), Duration::from_secs(34_560_000));
        assert_eq!(config.same_site(), SameSite::Lax);
        assert!(config.secure());
        assert_eq!(config.domain(), None);
        assert_eq!(config.iron().passwords().sealing_id(), "1");
        assert_eq!(
            config.clear_cookie(),
            "wos-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }

    #[test]
    fn every_variable_is_read() {
        let config = CookieConfig::from_lookup(vars(&[
            ("WORKOS_COOKIE_PASSWORD", PASSWORD),
            ("WORKOS_COOKIE_NAME", "__app_session"),
            ("WORKOS_COOKIE_MAX_AGE", "3600"),
            ("WORKOS_COOKIE_DOMAIN", ".example.com"),
            ("WORKOS_COOKIE_SAMESITE", "Strict"),
            ("WORKOS_REDIRECT_URI", "http://localhost:3000/callback"),
        ]))
        .unwrap();
        let session = config
            .seal(&SessionPayload::new(
                "at",
                "rt",
                SessionUser::new("user_1", "a@example.com"),
            ))
            .unwrap();
        let set_cookie = config.set_cookie(&session);
        assert!(set_cookie.is_sensitive());
        assert_eq!(
            set_cookie,
            format!(
                "__app_session={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600; Domain=.example.com",
                session.as_str()
            )
            .as_str()
        );
        assert_eq!(
            config.clear_cookie(),
            "__app_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Domain=.example.com"
        );
    }

    #[test]
    fn secure_follows_the_redirect_uri_and_same_site_none_forces_it() {
        let secure = |pairs: &[(&str, &str)]| {
            let mut all = vec![("WORKOS_COOKIE_PASSWORD", PASSWORD)];
            all.extend_from_slice(pairs);
            CookieConfig::from_lookup(vars(&all)).unwrap().secure()
        };
        assert!(secure(&[(
            "WORKOS_REDIRECT_URI",
            "https://app.example.com/callback"
        )]));
        assert!(secure(&[(
            "WORKOS_REDIRECT_URI",
            "HTTPS://app.example.com/callback"
        )]));
        assert!(!secure(&[(
            "WORKOS_REDIRECT_URI",
            "http://localhost:3000/callback"
        )]));
        assert!(secure(&[
            ("WORKOS_REDIRECT_URI", "http://localhost:3000/callback"),
            ("WORKOS_COOKIE_SAMESITE", "none"),
        ]));
        assert!(secure(&[("WORKOS_REDIRECT_URI", "")]));
        let config = config().with_secure(false);
        assert!(!config.secure());
        assert!(!config.clear_cookie().to_str().unwrap().contains("Secure"));
        let config = config.with_same_site(SameSite::None);
        assert!(config.secure());
        assert!(
            config
                .clear_cookie()
                .to_str()
                .unwrap()
                .ends_with("SameSite=None; Max-Age=0; Secure")
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let error = |pairs: &[(&str, &str)]| {
            CookieConfig::from_lookup(vars(pairs))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(error(&[]), "WORKOS_COOKIE_PASSWORD is not set");
        assert_eq!(
            error(&[("WORKOS_COOKIE_PASSWORD", "")]),
            "WORKOS_COOKIE_PASSWORD is not set"
        );
        let short = error(&[("WORKOS_COOKIE_PASSWORD", "short-secret-value")]);
        assert!(short.starts_with("WORKOS_COOKIE_PASSWORD: "), "{short}");
        assert!(!short.contains("short-secret-value"), "{short}");
        for (variable, value) in [
            ("WORKOS_COOKIE_NAME", "wos session"),
            ("WORKOS_COOKIE_NAME", "wos;session"),
            ("WORKOS_COOKIE_MAX_AGE", "0"),
            ("WORKOS_COOKIE_MAX_AGE", "-1"),
            ("WORKOS_COOKIE_MAX_AGE", "1 day"),
            ("WORKOS_COOKIE_DOMAIN", "example.com; Secure"),
            ("WORKOS_COOKIE_DOMAIN", "exa mple.com"),
            ("WORKOS_COOKIE_DOMAIN", "."),
            ("WORKOS_COOKIE_SAMESITE", "relaxed"),
            ("WORKOS_REDIRECT_URI", "localhost:3000/callback"),
            ("WORKOS_REDIRECT_URI", "ftp://example.com/callback"),
            ("WORKOS_REDIRECT_URI", "/callback"),
        ] {
            let message = error(&[("WORKOS_COOKIE_PASSWORD", PASSWORD), (variable, value)]);
            assert!(
                message.starts_with(&format!("{variable}: ")),
                "{variable}={value}: {message}"
            );
        }
    }

    #[test]
    fn reads_the_value_percent_decoded_among_other_cookies() {
        let config = config();
        assert_eq!(config.read(&headers(&[])).unwrap(), None);
        assert_eq!(
            config.read(&headers(&["other=1; wos-sessionx=2"])).unwrap(),
            None
        );
        assert_eq!(
            config
                .read(&headers(&["theme=dark; wos-session=Fe26.2*1*a~2; lang=en"]))
                .unwrap()
                .as_deref(),
            Some("Fe26.2*1*a~2")
        );
        assert_eq!(
            config
                .read(&headers(&["wos-session=Fe26.2%2A1%2Aa%7E2"]))
                .unwrap()
                .as_deref(),
            Some("Fe26.2*1*a~2")
        );
        assert_eq!(
            config
                .read(&headers(&["a=1", " wos-session = \"Fe26.2*x\" "]))
                .unwrap()
                .as_deref(),
            Some("Fe26.2*x")
        );
        // An emptied cookie is no session, as the JS SDKs read it.
        assert_eq!(config.read(&headers(&["wos-session="])).unwrap(), None);
        assert_eq!(config.read(&headers(&["wos-session=\"\""])).unwrap(), None);
        // Other cookies' bytes do not matter.
        let mut map = HeaderMap::new();
        map.append(
            COOKIE,
            HeaderValue::from_bytes(b"junk=\xff\xfe; wos-session=abc").unwrap(),
        );
        assert_eq!(config.read(&map).unwrap().as_deref(), Some("abc"));
    }

    #[test]
    fn duplicates_and_undecodable_values_are_errors() {
        let config = config();
        for cookies in [
            &["wos-session=a; wos-session=b"][..],
            &["wos-session=a", "wos-session=a"][..],
        ] {
            assert_eq!(
                config.read(&headers(cookies)),
                Err(CookieReadError::Duplicate {
                    name: "wos-session".into(),
                    count: 2
                })
            );
        }
        assert!(matches!(
            config.read(&headers(&["wos-session=%ff%fe"])),
            Err(CookieReadError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn the_seal_never_shows_in_debug() {
        let config = config();
        let session = config
            .seal(&SessionPayload::new(
                "at",
                "rt",
                SessionUser::new("user_1", "a@example.com"),
            ))
            .unwrap();
        let shown = format!("{session:?} {config:?}");
        assert!(!shown.contains(session.as_str()), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!session.exceeds_browser_limit());
    }

    #[test]
    fn large_seals_are_reported_not_refused() {
        let config = config();
        let payload = SessionPayload::new(
            "a".repeat(3000),
            "rt",
            SessionUser::new("user_1", "a@example.com"),
        );
        let session = config.seal(&payload).unwrap();
        assert!(session.as_str().len() > BROWSER_COOKIE_LIMIT);
        assert!(session.exceeds_browser_limit());
        assert_eq!(config.unseal(session.as_str()).unwrap(), payload);
        assert!(config.set_cookie(&session).len() > BROWSER_COOKIE_LIMIT);
    }
}
