//! The embedded live state: a map and a broadcast channel in this process.

use crate::{LiveError, LiveState};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

pub struct InProcess {
    image: Mutex<HashMap<String, String>>,
    changes: broadcast::Sender<()>,
}

impl Default for InProcess {
    fn default() -> Self {
        InProcess {
            image: Mutex::new(HashMap::new()),
            changes: broadcast::channel(64).0,
        }
    }
}

#[async_trait]
impl LiveState for InProcess {
    async fn write(
        &self,
        entries: Vec<(String, String)>,
        removed: Vec<String>,
    ) -> Result<(), LiveError> {
        let mut image = self.image.lock().unwrap_or_else(|p| p.into_inner());
        for key in removed {
            image.remove(&key);
        }
        image.extend(entries);
        Ok(())
    }

    async fn read_all(&self) -> Result<HashMap<String, String>, LiveError> {
        Ok(self.image.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn notify(&self) -> Result<(), LiveError> {
        // No receiver yet is fine: nobody to tell.
        let _ = self.changes.send(());
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }

    fn name(&self) -> &'static str {
        "in-process"
    }
}
