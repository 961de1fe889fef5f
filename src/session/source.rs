//! Where a request carries its token.

use std::sync::Arc;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, HeaderName};

use crate::authkit::{AuthKitCookie, FoundCookie};

/// One place a token may be read from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (scheme matched case-insensitively).
    Bearer,
    /// A cookie whose value is the raw access token.
    Cookie(String),
    /// A custom header whose whole value is the token.
    Header(HeaderName),
    /// AuthKit's sealed `wos-session` cookie, as WorkOS's JavaScript SDKs write it: the access
    /// token inside is verified like a bearer token, and the session refreshed when it
    /// expires (see [`AuthKitCookie`]).
    AuthKitCookie(Arc<AuthKitCookie>),
}

/// What looking in the request found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    Nothing,
    /// The token's bytes, not yet checked to be text: the verifier's cache compares them as
    /// they are, and a token it has not seen is parsed strictly.
    Token(&'a [u8]),
    /// An AuthKit session cookie's seal, and the source that can open it.
    Sealed {
        cookie: &'a Arc<AuthKitCookie>,
        seal: String,
    },
    /// Something is there, but no single token can be taken from it (two Authorization
    /// headers, an empty bearer value, ...): the request is refused rather than guessed at.
    Ambiguous(&'static str),
}

impl TokenSource {
    /// A cookie source.
    pub fn cookie(name: impl Into<String>) -> Self {
        TokenSource::Cookie(name.into())
    }

    /// A custom header source.
    pub fn header(name: HeaderName) -> Self {
        TokenSource::Header(name)
    }

    /// AuthKit's `wos-session` cookie.
    pub fn authkit_cookie(cookie: AuthKitCookie) -> Self {
        TokenSource::AuthKitCookie(Arc::new(cookie))
    }

    pub(crate) fn find<'a>(&'a self, headers: &'a HeaderMap) -> Found<'a> {
        match self {
            TokenSource::Bearer => bearer(headers),
            TokenSource::Cookie(name) => cookie(headers, name),
            TokenSource::Header(name) => match single_header(headers, name) {
                Ok(Some(value)) if !value.is_empty() => Found::Token(value.as_bytes()),
                Ok(Some(_)) => Found::Ambiguous("empty token header"),
                Ok(None) => Found::Nothing,
                Err(reason) => Found::Ambiguous(reason),
            },
            TokenSource::AuthKitCookie(cookie) => match cookie.find(headers) {
                FoundCookie::Absent => Found::Nothing,
                FoundCookie::Unreadable(reason) => Found::Ambiguous(reason),
                FoundCookie::Seal(seal) => Found::Sealed { cookie, seal },
            },
        }
    }
}

fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, &'static str> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("the token header appears more than once");
    }
    value
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| "the token header is not visible ASCII")
}

fn bearer(headers: &HeaderMap) -> Found<'_> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Found::Nothing;
    };
    if values.next().is_some() {
        return Found::Ambiguous("expected exactly one Authorization header");
    }
    // Read as bytes rather than through `HeaderValue::to_str`, which checks every byte of the
    // ~900-byte token one at a time on every request: the verifier's cache compares the bytes
    // with verified tokens, and a token it has not seen is parsed strictly.
    let value = value.as_bytes().trim_ascii();
    let (scheme, credentials) = match value.iter().position(|&b| b == b' ') {
        Some(space) => (&value[..space], &value[space + 1..]),
        None => (value, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // Another scheme (Basic, ...) carries no bearer token; a later source may.
        return Found::Nothing;
    }
    match credentials.trim_ascii_start() {
        b"" => Found::Ambiguous("empty bearer token"),
        token => Found::Token(token),
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Found<'a> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let Some((key, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key != name {
                continue;
            }
            if found.is_some() {
                return Found::Ambiguous("the session cookie appears more than once");
            }
            found = Some(value.trim_matches('"'));
        }
    }
    match found {
        None => Found::Nothing,
        Some("") => Found::Ambiguous("empty session cookie"),
        Some(token) => Found::Token(token.as_bytes()),
    }
}

