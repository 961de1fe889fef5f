//! Leaf helpers every module may use: secure randomness and the clock. Nothing here depends
//! on another module of the crate, so using it never bends the module table's arrows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Fills `bytes` from the system's secure generator. Should that ever fail, falls back to the
/// clock and a counter: the values then stay unique, which is all ids and jitter need (no key
/// material is made here; the signer's keys come from aws-lc-rs's own generation).
pub(crate) fn random_bytes(bytes: &mut [u8]) {
    if aws_lc_rs::rand::fill(bytes).is_ok() {
        return;
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = nanos.to_le_bytes().into_iter().chain(count.to_le_bytes());
    for (byte, value) in bytes.iter_mut().zip(seed.cycle()) {
        *byte = value;
    }
}

/// `len` random bytes as lowercase hex.
pub(crate) fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    random_bytes(&mut bytes);
    hex(&bytes)
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The bytes of `text` read as hex digits (either case); `None` for an odd length or a
/// character that is not a hex digit.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

/// `text` fit for a log line or a response: printable ASCII only (anything else, and the
/// quote and backslash that would end or escape a quoted value, become a space), at most
/// `max_chars` characters. For text that may come from an attacker (token headers, parser
/// messages quoting them) or must sit inside an RFC 6750 quoted attribute.
pub(crate) fn printable(text: &str, max_chars: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                ' '
            }
        })
        .take(max_chars)
        .collect()
}

/// The key of a cache of verified secrets (access tokens, session seals): equality compares
/// every byte; the hash reads only the length and the last 32 bytes, the end of the signature
/// or MAC, which is as unpredictable as the whole (hashing all of a ~900-byte token cost more
/// than the rest of the lookup). Entries are only ever secrets that verified, so nobody can
/// fill a bucket with chosen tails.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretKey(std::sync::Arc<str>);

impl SecretKey {
    pub(crate) fn new(secret: &str) -> Self {
        SecretKey(std::sync::Arc::from(secret))
    }
}

/// A secret looked up in such a cache without copying it.
pub(crate) struct SecretRef<'s>(pub(crate) &'s [u8]);

const HASHED_TAIL: usize = 32;

fn hash_secret(bytes: &[u8], state: &mut impl std::hash::Hasher) {
    state.write_usize(bytes.len());
    state.write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
}

impl std::hash::Hash for SecretKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_secret(self.0.as_bytes(), state);
    }
}

impl std::hash::Hash for SecretRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_secret(self.0, state);
    }
}

impl quick_cache::Equivalent<SecretKey> for SecretRef<'_> {
    fn equivalent(&self, key: &SecretKey) -> bool {
        self.0 == key.0.as_bytes()
    }
}

/// The SHA-256 of `bytes`: how secrets (refresh tokens, sign-in codes) are remembered as keys
/// without being kept.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A uniformly random number in `[0, 1)`.
pub(crate) fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    random_bytes(&mut bytes);
    // 53 random bits: exactly representable in an f64 mantissa.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        assert_eq!(hex(&bytes), "000fa5ff");
        assert_eq!(unhex("000FA5ff").as_deref(), Some(&bytes[..]));
        for bad in ["0", "zz", "é0", "0g"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
    }

    #[test]
    fn printable_text_has_no_control_characters_quotes_or_excess() {
        assert_eq!(printable("a\"b\\c\nd\u{7f}é", 100), "a b c d  ");
        assert_eq!(printable("abcdef", 3), "abc");
    }

    #[test]
    fn random_values_differ_and_fractions_stay_in_the_unit_interval() {
        assert_ne!(random_hex(12), random_hex(12));
        assert_eq!(random_hex(12).len(), 24);
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        for _ in 0..1000 {
            let fraction = random_fraction();
            assert!((0.0..1.0).contains(&fraction), "{fraction}");
        }
    }
}
