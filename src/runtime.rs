//! The host runtime: N engines on N worker threads that together give the
//! decisions of one engine.
//!
//! Customers are shared out by [`shard_of`] (the hash [`State::split`]
//! uses). For every event, *every* engine advances its clock to the event's
//! time, so a timer fires at the same point of the stream as in one engine,
//! and the engine that owns the customer processes the event. The decisions
//! of an event are the timer decisions of all engines merged by time, then
//! customer id (a customer's decisions all come from one engine, already in
//! order), then the event's own: exactly what one engine returns.
//!
//! Each worker thread owns its engine and runs *jobs* against it, in the
//! order they were sent; every call of the runtime sends its jobs and waits
//! for their answers, but [`Runtime::submit_lines`], which answers later
//! (see [`Runtime`] for the bound on a worker's queue).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::store::{Checkpoint, Header, Loader, StateStore, StoreError};
use crate::StateError;
use crate::{shard_of, Carry, Decision, Engine, Event, EventError, Metrics, Program, State};

/// How many jobs wait in a worker's queue at most. Every call sends one
/// job to each worker; calls wait for their answers, except
/// [`Runtime::submit_lines`], whose batches stay in the queue until the
/// workers take them: once it is full, a sender blocks until a worker
/// takes a job (backpressure), so memory stays at a few batches.
const QUEUE: usize = 4;

/// A job: runs on a worker's thread against its engine. The worker loop
/// knows nothing of what jobs do: a new kind of work is a new closure.
type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// Numbers runtimes, so that a [`ReloadPlan`] is applied only to the
/// runtime, and the state, it was prepared from.
static RUNTIMES: AtomicU64 = AtomicU64::new(0);

/// N engines on N persistent worker threads, sharded by customer, with
/// the decisions (and their order) of one engine.
///
/// ```
/// use std::sync::Arc;
/// use jrule::{Cause, Event, Program, Runtime, Source};
///
/// let text = "signal hello\naction greet(name: text)\nwhen hello then greet(\"world\")";
/// let program = Arc::new(Program::compile(&[Source::new("hello.jr", text)])?.program);
/// let mut runtime = Runtime::new(Arc::clone(&program), 2);
/// let line = r#"{"customer":"c1","signal":"hello","time":"2026-03-01T09:00:00Z"}"#;
/// let event = Event::from_json(runtime.program(), line)?;
/// let decisions = runtime.process(&event)?;
/// assert_eq!(decisions[0].action(), "greet");
/// assert_eq!(decisions[0].cause(), Cause::Event);
/// assert_eq!(runtime.customer_count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Backpressure.** Every call sends one job to each worker, through a
/// bounded queue of 4 jobs, and returns when all have answered — but
/// [`submit_lines`](Runtime::submit_lines), which returns at once and
/// answers later: a producer that outruns the workers blocks once their
/// queues are full, and the memory in flight is a few batches. Calls that
/// change the engines take `&mut self`; a host serving several threads
/// keeps the runtime behind a `Mutex`. Batches
/// ([`process_batch`](Runtime::process_batch),
/// [`process_lines`](Runtime::process_lines)) pay the threads' round trip
/// once for many events; [`process`](Runtime::process) pays it per event.
///
/// **Live clocks.** The clock moves with the events' times. To fire timers
/// when no events come, a host calls
/// [`advance_to_now`](Runtime::advance_to_now) every interval (a ticker),
/// or [`advance_to`](Runtime::advance_to) with a time of its own:
///
/// ```no_run
/// # use std::sync::{Arc, Mutex};
/// # fn route(_: Vec<jrule::Decision>) {}
/// # fn ticker(runtime: Arc<Mutex<jrule::Runtime>>) {
/// loop {
///     std::thread::sleep(std::time::Duration::from_secs(1));
///     let Ok(mut runtime) = runtime.lock() else { break };
///     match runtime.advance_to_now() {
///         Ok(timers) => route(timers), // all Cause::Timer: nobody asked for them
///         Err(e) => tracing::warn!("ticker: {e}"),
///     }
/// }
/// # }
/// ```
///
/// Once the ticker has moved the clock to the wall clock, an event stamped
/// a moment earlier (a client's clock, the network) is out of order; with
/// [`set_lateness`](Runtime::set_lateness) events up to that much older
/// than the clock are accepted and processed at the clock (their decisions
/// carry the clock's time). Set the lateness to the skew and delay the
/// host expects. A host that would rather keep late events at their own
/// time holds the clock back instead: `advance_to(now - lateness)` fires
/// timers that much later.
///
/// **State.** [`Runtime::open`] runs on a [`StateStore`]: customers are
/// loaded as their events and timers come, and
/// [`checkpoint`](Runtime::checkpoint) writes those changed since the last
/// one in a single transaction, with the clock, the metrics and the host's
/// input position. Without a store, [`save`](Runtime::save) gives the
/// whole state as one document.
///
/// **Reloading.** [`plan_reload`](Runtime::plan_reload) prepares every
/// engine on the new program and reports what the state loses, changing
/// nothing; [`apply_reload`](Runtime::apply_reload) then swaps all engines
/// at once; [`reload`](Runtime::reload) is the strict form, which fails
/// when anything would be lost. Events carry their program's layout: an
/// event read for the old program is refused afterwards with
/// [`EventError::OtherProgram`] when the layouts differ. A host reads
/// events with [`program`](Runtime::program), and reads a refused one
/// again with the new program.
#[derive(Debug)]
pub struct Runtime {
    program: Arc<Program>,
    workers: Vec<Worker>,
    lateness: i64,
    /// The latest clock of the engines, as their jobs leave it.
    clock: Arc<Clock>,
    /// This runtime's number, and how many calls have changed its engines:
    /// what a [`ReloadPlan`] was prepared from.
    id: u64,
    changes: u64,
    /// The state store customers are loaded from and checkpointed to.
    store: Option<Attached>,
}