/// The ordered list of [`TokenSource`]s tried for each request; the first that finds
/// something decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSources(Vec<TokenSource>);

impl Default for TokenSources {
    /// `Authorization: Bearer` only.
    fn default() -> Self {
        TokenSources(vec![TokenSource::Bearer])
    }
}

impl<I: IntoIterator<Item = TokenSource>> From<I> for TokenSources {
    fn from(sources: I) -> Self {
        TokenSources(sources.into_iter().collect())
    }
}

impl TokenSources {
    pub(crate) fn find<'a>(&'a self, headers: &'a HeaderMap) -> Found<'a> {
        self.0
            .iter()
            .map(|source| source.find(headers))
            .find(|found| *found != Found::Nothing)
            .unwrap_or(Found::Nothing)
    }

    /// The AuthKit cookie sources among them.
    pub(crate) fn authkit_cookies(&self) -> impl Iterator<Item = &Arc<AuthKitCookie>> {
        self.0.iter().filter_map(|source| match source {
            TokenSource::AuthKitCookie(cookie) => Some(cookie),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let map = headers(&[("authorization", &format!("{scheme} abc.def.ghi"))]);
            assert_eq!(TokenSource::Bearer.find(&map), Found::Token(b"abc.def.ghi"));
        }
    }

    #[test]
    fn two_authorization_headers_are_ambiguous() {
        let map = headers(&[
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer d.e.f"),
        ]);
        assert!(matches!(
            TokenSource::Bearer.find(&map),
            Found::Ambiguous(_)
        ));
    }

    #[test]
    fn an_empty_bearer_is_ambiguous_and_another_scheme_is_nothing() {
        assert!(matches!(
            TokenSource::Bearer.find(&headers(&[("authorization", "Bearer ")])),
            Found::Ambiguous(_)
        ));
        assert!(matches!(
            TokenSource::Bearer.find(&headers(&[("authorization", "Bearer")])),
            Found::Ambiguous(_)
        ));
        assert_eq!(
            TokenSource::Bearer.find(&headers(&[("authorization", "Basic dXNlcjpwYXNz")])),
            Found::Nothing
        );
    }

    #[test]
    fn cookie_is_found_among_others_and_duplicates_are_ambiguous() {
        let source = TokenSource::cookie("wos-access");
        let map = headers(&[("cookie", "theme=dark; wos-access=a.b.c; other=1")]);
        assert_eq!(source.find(&map), Found::Token(b"a.b.c"));
        let map = headers(&[
            ("cookie", "wos-access=a.b.c"),
            ("cookie", "wos-access=d.e.f"),
        ]);
        assert!(matches!(source.find(&map), Found::Ambiguous(_)));
        assert_eq!(
            source.find(&headers(&[("cookie", "wos-accessx=a")])),
            Found::Nothing
        );
    }

    #[test]
    fn sources_are_tried_in_order() {
        let sources = TokenSources::from([TokenSource::cookie("session"), TokenSource::Bearer]);
        let map = headers(&[
            ("authorization", "Bearer from.bearer.header"),
            ("cookie", "session=from.the.cookie"),
        ]);
        assert_eq!(sources.find(&map), Found::Token(b"from.the.cookie"));
        let map = headers(&[("authorization", "Bearer from.bearer.header")]);
        assert_eq!(sources.find(&map), Found::Token(b"from.bearer.header"));
        let custom = TokenSources::from([TokenSource::header(HeaderName::from_static(
            "x-access-token",
        ))]);
        assert_eq!(
            custom.find(&headers(&[("x-access-token", "t.o.k")])),
            Found::Token(b"t.o.k")
        );
        assert_eq!(custom.find(&headers(&[])), Found::Nothing);
    }
}
