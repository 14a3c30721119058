//! The worker's Kafka side: the consumer group and its rebalances, the
//! producer, snapshots to and from the state topic, and program reloads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use tracing::{info, warn};

use super::partition::{Message, Output, Partition};
use super::snapshot::{self, Loader, Slots};
use super::{load_program, Config, StreamError, Versioned};
use crate::Engine;

/// How long a call to the broker may take before the worker gives up.
const BROKER_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the worker looks at the clock for checkpoints and reloads.
const TICK: Duration = Duration::from_millis(50);

/// How long leaving the group may take when the worker stops.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the worker until SIGTERM or SIGINT (then it checkpoints every
/// partition and leaves the group) or a fatal error, which it returns.
/// A program that does not check is [`StreamError::Load`] with the
/// rendered diagnostics, for the caller to show.
pub fn run(cfg: Config) -> Result<(), StreamError> {
    let current = load_program(&cfg.files).map_err(StreamError::Load)?;
    let failed = Arc::new(Mutex::new(None));
    let producer: ThreadedProducer<Delivery> = client_config(&cfg)
        .set("linger.ms", "5")
        .create_with_context(Delivery {
            failed: Arc::clone(&failed),
        })
        .map_err(|e| StreamError::kafka("cannot create the producer", e))?;
    let partitions = ensure_topics(&cfg, &producer)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| StreamError::kafka(format!("cannot handle signal {signal}"), e))?;
    }
    info!(
        "program {} ({} rules); input `{}` ({partitions} partitions), group `{}`",
        short(&current.hash),
        current.program.rules.len(),
        cfg.input,
        cfg.group
    );
    let worker = Worker {
        parts: BTreeMap::new(),
        producer,
        failed,
        fatal: None,
        out: Vec::new(),
        started: Instant::now(),
        counts: [0; 4],
        reloaded: Instant::now(),
        ticked: Instant::now(),
        rejected: None,
        current,
        cfg: cfg.clone(),
    };
    let consumer: BaseConsumer<Ctx> = client_config(&cfg)
        .set("group.id", &cfg.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .create_with_context(Ctx {
            worker: Mutex::new(worker),
        })
        .map_err(|e| StreamError::kafka("cannot create the consumer", e))?;
    consumer
        .subscribe(&[&cfg.input])
        .map_err(|e| StreamError::kafka(format!("cannot subscribe to `{}`", cfg.input), e))?;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break stop_all(&consumer);
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => lock(&consumer).handle(&consumer, &m),
            Some(Err(e)) => warn!("kafka: {e}"),
            None => {}
        }
        let mut w = lock(&consumer);
        w.tick(&consumer);
        if let Some(fatal) = &w.fatal {
            // Kept: the revoke on leaving must not commit past it.
            break Err(fatal.clone());
        }
    };
    leave(consumer);
    result
}

/// On SIGTERM: checkpoints every partition held.
fn stop_all(consumer: &BaseConsumer<Ctx>) -> Result<(), StreamError> {
    let mut w = lock(consumer);
    let parts: Vec<i32> = w.parts.keys().copied().collect();
    for p in parts {
        w.checkpoint(consumer, p);
    }
    let [events, decisions, dead, checkpoints] = w.counts;
    info!(
        "stopped after {:.1} s: {events} events, {decisions} decisions, {dead} dead letters, {checkpoints} checkpoints",
        w.started.elapsed().as_secs_f64()
    );
    w.fatal.clone().map_or(Ok(()), Err)
}

/// Leaves the group, for at most `LEAVE_TIMEOUT`: with the brokers gone,
/// librdkafka's close would wait for ever, and the partitions are taken
/// over after the session timeout anyway.
fn leave(consumer: BaseConsumer<Ctx>) {
    let deadline = Instant::now() + LEAVE_TIMEOUT;
    if consumer.close_queue().is_ok() {
        while !consumer.closed() && Instant::now() < deadline {
            consumer.poll(Duration::from_millis(100));
        }
    }
    if consumer.closed() {
        drop(consumer);
    } else {
        warn!("could not leave the group in time; exiting without");
        std::mem::forget(consumer);
    }
}