/// A runtime's state store and each worker's loader.
struct Attached {
    store: Arc<dyn StateStore>,
    loaders: Arc<[Mutex<Loader>]>,
    /// The records may be of another program than the engines'.
    mixed: bool,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("loaders", &self.loaders)
            .field("mixed", &self.mixed)
            .finish_non_exhaustive()
    }
}

/// One worker thread and the queue of its jobs.
#[derive(Debug)]
struct Worker {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// A reload prepared by [`Runtime::plan_reload`]: the engines on the new
/// program, not yet swapped in, and what the state loses.
#[derive(Debug)]
pub struct ReloadPlan {
    program: Arc<Program>,
    engines: Vec<Engine>,
    carry: Carry,
    /// The runtime and its change count the plan was prepared from.
    from: (u64, u64),
}

impl ReloadPlan {
    /// What the state would lose, merged over all engines: empty when
    /// everything carries over.
    pub fn carry(&self) -> &Carry {
        &self.carry
    }

    /// The program the plan reloads to.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }
}

/// Why [`Runtime::apply_reload`] swapped nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The runtime changed (events, timers, another reload) after the plan
    /// was prepared, or the plan is another runtime's: plan again.
    #[error("the reload plan is stale: the runtime changed after it was prepared")]
    Stale,
}

impl ReloadError {
    /// The stable code of this kind of error, like `jrule::reload_stale`.
    pub fn code(&self) -> &'static str {
        match self {
            ReloadError::Stale => "jrule::reload_stale",
        }
    }
}

/// Lines sent with [`Runtime::submit_lines`], in the workers' hands.
/// Dropping it drops the answers, not the work: the events are processed
/// all the same.
#[derive(Debug)]
#[must_use = "the answers come with `wait`"]
pub struct PendingLines(Pending<u8>);

impl PendingLines {
    /// Waits for the workers: one answer per line, in order, as
    /// [`Runtime::process_lines`] gives them.
    pub fn wait(self) -> Vec<Result<Vec<u8>, EventError>> {
        self.0.wait()
    }
}

/// A batch in the workers' hands: their columns come on `answers`.
#[derive(Debug)]
struct Pending<T> {
    answers: Receiver<(usize, Column<T>)>,
    workers: usize,
    count: usize,
    stop: bool,
}

