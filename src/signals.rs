//! SIGINT and SIGTERM ask the server to stop gracefully; a second one ends
//! the process at once, for when a graceful stop hangs and the operator
//! presses Ctrl-C again.

use net::ShutdownTrigger;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::io;
use std::thread;

/// Signals caught before the server has started are queued, not lost, so
/// this is installed first and connected to the server with [`watch`].
pub struct SignalWatch {
    signals: Signals,
}

pub fn install() -> io::Result<SignalWatch> {
    // A file-size limit (ulimit -f) reached by the WAL must surface as a
    // write error (EFBIG), which refuses writes with -MISCONF, not as
    // SIGXFSZ killing the process in the middle of a write.
    // SAFETY: setting a signal's disposition to ignore, before any thread starts.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    Ok(SignalWatch {
        signals: Signals::new([SIGINT, SIGTERM])?,
    })
}

impl SignalWatch {
    /// Starts the thread that turns signals into `trigger`. The returned
    /// handle closes the watch once the server has stopped.
    pub fn watch(mut self, trigger: ShutdownTrigger) -> io::Result<Handle> {
        let handle = self.signals.handle();
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut seen = 0;
                for signal in self.signals.forever() {
                    seen += 1;
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if seen == 1 {
                        tracing::info!(signal = name, "shutting down");
                        trigger.trigger();
                    } else {
                        tracing::warn!(signal = name, "second signal, exiting now");
                        std::process::exit(1);
                    }
                }
            })?;
        Ok(handle)
    }
}