fn lock(consumer: &BaseConsumer<Ctx>) -> std::sync::MutexGuard<'_, Worker> {
    consumer
        .context()
        .worker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn client_config(cfg: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

/// Checks the input topic and creates the others when missing, each with
/// as many partitions as the input; returns that number.
fn ensure_topics(
    cfg: &Config,
    producer: &ThreadedProducer<Delivery>,
) -> Result<usize, StreamError> {
    let count = |topic: &str| -> Result<usize, StreamError> {
        let meta = producer
            .client()
            .fetch_metadata(Some(topic), BROKER_TIMEOUT)
            .map_err(|e| StreamError::kafka(format!("cannot read the metadata of `{topic}`"), e))?;
        Ok(meta
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len()))
    };
    let n = count(&cfg.input)?;
    if n == 0 {
        return Err(StreamError::NoInputTopic {
            topic: cfg.input.clone(),
        });
    }
    let admin: AdminClient<DefaultClientContext> = client_config(cfg)
        .create()
        .map_err(|e| StreamError::kafka("cannot create the admin client", e))?;
    for (topic, compact) in [
        (&cfg.output, false),
        (&cfg.dead_letter, false),
        (&cfg.state, true),
    ] {
        let have = count(topic)?;
        if have == 0 {
            let mut new = NewTopic::new(topic, n as i32, TopicReplication::Fixed(-1));
            if compact {
                new = new.set("cleanup.policy", "compact");
            }
            let created = futures_executor::block_on(admin.create_topics(
                [&new],
                &AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT)),
            ))
            .map_err(|e| StreamError::kafka(format!("cannot create `{topic}`"), e))?;
            for r in created {
                if let Err((t, code)) = r {
                    if code != RDKafkaErrorCode::TopicAlreadyExists {
                        return Err(StreamError::kafka(format!("cannot create `{t}`"), code));
                    }
                }
            }
            info!(
                "created topic `{topic}` ({n} partitions{})",
                if compact { ", compacted" } else { "" }
            );
        } else if compact && have < n {
            return Err(StreamError::StateTopicTooSmall {
                topic: topic.clone(),
                partitions: have,
                input: n,
            });
        }
    }
    Ok(n)
}

/// Records the first message the producer could not deliver: the worker
/// then stops before it commits past it.
struct Delivery {
    failed: Arc<Mutex<Option<StreamError>>>,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            failed.get_or_insert_with(|| StreamError::Write {
                topic: m.topic().to_string(),
                reason: e.to_string(),
            });
        }
    }
}

/// The consumer's context: the worker, which rebalances reach through it.
struct Ctx {
    worker: Mutex<Worker>,
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut w = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                w.assign(tpl);
                if let Err(e) = consumer.assign(tpl) {
                    w.fatal
                        .get_or_insert(StreamError::kafka("cannot take the assignment", e));
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                w.revoke(consumer);
                let _ = consumer.unassign();
            }
            other => {
                // The partitions may be someone else's now: drop them
                // unsaved; their last snapshots stand.
                warn!("rebalance failed ({other:?}); dropping every partition");
                w.parts.clear();
                let _ = consumer.unassign();
            }
        }
    }
}

struct Worker {
    cfg: Config,
    current: Versioned,
    parts: BTreeMap<i32, Partition>,
    producer: ThreadedProducer<Delivery>,
    failed: Arc<Mutex<Option<StreamError>>>,
    fatal: Option<StreamError>,
    out: Vec<Output>,
    started: Instant,
    /// Events, decisions, dead letters, checkpoints.
    counts: [u64; 4],
    reloaded: Instant,
    ticked: Instant,
    /// The hash of the last program that did not check, reported once.
    rejected: Option<String>,
}