impl<T: Clone> Pending<T> {
    /// The answers, merged in one engine's order: per event, the timers of
    /// all engines by time, then customer, then the event's own.
    fn wait(self) -> Vec<Answer<T>> {
        let mut columns: Vec<Option<Column<T>>> = (0..self.workers).map(|_| None).collect();
        for _ in 0..self.workers {
            match self.answers.recv() {
                Ok((i, column)) => {
                    if let Some(slot) = columns.get_mut(i) {
                        *slot = Some(column);
                    }
                }
                Err(_) => {
                    tracing::error!("a runtime worker stopped");
                    std::panic::resume_unwind(Box::new("a jrule runtime worker panicked"));
                }
            }
        }
        let mut cursors: Vec<Cursor<T>> = columns
            .into_iter()
            .flatten()
            .map(|column| Cursor {
                column,
                step: 0,
                timer: 0,
                item: 0,
            })
            .collect();
        let mut answers = Vec::with_capacity(self.count);
        // The timers of one event: (time, customer, worker, items).
        let mut timers: Vec<(i64, Arc<str>, usize, std::ops::Range<usize>)> = Vec::new();
        for _ in 0..self.count {
            timers.clear();
            let mut own = None;
            for (w, cursor) in cursors.iter_mut().enumerate() {
                let Some(step) = cursor.column.steps.get(cursor.step) else {
                    continue;
                };
                cursor.step += 1;
                for (time, customer, len) in cursor
                    .column
                    .timers
                    .get(cursor.timer..cursor.timer + step.timers)
                    .unwrap_or_default()
                {
                    timers.push((
                        *time,
                        Arc::clone(customer),
                        w,
                        cursor.item..cursor.item + len,
                    ));
                    cursor.item += len;
                }
                cursor.timer += step.timers;
                match &step.own {
                    Own::Other => {}
                    Own::Decided(len) => {
                        own = Some(Ok((w, cursor.item..cursor.item + len)));
                        cursor.item += len;
                    }
                    Own::Rejected(e) => own = Some(Err(e.clone())),
                }
            }
            timers.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            let items = |w: usize, range: std::ops::Range<usize>| {
                cursors
                    .get(w)
                    .and_then(|c| c.column.items.get(range))
                    .unwrap_or_default()
            };
            let answer = match own {
                Some(Err(e)) => Err(e),
                own => {
                    let mut all = Vec::new();
                    for (_, _, w, range) in timers.drain(..) {
                        all.extend_from_slice(items(w, range));
                    }
                    if let Some(Ok((w, range))) = own {
                        all.extend_from_slice(items(w, range));
                    }
                    Ok(all)
                }
            };
            let rejected = answer.is_err();
            answers.push(answer);
            if self.stop && rejected {
                break;
            }
        }
        answers
    }
}

/// How [`Runtime::process_lines`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineOptions {
    /// Decision lines carry a `cause` member ([`Decision::with_cause`]).
    pub causes: bool,
    /// Stop at the first rejected line: the lines after it are neither
    /// processed nor answered.
    pub stop_at_rejection: bool,
}

impl LineOptions {
    /// Decision lines as the spec writes them; every line processed.
    pub fn new() -> LineOptions {
        LineOptions::default()
    }

    /// With `cause` members or not.
    pub fn causes(mut self, causes: bool) -> LineOptions {
        self.causes = causes;
        self
    }

    /// Stopping at the first rejected line or not.
    pub fn stop_at_rejection(mut self, stop: bool) -> LineOptions {
        self.stop_at_rejection = stop;
        self
    }
}

/// The answer for one event: its decisions, or why it was rejected.
type Answer<T> = Result<Vec<T>, EventError>;

impl Runtime {
    /// A runtime of `threads` engines (at least one) with no customers and
    /// no clock. Each engine has its own copy of the program when there
    /// are several. Panics if a thread cannot be started, as
    /// [`std::thread::spawn`] does.
    pub fn new(program: Arc<Program>, threads: usize) -> Runtime {
        let threads = threads.max(1);
        let workers = (0..threads)
            .map(|i| Worker::start(i, Arc::clone(&program), threads))
            .collect();
        Runtime {
            program,
            workers,
            lateness: 0,
            clock: Arc::new(Clock(AtomicI64::new(i64::MIN))),
            id: RUNTIMES.fetch_add(1, Ordering::Relaxed),
            changes: 0,
            store: None,
        }
    }

