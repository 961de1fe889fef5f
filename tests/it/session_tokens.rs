//! Tokens through real routers on loopback: a corpus of bad tokens that must all be refused,
//! the valid token kinds that must be accepted, the typed claims a handler sees, and where the
//! layer looks for a token.

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as STANDARD_B64;
use jsonwebtoken::Algorithm;
use proptest::prelude::*;
use serde_json::{Value, json};
use workos_authz::session::{
    Actor, SessionClaims, TokenError, TokenSigner, TokenSource, VerificationKey,
};
use workos_authz::{Authz, Session, SessionVerifier};

use crate::common::*;

async fn me(session: Session) -> axum::Json<Value> {
    axum::Json(json!({ "user_id": session.user_id() }))
}

async fn maybe(session: Option<Session>) -> axum::Json<Value> {
    axum::Json(json!({ "user_id": session.as_ref().map(Session::user_id) }))
}

/// `/me` behind `authz.layer()` and `/maybe` behind `authz.optional_layer()`; returns the
/// base URL.
async fn serve_authz(authz: &Authz) -> String {
    let app = Router::new()
        .route("/me", get(me).layer(authz.layer()))
        .route("/maybe", get(maybe).layer(authz.optional_layer()));
    format!("http://{}", serve(app).await)
}

// ---------------------------------------------------------------------------------------------
// The corpus of bad tokens
// ---------------------------------------------------------------------------------------------

/// Which setups a case is sent to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// Every setup but the ES256-only one: strict (RS256 from the JWKS), permissive (RS*,
    /// PS256, ES256, HS256, EdDSA from the JWKS, whose keys pin their `alg`) and unpinned
    /// (the same algorithms, static PEM keys that pin nothing).
    All,
    /// Only the setups whose keys come from the JWKS, which pins each key's `alg`.
    Jwks,
    /// The setup whose algorithm allowlist is ES256 only.
    Es256Only,
}

