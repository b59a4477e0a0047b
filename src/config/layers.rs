//! Stacking the configuration layers into one TOML table before it is typed.
//!
//! Merging untyped tables first (rather than typed structs) is what lets a
//! user file, the environment and the flags each name only the keys they
//! change, while the embedded defaults still supply every other key.

use super::ConfigError;
use std::collections::BTreeMap;
use toml::{Table, Value};

/// Where each non-default value came from ("server.port" -> "--port"), so an
/// error or `--check-config` can say which layer to fix.
pub type Origins = BTreeMap<String, String>;

pub const ENV_PREFIX: &str = "TOKENGINX_";

/// Parses TOML text; `source` names the file in the one-line error.
pub fn parse_table(text: &str, source: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|err| {
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let place = match line {
            Some(line) => format!("{source}: line {line}"),
            None => source.to_string(),
        };
        ConfigError::new(format!(
            "{place}: invalid TOML: {}",
            err.message().trim_end().replace('\n', "; ")
        ))
    })
}

/// Lays `overlay` over `base`: tables merge key by key, anything else
/// replaces. Every replaced leaf is recorded in `origins` as coming from `source`.
pub fn merge(base: &mut Table, overlay: Table, source: &str, origins: &mut Origins) {
    merge_at(base, overlay, "", source, origins);
}

fn merge_at(base: &mut Table, overlay: Table, prefix: &str, source: &str, origins: &mut Origins) {
    for (key, value) in overlay {
        let path = join(prefix, &key);
        match (base.get_mut(&key), value) {
            (Some(Value::Table(inner)), Value::Table(over)) => {
                merge_at(inner, over, &path, source, origins)
            }
            (_, value) => {
                origins.insert(path, source.to_string());
                base.insert(key, value);
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Applies every `TOKENGINX_<SECTION>_<KEY>` variable to `table`.
///
/// Unknown variables are errors, like unknown keys in a file: a misspelt
/// `TOKENGINX_SERVER_PROT` silently doing nothing is worse than refusing to start.
pub fn apply_env(
    table: &mut Table,
    env: &BTreeMap<String, String>,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    for (name, text) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path = env_path(table, rest).ok_or_else(|| {
            ConfigError::new(format!(
                "environment variable {name}: no such setting; expected \
                 {ENV_PREFIX}<SECTION>_<KEY> for a key in config.toml, e.g. {ENV_PREFIX}SERVER_PORT"
            ))
        })?;
        set_text(table, &path, text, name, origins)?;
    }
    Ok(())
}

/// Maps "SERVER_TCP_KEEPALIVE" to ["server", "tcp_keepalive"] when that key
/// exists. Section names hold no underscore, so the first one splits.
fn env_path(table: &Table, rest: &str) -> Option<[String; 2]> {
    let (section, key) = rest.split_once('_')?;
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    let exists = table
        .get(&section)
        .and_then(Value::as_table)
        .is_some_and(|t| t.contains_key(&key));
    exists.then_some([section, key])
}

/// Sets one key from text (an environment variable or a flag), converting it
/// to the type the default has, so "7000" becomes an integer for
/// `server.port` but stays a string for a size such as `proto_max_bulk_len`.
pub fn set_text(
    table: &mut Table,
    path: &[String; 2],
    text: &str,
    source: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let [section, key] = path;
    let dotted = format!("{section}.{key}");
    let section = table
        .get_mut(section)
        .and_then(Value::as_table_mut)
        .ok_or_else(|| ConfigError::new(format!("{dotted}: no such setting")))?;
    let value = match section.get(key) {
        Some(Value::Integer(_)) => Value::Integer(text.trim().parse().map_err(|_| {
            ConfigError::value(&dotted, &quote(text), Some(source), "must be an integer")
        })?),
        Some(Value::Boolean(_)) => Value::Boolean(parse_bool(text).ok_or_else(|| {
            ConfigError::value(&dotted, &quote(text), Some(source), "must be true or false")
        })?),
        _ => Value::String(text.to_string()),
    };
    section.insert(key.clone(), value);
    origins.insert(dotted, source.to_string());
    Ok(())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn quote(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// Finds the value at a dotted path.
#[cfg(test)]
fn lookup<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Table {
        parse_table(
            "[server]\nport = 6380\npin_cores = true\nbind = \"127.0.0.1\"\n[log]\nlevel = \"info\"\n",
            "defaults",
        )
        .unwrap()
    }

    #[test]
    fn overlay_changes_only_what_it_names() {
        let mut base = defaults();
        let mut origins = Origins::new();
        let user = parse_table("[server]\nport = 7000\n", "user.toml").unwrap();
        merge(&mut base, user, "user.toml", &mut origins);
        assert_eq!(lookup(&base, "server.port"), Some(&Value::Integer(7000)));
        assert_eq!(
            lookup(&base, "server.bind"),
            Some(&Value::String("127.0.0.1".into()))
        );
        assert_eq!(origins.get("server.port").unwrap(), "user.toml");
        assert!(!origins.contains_key("server.bind"));
    }

    #[test]
    fn env_values_take_the_default_type() {
        let mut base = defaults();
        let mut origins = Origins::new();
        let env = BTreeMap::from([
            ("TOKENGINX_SERVER_PORT".to_string(), "7001".to_string()),
            (
                "TOKENGINX_SERVER_PIN_CORES".to_string(),
                "false".to_string(),
            ),
            ("TOKENGINX_LOG_LEVEL".to_string(), "debug".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ]);
        apply_env(&mut base, &env, &mut origins).unwrap();
        assert_eq!(lookup(&base, "server.port"), Some(&Value::Integer(7001)));
        assert_eq!(
            lookup(&base, "server.pin_cores"),
            Some(&Value::Boolean(false))
        );
        assert_eq!(
            lookup(&base, "log.level"),
            Some(&Value::String("debug".into()))
        );
        assert_eq!(origins.get("server.port").unwrap(), "TOKENGINX_SERVER_PORT");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let mut origins = Origins::new();
        let bad_type = BTreeMap::from([("TOKENGINX_SERVER_PORT".into(), "many".into())]);
        let err = apply_env(&mut defaults(), &bad_type, &mut origins).unwrap_err();
        assert_eq!(
            err.to_string(),
            "server.port = \"many\" (from TOKENGINX_SERVER_PORT): must be an integer"
        );
        let unknown = BTreeMap::from([("TOKENGINX_SERVER_PROT".into(), "1".into())]);
        let err = apply_env(&mut defaults(), &unknown, &mut origins).unwrap_err();
        assert!(err.to_string().contains("TOKENGINX_SERVER_PROT"), "{err}");
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_line_number() {
        let err = parse_table("[server]\nport = = 1\n", "my.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("my.toml: line 2: invalid TOML"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
