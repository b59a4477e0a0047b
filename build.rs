//! Records the commit the binary is built from, for `--version` and INFO.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Builds from a source archive, with no .git, can still name their commit.
    println!("cargo:rerun-if-env-changed=TOKENGINX_GIT_SHA");
    let sha = match std::env::var("TOKENGINX_GIT_SHA") {
        Ok(sha) if !sha.is_empty() => sha,
        _ => git_sha().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=TOKENGINX_GIT_SHA={sha}");
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn git_sha() -> Option<String> {
    let sha = git(&["rev-parse", "--short", "HEAD"])?;
    watch_head();
    Some(sha)
}

/// Rebuilds when HEAD moves: HEAD itself changes on checkout, the branch
/// ref on commit, and packed-refs when git packs that ref away.
fn watch_head() {
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(PathBuf::from) else {
        return;
    };
    // Worktrees keep HEAD in their own dir but refs in the common one.
    let common = git(&["rev-parse", "--git-common-dir"])
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.clone());
    let head = git_dir.join("HEAD");
    rerun_if_changed(&head);
    if let Ok(text) = std::fs::read_to_string(&head) {
        if let Some(reference) = text.trim().strip_prefix("ref: ") {
            rerun_if_changed(&common.join(reference));
        }
    }
    rerun_if_changed(&common.join("packed-refs"));
}

fn rerun_if_changed(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
