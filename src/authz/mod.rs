//! [`Authz`]: the one configuration object, the resource policy it applies, and the layer
//! that verifies each request.
//!
//! - `handle`: [`Authz`] itself and the resource policy (ownership, claims shortcut,
//!   membership, cached check);
//! - `builder`: [`AuthzBuilder`] and [`ConfigError`];
//! - `setup`: [`Authz::from_env`], [`Authz::embedded`] and [`Mode`];
//! - `layer`: [`AuthzLayer`], which verifies the token and hands the session on;
//! - `extract`: the [`Session`](crate::Session) extractors;
//! - `pages`: the questions of list and detail pages ([`Authz::accessible_resources`],
//!   [`Authz::effective_permissions`], [`Authz::check_many`]);
//! - `freshness`: webhooks and the events feed invalidating the caches.

mod browser;
mod builder;
mod extract;
mod freshness;
mod handle;
mod layer;
mod pages;
mod setup;
mod sign_in;

pub use builder::{AuthzBuilder, ConfigError};
pub use extract::SessionRejection;
pub(crate) use extract::missing_layer;
pub use freshness::{CACHE_EVENTS, EventsPoller, Invalidation};
pub use handle::Authz;
pub(crate) use handle::{DecisionOrigin, forbidden};
pub(crate) use layer::{Admitted, refusal_for};
pub use layer::{AuthzLayer, AuthzService};
pub use setup::Mode;
