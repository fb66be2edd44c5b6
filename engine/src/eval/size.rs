//! How large one value may grow. Values are copied, not shared, so a few lines of topology
//! (`[for i in range(1000000) : local.big]`, a string doubled by forty locals) could ask for
//! terabytes; every value that expressions build is measured as it grows and refused past
//! [`MAX_VALUE_BYTES`], with a located error, before memory runs out.

use standby_provider_sdk::Value;

/// The most one value (a string, or a list or object with all it holds) may take.
pub(crate) const MAX_VALUE_BYTES: u64 = 64 << 20;

/// What one value costs besides its text: the size of `Value` itself.
pub(crate) const PER_VALUE: u64 = std::mem::size_of::<Value>() as u64;

/// About how many bytes `v` takes: string lengths and keys, and each value's own size.
pub(crate) fn size_of(v: &Value) -> u64 {
    match v {
        Value::String(s) => PER_VALUE + s.len() as u64,
        Value::List(items) => PER_VALUE + items.iter().map(size_of).sum::<u64>(),
        Value::Map(m) => {
            PER_VALUE
                + m.iter()
                    .map(|(k, x)| 3 * PER_VALUE + k.len() as u64 + size_of(x))
                    .sum::<u64>()
        }
        Value::Sensitive(inner) => PER_VALUE + size_of(inner),
        _ => PER_VALUE,
    }
}

/// A value being built, piece by piece.
#[derive(Default)]
pub(crate) struct Growth {
    used: u64,
}

impl Growth {
    /// Adds `bytes`; the error says what was refused.
    pub(crate) fn add(&mut self, bytes: u64) -> Result<(), String> {
        self.used = self.used.saturating_add(bytes);
        if self.used > MAX_VALUE_BYTES {
            Err(too_large())
        } else {
            Ok(())
        }
    }

    /// Adds the size of `v`.
    pub(crate) fn add_value(&mut self, v: &Value) -> Result<(), String> {
        self.add(size_of(v))
    }
}

/// Checks a finished value.
pub(crate) fn check(v: &Value) -> Result<(), String> {
    Growth::default().add_value(v)
}

pub(crate) fn too_large() -> String {
    format!(
        "This value would take more than {} MiB, the most one string, list or object may hold; standby stops here rather than exhaust memory.",
        MAX_VALUE_BYTES >> 20
    )
}
