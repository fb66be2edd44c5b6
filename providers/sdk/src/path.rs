//! Attribute paths, used for sensitive and unknown markers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One step of an [`AttrPath`]: an object attribute or a list index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathStep {
    /// An element of a list, by position.
    Index(usize),
    /// An attribute of an object or a key of a map.
    Key(String),
}

/// A path from the root of a value to one of its parts, such as `["content"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    /// The path to the root itself.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by one step.
    pub fn child(&self, step: PathStep) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        Self(steps)
    }

    /// A path of one attribute name.
    pub fn attr(name: &str) -> Self {
        Self(vec![PathStep::Key(name.to_string())])
    }

    /// This path moved from attribute `from` to attribute `to`, when it is within `from`.
    pub fn rebased(&self, from: &str, to: &str) -> Option<Self> {
        match self.0.first() {
            Some(PathStep::Key(k)) if k == from => {
                let mut steps = self.0.clone();
                steps[0] = PathStep::Key(to.to_string());
                Some(Self(steps))
            }
            _ => None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Key(k) if i == 0 => write!(f, "{k}")?,
                PathStep::Key(k) => write!(f, ".{k}")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
