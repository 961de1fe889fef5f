//! The one rule for remote calls on the request path (the JWKS refetch, the membership lookup,
//! the resource check, the session refresh): keyed single flight.
//!
//! - Concurrent callers for one key make one call. Its leader runs in a spawned task, so a
//!   client that disconnects cancels nothing for the others (nor wastes a single-use token).
//! - Every caller waits at most the deadline, and the leader itself is cut off at the same
//!   deadline: a hanging authority is an error for everyone within the deadline, and the next
//!   caller asks again.
//! - Only answers are stored, never errors, and only when no invalidation overlapped the call:
//!   an answer that raced an invalidation is returned to its waiters but not stored.
//! - A leader that panics (or is dropped) removes its in-flight entry and fails its waiters; it
//!   counts as an error, and the next caller asks again.
//!
//! This module knows nothing of what is called: callers hand it the call, the cache read that
//! may make the call unnecessary, and the store that keeps an answer.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long a remote call on the request path may take by default.
pub(crate) const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a call answered no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FlightError<E> {
    /// The call itself failed.
    Failed(E),
    /// No answer within the deadline.
    Timeout(Duration),
    /// The leader ended without an answer (it panicked).
    Abandoned,
}

/// How a caller got its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The cache read under the lock had it: another call finished just before.
    Cached,
    /// This caller started the call.
    Led,
    /// This caller waited for a call another caller had started.
    Followed,
}

type Answer<V, E> = Option<Result<V, FlightError<E>>>;

/// Keyed single flight; cheap to clone (the clones share their calls).
pub(crate) struct SingleFlight<K, V, E> {
    shared: Arc<Shared<K, V, E>>,
}

impl<K, V, E> Clone for SingleFlight<K, V, E> {
    fn clone(&self) -> Self {
        SingleFlight {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<K, V, E> {
    /// What the calls are, for the log.
    what: &'static str,
    state: Mutex<State<K, V, E>>,
    /// The deadline in nanoseconds: an atomic so that [`SingleFlight::set_timeout`] can apply
    /// one setting to a component that was built earlier.
    timeout_nanos: AtomicU64,
    errors: AtomicU64,
}

struct State<K, V, E> {
    /// Bumped by every invalidation; a call stores its answer only if it is unchanged.
    generation: u64,
    next_flight: u64,
    in_flight: HashMap<K, Flight<V, E>>,
}

struct Flight<V, E> {
    id: u64,
    answer: watch::Receiver<Answer<V, E>>,
    /// When the leader gives up; every waiter is answered by then.
    deadline: Instant,
    timeout: Duration,
}

/// One caller's place in a call: its answer, now or later.
pub(crate) enum Ticket<V, E> {
    Ready(V),
    Waiting {
        joined: Joined,
        answer: watch::Receiver<Answer<V, E>>,
        deadline: Instant,
        timeout: Duration,
    },
}

/// How long past the leader's deadline a waiter keeps waiting for the leader's own timeout
/// answer: the leader answers at its deadline (and counts the error first), the waiter's
/// timer is only a net for a runtime too busy to run the leader.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

impl<V: Clone, E: Clone> Ticket<V, E> {
    pub(crate) fn joined(&self) -> Joined {
        match self {
            Ticket::Ready(_) => Joined::Cached,
            Ticket::Waiting { joined, .. } => *joined,
        }
    }

    pub(crate) async fn answer(self) -> Result<V, FlightError<E>> {
        let (mut answer, deadline, timeout) = match self {
            Ticket::Ready(value) => return Ok(value),
            Ticket::Waiting {
                answer,
                deadline,
                timeout,
                ..
            } => (answer, deadline, timeout),
        };
        let waited = tokio::time::timeout_at(
            (deadline + DEADLINE_GRACE).into(),
            answer.wait_for(Option::is_some),
        )
        .await;
        match waited {
            Err(_) => Err(FlightError::Timeout(timeout)),
            Ok(Err(_)) => Err(FlightError::Abandoned),
            Ok(Ok(answer)) => match &*answer {
                Some(answer) => answer.clone(),
                None => Err(FlightError::Abandoned),
            },
        }
    }
}

impl<K, V, E> fmt::Debug for SingleFlight<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("what", &self.shared.what)
            .field("timeout", &self.timeout())
            .field("errors", &self.errors())
            .finish_non_exhaustive()
    }
}

impl<K, V, E> SingleFlight<K, V, E> {
    /// The deadline of every call and every wait.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_nanos(self.shared.timeout_nanos.load(Ordering::Relaxed))
    }