    /// A runtime of `threads` engines on a state store: the clock and
    /// metrics come from the store's last checkpoint, and each customer is
    /// loaded when its first event comes, or before its first timer falls
    /// due ([`Loader`]). A store written for another program is carried
    /// record by record, as a state file is on reload ([`carry`](Runtime::carry)).
    /// Write checkpoints with [`checkpoint`](Runtime::checkpoint).
    pub fn open(
        program: Arc<Program>,
        store: Arc<dyn StateStore>,
        threads: usize,
    ) -> Result<Runtime, StoreError> {
        let mut runtime = Runtime::new(program, threads);
        let n = runtime.workers.len();
        let jobs = (0..n)
            .map(|shard| {
                let store = Arc::clone(&store);
                move |engine: &mut Engine| {
                    let program = Arc::clone(engine.program());
                    let (mut opened, loader) = Loader::open(program, store, shard, n)?;
                    opened.track_changes(true);
                    *engine = opened;
                    Ok((loader, engine.clock()))
                }
            })
            .collect();
        let mut loaders = Vec::with_capacity(n);
        for opened in runtime.on_each(jobs) {
            let (loader, clock) = opened?;
            runtime.clock.set(clock);
            loaders.push(Mutex::new(loader));
        }
        let mixed = loaders.iter().any(|l| {
            l.lock()
                .map(|l: std::sync::MutexGuard<'_, Loader>| l.carry().is_some())
                .unwrap_or(true)
        });
        runtime.store = Some(Attached {
            store,
            loaders: loaders.into(),
            mixed,
        });
        Ok(runtime)
    }

    /// Writes the customers changed since the last checkpoint and the
    /// engine-wide header (clock, metrics, and the host's input `position`)
    /// in one transaction of the store. Returns how many customers were
    /// written; nothing without a store. On an error the changes stay
    /// recorded for the next checkpoint.
    pub fn checkpoint(&mut self, position: Option<String>) -> Result<usize, StoreError> {
        let Some(attached) = &self.store else {
            return Ok(0);
        };
        let started = std::time::Instant::now();
        let parts = self.on_all(|_, engine| (engine.save_header(), engine.take_changes()));
        let (headers, changes): (Vec<State>, Vec<_>) = parts.into_iter().unzip();
        let state = State::merge(&headers)
            .unwrap_or_else(|| Engine::new(Arc::clone(&self.program)).save_header());
        let mut header = Header::new(&self.program, state, position);
        if attached.mixed {
            header = header.mixed();
        }
        let checkpoint = Checkpoint {
            header,
            changes: changes.into_iter().flatten().collect(),
        };
        match attached.store.commit(&checkpoint) {
            Ok(()) => {
                tracing::info!(
                    customers = checkpoint.changes.len(),
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "checkpoint written"
                );
                Ok(checkpoint.changes.len())
            }
            Err(e) => {
                let ids: Arc<Vec<Arc<str>>> =
                    Arc::new(checkpoint.changes.into_iter().map(|(id, _)| id).collect());
                let n = self.workers.len();
                self.on_all(move |shard, engine| {
                    engine.mark_changed(ids.iter().filter(|id| shard_of(id, n) == shard));
                });
                Err(e)
            }
        }
    }

    /// For a runtime on a store written for another program: what carrying
    /// the records loaded so far dropped, merged over the engines.
    pub fn carry(&self) -> Option<Carry> {
        let attached = self.store.as_ref()?;
        let mut all: Option<Carry> = None;
        for loader in attached.loaders.iter() {
            if let Some(c) = loader.lock().ok().and_then(|l| l.carry().cloned()) {
                all.get_or_insert_with(Carry::default).add(&c);
            }
        }
        all
    }

    /// A runtime of `threads` engines with a saved state (saved with any
    /// number of engines), checked against the program as
    /// [`Engine::restore`] does.
    pub fn restore(
        program: Arc<Program>,
        state: &State,
        threads: usize,
    ) -> Result<Runtime, StateError> {
        let runtime = Runtime::new(program, threads);
        let jobs = state.split(runtime.workers.len()).into_iter().map(|part| {
            move |engine: &mut Engine| {
                let restored = Engine::restore(Arc::clone(engine.program()), &part)?;
                *engine = restored;
                Ok(engine.clock())
            }
        });
        for restored in runtime.on_each(jobs.collect()) {
            runtime.clock.set(restored?);
        }
        Ok(runtime)
    }

    /// The program the engines run: read events with it.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The number of engines (and worker threads).
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// The time of the last event or timer processed (ms since the epoch),
    /// the same on every engine.
    pub fn clock(&self) -> Option<i64> {
        self.clock.get()
    }

    /// Accepts events up to `ms` milliseconds older than the clock, on
    /// every engine ([`Engine::set_lateness`]); 0, the default, accepts
    /// none. Kept across reloads.
    pub fn set_lateness(&mut self, ms: i64) {
        self.lateness = ms.max(0);
        let lateness = self.lateness;
        self.on_all(move |_, engine| engine.set_lateness(lateness));
    }

    /// The allowed lateness, in milliseconds.
    pub fn lateness(&self) -> i64 {
        self.lateness
    }

    /// Processes one event: the timer decisions of every engine due by its
    /// time, then the event's own, as [`Engine::process`] returns them. A
    /// rejected event changes nothing.
    pub fn process(&mut self, event: &Event) -> Result<Vec<Decision>, EventError> {
        self.process_batch(vec![event.clone()])
            .pop()
            .unwrap_or(Ok(Vec::new()))
    }

    /// Processes events in order, one answer per event, as
    /// [`process`](Runtime::process) would one by one.
    pub fn process_batch(&mut self, events: Vec<Event>) -> Vec<Result<Vec<Decision>, EventError>> {
        let events = Arc::new(events.into_iter().map(Ok).collect::<Vec<_>>());
        self.submit(Input::Events(events), AsDecisions, false)
            .wait()
    }

    /// Reads and processes lines of JSON, one event each, as a host with
    /// JSON Lines has them (an HTTP body, a Kafka batch): the workers read
    /// the lines in parallel, decide, and write each event's decisions as
    /// JSON lines (each ending in a line break). One answer per line, in
    /// order: its decision lines, or why it was rejected (unreadable, or
    /// rejected by the engine).
    pub fn process_lines(
        &mut self,
        lines: Vec<Vec<u8>>,
        options: LineOptions,
    ) -> Vec<Result<Vec<u8>, EventError>> {
        self.submit_lines(lines, options).wait()
    }

    /// Like [`process_lines`](Runtime::process_lines), but returns at once:
    /// the workers take the lines after what was sent before, and
    /// [`PendingLines::wait`] gives the answers. A host submits the next
    /// batch before it waits for the last, so that its own work (reading
    /// input, writing answers) overlaps the workers'. The queues are
    /// bounded: with two batches in flight, the next submission (or any
    /// other call) waits for the workers.
    pub fn submit_lines(&mut self, lines: Vec<Vec<u8>>, options: LineOptions) -> PendingLines {
        let emit = AsJson {
            causes: options.causes,
        };
        PendingLines(self.submit(Input::Lines(lines), emit, options.stop_at_rejection))
    }

    /// Advances every engine's clock to `time`, firing the timers due by
    /// then: their decisions merged by time, then customer, as
    /// [`Engine::advance_to`] returns them. A time behind the clock by at
    /// most the lateness changes nothing; further behind, it is out of
    /// order.
    pub fn advance_to(&mut self, time: i64) -> Result<Vec<Decision>, EventError> {
        self.changes += 1;
        let mut all = Vec::new();
        let mut error = None;
        let loaders = self.store.as_ref().map(|a| Arc::clone(&a.loaders));
        for (result, clock) in self.on_all(move |shard, engine| {
            let mut loader = loaders.as_ref().and_then(|l| l[shard].lock().ok());
            let loaded = load(loader.as_deref_mut(), engine, None, time);
            (
                loaded.and_then(|()| engine.advance_to(time)),
                engine.clock(),
            )
        }) {
            self.clock.set(clock);
            match result {
                Ok(decisions) => all.extend(decisions),
                Err(e) => error = Some(e),
            }
        }
        // The clocks agree, so either every engine refused or none did.
        if let Some(e) = error {
            return Err(e);
        }
        all.sort_by(|a, b| (a.time, &a.customer).cmp(&(b.time, &b.customer)));
        Ok(all)
    }

    /// Advances the clock to the system's wall-clock time, as a ticker does
    /// every interval (see [`Runtime`]); nothing when the clock is already
    /// past it (events stamped ahead of this machine's clock).
    pub fn advance_to_now(&mut self) -> Result<Vec<Decision>, EventError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if self.clock().is_some_and(|clock| clock >= now) {
            return Ok(Vec::new());
        }
        self.advance_to(now)
    }

