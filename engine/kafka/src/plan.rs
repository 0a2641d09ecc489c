//! Partition counts of internal topics and task counts of sub-topologies, decided purely from
//! the topology's shape and the partition counts of its user source topics (no I/O; `admin`
//! fetches the counts and creates the topics).
//!
//! The rules are Kafka Streams':
//! 1. the user topics of a co-partition group must have equal partition counts;
//! 2. a sub-topology has one task per partition of its widest source topic;
//! 3. a repartition topic gets the task count of the sub-topology that writes it (the widest,
//!    if several do); since a writer may itself read repartition topics, 2 and 3 are iterated
//!    to a fixed point;
//! 4. a repartition topic in a co-partition group takes the count of the group's user topics
//!    (or, with none, the group's widest repartition topic), and 2–3 run again;
//! 5. a changelog topic gets the task count of the sub-topology whose store it backs.

use std::collections::{BTreeMap, BTreeSet};

use super::admin::CleanupPolicy;
use weir_core::error::StreamsError;
use weir_graph::Topology;
use weir_graph::{NodeKind, SinkTopic};

/// The parts of a topology that decide partition counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    pub subtopologies: Vec<SubShape>,
    pub repartition: BTreeSet<String>,
    pub copartition_groups: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SubShape {
    pub id: usize,
    /// Topics its tasks read (user and repartition topics).
    pub sources: Vec<String>,
    /// Repartition topics its sinks write.
    pub writes: Vec<String>,
    /// Changelog topics of its logged stores.
    pub changelogs: Vec<String>,
    /// `retention.ms` of the changelogs of its window and session stores (`compact,delete`).
    pub changelog_retention: BTreeMap<String, i64>,
}

impl Shape {
    pub(crate) fn of(topology: &Topology) -> Shape {
        let repartition: BTreeSet<String> = topology.repartition_topics.clone();
        let subtopologies = topology
            .subtopologies
            .iter()
            .map(|s| SubShape {
                id: s.id,
                sources: s.sources.keys().cloned().collect(),
                writes: s
                    .nodes
                    .iter()
                    .filter_map(|&n| match &topology.nodes[n].kind {
                        NodeKind::Sink {
                            topic: SinkTopic::Fixed(t),
                        } if repartition.contains(t) => Some(t.clone()),
                        _ => None,
                    })
                    .collect(),
                changelogs: s
                    .stores
                    .iter()
                    .filter(|name| {
                        topology
                            .store_def(name)
                            .is_some_and(|d| d.logged && !d.global)
                    })
                    .map(|name| topology.changelog_topic(name))
                    .collect(),
                changelog_retention: s
                    .stores
                    .iter()
                    .filter_map(|name| {
                        let def = topology.store_def(name)?;
                        let ms = def.kind.changelog_retention_ms()?;
                        Some((topology.changelog_topic(name), ms))
                    })
                    .collect(),
            })
            .collect();
        Shape {
            subtopologies,
            repartition,
            copartition_groups: topology
                .copartition_groups
                .iter()
                .map(|g| g.topics.clone())
                .collect(),
        }
    }
}

/// What [`plan`] decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// Internal topic → (partitions, cleanup policy).
    pub internal: BTreeMap<String, (i32, CleanupPolicy)>,
    /// Sub-topology id → number of tasks (partitions).
    pub tasks: BTreeMap<usize, i32>,
}

