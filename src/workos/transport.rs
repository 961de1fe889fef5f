//! Sending one logical call: headers, per-attempt timeout, retries with backoff, error mapping.

use std::time::{Duration, Instant, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WorkOsClient;
use super::error::{ErrorKind, WorkOsError};

/// How long [`Jitter`] spreads the wait before a retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// Wait a uniformly random time between zero and the backoff.
    Full,
    /// Wait half the backoff plus a uniformly random time up to the other half: never less
    /// than half, so a rate-limited key is not hammered.
    #[default]
    Equal,
    /// Wait exactly the backoff (deterministic; for tests).
    None,
}

/// When and how often a failed call is tried again.
///
/// A call is retried on 408, 429, 500, 502, 503, 504 and on transport errors (including
/// timeouts). The wait before retry `n` (0-based) is `base_delay × multiplier^n`, capped at
/// `max_delay`, spread by [`Jitter`]; a `Retry-After` header (seconds or HTTP date) replaces
/// it, capped at `max_retry_after`. The defaults follow WorkOS's Node SDK: 3 retries, 500 ms ×
/// 1.5^n up to 8 s, `Retry-After` up to 60 s. The optional `deadline` bounds the whole call,
/// attempts and waits included.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The wait before the first retry, before jitter.
    pub base_delay: Duration,
    /// The growth factor of the wait, in thousandths (1500 = × 1.5), to keep the policy `Eq`.
    pub multiplier_per_mille: u32,
    /// The longest wait computed from the backoff, before jitter.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; longer values are cut to this.
    pub max_retry_after: Duration,
    /// How the backoff is randomised.
    pub jitter: Jitter,
    /// The budget of the whole call, from the first attempt to the last answer. `None`
    /// bounds the call only by the attempts and their timeouts.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            multiplier_per_mille: 1500,
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            jitter: Jitter::Equal,
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the base wait, the growth factor (for example 1.5) and the cap of the backoff.
    pub fn with_backoff(
        mut self,
        base_delay: Duration,
        multiplier: f64,
        max_delay: Duration,
    ) -> Self {
        self.base_delay = base_delay;
        self.multiplier_per_mille = if multiplier.is_finite() && multiplier >= 1.0 {
            (multiplier * 1000.0).min(u32::MAX as f64) as u32
        } else {
            1000
        };
        self.max_delay = max_delay;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Sets the jitter.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the budget of the whole call.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The backoff before retry `retry_index` (0-based), before jitter.
    pub fn backoff(&self, retry_index: u32) -> Duration {
        let factor = f64::from(self.multiplier_per_mille) / 1000.0;
        let exponent = i32::try_from(retry_index).unwrap_or(i32::MAX);
        let seconds = self.base_delay.as_secs_f64() * factor.powi(exponent);
        let cap = self.max_delay.as_secs_f64();
        Duration::try_from_secs_f64(seconds.min(cap)).unwrap_or(self.max_delay)
    }

    /// The wait before retry `retry_index`, with jitter applied.
    pub fn delay(&self, retry_index: u32) -> Duration {
        let backoff = self.backoff(retry_index);
        match self.jitter {
            Jitter::None => backoff,
            Jitter::Full => backoff.mul_f64(crate::support::random_fraction()),
            Jitter::Equal => backoff / 2 + (backoff / 2).mul_f64(crate::support::random_fraction()),
        }
    }
}

/// Path segments are escaped like JavaScript's `encodeURIComponent`, except `:`, which WorkOS's
/// SDKs leave raw so that a permission slug such as `docs:read` travels as is.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b':');

/// One path segment, escaped.
pub(crate) fn segment(value: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(value, PATH_SEGMENT)
}