impl Worker {
    fn handle(&mut self, consumer: &BaseConsumer<Ctx>, m: &rdkafka::message::BorrowedMessage<'_>) {
        let p = m.partition();
        let Some(part) = self.parts.get_mut(&p) else {
            return;
        };
        let msg = Message {
            topic: m.topic(),
            partition: p,
            offset: m.offset(),
            key: m.key(),
            payload: m.payload(),
        };
        if !part.process(&msg, &mut self.out) {
            return;
        }
        self.counts[0] += 1;
        let headers = || {
            OwnedHeaders::new()
                .insert(Header {
                    key: "worker",
                    value: Some(self.cfg.worker.as_str()),
                })
                .insert(Header {
                    key: "partition",
                    value: Some(&p.to_string()),
                })
        };
        for o in &self.out {
            let (topic, key, value) = match o {
                Output::Decision(key, value) => {
                    self.counts[1] += 1;
                    (&self.cfg.output, Some(key.as_bytes()), value)
                }
                Output::Dead(key, value) => {
                    self.counts[2] += 1;
                    (&self.cfg.dead_letter, key.as_deref(), value)
                }
            };
            let mut record = BaseRecord::to(topic)
                .payload(value.as_bytes())
                .headers(headers());
            if let Some(key) = key {
                record = record.key(key);
            }
            if let Err(e) = send(&self.producer, record) {
                self.fatal.get_or_insert(e);
            }
        }
        self.out.clear();
        if part.pending >= self.cfg.checkpoint_events {
            self.checkpoint(consumer, p);
        }
    }

    /// Every `TICK` at most: checkpoints partitions whose time has come,
    /// picks up a new program.
    fn tick(&mut self, consumer: &BaseConsumer<Ctx>) {
        if self.ticked.elapsed() < TICK {
            return;
        }
        self.ticked = Instant::now();
        if delivery_failed(&self.failed, &mut self.fatal) {
            return;
        }
        let due: Vec<i32> = self
            .parts
            .iter()
            .filter(|(_, s)| s.pending > 0 && s.checkpointed.elapsed() >= self.cfg.checkpoint_every)
            .map(|(p, _)| *p)
            .collect();
        for p in due {
            self.checkpoint(consumer, p);
        }
        if self.reloaded.elapsed() >= self.cfg.reload_every {
            self.reloaded = Instant::now();
            self.reload(consumer);
        }
    }

    /// Reads the program's files again; a new program that checks replaces
    /// the old one in every partition, carrying state over by name.
    fn reload(&mut self, consumer: &BaseConsumer<Ctx>) {
        let Ok(sources) = crate::Source::read_all(&self.cfg.files) else {
            return; // Being rewritten, or moved: try again next time.
        };
        let hash = super::program_hash(&sources);
        if hash == self.current.hash || self.rejected.as_ref() == Some(&hash) {
            return;
        }
        let next = match super::compile(&sources, hash.clone()) {
            Ok(next) => next,
            Err(diagnostics) => {
                warn!(
                    "program {} does not check; still running {}\n{diagnostics}",
                    short(&hash),
                    short(&self.current.hash)
                );
                self.rejected = Some(hash);
                return;
            }
        };
        info!(
            "program {} replaces {}",
            short(&next.hash),
            short(&self.current.hash)
        );
        for (p, part) in &mut self.parts {
            match part.engine.reload_carrying(Arc::clone(&next.program)) {
                Ok(carry) => report_carry(*p, &carry),
                Err(error) => {
                    self.fatal.get_or_insert(StreamError::Carry {
                        partition: *p,
                        error,
                    });
                    return;
                }
            }
            part.pending = part.pending.max(1);
        }
        self.current = next;
        let parts: Vec<i32> = self.parts.keys().copied().collect();
        for p in parts {
            self.checkpoint(consumer, p);
        }
    }

