//! A typed client for the WorkOS REST API: the Authorization API (roles, permissions,
//! resources, role assignments, checks), users, organization memberships, organizations,
//! AuthKit's token endpoint, events, and webhook signatures.
//!
//! ```no_run
//! use std::time::Duration;
//! use workos_authz::check::ResourceRef;
//! use workos_authz::workos::{CreatePermission, CreateResource, WorkOsClient};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let workos = WorkOsClient::builder(std::env::var("WORKOS_API_KEY")?)
//!     .timeout(Duration::from_secs(5))
//!     .deadline(Duration::from_secs(20))
//!     .build()?;
//!
//! workos
//!     .create_permission(&CreatePermission::new("projects:read", "Read projects"))
//!     .await?;
//! let project = workos
//!     .create_resource(&CreateResource::new("org_123", "project", "proj_apollo", "Apollo"))
//!     .await?;
//! let allowed = workos
//!     .check("om_456", "projects:read", &ResourceRef::id(&project.id))
//!     .await?;
//! println!("allowed: {allowed}");
//! # Ok(())
//! # }
//! ```
//!
//! Every call sends `Authorization: Bearer <key>` and `Content-Type: application/json`; every
//! POST carries an `Idempotency-Key` (a random UUID v4, new per call and the same on its
//! retries), so every call may be retried without acting twice. Failed calls are retried on
//! 408, 429, 5xx and transport errors as [`RetryPolicy`] says. Errors are one type,
//! [`WorkOsError`], whose [`kind`](WorkOsError::kind) says what went wrong.
//!
//! Lists answer one [`Page`]; the `stream_*` methods walk every page (`limit=100`, following
//! `list_metadata.after`) as a [`PageStream`].
//!
//! [`WorkOsAuthorizer`] and [`WorkOsMembershipResolver`] plug the client into the
//! [`crate::check`] traits; [`webhook::verify_webhook`] checks the `WorkOS-Signature` of an
//! incoming webhook.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};

mod adapters;
mod authorization;
mod error;
mod events;
mod organizations;
mod pagination;
mod transport;
mod user_management;
pub mod webhook;

pub use adapters::{WorkOsAuthorizer, WorkOsMembershipResolver};
pub use authorization::{
    AssignRole, AssignedResource, AssignmentSource, CreatePermission, CreateResource, CreateRole,
    ListMembershipsForResource, ListPermissions, ListResources, ListResourcesForMembership,
    MembershipAssignment, Permission, RemoveRole, Resource, Role, RoleAssignment, RoleType,
    UpdatePermission, UpdateResource, UpdateRole,
};
pub use error::{ErrorKind, FieldError, WorkOsError};
pub use events::{Event, ListEvents};
pub use organizations::{
    CreateOrganization, CreateOrganizationMembership, ListOrganizationMemberships,
    MembershipStatus, Organization, OrganizationMembership, RoleRef,
};
pub use pagination::{ListMetadata, Order, Page, PageStream, Pagination};
#[cfg(feature = "fuzzing")]
pub(crate) use transport::read_answer;
pub use transport::{Jitter, RetryPolicy};
pub use user_management::{Authentication, CreateUser, Impersonator, ListUsers, User};

/// The WorkOS API's address.
pub const DEFAULT_BASE_URL: &str = "https://api.workos.com";

/// How long one attempt may take by default, like WorkOS's Node SDK.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for the WorkOS REST API.
///
/// Cheap to clone (an `Arc` inside): build it once and share it. Its `Debug` output never
/// shows the API key.
#[derive(Clone)]
pub struct WorkOsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    /// Sent as `Authorization: Bearer`, and as `client_secret` to the token endpoint.
    api_key: String,
    /// Authorization (marked sensitive), Content-Type and User-Agent, sent on every request.
    headers: HeaderMap,
    user_agent: String,
    timeout: Duration,
    retry: RetryPolicy,
}

impl WorkOsClient {
    /// A client with the default settings for this API key (`sk_...`).
    pub fn new(api_key: impl Into<String>) -> Result<Self, ClientBuildError> {
        WorkOsClient::builder(api_key).build()
    }

    /// Starts configuring a client for this API key.
    pub fn builder(api_key: impl Into<String>) -> WorkOsClientBuilder {
        WorkOsClientBuilder {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            user_agent: default_user_agent(),
            http: None,
            retry: RetryPolicy::default(),
        }
    }