/// A request before it is sent: the path is already escaped, query values are not.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, path: String) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn get(path: String) -> Self {
        ApiRequest::new(Method::GET, path)
    }

    pub(crate) fn post(path: String) -> Self {
        ApiRequest::new(Method::POST, path)
    }

    pub(crate) fn put(path: String) -> Self {
        ApiRequest::new(Method::PUT, path)
    }

    pub(crate) fn patch(path: String) -> Self {
        ApiRequest::new(Method::PATCH, path)
    }

    pub(crate) fn delete(path: String) -> Self {
        ApiRequest::new(Method::DELETE, path)
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Adds a query parameter when there is a value.
    pub(crate) fn query_opt(
        mut self,
        name: &'static str,
        value: Option<impl Into<String>>,
    ) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.into()));
        }
        self
    }

    /// Sets the JSON body.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self, WorkOsError> {
        let bytes = serde_json::to_vec(body).map_err(|error| {
            WorkOsError::new(ErrorKind::Decode, "could not encode the request body")
                .with_source(error)
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// A success answer.
struct Answer {
    status: StatusCode,
    request_id: Option<String>,
    body: Vec<u8>,
}

/// A failed attempt and whether another may succeed.
struct Failure {
    error: WorkOsError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl WorkOsClient {
    /// Sends the request and decodes the JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<T, WorkOsError> {
        let answer = self.execute(&request, true).await?;
        decode_answer(&request.method, &request.path, &answer)
    }

    /// Sends the request and ignores the success body (DELETEs answer 204 or an echo).
    pub(crate) async fn send_no_content(&self, request: ApiRequest) -> Result<(), WorkOsError> {
        self.execute(&request, false).await.map(|_| ())
    }

    async fn execute(&self, request: &ApiRequest, read_body: bool) -> Result<Answer, WorkOsError> {
        let url = self.url_for(request)?;
        // One key per logical call, reused on its retries: WorkOS replays the first outcome
        // instead of acting twice.
        let idempotency_key = (request.method == Method::POST).then(idempotency_key);
        let policy = &self.inner.retry;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = policy
                .deadline
                .map(|deadline| deadline.saturating_sub(started.elapsed()));
            let attempt_timeout = match remaining {
                Some(remaining) => remaining.min(self.inner.timeout),
                None => self.inner.timeout,
            };
            let failure = if attempt_timeout.is_zero() {
                Failure {
                    error: WorkOsError::new(ErrorKind::Timeout, "the call's deadline has passed"),
                    retryable: false,
                    retry_after: None,
                }
            } else {
                match self
                    .attempt(
                        request,
                        &url,
                        idempotency_key.as_deref(),
                        attempt_timeout,
                        read_body,
                    )
                    .await
                {
                    Ok(answer) => {
                        tracing::debug!(
                            method = %request.method,
                            path = %request.path,
                            status = answer.status.as_u16(),
                            request_id = answer.request_id.as_deref(),
                            attempt,
                            "WorkOS call succeeded"
                        );
                        return Ok(answer);
                    }
                    Err(failure) => failure,
                }
            };
            if !failure.retryable || attempt > policy.max_retries {
                return Err(failure.error.with_attempts(attempt));
            }
            let delay = match failure.retry_after {
                Some(retry_after) => retry_after.min(policy.max_retry_after),
                None => policy.delay(attempt - 1),
            };
            if let Some(deadline) = policy.deadline
                && started.elapsed() + delay >= deadline
            {
                return Err(failure.error.with_attempts(attempt));
            }
            tracing::warn!(
                method = %request.method,
                path = %request.path,
                error = %failure.error,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "WorkOS call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        request: &ApiRequest,
        url: &Url,
        idempotency_key: Option<&str>,
        timeout: Duration,
        read_body: bool,
    ) -> Result<Answer, Failure> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url.clone())
            .headers(self.inner.headers.clone())
            .timeout(timeout);
        if let Some(key) = idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|error| transport_failure(error, timeout))?;
        let status = response.status();
        let headers = response.headers();
        let request_id = header_text(headers, "x-request-id");
        if status.is_success() {
            if !read_body {
                return Ok(Answer {
                    status,
                    request_id,
                    body: Vec::new(),
                });
            }
            refuse_unless_json(status, &request_id, headers)?;
            let body = response
                .bytes()
                .await
                .map_err(|error| transport_failure(error, timeout))?;
            return Ok(Answer {
                status,
                request_id,
                body: body.to_vec(),
            });
        }
        let retry_after = retry_after(headers, SystemTime::now());
        // An unreadable error body still leaves the status to report.
        let body = response.bytes().await.unwrap_or_default();
        Err(failure_from(status, request_id, retry_after, &body))
    }

    fn url_for(&self, request: &ApiRequest) -> Result<Url, WorkOsError> {
        // Escaping leaves `.` alone, and a URL resolves `.` and `..` segments (and an empty id
        // leaves a trailing slash): `delete_permission("..")` would act on another path.
        if let Some(bad) = request
            .path
            .split('/')
            .skip(1)
            .find(|segment| matches!(*segment, "" | "." | ".."))
        {
            return Err(WorkOsError::new(
                ErrorKind::InvalidArgument,
                format!("{bad:?} cannot name an object in a request path"),
            ));
        }
        let mut url =
            Url::parse(&format!("{}{}", self.inner.base_url, request.path)).map_err(|error| {
                WorkOsError::new(
                    ErrorKind::Transport,
                    format!("invalid request URL: {error}"),
                )
                .with_source(error)
            })?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(
                request
                    .query
                    .iter()
                    .map(|(name, value)| (*name, value.as_str())),
            );
        }
        Ok(url)
    }
}

// The steps below read one HTTP answer without the network, so the fuzz target that feeds the
// client arbitrary answers (`fuzzing::client_answer`) goes through the code a call does.

