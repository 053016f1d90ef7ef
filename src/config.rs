//! The service configuration: a TOML file laid over defaults, then `GRIDPATROL_…`
//! environment variables over the file, then command-line flags over both. Unknown keys
//! are refused by name, so a typo never passes silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::app::Settings;

/// Everything `gridpatrol serve` needs beyond the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub bind: SocketAddr,
    /// The database file (the global `--db` wins when given).
    pub db: Option<PathBuf>,
    /// Where photos are kept, content-addressed (default: beside the database).
    pub data_dir: Option<PathBuf>,
    pub limits: Limits,
    pub auth: Auth,
    pub jobs: JobSchedules,
}

/// What one request may cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON body, bytes.
    pub body_bytes: usize,
    /// Largest photo upload (one multipart request), bytes.
    pub photo_bytes: usize,
    /// A request taking longer than this is answered 408 and abandoned.
    pub request_timeout_secs: u64,
    /// Requests doing store work at once; the rest wait their turn. Each keeps a warm
    /// connection in the pool, where hundreds at once would open cold ones and contend for
    /// the cores. Writes queued at once share a commit, so more turns make larger groups:
    /// eight per core measured a little faster than four under 200 submitting clients
    /// (docs/PERFORMANCE.md). Default: eight per core.
    pub db_workers: usize,
    /// Memory for officers' due lists kept between requests (MiB); 0 keeps none.
    pub due_cache_mb: usize,
}

/// Sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// A login token is valid this many hours.
    pub token_hours: u32,
}

/// The cron expression of each scheduled job (`[jobs]`; the scheduler in `jobs` parses
/// them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSchedules {
    pub nightly_reclassify: String,
    pub nightly_replan: String,
    pub overdue_escalation: String,
    pub dekad_snapshot: String,
    pub monthly_snapshot: String,
}

/// The default schedule of the nightly re-classification: 02:00 every day.
pub const DEFAULT_NIGHTLY_CRON: &str = "0 0 2 * * *";

impl Default for JobSchedules {
    fn default() -> Self {
        JobSchedules {
            nightly_reclassify: DEFAULT_NIGHTLY_CRON.to_owned(),
            // After the re-classification, so the plan follows tonight's classes.
            nightly_replan: "0 30 2 * * *".to_owned(),
            // Before the working day starts.
            overdue_escalation: "0 0 7 * * *".to_owned(),
            // Just after each 旬 ends: on the 1st, 11th and 21st.
            dekad_snapshot: "0 0 1 1,11,21 * *".to_owned(),
            monthly_snapshot: "0 15 1 1 * *".to_owned(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: None,
            data_dir: None,
            limits: Limits::default(),
            auth: Auth::default(),
            jobs: JobSchedules::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1 << 20,
            photo_bytes: 10 << 20,
            request_timeout_secs: 30,
            db_workers: 8 * std::thread::available_parallelism().map_or(2, usize::from),
            due_cache_mb: Settings::default().due_cache_mb,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            token_hours: Settings::default().token_hours,
        }
    }
}

/// The environment variable that overrides a key: `GRIDPATROL_` and the key's path in
/// capitals, sections joined by a double underscore (`jobs.nightly_replan` is
/// `GRIDPATROL_JOBS__NIGHTLY_REPLAN`).
pub fn env_name(path: &str) -> String {
    format!("GRIDPATROL_{}", path.replace('.', "__").to_uppercase())
}

impl Config {
    /// The defaults, the file (if any) over them, and the environment (`vars`) over both.
    pub fn load(
        file: Option<&Path>,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let mut table = toml::Table::try_from(Config::default())
            .map_err(|e| format!("default configuration: {e}"))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading configuration {}: {e}", path.display()))?;
            let user: toml::Table = text
                .parse()
                .map_err(|e| format!("configuration {}: {e}", path.display()))?;
            lay_over(&mut table, user, "")
                .map_err(|e| format!("configuration {}: {e}", path.display()))?;
        }
        let vars: Vec<(String, String)> =
            vars.filter(|(k, _)| k.starts_with("GRIDPATROL_")).collect();
        for (name, value) in &vars {
            if let Some(path) = known_env(&table, "", name) {
                set_path(&mut table, &path, value)?;
            }
        }
        table
            .try_into::<Config>()
            .map_err(|e| format!("configuration: {e}"))
    }
}

