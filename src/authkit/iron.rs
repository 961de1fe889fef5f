//! Iron seals (`Fe26.2*...~2`), byte-compatible with `iron-webcrypto` as WorkOS's JavaScript SDKs
//! use it: @workos-inc/node (which bundles iron-webcrypto 2.0.0) and authkit-nextjs (through
//! iron-session 8.0.4, which brings iron-webcrypto 1.2.1).
//!
//! ```text
//! Fe26.2*{password id}*{encryption salt}*{iv}*{ciphertext}*{expiration}*{integrity salt}*{mac}~2
//! ```
//!
//! - The salts are the hex text of 32 random bytes, and that text (not the bytes it encodes) is
//!   the PBKDF2 salt. PBKDF2-HMAC-SHA1, 1 iteration, 32-byte keys: one for AES-256-CBC (PKCS#7),
//!   one for HMAC-SHA256, both from the same password.
//! - `iv`, `ciphertext` and `mac` are base64url without padding; the MAC covers
//!   `Fe26.2*{password id}*{encryption salt}*{iv}*{ciphertext}*{expiration}`.
//! - The expiration is empty (no expiry: sessions) or milliseconds since the epoch, honoured with
//!   a 60 s skew.
//!
//! Unsealing checks the shape of every field, then the MAC (in constant time), then the
//! expiration, and only then decrypts: nothing is decrypted from a seal that was not sealed with
//! one of the configured passwords, and a failure never yields part of the plaintext.
//!
//! All cryptography is aws-lc-rs's: PBKDF2, AES-CBC, HMAC (its verification compares in
//! constant time) and the system's secure random generator.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::cipher::{
    AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::{hmac, pbkdf2, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::support;

/// The first field of every seal this module reads or writes.
pub const PREFIX: &str = "Fe26.2";

/// The version suffix every seal is written with. The JS SDKs append it to iron's seal; on
/// unseal, `~2` and no suffix at all are read, any other version is refused
/// ([`UnsealError::UnsupportedVersion`]).
pub const VERSION_SUFFIX: &str = "~2";

/// The shortest password iron accepts, counted like JavaScript's `String.length` (UTF-16 code
/// units), so a password is accepted here exactly when the JS SDKs accept it.
pub const MIN_PASSWORD_LENGTH: usize = 32;

/// How long after its expiration a seal is still read, as in iron's `timestampSkewSec`.
pub const TIMESTAMP_SKEW: Duration = Duration::from_secs(60);

/// The longest seal [`Iron::unseal`] reads and [`Iron::seal`] writes, in bytes.
///
/// Far above anything a browser keeps (4,096 bytes for a cookie) or a server accepts in a header,
/// low enough that a hostile value costs nothing to refuse.
pub const MAX_SEAL_LENGTH: usize = 64 * 1024;

/// Longest password id accepted in a map or a seal. Iron sets no limit; the JS SDKs write `1`.
const MAX_PASSWORD_ID_LENGTH: usize = 64;
/// The id iron-webcrypto looks up for a seal written with an empty password id.
const DEFAULT_PASSWORD_ID: &str = "default";
const SALT_BYTES: usize = 32;
const SALT_HEX_LENGTH: usize = SALT_BYTES * 2;
const IV_BYTES: usize = 16;
const KEY_BYTES: usize = 32;
const MAC_BYTES: usize = 32;
const AES_BLOCK: usize = 16;
/// JavaScript's `Number.MAX_SAFE_INTEGER`: the JS SDKs compare expirations as numbers.
const MAX_EXPIRATION_MS: u64 = (1 << 53) - 1;
const SKEW_MS: u64 = TIMESTAMP_SKEW.as_millis() as u64;

/// How long a seal stays readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// No expiration (an empty `exp` field): the session cookie, whose tokens carry the real
    /// time limits.
    Never,
    /// Expires this long after sealing (whole milliseconds; shorter parts are dropped). Unlike
    /// iron's `ttl: 0`, which means "never", `After(Duration::ZERO)` expires at once (and is
    /// then read for [`TIMESTAMP_SKEW`]).
    After(Duration),
}

impl Ttl {
    /// The session cookie's: no expiration, as @workos-inc/node and authkit-nextjs seal it.
    pub const SESSION: Ttl = Ttl::Never;
    /// The sign-in state's: 600 s, as authkit-nextjs seals the state it sends through the
    /// authorization URL.
    pub const SIGN_IN_STATE: Ttl = Ttl::After(Duration::from_secs(600));
}

/// A password of at least [`MIN_PASSWORD_LENGTH`] characters. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct Password(Box<str>);

