//! One page of a list, and a stream that walks every page.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WorkOsClient;
use super::error::{ErrorKind, WorkOsError};
use super::transport::ApiRequest;

/// The page size the `stream_*` methods ask for: the largest WorkOS allows.
pub(crate) const STREAM_PAGE_SIZE: u32 = 100;

/// One page of a WorkOS list: `{object: "list", data, list_metadata}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The cursors to the neighbouring pages.
    #[serde(default)]
    pub list_metadata: ListMetadata,
}

/// The cursors of a [`Page`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ListMetadata {
    /// Pass as `before` to get the previous page; `None` on the first.
    #[serde(default)]
    pub before: Option<String>,
    /// Pass as `after` to get the next page; `None` on the last.
    #[serde(default)]
    pub after: Option<String>,
}

/// The order of a list, by creation time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (WorkOS's default).
    #[default]
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Which page of a list to fetch. The default is WorkOS's: 10 items, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pagination {
    /// Items per page, 1 to 100 (WorkOS's default 10).
    pub limit: Option<u32>,
    /// Fetch the page before this cursor.
    pub before: Option<String>,
    /// Fetch the page after this cursor.
    pub after: Option<String>,
    /// The order; `desc` is sent when unset, as WorkOS's SDKs do.
    pub order: Option<Order>,
}

impl Pagination {
    /// The first page of `limit` items.
    pub fn limit(limit: u32) -> Self {
        Pagination {
            limit: Some(limit),
            ..Pagination::default()
        }
    }

    /// The page after `cursor`.
    pub fn after(cursor: impl Into<String>) -> Self {
        Pagination {
            after: Some(cursor.into()),
            ..Pagination::default()
        }
    }

    pub(crate) fn apply(&self, request: ApiRequest) -> ApiRequest {
        request
            .query_opt("limit", self.limit.map(|limit| limit.to_string()))
            .query_opt("before", self.before.clone())
            .query_opt("after", self.after.clone())
            .query("order", self.order.unwrap_or_default().as_str())
    }

    /// The same list from `after`, `limit=100`: one page of an auto-paging walk.
    pub(crate) fn for_stream(&self, after: Option<String>) -> Pagination {
        Pagination {
            limit: Some(STREAM_PAGE_SIZE),
            before: None,
            after,
            order: self.order,
        }
    }
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>, WorkOsError>> + Send>>;
type FetchPage<T> = Box<dyn FnMut(Option<String>) -> PageFuture<T> + Send>;

/// Every item of a list, fetched page by page as it is consumed.
///
/// It is a [`futures_core::Stream`] of `Result<T, WorkOsError>`, usable with any stream
/// combinator crate; without one, call [`next_item`](Self::next_item) in a loop or
/// [`try_collect`](Self::try_collect). Pages are requested with `limit=100`, each after the
/// previous page's `list_metadata.after`; the walk ends on a page without `after`, on an
/// empty page, or after the first error (which it yields).
#[must_use = "a PageStream does nothing until polled"]
pub struct PageStream<T> {
    fetch: FetchPage<T>,
    in_flight: Option<PageFuture<T>>,
    buffered: VecDeque<T>,
    cursor: Option<String>,
    pages_fetched: usize,
    finished: bool,
}

// No field is structurally pinned: the in-flight future is boxed.
impl<T> Unpin for PageStream<T> {}

impl<T: DeserializeOwned + Send + 'static> PageStream<T> {
    /// Walks the list `request_for(after)` describes, starting after `first_cursor`.
    pub(crate) fn new(
        client: &WorkOsClient,
        first_cursor: Option<String>,
        request_for: impl Fn(Option<String>) -> Result<ApiRequest, WorkOsError> + Send + 'static,
    ) -> Self {
        let client = client.clone();
        let fetch = move |after: Option<String>| -> PageFuture<T> {
            let client = client.clone();
            let request = request_for(after);
            Box::pin(async move { client.send_json::<Page<T>>(request?).await })
        };
        PageStream {
            fetch: Box::new(fetch),
            in_flight: None,
            buffered: VecDeque::new(),
            cursor: first_cursor,
            pages_fetched: 0,
            finished: false,
        }
    }
}

impl<T> PageStream<T> {
    /// The next item, fetching the next page when this one is used up; `None` at the end.
    pub async fn next_item(&mut self) -> Option<Result<T, WorkOsError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_item(cx)).await
    }

    /// Every remaining item, or the first error.
    pub async fn try_collect(mut self) -> Result<Vec<T>, WorkOsError> {
        let mut items = Vec::new();
        while let Some(item) = self.next_item().await {
            items.push(item?);
        }
        Ok(items)
    }

    /// How many pages have been fetched so far.
    pub fn pages_fetched(&self) -> usize {
        self.pages_fetched
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, WorkOsError>>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            let in_flight = match &mut self.in_flight {
                Some(in_flight) => in_flight,
                None => self.in_flight.insert((self.fetch)(self.cursor.clone())),
            };
            let result = ready!(in_flight.as_mut().poll(cx));
            self.in_flight = None;
            let page = match result {
                Ok(page) => page,
                Err(error) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
            };
            self.pages_fetched += 1;
            let next = page.list_metadata.after;
            if page.data.is_empty() || next.is_none() {
                self.finished = true;
            } else if next == self.cursor {
                // A server that hands back the cursor it was given would loop forever.
                self.finished = true;
                return Poll::Ready(Some(Err(WorkOsError::new(
                    ErrorKind::Decode,
                    "the list answered the same `after` cursor twice",
                ))));
            }
            self.cursor = next;
            self.buffered.extend(page.data);
        }
    }
}

impl<T> futures_core::Stream for PageStream<T> {
    type Item = Result<T, WorkOsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T> fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream")
            .field("cursor", &self.cursor)
            .field("buffered", &self.buffered.len())
            .field("pages_fetched", &self.pages_fetched)
            .field("finished", &self.finished)
            .finish()
    }
}
