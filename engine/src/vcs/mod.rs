//! Git: topologies read straight from commits (no checkout), the commit an apply came from,
//! and the checks protected environments need.

use crate::config::MemoryFiles;
use std::path::{Path, PathBuf};

/// Errors from git.
#[derive(Debug, thiserror::Error)]
pub enum VcsError {
    /// Not inside a repository.
    #[error("{0} is not inside a git repository")]
    NotARepo(PathBuf),
    /// A revision that does not resolve.
    #[error("unknown revision {rev:?}: {detail}")]
    BadRevision {
        /// The revision.
        rev: String,
        /// git's message.
        detail: String,
    },
    /// Anything else git reports.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The commit standby applied from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitInfo {
    /// Full SHA.
    pub sha: String,
    /// `Name <email>`.
    pub author: String,
    /// The first line of the message.
    pub summary: String,
    /// Whether the topology directory had no uncommitted changes.
    pub clean: bool,
}

/// A repository containing a topology directory.
pub struct Repo {
    repo: git2::Repository,
    workdir: PathBuf,
}

impl Repo {
    /// The repository that contains `path`.
    pub fn discover(path: &Path) -> Result<Repo, VcsError> {
        let repo =
            git2::Repository::discover(path).map_err(|_| VcsError::NotARepo(path.to_path_buf()))?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| VcsError::NotARepo(path.to_path_buf()))?;
        let workdir = workdir
            .canonicalize()
            .unwrap_or_else(|_| workdir.to_path_buf());
        Ok(Repo { repo, workdir })
    }

    fn commit(&self, rev: &str) -> Result<git2::Commit<'_>, VcsError> {
        self.repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| VcsError::BadRevision {
                rev: rev.to_string(),
                detail: e.message().to_string(),
            })
    }

    /// Whether `file` is in HEAD's tree with exactly its content on disk: committed and
    /// unchanged. Ignored, untracked and modified files are not.
    pub fn committed_unchanged(&self, file: &Path) -> bool {
        let Some(rel) = self.relative(file) else {
            return false;
        };
        let Ok(disk) = std::fs::read(file) else {
            return false;
        };
        self.commit("HEAD")
            .ok()
            .and_then(|c| c.tree().ok())
            .and_then(|t| t.get_path(&rel).ok())
            .and_then(|e| self.repo.find_blob(e.id()).ok())
            .is_some_and(|b| b.content() == disk.as_slice())
    }

    /// `dir`'s path from the root of the work tree, if it is inside it.
    pub fn relative(&self, dir: &Path) -> Option<PathBuf> {
        let dir = dir.canonicalize().ok()?;
        let root = self.workdir.canonicalize().ok()?;
        dir.strip_prefix(root).ok().map(Path::to_path_buf)
    }

    /// Every file of the commit `rev` under `dir` (an absolute path in the work tree), keyed by
    /// where it would be on disk: read from git objects, with no checkout.
    pub fn tree_files(&self, rev: &str, dir: &Path) -> Result<MemoryFiles, VcsError> {
        let commit = self.commit(rev)?;
        let tree = commit.tree()?;
        let rel = dir
            .strip_prefix(&self.workdir)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut files = MemoryFiles::default();
        let mut err = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let path = Path::new(parent).join(entry.name().unwrap_or_default());
            if !path.starts_with(&rel) {
                return git2::TreeWalkResult::Ok;
            }
            match self.repo.find_blob(entry.id()) {
                Ok(blob) => {
                    files.files.insert(
                        self.workdir.join(&path),
                        String::from_utf8_lossy(blob.content()).into_owned(),
                    );
                }
                Err(e) => err = Some(e),
            }
            git2::TreeWalkResult::Ok
        })?;
        match err {
            Some(e) => Err(e.into()),
            None => Ok(files),
        }
    }

    /// Whether the files under `dir` match HEAD (untracked files count; ignored ones and
    /// standby's own `.standby/` do not).
    pub fn is_clean(&self, dir: &Path) -> Result<bool, VcsError> {
        let rel = dir.strip_prefix(&self.workdir).unwrap_or(Path::new(""));
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let statuses = self.repo.statuses(Some(&mut opts))?;
        Ok(statuses.iter().all(|s| {
            let p = Path::new(s.path().unwrap_or_default());
            !p.starts_with(rel)
                || p.components().any(|c| c.as_os_str() == ".standby")
                || s.status().is_empty()
        }))
    }

    /// The commit HEAD names, without looking at the work tree.
    pub fn head_sha(&self) -> Result<String, VcsError> {
        Ok(self.commit("HEAD")?.id().to_string())
    }

    /// The commit HEAD names, and whether `dir` is clean.
    pub fn head(&self, dir: &Path) -> Result<CommitInfo, VcsError> {
        let c = self.commit("HEAD")?;
        let a = c.author();
        Ok(CommitInfo {
            sha: c.id().to_string(),
            author: format!("{} <{}>", a.name().unwrap_or("?"), a.email().unwrap_or("?")),
            summary: c.summary().ok().flatten().unwrap_or_default().to_string(),
            clean: self.is_clean(dir)?,
        })
    }

    /// The web address of the `origin` remote's repository (`https://HOST/OWNER/REPO`), when
    /// its URL names a host: SSH (`git@HOST:PATH`, `ssh://git@HOST/PATH`) or HTTPS.
    pub fn browse_url(&self) -> Option<String> {
        let remote = self.repo.find_remote("origin").ok()?;
        web_url(remote.url().ok()?)
    }

    /// Whether commit `sha` is on branch `branch` (equal to its tip or an ancestor of it).
    pub fn on_branch(&self, sha: &str, branch: &str) -> Result<bool, VcsError> {
        // CI checkouts often have no local branch (GitLab detaches HEAD at origin/main):
        // the remote-tracking branch counts as the branch.
        let tip = self
            .commit(&format!("refs/heads/{branch}"))
            .or_else(|_| self.commit(branch))
            .or_else(|_| self.commit(&format!("refs/remotes/origin/{branch}")))?
            .id();
        let c = git2::Oid::from_str(sha)?;
        Ok(tip == c || self.repo.graph_descendant_of(tip, c)?)
    }
}

