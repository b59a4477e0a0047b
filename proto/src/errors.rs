//! Error texts, identical to Redis 7.0's, because clients and their test
//! suites match on them.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// Over `maxmemory` with nothing (more) to evict, before a command that may grow memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// DECRBY's own text for a decrement of i64::MIN, whose negation overflows.
pub const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
pub const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const CURSOR: &str = "ERR invalid cursor";
pub const VALUE_NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
pub const EXPIRE_NX_WITH_OTHERS: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_WITH_LT: &str = "ERR GT and LT options at the same time are not compatible";

/// `-ERR wrong number of arguments for 'get' command`; `name` is the full
/// name, `client|setname` for a subcommand.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `-ERR invalid expire time in 'set' command`
pub fn invalid_expire(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// `-ERR Unsupported option x`, as EXPIRE and friends reply.
pub fn unsupported_option(option: &[u8]) -> String {
    format!("ERR Unsupported option {}", String::from_utf8_lossy(option))
}

/// Redis's text for a command it does not know, quoting at most about 128
/// bytes of each part.
pub fn unknown_command(name: &[u8], args: &[impl AsRef<[u8]>]) -> String {
    let mut quoted = String::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        let arg = arg.as_ref();
        quoted.push('\'');
        quoted.push_str(&String::from_utf8_lossy(&arg[..arg.len().min(room)]));
        quoted.push_str("' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&name[..name.len().min(128)]),
        quoted
    )
}

/// `-ERR unknown subcommand 'x'. Try CLIENT HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        container.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_quotes_args_like_redis() {
        assert_eq!(
            unknown_command(b"foo", &[b"a".as_ref(), b"b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        let none: [&[u8]; 0] = [];
        assert_eq!(
            unknown_command(b"foo", &none),
            "ERR unknown command 'foo', with args beginning with: "
        );
    }
}
