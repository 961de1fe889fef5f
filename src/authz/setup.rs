//! Setting an [`Authz`] up for an authority: WorkOS from the environment, or the embedded
//! engine. The only file of `authz` that names the WorkOS client or the local engine.

use std::fmt;
use std::sync::Arc;

use super::builder::{AuthzBuilder, ConfigError};
use super::handle::Authz;
use crate::authkit::AuthKitCookie;
use crate::local::LocalEngine;
use crate::session::{SessionVerifier, TokenSigner, TokenSource};
use crate::workos::{DEFAULT_BASE_URL, WorkOsClient};

/// Which authority an [`Authz`] was built for.
#[derive(Clone)]
#[non_exhaustive]
pub enum Mode {
    /// Local development and tests: tokens are signed by an in-memory key and resource checks
    /// are answered by the embedded engine.
    Embedded {
        /// The key that signs this setup's tokens.
        signer: Arc<TokenSigner>,
        /// The engine resource-scoped guards ask.
        engine: LocalEngine,
    },
    /// WorkOS: tokens are verified against the environment's JWKS.
    WorkOs {
        /// The WorkOS client id (`client_...`).
        client_id: String,
        /// The WorkOS API base URL, without a trailing slash.
        base_url: String,
        /// The client resource checks and membership lookups go through, when
        /// `WORKOS_API_KEY` is set. It never shows its key.
        client: Option<WorkOsClient>,
    },
    /// Configured by hand with [`Authz::builder`].
    Custom,
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Embedded { signer, .. } => f
                .debug_struct("Embedded")
                .field("kid", &signer.kid())
                .finish(),
            Mode::WorkOs {
                client_id,
                base_url,
                client,
            } => f
                .debug_struct("WorkOs")
                .field("client_id", client_id)
                .field("base_url", base_url)
                .field("client", client)
                .finish(),
            Mode::Custom => f.write_str("Custom"),
        }
    }
}

impl Authz {
    /// Builds the setup the environment describes.
    ///
    /// - `WORKOS_CLIENT_ID` set: WorkOS mode. Tokens are verified against
    ///   `{WORKOS_BASE_URL}/sso/jwks/{WORKOS_CLIENT_ID}` (base default
    ///   `https://api.workos.com`); the issuer must be `{base}`, `{base}/` or
    ///   `{base}/user_management/{client_id}` unless `WORKOS_ISSUER` names the only one accepted.
    ///   `WORKOS_API_KEY` is kept for resource checks.
    /// - none of `WORKOS_CLIENT_ID`, `WORKOS_API_KEY`, `WORKOS_BASE_URL` set: [`Authz::embedded`].
    /// - `WORKOS_API_KEY` or `WORKOS_BASE_URL` without `WORKOS_CLIENT_ID`: an error naming it,
    ///   rather than silently running without WorkOS.
    pub fn from_env() -> Result<Authz, ConfigError> {
        Authz::from_lookup(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// [`Authz::from_env`] with the variables read from `lookup` instead of the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Authz, ConfigError> {
        let Some(client_id) = lookup("WORKOS_CLIENT_ID") else {
            for variable in ["WORKOS_API_KEY", "WORKOS_BASE_URL", "WORKOS_ISSUER"] {
                if lookup(variable).is_some() {
                    return Err(ConfigError::environment(
                        variable,
                        "set without WORKOS_CLIENT_ID; set both, or neither for the embedded setup",
                    ));
                }
            }
            let engine = LocalEngine::new();
            return match authkit_cookie(&lookup)? {
                None => Authz::embedded_with(engine),
                Some(cookie) => Authz::embedded_setup(engine, Some(cookie)),
            };
        };
        let base_url = lookup("WORKOS_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::environment(
                "WORKOS_BASE_URL",
                format!("{base_url:?} is not an http(s) URL"),
            ));
        }
        let base = base_url.trim_end_matches('/').to_owned();
        let issuers = match lookup("WORKOS_ISSUER") {
            Some(issuer) => vec![issuer],
            None => workos_issuers(&base, &client_id),
        };
        let verifier = SessionVerifier::builder()
            .workos_jwks(&base, &client_id)
            .issuers(issuers)
            .build()?;
        let mut builder = Authz::builder().verifier(verifier);
        let client = match lookup("WORKOS_API_KEY") {
            None => None,
            Some(api_key) => {
                let client = WorkOsClient::builder(api_key)
                    .base_url(base.clone())
                    .build()
                    .map_err(|error| ConfigError::Environment {
                        variable: "WORKOS_API_KEY",
                        problem: "the WorkOS client could not be built".into(),
                        source: Some(Box::new(error)),
                    })?;
                builder = builder.workos(&client);
                Some(client)
            }
        };
        if let Some(mut cookie) = authkit_cookie(&lookup)? {
            if let Some(client) = &client {
                cookie = cookie.refresh_through(client.clone(), client_id.clone());
            }
            builder =
                builder.token_sources([TokenSource::Bearer, TokenSource::authkit_cookie(cookie)]);
        }
        builder.build_with_mode(Mode::WorkOs {
            client_id,
            base_url: base,
            client,
        })
    }

    /// The embedded setup: a fresh in-memory RSA key signs tokens ([`Authz::signer`]), the
    /// verifier trusts exactly that key, and a new, empty [`LocalEngine`] answers resource
    /// checks ([`Authz::local_engine`]: load a policy into it or build the model by hand).
    pub fn embedded() -> Result<Authz, ConfigError> {
        Authz::embedded_with(LocalEngine::new())
    }

    /// [`Authz::embedded`] over an engine of the caller's.
    pub fn embedded_with(engine: LocalEngine) -> Result<Authz, ConfigError> {
        Authz::embedded_setup(engine, None)
    }

    /// [`Authz::embedded_with`], reading sessions from AuthKit's cookie too (after bearer
    /// tokens): seal a session with [`AuthKitCookie::config`] and the embedded signer's token,
    /// and the request carrying it is authenticated like one with the token.
    pub fn embedded_with_cookie(
        engine: LocalEngine,
        cookie: AuthKitCookie,
    ) -> Result<Authz, ConfigError> {
        Authz::embedded_setup(engine, Some(cookie))
    }

    fn embedded_setup(
        engine: LocalEngine,
        cookie: Option<AuthKitCookie>,
    ) -> Result<Authz, ConfigError> {
        let signer = Arc::new(TokenSigner::generate()?);
        let verifier = SessionVerifier::builder()
            .jwks_document(signer.jwks().to_string().as_bytes())?
            .build()?;
        let mut builder = Authz::builder().verifier(verifier).local(engine.clone());
        if let Some(cookie) = cookie {
            builder =
                builder.token_sources([TokenSource::Bearer, TokenSource::authkit_cookie(cookie)]);
        }
        builder.build_with_mode(Mode::Embedded { signer, engine })
    }

    /// The signing key of the embedded setup (`None` on WorkOS).
    pub fn signer(&self) -> Option<&TokenSigner> {
        match self.mode() {
            Mode::Embedded { signer, .. } => Some(signer),
            _ => None,
        }
    }

    /// The engine of the embedded setup (`None` on WorkOS).
    pub fn local_engine(&self) -> Option<&LocalEngine> {
        match self.mode() {
            Mode::Embedded { engine, .. } => Some(engine),
            _ => None,
        }
    }

    /// The WorkOS client of WorkOS mode, when `WORKOS_API_KEY` is set.
    pub fn workos_client(&self) -> Option<&WorkOsClient> {
        match self.mode() {
            Mode::WorkOs { client, .. } => client.as_ref(),
            _ => None,
        }
    }
}