impl Password {
    /// Checks the length as the JS SDKs do (UTF-16 code units, so `"é".repeat(32)` is accepted
    /// and `"🔐".repeat(15)` is not).
    pub fn new(password: impl Into<String>) -> Result<Password, PasswordError> {
        let password = password.into();
        if password.encode_utf16().count() < MIN_PASSWORD_LENGTH {
            return Err(PasswordError::TooShort);
        }
        Ok(Password(password.into_boxed_str()))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl TryFrom<String> for Password {
    type Error = PasswordError;

    fn try_from(password: String) -> Result<Password, PasswordError> {
        Password::new(password)
    }
}

impl TryFrom<&str> for Password {
    type Error = PasswordError;

    fn try_from(password: &str) -> Result<Password, PasswordError> {
        Password::new(password)
    }
}

/// Passwords by id, for rotation: seals are written with one id (the newest) and read with any
/// id present, so seals from before a rotation stay readable until their id is removed.
///
/// Ids are 1 to 64 ASCII letters, digits or underscores (iron's `^\w+$`). A seal written with an
/// empty id (iron-webcrypto given a bare password) is read with the id `default`.
#[derive(Clone)]
pub struct PasswordMap {
    passwords: BTreeMap<Box<str>, Password>,
    sealing_id: Box<str>,
}

impl PasswordMap {
    /// One password under id `1`, as the JS SDKs store a plain `WORKOS_COOKIE_PASSWORD`.
    pub fn single(password: Password) -> PasswordMap {
        PasswordMap {
            passwords: BTreeMap::from([(Box::from("1"), password)]),
            sealing_id: Box::from("1"),
        }
    }

    /// A map that seals with its highest numeric id, as iron-session does (`10` is newer than
    /// `9`). Ids that are not plain decimal numbers (`key_a`, `01`) are only read, unless
    /// [`PasswordMap::sealing_with`] names one or the map holds no other id.
    pub fn new<I, K>(entries: I) -> Result<PasswordMap, PasswordError>
    where
        I: IntoIterator<Item = (K, Password)>,
        K: Into<String>,
    {
        let mut passwords = BTreeMap::new();
        for (id, password) in entries {
            let id: String = id.into();
            if !is_password_id(&id) {
                return Err(PasswordError::InvalidId { id });
            }
            if passwords.contains_key(id.as_str()) {
                return Err(PasswordError::DuplicateId { id });
            }
            passwords.insert(id.into_boxed_str(), password);
        }
        if passwords.is_empty() {
            return Err(PasswordError::Empty);
        }
        let newest_numeric = passwords
            .keys()
            .filter_map(|id| numeric_id(id).map(|number| (number, id)))
            .max()
            .map(|(_, id)| id.clone());
        let only = (passwords.len() == 1)
            .then(|| passwords.keys().next().cloned())
            .flatten();
        let sealing_id = newest_numeric.or(only).ok_or(PasswordError::NoNumericId)?;
        Ok(PasswordMap {
            passwords,
            sealing_id,
        })
    }

    /// Seals with `id` instead of the highest numeric id.
    pub fn sealing_with(mut self, id: &str) -> Result<PasswordMap, PasswordError> {
        let Some((key, _)) = self.passwords.get_key_value(id) else {
            return Err(PasswordError::UnknownId { id: id.to_owned() });
        };
        self.sealing_id = key.clone();
        Ok(self)
    }

    /// The id new seals are written with.
    pub fn sealing_id(&self) -> &str {
        &self.sealing_id
    }

    /// Every id seals are read with, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.passwords.keys().map(|id| &**id)
    }

    fn get(&self, id: &str) -> Option<&Password> {
        self.passwords.get(id)
    }

    fn sealing_password(&self) -> &Password {
        // `sealing_id` is always a key: `new`, `single` and `sealing_with` only set it to one.
        &self.passwords[&*self.sealing_id]
    }
}

impl From<Password> for PasswordMap {
    fn from(password: Password) -> PasswordMap {
        PasswordMap::single(password)
    }
}

impl fmt::Debug for PasswordMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordMap")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("sealing_id", &self.sealing_id)
            .finish()
    }
}

