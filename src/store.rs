//! State per customer, in a database: the [`StateStore`] trait, and
//! [`RedbStore`], its embedded default on [redb](https://docs.rs/redb).
//!
//! A store keeps one record per customer (its [`CustomerState`], by name),
//! the customers with pending timers and their earliest deadline (so that a
//! host can load a customer before its timer falls due without reading every
//! customer up front), and one engine-wide [`Header`]: the clock, the
//! metrics, the program the records were written for, and an opaque
//! position of the host's input. A [`Checkpoint`] writes the customers
//! changed since the last one ([`Engine::take_changes`](crate::Engine::take_changes))
//! and the header in one transaction: a crash at any moment leaves the
//! store at the last complete checkpoint.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::fast::FixedState;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::compile::Program;
use crate::engine::{shard_of, Carry, CustomerState, Engine, State, StateError};

/// Why a store could not be read or written.
///
/// Each kind has a stable [`code`](StoreError::code) (`jrule::store_…`).
/// More kinds may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be opened or created (missing directory, no
    /// permission, held by another process, or damaged).
    #[error("cannot open the store `{}`: {message}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What the database said.
        message: String,
    },
    /// Reading or writing failed (the disk, or a damaged database).
    #[error("the store failed: {0}")]
    Io(String),
    /// A record cannot be read: the store is damaged, or was written by
    /// something else. `at` names the record.
    #[error("the store's record {at} is damaged: {error}")]
    Damaged {
        /// The record: `header`, or ``customer `c1` ``.
        at: String,
        /// What is wrong with it.
        error: Box<StateError>,
    },
}

impl StoreError {
    /// The stable code of this kind of failure, like `jrule::store_damaged`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "jrule::store_open",
            StoreError::Io(_) => "jrule::store_io",
            StoreError::Damaged { error, .. } => match &**error {
                StateError::Corrupt { .. } | StateError::NotAState { .. } => "jrule::store_damaged",
                other => other.code(),
            },
        }
    }
}

/// The engine-wide record of a store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    format: String,
    version: u32,
    /// The [`fingerprint`] of the program the records were written for.
    program: String,
    /// Where the host's input was at the checkpoint (a file and line, a
    /// partition offset): the host's to define.
    position: Option<String>,
    /// The clock and the metrics; no customers.
    state: State,
}

const FORMAT: &str = "jrule-store";
const VERSION: u32 = 1;

impl Header {
    /// A header for an engine-wide state (whose customers are ignored)
    /// written by `program`, with the host's input `position`.
    pub fn new(program: &Program, state: State, position: Option<String>) -> Header {
        Header {
            format: FORMAT.to_string(),
            version: VERSION,
            program: fingerprint(program),
            position,
            state: state.without_customers(),
        }
    }

    /// The clock and the metrics.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The host's input position at the checkpoint.
    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    /// A header whose records may have been written by several programs
    /// (the engine's program was reloaded since the store was opened):
    /// every record is then carried when loaded.
    pub fn mixed(mut self) -> Header {
        self.program = String::new();
        self
    }

    /// Whether the records were written for this program (same journeys,
    /// stages, goals, rules, fields and signals): they then restore
    /// strictly; otherwise they are carried, as a state file is on reload.
    pub fn written_for(&self, program: &Program) -> bool {
        self.program == fingerprint(program)
    }

    fn from_json(bytes: &[u8]) -> Result<Header, StoreError> {
        let damaged = |error| StoreError::Damaged {
            at: "header".into(),
            error: Box::new(error),
        };
        let header: Header = serde_json::from_slice(bytes).map_err(|e| {
            let (message, line, column) = crate::engine::split_position(&e);
            damaged(StateError::Corrupt {
                message,
                line,
                column,
            })
        })?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(damaged(StateError::NotAState {
                format: format!("{} version {}", header.format, header.version),
            }));
        }
        Ok(header)
    }
}

/// One checkpoint: the header, and each changed customer's state (`None`:
/// deleted), as [`Engine::take_changes`](crate::Engine::take_changes) gives them.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The engine-wide record.
    pub header: Header,
    /// The customers changed since the last checkpoint.
    pub changes: Vec<(Arc<str>, Option<CustomerState>)>,
}

