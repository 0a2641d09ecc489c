//! Clean shutdown on SIGTERM/SIGINT for the test and benchmark processes (`weir-test-worker`,
//! `weir-bench-ceiling`): the first signal sets a flag the process polls, a second exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sets `flag` on the first SIGTERM or SIGINT; exits the process on the second. The handlers are
/// registered before this returns, so a signal that arrives after "worker started" is never
/// lost to the default action.
pub fn stop_on_signals(program: &'static str, flag: Arc<AtomicBool>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut term, mut int) = {
        let _guard = rt.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    std::thread::Builder::new()
        .name("weir-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                for n in 0.. {
                    let name = tokio::select! {
                        _ = term.recv() => "SIGTERM",
                        _ = int.recv() => "SIGINT",
                    };
                    if n == 0 {
                        eprintln!("{program}: {name}: shutting down");
                        flag.store(true, Ordering::Release);
                    } else {
                        eprintln!("{program}: {name} again: exiting now");
                        std::process::exit(130);
                    }
                }
            });
        })?;
    Ok(())
}