    fn api_key(&self) -> &str {
        &self.inner.api_key
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The timeout of one attempt.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// An [`Authorizer`](crate::check::Authorizer) that asks this client's WorkOS.
    pub fn authorizer(&self) -> WorkOsAuthorizer {
        WorkOsAuthorizer::new(self.clone())
    }

    /// A [`MembershipResolver`](crate::check::MembershipResolver) that asks this client's
    /// WorkOS.
    pub fn membership_resolver(&self) -> WorkOsMembershipResolver {
        WorkOsMembershipResolver::new(self.clone())
    }
}

impl fmt::Debug for WorkOsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkOsClient")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"[redacted]")
            .field("user_agent", &self.inner.user_agent)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

fn default_user_agent() -> String {
    format!("workos-authz/{}", env!("CARGO_PKG_VERSION"))
}

/// Configures a [`WorkOsClient`]; made by [`WorkOsClient::builder`].
pub struct WorkOsClientBuilder {
    api_key: String,
    base_url: String,
    timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
}

impl WorkOsClientBuilder {
    /// Where the API is (default [`DEFAULT_BASE_URL`]); a path prefix is kept.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// How long one attempt may take, answer body included (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `workos-authz/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends requests through this client (for its proxy, TLS or pool settings) instead of a
    /// new one. The per-attempt timeout and the headers above still apply.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Replaces the whole retry policy.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Retries after the first attempt (default 3; 0 disables retrying).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.retry.max_retries = max_retries;
        self
    }

    /// The budget of a whole call, attempts and waits included (default none).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.retry.deadline = Some(deadline);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<WorkOsClient, ClientBuildError> {
        if self.api_key.trim().is_empty() {
            return Err(ClientBuildError::MissingApiKey);
        }
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|error| ClientBuildError::InvalidBaseUrl(error.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(ClientBuildError::InvalidBaseUrl(
                "expected an http(s) URL without query or fragment".to_owned(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(ClientBuildError::InvalidTimeout);
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", self.api_key))
            .map_err(|_| ClientBuildError::InvalidApiKey)?;
        authorization.set_sensitive(true);
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| ClientBuildError::InvalidUserAgent)?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, user_agent);
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .build()
                .map_err(|error| ClientBuildError::Http(error.to_string()))?,
        };
        Ok(WorkOsClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key: self.api_key,
                headers,
                user_agent: self.user_agent,
                timeout: self.timeout,
                retry: self.retry,
            }),
        })
    }
}

impl fmt::Debug for WorkOsClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkOsClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("user_agent", &self.user_agent)
            .field("timeout", &self.timeout)
            .field("http_client", &self.http.is_some())
            .field("retry", &self.retry)
            .finish()
    }
}

/// Why [`WorkOsClientBuilder::build`] refused the settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The API key is empty.
    #[error("the WorkOS API key is empty")]
    MissingApiKey,
    /// The API key cannot travel in an HTTP header (control characters, non-ASCII).
    #[error("the WorkOS API key contains characters not allowed in an HTTP header")]
    InvalidApiKey,
    /// The base URL is not an http(s) URL.
    #[error("invalid WorkOS base URL: {0}")]
    InvalidBaseUrl(String),
    /// The user agent cannot travel in an HTTP header.
    #[error("the user agent contains characters not allowed in an HTTP header")]
    InvalidUserAgent,
    /// The timeout is zero.
    #[error("the timeout must be longer than zero")]
    InvalidTimeout,
    /// reqwest could not build its client (TLS setup).
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_api_key() {
        let builder = WorkOsClient::builder("sk_test_secret_123");
        assert!(!format!("{builder:?}").contains("secret"));
        let client = builder.build().expect("valid settings");
        let debug = format!("{client:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn build_rejects_bad_settings() {
        assert_eq!(
            WorkOsClient::builder("").build().err(),
            Some(ClientBuildError::MissingApiKey)
        );
        assert_eq!(
            WorkOsClient::builder("sk_\nx").build().err(),
            Some(ClientBuildError::InvalidApiKey)
        );
        assert!(matches!(
            WorkOsClient::builder("sk_x").base_url("ftp://x").build(),
            Err(ClientBuildError::InvalidBaseUrl(_))
        ));
        assert_eq!(
            WorkOsClient::builder("sk_x")
                .timeout(Duration::ZERO)
                .build()
                .err(),
            Some(ClientBuildError::InvalidTimeout)
        );
    }

    #[test]
    fn defaults_follow_the_node_sdk() {
        let client = WorkOsClient::builder("sk_x")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .expect("valid settings");
        assert_eq!(client.base_url(), "http://127.0.0.1:9/prefix");
        assert_eq!(client.timeout(), Duration::from_secs(60));
        assert_eq!(client.retry_policy().max_retries, 3);
    }
}