    /// The whole state, merged from every engine: the document one engine
    /// with all the customers saves.
    pub fn save(&self) -> State {
        let parts = self.on_all(|_, engine| engine.save());
        State::merge(&parts).unwrap_or_else(|| Engine::new(Arc::clone(&self.program)).save())
    }

    /// The counters so far, summed over the engines.
    pub fn metrics(&self) -> Metrics {
        let mut all = self.on_all(|_, engine| engine.metrics()).into_iter();
        let mut metrics = all
            .next()
            .unwrap_or_else(|| Engine::new(Arc::clone(&self.program)).metrics());
        for m in all {
            metrics.add(&m);
        }
        metrics
    }

    /// The number of customers with any state, over all engines.
    pub fn customer_count(&self) -> usize {
        self.on_all(|_, engine| engine.customer_count())
            .into_iter()
            .sum()
    }

    /// A dry run of a reload: every engine's state carried over to
    /// `program` by name (as [`Engine::reload_carrying`] does), in
    /// parallel, without changing the runtime. The plan holds the prepared
    /// engines and what the state loses, merged over the engines; apply it
    /// with [`apply_reload`](Runtime::apply_reload), or drop it. Fails only
    /// if the state is corrupt. It holds a second copy of the state until
    /// applied or dropped.
    pub fn plan_reload(&self, program: Arc<Program>) -> Result<ReloadPlan, StateError> {
        let threads = self.workers.len();
        let target = Arc::clone(&program);
        let mut engines = Vec::with_capacity(threads);
        let mut carry = Carry::default();
        for prepared in self.on_all(move |_, engine| {
            Engine::restore_carrying(own_copy(&target, threads), &engine.save())
        }) {
            let (engine, part) = prepared?;
            carry.add_engine(&part);
            engines.push(engine);
        }
        Ok(ReloadPlan {
            program,
            engines,
            carry,
            from: (self.id, self.changes),
        })
    }

    /// Swaps in the engines of a plan on every worker at once. Fails,
    /// changing nothing, if the runtime changed after the plan was
    /// prepared (the plan's engines would lack what happened since).
    pub fn apply_reload(&mut self, plan: ReloadPlan) -> Result<(), ReloadError> {
        if plan.from != (self.id, self.changes) {
            return Err(ReloadError::Stale);
        }
        self.swap(plan.program, plan.engines);
        tracing::info!(
            threads = self.workers.len(),
            dropped = %plan.carry,
            "reloaded the program"
        );
        Ok(())
    }

