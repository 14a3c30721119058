//! `jrule stream` against a real Kafka-compatible broker: Tansu, started on
//! loopback by each test (in memory, on a port of its own). The broker is
//! installed by `bash .ci/tansu.sh` (or named by `JRULE_TANSU`); without it
//! every test here says it is skipped and passes.
//!
//! The expected decisions are those of one uninterrupted engine per input
//! partition, run here over the events as the broker stored them.
#![cfg(all(unix, feature = "stream"))]

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jrule::stream::{Message, Output, Partition, Slots};
use jrule::{Engine, Program, Source};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message as _, Offset, TopicPartitionList};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const WAIT: Duration = Duration::from_secs(90);

// ----- the broker

struct Broker {
    child: Child,
    tansu: PathBuf,
    addr: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu() -> Option<PathBuf> {
    let path = std::env::var_os("JRULE_TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("target/tansu/tansu"));
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: no Tansu broker at {} (install it with `bash .ci/tansu.sh`, or set JRULE_TANSU)",
            path.display()
        );
        None
    }
}

fn broker() -> Option<Broker> {
    let tansu = tansu()?;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&tansu)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tansu");
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "tansu did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Broker { child, tansu, addr })
}

impl Broker {
    fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new(&self.tansu)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.addr)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn produce(&self, topic: &str, messages: &[(Option<String>, String)]) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("linger.ms", "5")
            .create()
            .unwrap();
        for (key, value) in messages {
            let mut record = BaseRecord::<str, str>::to(topic).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    fn produce_to(&self, topic: &str, partition: i32, key: &str, value: &str) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .create()
            .unwrap();
        producer
            .send(
                BaseRecord::<str, str>::to(topic)
                    .partition(partition)
                    .key(key)
                    .payload(value),
            )
            .unwrap();
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// Every record of `topic` so far, read until `done` says enough or
    /// the time runs out.
    fn read(&self, topic: &str, done: impl Fn(&[Record]) -> bool) -> Vec<Record> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("group.id", "test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        // The worker creates its topics: wait for them.
        let start = Instant::now();
        let n = loop {
            let meta = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .unwrap();
            let n = meta.topics()[0].partitions().len() as i32;
            if n > 0 {
                break n;
            }
            assert!(start.elapsed() < WAIT, "no topic `{topic}`");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..n {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut records = Vec::new();
        let start = Instant::now();
        let mut quiet = Instant::now();
        loop {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    let header = |name: &str| {
                        m.headers().and_then(|h| {
                            h.iter()
                                .find(|x| x.key == name)
                                .and_then(|x| x.value)
                                .map(|v| String::from_utf8_lossy(v).to_string())
                        })
                    };
                    records.push(Record {
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(|k| String::from_utf8_lossy(k).to_string()),
                        value: m
                            .payload()
                            .map(|v| String::from_utf8_lossy(v).to_string())
                            .unwrap_or_default(),
                        worker: header("worker"),
                    });
                    quiet = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {
                    if done(&records) && quiet.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                    assert!(
                        start.elapsed() < WAIT,
                        "`{topic}`: gave up waiting after {} records",
                        records.len()
                    );
                }
                Some(Err(e)) => panic!("reading `{topic}`: {e}"),
            }
        }
        records
    }
}

#[derive(Debug, Clone)]
struct Record {
    partition: i32,
    offset: i64,
    key: Option<String>,
    value: String,
    worker: Option<String>,
}

// ----- workers

struct Worker {
    child: Child,
    log: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "jrule-stream-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn worker(broker: &Broker, name: &str, program: &Path, extra: &[&str]) -> Worker {
    worker_on(broker, name, program, "ev", extra)
}

/// A worker of group `g-TOPIC` on `topic`.
fn worker_on(broker: &Broker, name: &str, program: &Path, topic: &str, extra: &[&str]) -> Worker {
    let log = scratch(name).join("stderr");
    let child = Command::new(BIN)
        .arg("stream")
        .arg(program)
        .args(["--brokers", &broker.addr, "--input", topic])
        .args(["--group", &format!("g-{topic}")])
        .args(["--worker", name])
        .args(if extra.contains(&"--checkpoint-events") {
            &[][..]
        } else {
            &["--checkpoint-events", "40", "--checkpoint-secs", "1"][..]
        })
        .args(["--reload-secs", "0.2", "--log", "info"])
        .args([
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .args(["-X", "max.poll.interval.ms=10000"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Worker { child, log }
}

impl Worker {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `text` after `skip` bytes.
    fn wait_for(&mut self, text: &str, skip: usize) -> usize {
        let start = Instant::now();
        loop {
            let log = self.log();
            if let Some(at) = log.get(skip..).and_then(|l| l.find(text)) {
                return skip + at + text.len();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the worker exited ({status}) before `{text}`:\n{log}");
            }
            assert!(start.elapsed() < WAIT, "no `{text}` in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let log = self.log();
        assert!(status.success(), "the worker failed ({status}):\n{log}");
        log
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- events and expectations

fn hotel() -> PathBuf {
    Path::new(ROOT).join("examples/hotel.jr")
}

/// The hotel example's events for `copies` copies of each customer,
/// keyed by customer id, in time order.
fn events(copies: usize) -> Vec<(Option<String>, String)> {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("examples/hotel.events.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in 0..copies {
            let mut e = event.clone();
            let id = format!("{}-{k}", e["customer"].as_str().unwrap());
            e["customer"] = id.clone().into();
            out.push((Some(id), e.to_string()));
        }
    }
    out
}

/// What one uninterrupted engine per partition decides over the input as
/// stored: decisions by id, in order, and dead letters.
fn expected(program: &Path, input: &[Record]) -> (Vec<(String, String)>, Vec<String>) {
    expected_on(program, input, "ev")
}

fn expected_on(
    program: &Path,
    input: &[Record],
    topic: &str,
) -> (Vec<(String, String)>, Vec<String>) {
    let (mut decisions, mut dead) = (Vec::new(), Vec::new());
    let mut parts = BTreeMap::new();
    for r in sorted(input) {
        let part = parts
            .entry(r.partition)
            .or_insert_with(|| partition(program));
        for o in run(part, &r, topic) {
            match o {
                Output::Decision(_, v) => decisions.push((id(&v), v)),
                Output::Dead(_, v) => dead.push(v),
                other => panic!("unexpected output {other:?}"),
            }
        }
    }
    (decisions, dead)
}

fn sorted(input: &[Record]) -> Vec<Record> {
    let mut input = input.to_vec();
    input.sort_by_key(|r| (r.partition, r.offset));
    input
}

fn partition(program: &Path) -> Partition {
    let source = Source::new("p.jr", std::fs::read_to_string(program).unwrap());
    let program = Arc::new(Program::compile(&[source]).unwrap().program);
    Partition::new(Engine::new(program), 0, Slots::default())
}

/// An engine per partition after the input, as the worker keeps them.
fn models(program: &Path, input: &[Record]) -> BTreeMap<i32, Partition> {
    let mut parts = BTreeMap::new();
    for r in sorted(input) {
        let part = parts
            .entry(r.partition)
            .or_insert_with(|| partition(program));
        run(part, &r, "ev");
    }
    parts
}

fn run(part: &mut Partition, r: &Record, topic: &str) -> Vec<Output> {
    let mut out = Vec::new();
    part.process(
        &Message {
            topic,
            partition: r.partition,
            offset: r.offset,
            key: r.key.as_deref().map(str::as_bytes),
            payload: Some(r.value.as_bytes()),
        },
        &mut out,
    );
    out
}

/// The decisions of one record, by id.
fn decide(part: &mut Partition, r: &Record, topic: &str) -> Vec<(String, String)> {
    run(part, r, topic)
        .into_iter()
        .filter_map(|o| match o {
            Output::Decision(_, v) => Some((id(&v), v)),
            _ => None,
        })
        .collect()
}

fn id(value: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(value).unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn customer(value: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(value).unwrap();
    v["customer"].as_str().unwrap().to_string()
}

/// The decisions read, duplicates (same id) dropped, first kept.
fn distinct(records: &[Record]) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    for r in records {
        let d = id(&r.value);
        if let Some(old) = seen.insert(d.clone(), r.value.clone()) {
            assert_eq!(old, r.value, "two decisions with id {d}");
        }
    }
    seen
}

/// Each customer's decisions in the order the output holds them (the
/// output is keyed by customer, so one partition holds them all).
fn by_customer(ids: impl Iterator<Item = (String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (id, value) in ids {
        if seen.insert(id.clone()) {
            map.entry(customer(&value)).or_default().push(id);
        }
    }
    map
}

fn read_all(broker: &Broker, topic: &str, n: usize) -> Vec<Record> {
    broker.read(topic, |r| r.len() >= n)
}

// ----- tests

#[test]
fn two_workers_split_the_partitions_and_each_customer_has_one() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 4);
    let mut w1 = worker(&broker, "w1", &hotel(), &[]);
    w1.wait_for("assigned partitions", 0);
    let mut w2 = worker(&broker, "w2", &hotel(), &[]);
    // Both hold partitions once the group has settled.
    w2.wait_for("assigned partitions", 0);
    let start = Instant::now();
    loop {
        let (a, b) = (w1.log(), w2.log());
        let holds = |log: &str| {
            log.lines()
                .rfind(|l| l.contains("assigned partitions") || l.contains("revoked"))
                .is_some_and(|l| l.contains("assigned partitions") && !l.contains(" none "))
        };
        if holds(&a) && holds(&b) {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the group did not settle:\n{a}\n{b}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = events(40);
    broker.produce("ev", &events);
    let input = read_all(&broker, "ev", events.len());
    let (want, dead) = expected(&hotel(), &input);
    assert!(dead.is_empty(), "{dead:?}");
    let got = read_all(&broker, "ev.decisions", want.len());
    assert_eq!(got.len(), want.len(), "no duplicates without a crash");
    assert_eq!(distinct(&got), want.iter().cloned().collect());
    assert_eq!(
        by_customer(got.iter().map(|r| (id(&r.value), r.value.clone()))),
        by_customer(want.into_iter())
    );
    let mut workers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &got {
        workers
            .entry(customer(&r.value))
            .or_default()
            .insert(r.worker.clone().unwrap());
    }
    assert!(workers.values().all(|w| w.len() == 1), "{workers:?}");
    let used: BTreeSet<_> = workers.values().flatten().collect();
    assert_eq!(used.len(), 2, "both workers decided: {used:?}");
    w1.stop();
    w2.stop();
}

#[test]
fn a_worker_killed_mid_stream_loses_nothing() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 4);
    let events = events(60);
    let (first, rest) = events.split_at(events.len() / 2);
    let mut w1 = worker(&broker, "w1", &hotel(), &[]);
    w1.wait_for("assigned partitions", 0);
    broker.produce("ev", first);
    // Mid-stream: some decisions out, some checkpoints written.
    broker.read("ev.decisions", |r| r.len() >= 200);
    w1.kill();
    broker.produce("ev", rest);
    let mut w2 = worker(&broker, "w2", &hotel(), &[]);
    w2.wait_for("from snapshot", 0);
    let input = read_all(&broker, "ev", events.len());
    let (want, _) = expected(&hotel(), &input);
    let got = broker.read("ev.decisions", |r| distinct(r).len() >= want.len());
    assert_eq!(distinct(&got), want.iter().cloned().collect());
    assert_eq!(
        by_customer(got.iter().map(|r| (id(&r.value), r.value.clone()))),
        by_customer(want.into_iter())
    );
    w2.stop();
}

#[test]
fn poison_messages_go_to_the_dead_letter_topic() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 2);
    let mut events = events(5);
    let bad = [
        (Some("ana-0"), "{\"customer\": \"ana-0\", oops"),
        (
            Some("ben-1"),
            r#"{"customer":"ben-1","signal":"teleported","time":"2026-03-01T13:00:00Z"}"#,
        ),
        (
            Some("zed"),
            r#"{"customer":"ana-1","signal":"app_opened","time":"2026-03-01T12:00:00Z","data":{"screen":"x"}}"#,
        ),
        (
            None,
            r#"{"customer":"ana-2","signal":"checked_out","time":"2026-03-05T12:00:00Z"}"#,
        ),
    ];
    for (i, (key, value)) in bad.iter().enumerate() {
        events.insert(10 + 7 * i, (key.map(str::to_string), value.to_string()));
    }
    let mut w = worker(&broker, "w", &hotel(), &[]);
    w.wait_for("assigned partitions", 0);
    broker.produce("ev", &events);
    let input = read_all(&broker, "ev", events.len());
    let (want, want_dead) = expected(&hotel(), &input);
    let dead = read_all(&broker, "ev.dead", bad.len());
    let mut errors: Vec<String> = dead
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.value).unwrap();
            v["error"].as_str().unwrap().to_string()
        })
        .collect();
    errors.sort();
    let mut dead_values: Vec<_> = dead.iter().map(|r| r.value.clone()).collect();
    dead_values.sort();
    let mut want_dead = want_dead;
    want_dead.sort();
    assert_eq!(dead_values, want_dead);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].starts_with("malformed JSON"), "{errors:?}");
    assert_eq!(
        errors[1],
        "the key `zed` is not the event's customer `ana-1`"
    );
    assert_eq!(
        errors[2],
        "the message has no key (events are keyed by customer id)"
    );
    assert!(
        errors[3].starts_with("unknown signal `teleported`"),
        "{errors:?}"
    );
    // Every good event after them was decided.
    let got = read_all(&broker, "ev.decisions", want.len());
    assert_eq!(distinct(&got), want.iter().cloned().collect());
    w.stop();
}