impl AuthzBuilder {
    /// The embedded engine answers resource checks and finds memberships.
    pub fn local(self, engine: LocalEngine) -> Self {
        self.authorizer(engine.clone()).membership_resolver(engine)
    }

    /// WorkOS answers resource checks (`POST .../check`) and finds memberships
    /// (`GET /user_management/organization_memberships`) through `client`.
    pub fn workos(self, client: &WorkOsClient) -> Self {
        self.authorizer(client.authorizer())
            .membership_resolver(client.membership_resolver())
    }
}

/// The cookie source `WORKOS_COOKIE_*` describe, when `WORKOS_COOKIE_PASSWORD` is set.
fn authkit_cookie(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<AuthKitCookie>, ConfigError> {
    AuthKitCookie::from_lookup(lookup).map_err(|error| ConfigError::Environment {
        variable: error.variable(),
        problem: error.to_string(),
        source: Some(Box::new(error)),
    })
}

/// The issuers WorkOS has been seen to use for one environment.
fn workos_issuers(base: &str, client_id: &str) -> Vec<String> {
    vec![
        base.to_owned(),
        format!("{base}/"),
        format!("{base}/user_management/{client_id}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_variables_build_the_embedded_setup() {
        let authz = Authz::from_lookup(vars(&[])).unwrap();
        assert!(matches!(authz.mode(), Mode::Embedded { .. }));
        assert!(authz.signer().is_some());
    }

    #[test]
    fn a_client_id_builds_workos_mode_with_the_three_issuers() {
        let authz = Authz::from_lookup(vars(&[
            ("WORKOS_CLIENT_ID", "client_1"),
            ("WORKOS_API_KEY", "sk_test_secret"),
        ]))
        .unwrap();
        let Mode::WorkOs {
            client_id,
            base_url,
            client,
        } = authz.mode()
        else {
            panic!("not WorkOS mode")
        };
        assert_eq!(
            (client_id.as_str(), base_url.as_str()),
            ("client_1", DEFAULT_BASE_URL)
        );
        assert_eq!(
            client.as_ref().map(WorkOsClient::base_url),
            Some(DEFAULT_BASE_URL)
        );
        assert!(authz.workos_client().is_some());
        let debug = format!("{authz:?}");
        assert!(!debug.contains("sk_test_secret"), "{debug}");
        assert!(
            debug.contains("https://api.workos.com/sso/jwks/client_1"),
            "{debug}"
        );
        assert_eq!(
            workos_issuers("https://api.workos.com", "client_1"),
            [
                "https://api.workos.com",
                "https://api.workos.com/",
                "https://api.workos.com/user_management/client_1"
            ]
        );
    }

    #[test]
    fn an_api_key_without_client_id_is_an_error_naming_it() {
        let error = Authz::from_lookup(vars(&[("WORKOS_API_KEY", "sk_x")])).unwrap_err();
        assert!(error.to_string().starts_with("WORKOS_API_KEY:"), "{error}");
        let error = Authz::from_lookup(vars(&[
            ("WORKOS_CLIENT_ID", "c"),
            ("WORKOS_BASE_URL", "ftp://x"),
        ]))
        .unwrap_err();
        assert!(error.to_string().starts_with("WORKOS_BASE_URL:"), "{error}");
    }
}
