//! The HTTP side of the WorkOS API: error bodies, extractors that answer in JSON, list
//! pagination and the JSON shape of each object.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::check::ResourceRef;
use crate::local::{
    EngineError, Membership, Organization, Permission, Resource, Role, RoleAssignment, RoleType,
    User,
};

/// A WorkOS error response: `{ "message", "code", "errors": [{ "field", "code" }] }`, with
/// `errors` only when some field is at fault.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    code: &'static str,
    errors: Vec<(String, &'static str)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            code,
            errors: Vec::new(),
        }
    }

    /// 422 about one field.
    pub(crate) fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            errors: vec![(field.to_owned(), code)],
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized: send an API key as 'Authorization: Bearer sk_...'",
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let message = error.to_string();
        let code = error.code();
        match error {
            EngineError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            EngineError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, code, message),
            EngineError::Validation { field, .. } => ApiError::invalid(&field, code, message),
            EngineError::Policy { entry, .. } => ApiError::invalid(&entry, code, message),
            EngineError::Parse { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            // The store's and the files' own messages (paths included) go to the log, not to
            // the client: a 503 that says nothing changed is all it needs, and retrying is safe.
            EngineError::Io { .. } | EngineError::Storage { .. } => {
                // The engine has logged a failed commit already; a file error it has not.
                if matches!(error, EngineError::Io { .. }) {
                    tracing::error!(error = %message, "the emulator's state could not be written");
                }
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "the change could not be saved and was not made; try again",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    /// `errors` only when there are field errors, as WorkOS does: the Node SDK replaces the
    /// message of a 422 with the list of `errors` codes whenever `errors` is present, so an
    /// empty list would leave the caller with no explanation at all.
    fn into_response(self) -> Response {
        let mut body = json!({ "message": self.message, "code": self.code });
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|(field, code)| json!({ "field": field, "code": code }))
                .collect();
            body["errors"] = Value::Array(errors);
        }
        (self.status, Json(body)).into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON success response.
pub(crate) fn ok(body: Value) -> ApiResult {
    Ok(Json(body).into_response())
}

/// 201 with the created object.
pub(crate) fn created(body: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// 204, what WorkOS answers to deletes.
pub(crate) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A JSON request body; an empty body reads as `{}` (SDKs send DELETE and POST without one).
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
            })?;
        parse_body(&bytes).map(Body)
    }
}

/// The largest request body the API reads; WorkOS's largest (a role's whole permission list)
/// is a few kilobytes.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// How much of a JSON parser's message an error repeats: serde quotes the offending value,
/// which may be huge.
const PARSE_MESSAGE_MAX: usize = 160;

/// 413, for a body over [`MAX_BODY_BYTES`].
pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// A JSON body; an empty one reads as `{}` (SDKs send DELETE and POST without one).
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(text).map_err(|e| {
        let mut message = e.to_string();
        if message.len() > PARSE_MESSAGE_MAX {
            let mut cut = PARSE_MESSAGE_MAX;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_parameters",
            format!("the request body is not valid: {message}"),
        )
    })
}

/// Query parameters by name (the last value wins).
pub(crate) struct Params(pub(crate) HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
            })?;
        Ok(Params(pairs.into_iter().collect()))
    }
}

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid(name, "required", format!("{name} is required")))
    }
}

/// Path parameters, percent-decoded (`docs%3Aread` and `docs:read` are the same slug).
pub(crate) struct Segments<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Segments(value))
            .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found", e.body_text()))
    }
}

/// A required string field of a request body.
pub(crate) fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(field, "required", format!("{field} is required")))
}

