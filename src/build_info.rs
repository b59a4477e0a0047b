//! Version and commit baked in at build time (see build.rs).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_SHA: &str = env!("TOKENGINX_GIT_SHA");
/// What `--version` prints after the program name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("TOKENGINX_GIT_SHA"),
    ")"
);
