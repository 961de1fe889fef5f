//! `Idempotency-Key` on POSTs, as WorkOS and Stripe do it.
//!
//! A key is scoped to the API key, the method and the path, and bound to the request (its query
//! and body, by SHA-256): a retry of the same request gets the first answer again without acting
//! twice; the same key on another request is refused with 400, never answered with another
//! request's object. Requests sharing a key run one after the other (a retry that races its
//! original still acts once); requests with different keys never wait for each other, and no
//! lock is held while a body is read. Only successes (2xx) are kept: a failed request may be
//! retried with a corrected body under the same key. The memory is bounded in entries and in
//! bytes (the oldest answers are forgotten first) and answers expire after a day.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, StatusCode};

/// The longest `Idempotency-Key` accepted (Stripe's bound).
pub(crate) const MAX_KEY_LENGTH: usize = 255;

/// What an entry costs beyond its key, path and body: the map and queue slots, the digests.
const ENTRY_OVERHEAD: usize = 160;

/// Bounds of the emulator's idempotency memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyLimits {
    /// The most answers kept; beyond it the oldest is forgotten. 10,000 by default.
    pub max_entries: usize,
    /// The most bytes kept (keys, paths and bodies); beyond it the oldest answers are
    /// forgotten. 16 MiB by default. An answer larger than a quarter of it is not kept.
    pub max_bytes: usize,
    /// How long an answer is replayed. 24 hours by default, as WorkOS and Stripe do.
    pub ttl: Duration,
}

impl Default for IdempotencyLimits {
    fn default() -> Self {
        IdempotencyLimits {
            max_entries: 10_000,
            max_bytes: 16 * 1024 * 1024,
            ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// How much of the idempotency memory is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyUsage {
    /// Answers kept.
    pub entries: usize,
    /// Bytes they cost, counted as [`IdempotencyLimits::max_bytes`] counts them.
    pub bytes: usize,
}

/// Who asked what: the API key (by digest), the method, the path and the client's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    api_key: [u8; 32],
    method: Method,
    path: String,
    key: String,
}

impl Scope {
    pub(crate) fn new(api_key: &str, method: Method, path: &str, key: &str) -> Scope {
        Scope {
            api_key: sha256(&[api_key.as_bytes()]),
            method,
            path: path.to_owned(),
            key: key.to_owned(),
        }
    }

    fn cost(&self, body: &Bytes) -> usize {
        ENTRY_OVERHEAD + self.path.len() + self.key.len() + body.len()
    }
}

/// The request a key was first used with: its query and body.
pub(crate) fn fingerprint(query: &str, body: &[u8]) -> [u8; 32] {
    sha256(&[query.as_bytes(), b"\n", body])
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// A kept answer.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

#[derive(Debug)]
struct Kept {
    fingerprint: [u8; 32],
    answer: Answer,
    kept_at: Instant,
    cost: usize,
}

/// What a keyed request finds when its turn comes.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// No answer kept: run the request.
    Absent,
    /// The same request was answered: replay this.
    Replay(Answer),
    /// The key was used for another request.
    Mismatch,
}

#[derive(Debug, Default)]
struct Memory {
    kept: HashMap<Scope, Kept>,
    /// Scopes in the order their answers were kept, which is also the order they expire.
    order: VecDeque<(Scope, Instant)>,
    bytes: usize,
    /// One lock per key being worked on, with the number of requests holding or awaiting
    /// it; removed when that number falls to zero.
    in_flight: HashMap<Scope, (Arc<tokio::sync::Mutex<()>>, usize)>,
}

impl Memory {
    fn forget_oldest(&mut self) -> bool {
        let Some((scope, kept_at)) = self.order.pop_front() else {
            return false;
        };
        if self
            .kept
            .get(&scope)
            .is_some_and(|kept| kept.kept_at == kept_at)
            && let Some(kept) = self.kept.remove(&scope)
        {
            self.bytes -= kept.cost;
        }
        true
    }

