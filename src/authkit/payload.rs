//! What the `wos-session` cookie seals, as the JS SDKs write it: camelCase JSON with the tokens,
//! the user and, when present, the impersonator and the organization.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The sealed session: the tokens, the user, and when present the impersonator and the
/// organization. Fields the JS SDKs add beyond these (`authenticationMethod`, or a whole
/// authenticate response in some versions) are ignored on read and never written, since a
/// browser drops a cookie over 4,096 bytes.
///
/// `Debug` shows neither token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionPayload {
    /// The access token (a JWT), verified like a bearer token before it is trusted.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// The user, as WorkOS returned it at sign-in or refresh.
    pub user: SessionUser,
    /// Who is impersonating the user, when someone is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator: Option<Impersonator>,
    /// The organization the session is in (the access token's `org_id`), when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
}

impl SessionPayload {
    /// A session for `user`, outside any organization and not impersonated.
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: impl Into<String>,
        user: SessionUser,
    ) -> SessionPayload {
        SessionPayload {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            user,
            impersonator: None,
            organization_id: None,
        }
    }

    /// In `organization_id`.
    pub fn with_organization(mut self, organization_id: impl Into<String>) -> SessionPayload {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// Impersonated by `impersonator`.
    pub fn with_impersonator(mut self, impersonator: Impersonator) -> SessionPayload {
        self.impersonator = Some(impersonator);
        self
    }
}

impl fmt::Debug for SessionPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPayload")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("user", &self.user)
            .field("impersonator", &self.impersonator)
            .field("organization_id", &self.organization_id)
            .finish()
    }
}

/// The user, with the fields and names of @workos-inc/node's `User` (dates as ISO 8601 text),
/// so a JavaScript reader of a cookie sealed here finds the shape it expects.
///
/// Read leniently: only `id` and `email` are required; a missing `object` reads as `user`,
/// missing names, dates and ids as empty, a missing or null `metadata` as empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionUser {
    /// Always `user`.
    #[serde(default = "user_object")]
    pub object: String,
    /// The user's id (`user_...`); must equal the access token's `sub`.
    pub id: String,
    /// The user's email address.
    pub email: String,
    /// The first name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Whether WorkOS verified the email address.
    #[serde(default)]
    pub email_verified: bool,
    /// The profile picture's URL.
    #[serde(default)]
    pub profile_picture_url: Option<String>,
    /// When the user was created (ISO 8601).
    #[serde(default)]
    pub created_at: String,
    /// When the user was last updated (ISO 8601).
    #[serde(default)]
    pub updated_at: String,
    /// The full name.
    #[serde(default)]
    pub name: Option<String>,
    /// When the user last signed in (ISO 8601).
    #[serde(default)]
    pub last_sign_in_at: Option<String>,
    /// The preferred locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// The application's own id for the user.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The user's metadata (WorkOS keeps string values; any JSON is read).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl SessionUser {
    /// A user with only an id and an email; fill the other fields from WorkOS's user.
    pub fn new(id: impl Into<String>, email: impl Into<String>) -> SessionUser {
        SessionUser {
            object: user_object(),
            id: id.into(),
            email: email.into(),
            first_name: None,
            last_name: None,
            email_verified: false,
            profile_picture_url: None,
            created_at: String::new(),
            updated_at: String::new(),
            name: None,
            last_sign_in_at: None,
            locale: None,
            external_id: None,
            metadata: serde_json::Map::new(),
        }
    }
}

fn user_object() -> String {
    "user".to_owned()
}

fn null_as_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

/// Who impersonates the user (a WorkOS dashboard admin), as sealed by the JS SDKs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Impersonator {
    /// The impersonator's email address.
    pub email: String,
    /// The reason they gave.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Impersonator {
    /// An impersonator with a reason, or none.
    pub fn new(email: impl Into<String>, reason: Option<String>) -> Impersonator {
        Impersonator {
            email: email.into(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_js_shape_ignoring_unknown_fields() {
        let payload: SessionPayload = serde_json::from_value(json!({
            "accessToken": "at", "refreshToken": "rt",
            "authenticationMethod": "GoogleOAuth", "oauthTokens": {"x": 1},
            "user": {"id": "user_1", "email": "a@example.com", "metadata": null, "extra": true},
            "impersonator": null, "organizationId": "org_1"
        }))
        .unwrap();
        assert_eq!(payload.user.object, "user");
        assert!(payload.user.metadata.is_empty());
        assert_eq!(payload.impersonator, None);
        assert_eq!(payload.organization_id.as_deref(), Some("org_1"));
        for missing in ["accessToken", "refreshToken", "user"] {
            let mut value = json!({"accessToken": "at", "refreshToken": "rt",
                "user": {"id": "user_1", "email": "a@example.com"}});
            value.as_object_mut().unwrap().remove(missing);
            assert!(
                serde_json::from_value::<SessionPayload>(value).is_err(),
                "{missing}"
            );
        }
    }

    #[test]
    fn writes_only_the_known_fields_in_camel_case() {
        let payload = SessionPayload::new("at", "rt", SessionUser::new("user_1", "a@example.com"));
        let written = serde_json::to_value(&payload).unwrap();
        assert_eq!(
            written,
            json!({"accessToken": "at", "refreshToken": "rt", "user": {
                "object": "user", "id": "user_1", "email": "a@example.com",
                "firstName": null, "lastName": null, "emailVerified": false,
                "profilePictureUrl": null, "createdAt": "", "updatedAt": "", "name": null,
                "lastSignInAt": null, "locale": null, "externalId": null, "metadata": {}}})
        );
        let full = payload
            .with_organization("org_1")
            .with_impersonator(Impersonator::new("admin@example.com", None));
        let written = serde_json::to_value(&full).unwrap();
        assert_eq!(written["organizationId"], "org_1");
        assert_eq!(
            written["impersonator"],
            json!({"email": "admin@example.com", "reason": null})
        );
    }

    #[test]
    fn debug_hides_the_tokens() {
        let payload = SessionPayload::new(
            "access-token-secret",
            "refresh-token-secret",
            SessionUser::new("user_1", "a@example.com"),
        );
        let shown = format!("{payload:?} {payload:#?}");
        assert!(!shown.contains("token-secret"), "{shown}");
        assert!(shown.contains("user_1"));
    }
}
