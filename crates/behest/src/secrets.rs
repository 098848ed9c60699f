//! Secrets on this machine: the data directory (0700) and the files in it that hold
//! secrets (the SQLite database, the master key file: 0600, whatever the umask), the
//! master key itself (`BEHEST_MASTER_KEY`, or `<data-dir>/master.key` created on first
//! start), and `behest keys rotate-master`, which re-seals every sealed value under a
//! new master key.
//!
//! The key file holds one base64 key per line: the current key first, then previous
//! keys still needed to open values not yet re-sealed.

use anyhow::{bail, Context};
use behest_auth::envelope::{Envelope, MasterKey};
use behest_store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

const KEY_FILE: &str = "master.key";

/// Creates the data directory if needed and makes it private to this user.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// Creates the SQLite database file (0600) before SQLite does, so that it and the
/// `-wal`/`-shm` files SQLite derives from it are private whatever the umask; tightens
/// an existing one.
pub fn prepare_sqlite_file(database_url: &str) -> anyhow::Result<()> {
    let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = Path::new(path.split('?').next().unwrap_or(path));
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    private_file(path, None)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            private_file(&side, None)?;
        }
    }
    Ok(())
}

/// Opens (creating if needed, 0600) `path`, writing `contents` when given.
fn private_file(path: &Path, contents: Option<&str>) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(contents.is_none());
    if contents.is_some() {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    if let Some(contents) = contents {
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
    }
    Ok(())
}

/// The envelope: the operator's keys when given, else the data dir's key file (created
/// on the server's first start; a command run beside the server never creates one, or
/// it would seal with a key the server does not have).
pub fn envelope(
    data_dir: &Path,
    configured: Option<&(MasterKey, Vec<MasterKey>)>,
) -> anyhow::Result<Envelope> {
    envelope_or_create(data_dir, configured, true)
}

/// For commands run beside a server: the key must exist already.
pub fn existing_envelope(
    data_dir: &Path,
    configured: Option<&(MasterKey, Vec<MasterKey>)>,
) -> anyhow::Result<Envelope> {
    envelope_or_create(data_dir, configured, false)
}

fn envelope_or_create(
    data_dir: &Path,
    configured: Option<&(MasterKey, Vec<MasterKey>)>,
    create: bool,
) -> anyhow::Result<Envelope> {
    if let Some((current, previous)) = configured {
        return Ok(Envelope::new(current.clone(), previous.clone()));
    }
    let path = data_dir.join(KEY_FILE);
    match read_key_file(&path)? {
        Some(keys) => Ok(keys),
        None if !create => bail!(
            "no master key: {} does not exist; pass the server's --data-dir or set BEHEST_MASTER_KEY",
            path.display()
        ),
        None => {
            let key = MasterKey::generate();
            write_key_file(&path, &key, &[])?;
            tracing::info!(path = %path.display(), key_id = key.id(), "created the master key");
            Ok(Envelope::new(key, Vec::new()))
        }
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Option<Envelope>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let mut keys = text.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        MasterKey::parse(line).with_context(|| format!("{} holds a malformed key", path.display()))
    });
    let Some(current) = keys.next().transpose()? else {
        bail!("{} is empty; restore it from a backup", path.display());
    };
    let previous = keys.collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(Envelope::new(current, previous)))
}

