//! The units of settings and flags, parsed in one place: durations (`500ms`, `30s`, `5m`,
//! `1h`), sizes (`512KiB`, `16MB`) and sizes as people read them. Parsing refuses what would
//! overflow later (a duration beyond a year, a size beyond 8 EiB) instead of panicking there.

use std::time::Duration;

/// The longest duration any setting or flag takes.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// The number and the unit of `12.5MiB`.
fn split(s: &str) -> (&str, &str) {
    let at = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(at);
    (n, unit.trim())
}

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number with a unit.
    #[error("{0:?} is not a duration such as 500ms, 30s or 5m")]
    Invalid(String),
    /// A unit other than ms, s, m, h.
    #[error("unknown duration unit {0:?}; use ms, s, m or h")]
    Unit(String),
    /// Beyond [`MAX_DURATION`].
    #[error("{0:?} is longer than a year")]
    TooLong(String),
}

/// Parses `500ms`, `30s` (or `30`), `5m`, `1h`: at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let (n, unit) = split(s);
    let n: f64 = n.parse().map_err(|_| DurationError::Invalid(s.into()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(DurationError::Unit(u.into())),
    };
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(DurationError::TooLong(s.into())),
    }
}

/// A size in bytes, such as `max_lag`, decoded once from text like `1MiB`. Serialized as the
/// plain number of bytes.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` bytes.
    pub const fn new(n: u64) -> ByteSize {
        ByteSize(n)
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        parse_size(s).map(ByteSize)
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// Parses sizes such as `1MiB`, `512KB`, `0` (bytes), at most 8 EiB.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (n, unit) = split(s);
    let n: f64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 512KiB or 1MiB"))?;
    let mult = match unit {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1_048_576.0,
        "GB" => 1e9,
        "GiB" => 1_073_741_824.0,
        u => {
            return Err(format!(
                "unknown size unit {u:?}; use B, KB, KiB, MB, MiB, GB or GiB"
            ))
        }
    };
    let bytes = n * mult;
    if bytes.is_nan() || bytes < 0.0 {
        return Err(format!("{s:?} is not a size: sizes are not negative"));
    }
    if bytes > 9.2e18 {
        return Err(format!("{s:?} is more than 8 EiB"));
    }
    // Truncation is intended: a fraction of a byte is no byte.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as u64)
}

/// `512 B`, `1.5 KiB`, `16.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // one decimal is shown
    let f = n as f64;
    if n >= 1_048_576 {
        format!("{:.1} MiB", f / 1_048_576.0)
    } else if n >= 1024 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("366d").unwrap_err().to_string(),
            "unknown duration unit \"d\"; use ms, s, m or h"
        );
        // Regression: these panicked in Duration::from_secs_f64 (`monitor --for`, `rto`).
        assert_eq!(
            parse_duration("99999999999999999999999999h")
                .unwrap_err()
                .to_string(),
            "\"99999999999999999999999999h\" is longer than a year"
        );
        assert!(parse_duration("8785h").is_err());
        assert!(parse_duration("8784h").is_ok());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_size("512KB"), Ok(512_000));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("99999999999GiB").is_err());
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("-1MiB").is_err());
        assert_eq!(
            "2KiB".parse::<ByteSize>().map(|b| b.to_string()),
            Ok("2.0 KiB".into())
        );
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(16 * 1_048_576), "16.0 MiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
