//! The User Management API: users (create, get, list), and AuthKit's token endpoint
//! (exchanging a sign-in code, refreshing a session).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::WorkOsClient;
use super::error::WorkOsError;
use super::pagination::{Page, PageStream, Pagination};
use super::transport::{ApiRequest, segment};

/// A WorkOS user (`user_...`), as the users endpoints and the token endpoint answer it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct User {
    /// WorkOS's id (`user_...`).
    pub id: String,
    /// The user's email address.
    #[serde(default)]
    pub email: String,
    /// The first name, when known.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The last name, when known.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Whether the email address was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// A picture of the user, when known.
    #[serde(default)]
    pub profile_picture_url: Option<String>,
    /// When the user was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the user was last changed (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl User {
    /// A user with only an id and an email, the rest unknown.
    pub fn new(id: impl Into<String>, email: impl Into<String>) -> Self {
        User {
            id: id.into(),
            email: email.into(),
            first_name: None,
            last_name: None,
            email_verified: false,
            profile_picture_url: None,
            created_at: None,
            updated_at: None,
        }
    }
}

/// Who is impersonating the user, when an administrator signed in as them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Impersonator {
    /// The administrator's email address.
    pub email: String,
    /// Why, as they gave it.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A successful answer of `POST /user_management/authenticate`: a new session.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct Authentication {
    /// The signed-in user.
    pub user: User,
    /// The organization the session is scoped to, when any.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The access token (a JWT, minutes-lived).
    pub access_token: String,
    /// The refresh token (single use: each refresh answers a new one).
    pub refresh_token: String,
    /// How the user authenticated (`Password`, `GoogleOAuth`, ...), when given.
    #[serde(default)]
    pub authentication_method: Option<String>,
    /// The administrator impersonating the user, if any.
    #[serde(default)]
    pub impersonator: Option<Impersonator>,
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authentication")
            .field("user", &self.user.id)
            .field("organization_id", &self.organization_id)
            .field("authentication_method", &self.authentication_method)
            .field("impersonator", &self.impersonator)
            .finish_non_exhaustive()
    }
}

/// A new user (`POST /user_management/users`). Its `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateUser {
    /// The email address (required; unique in the environment).
    pub email: String,
    /// The first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Whether the email address is already verified (WorkOS's default: not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// A password for AuthKit's password sign-in (the emulator ignores it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUser")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("email_verified", &self.email_verified)
            .field("password", &self.password.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl CreateUser {
    /// A user with this email address.
    pub fn new(email: impl Into<String>) -> Self {
        CreateUser {
            email: email.into(),
            ..CreateUser::default()
        }
    }

    /// Sets the first name.
    pub fn first_name(mut self, first_name: impl Into<String>) -> Self {
        self.first_name = Some(first_name.into());
        self
    }

    /// Sets the last name.
    pub fn last_name(mut self, last_name: impl Into<String>) -> Self {
        self.last_name = Some(last_name.into());
        self
    }

    /// Sets whether the email address is verified.
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = Some(verified);
        self
    }

    /// Sets a password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }
}

/// Which users to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListUsers {
    /// Only the user with this email address.
    pub email: Option<String>,
    /// Only members of this organization.
    pub organization_id: Option<String>,
    /// Which page.
    pub pagination: Pagination,
}

impl ListUsers {
    fn request(&self, pagination: &Pagination) -> ApiRequest {
        let request = ApiRequest::get(USERS_PATH.to_owned())
            .query_opt("email", self.email.clone())
            .query_opt("organization_id", self.organization_id.clone());
        pagination.apply(request)
    }
}

const USERS_PATH: &str = "/user_management/users";

#[derive(Serialize)]
struct AuthenticateBody<'a> {
    grant_type: &'static str,
    client_id: &'a str,
    client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_verifier: Option<&'a str>,
}

/// Users.
impl WorkOsClient {
    /// Creates a user.
    pub async fn create_user(&self, user: &CreateUser) -> Result<User, WorkOsError> {
        let request = ApiRequest::post(USERS_PATH.to_owned()).json(user)?;
        self.send_json(request).await
    }

    /// Gets a user by id.
    pub async fn get_user(&self, user_id: &str) -> Result<User, WorkOsError> {
        self.send_json(ApiRequest::get(format!(
            "{USERS_PATH}/{}",
            segment(user_id)
        )))
        .await
    }

    /// Lists one page of users.
    pub async fn list_users(&self, options: &ListUsers) -> Result<Page<User>, WorkOsError> {
        self.send_json(options.request(&options.pagination)).await
    }

    /// Every user matching `options`, page after page.
    pub fn stream_users(&self, options: &ListUsers) -> PageStream<User> {
        let options = options.clone();
        PageStream::new(self, options.pagination.after.clone(), move |after| {
            Ok(options.request(&options.pagination.for_stream(after)))
        })
    }
}

/// AuthKit's token endpoint.
impl WorkOsClient {
    /// Refreshes a session: `POST /user_management/authenticate` with grant `refresh_token`,
    /// this client's API key as `client_secret`, and the organization to scope the new
    /// access token to (the current one, or another to switch).
    ///
    /// WorkOS answers a spent, revoked or expired refresh token with 400 `invalid_grant`
    /// (see [`WorkOsError::code`]), and a refresh the organization refuses (no membership,
    /// SSO or MFA required) with 403 and a code.
    pub async fn authenticate_with_refresh_token(
        &self,
        client_id: &str,
        refresh_token: &str,
        organization_id: Option<&str>,
    ) -> Result<Authentication, WorkOsError> {
        self.authenticate(AuthenticateBody {
            grant_type: "refresh_token",
            client_id,
            client_secret: self.api_key(),
            refresh_token: Some(refresh_token),
            organization_id,
            code: None,
            code_verifier: None,
        })
        .await
    }

    /// Exchanges the one-time `code` of a sign-in redirect for a session: `POST
    /// /user_management/authenticate` with grant `authorization_code`, with the PKCE
    /// `code_verifier` when the sign-in sent a challenge.
    pub async fn authenticate_with_code(
        &self,
        client_id: &str,
        code: &str,
        code_verifier: Option<&str>,
    ) -> Result<Authentication, WorkOsError> {
        self.authenticate(AuthenticateBody {
            grant_type: "authorization_code",
            client_id,
            client_secret: self.api_key(),
            refresh_token: None,
            organization_id: None,
            code: Some(code),
            code_verifier,
        })
        .await
    }

    async fn authenticate(
        &self,
        body: AuthenticateBody<'_>,
    ) -> Result<Authentication, WorkOsError> {
        let request = ApiRequest::post("/user_management/authenticate".to_owned()).json(&body)?;
        self.send_json(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_users_debug_never_shows_its_password() {
        let user = CreateUser::new("ada@example.com").password("hunter2-secret");
        let debug = format!("{user:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("ada@example.com"), "{debug}");
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            serde_json::json!({"email": "ada@example.com", "password": "hunter2-secret"})
        );
    }

    #[test]
    fn an_authentication_debug_never_shows_its_tokens() {
        let authentication: Authentication = serde_json::from_value(serde_json::json!({
            "user": {"object": "user", "id": "user_1", "email": "a@example.com"},
            "access_token": "eyJ.secret.access",
            "refresh_token": "refresh_secret",
        }))
        .unwrap();
        let debug = format!("{authentication:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("user_1"), "{debug}");
    }
}