/// Writes the key file atomically (a private temporary file, then a rename).
fn write_key_file(path: &Path, current: &MasterKey, previous: &[MasterKey]) -> anyhow::Result<()> {
    let mut text = String::new();
    for key in std::iter::once(current).chain(previous) {
        text.push_str(key.to_text());
        text.push('\n');
    }
    let temporary = path.with_extension("key.new");
    let _ = std::fs::remove_file(&temporary);
    private_file(&temporary, Some(&text))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Re-seals every value sealed under a key other than the current one (or, for the
/// platform's signing keys, stored in the clear); returns how many.
pub async fn reseal_all(store: &dyn Store, envelope: &Envelope) -> anyhow::Result<usize> {
    let mut resealed = behest_control::platform_keys::seal_plain_keys(store, envelope)
        .await
        .context("re-sealing the platform signing keys")?;
    for key in store.all_provider_keys().await? {
        if !envelope.is_stale(&key.sealed_key) {
            continue;
        }
        let provider = key
            .provider_type
            .parse()
            .with_context(|| format!("unknown provider {:?} in the store", key.provider_type))?;
        let context = behest_control::service::providers::seal_context(key.tenant_id, provider);
        let secret = envelope.open(&key.sealed_key, &context).with_context(|| {
            format!(
                "a {} key of tenant {} does not open",
                key.provider_type, key.tenant_id
            )
        })?;
        let sealed = envelope.seal(&secret, &context);
        if store
            .reseal_provider_key(key.tenant_id, &key.provider_type, &key.sealed_key, &sealed)
            .await?
        {
            resealed += 1;
        }
    }
    Ok(resealed)
}

/// `behest keys rotate-master`: with the key file, a new key becomes current (the old
/// one is kept until every value is re-sealed, then dropped); with `BEHEST_MASTER_KEY`,
/// the operator has already made the new key current and listed the old one in
/// `BEHEST_PREVIOUS_MASTER_KEYS`, and this re-seals under it.
pub async fn rotate_master(
    store: &dyn Store,
    data_dir: &Path,
    configured: Option<&(MasterKey, Vec<MasterKey>)>,
) -> anyhow::Result<(String, usize)> {
    if let Some((current, previous)) = configured {
        let envelope = Envelope::new(current.clone(), previous.clone());
        let resealed = reseal_all(store, &envelope).await?;
        return Ok((current.id().to_owned(), resealed));
    }
    let path = data_dir.join(KEY_FILE);
    let Some(old) = read_key_file(&path)? else {
        bail!(
            "{} does not exist: there is nothing to rotate",
            path.display()
        );
    };
    let new = MasterKey::generate();
    let mut kept: Vec<MasterKey> = vec![old.current().clone()];
    kept.extend(old.previous().iter().cloned());
    // First the new key with every old one, so a crash in between loses nothing.
    write_key_file(&path, &new, &kept)?;
    let envelope = Envelope::new(new.clone(), kept);
    let resealed = reseal_all(store, &envelope).await?;
    write_key_file(&path, &new, &[])?;
    Ok((new.id().to_owned(), resealed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_dir_and_its_secret_files_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        prepare_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("behest.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_sqlite_file(&format!("sqlite://{}", db.display())).unwrap();
        assert_eq!(mode(&db), 0o600);
        let env = envelope(&dir, None).unwrap();
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        // The same key comes back on the next start.
        assert_eq!(
            envelope(&dir, None).unwrap().current().id(),
            env.current().id()
        );
    }

    #[tokio::test]
    async fn rotating_the_master_key_reseals_every_key_and_drops_the_old_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        prepare_data_dir(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("behest.db").display());
        let store = behest_store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        let (_, tenant) = store
            .create_account(behest_store::NewAccount {
                email: "rotate@example.com".to_owned(),
                password_hash: "hash".to_owned(),
                tenant_name: "Rotate".to_owned(),
            })
            .await
            .unwrap();
        let old = envelope(&dir, None).unwrap();
        let keyring = behest_control::platform_keys::load_or_init(store.as_ref(), &old)
            .await
            .unwrap();
        let kid = keyring.signing_kid().unwrap();
        let stored_pem = |store: Arc<dyn Store>| async move {
            store
                .platform_keys()
                .await
                .unwrap()
                .remove(0)
                .private_key_pem
        };
        assert!(
            stored_pem(store.clone()).await.starts_with("v1."),
            "stored in the clear"
        );
        let context = behest_control::service::providers::seal_context(
            tenant.id,
            behest_providers::Provider::OpenAi,
        );
        let sealed = old.seal(b"sk-proj-secret", &context);
        store
            .put_provider_key(&behest_store::ProviderKey {
                tenant_id: tenant.id,
                provider_type: "openai".to_owned(),
                sealed_key: sealed.clone(),
                key_last4: "cret".to_owned(),
                base_url: None,
                key_set_at: chrono::Utc::now(),
            })
            .await
            .unwrap();

        let (new_id, resealed) = rotate_master(store.as_ref(), &dir, None).await.unwrap();
        assert_eq!(resealed, 2, "the provider key and the platform signing key");
        assert_ne!(new_id, old.current().id());
        // The key file now holds the new key alone, and it opens the re-sealed value.
        let new = envelope(&dir, None).unwrap();
        assert_eq!(new.current().id(), new_id);
        assert!(new.previous().is_empty());
        let stored = store.provider_keys(tenant.id).await.unwrap().remove(0);
        assert_ne!(stored.sealed_key, sealed);
        assert_eq!(
            new.open(&stored.sealed_key, &context).unwrap(),
            b"sk-proj-secret"
        );
        assert!(
            new.open(&sealed, &context).is_err(),
            "the old key still opens"
        );
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        // The signing key opens under the new master key: same kid, same key.
        let reloaded = behest_control::platform_keys::load_or_init(store.as_ref(), &new)
            .await
            .unwrap();
        assert_eq!(reloaded.signing_kid(), Some(kid));
        assert!(!new.is_stale(&stored_pem(store.clone()).await));
        // Nothing is stale any more: a second rotation re-seals the one value again.
        let (_, again) = rotate_master(store.as_ref(), &dir, None).await.unwrap();
        assert_eq!(again, 2);
    }
}