    /// Reloads `program` strictly on every engine: fails, changing
    /// nothing on any engine, when some state names what the new program
    /// lacks or changed ([`Engine::reload`]).
    pub fn reload(&mut self, program: Arc<Program>) -> Result<(), StateError> {
        let threads = self.workers.len();
        let target = Arc::clone(&program);
        let engines = self
            .on_all(move |_, engine| Engine::restore(own_copy(&target, threads), &engine.save()))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        self.swap(program, engines);
        tracing::info!(threads, "reloaded the program");
        Ok(())
    }

    /// Puts prepared engines in place, one per worker.
    fn swap(&mut self, program: Arc<Program>, engines: Vec<Engine>) {
        self.changes += 1;
        self.program = program;
        let lateness = self.lateness;
        let stored = self.store.is_some();
        let jobs = engines
            .into_iter()
            .map(|mut new| {
                move |engine: &mut Engine| {
                    new.set_lateness(lateness);
                    if stored {
                        // Every loaded customer is written again (its state
                        // may have been carried), and the deletions pending.
                        new.track_changes(true);
                        new.mark_all_changed();
                        new.mark_changed(engine.take_changed_ids().iter());
                    }
                    *engine = new;
                }
            })
            .collect();
        self.on_each(jobs);
        if let Some(attached) = &mut self.store {
            attached.mixed = true;
            for loader in attached.loaders.iter() {
                if let Ok(mut loader) = loader.lock() {
                    loader.carry_from_now();
                }
            }
        }
    }

    /// Sends a batch to every worker: each reads its share of the lines
    /// (if they are lines) and hands it to the others, then advances
    /// through all the events and processes its own customers'.
    fn submit<E: Emit>(&mut self, input: Input, emit: E, stop: bool) -> Pending<E::Item> {
        self.changes += 1;
        let n = self.workers.len();
        let (replies, answers) = mpsc::sync_channel(n);
        let count = match &input {
            Input::Lines(lines) => lines.len(),
            Input::Events(events) => events.len(),
        };
        let (inboxes, outboxes): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::sync_channel(n)).unzip();
        let mut shares = match input {
            Input::Lines(lines) => {
                let chunk = lines.len().div_ceil(n).max(1);
                let mut lines = lines.into_iter();
                (0..n)
                    .map(|_| Share::Lines(lines.by_ref().take(chunk).collect()))
                    .collect()
            }
            Input::Events(events) => vec![Share::Events(events)],
        }
        .into_iter();
        for (shard, (worker, inbox)) in self.workers.iter().zip(outboxes).enumerate() {
            let share = shares.next();
            let peers: Vec<SyncSender<(usize, Arc<Parsed>)>> = inboxes.clone();
            let replies = replies.clone();
            let clock = Arc::clone(&self.clock);
            let loaders = self.store.as_ref().map(|a| Arc::clone(&a.loaders));
            let job: Job = Box::new(move |engine: &mut Engine| {
                let events = gather(engine, shard, share, peers, &inbox);
                let mut loader = loaders.as_ref().and_then(|l| l[shard].lock().ok());
                let column = column(engine, loader.as_deref_mut(), shard, n, &events, emit, stop);
                drop(loader);
                drop(events);
                clock.note(engine);
                let _ = replies.send((shard, column));
            });
            self.send(shard, worker, job);
        }
        // The workers' inboxes close once every worker has sent its share.
        drop(inboxes);
        Pending {
            answers,
            workers: n,
            count,
            stop,
        }
    }

    /// Runs `job` on every worker against its engine, in parallel, and
    /// waits for all: the answers in worker order.
    fn on_all<R: Send + 'static>(
        &self,
        job: impl Fn(usize, &mut Engine) -> R + Send + Sync + 'static,
    ) -> Vec<R> {
        let job = Arc::new(job);
        let jobs = (0..self.workers.len())
            .map(|i| {
                let job = Arc::clone(&job);
                move |engine: &mut Engine| job(i, engine)
            })
            .collect();
        // What the job holds is dropped by the last worker to finish it.
        drop(job);
        self.on_each(jobs)
    }

    /// Runs the i-th job on the i-th worker, in parallel, and waits for
    /// all: the answers in worker order. If a worker panicked (a bug), so
    /// does this call.
    fn on_each<R: Send + 'static, J: FnOnce(&mut Engine) -> R + Send + 'static>(
        &self,
        jobs: Vec<J>,
    ) -> Vec<R> {
        let (tx, rx) = mpsc::sync_channel(jobs.len());
        let count = jobs.len();
        for (i, (worker, job)) in self.workers.iter().zip(jobs).enumerate() {
            let tx = tx.clone();
            let job: Job = Box::new(move |engine: &mut Engine| {
                let answer = job(engine);
                let _ = tx.send((i, answer));
            });
            self.send(i, worker, job);
        }
        drop(tx);
        let mut answers: Vec<Option<R>> = (0..count).map(|_| None).collect();
        for _ in 0..count {
            match rx.recv() {
                Ok((i, answer)) => {
                    if let Some(slot) = answers.get_mut(i) {
                        *slot = Some(answer);
                    }
                }
                Err(_) => {
                    let i = answers.iter().position(Option::is_none).unwrap_or(0);
                    self.worker_died(i);
                }
            }
        }
        answers.into_iter().flatten().collect()
    }

    /// Queues a job on worker `i` (waiting while its queue is full).
    fn send(&self, i: usize, worker: &Worker, job: Job) {
        if worker
            .jobs
            .as_ref()
            .is_none_or(|jobs| jobs.send(job).is_err())
        {
            self.worker_died(i);
        }
    }

    /// A worker stopped: it can only have panicked. Raises its panic here.
    fn worker_died(&self, i: usize) {
        tracing::error!(worker = i, "a runtime worker stopped");
        std::panic::resume_unwind(Box::new(format!("jrule runtime worker {i} panicked")));
    }
}