/// A remote URL as the web address of its repository; `None` for a local path.
pub fn web_url(remote: &str) -> Option<String> {
    let rest = remote.trim().trim_end_matches('/');
    let (host, path) = if let Some(r) = rest
        .strip_prefix("https://")
        .or_else(|| rest.strip_prefix("http://"))
    {
        let r = r.rsplit_once('@').map_or(r, |(_, h)| h);
        r.split_once('/')?
    } else if let Some(r) = rest.strip_prefix("ssh://") {
        let r = r.split_once('@').map_or(r, |(_, h)| h);
        let (h, p) = r.split_once('/')?;
        (h.split(':').next().unwrap_or(h), p)
    } else {
        let (user_host, p) = rest.split_once(':')?;
        (user_host.split_once('@')?.1, p)
    };
    let path = path.trim_end_matches(".git").trim_matches('/');
    let plausible = |s: &str| {
        !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('?') && !s.contains('#')
    };
    (plausible(host) && plausible(path) && host.contains('.'))
        .then(|| format!("https://{host}/{path}"))
}

#[cfg(test)]
mod web_url_tests {
    #[test]
    fn remote_urls_become_web_addresses() {
        for (remote, want) in [
            (
                "git@github.com:acme/topology.git",
                Some("https://github.com/acme/topology"),
            ),
            (
                "https://github.com/acme/topology.git",
                Some("https://github.com/acme/topology"),
            ),
            (
                "https://ci-token:x@gitlab.example.com/ops/topo",
                Some("https://gitlab.example.com/ops/topo"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/ops/topo.git",
                Some("https://gitlab.example.com/ops/topo"),
            ),
            ("/srv/git/topology.git", None),
            ("../topology", None),
        ] {
            assert_eq!(super::web_url(remote).as_deref(), want, "{remote}");
        }
    }
}