/// Where engine state lives between runs, per customer.
///
/// Implement it over the host's own database; [`RedbStore`] is the
/// embedded default. Reads may come from several threads at once.
pub trait StateStore: Send + Sync {
    /// The header of the last checkpoint, or `None` for an empty store.
    fn header(&self) -> Result<Option<Header>, StoreError>;
    /// One customer's state, or `None` if the store has none.
    fn get(&self, customer: &str) -> Result<Option<CustomerState>, StoreError>;
    /// Every stored customer with a pending timer, and its earliest deadline.
    fn wakeups(&self) -> Result<Vec<(i64, Arc<str>)>, StoreError>;
    /// Writes one checkpoint, all of it or (on an error or a crash) none.
    fn commit(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
}

/// Loads customers from a store into one engine as they are needed: a
/// customer when its first event comes, a customer with a timer before the
/// timer falls due. Nothing is read up front but the header and the list
/// of pending timers, so a store of millions of customers opens at once.
///
/// Call [`prepare`](Loader::prepare) before each event and each advance of
/// the clock. A loaded (or looked-up and absent) customer is remembered, so
/// each is read at most once.
pub struct Loader {
    store: Arc<dyn StateStore>,
    /// Stored customers of this shard with timers, not loaded yet, by deadline.
    pending: BTreeSet<(i64, Arc<str>)>,
    /// Customers already loaded or looked up; `None` for an empty store.
    seen: Option<hashbrown::HashSet<Arc<str>, FixedState>>,
    /// For a store written by another program: what carrying dropped.
    carry: Option<Carry>,
    loaded: u64,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("pending", &self.pending.len())
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl Loader {
    /// An engine for shard `shard` of `shards` (customers routed by
    /// [`shard_of`]) with the store's clock and metrics (the metrics in
    /// shard 0), and the loader of its customers. A store written for
    /// another program is carried: see [`carry`](Loader::carry).
    pub fn open(
        program: Arc<Program>,
        store: Arc<dyn StateStore>,
        shard: usize,
        shards: usize,
    ) -> Result<(Engine, Loader), StoreError> {
        let header = store.header()?;
        let strict = header.as_ref().is_none_or(|h| h.written_for(&program));
        let mut carry = (!strict).then(Carry::default);
        let engine = match &header {
            None => Engine::new(program),
            Some(h) => {
                let part = h.state.split(shards).swap_remove(shard);
                let restored = match &mut carry {
                    None => Engine::restore(program, &part),
                    Some(carry) => Engine::restore_carrying(program, &part).map(|(e, c)| {
                        carry.add(&c);
                        e
                    }),
                };
                restored.map_err(|error| StoreError::Damaged {
                    at: "header".into(),
                    error: Box::new(error),
                })?
            }
        };
        let pending = match header {
            None => BTreeSet::new(),
            Some(_) => store
                .wakeups()?
                .into_iter()
                .filter(|(_, id)| shard_of(id, shards) == shard)
                .collect(),
        };
        let seen = header.is_some().then(Default::default);
        let loader = Loader {
            store,
            pending,
            seen,
            carry,
            loaded: 0,
        };
        Ok((engine, loader))
    }

    /// Loads what processing an event of `customer` (or advancing the
    /// clock, for `None`) at `time` needs: the customer, and every stored
    /// customer with a timer due by `time`.
    pub fn prepare(
        &mut self,
        engine: &mut Engine,
        customer: Option<&str>,
        time: i64,
    ) -> Result<(), StoreError> {
        if self.seen.is_none() {
            return Ok(());
        }
        while let Some((deadline, id)) = self.pending.first().cloned() {
            if deadline > time {
                break;
            }
            self.load(engine, &id)?;
            self.pending.pop_first();
        }
        if let Some(id) = customer {
            self.load(engine, id)?;
        }
        Ok(())
    }

    fn load(&mut self, engine: &mut Engine, id: &str) -> Result<(), StoreError> {
        let Some(seen) = &mut self.seen else {
            return Ok(());
        };
        if seen.contains(id) {
            return Ok(());
        }
        if let Some(state) = self.store.get(id)? {
            let put = match &mut self.carry {
                None => engine.put_customer(&state),
                Some(carry) => engine.put_customer_carrying(&state, carry),
            };
            put.map_err(|error| damaged(id, error))?;
            self.loaded += 1;
        }
        seen.insert(Arc::from(id));
        Ok(())
    }

    /// For a store written by another program, what carrying its records
    /// (those loaded so far) dropped; `None` when it was written for this one.
    pub fn carry(&self) -> Option<&Carry> {
        self.carry.as_ref()
    }

    /// Carries every record loaded from now on (after the engine's program
    /// was reloaded, the stored records were written for another).
    pub(crate) fn carry_from_now(&mut self) {
        self.carry.get_or_insert_with(Carry::default);
    }

    /// How many customers were loaded so far.
    pub fn loaded(&self) -> u64 {
        self.loaded
    }
}

/// Takes the changes of `engines` (the shards of one program, in order) and
/// commits them with their merged header in one transaction. On an error the
/// changes stay recorded in the engines, for the next checkpoint. Returns how
/// many customers were written.
pub fn checkpoint(
    engines: &mut [Engine],
    store: &dyn StateStore,
    position: Option<String>,
) -> Result<usize, StoreError> {
    let Some(first) = engines.first() else {
        return Ok(0);
    };
    let program = Arc::clone(first.program());
    let headers: Vec<State> = engines.iter().map(Engine::save_header).collect();
    let state = State::merge(&headers).unwrap_or_else(|| first.save_header());
    let mut changes = Vec::new();
    for engine in engines.iter_mut() {
        changes.extend(engine.take_changes());
    }
    let checkpoint = Checkpoint {
        header: Header::new(&program, state, position),
        changes,
    };
    match store.commit(&checkpoint) {
        Ok(()) => Ok(checkpoint.changes.len()),
        Err(e) => {
            let n = engines.len();
            for (shard, engine) in engines.iter_mut().enumerate() {
                engine.mark_changed(
                    checkpoint
                        .changes
                        .iter()
                        .map(|(id, _)| id)
                        .filter(|id| shard_of(id, n) == shard),
                );
            }
            Err(e)
        }
    }
}

/// A [`StateStore`] in memory: for tests, and for hosts that keep state
/// elsewhere but want the loading and checkpoint logic. Records are kept as
/// JSON text, as a database keeps them.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: std::sync::Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    header: Option<Header>,
    customers: std::collections::BTreeMap<Arc<str>, (String, Option<i64>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Memory>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Io("a thread panicked while it wrote the store".into()))
    }
}

