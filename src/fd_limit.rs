//! Each client holds a file descriptor, and the common default soft limit
//! (1024) is far below the default `maxclients` (10000). Like Redis, raise
//! the soft limit toward the hard one at start-up and warn when it can't
//! reach what `maxclients` needs.

/// Descriptors kept for listeners, rings, WAL files and logs.
const RESERVED: u64 = 64;

pub fn ensure(maxclients: usize) {
    let wanted = (maxclients as u64).saturating_add(RESERVED);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes to the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= wanted {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    let now = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        raised.rlim_cur
    } else {
        limit.rlim_cur
    };
    if now < wanted {
        tracing::warn!(
            open_files_limit = now,
            maxclients,
            "open files limit too low for maxclients; raise `ulimit -n` or lower server.maxclients"
        );
    }
}
