//! The events feed: what changed in WorkOS, for cache invalidation.

use serde::{Deserialize, Serialize};

use super::WorkOsClient;
use super::error::WorkOsError;
use super::pagination::{Page, PageStream, STREAM_PAGE_SIZE};
use super::transport::ApiRequest;

/// One WorkOS event, from the events feed or a webhook.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Event {
    /// WorkOS's id (`event_...`): the cursor to resume the feed after this event.
    pub id: String,
    /// What happened, for example `organization_membership.updated`.
    pub event: String,
    /// The object the event is about, as WorkOS sends it.
    #[serde(default)]
    pub data: serde_json::Value,
    /// ISO-8601 time of the event.
    #[serde(default)]
    pub created_at: String,
}

impl Event {
    fn data_str(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(serde_json::Value::as_str)
    }

    /// `data.id`: the id of the object the event is about.
    pub fn data_id(&self) -> Option<&str> {
        self.data_str("id")
    }

    /// `data.organization_id`, or `data.id` for `organization.*` events.
    pub fn organization_id(&self) -> Option<&str> {
        self.data_str("organization_id").or_else(|| {
            self.event
                .starts_with("organization.")
                .then(|| self.data_id())
                .flatten()
        })
    }

    /// `data.organization_membership_id`, or `data.id` for `organization_membership.*`
    /// events.
    pub fn organization_membership_id(&self) -> Option<&str> {
        self.data_str("organization_membership_id").or_else(|| {
            self.event
                .starts_with("organization_membership.")
                .then(|| self.data_id())
                .flatten()
        })
    }

    /// `data.user_id`, or `data.id` for `user.*` events.
    pub fn user_id(&self) -> Option<&str> {
        self.data_str("user_id").or_else(|| {
            self.event
                .starts_with("user.")
                .then(|| self.data_id())
                .flatten()
        })
    }
}

/// Which events to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListEvents {
    /// Only these event types (sent comma-separated); all when empty.
    pub events: Vec<String>,
    /// Only events of this organization.
    pub organization_id: Option<String>,
    /// Only events after this event id (the cursor).
    pub after: Option<String>,
    /// Events per page, 1 to 100.
    pub limit: Option<u32>,
}

impl ListEvents {
    /// Events of these types.
    pub fn of_types(events: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ListEvents {
            events: events.into_iter().map(Into::into).collect(),
            ..ListEvents::default()
        }
    }

    fn request(&self, after: Option<String>, limit: Option<u32>) -> ApiRequest {
        let events = (!self.events.is_empty()).then(|| self.events.join(","));
        ApiRequest::get("/events".to_owned())
            .query_opt("events", events)
            .query_opt("organization_id", self.organization_id.clone())
            .query_opt("after", after)
            .query_opt("limit", limit.map(|limit| limit.to_string()))
    }
}

/// The events feed.
impl WorkOsClient {
    /// Lists one page of events; pass the page's `list_metadata.after` as the next `after`.
    pub async fn list_events(&self, options: &ListEvents) -> Result<Page<Event>, WorkOsError> {
        self.send_json(options.request(options.after.clone(), options.limit))
            .await
    }

    /// Every event from `options.after` to the current end of the feed.
    pub fn stream_events(&self, options: &ListEvents) -> PageStream<Event> {
        let options = options.clone();
        PageStream::new(self, options.after.clone(), move |after| {
            Ok(options.request(after, Some(STREAM_PAGE_SIZE)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: serde_json::Value) -> Event {
        Event {
            id: "event_1".into(),
            event: kind.into(),
            data,
            created_at: String::new(),
        }
    }

    #[test]
    fn helpers_read_the_fields_where_present() {
        let membership = event(
            "organization_membership.updated",
            serde_json::json!({"id": "om_1", "organization_id": "org_1", "user_id": "user_1"}),
        );
        assert_eq!(membership.data_id(), Some("om_1"));
        assert_eq!(membership.organization_id(), Some("org_1"));
        assert_eq!(membership.organization_membership_id(), Some("om_1"));
        assert_eq!(membership.user_id(), Some("user_1"));

        let role = event("role.updated", serde_json::json!({"slug": "admin"}));
        assert_eq!(role.data_id(), None);
        assert_eq!(role.organization_membership_id(), None);

        let deleted = event("organization.deleted", serde_json::json!({"id": "org_9"}));
        assert_eq!(deleted.organization_id(), Some("org_9"));
    }
}