    /// Changes the deadline of the calls started from now on.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.shared
            .timeout_nanos
            .store(nanos(timeout), Ordering::Relaxed);
    }

    /// Calls that failed, timed out or were abandoned, counted once per call (not per waiter).
    pub(crate) fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }
}

impl<K, V, E> SingleFlight<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// Calls named `what` in the log, each bounded by `timeout`.
    pub(crate) fn new(what: &'static str, timeout: Duration) -> Self {
        SingleFlight {
            shared: Arc::new(Shared {
                what,
                state: Mutex::new(State {
                    generation: 0,
                    next_flight: 0,
                    in_flight: HashMap::new(),
                }),
                timeout_nanos: AtomicU64::new(nanos(timeout)),
                errors: AtomicU64::new(0),
            }),
        }
    }

    /// The value for `key`: from `cached` (read under the lock, so that a call finishing
    /// just now is not made again), from a call in flight, or from a new call `start()`
    /// whose answer `store` keeps unless an invalidation overlapped it.
    pub(crate) async fn run<Call>(
        &self,
        key: K,
        cached: impl FnOnce() -> Option<V>,
        start: impl FnOnce() -> Call,
        store: impl FnOnce(&V) + Send + 'static,
    ) -> (Joined, Result<V, FlightError<E>>)
    where
        Call: Future<Output = Result<V, E>> + Send + 'static,
    {
        let ticket = self.join(key, cached, start, store);
        (ticket.joined(), ticket.answer().await)
    }

    /// [`SingleFlight::run`] in two steps: joining (at once: callers count how they joined
    /// before they wait) and then waiting for the answer.
    pub(crate) fn join<Call>(
        &self,
        key: K,
        cached: impl FnOnce() -> Option<V>,
        start: impl FnOnce() -> Call,
        store: impl FnOnce(&V) + Send + 'static,
    ) -> Ticket<V, E>
    where
        Call: Future<Output = Result<V, E>> + Send + 'static,
    {
        let mut state = self.shared.lock();
        if let Some(value) = cached() {
            return Ticket::Ready(value);
        }
        if let Some(flight) = state.in_flight.get(&key) {
            return Ticket::Waiting {
                joined: Joined::Followed,
                answer: flight.answer.clone(),
                deadline: flight.deadline,
                timeout: flight.timeout,
            };
        }
        let timeout = self.timeout();
        let deadline = Instant::now() + timeout;
        let id = state.next_flight;
        state.next_flight += 1;
        let (sender, answer) = watch::channel(None);
        state.in_flight.insert(
            key.clone(),
            Flight {
                id,
                answer: answer.clone(),
                deadline,
                timeout,
            },
        );
        let leader = Leader {
            shared: self.shared.clone(),
            key,
            id,
            generation: state.generation,
            sender: Some(sender),
        };
        // Remote calls need tokio anyway (reqwest, the deadline's timer).
        tokio::spawn(lead(leader, start(), store, deadline, timeout));
        Ticket::Waiting {
            joined: Joined::Led,
            answer,
            deadline,
            timeout,
        }
    }

    /// Forgets every call in flight, so that none of their answers is stored and no new
    /// caller waits for them, then runs `forget` (which clears the stored answers) under the
    /// same lock: an answer lands either before the invalidation, which then removes it, or
    /// not at all.
    pub(crate) fn invalidate(&self, forget: impl FnOnce()) {
        let mut state = self.shared.lock();
        state.generation += 1;
        state.in_flight.clear();
        forget();
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl<K, V, E> Shared<K, V, E> {
    // A panic elsewhere while the lock was held leaves the map consistent (every change to it
    // is one insert or remove), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State<K, V, E>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn lead<K, V, E, Call>(
    mut leader: Leader<K, V, E>,
    call: Call,
    store: impl FnOnce(&V),
    deadline: Instant,
    timeout: Duration,
) where
    K: Hash + Eq,
    Call: Future<Output = Result<V, E>>,
{
    let answer = match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(FlightError::Failed(error)),
        Err(_) => {
            tracing::warn!(call = leader.shared.what, ?timeout, "remote call timed out");
            Err(FlightError::Timeout(timeout))
        }
    };
    leader.finish(answer, store);
}