/// `^\w+$` as JavaScript reads it (ASCII), bounded.
fn is_password_id(id: &str) -> bool {
    (1..=MAX_PASSWORD_ID_LENGTH).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The number of a plain decimal id. iron-session takes `Math.max` of the ids as numbers and
/// looks the winner up by its canonical text, so `01` could never be sealed with there.
fn numeric_id(id: &str) -> Option<u64> {
    let number: u64 = id.parse().ok()?;
    (number.to_string() == id).then_some(number)
}

/// Why a password or a password map was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_LENGTH`].
    #[error("the password is too short: iron needs at least 32 characters")]
    TooShort,
    /// Not 1 to 64 ASCII letters, digits or underscores.
    #[error("password id {id:?} is not 1 to 64 ASCII letters, digits or underscores")]
    InvalidId {
        /// The id refused.
        id: String,
    },
    /// The same id given twice.
    #[error("password id {id:?} is given twice")]
    DuplicateId {
        /// The id given twice.
        id: String,
    },
    /// No password at all.
    #[error("the password map is empty")]
    Empty,
    /// Several ids and none numeric: which is newest is not guessed.
    #[error("no numeric password id to seal with: name one with `sealing_with`")]
    NoNumericId,
    /// [`PasswordMap::sealing_with`] named an id the map does not have.
    #[error("password id {id:?} is not in the map")]
    UnknownId {
        /// The id asked for.
        id: String,
    },
}

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The seal would be longer than [`MAX_SEAL_LENGTH`], so [`Iron::unseal`] would refuse it.
    #[error("the seal would be {length} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The seal's length, in bytes.
        length: usize,
        /// [`MAX_SEAL_LENGTH`].
        max: usize,
    },
    /// The expiration would lie beyond what JavaScript compares exactly (2^53 - 1 ms).
    #[error("the ttl reaches beyond what an iron expiration can hold")]
    TtlOutOfRange,
    /// The value could not be serialized as JSON.
    #[error("the value could not be serialized as JSON")]
    Serialize(#[source] serde_json::Error),
    /// The system's secure random generator failed: no seal is made with weaker salts or IVs.
    #[error("the system's secure random generator failed")]
    Random,
    /// aws-lc-rs refused to encrypt (not expected with valid keys).
    #[error("encryption failed")]
    Encrypt,
}

/// Why a seal was refused. Every refusal is one of these; none carries the seal, the plaintext
/// or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// Longer than [`MAX_SEAL_LENGTH`]; refused before any parsing.
    #[error("the seal is {length} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The seal's length, in bytes.
        length: usize,
        /// [`MAX_SEAL_LENGTH`].
        max: usize,
    },
    /// Not shaped like an iron seal: which part is wrong.
    #[error("not an iron seal: {0}")]
    Malformed(#[from] MalformedSeal),
    /// A version suffix other than `~2`. iron-session 8 would return the `persistent` member of
    /// such a seal's data (its v1 layout) and @workos-inc/node the data itself; no WorkOS SDK
    /// writes one, so it is refused rather than guessed at.
    #[error("seal version {version} is not supported: only `~2` and no suffix are read")]
    UnsupportedVersion {
        /// The digits after `~`.
        version: String,
    },
    /// Sealed with a password id the map does not have (rotated out, or another application's).
    #[error("the seal names password id {id:?}, which is not configured")]
    UnknownPasswordId {
        /// The seal's password id (`default` for an empty one).
        id: String,
    },
    /// The MAC does not match: the seal was changed, or sealed with another password.
    #[error("the seal's integrity check failed: it was altered or sealed with another password")]
    BadMac,
    /// Authentic, but past its expiration plus [`TIMESTAMP_SKEW`].
    #[error("the seal expired")]
    Expired {
        /// The seal's expiration (without the skew).
        expired_at: SystemTime,
    },
    /// Authentic, but the ciphertext did not decrypt: only a sealer holding the password that
    /// wrote a broken ciphertext gets here.
    #[error("the seal is authentic but its ciphertext does not decrypt")]
    Decrypt,
    /// Decrypted, but not the JSON expected. Only the position is kept: serde's message could
    /// quote the sealed data.
    #[error(
        "the sealed data is not the expected JSON ({kind} error at line {line}, column {column})"
    )]
    Json {
        /// `syntax`, `data` (well-formed JSON of another shape) or `eof`.
        kind: &'static str,
        /// Line of the error in the plaintext, from 1.
        line: usize,
        /// Column of the error in the plaintext, from 1.
        column: usize,
    },
}