/// A resource named by id, or by external id and type, from two optional body or query fields.
pub(crate) fn resource_ref(
    id: Option<&str>,
    external_id: Option<&str>,
    type_slug: Option<&str>,
    (id_field, external_field, type_field): (&str, &str, &str),
) -> Result<Option<ResourceRef>, ApiError> {
    match (id, external_id, type_slug) {
        (Some(id), None, None) => Ok(Some(ResourceRef::id(id))),
        (None, Some(external_id), Some(type_slug)) => {
            Ok(Some(ResourceRef::external(type_slug, external_id)))
        }
        (None, None, None) => Ok(None),
        (Some(_), _, _) => Err(ApiError::invalid(
            id_field,
            "ambiguous_resource",
            format!("give {id_field}, or {external_field} and {type_field}, not both"),
        )),
        (None, Some(_), None) => Err(ApiError::invalid(
            type_field,
            "required",
            format!("{type_field} is required with {external_field}"),
        )),
        (None, None, Some(_)) => Err(ApiError::invalid(
            external_field,
            "required",
            format!("{external_field} is required with {type_field}"),
        )),
    }
}

/// `limit`, `before`, `after` and `order` of a list request.
pub(crate) struct Page {
    limit: usize,
    before: Option<String>,
    after: Option<String>,
    ascending: bool,
}

impl Page {
    pub(crate) fn from_params(params: &Params) -> Result<Self, ApiError> {
        let limit = match params.get("limit") {
            None => 10,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=100).contains(limit))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "limit",
                        "invalid_limit",
                        format!("limit must be a number from 1 to 100, not {text:?}"),
                    )
                })?,
        };
        let ascending = match params.get("order") {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "order",
                    "invalid_order",
                    format!("order must be 'asc' or 'desc', not {other:?}"),
                ));
            }
        };
        Ok(Page {
            limit,
            before: params.get("before").map(str::to_owned),
            after: params.get("after").map(str::to_owned),
            ascending,
        })
    }

    /// One page of `items` (given in creation order) as a WorkOS list. Cursors are item ids:
    /// `after` starts just past its item, `before` ends just before its item.
    pub(crate) fn list<T>(
        &self,
        mut items: Vec<T>,
        id: impl Fn(&T) -> &str,
        to_json: impl Fn(&T) -> Value,
    ) -> ApiResult {
        if !self.ascending {
            items.reverse();
        }
        let position = |cursor: &str, field: &str| {
            items
                .iter()
                .position(|item| id(item) == cursor)
                .ok_or_else(|| {
                    ApiError::invalid(
                        field,
                        "invalid_cursor",
                        format!("{field} cursor {cursor} names no item of this list"),
                    )
                })
        };
        let (start, end) = match (&self.after, &self.before) {
            (Some(after), _) => {
                let start = position(after, "after")? + 1;
                (start, (start + self.limit).min(items.len()))
            }
            (None, Some(before)) => {
                let end = position(before, "before")?;
                (end.saturating_sub(self.limit), end)
            }
            (None, None) => (0, self.limit.min(items.len())),
        };
        let window = &items[start..end];
        let before = (start > 0).then(|| window.first().map(|item| id(item).to_owned()));
        let after = (end < items.len()).then(|| window.last().map(|item| id(item).to_owned()));
        ok(json!({
            "object": "list",
            "data": window.iter().map(to_json).collect::<Vec<_>>(),
            "list_metadata": { "before": before.flatten(), "after": after.flatten() },
        }))
    }
}

/// A role list: WorkOS does not paginate roles.
pub(crate) fn role_list(roles: &[Role]) -> ApiResult {
    ok(json!({ "object": "list", "data": roles.iter().map(role_json).collect::<Vec<_>>() }))
}

pub(crate) fn role_json(role: &Role) -> Value {
    json!({
        "object": "role",
        "id": role.id,
        "slug": role.slug,
        "name": role.name,
        "description": role.description,
        "permissions": role.permissions,
        "resource_type_slug": role.resource_type_slug,
        "type": match role.role_type {
            RoleType::EnvironmentRole => "EnvironmentRole",
            RoleType::OrganizationRole => "OrganizationRole",
        },
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    })
}

pub(crate) fn permission_json(permission: &Permission) -> Value {
    json!({
        "object": "permission",
        "id": permission.id,
        "slug": permission.slug,
        "name": permission.name,
        "description": permission.description,
        "resource_type_slug": permission.resource_type_slug,
        "system": false,
        "created_at": permission.created_at,
        "updated_at": permission.updated_at,
    })
}

