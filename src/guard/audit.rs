//! The audit event: one per decision, claims-only or resource-scoped, with the same target
//! (`workos_authz::audit`) and the same fields.

use std::fmt::Display;

use crate::authz::DecisionOrigin;
use crate::rejection::AuthzRejection;
use crate::session::Session;

/// Whether audit events are recorded at all: lets the hot path skip preparing one.
pub(super) fn enabled() -> bool {
    tracing::enabled!(target: "workos_authz::audit", tracing::Level::INFO)
}

/// What a decision came to, by the refusal it produced (if any).
pub(super) fn outcome(decision: &Result<(), &AuthzRejection>) -> &'static str {
    match decision {
        Ok(()) => "allow",
        Err(AuthzRejection::Forbidden { .. } | AuthzRejection::NotFound) => "deny",
        Err(AuthzRejection::Unavailable(_)) => "unavailable",
        Err(_) => "error",
    }
}

/// One audit event. `permission` is empty for rules that name none (roles, entitlements,
/// flags, tenant isolation) and `resource` for rules on no resource; `latency_us` is 0 for
/// decisions from the claims, which are synchronous and not timed (no clock read on the hot
/// path).
pub(super) fn record(
    session: &Session,
    rule: &dyn Display,
    permission: &str,
    resource: &dyn Display,
    decision: Result<(), &AuthzRejection>,
    origin: DecisionOrigin,
    latency_us: u64,
) {
    tracing::info!(
        target: "workos_authz::audit",
        user_id = session.user_id(),
        organization_id = session.organization_id().unwrap_or_default(),
        rule = %rule,
        permission,
        resource = %resource,
        outcome = outcome(&decision),
        source = origin.as_str(),
        latency_us,
        "authorization decision"
    );
}
