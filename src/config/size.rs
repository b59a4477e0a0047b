//! Byte sizes and output buffer limits written the way Redis writes them.

pub use proto::size::parse_size;

/// Writes a size back in the shortest binary unit that is exact, so
/// `--check-config` shows "512mb" rather than "536870912".
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")];
    for (unit, name) in UNITS {
        // Units are powers of two, so a mask tests divisibility.
        if bytes != 0 && bytes & (unit - 1) == 0 {
            return format!("{}{name}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// `client-output-buffer-limit` for one client class: "<hard> <soft> <secs>".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimitSetting {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl OutputLimitSetting {
    pub fn parse(text: &str) -> Option<OutputLimitSetting> {
        let mut parts = text.split_whitespace();
        let hard = parse_size(parts.next()?)?;
        let soft = parse_size(parts.next()?)?;
        let soft_seconds = parts.next()?.parse::<u64>().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(OutputLimitSetting {
            hard,
            soft,
            soft_seconds,
        })
    }

    pub fn render(&self) -> String {
        format!(
            "{} {} {}",
            format_size(self.hard),
            format_size(self.soft),
            self.soft_seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_redis() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("1k"), Some(1000));
        assert_eq!(parse_size("1kb"), Some(1024));
        assert_eq!(parse_size("2m"), Some(2_000_000));
        assert_eq!(parse_size("512mb"), Some(512 << 20));
        assert_eq!(parse_size("1G"), Some(1_000_000_000));
        assert_eq!(parse_size("1GB"), Some(1 << 30));
        assert_eq!(parse_size(" 64mb "), Some(64 << 20));
    }

    #[test]
    fn rejects_garbage_and_overflow() {
        for bad in [
            "",
            "mb",
            "-1",
            "1.5mb",
            "1 mb",
            "1tb",
            "12x",
            "99999999999999999999",
            "99999999999gb",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_exact_units() {
        assert_eq!(format_size(0), "0");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(1024), "1kb");
        assert_eq!(format_size(512 << 20), "512mb");
        assert_eq!(format_size(1 << 30), "1gb");
        assert_eq!(parse_size(&format_size(3 << 20)), Some(3 << 20));
    }

    #[test]
    fn output_limit_has_three_parts() {
        assert_eq!(
            OutputLimitSetting::parse("256mb 64mb 60"),
            Some(OutputLimitSetting {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60
            })
        );
        assert_eq!(
            OutputLimitSetting::parse("0 0 0").map(|l| l.render()),
            Some("0 0 0".to_string())
        );
        assert_eq!(OutputLimitSetting::parse("0 0"), None);
        assert_eq!(OutputLimitSetting::parse("0 0 0 0"), None);
        assert_eq!(OutputLimitSetting::parse("0 0 1m"), None);
        assert_eq!(OutputLimitSetting::parse("x 0 0"), None);
    }
}