impl StateStore for MemoryStore {
    fn header(&self) -> Result<Option<Header>, StoreError> {
        Ok(self.lock()?.header.clone())
    }

    fn get(&self, customer: &str) -> Result<Option<CustomerState>, StoreError> {
        let memory = self.lock()?;
        let Some((text, _)) = memory.customers.get(customer) else {
            return Ok(None);
        };
        CustomerState::from_json(text.as_bytes())
            .map(Some)
            .map_err(|error| damaged(customer, error))
    }

    fn wakeups(&self) -> Result<Vec<(i64, Arc<str>)>, StoreError> {
        Ok(self
            .lock()?
            .customers
            .iter()
            .filter_map(|(id, (_, deadline))| deadline.map(|d| (d, Arc::clone(id))))
            .collect())
    }

    fn commit(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        memory.header = Some(checkpoint.header.clone());
        for (id, state) in &checkpoint.changes {
            match state {
                Some(state) => {
                    let record = (state.to_json(), state.next_deadline());
                    memory.customers.insert(Arc::clone(id), record);
                }
                None => {
                    memory.customers.remove(id);
                }
            }
        }
        Ok(())
    }
}

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CUSTOMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("customers");
const WAKEUPS: TableDefinition<&str, i64> = TableDefinition::new("wakeups");

