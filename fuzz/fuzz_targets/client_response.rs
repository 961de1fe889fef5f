//! WorkOS's answers as the client reads them: arbitrary statuses, headers and bodies.
//!
//! Input: `[status: 2 bytes][content type][retry-after][body]`. Properties: every answer is
//! a value or a typed error, never a panic; a non-success status is an error carrying that
//! status and its request id; a success that is not the expected JSON (by content type or by
//! body) is a decode error.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use workos_authz::fuzzing::client_answer;
use workos_authz::workos::{
    Authentication, ErrorKind, Event, Organization, OrganizationMembership, Page, Permission,
    Resource, Role, RoleAssignment, User, WorkOsError,
};

const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    None,
    Some("text/html"),
    Some("application/problem+json"),
];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn read<T: DeserializeOwned>(status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    let answer: Result<T, WorkOsError> = client_answer(status, headers, body, now());
    let Err(error) = answer else {
        assert!(status.is_success(), "{status} was read as a value");
        return;
    };
    assert!(
        !error.message().trim().is_empty(),
        "{status}: an error without a message"
    );
    assert_eq!(error.request_id(), Some("req_fuzz"));
    if status.is_success() {
        assert_eq!(error.kind(), ErrorKind::Decode, "{status}: {error}");
    } else {
        assert_eq!(error.status(), Some(status), "{error}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [high, low, content_type, retry_after, body @ ..] = data else {
        return;
    };
    let Ok(status) = StatusCode::from_u16(u16::from(*high) << 8 | u16::from(*low)) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req_fuzz"));
    if let Some(value) = CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()] {
        headers.insert("content-type", HeaderValue::from_static(value));
    }
    // The low bits pick a Retry-After form; an odd byte uses the body's first line as its value.
    let retry_after_value = match retry_after % 4 {
        0 => None,
        1 => Some("7".to_owned()),
        2 => Some("Wed, 21 Oct 2026 07:28:00 GMT".to_owned()),
        _ => body
            .split(|&byte| byte == b'\n')
            .next()
            .map(|line| String::from_utf8_lossy(line).into_owned()),
    };
    if let Some(value) = retry_after_value.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert("retry-after", value);
    }

    read::<Role>(status, &headers, body);
    read::<Permission>(status, &headers, body);
    read::<Resource>(status, &headers, body);
    read::<Page<Resource>>(status, &headers, body);
    read::<Page<Role>>(status, &headers, body);
    read::<RoleAssignment>(status, &headers, body);
    read::<Page<RoleAssignment>>(status, &headers, body);
    read::<Organization>(status, &headers, body);
    read::<OrganizationMembership>(status, &headers, body);
    read::<Page<OrganizationMembership>>(status, &headers, body);
    read::<User>(status, &headers, body);
    read::<Authentication>(status, &headers, body);
    read::<Page<Event>>(status, &headers, body);
});