/// The part of a seal that is not shaped as iron writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedSeal {
    /// Not eight `*`-separated fields.
    #[error("expected 8 `*`-separated fields, found {0}")]
    FieldCount(usize),
    /// The first field is not `Fe26.2`.
    #[error("the prefix is not `Fe26.2`")]
    Prefix,
    /// The password id is not empty nor 1 to 64 ASCII letters, digits or underscores.
    #[error("the password id is not 1 to 64 letters, digits or underscores")]
    PasswordId,
    /// The encryption salt is not 64 hex digits.
    #[error("the encryption salt is not 64 hex digits")]
    EncryptionSalt,
    /// The IV is not 16 bytes of unpadded base64url.
    #[error("the IV is not 16 bytes of unpadded base64url")]
    Iv,
    /// The ciphertext is not whole AES blocks of unpadded base64url.
    #[error("the ciphertext is not whole AES blocks of unpadded base64url")]
    Ciphertext,
    /// The expiration is not empty nor a number of milliseconds without leading zeros, at most
    /// 2^53 - 1.
    #[error("the expiration is neither empty nor milliseconds since the epoch")]
    Expiration,
    /// The integrity salt is not 64 hex digits.
    #[error("the integrity salt is not 64 hex digits")]
    IntegritySalt,
    /// The MAC is not 32 bytes of unpadded base64url.
    #[error("the MAC is not 32 bytes of unpadded base64url")]
    Mac,
    /// Something after `~` that is not a version number.
    #[error("the version suffix is not `~` followed by digits")]
    Suffix,
}

/// Seals and unseals with a [`PasswordMap`].
///
/// ```
/// use workos_authz::authkit::{Iron, Password, Ttl};
///
/// let iron = Iron::new(Password::new("a password of at least thirty-two characters")?);
/// let seal = iron.seal(b"hello", Ttl::SESSION)?;
/// assert!(seal.starts_with("Fe26.2*1*") && seal.ends_with("~2"));
/// assert_eq!(iron.unseal(&seal)?, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Iron {
    passwords: PasswordMap,
}

impl Iron {
    /// Seals with `passwords`' sealing id, unseals with any of its ids.
    pub fn new(passwords: impl Into<PasswordMap>) -> Iron {
        Iron {
            passwords: passwords.into(),
        }
    }

    /// The passwords.
    pub fn passwords(&self) -> &PasswordMap {
        &self.passwords
    }

    /// Seals `plaintext` (any bytes) now.
    pub fn seal(&self, plaintext: &[u8], ttl: Ttl) -> Result<String, SealError> {
        self.seal_at(plaintext, ttl, SystemTime::now())
    }

    /// Seals `plaintext` as if the time were `now` (which only sets the expiration).
    pub fn seal_at(
        &self,
        plaintext: &[u8],
        ttl: Ttl,
        now: SystemTime,
    ) -> Result<String, SealError> {
        let randomness = Randomness::fresh()?;
        self.seal_with(plaintext, ttl, now, &randomness)
    }

    /// Serializes `value` as JSON (what the JS SDKs seal) and seals it now.
    pub fn seal_json<T: Serialize + ?Sized>(
        &self,
        value: &T,
        ttl: Ttl,
    ) -> Result<String, SealError> {
        self.seal_json_at(value, ttl, SystemTime::now())
    }

    /// [`Iron::seal_json`] as if the time were `now`.
    pub fn seal_json_at<T: Serialize + ?Sized>(
        &self,
        value: &T,
        ttl: Ttl,
        now: SystemTime,
    ) -> Result<String, SealError> {
        let plaintext = serde_json::to_vec(value).map_err(SealError::Serialize)?;
        self.seal_at(&plaintext, ttl, now)
    }

    /// Unseals `seal` now: its plaintext bytes, or why it was refused.
    pub fn unseal(&self, seal: &str) -> Result<Vec<u8>, UnsealError> {
        self.unseal_at(seal, SystemTime::now())
    }

    /// Unseals `seal` as if the time were `now` (which only decides expiry).
    pub fn unseal_at(&self, seal: &str, now: SystemTime) -> Result<Vec<u8>, UnsealError> {
        let parsed = parse(seal)?;
        let password = self.passwords.get(parsed.password_id).ok_or_else(|| {
            UnsealError::UnknownPasswordId {
                id: parsed.password_id.to_owned(),
            }
        })?;

        let integrity_key = derive_key(password, parsed.integrity_salt);
        let integrity_key = hmac::Key::new(hmac::HMAC_SHA256, &integrity_key);
        // aws-lc-rs compares the tags in constant time.
        hmac::verify(&integrity_key, parsed.mac_base.as_bytes(), &parsed.mac)
            .map_err(|_| UnsealError::BadMac)?;

        // Checked after the MAC, so "expired" is only ever said of an authentic seal.
        if let Some(expires_at_ms) = parsed.expires_at_ms
            && expires_at_ms <= unix_ms(now).saturating_sub(SKEW_MS)
        {
            return Err(UnsealError::Expired {
                // Before `now`, so representable; `now` only as a fallback that cannot panic.
                expired_at: UNIX_EPOCH
                    .checked_add(Duration::from_millis(expires_at_ms))
                    .unwrap_or(now),
            });
        }

        let encryption_key = derive_key(password, parsed.encryption_salt);
        let key = UnboundCipherKey::new(&AES_256, &encryption_key)
            .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
            .map_err(|_| UnsealError::Decrypt)?;
        let mut buffer = parsed.ciphertext;
        let plaintext_length = key
            .decrypt(&mut buffer, DecryptionContext::Iv128(parsed.iv.into()))
            .map_err(|_| UnsealError::Decrypt)?
            .len();
        buffer.truncate(plaintext_length);
        Ok(buffer)
    }

