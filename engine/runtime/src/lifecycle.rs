//! The lifecycle of an active task: its states and, in one function ([`TaskState::next`]), every
//! legal transition (Kafka Streams' `Task.State`).
//!
//! ```text
//!   Created ──► Restoring ◄──► Running ──► Suspended ──► Closed
//!      │    (wiped) │ ▲  ◄──────────┘                          ▲
//!      └────────────┴─┴────────────────────────────────────────┘ (closed: revoked, shutdown)
//! ```
//!
//! A task is `Created` while its stores open, `Restoring` while a changelog is read into them
//! (its input partitions paused), `Running` while it processes, `Suspended` after the commit
//! that precedes a revocation, and `Closed` for good. (Kafka Streams can resume a suspended task
//! when its partitions come back; weir closes it and reopens the stores from their checkpoints,
//! so there is no `Suspended → Restoring` edge yet.) Anything else is a bug in the stream thread, reported as an error, never
//! acted on.

use std::fmt;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Created,
    Restoring,
    Running,
    Suspended,
    Closed,
}

/// What happens to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    /// Its stores are open; `restore` when a changelog has records they lack.
    Initialized { restore: bool },
    /// Every store caught up with its changelog.
    Restored,
    /// A store was wiped (checkpoint outside its changelog, corrupted): read it again.
    Wiped,
    /// Its partitions were revoked; committed, stores still open.
    Suspend,
    /// Closed (revoked, shutdown, or a fatal error).
    Close,
}

/// A transition [`TaskState::next`] does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: TaskState,
    pub event: TaskEvent,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "illegal task transition: {:?} on {:?}",
            self.event, self.from
        )
    }
}

impl TaskState {
    /// The state after `event`, or the illegal transition it would be.
    pub fn next(self, event: TaskEvent) -> Result<TaskState, IllegalTransition> {
        use TaskEvent as E;
        use TaskState as S;
        let next = match (self, event) {
            (S::Created, E::Initialized { restore: true }) => S::Restoring,
            (S::Created, E::Initialized { restore: false }) => S::Running,
            (S::Restoring, E::Restored) => S::Running,
            (S::Restoring | S::Running, E::Wiped) => S::Restoring,
            (S::Restoring | S::Running, E::Suspend) => S::Suspended,
            (S::Created | S::Restoring | S::Running | S::Suspended, E::Close) => S::Closed,
            (from, event) => return Err(IllegalTransition { from, event }),
        };
        Ok(next)
    }

    /// Whether the task processes records in this state.
    pub fn processes(self) -> bool {
        self == TaskState::Running
    }

    /// The name the state endpoint and logs use.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Created => "created",
            TaskState::Restoring => "restoring",
            TaskState::Running => "running",
            TaskState::Suspended => "suspended",
            TaskState::Closed => "closed",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::TaskEvent as E;
    use super::TaskState as S;
    use super::*;

    const STATES: [S; 5] = [
        S::Created,
        S::Restoring,
        S::Running,
        S::Suspended,
        S::Closed,
    ];
    const EVENTS: [E; 6] = [
        E::Initialized { restore: true },
        E::Initialized { restore: false },
        E::Restored,
        E::Wiped,
        E::Suspend,
        E::Close,
    ];

    fn run(events: &[E]) -> Result<S, IllegalTransition> {
        events.iter().try_fold(S::Created, |s, e| s.next(*e))
    }

    #[test]
    fn a_task_with_state_to_restore_restores_then_runs() {
        assert_eq!(
            run(&[E::Initialized { restore: true }, E::Restored]),
            Ok(S::Running)
        );
        assert_eq!(run(&[E::Initialized { restore: false }]), Ok(S::Running));
    }

    #[test]
    fn a_wiped_store_sends_the_task_back_to_restoring() {
        assert_eq!(
            run(&[E::Initialized { restore: false }, E::Wiped]),
            Ok(S::Restoring)
        );
        assert_eq!(
            run(&[E::Initialized { restore: true }, E::Wiped, E::Restored]),
            Ok(S::Running)
        );
    }

    #[test]
    fn a_suspended_task_can_only_close() {
        let suspended = run(&[E::Initialized { restore: false }, E::Suspend]).unwrap();
        assert_eq!(suspended, S::Suspended);
        assert_eq!(suspended.next(E::Close), Ok(S::Closed));
        for e in [
            E::Restored,
            E::Wiped,
            E::Suspend,
            E::Initialized { restore: true },
        ] {
            assert!(suspended.next(e).is_err(), "{e:?}");
        }
        assert!(!suspended.processes());
    }

    #[test]
    fn every_state_but_closed_can_close_and_closed_is_final() {
        for s in STATES {
            match s {
                S::Closed => {
                    for e in EVENTS {
                        assert_eq!(s.next(e), Err(IllegalTransition { from: s, event: e }));
                    }
                }
                _ => assert_eq!(s.next(E::Close), Ok(S::Closed), "{s:?}"),
            }
        }
    }

    #[test]
    fn only_a_running_task_processes() {
        for s in STATES {
            assert_eq!(s.processes(), s == S::Running, "{s:?}");
        }
    }

    #[test]
    fn illegal_transitions_are_errors_that_name_both_sides() {
        let illegal = [
            (S::Created, E::Restored),
            (S::Created, E::Suspend),
            (S::Running, E::Restored),
            (S::Running, E::Initialized { restore: true }),
            (S::Suspended, E::Restored),
            (S::Restoring, E::Initialized { restore: false }),
        ];
        for (from, event) in illegal {
            let e = from.next(event).unwrap_err();
            assert_eq!(e, IllegalTransition { from, event });
            assert!(e.to_string().contains(&format!("{event:?}")), "{e}");
        }
        // The table is total: every (state, event) pair is either a state or an error, and the
        // legal ones are exactly those above the error arm.
        let legal = STATES
            .iter()
            .flat_map(|s| EVENTS.iter().map(move |e| (*s, *e)))
            .filter(|(s, e)| s.next(*e).is_ok())
            .count();
        assert_eq!(legal, 11);
    }
}
