//! The platform's signing keys in the store: loading them into the [`Keyring`] (the
//! first start creates one), reloading so a rotation reaches running servers, and
//! rotating. The private halves are sealed with the master key at rest; a key stored
//! in the clear by an earlier version is sealed at the next start.

use behest_auth::envelope::{Envelope, EnvelopeError};
use behest_auth::keyring::{generate_platform_key, Keyring, KeyringError};
use behest_core::keys::PlatformKey;
use behest_store::{Store, StoreError};

/// The associated data of a sealed platform key.
const CONTEXT: &str = "platform_signing_key";

#[derive(Debug, thiserror::Error)]
pub enum PlatformKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyringError),
    #[error("platform signing key {kid}: {source}")]
    Sealed { kid: String, source: EnvelopeError },
}

/// The keyring, generating the first key if the store has none active.
pub async fn load_or_init(
    store: &dyn Store,
    envelope: &Envelope,
) -> Result<Keyring, PlatformKeyError> {
    seal_plain_keys(store, envelope).await?;
    let keyring = Keyring::default();
    reload(store, &keyring, envelope).await?;
    if keyring.signing_kid().is_none() {
        let key = sealed(generate_platform_key().await?, envelope);
        // Several replicas may start together: only one key becomes active.
        store.add_platform_key(&key, true).await?;
        reload(store, &keyring, envelope).await?;
    }
    Ok(keyring)
}

/// Re-reads the keys from the store.
pub async fn reload(
    store: &dyn Store,
    keyring: &Keyring,
    envelope: &Envelope,
) -> Result<(), PlatformKeyError> {
    let keys = store
        .platform_keys()
        .await?
        .into_iter()
        .map(|key| opened(key, envelope))
        .collect::<Result<Vec<_>, _>>()?;
    keyring.replace(&keys)?;
    Ok(())
}

/// Adds a new signing key; the previous one is retired but stays published until every
/// token it could have signed has expired. Running servers pick it up on their next
/// reload. Returns the new kid.
pub async fn rotate(store: &dyn Store, envelope: &Envelope) -> Result<String, PlatformKeyError> {
    let key = sealed(generate_platform_key().await?, envelope);
    store.add_platform_key(&key, false).await?;
    Ok(key.kid)
}

/// Re-seals, under the current master key, keys stored in the clear or under a previous
/// master key; returns how many.
pub async fn seal_plain_keys(
    store: &dyn Store,
    envelope: &Envelope,
) -> Result<usize, PlatformKeyError> {
    let mut resealed = 0;
    for key in store.platform_keys().await? {
        if !is_plain(&key.private_key_pem) && !envelope.is_stale(&key.private_key_pem) {
            continue;
        }
        let expected = key.private_key_pem.clone();
        let plain = opened(key.clone(), envelope)?;
        let sealed = envelope.seal(plain.private_key_pem.as_bytes(), CONTEXT);
        if store
            .reseal_platform_key(&key.kid, &expected, &sealed)
            .await?
        {
            resealed += 1;
        }
    }
    Ok(resealed)
}

fn is_plain(value: &str) -> bool {
    value.trim_start().starts_with("-----BEGIN")
}

fn sealed(mut key: PlatformKey, envelope: &Envelope) -> PlatformKey {
    key.private_key_pem = envelope.seal(key.private_key_pem.as_bytes(), CONTEXT);
    key
}

fn opened(mut key: PlatformKey, envelope: &Envelope) -> Result<PlatformKey, PlatformKeyError> {
    if !is_plain(&key.private_key_pem) {
        key.private_key_pem =
            envelope
                .open_text(&key.private_key_pem, CONTEXT)
                .map_err(|source| PlatformKeyError::Sealed {
                    kid: key.kid.clone(),
                    source,
                })?;
    }
    Ok(key)
}
