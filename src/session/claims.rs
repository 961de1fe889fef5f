//! The claims of a WorkOS AuthKit access token, as a serde struct.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The impersonator of an impersonated session (the `act` claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The impersonating user or admin, for example an email address.
    pub sub: String,
    /// Why the impersonation happened, when WorkOS records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `aud` claim: one audience or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Audience {
    /// A single audience string.
    One(String),
    /// A list of audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `candidate` is one of the audiences.
    pub fn contains(&self, candidate: &str) -> bool {
        match self {
            Audience::One(aud) => aud == candidate,
            Audience::Many(auds) => auds.iter().any(|aud| aud == candidate),
        }
    }
}

/// The claims of a WorkOS session token, plus whatever else the token carries.
///
/// Used both to read verified tokens (through [`Session`](super::Session)) and to mint tokens
/// with a [`TokenSigner`](super::TokenSigner). Field names are WorkOS's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user id (`user_...`).
    pub sub: String,
    /// The session id (`session_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The organization the session is scoped to (`org_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The organization-level role of the session's membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// All organization-level roles, when multiple roles are enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The permissions of the organization-level role(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// The organization's entitlements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    /// Feature flags enabled for the session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_flags: Vec<String>,
    /// Who is impersonating the user, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The organization membership id (`om_...`), added by a WorkOS JWT template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_membership_id: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, seconds since the Unix epoch. Required.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Every other claim, by name: the application's own claims.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl SessionClaims {
    /// Claims for user `sub`, issued now and valid for one hour.
    pub fn new(sub: impl Into<String>) -> Self {
        let now = crate::support::unix_now();
        SessionClaims {
            sub: sub.into(),
            sid: Some(format!("session_{}", crate::support::random_hex(12))),
            iat: Some(now),
            exp: now + 3600,
            ..SessionClaims::default()
        }
    }

    /// Sets the organization (`org_id`).
    pub fn organization(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// Sets the role (`role`).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the roles (`roles`).
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the permissions (`permissions`).
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        permissions: I,
    ) -> Self {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the entitlements (`entitlements`).
    pub fn entitlements<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        entitlements: I,
    ) -> Self {
        self.entitlements = entitlements.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the feature flags (`feature_flags`).
    pub fn feature_flags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, flags: I) -> Self {
        self.feature_flags = flags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the organization membership id (`organization_membership_id`).
    pub fn organization_membership(mut self, membership_id: impl Into<String>) -> Self {
        self.organization_membership_id = Some(membership_id.into());
        self
    }

    /// Sets the issuer (`iss`).
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Makes the token expire `ttl` after its `iat` (or after now, without `iat`).
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.exp = self.iat.unwrap_or_else(crate::support::unix_now) + ttl.as_secs();
        self
    }

    /// Adds an application claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}