impl Drop for Runtime {
    /// Closes the workers' queues and waits for the threads to finish.
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.jobs = None;
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Worker {
    /// A thread with an engine of its own (on its own copy of the program
    /// when there are several) that runs jobs against it until its queue
    /// closes.
    fn start(i: usize, program: Arc<Program>, threads: usize) -> Worker {
        let (jobs, queue): (SyncSender<Job>, Receiver<Job>) = mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name(format!("jrule-shard-{i}"))
            .spawn(move || {
                let mut engine = Engine::new(own_copy(&program, threads));
                drop(program);
                for job in queue {
                    job(&mut engine);
                }
            })
            .unwrap_or_else(|e| panic!("cannot start a jrule runtime thread: {e}"));
        Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }
}

/// The engines' clock, shared with the jobs that move it (`i64::MIN` for
/// none yet): every engine keeps the same clock.
#[derive(Debug)]
struct Clock(AtomicI64);

impl Clock {
    fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&c| c != i64::MIN)
    }

    fn set(&self, clock: Option<i64>) {
        if let Some(c) = clock {
            self.0.fetch_max(c, Ordering::Relaxed);
        }
    }

    fn note(&self, engine: &Engine) {
        self.set(engine.clock());
    }
}

/// Each engine of several gets its own copy of the program: decisions hold
/// a reference to it, and a count shared between threads would bounce
/// between their cores on every decision.
fn own_copy(program: &Arc<Program>, threads: usize) -> Arc<Program> {
    if threads == 1 {
        Arc::clone(program)
    } else {
        Arc::new(Program::clone(program))
    }
}

/// The events of one share of a batch, read or not.
type Parsed = Vec<Result<Event, EventError>>;

/// What a batch is made of.
enum Input {
    Lines(Vec<Vec<u8>>),
    Events(Arc<Parsed>),
}

/// One worker's part of a batch: lines to read, or (for the first worker)
/// all the events already read.
enum Share {
    Lines(Vec<Vec<u8>>),
    Events(Arc<Parsed>),
}

/// A worker's view of a batch: reads its share of lines and sends it to
/// every worker (itself too), then gathers the shares of all, in order.
fn gather(
    engine: &Engine,
    shard: usize,
    share: Option<Share>,
    peers: Vec<SyncSender<(usize, Arc<Parsed>)>>,
    inbox: &Receiver<(usize, Arc<Parsed>)>,
) -> Vec<Arc<Parsed>> {
    match share {
        Some(Share::Events(events)) => {
            for peer in &peers {
                let _ = peer.send((shard, Arc::clone(&events)));
            }
        }
        Some(Share::Lines(lines)) => {
            let program = engine.program();
            let parsed: Arc<Parsed> = Arc::new(
                lines
                    .iter()
                    .map(|line| Event::from_json_bytes(program, line))
                    .collect(),
            );
            for peer in &peers {
                let _ = peer.send((shard, Arc::clone(&parsed)));
            }
        }
        None => {}
    }
    let senders = peers.len();
    drop(peers);
    let mut shares: Vec<(usize, Arc<Parsed>)> = Vec::with_capacity(senders);
    // Every worker that has a share sends it; the inbox closes when all
    // are done with it (or one died).
    while let Ok(share) = inbox.recv() {
        shares.push(share);
    }
    shares.sort_by_key(|s| s.0);
    shares.into_iter().map(|s| s.1).collect()
}

