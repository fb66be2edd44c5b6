//! Provider versions and Terraform's version constraints: `2.1.2`, `= 2.1.2`, `!= 2.0.0`,
//! `> 1`, `>= 1.2`, `< 3`, `<= 3.1`, `~> 2.1` (at least 2.1, below 3.0), `~> 2.1.0` (below
//! 2.2.0), comma-separated and all required.

use std::cmp::Ordering;
use std::fmt;

/// A version: `MAJOR.MINOR.PATCH` with an optional pre-release, which sorts before its release
/// and is only chosen when a constraint names it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Numeric parts, padded to three.
    pub parts: [u64; 3],
    /// `-beta1`.
    pub pre: Option<String>,
}

impl Version {
    /// Parses `1`, `1.2`, `1.2.3`, `1.2.3-beta1`, with an optional `v`.
    pub fn parse(s: &str) -> Result<Version, String> {
        // Build metadata (`+linux`) does not order versions.
        let t = s.trim().trim_start_matches('v');
        let t = t.split_once('+').map_or(t, |(v, _)| v);
        let (nums, pre) = match t.split_once('-') {
            Some((n, p)) if !p.is_empty() => (n, Some(p.to_string())),
            _ => (t, None),
        };
        let mut parts = [0u64; 3];
        let split: Vec<&str> = nums.split('.').collect();
        if split.is_empty() || split.len() > 3 || split.iter().any(|p| p.is_empty()) {
            return Err(format!("{s:?} is not a version such as 2.1.2"));
        }
        for (i, p) in split.iter().enumerate() {
            parts[i] = p
                .parse()
                .map_err(|_| format!("{s:?} is not a version such as 2.1.2"))?;
        }
        Ok(Version { parts, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        self.parts
            .cmp(&o.parts)
            .then_with(|| match (&self.pre, &o.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => pre_cmp(a, b),
            })
    }
}

/// Semantic versioning's pre-release order: dot-separated identifiers, numeric ones by value
/// and below alphanumeric ones (`rc.2` < `rc.10` < `rc.x`).
fn pre_cmp(a: &str, b: &str) -> Ordering {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.parts[0], self.parts[1], self.parts[2])?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~>` with the number of parts written.
    Pessimistic(usize),
}

/// A set of constraints, all of which a version must meet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Constraints {
    items: Vec<(Op, Version)>,
    text: String,
}

impl Constraints {
    /// Parses `~> 2.1, != 2.1.1`; empty means any version.
    pub fn parse(s: &str) -> Result<Constraints, String> {
        let mut items = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = [
                ("~>", None),
                (">=", Some(Op::Ge)),
                ("<=", Some(Op::Le)),
                ("!=", Some(Op::Ne)),
                (">", Some(Op::Gt)),
                ("<", Some(Op::Lt)),
                ("=", Some(Op::Eq)),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Some(Op::Eq), part));
            let rest = rest.trim();
            let v = Version::parse(rest).map_err(|e| format!("in constraint {part:?}: {e}"))?;
            let op = op.unwrap_or_else(|| {
                let written = rest
                    .trim_start_matches('v')
                    .split('-')
                    .next()
                    .unwrap_or("")
                    .split('.')
                    .count();
                Op::Pessimistic(written)
            });
            items.push((op, v));
        }
        Ok(Constraints {
            items,
            text: s.trim().to_string(),
        })
    }

    /// Whether `v` meets every constraint. A pre-release meets only an exact `=`.
    pub fn allows(&self, v: &Version) -> bool {
        if v.pre.is_some() && !self.items.iter().any(|(op, c)| *op == Op::Eq && c == v) {
            return false;
        }
        self.items.iter().all(|(op, c)| match op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Pessimistic(n) => {
                // ~> 2.1 allows >= 2.1, < 3.0; ~> 2.1.0 allows >= 2.1.0, < 2.2.0; ~> 2
                // allows >= 2, < 3.
                let keep = n.saturating_sub(1).max(1);
                let mut upper = c.parts;
                upper[keep - 1] += 1;
                for p in upper.iter_mut().skip(keep) {
                    *p = 0;
                }
                v >= c && v.parts < upper
            }
        })
    }

    /// As written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap()
            .allows(&Version::parse(v).unwrap())
    }

    #[test]
    fn terraforms_operators() {
        assert!(ok("~> 2.1", "2.1.2") && ok("~> 2.1", "2.9.0") && !ok("~> 2.1", "3.0.0"));
        assert!(!ok("~> 2.1", "2.0.9"));
        assert!(ok("~> 2.1.0", "2.1.9") && !ok("~> 2.1.0", "2.2.0"));
        assert!(ok("~> 2", "2.9.9") && !ok("~> 2", "3.0.0"));
        assert!(ok(">= 1.0, < 2.0", "1.5.0") && !ok(">= 1.0, < 2.0", "2.0.0"));
        assert!(ok("2.1.2", "2.1.2") && !ok("= 2.1.2", "2.1.3"));
        assert!(!ok("!= 2.1.2", "2.1.2") && ok("", "9.9.9"));
        assert!(!ok(">= 1.0", "2.0.0-beta1") && ok("= 2.0.0-beta1", "2.0.0-beta1"));
        assert!(Version::parse("2.0.0-beta1").unwrap() < Version::parse("2.0.0").unwrap());
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.0.0-rc.2") < v("1.0.0-rc.10") && v("1.0.0-rc.10") < v("1.0.0-rc.x"));
        assert_eq!(v("1.2.3+linux"), v("1.2.3"));
        assert!(Constraints::parse("~> two").is_err());
        assert!(Version::parse("1..2").is_err() && Version::parse("1.2.3.4").is_err());
    }
}
