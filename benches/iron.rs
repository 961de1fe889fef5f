//! Iron seal and unseal of a typical `wos-session` payload (a ~1 KB seal), and the cost of
//! refusing a tampered one: what a cookie-authenticated request pays before token verification.

use std::hint::black_box;

use criterion::Criterion;
use workos_authz::authkit::{CookieConfig, Password, SessionPayload, SessionUser};

fn payload() -> SessionPayload {
    let mut user = SessionUser::new("user_01HBENCH0000000000000000", "ada@example.com");
    user.first_name = Some("Ada".into());
    user.last_name = Some("Lovelace".into());
    user.email_verified = true;
    user.created_at = "2024-01-02T03:04:05.678Z".into();
    user.updated_at = "2026-11-30T09:15:00.000Z".into();
    // An access token of a typical size (WorkOS's are 600 to 900 bytes).
    SessionPayload::new(
        format!("eyJ{}", "a".repeat(800)),
        "refresh_01HBENCH000000000000",
        user,
    )
    .with_organization("org_01HBENCH00000000000000000")
}

fn bench_iron(c: &mut Criterion) {
    let config = CookieConfig::new(Password::new("bench-password-0123456789abcdefghijkl").unwrap());
    let payload = payload();
    let sealed = config.seal(&payload).unwrap();
    println!("seal length: {} bytes", sealed.as_str().len());
    let mut tampered = sealed.as_str().to_owned().into_bytes();
    tampered[200] = if tampered[200] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    c.bench_function("seal session payload", |b| {
        b.iter(|| config.seal(black_box(&payload)).unwrap())
    });
    c.bench_function("unseal session payload", |b| {
        b.iter(|| config.unseal(black_box(sealed.as_str())).unwrap())
    });
    c.bench_function("refuse tampered seal (MAC)", |b| {
        b.iter(|| config.unseal(black_box(&tampered)).unwrap_err())
    });
    c.bench_function("refuse garbage (shape)", |b| {
        b.iter(|| config.unseal(black_box("Fe26.2*1*not-a-seal")).unwrap_err())
    });
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_iron(&mut criterion);
    criterion.final_summary();
}