pub(crate) fn resource_json(resource: &Resource) -> Value {
    json!({
        "object": "authorization_resource",
        "id": resource.id,
        "external_id": resource.external_id,
        "name": resource.name,
        "description": resource.description,
        "resource_type_slug": resource.resource_type_slug,
        "organization_id": resource.organization_id,
        "parent_resource_id": resource.parent_resource_id,
        "created_at": resource.created_at,
        "updated_at": resource.updated_at,
    })
}

pub(crate) fn assignment_json(assignment: &RoleAssignment) -> Value {
    json!({
        "object": "role_assignment",
        "id": assignment.id,
        "organization_membership_id": assignment.organization_membership_id,
        "role": { "slug": assignment.role_slug },
        "resource": {
            "id": assignment.resource_id,
            "external_id": assignment.resource_external_id,
            "resource_type_slug": assignment.resource_type_slug,
        },
        "source": { "type": "direct", "group_role_assignment_id": null },
        "created_at": assignment.created_at,
        "updated_at": assignment.updated_at,
    })
}

pub(crate) fn organization_json(organization: &Organization) -> Value {
    json!({
        "object": "organization",
        "id": organization.id,
        "name": organization.name,
        "domains": [],
        "allow_profiles_outside_organization": false,
        "external_id": null,
        "metadata": {},
        "created_at": organization.created_at,
        "updated_at": organization.updated_at,
    })
}

/// An `organization_membership`; the Node SDK reads `organization_name` into
/// `organizationName`.
pub(crate) fn membership_json(membership: &Membership, organization_name: &str) -> Value {
    json!({
        "object": "organization_membership",
        "id": membership.id,
        "user_id": membership.user_id,
        "organization_id": membership.organization_id,
        "organization_name": organization_name,
        "status": membership.status.as_str(),
        "role": { "slug": membership.role_slugs.first() },
        "roles": membership
            .role_slugs
            .iter()
            .map(|slug| json!({ "slug": slug }))
            .collect::<Vec<_>>(),
        "created_at": membership.created_at,
        "updated_at": membership.updated_at,
    })
}

/// A `user`, as the User Management API shows it. The emulator keeps no pictures, sign-in
/// times, external ids or metadata: those are `null` (and `{}`).
pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "object": "user",
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": user.email_verified,
        "profile_picture_url": null,
        "last_sign_in_at": null,
        "external_id": null,
        "metadata": {},
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

/// Where a request reached the emulator: `http://{Host}{prefix}`, the prefix being the path
/// an application nested the emulator's router under (`/workos`), or the configured base URL.
/// The `iss` of the tokens it mints and the root of the URLs it renders.
#[derive(Clone, Debug)]
pub(crate) struct Reached {
    /// `http://127.0.0.1:8787/workos`, without a trailing slash.
    pub(crate) base: String,
}

impl Reached {
    pub(crate) fn from_parts(parts: &Parts, configured: Option<&str>) -> Result<Self, ApiError> {
        if let Some(base) = configured {
            return Ok(Reached {
                base: base.to_owned(),
            });
        }
        // `nest` strips its prefix from the path the inner router sees; the original URI keeps
        // it. Whatever the original path has before the inner path is the prefix.
        let inner = parts.uri.path();
        let prefix = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .and_then(|original| original.path().strip_suffix(inner).map(str::to_owned))
            .unwrap_or_default();
        let host = parts
            .uri
            .authority()
            .map(|authority| authority.as_str().to_owned())
            .or_else(|| {
                parts
                    .headers
                    .get(axum::http::header::HOST)
                    .and_then(|host| host.to_str().ok())
                    .map(str::to_owned)
            })
            .filter(|host| {
                !host.contains('@') && host.parse::<axum::http::uri::Authority>().is_ok()
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_host",
                    "the request has no usable Host header",
                )
            })?;
        Ok(Reached {
            base: format!("http://{host}{prefix}"),
        })
    }
}