/// The leader's side of one call. Dropped without [`Leader::finish`] (a panic in the call or
/// in `store`), it still removes the in-flight
/// entry and fails the waiters.
struct Leader<K: Hash + Eq, V, E> {
    shared: Arc<Shared<K, V, E>>,
    key: K,
    id: u64,
    generation: u64,
    sender: Option<watch::Sender<Answer<V, E>>>,
}

impl<K: Hash + Eq, V, E> Leader<K, V, E> {
    fn finish(&mut self, answer: Result<V, FlightError<E>>, store: impl FnOnce(&V)) {
        {
            let mut state = self.shared.lock();
            match &answer {
                Ok(value) if state.generation == self.generation => store(value),
                Ok(_) => {}
                Err(_) => {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.leave(&mut state);
        }
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(answer));
        }
    }

    /// Removes this call from the in-flight map, unless an invalidation already replaced it.
    fn leave(&self, state: &mut State<K, V, E>) {
        if state
            .in_flight
            .get(&self.key)
            .is_some_and(|flight| flight.id == self.id)
        {
            state.in_flight.remove(&self.key);
        }
    }
}

impl<K: Hash + Eq, V, E> Drop for Leader<K, V, E> {
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        tracing::error!(
            call = self.shared.what,
            "remote call ended without an answer"
        );
        self.shared.errors.fetch_add(1, Ordering::Relaxed);
        self.leave(&mut self.shared.lock());
        sender.send_replace(Some(Err(FlightError::Abandoned)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::Notify;

    use super::*;

    type Flights = SingleFlight<&'static str, u32, &'static str>;

    fn flights(timeout: Duration) -> Flights {
        SingleFlight::new("test", timeout)
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_call_and_its_answer_is_stored() {
        let flights = flights(Duration::from_secs(5));
        let calls = Arc::new(AtomicUsize::new(0));
        let joined = Arc::new(AtomicUsize::new(0));
        let stored = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let mut waiting = Vec::new();
        for _ in 0..10 {
            let (flights, calls, joined, stored, release) = (
                flights.clone(),
                calls.clone(),
                joined.clone(),
                stored.clone(),
                release.clone(),
            );
            waiting.push(tokio::spawn(async move {
                flights
                    .run(
                        "key",
                        // Read under the lock by every caller, just before it leads or follows.
                        || {
                            joined.fetch_add(1, Ordering::SeqCst);
                            None
                        },
                        || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            release.notified().await;
                            Ok(7)
                        },
                        move |value| stored.lock().unwrap().push(*value),
                    )
                    .await
            }));
        }
        while joined.load(Ordering::SeqCst) < 10 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        let mut led = 0;
        for caller in waiting {
            let (joined, value) = caller.await.unwrap();
            assert_eq!(value, Ok(7));
            led += usize::from(joined == Joined::Led);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(led, 1);
        assert_eq!(*stored.lock().unwrap(), [7]);
        assert_eq!(flights.errors(), 0);
    }

    #[tokio::test]
    async fn errors_are_returned_counted_once_and_never_stored() {
        let flights = flights(Duration::from_secs(5));
        let result = flights
            .run(
                "key",
                || None,
                || async { Err("down") },
                |_| panic!("an error is never stored"),
            )
            .await;
        assert_eq!(result, (Joined::Led, Err(FlightError::Failed("down"))));
        assert_eq!(flights.errors(), 1);
        // The next caller asks again.
        let result = flights
            .run("key", || None, || async { Ok(1) }, |_| {})
            .await;
        assert_eq!(result, (Joined::Led, Ok(1)));
    }

    #[tokio::test]
    async fn a_hanging_call_is_a_timeout_for_its_caller_and_is_cut_off() {
        let flights = flights(Duration::from_millis(50));
        let result = flights
            .run(
                "key",
                || None,
                std::future::pending::<Result<u32, &str>>,
                |_| {},
            )
            .await;
        assert_eq!(
            result,
            (
                Joined::Led,
                Err(FlightError::Timeout(Duration::from_millis(50)))
            )
        );
        // The leader is cut off at the same deadline: once it has counted its timeout, the key
        // is free and the next caller makes a new call.
        while flights.errors() == 0 {
            tokio::task::yield_now().await;
        }
        let result = flights
            .run("key", || None, || async { Ok(2) }, |_| {})
            .await;
        assert_eq!(result, (Joined::Led, Ok(2)));
    }

    #[tokio::test]
    async fn a_panicking_call_fails_its_waiters_counts_and_frees_the_key() {
        let flights = flights(Duration::from_secs(5));
        let result = flights
            .run(
                "key",
                || None,
                || async { panic!("the authority panicked") },
                |_| {},
            )
            .await;
        assert_eq!(result, (Joined::Led, Err(FlightError::Abandoned)));
        assert_eq!(flights.errors(), 1);
        let result = flights
            .run("key", || None, || async { Ok(3) }, |_| {})
            .await;
        assert_eq!(result, (Joined::Led, Ok(3)));
    }

    #[tokio::test]
    async fn an_answer_overlapping_an_invalidation_is_returned_but_not_stored() {
        let flights = flights(Duration::from_secs(5));
        let release = Arc::new(Notify::new());
        let stored = Arc::new(AtomicUsize::new(0));
        let caller = {
            let (flights, release, stored) = (flights.clone(), release.clone(), stored.clone());
            tokio::spawn(async move {
                flights
                    .run(
                        "key",
                        || None,
                        || async move {
                            release.notified().await;
                            Ok(4)
                        },
                        move |_| {
                            stored.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .await
            })
        };
        while flights.shared.lock().in_flight.is_empty() {
            tokio::task::yield_now().await;
        }
        let mut forgotten = false;
        flights.invalidate(|| forgotten = true);
        assert!(forgotten);
        // A caller after the invalidation does not wait for the older call.
        let fresh = flights
            .run("key", || None, || async { Ok(5) }, |_| {})
            .await;
        assert_eq!(fresh, (Joined::Led, Ok(5)));
        release.notify_one();
        assert_eq!(caller.await.unwrap(), (Joined::Led, Ok(4)));
        assert_eq!(stored.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_dropped_caller_does_not_cancel_the_call() {
        let flights = flights(Duration::from_secs(5));
        let release = Arc::new(Notify::new());
        let stored = Arc::new(AtomicUsize::new(0));
        let first = {
            let (flights, release, stored) = (flights.clone(), release.clone(), stored.clone());
            tokio::spawn(async move {
                flights
                    .run(
                        "key",
                        || None,
                        || async move {
                            release.notified().await;
                            Ok(6)
                        },
                        move |_| {
                            stored.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .await
            })
        };
        while flights.shared.lock().in_flight.is_empty() {
            tokio::task::yield_now().await;
        }
        first.abort();
        let _ = first.await;
        release.notify_one();
        while stored.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(flights.shared.lock().in_flight.is_empty());
    }
}