    fn expire(&mut self, now: Instant, ttl: Duration) {
        while self
            .order
            .front()
            .is_some_and(|(_, kept_at)| now.saturating_duration_since(*kept_at) >= ttl)
        {
            self.forget_oldest();
        }
    }
}

/// The idempotency memory of one emulator.
#[derive(Debug)]
pub(crate) struct Idempotency {
    limits: IdempotencyLimits,
    memory: Mutex<Memory>,
}

/// A request's turn on its key; the next request with that key waits until it is dropped.
/// It exists from before the wait, so a request dropped while waiting (its client gone) still
/// gives up its place.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    idempotency: &'a Idempotency,
    scope: Scope,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut memory = self.idempotency.lock();
        if let Some((_, users)) = memory.in_flight.get_mut(&self.scope) {
            *users -= 1;
            if *users == 0 {
                memory.in_flight.remove(&self.scope);
            }
        }
    }
}

impl Idempotency {
    pub(crate) fn new(limits: IdempotencyLimits) -> Self {
        Idempotency {
            limits,
            memory: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // Every critical section leaves the memory consistent: a panic cannot tear it.
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the key's turn: requests with this scope run one at a time, others never wait.
    pub(crate) async fn turn(&self, scope: Scope) -> Turn<'_> {
        let lock = {
            let mut memory = self.lock();
            let (lock, users) = memory.in_flight.entry(scope.clone()).or_default();
            *users += 1;
            lock.clone()
        };
        let mut turn = Turn {
            idempotency: self,
            scope,
            guard: None,
        };
        turn.guard = Some(lock.lock_owned().await);
        turn
    }

    /// What is kept for the turn's key, for a request with `fingerprint`.
    pub(crate) fn lookup(&self, turn: &Turn<'_>, fingerprint: &[u8; 32], now: Instant) -> Lookup {
        let mut memory = self.lock();
        memory.expire(now, self.limits.ttl);
        match memory.kept.get(&turn.scope) {
            None => Lookup::Absent,
            Some(kept) if kept.fingerprint == *fingerprint => Lookup::Replay(kept.answer.clone()),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Keeps a successful answer for the turn's key, forgetting the oldest ones as needed.
    pub(crate) fn keep(
        &self,
        turn: &Turn<'_>,
        fingerprint: [u8; 32],
        answer: Answer,
        now: Instant,
    ) {
        let cost = turn.scope.cost(&answer.body);
        if self.limits.max_entries == 0 || cost > self.limits.max_bytes / 4 {
            return;
        }
        let mut memory = self.lock();
        memory.expire(now, self.limits.ttl);
        if let Some(previous) = memory.kept.remove(&turn.scope) {
            memory.bytes -= previous.cost;
        }
        while memory.kept.len() >= self.limits.max_entries
            || memory.bytes + cost > self.limits.max_bytes
        {
            if !memory.forget_oldest() {
                break;
            }
        }
        memory.bytes += cost;
        memory.order.push_back((turn.scope.clone(), now));
        memory.kept.insert(
            turn.scope.clone(),
            Kept {
                fingerprint,
                answer,
                kept_at: now,
                cost,
            },
        );
    }

    pub(crate) fn usage(&self) -> IdempotencyUsage {
        let memory = self.lock();
        IdempotencyUsage {
            entries: memory.kept.len(),
            bytes: memory.bytes,
        }
    }

    #[cfg(test)]
    fn keys_in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.lock().order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> Scope {
        Scope::new("sk_test", Method::POST, "/authorization/permissions", key)
    }

    fn answer(body: &str) -> Answer {
        Answer {
            status: StatusCode::CREATED,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[tokio::test]
    async fn the_same_request_is_replayed_and_another_one_refused() {
        let memory = Idempotency::new(IdempotencyLimits::default());
        let now = Instant::now();
        let first = fingerprint("", b"{\"slug\":\"a\"}");
        let turn = memory.turn(scope("k")).await;
        assert!(matches!(memory.lookup(&turn, &first, now), Lookup::Absent));
        memory.keep(&turn, first, answer("{}"), now);
        drop(turn);
        let turn = memory.turn(scope("k")).await;
        assert!(matches!(
            memory.lookup(&turn, &first, now),
            Lookup::Replay(_)
        ));
        let other = fingerprint("", b"{\"slug\":\"b\"}");
        assert!(matches!(
            memory.lookup(&turn, &other, now),
            Lookup::Mismatch
        ));
        drop(turn);
        // Another path, method or API key is another scope.
        let elsewhere = Scope::new("sk_test", Method::POST, "/organizations", "k");
        let turn = memory.turn(elsewhere).await;
        assert!(matches!(memory.lookup(&turn, &first, now), Lookup::Absent));
        drop(turn);
        let other_key = Scope::new("sk_other", Method::POST, "/authorization/permissions", "k");
        let turn = memory.turn(other_key).await;
        assert!(matches!(memory.lookup(&turn, &first, now), Lookup::Absent));
        drop(turn);
        assert_eq!(memory.keys_in_flight(), 0);
    }

    #[tokio::test]
    async fn entries_and_bytes_stay_within_their_bounds_under_distinct_keys() {
        let limits = IdempotencyLimits {
            max_entries: 100,
            max_bytes: 64 * 1024,
            ttl: Duration::from_secs(60),
        };
        let memory = Idempotency::new(limits);
        let now = Instant::now();
        let body = "x".repeat(1000);
        for index in 0..10_000 {
            let turn = memory.turn(scope(&format!("key-{index}"))).await;
            memory.keep(&turn, fingerprint("", b""), answer(&body), now);
            let usage = memory.usage();
            assert!(usage.entries <= limits.max_entries, "{usage:?}");
            assert!(usage.bytes <= limits.max_bytes, "{usage:?}");
        }
        let usage = memory.usage();
        assert!(usage.entries > 0);
        // 1 KB answers under a 64 KiB bound: the byte bound is the one that binds.
        assert!(usage.entries < limits.max_entries, "{usage:?}");
        assert!(memory.queued() <= limits.max_entries);
        assert_eq!(memory.keys_in_flight(), 0);
        // An answer over a quarter of the byte bound is never kept.
        let turn = memory.turn(scope("huge")).await;
        memory.keep(
            &turn,
            fingerprint("", b""),
            answer(&"y".repeat(20_000)),
            now,
        );
        assert!(matches!(
            memory.lookup(&turn, &fingerprint("", b""), now),
            Lookup::Absent
        ));
    }

    #[tokio::test]
    async fn answers_expire_after_the_ttl() {
        let limits = IdempotencyLimits::default();
        let memory = Idempotency::new(limits);
        let start = Instant::now();
        let print = fingerprint("", b"{}");
        let turn = memory.turn(scope("k")).await;
        memory.keep(&turn, print, answer("{}"), start);
        let almost = start + limits.ttl - Duration::from_secs(1);
        assert!(matches!(
            memory.lookup(&turn, &print, almost),
            Lookup::Replay(_)
        ));
        let later = start + limits.ttl;
        assert!(matches!(
            memory.lookup(&turn, &print, later),
            Lookup::Absent
        ));
        assert_eq!(
            memory.usage(),
            IdempotencyUsage {
                entries: 0,
                bytes: 0
            }
        );
    }

    #[tokio::test]
    async fn one_key_waits_for_itself_and_never_for_another() {
        let memory = Idempotency::new(IdempotencyLimits::default());
        let held = memory.turn(scope("busy")).await;
        // Another key gets its turn at once although "busy" is held.
        let other = memory.turn(scope("free")).await;
        drop(other);
        // The same key waits: polling it once does not complete it.
        let mut same = Box::pin(memory.turn(scope("busy")));
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        assert!(same.as_mut().poll(&mut context).is_pending());
        drop(held);
        let turn = same.await;
        drop(turn);
        assert_eq!(memory.keys_in_flight(), 0);

        // A request given up while it waits (its client gone) leaves nothing behind.
        let held = memory.turn(scope("busy")).await;
        let mut abandoned = Box::pin(memory.turn(scope("busy")));
        assert!(abandoned.as_mut().poll(&mut context).is_pending());
        drop(held);
        drop(abandoned);
        assert_eq!(memory.keys_in_flight(), 0);
    }
}
