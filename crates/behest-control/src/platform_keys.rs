//! The platform's signing keys in the store: loading them into the [`Keyring`] (the
//! first start creates one), reloading so a rotation reaches running servers, and
//! rotating.

use behest_auth::keyring::{generate_platform_key, Keyring, KeyringError};
use behest_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PlatformKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyringError),
}

/// The keyring, generating the first key if the store has none active.
pub async fn load_or_init(store: &dyn Store) -> Result<Keyring, PlatformKeyError> {
    let keyring = Keyring::default();
    reload(store, &keyring).await?;
    if keyring.signing_kid().is_none() {
        let key = generate_platform_key().await?;
        // Several replicas may start together: only one key becomes active.
        store.add_platform_key(&key, true).await?;
        reload(store, &keyring).await?;
    }
    Ok(keyring)
}

/// Re-reads the keys from the store.
pub async fn reload(store: &dyn Store, keyring: &Keyring) -> Result<(), PlatformKeyError> {
    keyring.replace(&store.platform_keys().await?)?;
    Ok(())
}

/// Adds a new signing key; the previous one is retired but stays published until every
/// token it could have signed has expired. Running servers pick it up on their next
/// reload. Returns the new kid.
pub async fn rotate(store: &dyn Store) -> Result<String, PlatformKeyError> {
    let key = generate_platform_key().await?;
    store.add_platform_key(&key, false).await?;
    Ok(key.kid)
}