impl Target {
    fn includes(self, setup: Setup) -> bool {
        match self {
            Target::All => setup != Setup::Es256Only,
            Target::Jwks => matches!(setup, Setup::Strict | Setup::Permissive),
            Target::Es256Only => setup == Setup::Es256Only,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Setup {
    Strict,
    Permissive,
    Unpinned,
    Es256Only,
}

/// What the refusal looks like.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// 401 with `error="invalid_token"`.
    InvalidToken,
    /// 401 without `error`: the request carries no bearer credentials at all.
    NoCredentials,
}

struct Case {
    name: String,
    /// The request's headers, as sent.
    headers: Vec<(&'static str, String)>,
    /// What must never come back (the token, or what is in the place of one).
    secret: String,
    target: Target,
    expect: Expect,
}

impl Case {
    fn bearer(name: impl Into<String>, token: String) -> Self {
        Case {
            name: name.into(),
            headers: vec![("authorization", format!("Bearer {token}"))],
            secret: token,
            target: Target::All,
            expect: Expect::InvalidToken,
        }
    }

    fn only(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    fn request(&self, http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        self.headers
            .iter()
            .fold(http.get(url), |request, (name, value)| {
                request.header(*name, value.as_str())
            })
    }

    /// The token the case carries, when it is a single bearer token.
    fn token(&self) -> Option<&str> {
        match &self.headers[..] {
            [("authorization", value)] => value.strip_prefix("Bearer "),
            _ => None,
        }
    }
}

struct Keys {
    rsa: RsaKey,
    ec: EcKey,
    attacker_rsa_same_kid: RsaKey,
    attacker_rsa_fresh_kid: RsaKey,
    attacker_ec: EcKey,
    attacker_ed: EdKey,
    /// A JWKS server holding the attacker's keys: `jku`/`x5u` point here, and it must never be
    /// fetched.
    attacker_jwks: JwksServer,
}

struct Routers {
    /// Each setup, the base URL of its router, and its verifier.
    setups: Vec<(Setup, String, SessionVerifier)>,
    jwks: JwksServer,
}

impl Routers {
    fn for_target(
        &self,
        target: Target,
    ) -> impl Iterator<Item = &(Setup, String, SessionVerifier)> {
        self.setups
            .iter()
            .filter(move |(setup, _, _)| target.includes(*setup))
    }

    fn url(&self, setup: Setup) -> &str {
        &self.setups.iter().find(|(s, _, _)| *s == setup).unwrap().1
    }
}

async fn keys() -> Keys {
    let attacker_rsa_same_kid = RsaKey::generate("rsa-1");
    let attacker_rsa_fresh_kid = RsaKey::generate("attacker-1");
    let attacker_jwks = JwksServer::start(vec![
        attacker_rsa_same_kid.jwk(),
        attacker_rsa_fresh_kid.jwk(),
    ])
    .await;
    Keys {
        rsa: RsaKey::generate("rsa-1"),
        ec: EcKey::generate("ec-1"),
        attacker_rsa_same_kid,
        attacker_rsa_fresh_kid,
        attacker_ec: EcKey::generate("ec-1"),
        attacker_ed: EdKey::generate(),
        attacker_jwks,
    }
}

async fn routers(keys: &Keys) -> Routers {
    let jwks = JwksServer::start(vec![keys.rsa.jwk(), keys.ec.jwk()]).await;
    let build = |algorithms: Vec<Algorithm>| {
        SessionVerifier::builder()
            .jwks_url(&jwks.url)
            .algorithms(algorithms)
            .issuers([ISSUER])
            .audiences([AUDIENCE])
            .build()
            .unwrap()
    };
    let many = vec![
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::HS256,
        Algorithm::EdDSA,
    ];
    let unpinned = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(keys.rsa.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-1"),
        )
        .key(
            VerificationKey::ec_pem(keys.ec.public_pem.as_bytes())
                .unwrap()
                .with_kid("ec-1"),
        )
        .algorithms(many.clone())
        .issuers([ISSUER])
        .audiences([AUDIENCE])
        .build()
        .unwrap();
    let mut setups = Vec::new();
    for (setup, verifier) in [
        (Setup::Strict, build(vec![Algorithm::RS256])),
        (Setup::Permissive, build(many)),
        (Setup::Unpinned, unpinned),
        (Setup::Es256Only, build(vec![Algorithm::ES256])),
    ] {
        let authz = Authz::builder().verifier(verifier.clone()).build().unwrap();
        setups.push((setup, serve_authz(&authz).await, verifier));
    }
    Routers { setups, jwks }
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

fn corpus(k: &Keys) -> Vec<Case> {
    let rsa = &k.rsa;
    let good = || claims("user_alice");
    let rs256 = |kid: &str| json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let valid = rsa.sign(&good());
    let other_valid = rsa.sign(&claims("user_mallory"));
    let (h, p, s) = segments(&valid);
    let (_, _, other_s) = segments(&other_valid);
    let base = good();
    let payload = base.to_string();
    let exp_member = format!("\"exp\":{}", base["exp"]);
    assert!(payload.contains(&exp_member), "{payload}");
    let now = now();
    let attacker_jwk = k.attacker_rsa_same_kid.jwk();
    let attacker_fresh_jwk = k.attacker_rsa_fresh_kid.jwk();
    let attacker_x5c = STANDARD_B64.encode(&k.attacker_rsa_same_kid.public_der);
    let jku = k.attacker_jwks.url.clone();
    let same = &k.attacker_rsa_same_kid;
    let fresh = &k.attacker_rsa_fresh_kid;

    let mut cases = vec![
        // Algorithms.
        Case::bearer(
            "alg none, empty signature",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(payload.as_bytes())
            ),
        ),
        Case::bearer(
            "alg none with the real kid and a signature",
            with_signature(br#"{"alg":"none","kid":"rsa-1"}"#, payload.as_bytes(), &s),
        ),
        Case::bearer(
            "alg nOnE",
            with_signature(
                br#"{"alg":"nOnE","kid":"rsa-1"}"#,
                payload.as_bytes(),
                "AAAA",
            ),
        ),
        Case::bearer(
            "HS256 keyed with the RSA public key PEM",
            hmac_sign(
                rsa.public_pem.as_bytes(),
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &good(),
            ),
        ),
        Case::bearer(
            "HS256 keyed with the RSA public key DER",
            hmac_sign(
                &rsa.public_der,
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &good(),
            ),
        ),
        Case::bearer(
            "HS256 keyed with the RSA public JWK",
            hmac_sign(
                rsa.jwk().to_string().as_bytes(),
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &good(),
            ),
        ),
        Case::bearer(
            "HS256 keyed with the RSA modulus, no kid",
            hmac_sign(&unb64(&rsa.n), &json!({"alg": "HS256"}), &good()),
        ),
        Case::bearer(
            "HS256 keyed with an empty secret",
            hmac_sign(b"", &json!({"alg": "HS256", "kid": "rsa-1"}), &good()),
        ),
        Case::bearer(
            "header alg RS512 on an RS256 signature",
            with_signature(
                json!({"alg": "RS512", "kid": "rsa-1"})
                    .to_string()
                    .as_bytes(),
                payload.as_bytes(),
                &s,
            ),
        ),
        Case::bearer(
            "RS512 signed by the real key (the JWK pins RS256)",
            rsa.sign_alg(
                Algorithm::RS512,
                &json!({"alg": "RS512", "kid": "rsa-1"}),
                &good(),
            ),
        )
        .only(Target::Jwks),
        Case::bearer(
            "PS256 signed by the real key (the JWK pins RS256)",
            rsa.sign_alg(
                Algorithm::PS256,
                &json!({"alg": "PS256", "kid": "rsa-1"}),
                &good(),
            ),
        )
        .only(Target::Jwks),
        Case::bearer(
            "ES256 with the kid of the RSA key",
            k.ec.sign_header(&json!({"alg": "ES256", "kid": "rsa-1"}), &good()),
        ),
        Case::bearer(
            "RS256 with the kid of the EC key",
            rsa.sign_header(&rs256("ec-1"), &good()),
        ),
        Case::bearer(
            "ES256 by an attacker key with the real EC kid",
            k.attacker_ec.sign(&good()),
        ),
        Case::bearer(
            "EdDSA by an attacker key without kid",
            k.attacker_ed.sign_header(&json!({"alg": "EdDSA"}), &good()),
        ),
        Case::bearer(
            "alg lowercase rs256",
            rsa.sign_header(&json!({"alg": "rs256", "kid": "rsa-1"}), &good()),
        ),
        Case::bearer(
            "alg missing",
            rsa.sign_header(&json!({"kid": "rsa-1"}), &good()),
        ),
        Case::bearer(
            "alg a number",
            rsa.sign_header(&json!({"alg": 256, "kid": "rsa-1"}), &good()),
        ),
        // Key ids.
        Case::bearer("unknown kid", rsa.sign_header(&rs256("rsa-2"), &good())),
        Case::bearer(
            "kid with ../",
            rsa.sign_header(&rs256("../../../../etc/passwd"), &good()),
        ),
        Case::bearer("kid ../rsa-1", rsa.sign_header(&rs256("../rsa-1"), &good())),
        Case::bearer(
            "kid missing",
            rsa.sign_header(&json!({"alg": "RS256"}), &good()),
        ),
        Case::bearer(
            "kid a number",
            rsa.sign_header(&json!({"alg": "RS256", "kid": 1}), &good()),
        ),
        Case::bearer(
            "kid of 300 characters",
            rsa.sign_header(&rs256(&"k".repeat(300)), &good()),
        ),
        Case::bearer(
            "kid is the JWKS URL",
            rsa.sign_header(&rs256(&jku), &good()),
        ),
        // Keys named or embedded by the token.
        Case::bearer(
            "jku to an attacker JWKS, real kid",
            same.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "jku": jku}),
                &good(),
            ),
        ),
        Case::bearer(
            "jku to an attacker JWKS, fresh kid",
            fresh.sign_header(
                &json!({"alg": "RS256", "kid": "attacker-1", "jku": jku}),
                &good(),
            ),
        ),
        Case::bearer(
            "x5u to an attacker URL, real kid",
            same.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "x5u": jku}),
                &good(),
            ),
        ),
        Case::bearer(
            "x5u to an attacker URL, fresh kid",
            fresh.sign_header(
                &json!({"alg": "RS256", "kid": "attacker-1", "x5u": jku}),
                &good(),
            ),
        ),
        Case::bearer(
            "embedded jwk of the attacker, real kid",
            same.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_jwk}),
                &good(),
            ),
        ),
        Case::bearer(
            "embedded jwk of the attacker, fresh kid",
            fresh.sign_header(
                &json!({"alg": "RS256", "kid": "attacker-1", "jwk": attacker_fresh_jwk}),
                &good(),
            ),
        ),
        Case::bearer(
            "embedded jwk, no kid",
            fresh.sign_header(&json!({"alg": "RS256", "jwk": attacker_fresh_jwk}), &good()),
        ),
        Case::bearer(
            "x5c of the attacker, real kid",
            same.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "x5c": [attacker_x5c]}),
                &good(),
            ),
        ),
        Case::bearer(
            "x5c of the attacker, fresh kid",
            fresh.sign_header(
                &json!({"alg": "RS256", "kid": "attacker-1", "x5c": [attacker_x5c]}),
                &good(),
            ),
        ),
        Case::bearer(
            "crit header, signed by the real key",
            rsa.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}),
                &good(),
            ),
        ),
        Case::bearer(
            "crit header, empty list",
            rsa.sign_header(
                &json!({"alg": "RS256", "kid": "rsa-1", "crit": []}),
                &good(),
            ),
        ),
        // Signatures.
        Case::bearer(
            "signature by another key with the right kid",
            same.sign(&good()),
        ),
        Case::bearer(
            "signature of another token spliced on",
            format!("{h}.{p}.{other_s}"),
        ),
        Case::bearer("payload modified after signing", {
            let forged = with(good(), "org_id", json!("org_globex"));
            format!("{h}.{}.{s}", b64(forged.to_string().as_bytes()))
        }),
        Case::bearer("header modified after signing", {
            let header = json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"});
            format!("{}.{p}.{s}", b64(header.to_string().as_bytes()))
        }),
        Case::bearer("signature stripped", format!("{h}.{p}.")),
        Case::bearer("signature of one byte", format!("{h}.{p}.AA")),
        Case::bearer("signature with = padding", format!("{h}.{p}.{s}=")),
        Case::bearer("signature with non-canonical trailing bits", {
            // 256 bytes in 342 characters leave 4 unused bits in the last one.
            let mut chars: Vec<char> = s.chars().collect();
            let last = chars.last_mut().unwrap();
            let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let index = alphabet.find(*last).unwrap();
            *last = alphabet.as_bytes()[index ^ 1] as char;
            format!("{h}.{p}.{}", chars.into_iter().collect::<String>())
        }),
        // Time and audience.
        Case::bearer("expired", rsa.sign(&with(good(), "exp", json!(now - 10)))),
        Case::bearer("expired long ago", rsa.sign(&with(good(), "exp", json!(1)))),
        Case::bearer(
            "nbf in the future",
            rsa.sign(&with(good(), "nbf", json!(now + 600))),
        ),
        Case::bearer(
            "iat in the future",
            rsa.sign(&with(good(), "iat", json!(now + 600))),
        ),
        Case::bearer(
            "wrong issuer",
            rsa.sign(&with(good(), "iss", json!("https://evil.example"))),
        ),
        Case::bearer(
            "issuer with a trailing slash",
            rsa.sign(&with(good(), "iss", json!(format!("{ISSUER}/")))),
        ),
        Case::bearer("issuer missing", rsa.sign(&without(good(), "iss"))),
        Case::bearer(
            "issuer an array",
            rsa.sign(&with(good(), "iss", json!([ISSUER]))),
        ),
        Case::bearer(
            "wrong audience",
            rsa.sign(&with(good(), "aud", json!("client_other"))),
        ),
        Case::bearer(
            "audience list without ours",
            rsa.sign(&with(good(), "aud", json!(["a", "b"]))),
        ),
        Case::bearer("audience missing", rsa.sign(&without(good(), "aud"))),
        Case::bearer(
            "audience a number",
            rsa.sign(&with(good(), "aud", json!(1))),
        ),
        Case::bearer(
            "exp as a string",
            rsa.sign(&with(good(), "exp", json!((now + 3600).to_string()))),
        ),
        Case::bearer(
            "nbf as a string",
            rsa.sign(&with(good(), "nbf", json!(now.to_string()))),
        ),
        Case::bearer(
            "iat as a string",
            rsa.sign(&with(good(), "iat", json!(now.to_string()))),
        ),
        Case::bearer("exp missing", rsa.sign(&without(good(), "exp"))),
        Case::bearer(
            "exp as a float",
            rsa.sign(&with(good(), "exp", json!((now + 3600) as f64 + 0.5))),
        ),
        Case::bearer("exp negative", rsa.sign(&with(good(), "exp", json!(-1)))),
        Case::bearer("exp null", rsa.sign(&with(good(), "exp", Value::Null))),
        Case::bearer(
            "exp beyond u64",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                payload.replace(&exp_member, "\"exp\":1e30").as_bytes(),
            ),
        ),
        // Duplicates: refused, never last-one-wins.
        Case::bearer(
            "duplicate org_id claim",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                payload
                    .replacen('{', r#"{"org_id":"org_globex","#, 1)
                    .as_bytes(),
            ),
        ),
        Case::bearer(
            "duplicate exp claim, the first one expired",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                payload.replacen('{', r#"{"exp":1,"#, 1).as_bytes(),
            ),
        ),
        Case::bearer(
            "duplicate permissions claim",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                payload
                    .replacen('{', r#"{"permissions":["admin:*"],"#, 1)
                    .as_bytes(),
            ),
        ),
        Case::bearer(
            "duplicate member inside act",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                payload
                    .replacen('{', r#"{"act":{"sub":"a","sub":"b"},"#, 1)
                    .as_bytes(),
            ),
        ),
        Case::bearer(
            "duplicate alg header",
            rsa.sign_bytes(
                br#"{"alg":"none","kid":"rsa-1","alg":"RS256"}"#,
                payload.as_bytes(),
            ),
        ),
        Case::bearer(
            "duplicate kid header",
            rsa.sign_bytes(
                br#"{"alg":"RS256","kid":"unknown","kid":"rsa-1"}"#,
                payload.as_bytes(),
            ),
        ),
        // Shapes and encodings.
        Case::bearer("truncated signature", valid[..valid.len() - 10].to_owned()),
        Case::bearer("truncated to header and payload", format!("{h}.{p}")),
        Case::bearer("truncated in the header", valid[..h.len() / 2].to_owned()),
        Case::bearer(
            "bad base64: * in the payload",
            format!("{h}.*{}.{s}", &p[1..]),
        ),
        Case::bearer(
            "bad base64: = padding on the header",
            format!("{h}=.{p}.{s}"),
        ),
        Case::bearer("bad base64: standard alphabet", {
            let h2 = STANDARD_B64.encode(unb64(&h));
            format!("{h2}.{p}.{s}").replace('-', "+").replace('_', "/")
        }),
        Case::bearer(
            "bad base64: * in the payload, signed",
            rsa.sign_segments(&h, &format!("*{}", &p[1..])),
        ),
        Case::bearer(
            "bad base64: = padding on the payload, signed",
            rsa.sign_segments(&h, &format!("{p}=")),
        ),
        Case::bearer("bad base64: standard alphabet payload, signed", {
            // Twelve `~` in a row always yield a `+` in the standard alphabet.
            let claims = with(good(), "note", json!("~~~~~~~~~~~~")).to_string();
            let standard = STANDARD_B64.encode(claims.as_bytes());
            assert!(standard.contains('+'), "{standard}");
            rsa.sign_segments(&h, &standard)
        }),
        Case::bearer(
            "bad base64: whitespace in the payload, signed",
            rsa.sign_segments(&h, &format!("{} {}", &p[..8], &p[8..])),
        ),
        Case::bearer("two dots only, empty segments", "..".to_owned()),
        Case::bearer("four segments", format!("{valid}.AAAA")),
        Case::bearer(
            "five segments (JWE shape)",
            format!("{h}.AAAA.AAAA.{p}.{s}"),
        ),
        Case::bearer("leading dot", format!(".{valid}")),
        Case::bearer(
            "JWS JSON serialization",
            json!({"payload": p, "protected": h, "signature": s})
                .to_string()
                .replace(' ', ""),
        ),
        Case::bearer(
            "9 KiB token",
            rsa.sign(&with(good(), "padding", json!("x".repeat(9 * 1024)))),
        ),
        Case::bearer(
            "payload a JSON array",
            rsa.sign_bytes(rs256("rsa-1").to_string().as_bytes(), b"[1,2,3]"),
        ),
        Case::bearer(
            "payload a JSON string",
            rsa.sign_bytes(rs256("rsa-1").to_string().as_bytes(), br#""user_alice""#),
        ),
        Case::bearer(
            "payload not JSON",
            rsa.sign_bytes(rs256("rsa-1").to_string().as_bytes(), b"sub=user_alice"),
        ),
        Case::bearer(
            "header not UTF-8",
            rsa.sign_bytes(
                b"{\"alg\":\"RS256\",\"kid\":\"rsa-1\xff\xfe\"}",
                payload.as_bytes(),
            ),
        ),
        Case::bearer(
            "payload not UTF-8",
            rsa.sign_bytes(
                rs256("rsa-1").to_string().as_bytes(),
                &[b"{\"x\":\"\xff\xfe\",".as_slice(), &payload.as_bytes()[1..]].concat(),
            ),
        ),
        Case::bearer(
            "header a JSON array",
            rsa.sign_bytes(br#"["RS256","rsa-1"]"#, payload.as_bytes()),
        ),
        Case::bearer(
            "header not JSON",
            rsa.sign_bytes(b"RS256", payload.as_bytes()),
        ),
        // Claims of the wrong shape.
        Case::bearer("sub missing", rsa.sign(&without(good(), "sub"))),
        Case::bearer("sub empty", rsa.sign(&with(good(), "sub", json!("")))),
        Case::bearer("sub a number", rsa.sign(&with(good(), "sub", json!(42)))),
        Case::bearer(
            "org_id a number",
            rsa.sign(&with(good(), "org_id", json!(7))),
        ),
        Case::bearer(
            "permissions a string",
            rsa.sign(&with(good(), "permissions", json!("posts:read"))),
        ),
        Case::bearer(
            "roles an object",
            rsa.sign(&with(good(), "roles", json!({"admin": true}))),
        ),
        Case::bearer(
            "act without sub",
            rsa.sign(&with(good(), "act", json!({"reason": "x"}))),
        ),
    ];

    // Transport: what the Authorization header holds.
    let raw = |name: &str, headers: Vec<(&'static str, String)>, secret: &str, expect| Case {
        name: name.to_owned(),
        headers,
        secret: secret.to_owned(),
        target: Target::All,
        expect,
    };
    cases.extend([
        raw(
            "empty bearer",
            vec![("authorization", "Bearer ".into())],
            "",
            Expect::InvalidToken,
        ),
        raw(
            "Bearer alone",
            vec![("authorization", "Bearer".into())],
            "",
            Expect::InvalidToken,
        ),
        raw(
            "two Authorization headers with valid tokens",
            vec![
                ("authorization", format!("Bearer {valid}")),
                ("authorization", format!("Bearer {other_valid}")),
            ],
            &valid,
            Expect::InvalidToken,
        ),
        raw(
            "two tokens in one Authorization header",
            vec![(
                "authorization",
                format!("Bearer {valid}, Bearer {other_valid}"),
            )],
            &valid,
            Expect::InvalidToken,
        ),
        raw(
            "non-ASCII bytes in the Authorization header",
            vec![("authorization", format!("Bearer {valid}\u{e9}"))],
            &valid,
            Expect::InvalidToken,
        ),
        raw(
            "a token with a space inside",
            vec![("authorization", format!("Bearer {h}.{p} .{s}"))],
            &s,
            Expect::InvalidToken,
        ),
        // "Bearer<token>" is not the Bearer scheme at all: an unknown scheme carries no bearer
        // credentials, so this is the "no token" 401 (RFC 6750 §3.1), not `invalid_token`.
        raw(
            "Bearer with no space",
            vec![("authorization", format!("Bearer{valid}"))],
            &valid,
            Expect::NoCredentials,
        ),
    ]);

    cases.push(Case {
        name: "RS256 with an algorithm allowlist of only ES256".into(),
        target: Target::Es256Only,
        ..Case::bearer("", valid.clone())
    });
    cases
}