/// Applies the rules of the module doc. `user` holds the partition count of every user source
/// topic of the shape (never of internal topics).
pub(crate) fn plan(shape: &Shape, user: &BTreeMap<String, i32>) -> Result<Plan, StreamsError> {
    // Rule 1: user topics of a co-partition group agree.
    for group in &shape.copartition_groups {
        let counts: Vec<(String, i32)> = group
            .iter()
            .filter_map(|t| user.get(t).map(|&n| (t.clone(), n)))
            .collect();
        if counts.windows(2).any(|w| w[0].1 != w[1].1) {
            return Err(StreamsError::CopartitionMismatch { topics: counts });
        }
    }
    let mut pinned: BTreeMap<&str, i32> = BTreeMap::new();
    let mut rounds = 0;
    let (tasks, repartition) = loop {
        let (tasks, repartition) = fixed_point(shape, user, &pinned);
        // Rule 4: repartition topics follow their co-partition group.
        let mut changed = false;
        for group in &shape.copartition_groups {
            let user_count = group.iter().find_map(|t| user.get(t).copied());
            let target = user_count.unwrap_or_else(|| {
                group
                    .iter()
                    .filter_map(|t| repartition.get(t.as_str()).copied())
                    .max()
                    .unwrap_or(0)
            });
            for t in group.iter().filter(|t| shape.repartition.contains(*t)) {
                let current = repartition.get(t.as_str()).copied().unwrap_or(0);
                if current == target || target == 0 {
                    continue;
                }
                if let Some(&p) = pinned.get(t.as_str()) {
                    // Two groups want different counts for this topic.
                    return Err(StreamsError::CopartitionMismatch {
                        topics: vec![(t.clone(), p), (t.clone(), target)],
                    });
                }
                pinned.insert(t.as_str(), target);
                changed = true;
            }
        }
        rounds += 1;
        if !changed || rounds > shape.repartition.len() + 1 {
            break (tasks, repartition);
        }
    };
    let mut internal = BTreeMap::new();
    for (topic, n) in repartition {
        if n == 0 {
            return Err(StreamsError::InvalidTopology(format!(
                "cannot size repartition topic `{topic}`: no sub-topology writing it reads a topic with a known partition count"
            )));
        }
        internal.insert(topic.to_string(), (n, CleanupPolicy::Delete));
    }
    // Rule 5: changelogs follow their sub-topology's tasks.
    for (s, &n) in shape.subtopologies.iter().zip(&tasks) {
        for c in &s.changelogs {
            let policy = match s.changelog_retention.get(c) {
                Some(&retention_ms) => CleanupPolicy::CompactDelete { retention_ms },
                None => CleanupPolicy::Compact,
            };
            internal.insert(c.clone(), (n, policy));
        }
    }
    let tasks = shape
        .subtopologies
        .iter()
        .zip(tasks)
        .map(|(s, n)| (s.id, n))
        .collect();
    Ok(Plan { internal, tasks })
}

