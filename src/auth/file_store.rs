//! The default token store: one JSON file in the user's configuration
//! directory (`mcpstore/credentials.json`), readable by the user alone (mode
//! 0600 in a 0700 directory), replaced atomically on every change (a temporary
//! file in the same directory, synced, then renamed over the old one), so a
//! crash never leaves half a file. Changes within one process are serialized;
//! two processes changing it at the same moment: the last write wins whole.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::store::{CredentialKey, StoredCredential, TokenStore};
use crate::error::{AuthStep, Error, Result};

/// A token store in a file (see the module documentation).
#[derive(Debug)]
pub struct FileTokenStore {
    path: PathBuf,
    /// One change at a time within this process (read, modify, replace).
    lock: Mutex<()>,
}

#[derive(Serialize, Deserialize, Default)]
struct FileContents {
    version: u32,
    credentials: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    key: CredentialKey,
    credential: StoredCredential,
}

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> FileTokenStore {
        FileTokenStore { path: path.into(), lock: Mutex::new(()) }
    }

    /// The default file: `mcpstore/credentials.json` in the user's
    /// configuration directory (`$XDG_CONFIG_HOME` or `~/.config` on Linux
    /// and other Unix systems, `~/Library/Application Support` on macOS,
    /// `%APPDATA%` on Windows); `None` when there is no home directory.
    pub fn default_path() -> Option<PathBuf> {
        let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        let base = if cfg!(windows) {
            std::env::var_os("APPDATA").and_then(absolute)
        } else if cfg!(target_os = "macos") {
            std::env::var_os("HOME").and_then(absolute).map(|h| h.join("Library/Application Support"))
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .and_then(absolute)
                .or_else(|| std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".config")))
        }?;
        Some(base.join("mcpstore").join("credentials.json"))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<BTreeMap<CredentialKey, StoredCredential>> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.error(format!("cannot read it: {}", e.kind()))),
        };
        let contents: FileContents = serde_json::from_slice(&text)
            .map_err(|e| self.error(format!("it is not a credentials file: {e}")))?;
        Ok(contents.credentials.into_iter().map(|e| (e.key, e.credential)).collect())
    }

    fn write(&self, entries: BTreeMap<CredentialKey, StoredCredential>) -> Result<()> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_private_dir(dir)
            .map_err(|e| self.error(format!("cannot create {}: {}", dir.display(), e.kind())))?;
        let contents = FileContents {
            version: 1,
            credentials: entries.into_iter().map(|(key, credential)| Entry { key, credential }).collect(),
        };
        let bytes = serde_json::to_vec_pretty(&contents).map_err(|e| self.error(e.to_string()))?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name =
            self.path.file_name().map_or_else(|| "credentials".into(), |n| n.to_string_lossy().into_owned());
        let temp =
            dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            let mut file = private_file(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.error(format!("cannot write it: {}", e.kind())));
        }
        Ok(())
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<CredentialKey, StoredCredential>) -> bool) -> Result<()> {
        let _guard = self.lock.lock();
        let mut entries = self.read()?;
        if f(&mut entries) { self.write(entries) } else { Ok(()) }
    }

    fn error(&self, why: String) -> Error {
        Error::auth(AuthStep::TokenStore, format!("credentials file {}: {why}", self.path.display()))
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self, key: &CredentialKey) -> Result<Option<StoredCredential>> {
        Ok(self.read()?.remove(key))
    }

    fn save(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<()> {
        self.change(|entries| entries.insert(key.clone(), credential.clone()).as_ref() != Some(credential))
    }

    fn remove(&self, key: &CredentialKey) -> Result<()> {
        self.change(|entries| entries.remove(key).is_some())
    }

    fn list(&self) -> Result<Vec<(CredentialKey, StoredCredential)>> {
        Ok(self.read()?.into_iter().collect())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new file only this user can read and write.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_atomically_and_privately() {
        let dir = std::env::temp_dir().join(format!("mcps-file-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = FileTokenStore::new(dir.join("sub").join("credentials.json"));
        let key = CredentialKey {
            issuer: "https://as".into(),
            resource: "https://rs".into(),
            client: "dynamic".into(),
        };
        assert_eq!(store.load(&key).unwrap(), None, "no file yet is no credential");
        let cred = StoredCredential {
            server_url: "https://rs".into(),
            access_token: Some("t".into()),
            ..Default::default()
        };
        store.save(&key, &cred).unwrap();
        let other = CredentialKey { client: "c2".into(), ..key.clone() };
        store.save(&other, &cred).unwrap();
        assert_eq!(store.load(&key).unwrap(), Some(cred.clone()));
        assert_eq!(
            FileTokenStore::new(store.path()).list().unwrap().len(),
            2,
            "another store reads the same file"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = std::fs::metadata(dir.join("sub")).unwrap().permissions().mode() & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        let leftovers: Vec<_> =
            std::fs::read_dir(dir.join("sub")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
        store.remove(&key).unwrap();
        assert_eq!(store.list().unwrap().len(), 1);
        std::fs::write(store.path(), b"garbage").unwrap();
        let e = store.load(&key).unwrap_err();
        assert!(matches!(e, Error::Auth { step: AuthStep::TokenStore, .. }), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