    /// Unseals `seal` now and reads its JSON as a `T`.
    pub fn unseal_json<T: DeserializeOwned>(&self, seal: &str) -> Result<T, UnsealError> {
        self.unseal_json_at(seal, SystemTime::now())
    }

    /// [`Iron::unseal_json`] as if the time were `now`.
    pub fn unseal_json_at<T: DeserializeOwned>(
        &self,
        seal: &str,
        now: SystemTime,
    ) -> Result<T, UnsealError> {
        let plaintext = self.unseal_at(seal, now)?;
        serde_json::from_slice(&plaintext).map_err(|error| UnsealError::Json {
            kind: match error.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "eof",
            },
            line: error.line(),
            column: error.column(),
        })
    }

    fn seal_with(
        &self,
        plaintext: &[u8],
        ttl: Ttl,
        now: SystemTime,
        randomness: &Randomness,
    ) -> Result<String, SealError> {
        let expiration = match ttl {
            Ttl::Never => String::new(),
            Ttl::After(ttl) => {
                let ttl_ms =
                    u64::try_from(ttl.as_millis()).map_err(|_| SealError::TtlOutOfRange)?;
                let expires_at_ms = unix_ms(now)
                    .checked_add(ttl_ms)
                    .filter(|ms| *ms <= MAX_EXPIRATION_MS)
                    .ok_or(SealError::TtlOutOfRange)?;
                // At least 1: iron reads an expiration without leading zeros.
                expires_at_ms.max(1).to_string()
            }
        };
        let id = self.passwords.sealing_id();

        // The exact length, known before any work: a seal unseal would refuse is never made.
        // (The first test keeps the arithmetic below far from overflow on any target.)
        if plaintext.len() > MAX_SEAL_LENGTH {
            return Err(SealError::TooLarge {
                length: plaintext.len(),
                max: MAX_SEAL_LENGTH,
            });
        }
        let ciphertext_length = (plaintext.len() / AES_BLOCK + 1) * AES_BLOCK;
        let length = [
            PREFIX.len(),
            id.len(),
            SALT_HEX_LENGTH,
            base64_length(IV_BYTES),
            base64_length(ciphertext_length),
            expiration.len(),
            SALT_HEX_LENGTH,
            base64_length(MAC_BYTES),
        ]
        .iter()
        .sum::<usize>()
            + 7
            + VERSION_SUFFIX.len();
        if length > MAX_SEAL_LENGTH {
            return Err(SealError::TooLarge {
                length,
                max: MAX_SEAL_LENGTH,
            });
        }

        let password = self.passwords.sealing_password();
        let encryption_key = derive_key(password, &randomness.encryption_salt);
        let key = UnboundCipherKey::new(&AES_256, &encryption_key)
            .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
            .map_err(|_| SealError::Encrypt)?;
        let mut ciphertext = Vec::with_capacity(ciphertext_length);
        ciphertext.extend_from_slice(plaintext);
        key.less_safe_encrypt(
            &mut ciphertext,
            EncryptionContext::Iv128(randomness.iv.into()),
        )
        .map_err(|_| SealError::Encrypt)?;

        let mut seal = String::with_capacity(length);
        for (index, field) in [
            PREFIX,
            id,
            &randomness.encryption_salt,
            &URL_SAFE_NO_PAD.encode(randomness.iv),
            &URL_SAFE_NO_PAD.encode(&ciphertext),
            &expiration,
        ]
        .into_iter()
        .enumerate()
        {
            if index > 0 {
                seal.push('*');
            }
            seal.push_str(field);
        }
        let integrity_key = derive_key(password, &randomness.integrity_salt);
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &integrity_key),
            seal.as_bytes(),
        );
        seal.push('*');
        seal.push_str(&randomness.integrity_salt);
        seal.push('*');
        seal.push_str(&URL_SAFE_NO_PAD.encode(mac.as_ref()));
        seal.push_str(VERSION_SUFFIX);
        debug_assert_eq!(seal.len(), length);
        Ok(seal)
    }
}

/// The random parts of one seal.
struct Randomness {
    encryption_salt: String,
    iv: [u8; IV_BYTES],
    integrity_salt: String,
}

