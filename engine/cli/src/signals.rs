//! Ctrl-C and SIGTERM for the long-running subcommands (`run`, `produce`, `demo`): the first
//! signal sets a flag the command polls to stop cleanly; a second one exits at once (code 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sets `flag` on the first SIGINT/SIGTERM and prints `message`; exits on the second.
pub fn stop_on_signals(flag: Arc<AtomicBool>, message: &'static str) {
    let spawned = std::thread::Builder::new()
        .name("weir-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return;
                };
                for _ in 0..2 {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    if flag.swap(true, Ordering::AcqRel) {
                        eprintln!("second signal: exiting now");
                        std::process::exit(130);
                    }
                    eprintln!("\n{message}");
                }
            });
        });
    if spawned.is_err() {
        tracing::warn!("cannot watch for Ctrl-C/SIGTERM; they will stop weir at once");
    }
}