/// A success answer with a body must say it is JSON: a captive portal's HTML page or a proxy's
/// text is not a WorkOS object, whatever it parses as.
fn refuse_unless_json(
    status: StatusCode,
    request_id: &Option<String>,
    headers: &HeaderMap,
) -> Result<(), Failure> {
    let is_json = header_text(headers, CONTENT_TYPE.as_str())
        .is_some_and(|content_type| content_type.contains("application/json"));
    if is_json {
        return Ok(());
    }
    Err(Failure {
        error: WorkOsError::new(
            ErrorKind::Decode,
            "the answer has no application/json content type",
        )
        .with_status(status)
        .with_request_id(request_id.clone()),
        retryable: false,
        retry_after: None,
    })
}

/// The delay a failed answer asks for, when it asks in a form we read.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now))
}

/// The error of a non-success answer and whether another attempt may succeed.
fn failure_from(
    status: StatusCode,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Failure {
    Failure {
        error: WorkOsError::from_response(status, request_id, retry_after, body),
        retryable: is_retryable_status(status),
        retry_after,
    }
}

/// Reads a success answer's body as the `T` the call expects.
fn decode_answer<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    answer: &Answer,
) -> Result<T, WorkOsError> {
    serde_json::from_slice(&answer.body).map_err(|error| {
        WorkOsError::new(
            ErrorKind::Decode,
            format!("{method} {path} answered a body that is not the expected JSON: {error}"),
        )
        .with_status(answer.status)
        .with_request_id(answer.request_id.clone())
        .with_source(error)
    })
}

/// One answer read as the client reads it (status, headers, then body), for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn read_answer<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<T, WorkOsError> {
    let request_id = header_text(headers, "x-request-id");
    if !status.is_success() {
        return Err(failure_from(status, request_id, retry_after(headers, now), body).error);
    }
    refuse_unless_json(status, &request_id, headers).map_err(|failure| failure.error)?;
    let answer = Answer {
        status,
        request_id,
        body: body.to_vec(),
    };
    decode_answer(&Method::GET, "/fuzzed", &answer)
}

/// The statuses WorkOS's SDKs retry.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn transport_failure(error: reqwest::Error, timeout: Duration) -> Failure {
    let error = if error.is_timeout() {
        WorkOsError::new(ErrorKind::Timeout, format!("no answer within {timeout:?}"))
            .with_source(error.without_url())
    } else {
        WorkOsError::new(ErrorKind::Transport, transport_message(&error))
            .with_source(error.without_url())
    };
    Failure {
        error,
        retryable: true,
        retry_after: None,
    }
}

/// reqwest's own message plus its causes, which name what actually failed ("connection
/// closed before message completed").
fn transport_message(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    let mut depth = 0;
    while let Some(cause) = source {
        if depth == 4 {
            break;
        }
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
        depth += 1;
    }
    message
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value: &HeaderValue| value.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After` as delay-seconds (integer or decimal) or an HTTP date, relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `retry-` and a random UUID v4, the form WorkOS's Node SDK sends.
pub(crate) fn idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    crate::support::random_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "retry-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_half_and_stops_at_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1), Duration::from_millis(750));
        assert_eq!(policy.backoff(2), Duration::from_millis(1125));
        assert_eq!(policy.backoff(20), Duration::from_secs(8));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn jitter_stays_within_its_band() {
        for _ in 0..200 {
            let equal = RetryPolicy::default().delay(1);
            assert!(equal >= Duration::from_millis(375) && equal <= Duration::from_millis(750));
            let full = RetryPolicy::default().with_jitter(Jitter::Full).delay(1);
            assert!(full <= Duration::from_millis(750));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn idempotency_keys_are_uuid_v4_and_distinct() {
        let first = idempotency_key();
        let second = idempotency_key();
        assert_ne!(first, second);
        let uuid = first.strip_prefix("retry-").expect("the Node SDK's prefix");
        assert_eq!(uuid.len(), 36);
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn path_segments_keep_colons_and_escape_the_rest() {
        assert_eq!(segment("docs:read").to_string(), "docs:read");
        assert_eq!(segment("a/b c?d#e%").to_string(), "a%2Fb%20c%3Fd%23e%25");
        assert_eq!(segment("proj_1-x.y~z").to_string(), "proj_1-x.y~z");
    }

    proptest::proptest! {
        #[test]
        fn a_path_segment_decodes_back_and_never_splits_the_path(value in "\\PC{0,40}") {
            let encoded = segment(&value).to_string();
            proptest::prop_assert!(!encoded.contains(['/', '?', '#', ' ']));
            let decoded = percent_encoding::percent_decode_str(&encoded)
                .decode_utf8()
                .map(|text| text.into_owned());
            proptest::prop_assert_eq!(decoded.ok(), Some(value));
        }
    }
}
