//! Diagnostics as data: what went wrong, where, and how to fix it.
//!
//! The library only builds these; the CLI renders them with source snippets. A diagnostic points
//! at a byte range of one loaded source file, identified by [`FileId`].

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// Byte offsets into the file's text.
    pub range: Range<usize>,
}

impl Span {
    /// A span from a file and an optional parser range; a missing range points at the start.
    pub(crate) fn new(file: FileId, range: Option<Range<usize>>) -> Self {
        Span {
            file,
            range: range.unwrap_or(0..0),
        }
    }
}

/// Every source file that was loaded, so diagnostics can quote them.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<(PathBuf, String)>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push((path, text));
        FileId::try_from(self.files.len() - 1).unwrap_or(FileId::MAX)
    }

    /// The path and text of a file.
    pub fn get(&self, id: FileId) -> Option<(&Path, &str)> {
        self.files
            .get(id as usize)
            .map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// Every file, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let Some((_, text)) = self.get(id) else {
            return (1, 1);
        };
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// `path:line:col` of a span.
    pub fn location(&self, span: &Span) -> String {
        let (l, c) = self.line_col(span.file, span.range.start);
        let path = self
            .get(span.file)
            .map_or_else(|| "?".to_string(), |(p, _)| p.display().to_string());
        format!("{path}:{l}:{c}")
    }
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// One line.
    pub summary: String,
    /// What to do about it.
    pub detail: String,
    /// Where, if it has a place in the source.
    pub span: Option<Span>,
}

impl Diagnostic {
    /// A diagnostic at a span.
    pub fn at(span: Span, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            summary: summary.into(),
            detail: detail.into(),
            span: Some(span),
        }
    }

    /// A diagnostic with no place in the source.
    pub fn bare(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            summary: summary.into(),
            detail: detail.into(),
            span: None,
        }
    }
}

/// A list of diagnostics; commands stop when it is not empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the topology", .0.len())]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when empty, the diagnostics otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The closest candidate to `name`, for "did you mean" hints.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            // Transpositions such as "vra" for "var" score low on Jaro-Winkler alone.
            let bonus = if strsim::osa_distance(name, c) <= 1 {
                1.0
            } else {
                0.0
            };
            (strsim::jaro_winkler(name, c) + bonus, c)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` Did you mean "x"?` or nothing.
pub(crate) fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(name, candidates).map_or_else(String::new, |c| format!(" Did you mean {c:?}?"))
}
