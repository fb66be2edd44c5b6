//! Quoting for the places a value travels to PostgreSQL as text (conninfo strings, the
//! settings file, the password file), and the password file itself: a superuser password never
//! goes into an argv, where every local user can read it in `ps`, nor into the environment of
//! the long-running server.

use crate::server::{perr, Server};
use standby_provider_sdk::ProviderError;
use std::io::Write as _;
use std::path::PathBuf;

/// A libpq conninfo value: single-quoted, with `\` and `'` escaped by a backslash.
pub(crate) fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A postgresql.conf string value: single-quoted, `'` doubled, `\` escaped (the settings
/// parser reads backslash escapes). A line break would end the setting and start another, so
/// it is refused.
pub(crate) fn conf_value(name: &str, v: &str) -> Result<String, ProviderError> {
    if v.chars().any(|c| c.is_control()) {
        return Err(ProviderError::new(
            format!("invalid value for {name}"),
            "a setting's value cannot contain a line break or another control character",
        ));
    }
    Ok(format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''")))
}

/// `synchronous_standby_names` for `names`: each a quoted identifier (`"` doubled).
pub(crate) fn sync_names(names: &[String]) -> String {
    format!(
        "FIRST 1 ({})",
        names
            .iter()
            .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The names in a `synchronous_standby_names` value that [`sync_names`] wrote (or a plain
/// list); `*` and anything unparsable count as no name.
pub(crate) fn parse_sync_names(v: &str) -> Vec<String> {
    let list = match (v.find('('), v.rfind(')')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    };
    let mut names = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(first) = chars.next() else { break };
        let mut name = String::new();
        if first == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        name.push('"');
                    }
                    '"' => break,
                    c => name.push(c),
                }
            }
        } else {
            name.push(first);
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                name.push(c);
            }
            name = name.to_lowercase();
        }
        if !name.is_empty() && name != "*" && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A `.pgpass` field: `:` and `\` escaped by a backslash.
fn passfile_field(v: &str) -> String {
    v.replace('\\', "\\\\").replace(':', "\\:")
}

impl Server {
    /// The password file a libpq tool run for this server uses to reach `source`: mode 0600
    /// from its creation (a random name, created exclusively, then renamed into place, so a
    /// planted symlink is replaced, never followed), owned by `run_as`. It lives beside the
    /// data directory, because a standby's `primary_conninfo` names it for as long as it
    /// streams. None when `source` has no password.
    pub(crate) fn passfile(&self, source: &Server) -> Result<Option<PathBuf>, ProviderError> {
        let Some(password) = &source.password else {
            return Ok(None);
        };
        let dir = self
            .data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        let name = self
            .data_dir
            .file_name()
            .map_or_else(|| "server".into(), |n| n.to_string_lossy().into_owned());
        let path = dir.join(format!("{name}.pgpass"));
        let mut f = tempfile::Builder::new()
            .prefix(&format!(".{name}.pgpass."))
            .tempfile_in(&dir)
            .map_err(|e| perr("cannot create the password file", e))?;
        writeln!(
            f,
            "*:*:*:{}:{}",
            passfile_field(&source.superuser),
            passfile_field(password)
        )
        .map_err(|e| perr("cannot write the password file", e))?;
        self.chown_file(f.as_file())
            .map_err(|e| perr("cannot chown the password file", e))?;
        f.persist(&path)
            .map_err(|e| perr("cannot write the password file", e.error))?;
        Ok(Some(path))
    }

    /// A file with the superuser password for initdb's `--pwfile`, created 0600 under a random
    /// name; it is removed when dropped.
    pub(crate) fn initdb_pwfile(&self) -> Result<Option<tempfile::NamedTempFile>, ProviderError> {
        let Some(password) = &self.password else {
            return Ok(None);
        };
        let dir = self
            .data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        let mut f = tempfile::Builder::new()
            .prefix(".standby-pwfile.")
            .tempfile_in(&dir)
            .map_err(|e| perr("cannot create the password file", e))?;
        f.write_all(password.as_bytes())
            .map_err(|e| perr("cannot write the password file", e))?;
        self.chown_file(f.as_file())
            .map_err(|e| perr("cannot chown the password file", e))?;
        Ok(Some(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_format() {
        assert_eq!(conninfo_value(r"p w'x\y"), r"'p w\'x\\y'");
        assert_eq!(conf_value("x", r"it's\on").unwrap(), r"'it''s\\on'");
        assert!(conf_value("x", "a\nfsync = off").is_err());
        assert_eq!(passfile_field(r"a:b\c"), r"a\:b\\c");
    }

    #[test]
    fn sync_names_round_trip_through_quoting() {
        let names = vec!["west".to_string(), "x\"y".to_string(), "a, b".to_string()];
        let v = sync_names(&names);
        assert_eq!(v, r#"FIRST 1 ("west", "x""y", "a, b")"#);
        assert_eq!(parse_sync_names(&v), names);
        assert_eq!(parse_sync_names(""), Vec::<String>::new());
        assert_eq!(parse_sync_names("*"), Vec::<String>::new());
        assert_eq!(parse_sync_names("ANY 1 (East, west)"), ["east", "west"]);
    }
}
