//! The one error type of the WorkOS client.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// What went wrong with a WorkOS call, coarse enough to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: the API key is missing, malformed or revoked.
    Unauthorized,
    /// 404: the object (role, permission, resource, membership...) does not exist.
    NotFound,
    /// 409: the object already exists, or the change conflicts with the current state.
    Conflict,
    /// 422: the request was understood but is invalid; see [`WorkOsError::field_errors`].
    Unprocessable,
    /// 429: the API key is over its rate limit; see [`WorkOsError::retry_after`].
    RateLimited,
    /// 5xx: WorkOS failed to answer.
    Server,
    /// No answer in time: the per-attempt timeout, the overall deadline, or a 408.
    Timeout,
    /// The request could not be sent or the response could not be read (connection refused,
    /// reset, closed mid-response, TLS failure...).
    Transport,
    /// WorkOS answered with a success status but a body that is not the expected JSON.
    Decode,
    /// The call was refused before anything was sent: an argument cannot be a path segment
    /// (empty, `.` or `..`, which would address another object than the one named).
    InvalidArgument,
    /// Any other error status (400, 403, ...).
    Other,
}

impl ErrorKind {
    /// The kind of an error status.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            409 => ErrorKind::Conflict,
            422 => ErrorKind::Unprocessable,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Other,
        }
    }
}

/// One invalid field of a 422 answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FieldError {
    /// The request field at fault, for example `slug`.
    #[serde(default)]
    pub field: String,
    /// WorkOS's code for the problem, for example `invalid_slug`.
    #[serde(default)]
    pub code: String,
    /// A human-readable explanation, when WorkOS gives one.
    #[serde(default)]
    pub message: Option<String>,
}

/// An error from a WorkOS call.
///
/// Every error has a [`kind`](Self::kind) and a message. Errors that come from an HTTP answer
/// also carry its status, WorkOS's error `code`, and the `X-Request-ID` to quote to WorkOS
/// support. The details are boxed so that `Result<T, WorkOsError>` stays small.
#[derive(Clone, thiserror::Error)]
#[error(transparent)]
pub struct WorkOsError(Box<ErrorInner>);

#[derive(Clone, thiserror::Error)]
#[error("{}", self.describe())]
struct ErrorInner {
    kind: ErrorKind,
    status: Option<StatusCode>,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    field_errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    attempts: u32,
    #[source]
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl WorkOsError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        WorkOsError(Box::new(ErrorInner {
            kind,
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
            field_errors: Vec::new(),
            retry_after: None,
            attempts: 0,
            source: None,
        }))
    }

    /// Builds the error for an error status from its (possibly non-JSON) body.
    pub(crate) fn from_response(
        status: StatusCode,
        request_id: Option<String>,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        // A blank message says nothing (an error whose text is empty reads as no error at all
        // in a log), and control characters in it could forge log lines: the next field, or
        // the reason phrase, speaks instead.
        let said = |text: Option<String>| {
            text.map(|text| {
                text.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
            })
            .filter(|text| !text.trim().is_empty())
        };
        let message = said(parsed.message)
            .or_else(|| said(parsed.error_description))
            .or_else(|| said(parsed.error.clone()))
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("unexpected status")
                    .to_owned()
            });
        let mut error = WorkOsError::new(ErrorKind::from_status(status), message);
        error.0.status = Some(status);
        error.0.code = parsed.code.or(parsed.error);
        error.0.request_id = request_id;
        error.0.field_errors = parsed.errors;
        error.0.retry_after = retry_after;
        error
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.0.request_id = request_id;
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    /// What went wrong, coarsely.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status WorkOS answered with, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// WorkOS's machine-readable error code (`code`, or the OAuth-style `error`), when given.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// WorkOS's explanation, or ours when WorkOS did not answer.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The `X-Request-ID` of the answer, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The invalid fields of a 422 answer; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        &self.0.field_errors
    }

    /// How long WorkOS asked to wait (`Retry-After`) before the next request, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// How many attempts the client made before giving up (0 when no request was sent).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// Whether the same request may succeed later: timeouts, rate limits, server and
    /// transport errors.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::Timeout | ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Transport
        )
    }
}

