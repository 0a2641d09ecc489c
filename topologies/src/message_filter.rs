//! message-filter: the chat's messages minus blocked senders, with forbidden words masked.
//!
//! `messages` (key: recipient, value: JSON [`Message`]) → left join with the table
//! `blocked-users` (key: recipient, value: JSON [`BlockList`]; co-partitioned with `messages`) →
//! drop the message when its recipient blocked its sender → look every word of the text up in
//! the global table `forbidden-words` (key: word in lower case, value: reason; a tombstone
//! removes the word) → mask the forbidden ones with `*` → `filtered-messages`.

use weir_engine::text;
use weir_engine::{
    Consumed, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

use crate::model::{BlockList, Message};

pub const INPUT: &str = "messages";
pub const BLOCKED: &str = "blocked-users";
pub const WORDS: &str = "forbidden-words";
pub const OUTPUT: &str = "filtered-messages";
pub const BLOCKED_STORE: &str = "blocked-users";
pub const WORDS_STORE: &str = "forbidden-words";

/// The message-filter topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let blocked = b.table(
        BLOCKED,
        Consumed::with(Serdes::string(), Serdes::json::<BlockList>()).named("blocked-users-source"),
        Materialized::as_(BLOCKED_STORE),
    );
    let words = b.global_table(
        WORDS,
        Consumed::with(Serdes::string(), Serdes::string()).named("forbidden-words-source"),
        Materialized::as_(WORDS_STORE),
    );
    b.stream(
        INPUT,
        Consumed::with(Serdes::string(), Serdes::json::<Message>()).named("messages-source"),
    )
    .left_join(&blocked, |m, list| (m, list))
    .named("lookup-blocked")
    .filter_not(|_, (m, list): &(Message, Option<BlockList>)| {
        list.as_ref().is_some_and(|l| l.blocked.contains(&m.sender))
    })
    .named("drop-blocked")
    .left_join_global_many(
        &words,
        |_, (m, _)| text::words(&m.text),
        |(m, _), rows: Vec<(String, String)>| Message {
            text: text::mask(&m.text, |w| rows.iter().any(|(f, _)| f == w)),
            ..m
        },
    )
    .named("mask-words")
    .to(
        OUTPUT,
        Produced::with(Serdes::string(), Serdes::json()).named("filtered-messages-sink"),
    );
    b.build()
}
