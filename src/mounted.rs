//! Secrets mounted as files, as Docker and Kubernetes give them to a container: a variable's
//! `NAME_FILE` form (a path whose contents are the value), and a directory of files named after
//! the secrets that `${secret:NAME}` references read (`--secrets-dir`).
//!
//! A value is the file's text with its trailing newlines trimmed (an editor or `echo` adds
//! one; nothing else is changed). A file that cannot be read, is empty, is not UTF-8 or is
//! larger than [`MAX_FILE_BYTES`] is an error naming the path, never an empty value. Files are
//! read each time a value is used, so a rotated Kubernetes secret is picked up without a
//! restart. Nothing here logs a value.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::redact;
use crate::secret::{SecretString, valid_reference_name};

/// The largest secret file read (a service-account key file fits many times over).
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A file that could not give a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub reason: String,
}

/// The value in the file at `path`: its text without trailing newlines. `Ok(None)`: there is
/// no such file.
pub fn read_value(path: &Path) -> Result<Option<String>, FileError> {
    let fail = |reason: String| FileError {
        path: path.to_path_buf(),
        reason,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.kind().to_string())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.kind().to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "larger than {} KiB: not a secret this server reads",
            MAX_FILE_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(fail("empty".into()));
    }
    Ok(Some(value.to_string()))
}

/// A directory of secret files, each named after its secret (`--secrets-dir`).
#[derive(Debug, Clone)]
pub struct SecretsDir {
    path: PathBuf,
}

impl SecretsDir {
    /// The directory at `path`, which must be one (a start-up error otherwise).
    pub fn open(path: &Path) -> Result<SecretsDir, FileError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(SecretsDir {
                path: path.to_path_buf(),
            }),
            Ok(_) => Err(FileError {
                path: path.to_path_buf(),
                reason: "not a directory".into(),
            }),
            Err(e) => Err(FileError {
                path: path.to_path_buf(),
                reason: e.kind().to_string(),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the secret `name` would be.
    pub fn file_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The value of the secret `name`, registered for masking; `Ok(None)` without its file.
    pub fn read(&self, name: &str) -> Result<Option<SecretString>, FileError> {
        if !valid_reference_name(name) {
            return Ok(None);
        }
        let value = read_value(&self.file_of(name))?;
        Ok(value.map(|v| {
            redact::register_secret(&v);
            SecretString::new(v)
        }))
    }

    /// Whether a file for `name` is there (its value is not read).
    pub fn holds(&self, name: &str) -> bool {
        valid_reference_name(name) && self.file_of(name).exists()
    }

    /// Registers every value in the directory for masking (a vendor may echo a password
    /// before any call uses it), as the environment's are at start-up. Names that cannot be
    /// secrets (Kubernetes' `..data` and its timestamped directories) are skipped; a file that
    /// cannot be read is an error when it is used.
    pub fn register_all(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| valid_reference_name(name))
            .filter(|name| matches!(self.read(name), Ok(Some(_))))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "datasource-mcp-mounted-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn values_lose_trailing_newlines_only() {
        let d = dir("values");
        for (name, text, value) in [
            ("A", "pw-S3NT1NEL-a\n", Some("pw-S3NT1NEL-a")),
            ("B", "pw-S3NT1NEL-b\r\n\n", Some("pw-S3NT1NEL-b")),
            ("C", " spaced pw \n", Some(" spaced pw ")),
            ("D", "line one\nline two\n", Some("line one\nline two")),
        ] {
            std::fs::write(d.join(name), text).unwrap();
            assert_eq!(
                read_value(&d.join(name)).unwrap().as_deref(),
                value,
                "{name}"
            );
        }
        assert_eq!(read_value(&d.join("NONE")).unwrap(), None);
        std::fs::write(d.join("EMPTY"), "\n").unwrap();
        assert_eq!(
            read_value(&d.join("EMPTY")).unwrap_err().to_string(),
            format!("{}: empty", d.join("EMPTY").display())
        );
        std::fs::create_dir(d.join("SUBDIR")).unwrap();
        assert!(read_value(&d.join("SUBDIR")).is_err());
        std::fs::write(d.join("BIG"), vec![b'x'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert_eq!(
            read_value(&d.join("BIG")).unwrap_err().reason,
            "larger than 64 KiB: not a secret this server reads"
        );
        std::fs::write(d.join("BIN"), [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_value(&d.join("BIN")).unwrap_err().reason,
            "not UTF-8 text"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_directory_of_secrets() {
        let d = dir("dir");
        std::fs::write(d.join("DB_PASS"), "dir-S3NT1NEL-pw\n").unwrap();
        std::fs::create_dir(d.join("..data")).unwrap();
        let secrets = SecretsDir::open(&d).unwrap();
        assert_eq!(
            secrets.read("DB_PASS").unwrap().unwrap().expose(),
            "dir-S3NT1NEL-pw"
        );
        assert!(secrets.holds("DB_PASS") && !secrets.holds("OTHER"));
        assert_eq!(secrets.read("OTHER").unwrap(), None);
        // Never outside the directory.
        assert_eq!(secrets.read("../DB_PASS").unwrap(), None);
        assert_eq!(secrets.register_all(), 1);
        assert_eq!(redact::scrub_text("dir-S3NT1NEL-pw", None), "***");
        assert_eq!(
            SecretsDir::open(&d.join("DB_PASS")).unwrap_err().reason,
            "not a directory"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