impl Randomness {
    /// Straight from aws-lc-rs: unlike `support::random_bytes`, no fallback, since a predictable
    /// IV or salt is worse than no seal.
    fn fresh() -> Result<Randomness, SealError> {
        let mut encryption_salt = [0u8; SALT_BYTES];
        let mut iv = [0u8; IV_BYTES];
        let mut integrity_salt = [0u8; SALT_BYTES];
        for bytes in [
            &mut encryption_salt[..],
            &mut iv[..],
            &mut integrity_salt[..],
        ] {
            rand::fill(bytes).map_err(|_| SealError::Random)?;
        }
        Ok(Randomness {
            encryption_salt: support::hex(&encryption_salt),
            iv,
            integrity_salt: support::hex(&integrity_salt),
        })
    }
}

/// A seal's fields, each checked for shape (nothing authenticated yet).
struct Parsed<'a> {
    mac_base: &'a str,
    password_id: &'a str,
    encryption_salt: &'a str,
    iv: [u8; IV_BYTES],
    ciphertext: Vec<u8>,
    expires_at_ms: Option<u64>,
    integrity_salt: &'a str,
    mac: [u8; MAC_BYTES],
}

fn parse(seal: &str) -> Result<Parsed<'_>, UnsealError> {
    if seal.len() > MAX_SEAL_LENGTH {
        return Err(UnsealError::TooLarge {
            length: seal.len(),
            max: MAX_SEAL_LENGTH,
        });
    }
    // No field of a seal can hold `~`, so the first one starts the suffix.
    let core = match seal.split_once('~') {
        None => seal,
        Some((core, "2")) => core,
        Some((_, version))
            if (1..=9).contains(&version.len()) && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            return Err(UnsealError::UnsupportedVersion {
                version: version.to_owned(),
            });
        }
        Some(_) => return Err(MalformedSeal::Suffix.into()),
    };

    let fields = core.split('*').count();
    let mut parts = core.split('*');
    let (
        Some(prefix),
        Some(password_id),
        Some(encryption_salt),
        Some(iv),
        Some(ciphertext),
        Some(expiration),
        Some(integrity_salt),
        Some(mac_field),
        None,
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return Err(MalformedSeal::FieldCount(fields).into());
    };

    if prefix != PREFIX {
        return Err(MalformedSeal::Prefix.into());
    }
    let password_id = match password_id {
        "" => DEFAULT_PASSWORD_ID,
        id if is_password_id(id) => id,
        _ => return Err(MalformedSeal::PasswordId.into()),
    };
    if !is_salt(encryption_salt) {
        return Err(MalformedSeal::EncryptionSalt.into());
    }
    let iv = decode_fixed::<IV_BYTES>(iv).ok_or(MalformedSeal::Iv)?;
    let ciphertext = URL_SAFE_NO_PAD
        .decode(ciphertext)
        .ok()
        .filter(|bytes| !bytes.is_empty() && bytes.len() % AES_BLOCK == 0)
        .ok_or(MalformedSeal::Ciphertext)?;
    let expires_at_ms = match expiration {
        "" => None,
        digits => Some(parse_expiration(digits).ok_or(MalformedSeal::Expiration)?),
    };
    if !is_salt(integrity_salt) {
        return Err(MalformedSeal::IntegritySalt.into());
    }
    let mac = decode_fixed::<MAC_BYTES>(mac_field).ok_or(MalformedSeal::Mac)?;

    // The six fields before the integrity salt, exactly as they stand in the seal.
    let mac_base_length = core.len() - integrity_salt.len() - mac_field.len() - 2;
    Ok(Parsed {
        mac_base: &core[..mac_base_length],
        password_id,
        encryption_salt,
        iv,
        ciphertext,
        expires_at_ms,
        integrity_salt,
        mac,
    })
}

/// Hex text of 32 bytes. Either case is read: the salt is used as text, so a case change is a
/// different salt and fails the MAC like any other change.
fn is_salt(field: &str) -> bool {
    field.len() == SALT_HEX_LENGTH && field.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Milliseconds since the epoch, as iron-webcrypto 2 reads them (`^[1-9]\d*$`), up to what
/// JavaScript holds exactly (no JS sealer writes more).
fn parse_expiration(digits: &str) -> Option<u64> {
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|ms| *ms <= MAX_EXPIRATION_MS)
}

/// Canonical unpadded base64url of exactly `N` bytes.
fn decode_fixed<const N: usize>(field: &str) -> Option<[u8; N]> {
    if field.len() != base64_length(N) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(field).ok()?.try_into().ok()
}

