//! Policy files, JSON and TOML.
//!
//! The first byte picks the format (even: JSON, odd: TOML), the rest is the file. Properties:
//! never a panic; text that does not parse is a parse error; a file that parses either loads
//! whole (its export loads back to the same state) or is refused naming the entry, and then
//! the engine it was loaded into is exactly as it was.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use workos_authz::local::{EngineError, LocalEngine, Policy};
use workos_authz_fuzz::MODEL;

const SECTIONS: [&str; 8] = [
    "settings",
    "permissions",
    "roles",
    "organizations",
    "users",
    "organization_memberships",
    "resources",
    "role_assignments",
];

fn model() -> &'static Policy {
    static MODEL_POLICY: OnceLock<Policy> = OnceLock::new();
    MODEL_POLICY.get_or_init(|| Policy::from_json(MODEL).expect("the model loads"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&format, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let parsed = if format % 2 == 0 {
        Policy::from_json(&text)
    } else {
        Policy::from_toml(&text)
    };
    let policy = match parsed {
        Ok(policy) => policy,
        Err(error) => {
            assert!(matches!(error, EngineError::Parse { .. }), "{error:?}");
            return;
        }
    };

    let engine = LocalEngine::from_policy(model()).expect("the model loads");
    let before = engine.dump_policy().to_json();
    match engine.replace_policy(&policy) {
        Ok(()) => {
            let loaded = engine.dump_policy();
            assert_eq!(loaded.permissions.len(), policy.permissions.len());
            assert_eq!(loaded.organizations.len(), policy.organizations.len());
            assert_eq!(loaded.resources.len(), policy.resources.len());
            assert_eq!(loaded.role_assignments.len(), policy.role_assignments.len());
            let again = LocalEngine::from_policy(&loaded).expect("an export loads back");
            assert_eq!(
                again.dump_policy().to_json(),
                loaded.to_json(),
                "export is not stable"
            );
            assert_eq!(
                LocalEngine::from_policy(&policy)
                    .expect("what replaced the state loads alone")
                    .dump_policy()
                    .permissions
                    .len(),
                policy.permissions.len()
            );
        }
        Err(error) => {
            let EngineError::Policy { entry, .. } = &error else {
                panic!("a refused policy does not name its entry: {error:?}");
            };
            assert!(
                SECTIONS.iter().any(|section| entry.starts_with(section)),
                "{entry} is not an entry"
            );
            assert_eq!(
                engine.dump_policy().to_json(),
                before,
                "a refused policy changed state"
            );
        }
    }
});