/// Rules 2 and 3 from nothing to their least fixed point (counts only grow, so this ends).
fn fixed_point<'a>(
    shape: &'a Shape,
    user: &BTreeMap<String, i32>,
    pinned: &BTreeMap<&str, i32>,
) -> (Vec<i32>, BTreeMap<&'a str, i32>) {
    let mut tasks = vec![0; shape.subtopologies.len()];
    let mut repartition: BTreeMap<&str, i32> =
        shape.repartition.iter().map(|t| (t.as_str(), 0)).collect();
    loop {
        let mut changed = false;
        for (i, s) in shape.subtopologies.iter().enumerate() {
            let n = s
                .sources
                .iter()
                .map(|t| {
                    repartition
                        .get(t.as_str())
                        .or_else(|| user.get(t))
                        .copied()
                        .unwrap_or(0)
                })
                .max()
                .unwrap_or(0);
            if n > tasks[i] {
                tasks[i] = n;
                changed = true;
            }
        }
        for (topic, count) in repartition.iter_mut() {
            let n = pinned.get(topic).copied().unwrap_or_else(|| {
                shape
                    .subtopologies
                    .iter()
                    .zip(&tasks)
                    .filter(|(s, _)| s.writes.iter().any(|w| w == topic))
                    .map(|(_, &n)| n)
                    .max()
                    .unwrap_or(0)
            });
            if n > *count {
                *count = n;
                changed = true;
            }
        }
        if !changed {
            return (tasks, repartition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: usize, sources: &[&str], writes: &[&str], changelogs: &[&str]) -> SubShape {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        SubShape {
            id,
            sources: v(sources),
            writes: v(writes),
            changelogs: v(changelogs),
            changelog_retention: BTreeMap::new(),
        }
    }

    fn counts(xs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        xs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn shape(subs: Vec<SubShape>, groups: &[&[&str]]) -> Shape {
        Shape {
            repartition: subs.iter().flat_map(|s| s.writes.clone()).collect(),
            subtopologies: subs,
            copartition_groups: groups
                .iter()
                .map(|g| g.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn repartition_and_changelog_follow_the_writer() {
        let s = shape(
            vec![
                sub(0, &["a", "b"], &["r"], &[]),
                sub(1, &["r"], &[], &["app-s-changelog"]),
            ],
            &[],
        );
        let p = plan(&s, &counts(&[("a", 2), ("b", 5)])).unwrap();
        assert_eq!(p.internal["r"], (5, CleanupPolicy::Delete));
        assert_eq!(p.internal["app-s-changelog"], (5, CleanupPolicy::Compact));
        assert_eq!(p.tasks, BTreeMap::from([(0, 5), (1, 5)]));
    }

    #[test]
    fn chains_of_repartitions_reach_a_fixed_point() {
        // Sub-topologies listed against the data flow, so one pass is not enough.
        let s = shape(
            vec![
                sub(0, &["r2", "c"], &[], &["app-x-changelog"]),
                sub(1, &["r1"], &["r2"], &[]),
                sub(2, &["a"], &["r1"], &[]),
            ],
            &[],
        );
        let p = plan(&s, &counts(&[("a", 3), ("c", 1)])).unwrap();
        assert_eq!(p.internal["r1"].0, 3);
        assert_eq!(p.internal["r2"].0, 3);
        assert_eq!(p.internal["app-x-changelog"].0, 3);
        assert_eq!(p.tasks, BTreeMap::from([(0, 3), (1, 3), (2, 3)]));
    }

    #[test]
    fn copartitioned_user_topics_must_agree() {
        let s = shape(
            vec![sub(0, &["left", "right"], &[], &[])],
            &[&["left", "right"]],
        );
        let e = plan(&s, &counts(&[("left", 3), ("right", 4)])).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, StreamsError::CopartitionMismatch { .. }));
        assert!(msg.contains("left") && msg.contains('3'), "{msg}");
        assert!(msg.contains("right") && msg.contains('4'), "{msg}");
        assert!(plan(&s, &counts(&[("left", 4), ("right", 4)])).is_ok());
    }

    #[test]
    fn a_repartition_topic_in_a_group_takes_the_user_topics_count() {
        // A stream re-keyed from a 2-partition topic joins a 6-partition table topic.
        let s = shape(
            vec![
                sub(0, &["clicks"], &["r"], &[]),
                sub(1, &["r", "users"], &[], &["app-j-changelog"]),
            ],
            &[&["r", "users"]],
        );
        let p = plan(&s, &counts(&[("clicks", 2), ("users", 6)])).unwrap();
        assert_eq!(p.internal["r"].0, 6);
        assert_eq!(p.internal["app-j-changelog"].0, 6);
        assert_eq!(p.tasks[&0], 2);
        assert_eq!(p.tasks[&1], 6);
    }

    #[test]
    fn a_group_of_repartition_topics_takes_the_widest() {
        let s = shape(
            vec![
                sub(0, &["a"], &["ra"], &[]),
                sub(1, &["b"], &["rb"], &[]),
                sub(2, &["ra", "rb"], &[], &[]),
            ],
            &[&["ra", "rb"]],
        );
        let p = plan(&s, &counts(&[("a", 2), ("b", 8)])).unwrap();
        assert_eq!((p.internal["ra"].0, p.internal["rb"].0), (8, 8));
    }

    #[test]
    fn an_unsized_repartition_topic_is_an_error() {
        let s = shape(vec![sub(0, &["r"], &["r"], &[])], &[]);
        let e = plan(&s, &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("`r`"), "{e}");
    }
}