#[test]
fn a_new_program_is_picked_up_and_state_carries_by_stage_name() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 2);
    let dir = scratch("reload");
    let program = dir.join("hotel.jr");
    let old = std::fs::read_to_string(hotel()).unwrap();
    // The stage `in_room` renamed: customers in it leave the journey.
    let new = old.replace("in_room", "in_suite");
    let new_path = dir.join("new.jr");
    std::fs::write(&new_path, &new).unwrap();
    std::fs::write(&program, &old).unwrap();
    let mut w = worker(&broker, "w", &program, &[]);
    w.wait_for("assigned partitions", 0);
    let events = events(8);
    let (first, rest) = events.split_at(events.len() * 2 / 3);
    broker.produce("ev", first);
    let input = read_all(&broker, "ev", first.len());
    let (want, _) = expected(&hotel(), &input);
    broker.read("ev.decisions", |r| r.len() >= want.len());

    // What an engine per partition reports when it carries its state over.
    let new_program = Arc::new(
        Program::compile(&[Source::new("new.jr", new.clone())])
            .unwrap()
            .program,
    );
    let mut models = models(&hotel(), &input);
    let mut report = Vec::new();
    for (p, part) in &mut models {
        let carry = part.engine.reload_carrying(new_program.clone()).unwrap();
        assert!(!carry.is_empty());
        report.extend(
            carry
                .lines()
                .map(|l| format!("partition {p}: not carried over: {l}")),
        );
    }
    // A program that does not check is reported and not taken.
    std::fs::write(&program, format!("{old}\nrule broken: when nope then x()")).unwrap();
    let at = w.wait_for("does not check; still running", 0);
    std::fs::write(&program, &new).unwrap();
    let at = w.wait_for("replaces", at);
    let start = Instant::now();
    loop {
        let log = w.log();
        let said: Vec<&str> = log[at..]
            .lines()
            .filter_map(|l| l.split_once("jrule::stream::kafka: ").map(|(_, m)| m))
            .filter(|l| l.contains("carried over"))
            .collect();
        if said.len() >= report.len() {
            assert_eq!(said, report.iter().map(String::as_str).collect::<Vec<_>>());
            break;
        }
        assert!(start.elapsed() < WAIT, "{log}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The rest of the stream runs under the new program.
    broker.produce("ev", rest);
    let input = read_all(&broker, "ev", events.len());
    let mut want = Vec::new();
    let mut sorted = input.clone();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    for r in &sorted {
        // Offsets the models hold already are skipped by `process`.
        want.extend(decide(models.get_mut(&r.partition).unwrap(), r, "ev"));
    }
    assert!(!want.is_empty());
    let got = broker.read("ev.decisions", |r| distinct(r).len() >= want.len());
    let got = distinct(&got);
    for (id, value) in &want {
        assert_eq!(
            got.get(id),
            Some(value),
            "decision {id} under the new program"
        );
    }
    w.stop();

    // A worker started with the old program again restores the snapshots
    // saved under the new one, carrying what it can.
    std::fs::write(&program, &old).unwrap();
    let mut w2 = worker(&broker, "w2", &program, &[]);
    w2.wait_for("assigned partitions", 0);
    let log = w2.stop();
    assert!(
        log.contains("the snapshot was saved under program"),
        "{log}"
    );
    assert!(log.contains("carried over"), "{log}");
}

#[test]
fn a_worker_whose_broker_is_gone_still_stops() {
    let Some(mut broker) = broker() else { return };
    broker.create_topic("ev", 2);
    let mut w = worker(&broker, "w", &hotel(), &[]);
    w.wait_for("assigned partitions", 0);
    broker.produce("ev", &events(2));
    broker.read("ev.decisions", |r| !r.is_empty());
    let _ = broker.child.kill();
    let _ = broker.child.wait();
    let _ = Command::new("kill")
        .args(["-TERM", &w.child.id().to_string()])
        .status();
    let start = Instant::now();
    while w.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < WAIT, "still running:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a worker that must fail; returns its log.
fn failing_worker(broker: &Broker) -> String {
    let mut w = worker(broker, "w", &hotel(), &[]);
    let start = Instant::now();
    loop {
        if let Some(status) = w.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(2), "{}", w.log());
            return w.log();
        }
        assert!(start.elapsed() < WAIT, "still running:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_damaged_snapshot_stops_the_worker_instead_of_starting_afresh() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 2);
    broker.create_topic("g-ev.state", 2);
    let head = r#"{"format":"jrule-snapshot","version":1,"topic":"ev","partition":1,"offset":41,"program":"x","generation":5,"chunks":3,"bytes":10,"sha256":"00"}"#;
    broker.produce_to("g-ev.state", 1, "ev/1", head);
    broker.produce("ev", &events(1));
    let log = failing_worker(&broker);
    assert!(
        log.ends_with(
            "error[jrule::stream_snapshot]: state topic `g-ev.state` partition 1: snapshot generation 5 lacks chunk 0 of 3\n"
        ),
        "{log}"
    );
    // Nothing was decided from a blank state.
    assert!(
        !log.contains("assigned partitions 0 (new), 1 (new)"),
        "{log}"
    );
}

#[test]
fn a_state_topic_with_fewer_partitions_than_the_input_is_refused() {
    let Some(broker) = broker() else { return };
    broker.create_topic("ev", 3);
    broker.create_topic("g-ev.state", 2);
    let log = failing_worker(&broker);
    assert!(
        log.ends_with(
            "error[jrule::stream_state_topic_too_small]: the state topic `g-ev.state` has 2 partitions, fewer than the input's 3\n"
        ),
        "{log}"
    );
}

#[test]
fn a_program_that_does_not_check_is_refused_before_any_connection() {
    let dir = scratch("bad");
    let program = dir.join("bad.jr");
    std::fs::write(&program, "signal s\nwhen s then nope()\n").unwrap();
    let out = Command::new(BIN)
        .arg("stream")
        .arg(&program)
        .args(["--brokers", "127.0.0.1:9", "--input", "ev"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(
        stderr.ends_with("error[jrule::stream_program_check]: the program does not check\n"),
        "{stderr}"
    );
}

/// Throughput end to end and the pause of a rebalance, for
/// `docs/scaling.md`: `cargo test --release --all-features --test stream
/// -- --ignored --nocapture measure`. Not timed in CI. `JRULE_STREAM_COPIES`
/// sets the copies of the hotel customers (4,000: 116,000 events),
/// `JRULE_STREAM_CE` the workers' `--checkpoint-events`, `JRULE_STREAM_X`
/// librdkafka settings (`key=value …`).
#[test]
#[ignore]
fn measure() {
    let Some(broker) = broker() else { return };
    let copies: usize = std::env::var("JRULE_STREAM_COPIES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4000);
    let events = events(copies);
    for workers in [1, 2] {
        let broker = &broker;
        let topic = format!("ev{workers}");
        broker.create_topic(&topic, 4);
        let t = Instant::now();
        broker.produce(&topic, &events);
        let produced = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let input = read_all(broker, &topic, events.len());
        println!(
            "the broker alone: {:.0} events/s produced, {:.0} events/s read back (one client each)",
            events.len() as f64 / produced,
            events.len() as f64 / t.elapsed().as_secs_f64()
        );
        let (want, _) = expected_on(&hotel(), &input, &topic);
        let extra: Vec<String> = std::env::var("JRULE_STREAM_X")
            .unwrap_or_default()
            .split_whitespace()
            .flat_map(|kv| ["-X".to_string(), kv.to_string()])
            .collect();
        let ce = std::env::var("JRULE_STREAM_CE").unwrap_or("100000".into());
        let mut args = vec!["--checkpoint-events", ce.as_str(), "--checkpoint-secs", "5"];
        args.extend(extra.iter().map(String::as_str));
        let start = Instant::now();
        let mut running: Vec<Worker> = (0..workers)
            .map(|i| worker_on(broker, &format!("m{workers}-{i}"), &hotel(), &topic, &args))
            .collect();
        for w in &mut running {
            w.wait_for("assigned partitions", 0);
        }
        let joined = start.elapsed().as_secs_f64();
        let done = std::cell::Cell::new(None);
        let got = broker.read(&format!("{topic}.decisions"), |r| {
            if r.len() >= want.len() && done.get().is_none() {
                done.set(Some(start.elapsed().as_secs_f64()));
            }
            done.get().is_some()
        });
        let secs = done.get().unwrap() - joined;
        println!(
            "{workers} worker(s): {} events, {} decisions in {secs:.2} s after joining the group ({joined:.2} s): {:.0} events/s",
            events.len(),
            got.len(),
            events.len() as f64 / secs
        );
        if workers == 1 {
            // A second worker joins: the pause until both hold partitions.
            let joined = Instant::now();
            let mut second = worker_on(broker, "m-join", &hotel(), &topic, &[]);
            second.wait_for("assigned partitions", 0);
            let mut at = 0;
            loop {
                let log = second.log();
                if let Some(line) = log[at..]
                    .lines()
                    .find(|l| l.contains("assigned partitions") && !l.contains(" none "))
                {
                    println!("rebalance: {:.2} s from the second worker's start to its partitions ({line})", joined.elapsed().as_secs_f64());
                    break;
                }
                at = at.min(log.len());
                assert!(joined.elapsed() < WAIT, "{log}");
                std::thread::sleep(Duration::from_millis(20));
            }
            second.stop();
        }
        for w in running.drain(..) {
            w.stop();
        }
    }
}