impl Config {
    /// What the configuration decides for the app.
    pub fn app_settings(&self) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            token_hours: self.auth.token_hours,
            due_cache_mb: self.limits.due_cache_mb,
        }
    }
}

/// Lays `user` over `base`, refusing keys the base does not have.
fn lay_over(base: &mut toml::Table, user: toml::Table, prefix: &str) -> Result<(), String> {
    for (key, value) in user {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => lay_over(b, u, &path)?,
            (Some(toml::Value::Table(_)), _) => return Err(format!("`{path}` must be a table")),
            (Some(slot), v) => *slot = v,
            // Optional keys are absent from the defaults' table.
            (None, v) if OPTIONAL_KEYS.contains(&path.as_str()) => {
                base.insert(key, v);
            }
            (None, _) => return Err(format!("unknown key `{path}`")),
        }
    }
    Ok(())
}

/// Keys with no default (absent from the serialized defaults).
const OPTIONAL_KEYS: &[&str] = &["db", "data_dir"];

/// The key path an environment variable names, if it names one.
fn known_env(table: &toml::Table, prefix: &str, name: &str) -> Option<String> {
    let mut keys: Vec<String> = table.keys().cloned().collect();
    if prefix.is_empty() {
        keys.extend(OPTIONAL_KEYS.iter().map(|k| (*k).to_owned()));
    }
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match table.get(&key) {
            Some(toml::Value::Table(inner)) => {
                if let Some(found) = known_env(inner, &path, name) {
                    return Some(found);
                }
            }
            _ if env_name(&path) == name => return Some(path),
            _ => {}
        }
    }
    None
}

/// Sets a key from an environment string: as the type the key already has.
fn set_path(table: &mut toml::Table, path: &str, text: &str) -> Result<(), String> {
    let (section, key) = match path.rsplit_once('.') {
        Some((s, k)) => (Some(s), k),
        None => (None, path),
    };
    let mut slot = table;
    if let Some(section) = section {
        for part in section.split('.') {
            slot = match slot.get_mut(part) {
                Some(toml::Value::Table(t)) => t,
                _ => return Err(format!("{}: no section `{section}`", env_name(path))),
            };
        }
    }
    let value = match slot.get(key) {
        Some(toml::Value::Integer(_)) => text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{}: '{text}' is not a whole number", env_name(path)))?,
        Some(toml::Value::Float(_)) => text
            .trim()
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| format!("{}: '{text}' is not a number", env_name(path)))?,
        Some(toml::Value::Boolean(_)) => text
            .trim()
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| format!("{}: '{text}' is not true or false", env_name(path)))?,
        _ => toml::Value::String(text.to_owned()),
    };
    slot.insert(key.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn file_over_defaults_and_environment_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gridpatrol.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\ndb = \"/srv/g.db\"\n[limits]\nbody_bytes = 2048\n[jobs]\nnightly_replan = \"0 0 3 * * *\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            vars(&[
                ("GRIDPATROL_LIMITS__BODY_BYTES", "4096"),
                ("GRIDPATROL_JOBS__OVERDUE_ESCALATION", "0 0 8 * * *"),
                ("GRIDPATROL_DATA_DIR", "/srv/photos"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.db, Some(PathBuf::from("/srv/g.db")));
        assert_eq!(c.data_dir, Some(PathBuf::from("/srv/photos")));
        assert_eq!(c.limits.body_bytes, 4096);
        assert_eq!(c.limits.photo_bytes, Limits::default().photo_bytes);
        assert_eq!(c.jobs.nightly_replan, "0 0 3 * * *");
        assert_eq!(c.jobs.overdue_escalation, "0 0 8 * * *");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[limits]\nbody_byte = 1\n").unwrap();
        let err = Config::load(Some(&path), vars(&[])).unwrap_err();
        assert!(err.contains("unknown key `limits.body_byte`"), "{err}");
        let err =
            Config::load(None, vars(&[("GRIDPATROL_LIMITS__BODY_BYTES", "lots")])).unwrap_err();
        assert!(err.contains("GRIDPATROL_LIMITS__BODY_BYTES"), "{err}");
        let err = Config::load(None, vars(&[("GRIDPATROL_BIND", "nowhere")])).unwrap_err();
        assert!(err.contains("bind") || err.contains("address"), "{err}");
    }
}