    /// Takes newly assigned partitions: restores each from its last
    /// snapshot and starts the consumer just past the snapshot's offset.
    fn assign(&mut self, tpl: &mut TopicPartitionList) {
        let started = Instant::now();
        let assigned: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let snapshots = match read_snapshots(&self.cfg, &assigned) {
            Ok(s) => s,
            Err(e) => {
                self.fatal.get_or_insert(e);
                return;
            }
        };
        let mut said = Vec::new();
        for (p, snapshot) in snapshots {
            match self.restore(p, snapshot) {
                Ok((part, from)) => {
                    if let Some(offset) = from {
                        if let Err(e) =
                            tpl.set_partition_offset(&self.cfg.input, p, Offset::Offset(offset))
                        {
                            self.fatal.get_or_insert(StreamError::kafka(
                                format!("partition {p}: cannot seek"),
                                e,
                            ));
                        }
                    }
                    said.push(match from {
                        Some(o) => format!("{p} (from snapshot, offset {o})"),
                        None => format!("{p} (new)"),
                    });
                    self.parts.insert(p, part);
                }
                Err(e) => {
                    self.fatal.get_or_insert(e);
                }
            }
        }
        info!(
            "assigned partitions {} in {} ms",
            if said.is_empty() {
                "none".to_string()
            } else {
                said.join(", ")
            },
            started.elapsed().as_millis()
        );
    }

    fn restore(
        &self,
        p: i32,
        snapshot: Option<snapshot::Loaded>,
    ) -> Result<(Partition, Option<i64>), StreamError> {
        let program = &self.current;
        let restore_error = |error| StreamError::Restore {
            partition: p,
            error,
        };
        let Some(loaded) = snapshot else {
            return Ok((
                Partition::new(
                    Engine::new(Arc::clone(&program.program)),
                    0,
                    Slots::default(),
                ),
                None,
            ));
        };
        let engine = if loaded.head.program == program.hash {
            Engine::restore(Arc::clone(&program.program), &loaded.state).map_err(restore_error)?
        } else {
            info!(
                "partition {p}: the snapshot was saved under program {}",
                short(&loaded.head.program)
            );
            let (engine, carry) =
                Engine::restore_carrying(Arc::clone(&program.program), &loaded.state)
                    .map_err(restore_error)?;
            report_carry(p, &carry);
            engine
        };
        let next = loaded.head.offset + 1;
        Ok((Partition::new(engine, next, loaded.slots), Some(next)))
    }

    /// Gives up revoked partitions: checkpoints each, then drops its state.
    fn revoke(&mut self, consumer: &BaseConsumer<Ctx>) {
        let parts: Vec<i32> = self.parts.keys().copied().collect();
        for &p in &parts {
            self.checkpoint(consumer, p);
        }
        self.parts.clear();
        info!("revoked partitions {parts:?}");
    }

