//! `weir forbid add ID [--reason TEXT] | remove ID | list`: edits and prints the
//! `forbidden-products` table (key = product id, value = reason, a tombstone removes the id)
//! that product-filter reads as a global table.
//!
//! `add` and `remove` create the topic (compacted) when it is missing, write one record and
//! wait until it is delivered. `list` reads the topic from the beginning to its end and prints
//! the current table — the latest value per key, tombstones removed — sorted by id, one
//! `ID<TAB>REASON` line each.

use std::collections::BTreeMap;
use std::time::Duration;

use weir_engine::kafka::admin::CleanupPolicy;
use weir_engine::kafka::tools::{self, KeyValue, RecordWriter};

use crate::commands::Failure;

/// How long creating the topic, delivering a record or reading the topic may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The reason `add` writes when none is given.
pub const DEFAULT_REASON: &str = "forbidden by operator";

#[derive(clap::Args, Debug)]
pub struct ForbidArgs {
    #[command(subcommand)]
    pub action: ForbidAction,
    #[arg(long, global = true, default_value = "localhost:9092")]
    pub bootstrap_servers: String,
    /// The table's topic.
    #[arg(long, global = true, default_value = "forbidden-products")]
    pub topic: String,
    /// Partitions of the topic when `add` or `remove` creates it.
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub partitions: i32,
}

#[derive(clap::Subcommand, Debug)]
pub enum ForbidAction {
    /// Forbid a product id (writes ID → reason).
    Add {
        id: String,
        #[arg(long, default_value = DEFAULT_REASON)]
        reason: String,
    },
    /// Allow a product id again (writes a tombstone).
    Remove { id: String },
    /// Print the current table, sorted by id: `ID<TAB>REASON` per line.
    List,
}

fn run_failure(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

pub fn forbid(args: &ForbidArgs) -> Result<(), Failure> {
    if args.bootstrap_servers.trim().is_empty() {
        return Err(Failure::BadInput(
            "--bootstrap-servers: expected host:port[,host:port...]".into(),
        ));
    }
    if args.topic.trim().is_empty() {
        return Err(Failure::BadInput("--topic: expected a topic name".into()));
    }
    match &args.action {
        ForbidAction::Add { id, reason } => {
            write(args, id, Some(reason.as_bytes()))?;
            println!("forbidden {id} ({reason}) on {}", args.topic);
        }
        ForbidAction::Remove { id } => {
            write(args, id, None)?;
            println!("removed {id} from {}", args.topic);
        }
        ForbidAction::List => {
            let exists = tools::topic_partitions(&args.bootstrap_servers, &args.topic, TIMEOUT)
                .map_err(run_failure)?
                .is_some();
            if !exists {
                eprintln!("topic {} does not exist: the table is empty", args.topic);
                return Ok(());
            }
            let records = tools::read_topic(&args.bootstrap_servers, &args.topic, TIMEOUT)
                .map_err(run_failure)?;
            for (id, reason) in table(records) {
                println!("{id}\t{reason}");
            }
        }
    }
    Ok(())
}

/// Writes one record (creating the topic first when it is missing) and waits for its delivery.
fn write(args: &ForbidArgs, id: &str, value: Option<&[u8]>) -> Result<(), Failure> {
    if id.is_empty() {
        return Err(Failure::BadInput("the product id must not be empty".into()));
    }
    tools::ensure_topics(
        &args.bootstrap_servers,
        &[(&args.topic, args.partitions, CleanupPolicy::Compact)],
        TIMEOUT,
    )
    .map_err(run_failure)?;
    let writer = RecordWriter::new(&args.bootstrap_servers).map_err(run_failure)?;
    writer
        .send(&args.topic, id.as_bytes(), value)
        .map_err(run_failure)?;
    writer.flush(TIMEOUT).map_err(run_failure)?;
    if writer.delivered() != 1 {
        return Err(Failure::Run(anyhow::anyhow!(
            "the record for {id} was not delivered to {}",
            args.topic
        )));
    }
    Ok(())
}

/// The table a topic's records make: the latest value per key, tombstones removing the key,
/// records without a key skipped. Keys and values that are not UTF-8 are shown lossily.
fn table(records: Vec<KeyValue>) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    for (key, value) in records {
        let Some(key) = key else { continue };
        let key = String::from_utf8_lossy(&key).into_owned();
        match value {
            Some(v) => {
                t.insert(key, String::from_utf8_lossy(&v).into_owned());
            }
            None => {
                t.remove(&key);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn kv(k: Option<&str>, v: Option<&str>) -> KeyValue {
        (
            k.map(|k| k.as_bytes().to_vec()),
            v.map(|v| v.as_bytes().to_vec()),
        )
    }

    #[test]
    fn the_table_keeps_the_latest_value_and_drops_tombstoned_and_keyless_records() {
        let t = table(vec![
            kv(Some("p-2"), Some("old")),
            kv(Some("p-1"), Some("a")),
            kv(Some("p-3"), Some("gone soon")),
            kv(None, Some("no key")),
            kv(Some("p-2"), Some("new")),
            kv(Some("p-3"), None),
            kv(Some("p-4"), None),
        ]);
        let rows: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(rows, vec![("p-1", "a"), ("p-2", "new")]);
    }
}