impl ErrorInner {
    fn describe(&self) -> String {
        let mut text = String::from("WorkOS ");
        match self.status {
            Some(status) => text.push_str(&format!("answered {status}")),
            None => text.push_str(match self.kind {
                ErrorKind::Timeout => "timed out",
                _ => "call failed",
            }),
        }
        if let Some(code) = &self.code {
            text.push_str(&format!(" ({code})"));
        }
        text.push_str(": ");
        text.push_str(&self.message);
        for field in &self.field_errors {
            text.push_str(&format!("; {}: {}", field.field, field.code));
        }
        if let Some(request_id) = &self.request_id {
            text.push_str(&format!(" [request {request_id}]"));
        }
        text
    }
}

impl fmt::Debug for ErrorInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self;
        let mut debug = f.debug_struct("WorkOsError");
        debug
            .field("kind", &inner.kind)
            .field("status", &inner.status)
            .field("code", &inner.code)
            .field("message", &inner.message)
            .field("request_id", &inner.request_id);
        if !inner.field_errors.is_empty() {
            debug.field("field_errors", &inner.field_errors);
        }
        if let Some(retry_after) = inner.retry_after {
            debug.field("retry_after", &retry_after);
        }
        if let Some(source) = &inner.source {
            debug.field("source", source);
        }
        debug.field("attempts", &inner.attempts).finish()
    }
}

impl fmt::Debug for WorkOsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// WorkOS's error body: `{message, code?, errors?, error?, error_description?}`. Every field
/// is optional because gateways in front of WorkOS answer with other shapes.
#[derive(Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprocessable_body_keeps_field_errors_and_code() {
        let body = br#"{"message":"Validation failed","code":"invalid_request_parameters",
            "errors":[{"field":"slug","code":"invalid_slug"}]}"#;
        let error = WorkOsError::from_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("req_1".into()),
            None,
            body,
        );
        assert_eq!(error.kind(), ErrorKind::Unprocessable);
        assert_eq!(error.code(), Some("invalid_request_parameters"));
        assert_eq!(error.field_errors()[0].field, "slug");
        assert_eq!(error.request_id(), Some("req_1"));
        assert!(error.to_string().contains("slug: invalid_slug"));
    }

    #[test]
    fn non_json_error_body_falls_back_to_the_reason_phrase() {
        let error =
            WorkOsError::from_response(StatusCode::BAD_GATEWAY, None, None, b"<html>oops</html>");
        assert_eq!(error.kind(), ErrorKind::Server);
        assert_eq!(error.message(), "Bad Gateway");
    }

    /// Found by the `client_response` fuzz target: `{"message":""}` made an error with no text.
    #[test]
    fn a_blank_message_gives_way_to_the_next_field_or_the_reason_phrase() {
        let blank = br#"{"message":"","code":"invalid_request_parameters"}"#;
        let error = WorkOsError::from_response(StatusCode::UNPROCESSABLE_ENTITY, None, None, blank);
        assert_eq!(error.message(), "Unprocessable Entity");
        assert_eq!(error.code(), Some("invalid_request_parameters"));

        let spaces =
            br#"{"message":" \u0000 ","error":"invalid_grant","error_description":"expired"}"#;
        let error = WorkOsError::from_response(StatusCode::BAD_REQUEST, None, None, spaces);
        assert_eq!(error.message(), "expired");
    }

    #[test]
    fn control_characters_in_a_message_cannot_forge_log_lines() {
        let body = br#"{"message":"denied\nINFO forged line\r\u0000"}"#;
        let error = WorkOsError::from_response(StatusCode::FORBIDDEN, None, None, body);
        assert_eq!(error.message(), "denied INFO forged line  ");
        assert!(!error.to_string().contains('\n'));
    }

    #[test]
    fn oauth_style_body_is_understood() {
        let body = br#"{"error":"invalid_grant","error_description":"expired"}"#;
        let error = WorkOsError::from_response(StatusCode::BAD_REQUEST, None, None, body);
        assert_eq!(error.kind(), ErrorKind::Other);
        assert_eq!(error.code(), Some("invalid_grant"));
        assert_eq!(error.message(), "expired");
    }
}