    /// Writes the partition's snapshot, waits until it and every decision
    /// before it are written, then commits the input offset past it.
    fn checkpoint(&mut self, consumer: &BaseConsumer<Ctx>, p: i32) {
        if self.fatal.is_some() {
            return; // Commit nothing past a failure.
        }
        let Some(part) = self.parts.get_mut(&p) else {
            return;
        };
        if part.pending == 0 {
            return;
        }
        let state = part.engine.save().to_json();
        let head = (
            self.cfg.input.as_str(),
            p,
            part.next - 1,
            self.current.hash.as_str(),
        );
        let records = snapshot::encode(
            head,
            state.as_bytes(),
            self.cfg.chunk_bytes,
            &mut part.slots,
        );
        for r in &records {
            let mut record = BaseRecord::<str, [u8]>::to(&self.cfg.state)
                .key(r.key.as_str())
                .partition(p);
            if let Some(v) = &r.value {
                record = record.payload(v.as_slice());
            }
            if let Err(e) = send(&self.producer, record) {
                self.fatal.get_or_insert(e);
                return;
            }
        }
        if let Err(messages) = flush(&self.producer) {
            self.fatal.get_or_insert(StreamError::NotAcknowledged {
                partition: p,
                messages,
                seconds: BROKER_TIMEOUT.as_secs(),
            });
            return;
        }
        if delivery_failed(&self.failed, &mut self.fatal) {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        let committed = tpl
            .add_partition_offset(&self.cfg.input, p, Offset::Offset(part.next))
            .and_then(|()| consumer.commit(&tpl, CommitMode::Sync));
        if let Err(e) = committed {
            // The snapshot stands; the next owner starts from it anyway.
            warn!("partition {p}: cannot commit offset {}: {e}", part.next);
        }
        part.pending = 0;
        part.checkpointed = Instant::now();
        self.counts[3] += 1;
    }
}

/// Waits until every message sent so far is acknowledged or failed; the
/// error is the number of messages still in flight after `BROKER_TIMEOUT`.
/// (`Producer::flush` of a threaded producer sleeps 100 ms a round while
/// its thread takes the delivery reports: 100 ms for every checkpoint.)
fn flush(producer: &ThreadedProducer<Delivery>) -> Result<(), usize> {
    let deadline = Instant::now() + BROKER_TIMEOUT;
    while producer.in_flight_count() > 0 {
        if Instant::now() > deadline {
            return Err(producer.in_flight_count().max(0) as usize);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

/// True, and the failure made fatal, when the producer could not deliver
/// a message.
fn delivery_failed(failed: &Mutex<Option<StreamError>>, fatal: &mut Option<StreamError>) -> bool {
    if let Some(e) = failed.lock().unwrap_or_else(PoisonError::into_inner).take() {
        fatal.get_or_insert(e);
        return true;
    }
    false
}

fn report_carry(p: i32, carry: &crate::engine::Carry) {
    if carry.is_empty() {
        info!("partition {p}: all state carried over");
    }
    for line in carry.lines() {
        warn!("partition {p}: not carried over: {line}");
    }
}

/// Sends a record, waiting while the producer's queue is full.
fn send<K, P>(
    producer: &ThreadedProducer<Delivery>,
    mut record: BaseRecord<'_, K, P>,
) -> Result<(), StreamError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, r)) => {
                return Err(StreamError::Write {
                    topic: r.topic.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// Reads the state topic's `partitions` to their ends: the last complete
/// snapshot of each input partition, if any. The end is where a fetch finds
/// nothing more (partition EOF), not the high watermark of a list-offsets
/// request, which Tansu reports short of the end.
fn read_snapshots(
    cfg: &Config,
    partitions: &[i32],
) -> Result<BTreeMap<i32, Option<snapshot::Loaded>>, StreamError> {
    let fail = |e: &dyn std::fmt::Display| {
        StreamError::kafka(format!("cannot read the state topic `{}`", cfg.state), e)
    };
    let reader: BaseConsumer = client_config(cfg)
        .set("group.id", format!("{}.restore", cfg.group))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(|e| StreamError::kafka("cannot create the state reader", e))?;
    let mut tpl = TopicPartitionList::new();
    let mut loaders = BTreeMap::new();
    for &p in partitions {
        tpl.add_partition_offset(&cfg.state, p, Offset::Beginning)
            .map_err(|e| fail(&e))?;
        loaders.insert(p, Loader::new(&cfg.input, p));
    }
    reader.assign(&tpl).map_err(|e| fail(&e))?;
    let mut open: BTreeSet<i32> = partitions.iter().copied().collect();
    let deadline = Instant::now() + BROKER_TIMEOUT;
    while !open.is_empty() {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if let Some(loader) = loaders.get_mut(&m.partition()) {
                    loader.add(m.key().unwrap_or_default(), m.payload());
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                open.remove(&p);
            }
            Some(Err(e)) => return Err(fail(&e)),
            None if Instant::now() > deadline => {
                return Err(StreamError::StateTopicTimeout {
                    topic: cfg.state.clone(),
                    seconds: BROKER_TIMEOUT.as_secs(),
                    partitions: open.iter().copied().collect(),
                })
            }
            None => {}
        }
    }
    loaders
        .into_iter()
        .map(|(p, loader)| {
            let loaded = loader.finish().map_err(|reason| StreamError::Snapshot {
                topic: cfg.state.clone(),
                partition: p,
                reason,
            })?;
            Ok((p, loaded))
        })
        .collect()
}
