//! The threads API on the project host (JWT): an end user's conversation threads, as
//! the `behest-ai` SDK's `threads` module reads them. Threads belong to (project, uid):
//! another user's thread id answers 404, exactly like one that does not exist.

use crate::pipeline::gate;
use crate::{Caller, GatewayState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use behest_core::memory::{StoredMessage, ThreadKey, ThreadRow};
use behest_http::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
const MAX_THREAD_ID_CHARS: usize = 255;

#[derive(Debug, Serialize)]
pub struct ThreadView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
}

impl From<ThreadRow> for ThreadView {
    fn from(row: ThreadRow) -> ThreadView {
        ThreadView {
            id: row.id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            message_count: row.message_count,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: Uuid,
    pub role: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<StoredMessage> for MessageView {
    fn from(m: StoredMessage) -> MessageView {
        MessageView {
            id: m.id,
            role: m.role,
            content: m.content,
            tool_calls: m.tool_calls.and_then(|t| serde_json::from_str(&t).ok()),
            tool_call_id: m.tool_call_id,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<String>,
    before: Option<String>,
}

fn limit(page: &Page) -> ApiResult<u32> {
    match page.limit.as_deref() {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    "limit",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

fn thread_key(caller: &Caller, id: String) -> ApiResult<ThreadKey> {
    if id.is_empty() || id.chars().count() > MAX_THREAD_ID_CHARS || id.chars().any(char::is_control)
    {
        return Err(ApiError::not_found("thread not found"));
    }
    Ok(ThreadKey {
        project_id: caller.0.project.id,
        uid: caller.0.uid.clone(),
        thread_id: id,
    })
}

fn backend(err: crate::memory::BackendError) -> ApiError {
    ApiError::internal(err)
}

pub async fn list(
    State(gateway): State<GatewayState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> ApiResult<Json<Vec<ThreadView>>> {
    gate(&gateway, &caller.0)?;
    let limit = limit(&page)?;
    let rows = gateway
        .memory()
        .threads(caller.0.project.id, &caller.0.uid, limit)
        .await
        .map_err(backend)?;
    Ok(Json(rows.into_iter().map(ThreadView::from).collect()))
}

pub async fn show(
    State(gateway): State<GatewayState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ThreadView>> {
    gate(&gateway, &caller.0)?;
    let key = thread_key(&caller, id)?;
    let row = gateway.memory().thread(&key).await.map_err(backend)?;
    row.map(|r| Json(r.into()))
        .ok_or_else(|| ApiError::not_found("thread not found"))
}

pub async fn delete(
    State(gateway): State<GatewayState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    gate(&gateway, &caller.0)?;
    let key = thread_key(&caller, id)?;
    if gateway.memory().delete(&key).await.map_err(backend)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("thread not found"))
    }
}

/// Oldest first; `before` (a message id) pages back through older messages.
pub async fn messages(
    State(gateway): State<GatewayState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Vec<MessageView>>> {
    gate(&gateway, &caller.0)?;
    let limit = limit(&page)?;
    let before = match page.before.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<Uuid>()
                .map_err(|_| ApiError::validation("before", "before must be a message id"))?,
        ),
    };
    let key = thread_key(&caller, id)?;
    let memory = gateway.memory();
    if memory.thread(&key).await.map_err(backend)?.is_none() {
        return Err(ApiError::not_found("thread not found"));
    }
    let messages = memory
        .messages(&key, limit, before)
        .await
        .map_err(backend)?;
    Ok(Json(messages.into_iter().map(MessageView::from).collect()))
}
