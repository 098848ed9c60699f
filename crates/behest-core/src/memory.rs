//! Conversation memory: threads of one end user of one project, and their messages.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A conversation thread: one end user's, in one project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadKey {
    pub project_id: Uuid,
    pub uid: String,
    pub thread_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThreadRow {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
}

/// A message to remember.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: String,
    /// The text (or, for multi-part content, its JSON).
    pub content: String,
    /// The assistant's tool calls, as JSON.
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: Uuid,
    pub seq: i64,
    pub role: String,
    pub content: String,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    pub created_at: DateTime<Utc>,
}