/// A [`StateStore`] in one redb file: ACID, one write transaction per
/// checkpoint, fsynced on commit; pages checksummed, so a damaged file is
/// an error rather than wrong state.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl RedbStore {
    /// Opens the store at `path`, creating it if there is no file.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let failed = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let db = Database::create(path).map_err(|e| failed(&e))?;
        // The tables exist from the start, so reads never meet a missing one.
        let tx = db.begin_write().map_err(|e| failed(&e))?;
        {
            tx.open_table(META).map_err(|e| failed(&e))?;
            tx.open_table(CUSTOMERS).map_err(|e| failed(&e))?;
            tx.open_table(WAKEUPS).map_err(|e| failed(&e))?;
        }
        tx.commit().map_err(|e| failed(&e))?;
        Ok(RedbStore { db })
    }
}

impl StateStore for RedbStore {
    fn header(&self) -> Result<Option<Header>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let table = tx.open_table(META).map_err(io)?;
        let header = match table.get("header").map_err(io)? {
            Some(bytes) => Header::from_json(bytes.value()).map(Some),
            None => Ok(None),
        };
        header
    }

    fn get(&self, customer: &str) -> Result<Option<CustomerState>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let table = tx.open_table(CUSTOMERS).map_err(io)?;
        let Some(bytes) = table.get(customer).map_err(io)? else {
            return Ok(None);
        };
        let state =
            CustomerState::from_json(bytes.value()).map_err(|error| damaged(customer, error))?;
        if state.id() != customer {
            return Err(damaged(
                customer,
                StateError::inconsistent("id", format!("the record is of `{}`", state.id())),
            ));
        }
        Ok(Some(state))
    }

    fn wakeups(&self) -> Result<Vec<(i64, Arc<str>)>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let table = tx.open_table(WAKEUPS).map_err(io)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(io)? {
            let (id, deadline) = entry.map_err(io)?;
            out.push((deadline.value(), Arc::from(id.value())));
        }
        Ok(out)
    }

    fn commit(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(io)?;
        {
            let mut meta = tx.open_table(META).map_err(io)?;
            let header = serde_json::to_vec(&checkpoint.header).map_err(io)?;
            meta.insert("header", header.as_slice()).map_err(io)?;
            let mut customers = tx.open_table(CUSTOMERS).map_err(io)?;
            let mut wakeups = tx.open_table(WAKEUPS).map_err(io)?;
            let mut buffer = Vec::new();
            for (id, state) in &checkpoint.changes {
                match state {
                    Some(state) => {
                        buffer.clear();
                        serde_json::to_writer(&mut buffer, state).map_err(io)?;
                        customers.insert(&**id, buffer.as_slice()).map_err(io)?;
                        match state.next_deadline() {
                            Some(deadline) => wakeups.insert(&**id, deadline).map(drop),
                            None => wakeups.remove(&**id).map(drop),
                        }
                        .map_err(io)?;
                    }
                    None => {
                        customers.remove(&**id).map_err(io)?;
                        wakeups.remove(&**id).map_err(io)?;
                    }
                }
            }
        }
        tx.commit().map_err(io)
    }
}

fn damaged(customer: &str, error: StateError) -> StoreError {
    StoreError::Damaged {
        at: format!("customer `{customer}`"),
        error: Box::new(error),
    }
}

/// A fingerprint of everything a customer's state names — journeys and
/// their stages and goals, rules, profile fields and signals — as 16 hex
/// digits: equal fingerprints restore each other's records strictly.
pub fn fingerprint(program: &Program) -> String {
    let mut parts: Vec<String> = vec![format!("layout {:016x}", program.names.layout)];
    for journey in program.journeys.iter() {
        parts.push(format!("journey {}", journey.name));
        parts.extend(journey.stages.iter().map(|s| format!("stage {s}")));
        parts.extend(journey.goals.iter().map(|g| format!("goal {}", g.name)));
    }
    for rule in program.rules.iter() {
        parts.push(format!("rule {} {}", rule.qualified, rule.arms.len()));
    }
    format!(
        "{:016x}",
        crate::compile::fingerprint(parts.iter().map(|p| p.as_bytes()))
    )
}

/// Writes `bytes` beside `path`, syncs, then renames over it: a crash
/// leaves either the old file or the new one, never a torn one. What
/// `jrule run --state` saves with.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