/// Length of `bytes` bytes in unpadded base64.
const fn base64_length(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// PBKDF2-HMAC-SHA1, 1 iteration, over the salt's text: iron's key derivation.
fn derive_key(password: &Password, salt: &str) -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA1,
        NonZeroU32::MIN,
        salt.as_bytes(),
        password.as_bytes(),
        &mut key,
    );
    key
}

fn unix_ms(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const FIXTURES: &str = include_str!("../../tests/fixtures/iron/js-seals.json");

    fn fixtures() -> Value {
        serde_json::from_str(FIXTURES).unwrap()
    }

    fn password(text: &str) -> Password {
        Password::new(text).unwrap()
    }

    fn iron() -> Iron {
        Iron::new(password("0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn byte_equal_with_iron_webcrypto_for_the_same_salts_and_iv() {
        let fixtures = fixtures();
        let golden = fixtures["golden"].as_array().unwrap();
        assert_eq!(golden.len(), 3);
        for case in golden {
            let text = |key: &str| case[key].as_str().unwrap().to_owned();
            let iron = Iron::new(password(&text("password")));
            let iv = (0..IV_BYTES)
                .map(|i| u8::from_str_radix(&text("iv_hex")[i * 2..i * 2 + 2], 16).unwrap())
                .collect::<Vec<_>>();
            let randomness = Randomness {
                encryption_salt: text("encryption_salt"),
                iv: iv.try_into().unwrap(),
                integrity_salt: text("integrity_salt"),
            };
            let ours = iron
                .seal_with(
                    text("plaintext").as_bytes(),
                    Ttl::Never,
                    SystemTime::now(),
                    &randomness,
                )
                .unwrap();
            assert_eq!(ours, text("seal"), "{}", text("name"));
            assert_eq!(iron.unseal(&ours).unwrap(), text("plaintext").as_bytes());
        }
    }

    #[test]
    fn password_length_is_counted_as_javascript_counts_it() {
        let fixtures = fixtures();
        let checks = fixtures["password_checks"].as_array().unwrap();
        assert!(checks.len() >= 8);
        for check in checks {
            let text = check["password"].as_str().unwrap();
            let accepted = check["accepted"].as_bool().unwrap();
            assert_eq!(Password::new(text).is_ok(), accepted, "{text:?}");
        }
        assert!(matches!(
            Password::new("x".repeat(31)),
            Err(PasswordError::TooShort)
        ));
        assert!(Password::new("x".repeat(32)).is_ok());
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let secret = "super-secret-password-value-0123456789";
        let map = PasswordMap::new([("1", password(secret)), ("2", password(secret))]).unwrap();
        let iron = Iron::new(map.clone());
        for shown in [
            format!("{:?}", password(secret)),
            format!("{map:?}"),
            format!("{iron:?}"),
            format!("{iron:#?}"),
        ] {
            assert!(!shown.contains("super-secret"), "{shown}");
        }
        assert_eq!(
            format!("{map:?}"),
            r#"PasswordMap { ids: ["1", "2"], sealing_id: "2" }"#
        );
    }

    #[test]
    fn maps_seal_with_the_highest_numeric_id() {
        let p = || password("0123456789abcdef0123456789abcdef");
        let map = PasswordMap::new([("9", p()), ("10", p()), ("1", p()), ("key_a", p())]).unwrap();
        assert_eq!(map.sealing_id(), "10");
        assert_eq!(map.ids().collect::<Vec<_>>(), ["1", "10", "9", "key_a"]);
        // `01` is not the number 1 to iron-session's lookup, so it never wins.
        let map = PasswordMap::new([("01", p()), ("0", p())]).unwrap();
        assert_eq!(map.sealing_id(), "0");
        assert!(matches!(
            PasswordMap::new([("key_a", p()), ("key_b", p())]),
            Err(PasswordError::NoNumericId)
        ));
        // Alone, any id seals (`default` reads iron-webcrypto's seals without an id).
        assert_eq!(
            PasswordMap::new([("default", p())]).unwrap().sealing_id(),
            "default"
        );
        let named = PasswordMap::new([("key_a", p()), ("1", p())])
            .unwrap()
            .sealing_with("key_a")
            .unwrap();
        assert_eq!(named.sealing_id(), "key_a");
        assert!(
            iron_with(named)
                .seal(b"x", Ttl::Never)
                .unwrap()
                .starts_with("Fe26.2*key_a*")
        );
        assert!(matches!(
            PasswordMap::single(p()).sealing_with("2"),
            Err(PasswordError::UnknownId { id }) if id == "2"
        ));
    }

    fn iron_with(map: PasswordMap) -> Iron {
        Iron::new(map)
    }

    #[test]
    fn password_ids_follow_iron_rules() {
        let p = || password("0123456789abcdef0123456789abcdef");
        for bad in ["", "a-b", "a b", "ü", "a*b", "a~b", &"1".repeat(65)] {
            assert!(
                matches!(
                    PasswordMap::new([(bad, p())]),
                    Err(PasswordError::InvalidId { .. })
                ),
                "{bad:?}"
            );
        }
        // 64 digits are a valid id, but too big a number to seal with (as in iron-session).
        let long = PasswordMap::new([("1".repeat(64), p()), ("2".to_owned(), p())]).unwrap();
        assert_eq!(long.sealing_id(), "2");
        assert!(matches!(
            PasswordMap::new([("1", p()), ("1", p())]),
            Err(PasswordError::DuplicateId { id }) if id == "1"
        ));
        assert!(matches!(
            PasswordMap::new(Vec::<(String, Password)>::new()),
            Err(PasswordError::Empty)
        ));
    }

    #[test]
    fn the_expiration_is_milliseconds_after_now_and_honoured_with_the_skew() {
        let iron = iron();
        let now = UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let seal = iron.seal_at(b"state", Ttl::SIGN_IN_STATE, now).unwrap();
        let expiration = seal.split('*').nth(5).unwrap();
        assert_eq!(expiration, "1796000600123");
        let expires = UNIX_EPOCH + Duration::from_millis(1_796_000_600_123);
        for ok in [
            now,
            expires,
            expires + TIMESTAMP_SKEW - Duration::from_millis(1),
        ] {
            assert_eq!(iron.unseal_at(&seal, ok).unwrap(), b"state");
        }
        for late in [
            expires + TIMESTAMP_SKEW,
            expires + Duration::from_secs(86_400),
        ] {
            assert!(matches!(
                iron.unseal_at(&seal, late),
                Err(UnsealError::Expired { expired_at }) if expired_at == expires
            ));
        }
        // Sessions carry no expiration and are read at any time.
        let session = iron.seal_at(b"session", Ttl::SESSION, now).unwrap();
        assert_eq!(session.split('*').nth(5).unwrap(), "");
        let far = now + Duration::from_secs(100 * 365 * 86_400);
        assert_eq!(iron.unseal_at(&session, far).unwrap(), b"session");
    }

    #[test]
    fn ttls_beyond_javascript_numbers_are_refused() {
        let iron = iron();
        assert!(matches!(
            iron.seal(b"x", Ttl::After(Duration::from_secs(u64::MAX))),
            Err(SealError::TtlOutOfRange)
        ));
        assert!(matches!(
            iron.seal(b"x", Ttl::After(Duration::from_millis(MAX_EXPIRATION_MS))),
            Err(SealError::TtlOutOfRange)
        ));
        let zero = iron
            .seal_at(b"x", Ttl::After(Duration::ZERO), UNIX_EPOCH)
            .unwrap();
        assert_eq!(zero.split('*').nth(5).unwrap(), "1");
    }

    #[test]
    fn seals_unseal_would_refuse_are_never_made() {
        let iron = iron();
        // The largest plaintext whose seal fits, and one block more.
        let mut fits = 0;
        for len in (40_000..50_000).step_by(16) {
            match iron.seal(&vec![b'a'; len], Ttl::Never) {
                Ok(seal) => {
                    assert!(seal.len() <= MAX_SEAL_LENGTH);
                    assert_eq!(iron.unseal(&seal).unwrap().len(), len);
                    fits = len;
                }
                Err(SealError::TooLarge { length, max }) => {
                    assert!(length > MAX_SEAL_LENGTH && max == MAX_SEAL_LENGTH);
                    assert!(fits > 0);
                    return;
                }
                Err(other) => panic!("{other}"),
            }
        }
        panic!("no plaintext in range was too large");
    }

    #[test]
    fn the_mac_base_is_the_first_six_fields() {
        let iron = iron();
        let seal = iron.seal(b"x", Ttl::Never).unwrap();
        let core = seal.strip_suffix("~2").unwrap();
        let parsed = parse(&seal).unwrap();
        let six = core.split('*').take(6).collect::<Vec<_>>().join("*");
        assert_eq!(parsed.mac_base, six);
    }

    #[test]
    fn json_errors_keep_only_the_position() {
        let iron = iron();
        let seal = iron
            .seal_json(
                &serde_json::json!({"accessToken": "secret-token-value"}),
                Ttl::Never,
            )
            .unwrap();
        let error = iron.unseal_json::<u64>(&seal).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(
            matches!(error, UnsealError::Json { kind: "data", .. }),
            "{shown}"
        );
        assert!(!shown.contains("secret-token-value"), "{shown}");
    }
}
