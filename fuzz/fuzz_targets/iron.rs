//! The iron seal of the `wos-session` cookie.
//!
//! The first byte picks a mode:
//! - even: the rest is a seal from outside (the seeds are the JS SDKs' and our own fixtures),
//!   unsealed with the fixtures' passwords, and also read as a `Cookie` header by the cookie
//!   source's reader: an error or the plaintext, never a panic; what unseals is read as a
//!   session payload without panicking, and seals back to itself;
//! - odd: `[password length][password][position: 2 bytes][replacement byte][plaintext]`: a
//!   password shorter than 32 characters is refused; otherwise `unseal(seal(plaintext)) ==
//!   plaintext`, and the seal with any one byte changed, or under another password, is refused.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use workos_authz::authkit::{CookieConfig, Iron, Password, PasswordMap, SessionPayload, Ttl};

/// When the fixtures were sealed: the short-lived ones are still valid then.
fn fixture_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_796_166_716_800)
}

fn password(text: &str) -> Password {
    Password::new(text).expect("a fixture password is long enough")
}

/// Every password id the fixtures seal with.
fn fixture_iron() -> &'static Iron {
    static IRON: OnceLock<Iron> = OnceLock::new();
    IRON.get_or_init(|| {
        let a = "test-password-A-0123456789abcdefghijklmnopqrstuvwxyz";
        let b = "test-password-B-0123456789abcdefghijklmnopqrstuvwxyz";
        let c = "test-password-C-0123456789abcdefghijklmnopqrstuvwxyz";
        let map = PasswordMap::new([
            ("1", password(a)),
            ("2", password(b)),
            ("9", password(b)),
            ("10", password(c)),
            ("default", password(b)),
        ])
        .expect("valid ids");
        Iron::new(map)
    })
}

/// The input as a `Cookie` header: whatever `wos-session` holds is read as the cookie source
/// reads it, then unsealed into a session payload; never a panic.
fn read_cookie_header(value: &[u8]) {
    static CONFIG: OnceLock<CookieConfig> = OnceLock::new();
    let config = CONFIG.get_or_init(|| CookieConfig::new(fixture_iron().passwords().clone()));
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value);
    if let Ok(Some(seal)) = config.read(&headers) {
        let _ = config.unseal(&seal);
    }
}

fn unseal_foreign(seal: &[u8]) {
    read_cookie_header(seal);
    let Ok(seal) = std::str::from_utf8(seal) else {
        return;
    };
    let iron = fixture_iron();
    let Ok(plaintext) = iron.unseal_at(seal, fixture_time()) else {
        return;
    };
    let _ = serde_json::from_slice::<SessionPayload>(&plaintext);
    let resealed = iron
        .seal_at(&plaintext, Ttl::Never, fixture_time())
        .expect("what unsealed seals again");
    assert_eq!(
        iron.unseal_at(&resealed, fixture_time()).ok(),
        Some(plaintext)
    );
}

fn round_trip(data: &[u8]) {
    let Some((&length, rest)) = data.split_first() else {
        return;
    };
    let length = usize::from(length).min(rest.len());
    let (password_bytes, rest) = rest.split_at(length);
    let text = String::from_utf8_lossy(password_bytes).into_owned();
    let password = match Password::new(text.clone()) {
        Ok(password) => password,
        Err(_) => {
            assert!(
                text.encode_utf16().count() < 32,
                "refused a long enough password"
            );
            let padded = format!("{text}{}", "0".repeat(32));
            Password::new(padded).expect("32 characters or more")
        }
    };
    let (at, replacement, plaintext) = match rest {
        [high, low, replacement, plaintext @ ..] => (
            usize::from(*high) << 8 | usize::from(*low),
            *replacement,
            plaintext,
        ),
        _ => (0, b'~', rest),
    };
    let now = fixture_time();
    let iron = Iron::new(PasswordMap::single(password));
    let seal = iron
        .seal_at(plaintext, Ttl::Never, now)
        .expect("any bytes seal");
    assert_eq!(
        iron.unseal_at(&seal, now).expect("our seal unseals"),
        plaintext
    );

    let mut changed = seal.clone().into_bytes();
    let at = at % changed.len();
    changed[at] = if changed[at] == replacement {
        replacement ^ 1
    } else {
        replacement
    };
    // A change that keeps the seal text must be refused by the parser or the MAC.
    if let Ok(changed) = String::from_utf8(changed) {
        assert!(
            iron.unseal_at(&changed, now).is_err(),
            "a changed byte at {at} unsealed"
        );
    }

    let other = Iron::new(PasswordMap::single(
        Password::new("another-password-0123456789abcdefghijklmnop").expect("long enough"),
    ));
    assert!(
        other.unseal_at(&seal, now).is_err(),
        "unsealed under another password"
    );
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => unseal_foreign(rest),
        Some((_, rest)) => round_trip(rest),
        None => {}
    }
});