/// The routers work: without these, a corpus of refusals would prove nothing.
async fn assert_routers_accept_good_tokens(keys: &Keys, routers: &Routers, http: &reqwest::Client) {
    let rs = keys.rsa.sign(&claims("user_ok"));
    let es = keys.ec.sign(&claims("user_ok"));
    for (setup, token) in [
        (Setup::Strict, &rs),
        (Setup::Permissive, &rs),
        (Setup::Permissive, &es),
        (Setup::Unpinned, &rs),
        (Setup::Unpinned, &es),
        (Setup::Es256Only, &es),
    ] {
        let url = routers.url(setup);
        let reply = get_bearer(http, &format!("{url}/me"), token).await;
        assert_eq!(
            reply.status, 200,
            "control token refused by {url}: {reply:?}"
        );
        assert_eq!(reply.json()["user_id"], "user_ok");
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_invalid_token() {
    let keys = keys().await;
    let routers = routers(&keys).await;
    let http = client();
    assert_routers_accept_good_tokens(&keys, &routers, &http).await;

    let corpus = corpus(&keys);
    assert!(corpus.len() >= 30, "{} cases", corpus.len());
    let mut failures = Vec::new();
    for case in &corpus {
        for (setup, url, _) in routers.for_target(case.target) {
            let reply = send(case.request(&http, &format!("{url}/me"))).await;
            let context = format!("{} via {setup:?}", case.name);
            // CORPUS_DUMP=1 prints why each case was refused, to check it is refused for the
            // reason it was written for.
            if std::env::var("CORPUS_DUMP").is_ok() {
                eprintln!("{context}: {} {}", reply.status, reply.json()["detail"]);
            }
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match case.expect {
                    Expect::InvalidToken => assert_invalid_token(&reply, &case.secret, &context),
                    Expect::NoCredentials => {
                        assert_missing_token(&reply, &context);
                        assert_no_echo(&reply, &case.secret, &context);
                    }
                }));
            if outcome.is_err() {
                failures.push(format!(
                    "{context}: {} {:?} {}",
                    reply.status,
                    reply.challenge(),
                    reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases not refused as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        keys.attacker_jwks.fetches(),
        0,
        "a jku/x5u header was followed to the attacker's server"
    );
    assert!(routers.jwks.paths().iter().all(|p| p == "/jwks.json"));
}

/// Every bad bearer token of the corpus, sealed into a valid AuthKit cookie (the user it names,
/// the right password), is refused just the same: the cookie's access token is verified like a
/// bearer token.
#[tokio::test]
async fn every_bad_token_sealed_into_a_valid_cookie_is_refused() {
    use workos_authz::authkit::{
        AuthKitCookie, CookieConfig, Password, SessionPayload, SessionUser,
    };
    use workos_authz::session::TokenSource;

    let keys = keys().await;
    let routers = routers(&keys).await;
    let http = client();
    let config = CookieConfig::new(
        Password::new("a cookie password of at least thirty-two characters").unwrap(),
    );
    let mut cookie_urls = Vec::new();
    for (setup, _, verifier) in &routers.setups {
        let authz = Authz::builder()
            .verifier(verifier.clone())
            .token_sources([TokenSource::authkit_cookie(AuthKitCookie::new(
                config.clone(),
            ))])
            .build()
            .unwrap();
        cookie_urls.push((*setup, serve_authz(&authz).await));
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus(&keys) {
        let Some(token) = case.token() else { continue };
        // The user the token claims, so that only the token itself can be at fault.
        let subject = token
            .split('.')
            .nth(1)
            .and_then(|claims| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(claims)
                    .ok()
            })
            .and_then(|claims| serde_json::from_slice::<Value>(&claims).ok())
            .and_then(|claims| claims["sub"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "user_nobody".to_owned());
        let payload =
            SessionPayload::new(token, "refresh", SessionUser::new(subject, "x@example.com"));
        let Ok(sealed) = config.seal(&payload) else {
            continue;
        };
        for (setup, url) in &cookie_urls {
            if !case.target.includes(*setup) {
                continue;
            }
            checked += 1;
            let reply = send(
                http.get(format!("{url}/me"))
                    .header("cookie", format!("wos-session={}", sealed.as_str())),
            )
            .await;
            let echoed = token.len() > 8 && reply.body.contains(token);
            if reply.status != 401 || echoed || reply.body.contains("Fe26") {
                failures.push(format!(
                    "{} via {setup:?}: {} {}",
                    case.name, reply.status, reply.body
                ));
            }
        }
    }
    assert!(checked >= 30, "{checked} cases");
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn no_bad_token_ever_yields_a_session() {
    let keys = keys().await;
    let routers = routers(&keys).await;
    let http = client();
    assert_routers_accept_good_tokens(&keys, &routers, &http).await;

    for case in corpus(&keys) {
        for (setup, url, _) in routers.for_target(case.target) {
            let context = format!("{} via {setup:?}", case.name);
            // Required layer: never 200.
            let reply = send(case.request(&http, &format!("{url}/me"))).await;
            assert_ne!(reply.status, 200, "{context}: {}", reply.body);
            assert!((400..500).contains(&reply.status), "{context}: {reply:?}");

            // Optional layer: a bad token is still 401; only a request without bearer
            // credentials may pass, and then anonymously.
            let reply = send(case.request(&http, &format!("{url}/maybe"))).await;
            match case.expect {
                Expect::InvalidToken => {
                    assert_eq!(reply.status, 401, "{context} (optional): {}", reply.body)
                }
                Expect::NoCredentials => {
                    assert_eq!(reply.status, 200, "{context} (optional): {reply:?}");
                    assert_eq!(reply.json()["user_id"], Value::Null, "{context}");
                }
            }
        }
        // And straight through the verifiers.
        if let Some(token) = case.token() {
            for (setup, _, verifier) in routers.for_target(case.target) {
                let result = verifier.verify(token).await;
                assert!(
                    result.is_err(),
                    "{} via {setup:?}: verified as {:?}",
                    case.name,
                    result.map(|s| s.user_id().to_owned())
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Changing any one character of a valid token (to another base64url character) makes it
    /// invalid: no part of the token is ignored by the verifier.
    #[test]
    fn any_one_character_changed_invalidates_the_token(position in 0usize..10_000, replacement in 0usize..64) {
        let (key, verifier, token) = &*MUTATION_FIXTURE;
        let _ = key;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = position % token.len();
        let mut bytes = token.clone().into_bytes();
        prop_assume!(bytes[index] != b'.' && bytes[index] != alphabet[replacement]);
        bytes[index] = alphabet[replacement];
        let mutated = String::from_utf8(bytes).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let result = runtime.block_on(verifier.verify(&mutated));
        prop_assert!(result.is_err(), "mutation at {} accepted", index);
    }
}

static MUTATION_FIXTURE: std::sync::LazyLock<(RsaKey, SessionVerifier, String)> =
    std::sync::LazyLock::new(|| {
        let key = RsaKey::generate("rsa-m");
        let verifier = SessionVerifier::builder()
            .key(
                VerificationKey::rsa_pem(key.public_pem.as_bytes())
                    .unwrap()
                    .with_kid("rsa-m"),
            )
            .build()
            .unwrap();
        let token = key.sign(&claims("user_m"));
        (key, verifier, token)
    });

// ---------------------------------------------------------------------------------------------
// Valid tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rs256_via_jwks_is_accepted_over_http() {
    let key = RsaKey::generate("rsa-1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let verifier = SessionVerifier::builder()
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let base = serve_authz(&Authz::builder().verifier(verifier).build().unwrap()).await;
    let reply = get_bearer(
        &client(),
        &format!("{base}/me"),
        &key.sign(&claims("user_j")),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["user_id"], "user_j");
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn static_rsa_ec_ed25519_and_hmac_keys_verify_their_own_tokens_only() {
    let rsa = RsaKey::generate("rsa-s");
    let ec = EcKey::generate("ec-s");
    let ed = EdKey::generate();
    let secret = b"a test secret of thirty-two bytes!";

    let rsa_named = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(rsa.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-s"),
        )
        .build()
        .unwrap();
    let rsa_unnamed = SessionVerifier::builder()
        .key(VerificationKey::rsa_pem(rsa.public_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let ec_verifier = SessionVerifier::builder()
        .key(VerificationKey::ec_pem(ec.public_pem.as_bytes()).unwrap())
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let ed_verifier = SessionVerifier::builder()
        .key(VerificationKey::ed25519_pem(ed.public_pem.as_bytes()).unwrap())
        .algorithms([Algorithm::EdDSA])
        .build()
        .unwrap();
    let hs_verifier = SessionVerifier::builder()
        .key(VerificationKey::hmac_secret(secret))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();

    let rs_token = rsa.sign(&claims("user_rs"));
    let rs_unnamed = rsa.sign_header(&json!({"alg": "RS256"}), &claims("user_rs0"));
    let es_token = ec.sign_header(&json!({"alg": "ES256"}), &claims("user_es"));
    let ed_token = ed.sign_header(&json!({"alg": "EdDSA"}), &claims("user_ed"));
    let hs_token = hmac_sign(
        secret,
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims("user_hs"),
    );

    assert_eq!(
        rsa_named.verify(&rs_token).await.unwrap().user_id(),
        "user_rs"
    );
    assert_eq!(
        rsa_unnamed.verify(&rs_unnamed).await.unwrap().user_id(),
        "user_rs0"
    );
    assert_eq!(
        ec_verifier.verify(&es_token).await.unwrap().user_id(),
        "user_es"
    );
    assert_eq!(
        ed_verifier.verify(&ed_token).await.unwrap().user_id(),
        "user_ed"
    );
    assert_eq!(
        hs_verifier.verify(&hs_token).await.unwrap().user_id(),
        "user_hs"
    );

    // Each verifier refuses the others' tokens.
    let verifiers = [
        &rsa_named,
        &rsa_unnamed,
        &ec_verifier,
        &ed_verifier,
        &hs_verifier,
    ];
    let tokens = [&rs_token, &rs_unnamed, &es_token, &ed_token, &hs_token];
    for (i, verifier) in verifiers.iter().enumerate() {
        for (j, token) in tokens.iter().enumerate() {
            let same_family = i == j || (i < 2 && j < 2);
            if !same_family {
                assert!(
                    verifier.verify(token).await.is_err(),
                    "verifier {i} accepted token {j}"
                );
            }
        }
    }
    // The HMAC secret is checked: another secret fails.
    let forged = hmac_sign(
        b"another secret",
        &json!({"alg": "HS256"}),
        &claims("user_hs"),
    );
    assert_eq!(
        hs_verifier.verify(&forged).await.unwrap_err(),
        TokenError::InvalidSignature
    );
    // A token without kid is not matched to a named key, nor a kid to an unnamed key's
    // absent name.
    assert!(rsa_named.verify(&rs_unnamed).await.is_err());
    assert!(rsa_unnamed.verify(&rs_token).await.is_err());
}

#[tokio::test]
async fn leeway_lets_a_just_expired_token_through_only_when_configured() {
    let key = RsaKey::generate("rsa-l");
    let build = |leeway: Duration| {
        SessionVerifier::builder()
            .key(
                VerificationKey::rsa_pem(key.public_pem.as_bytes())
                    .unwrap()
                    .with_kid("rsa-l"),
            )
            .leeway(leeway)
            .build()
            .unwrap()
    };
    let strict = build(Duration::ZERO);
    let lenient = build(Duration::from_secs(60));
    let now = now();
    let just_expired = key.sign(&with(claims("user_l"), "exp", json!(now - 5)));
    let not_yet = key.sign(&with(claims("user_l"), "nbf", json!(now + 5)));
    let issued_ahead = key.sign(&with(claims("user_l"), "iat", json!(now + 5)));
    let long_expired = key.sign(&with(claims("user_l"), "exp", json!(now - 120)));

    assert_eq!(
        strict.verify(&just_expired).await.unwrap_err(),
        TokenError::Expired
    );
    assert_eq!(
        strict.verify(&not_yet).await.unwrap_err(),
        TokenError::NotYetValid
    );
    assert_eq!(
        strict.verify(&issued_ahead).await.unwrap_err(),
        TokenError::IssuedInFuture
    );
    assert_eq!(
        lenient.verify(&just_expired).await.unwrap().user_id(),
        "user_l"
    );
    assert_eq!(lenient.verify(&not_yet).await.unwrap().user_id(), "user_l");
    assert_eq!(
        lenient.verify(&issued_ahead).await.unwrap().user_id(),
        "user_l"
    );
    assert_eq!(
        lenient.verify(&long_expired).await.unwrap_err(),
        TokenError::Expired
    );
}

#[tokio::test]
async fn a_cached_session_ends_at_its_exp() {
    let key = RsaKey::generate("rsa-c");
    let verifier = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-c"),
        )
        .build()
        .unwrap();
    // At least one second of validity, whatever the fraction of the current second.
    let token = key.sign(&with(claims("user_c"), "exp", json!(now() + 2)));
    assert_eq!(verifier.verify(&token).await.unwrap().user_id(), "user_c");
    // Served from the cache from now on, until exp: then refused.
    let start = std::time::Instant::now();
    let ended = poll_until(async || verifier.verify(&token).await.is_err()).await;
    assert!(ended, "still accepted 5 s after a 2 s expiry");
    assert!(
        start.elapsed() <= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenError::Expired
    );
}

/// The verified-token cache hashes only a token's length and the end of its signature: a
/// token that differs from a cached one anywhere before that (same length, same signature,
/// other claims) lands in the same bucket and must still be compared whole, and refused.
#[tokio::test]
async fn a_token_sharing_a_cached_tokens_length_and_signature_is_not_served_from_the_cache() {
    let key = RsaKey::generate("rsa-t");
    let verifier = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-t"),
        )
        .build()
        .unwrap();
    let genuine = key.sign(&claims("user_aaaa"));
    assert_eq!(
        verifier.verify(&genuine).await.unwrap().user_id(),
        "user_aaaa"
    );
    let (header, payload, signature) = segments(&genuine);
    let forged_claims = String::from_utf8(unb64(&payload))
        .unwrap()
        .replace("user_aaaa", "user_bbbb");
    let forged = format!("{header}.{}.{signature}", b64(forged_claims.as_bytes()));
    assert_eq!(forged.len(), genuine.len());
    assert_eq!(&forged[forged.len() - 64..], &genuine[genuine.len() - 64..]);
    assert_eq!(
        verifier.verify(&forged).await.unwrap_err(),
        TokenError::InvalidSignature
    );
    // And the genuine one is still served.
    assert_eq!(
        verifier.verify(&genuine).await.unwrap().user_id(),
        "user_aaaa"
    );
}

/// A bearer value that is not text (obs-text bytes are legal in a header) is a 401, never a
/// panic and never a session.
#[tokio::test]
async fn a_bearer_token_that_is_not_text_is_refused() {
    let key = RsaKey::generate("rsa-b");
    let verifier = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-b"),
        )
        .build()
        .unwrap();
    let authz = Authz::builder().verifier(verifier).build().unwrap();
    let app = Router::new().route("/me", get(me)).layer(authz.layer());
    for value in [
        &b"Bearer \xff\xfe.\x80.\xc3"[..],
        b"Bearer abc.d\xe9f.ghi",
        b"bEaReR \xc3\x28.x.y",
    ] {
        let request = axum::http::Request::get("/me")
            .header(
                "authorization",
                axum::http::HeaderValue::from_bytes(value).unwrap(),
            )
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{value:?}");
    }
}

#[tokio::test]
async fn the_size_limit_is_8_kib_and_checked_before_decoding() {
    use workos_authz::session::MAX_TOKEN_BYTES;
    let key = RsaKey::generate("rsa-s");
    let verifier = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-s"),
        )
        .build()
        .unwrap();
    let sized = |padding: usize| {
        key.sign(&with(
            claims("user_s"),
            "padding",
            json!("x".repeat(padding)),
        ))
    };
    // Grow the padding until the token crosses the limit; keep the last one under it.
    let mut under = None;
    let mut over = None;
    for padding in 5_500..9_500 {
        let token = sized(padding);
        if token.len() <= MAX_TOKEN_BYTES {
            under = Some(token);
        } else {
            over = Some(token);
            break;
        }
    }
    let (under, over) = (under.unwrap(), over.unwrap());
    assert!(under.len() >= MAX_TOKEN_BYTES - 2, "{}", under.len());
    assert!(over.len() <= MAX_TOKEN_BYTES + 2, "{}", over.len());
    assert_eq!(verifier.verify(&under).await.unwrap().user_id(), "user_s");
    assert_eq!(
        verifier.verify(&over).await.unwrap_err(),
        TokenError::TooLarge
    );
    // Too large is decided on length alone: garbage of that length gets the same answer.
    let garbage = "*".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(
        verifier.verify(&garbage).await.unwrap_err(),
        TokenError::TooLarge
    );
}

#[tokio::test]

async fn a_refusal_never_reflects_unverified_header_text() {
    let key = RsaKey::generate("rsa-r");
    let verifier = SessionVerifier::builder()
        .key(
            VerificationKey::rsa_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid("rsa-r"),
        )
        .build()
        .unwrap();
    let base = serve_authz(&Authz::builder().verifier(verifier).build().unwrap()).await;
    // JSON escapes: the member name decodes to a newline, quotes and markup.
    let marker = r#"\nlevel=ERROR msg=\"admin logged in\" user=root <script>alert(1)</script>"#;
    // No signature is needed: the header is read before anything is verified.
    let header = format!(r#"{{"alg":"RS256","kid":"rsa-r","{marker}":1,"{marker}":2}}"#);
    let token = with_signature(
        header.as_bytes(),
        claims("user_r").to_string().as_bytes(),
        "c2ln",
    );
    let reply = get_bearer(&client(), &format!("{base}/me"), &token).await;
    assert_invalid_token(&reply, &token, "duplicate header member");
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        !detail.chars().any(char::is_control),
        "control characters in {detail:?}"
    );
    assert!(
        !detail.contains("<script>"),
        "unverified header text reflected: {detail:?}"
    );
    assert!(detail.len() <= 200, "{} bytes of detail", detail.len());
}

// ---------------------------------------------------------------------------------------------
// Typed claims
// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize, serde::Serialize)]
struct AppClaims {
    sub: String,
    tier: String,
    quota: u32,
    #[serde(default)]
    missing: Option<String>,
}

async fn echo(session: Session) -> axum::Json<Value> {
    let expires_at = session
        .expires_at()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    axum::Json(json!({
        "user_id": session.user_id(),
        "session_id": session.session_id(),
        "organization_id": session.organization_id(),
        "role": session.role(),
        "roles": session.roles(),
        "permissions": session.permissions(),
        "entitlements": session.entitlements(),
        "feature_flags": session.feature_flags(),
        "impersonator": session.impersonator(),
        "organization_membership_id": session.organization_membership_id(),
        "expires_at": expires_at,
        "tier": session.claim::<String>("tier").unwrap(),
        "absent": session.claim::<String>("absent").unwrap(),
        "tier_as_number_fails": session.claim::<u64>("tier").is_err(),
        "app": session.claims_as::<AppClaims>().ok(),
        "debug": format!("{session:?}"),
    }))
}

#[tokio::test]
async fn a_handler_sees_every_typed_claim() {
    let authz = Authz::embedded().unwrap();
    let signer = authz.signer().unwrap();
    let app = Router::new().route("/echo", get(echo)).layer(authz.layer());
    let url = format!("http://{}/echo", serve(app).await);
    let http = client();

    let mut full = SessionClaims::new("user_alice")
        .organization("org_acme")
        .role("admin")
        .roles(["admin", "billing"])
        .permissions(["posts:read", "posts:write"])
        .entitlements(["sso"])
        .feature_flags(["beta-ui"])
        .organization_membership("om_01")
        .expires_in(Duration::from_secs(900))
        .claim("tier", "gold")
        .claim("quota", 42);
    full.act = Some(Actor {
        sub: "support@example.com".into(),
        reason: Some("ticket 7".into()),
    });
    let token = signer.sign(&full).unwrap();
    let reply = get_bearer(&http, &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["user_id"], "user_alice");
    assert_eq!(body["session_id"], json!(full.sid));
    assert_eq!(body["organization_id"], "org_acme");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["roles"], json!(["admin", "billing"]));
    assert_eq!(body["permissions"], json!(["posts:read", "posts:write"]));
    assert_eq!(body["entitlements"], json!(["sso"]));
    assert_eq!(body["feature_flags"], json!(["beta-ui"]));
    assert_eq!(
        body["impersonator"],
        json!({"sub": "support@example.com", "reason": "ticket 7"})
    );
    assert_eq!(body["organization_membership_id"], "om_01");
    assert_eq!(body["expires_at"], json!(full.exp));
    assert_eq!(full.exp, full.iat.unwrap() + 900);
    assert_eq!(body["tier"], "gold");
    assert_eq!(body["absent"], Value::Null);
    assert_eq!(body["tier_as_number_fails"], true);
    assert_eq!(
        body["app"],
        json!({"sub": "user_alice", "tier": "gold", "quota": 42, "missing": null})
    );

    // Debug shows who, never the token or any of its parts.
    let debug = body["debug"].as_str().unwrap();
    assert!(debug.contains("user_alice"), "{debug}");
    for part in token.split('.').chain([token.as_str()]) {
        assert!(
            !debug.contains(part),
            "Debug output leaks a token part: {debug}"
        );
    }

    // Without `roles`, roles() falls back to [role]; without anything, the lists are empty.
    let minimal = SessionClaims::new("user_bob")
        .organization("org_acme")
        .role("member");
    let reply = get_bearer(&http, &url, &signer.sign(&minimal).unwrap()).await;
    let body = reply.json();
    assert_eq!(body["roles"], json!(["member"]));
    assert_eq!(body["permissions"], json!([]));
    assert_eq!(body["impersonator"], Value::Null);
    assert_eq!(body["organization_membership_id"], Value::Null);
    assert_eq!(body["app"], Value::Null, "AppClaims needs tier and quota");

    let bare = SessionClaims::new("user_carol");
    let reply = get_bearer(&http, &url, &signer.sign(&bare).unwrap()).await;
    let body = reply.json();
    assert_eq!(body["roles"], json!([]));
    assert_eq!(body["role"], Value::Null);
    assert_eq!(body["organization_id"], Value::Null);
}

#[tokio::test]

async fn expires_at_survives_any_exp_the_verifier_accepts() {
    let authz = Authz::embedded().unwrap();
    let signer = authz.signer().unwrap();
    let mut claims = SessionClaims::new("user_far");
    claims.exp = u64::MAX;
    let session = authz
        .verifier()
        .verify(&signer.sign(&claims).unwrap())
        .await;
    // Either the verifier refuses such an exp, or the session can report it without panicking.
    if let Ok(session) = session {
        let result = std::panic::catch_unwind(|| session.expires_at());
        assert!(
            result.is_ok(),
            "Session::expires_at panicked for exp = u64::MAX"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Token sources
// ---------------------------------------------------------------------------------------------

struct SourcesFixture {
    signer_authz: Authz,
    http: reqwest::Client,
}

impl SourcesFixture {
    fn new() -> Self {
        SourcesFixture {
            signer_authz: Authz::embedded().unwrap(),
            http: client(),
        }
    }

    fn signer(&self) -> &TokenSigner {
        self.signer_authz.signer().unwrap()
    }

    fn token(&self, user: &str) -> String {
        self.signer().sign(&SessionClaims::new(user)).unwrap()
    }

    async fn serve(&self, sources: Vec<TokenSource>) -> String {
        let authz = Authz::builder()
            .verifier(self.signer_authz.verifier().clone())
            .token_sources(sources)
            .build()
            .unwrap();
        let app = Router::new().route("/me", get(me)).layer(authz.layer());
        format!("http://{}/me", serve(app).await)
    }

    async fn get(&self, url: &str, headers: &[(&str, String)]) -> Reply {
        let request = headers
            .iter()
            .fold(self.http.get(url), |r, (k, v)| r.header(*k, v.as_str()));
        send(request).await
    }
}

#[tokio::test]
async fn bearer_cookie_and_custom_header_sources_in_the_configured_order() {
    let f = SourcesFixture::new();
    let (alice, carol) = (f.token("user_alice"), f.token("user_carol"));
    let user = |reply: &Reply| reply.json()["user_id"].as_str().map(str::to_owned);

    // Bearer, default: the scheme is case-insensitive.
    let url = f.serve(vec![TokenSource::Bearer]).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply = f
            .get(&url, &[("authorization", format!("{scheme} {alice}"))])
            .await;
        assert_eq!(reply.status, 200, "{scheme}: {reply:?}");
        assert_eq!(user(&reply).as_deref(), Some("user_alice"));
    }
    // A cookie is not looked at when only Bearer is configured.
    let reply = f
        .get(&url, &[("cookie", format!("wos-access={alice}"))])
        .await;
    assert_missing_token(&reply, "cookie with a Bearer-only setup");

    // Cookie among others.
    let url = f.serve(vec![TokenSource::cookie("wos-access")]).await;
    let reply = f
        .get(
            &url,
            &[("cookie", format!("theme=dark; wos-access={alice}; lang=en"))],
        )
        .await;
    assert_eq!(user(&reply).as_deref(), Some("user_alice"), "{reply:?}");
    let reply = f
        .get(&url, &[("authorization", format!("Bearer {alice}"))])
        .await;
    assert_missing_token(&reply, "bearer with a cookie-only setup");
    let reply = f
        .get(&url, &[("cookie", format!("wos-access-2={alice}"))])
        .await;
    assert_missing_token(
        &reply,
        "a cookie whose name only starts with the configured one",
    );

    // Custom header.
    let url = f
        .serve(vec![TokenSource::header(HeaderName::from_static(
            "x-access-token",
        ))])
        .await;
    let reply = f.get(&url, &[("x-access-token", alice.clone())]).await;
    assert_eq!(user(&reply).as_deref(), Some("user_alice"), "{reply:?}");
    let reply = f
        .get(&url, &[("x-access-token", "not.a.token".into())])
        .await;
    assert_invalid_token(&reply, "not.a.token", "bad token in the custom header");

    // Order: the first source that finds something decides.
    let both = [
        ("authorization", format!("Bearer {alice}")),
        ("cookie", format!("wos-access={carol}")),
    ];
    let cookie_first = f
        .serve(vec![TokenSource::cookie("wos-access"), TokenSource::Bearer])
        .await;
    let bearer_first = f
        .serve(vec![TokenSource::Bearer, TokenSource::cookie("wos-access")])
        .await;
    assert_eq!(
        user(&f.get(&cookie_first, &both).await).as_deref(),
        Some("user_carol")
    );
    assert_eq!(
        user(&f.get(&bearer_first, &both).await).as_deref(),
        Some("user_alice")
    );
    // A later source is used when earlier ones find nothing (another scheme is nothing).
    let reply = f
        .get(
            &bearer_first,
            &[
                ("authorization", "Basic dXNlcjpwYXNz".into()),
                ("cookie", format!("wos-access={carol}")),
            ],
        )
        .await;
    assert_eq!(user(&reply).as_deref(), Some("user_carol"), "{reply:?}");
    // A bad token in the first source is refused, not skipped for a good one further on.
    let reply = f
        .get(
            &cookie_first,
            &[
                ("cookie", "wos-access=forged.token.value".into()),
                ("authorization", format!("Bearer {alice}")),
            ],
        )
        .await;
    assert_invalid_token(
        &reply,
        "forged.token.value",
        "bad cookie before a good bearer",
    );
    // The same cookie twice, with different tokens, is ambiguous.
    let reply = f
        .get(
            &cookie_first,
            &[("cookie", format!("wos-access={alice}; wos-access={carol}"))],
        )
        .await;
    assert_invalid_token(&reply, &alice, "duplicate session cookie");
}