/// What one engine did for a batch: the output of all its events, in
/// order, and how much of it each event made.
struct Column<T> {
    /// Decisions (or their JSON): per event, its timers', then its own.
    items: Vec<T>,
    /// Every timer decision: its time and customer, to merge by, and the
    /// length of its output.
    timers: Vec<(i64, Arc<str>, usize)>,
    steps: Vec<Step>,
}

/// One event on one engine: how many timer decisions fell due before it,
/// and its own answer, if this engine gives it.
struct Step {
    timers: usize,
    own: Own,
}

/// The event's answer, from the engine that gives it: the one that owns
/// the customer, or the first one when the line could not be read.
enum Own {
    /// Another engine answers.
    Other,
    /// Its decisions: this much output.
    Decided(usize),
    /// Why it was rejected.
    Rejected(EventError),
}

/// Where the merge is in a column.
struct Cursor<T> {
    column: Column<T>,
    step: usize,
    timer: usize,
    item: usize,
}

/// How decisions leave the worker: as they are, or written as JSON there.
trait Emit: Copy + Send + Sync + 'static {
    type Item: Clone + Send + 'static;
    fn emit(self, decision: &Decision, out: &mut Vec<Self::Item>);
}

#[derive(Clone, Copy)]
struct AsDecisions;

impl Emit for AsDecisions {
    type Item = Decision;
    fn emit(self, decision: &Decision, out: &mut Vec<Decision>) {
        out.push(decision.clone());
    }
}

#[derive(Clone, Copy)]
struct AsJson {
    causes: bool,
}

impl Emit for AsJson {
    type Item = u8;
    fn emit(self, decision: &Decision, out: &mut Vec<u8>) {
        let written = if self.causes {
            serde_json::to_writer(&mut *out, &decision.with_cause())
        } else {
            serde_json::to_writer(&mut *out, decision)
        };
        if written.is_ok() {
            out.push(b'\n');
        }
    }
}

/// Loads from the store what an event (of `customer`, on its owner) or an
/// advance at `time` needs. A customer that cannot be loaded makes its
/// event rejected; a timer's customer that cannot be loaded is logged and
/// tried again at the next event.
fn load(
    loader: Option<&mut Loader>,
    engine: &mut Engine,
    customer: Option<&str>,
    time: i64,
) -> Result<(), EventError> {
    let Some(loader) = loader else {
        return Ok(());
    };
    match loader.prepare(engine, customer, time) {
        Ok(()) => Ok(()),
        Err(e) if customer.is_some() => Err(EventError::Store(e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "cannot load a customer whose timer is due");
            Ok(())
        }
    }
}

/// One worker's pass over a batch: it advances through every event and
/// processes those of its customers. Every engine has the same clock, so
/// an event is refused by all or by none; with `stop`, all stop after the
/// first refused.
fn column<E: Emit>(
    engine: &mut Engine,
    mut loader: Option<&mut Loader>,
    shard: usize,
    shards: usize,
    shares: &[Arc<Parsed>],
    emit: E,
    stop: bool,
) -> Column<E::Item> {
    let layout = engine.program().names.layout;
    let mut scratch = Vec::new();
    let mut column = Column {
        items: Vec::new(),
        timers: Vec::new(),
        steps: Vec::with_capacity(shares.iter().map(|s| s.len()).sum()),
    };
    for parsed in shares.iter().flat_map(|share| share.iter()) {
        let event = match parsed {
            Ok(event) => event,
            Err(e) => {
                column.steps.push(Step {
                    timers: 0,
                    own: if shard == 0 {
                        Own::Rejected(e.clone())
                    } else {
                        Own::Other
                    },
                });
                if stop {
                    break;
                }
                continue;
            }
        };
        let owner = shard_of(event.customer(), shards) == shard;
        let admitted = if event.layout == layout {
            load(
                loader.as_deref_mut(),
                engine,
                owner.then(|| event.customer()),
                event.time(),
            )
            .and_then(|()| engine.advance_into(event.time(), &mut scratch))
        } else {
            Err(EventError::OtherProgram)
        };
        if let Err(e) = admitted {
            column.steps.push(Step {
                timers: 0,
                own: if owner { Own::Rejected(e) } else { Own::Other },
            });
            if stop {
                break;
            }
            continue;
        }
        let timers = scratch.len();
        for d in scratch.drain(..) {
            let before = column.items.len();
            emit.emit(&d, &mut column.items);
            let len = column.items.len() - before;
            column.timers.push((d.time, d.customer, len));
        }
        let own = if owner {
            match engine.process_into(event, &mut scratch) {
                Ok(()) => {
                    let before = column.items.len();
                    for d in scratch.drain(..) {
                        emit.emit(&d, &mut column.items);
                    }
                    Own::Decided(column.items.len() - before)
                }
                Err(e) => Own::Rejected(e),
            }
        } else {
            Own::Other
        };
        column.steps.push(Step { timers, own });
    }
    column
}
