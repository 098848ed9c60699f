//! The answer stage: what the provider answers, streamed or whole, through the answer's
//! guard and back to the client. In enforce mode the sentinel's blocklist and credential
//! rules end the answer (`content_blocked`, naming the rule) before any of the matched
//! text gets out, and PII is masked or redacted (BLOCK ends it with `pii_blocked`); in
//! shadow mode the answer is scanned once it is complete and only the findings are kept.
//! When the project restores PII, the request's placeholders are replaced by their
//! values last, after the outcome has noted the answer, so memory and usage only ever
//! see placeholders.
//!
//! Each text of an answer — a choice's content, each of its tool calls' arguments — is
//! scanned on its own as it arrives ([`HeldText`]); a choice's `finish_reason` lets out
//! what its texts held, and the upstream's end what any text still holds.

use crate::guard::{ActivePolicy, GuardFindings};
use behest_core::settings::GuardMode;
use behest_core::ErrorCode;
use behest_guard::answer::{AnswerFindings, HeldText, Placeholders, Quoting, Refusal, Restorer};
use behest_http::ApiError;
use behest_providers::{
    ChatChunk, ChatResponse, ChunkChoice, FunctionCallDelta, SmolStr, ToolCallDelta,
};
use std::sync::Arc;

/// One text of an answer: a choice's content, or one of its tool calls' arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TextKey {
    choice: u32,
    tool: Option<u32>,
}

#[derive(Debug)]
struct Channel {
    key: TextKey,
    held: HeldText,
    restorer: Restorer,
    /// The whole text, for the shadow scan at the end (only with a guard in shadow).
    shadow: String,
}

/// The answer's guard for one request.
#[derive(Debug)]
pub struct AnswerGuard {
    policy: Arc<ActivePolicy>,
    placeholders: Placeholders,
    enforce: bool,
    shadow: bool,
    channels: Vec<Channel>,
    found: AnswerFindings,
    blocked: bool,
    /// A streamed answer's id, created and model, for a chunk of what was held.
    envelope: Option<(SmolStr, u64, SmolStr)>,
}

impl AnswerGuard {
    /// The guard a request's answer needs, if any: `None` when no guard reads answers
    /// and no placeholder needs restoring, so such answers pay nothing.
    pub fn new(policy: Arc<ActivePolicy>, placeholders: Placeholders) -> Option<AnswerGuard> {
        let enforce = !policy.answer_rules(GuardMode::Enforce).is_empty();
        let shadow = !policy.answer_rules(GuardMode::Shadow).is_empty();
        if !enforce && !shadow && placeholders.is_empty() {
            return None;
        }
        Some(AnswerGuard {
            policy,
            placeholders,
            enforce,
            shadow,
            channels: Vec::new(),
            found: AnswerFindings::default(),
            blocked: false,
            envelope: None,
        })
    }

    fn channel(channels: &mut Vec<Channel>, key: TextKey) -> &mut Channel {
        let at = match channels.iter().position(|c| c.key == key) {
            Some(at) => at,
            None => {
                channels.push(Channel {
                    key,
                    held: HeldText::default(),
                    restorer: Restorer::default(),
                    shadow: String::new(),
                });
                channels.len() - 1
            }
        };
        &mut channels[at]
    }

    /// One piece of a text through the guard: what can go out now.
    fn pass(&mut self, key: TextKey, piece: &mut String) -> Result<(), ApiError> {
        let channel = Self::channel(&mut self.channels, key);
        if self.shadow {
            channel.shadow.push_str(piece);
        }
        if self.enforce {
            let rules = self.policy.answer_rules(GuardMode::Enforce);
            match channel.held.push(&rules, piece, &mut self.found) {
                Ok(out) => *piece = out,
                Err(refusal) => return Err(self.refuse(refusal)),
            }
        }
        Ok(())
    }

    /// What a text still holds, let out.
    fn flush(&mut self, at: usize) -> Result<String, ApiError> {
        if !self.enforce {
            return Ok(String::new());
        }
        let rules = self.policy.answer_rules(GuardMode::Enforce);
        match self.channels[at].held.finish(&rules, &mut self.found) {
            Ok(out) => Ok(out),
            Err(refusal) => Err(self.refuse(refusal)),
        }
    }

    fn refuse(&mut self, refusal: Refusal) -> ApiError {
        self.blocked = true;
        match refusal {
            Refusal::Rule(rule) => ApiError::new(
                ErrorCode::ContentBlocked,
                format!("the answer was blocked by the content guard (rule {rule})"),
            ),
            Refusal::Pii(entities) => {
                let names: Vec<&str> = entities.iter().map(|e| e.as_str()).collect();
                ApiError::new(
                    ErrorCode::PiiBlocked,
                    format!(
                        "the answer contains personal data this project refuses: {}",
                        names.join(", ")
                    ),
                )
            }
        }
    }

    /// Guards one streamed chunk in place, before the outcome notes it.
    pub fn guard_chunk(&mut self, chunk: &mut ChatChunk) -> Result<(), ApiError> {
        if self.envelope.is_none() {
            self.envelope = Some((chunk.id.clone(), chunk.created, chunk.model.clone()));
        }
        for choice in &mut chunk.choices {
            let index = choice.index;
            if let Some(text) = choice.delta.content.as_mut() {
                self.pass(
                    TextKey {
                        choice: index,
                        tool: None,
                    },
                    text,
                )?;
            }
            for call in choice.delta.tool_calls.iter_mut().flatten() {
                let key = TextKey {
                    choice: index,
                    tool: Some(call.index),
                };
                if let Some(args) = call.function.as_mut().and_then(|f| f.arguments.as_mut()) {
                    self.pass(key, args)?;
                }
            }
            if choice.finish_reason.is_some() {
                for at in self.channels_of(index) {
                    let rest = self.flush(at)?;
                    append(choice, self.channels[at].key, &rest);
                }
            }
        }
        Ok(())
    }

    fn channels_of(&self, choice: u32) -> Vec<usize> {
        (0..self.channels.len())
            .filter(|at| self.channels[*at].key.choice == choice)
            .collect()
    }

    /// The upstream ended: a chunk with whatever texts still hold (those whose choice
    /// never finished), or `None`.
    pub fn end(&mut self) -> Result<Option<ChatChunk>, ApiError> {
        let mut chunk = ChatChunk {
            object: SmolStr::new_static(ChatChunk::OBJECT),
            ..ChatChunk::default()
        };
        if let Some((id, created, model)) = &self.envelope {
            chunk.id = id.clone();
            chunk.created = *created;
            chunk.model = model.clone();
        }
        for at in 0..self.channels.len() {
            let rest = self.flush(at)?;
            if rest.is_empty() {
                continue;
            }
            let key = self.channels[at].key;
            append(choice_of(&mut chunk, key.choice), key, &rest);
        }
        Ok((!chunk.choices.is_empty()).then_some(chunk))
    }

    /// Puts the request's values back in one chunk, after the outcome noted it; `last`
    /// for the stream's last chunk, which gets whatever the restorers still hold.
    pub fn restore_chunk(&mut self, chunk: &mut ChatChunk, last: bool) {
        if self.placeholders.is_empty() {
            return;
        }
        let values = &self.placeholders;
        for choice in &mut chunk.choices {
            let index = choice.index;
            if let Some(text) = choice.delta.content.as_mut() {
                let key = TextKey {
                    choice: index,
                    tool: None,
                };
                let channel = Self::channel(&mut self.channels, key);
                *text = channel.restorer.push(values, text, Quoting::Text);
            }
            for call in choice.delta.tool_calls.iter_mut().flatten() {
                let key = TextKey {
                    choice: index,
                    tool: Some(call.index),
                };
                if let Some(args) = call.function.as_mut().and_then(|f| f.arguments.as_mut()) {
                    let channel = Self::channel(&mut self.channels, key);
                    *args = channel.restorer.push(values, args, Quoting::JsonString);
                }
            }
            if choice.finish_reason.is_some() {
                for channel in self.channels.iter_mut().filter(|c| c.key.choice == index) {
                    let rest = channel.restorer.finish(values, channel.key.quoting());
                    append(choice, channel.key, &rest);
                }
            }
        }
        if last {
            // The stream's last chunk (perhaps only usage) takes what is left anywhere.
            for channel in &mut self.channels {
                let rest = channel.restorer.finish(values, channel.key.quoting());
                if !rest.is_empty() {
                    append(choice_of(chunk, channel.key.choice), channel.key, &rest);
                }
            }
        }
    }

    /// Guards a whole answer in place, before the outcome notes it; answers whether
    /// anything changed (if not, the provider's bytes can go out as they came).
    pub fn guard_response(&mut self, completion: &mut ChatResponse) -> Result<bool, ApiError> {
        let mut changed = false;
        for choice in &mut completion.choices {
            let index = choice.index;
            if let Some(text) = choice.message.content.as_mut() {
                let key = TextKey {
                    choice: index,
                    tool: None,
                };
                changed |= self.whole(key, text)?;
            }
            for (i, call) in choice.message.tool_calls.iter_mut().flatten().enumerate() {
                let key = TextKey {
                    choice: index,
                    tool: Some(u32::try_from(i).unwrap_or(u32::MAX)),
                };
                changed |= self.whole(key, &mut call.function.arguments)?;
            }
        }
        Ok(changed)
    }

    /// One whole text through the guard (one scan, no hold); whether it changed.
    fn whole(&mut self, key: TextKey, text: &mut String) -> Result<bool, ApiError> {
        let channel = Self::channel(&mut self.channels, key);
        if self.shadow {
            channel.shadow.push_str(text);
        }
        if !self.enforce {
            return Ok(false);
        }
        let rules = self.policy.answer_rules(GuardMode::Enforce);
        match channel.held.whole(&rules, text, &mut self.found) {
            Ok(out) => {
                let changed = out != *text;
                *text = out;
                Ok(changed)
            }
            Err(refusal) => Err(self.refuse(refusal)),
        }
    }

    /// Puts the request's values back in a whole answer, after the outcome noted it.
    pub fn restore_response(&mut self, completion: &mut ChatResponse) {
        if self.placeholders.is_empty() {
            return;
        }
        let values = &self.placeholders;
        let whole = |text: &mut String, quoting| {
            let mut restorer = Restorer::default();
            let mut out = restorer.push(values, text, quoting);
            out.push_str(&restorer.finish(values, quoting));
            *text = out;
        };
        for choice in &mut completion.choices {
            if let Some(text) = choice.message.content.as_mut() {
                whole(text, Quoting::Text);
            }
            for call in choice.message.tool_calls.iter_mut().flatten() {
                whole(&mut call.function.arguments, Quoting::JsonString);
            }
        }
    }

    /// Whether the answer gets placeholders put back.
    pub fn restores(&self) -> bool {
        !self.placeholders.is_empty()
    }

    /// What the answer's guard found, for the outcome: the enforcing guard's findings
    /// as it went, and the shadow guard's over the whole answer.
    pub fn findings(&self) -> GuardFindings {
        let mut found = self.found.clone();
        if self.shadow {
            let rules = self.policy.answer_rules(GuardMode::Shadow);
            for channel in &self.channels {
                rules.observe(&channel.shadow, &mut found);
            }
        }
        let mode = |m: GuardMode| (m != GuardMode::Disabled).then_some(m);
        let rewritten = self.enforce
            && self.policy.pii.mode == GuardMode::Enforce
            && !self.found.pii.is_empty();
        GuardFindings {
            sentinel: found.rules,
            pii: found.pii,
            sentinel_mode: mode(self.policy.sentinel.mode),
            pii_mode: mode(self.policy.pii.mode),
            action: if self.blocked {
                Some("blocked")
            } else if rewritten {
                Some("rewritten")
            } else {
                None
            },
            answer: None,
        }
    }
}

impl TextKey {
    /// Tool call arguments are JSON: a value restored into them is escaped.
    fn quoting(self) -> Quoting {
        if self.tool.is_some() {
            Quoting::JsonString
        } else {
            Quoting::Text
        }
    }
}

/// The chunk's choice `index`, added if the chunk has none.
fn choice_of(chunk: &mut ChatChunk, index: u32) -> &mut ChunkChoice {
    let at = match chunk.choices.iter().position(|c| c.index == index) {
        Some(at) => at,
        None => {
            chunk.choices.push(ChunkChoice {
                index,
                ..ChunkChoice::default()
            });
            chunk.choices.len() - 1
        }
    };
    &mut chunk.choices[at]
}

/// Adds `text` to the end of the choice's text `key`.
fn append(choice: &mut ChunkChoice, key: TextKey, text: &str) {
    if text.is_empty() {
        return;
    }
    let Some(tool) = key.tool else {
        choice
            .delta
            .content
            .get_or_insert_with(String::new)
            .push_str(text);
        return;
    };
    let calls = choice.delta.tool_calls.get_or_insert_with(Vec::new);
    let call = match calls.iter().position(|c| c.index == tool) {
        Some(i) => &mut calls[i],
        None => {
            calls.push(ToolCallDelta {
                index: tool,
                ..ToolCallDelta::default()
            });
            let last = calls.len() - 1;
            &mut calls[last]
        }
    };
    call.function
        .get_or_insert_with(FunctionCallDelta::default)
        .arguments
        .get_or_insert_with(String::new)
        .push_str(text);
}

/// A chunk with no usage whose choices carry only empty content.
fn says_nothing(chunk: &ChatChunk) -> bool {
    chunk.usage.is_none()
        && !chunk.choices.is_empty()
        && chunk.choices.iter().all(|c| {
            c.finish_reason.is_none()
                && c.delta.role.is_none()
                && c.delta.tool_calls.is_none()
                && c.delta.extra.is_empty()
                && c.delta.content.as_deref().is_some_and(str::is_empty)
        })
}

/// Runs a batch of streamed chunks through the guard, `note` (the outcome's tally) and
/// the restore, in that order; with `done`, the upstream has ended and what is held
/// comes out. On a refusal, `chunks` keeps what came before the refused chunk.
pub(crate) fn pass_chunks(
    guard: Option<&mut AnswerGuard>,
    chunks: &mut Vec<ChatChunk>,
    done: bool,
    mut note: impl FnMut(&ChatChunk),
) -> Result<(), ApiError> {
    let Some(guard) = guard else {
        chunks.iter().for_each(note);
        return Ok(());
    };
    let mut refused = None;
    for (i, chunk) in chunks.iter_mut().enumerate() {
        if let Err(err) = guard.guard_chunk(chunk) {
            refused = Some((i, err));
            break;
        }
    }
    if let Some((i, _)) = &refused {
        chunks.truncate(*i);
    } else if done {
        match guard.end() {
            Ok(Some(rest)) => chunks.push(rest),
            Ok(None) => {}
            Err(err) => refused = Some((chunks.len(), err)),
        }
    }
    // A chunk whose only text is being held says nothing: it is not sent.
    chunks.retain(|chunk| !says_nothing(chunk));
    let count = chunks.len();
    for (i, chunk) in chunks.iter_mut().enumerate() {
        note(chunk);
        guard.restore_chunk(chunk, done && refused.is_none() && i + 1 == count);
    }
    match refused {
        Some((_, err)) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::guard_messages;
    use behest_core::policy::EffectivePolicy;
    use behest_core::settings::SettingsValues;
    use behest_providers::Message;
    use serde_json::json;

    fn policy(change: serde_json::Value) -> Arc<ActivePolicy> {
        let values: SettingsValues = serde_json::from_value(change).unwrap();
        Arc::new(ActivePolicy::new(EffectivePolicy::from_values(
            values,
            "behest/echo".into(),
            None,
        )))
    }

    /// A stream of `content` and one tool call's `arguments`, cut into chunks of `n`
    /// bytes, as a provider would send it.
    fn chunks(content: &str, arguments: &str, n: usize) -> Vec<ChatChunk> {
        let cut = |text: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut start = 0;
            while start < text.len() {
                let mut end = (start + n).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                out.push(text[start..end].to_owned());
                start = end;
            }
            out
        };
        let chunk = |delta: serde_json::Value, finish: Option<&str>| -> ChatChunk {
            serde_json::from_value(
                json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
            .unwrap()
        };
        let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        out.extend(
            cut(content)
                .into_iter()
                .map(|p| chunk(json!({"content": p}), None)),
        );
        out.push(chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "send", "arguments": ""}}]}),
            None,
        ));
        out.extend(cut(arguments).into_iter().map(|p| {
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                None,
            )
        }));
        out.push(chunk(json!({}), Some("tool_calls")));
        out
    }

    /// What the client gets: the content and the arguments, concatenated, or the error.
    fn relay(
        guard: &mut AnswerGuard,
        mut stream: Vec<ChatChunk>,
        noted: &mut String,
    ) -> (String, String, Option<ApiError>) {
        let result = pass_chunks(Some(guard), &mut stream, true, |chunk| {
            for choice in &chunk.choices {
                noted.push_str(choice.delta.content.as_deref().unwrap_or(""));
            }
        });
        let mut content = String::new();
        let mut arguments = String::new();
        for chunk in &stream {
            for choice in &chunk.choices {
                content.push_str(choice.delta.content.as_deref().unwrap_or(""));
                for call in choice.delta.tool_calls.iter().flatten() {
                    if let Some(f) = &call.function {
                        arguments.push_str(f.arguments.as_deref().unwrap_or(""));
                    }
                }
            }
        }
        (content, arguments, result.err())
    }

    #[test]
    fn streamed_content_and_tool_arguments_are_masked_and_restored_at_any_split() {
        let policy = policy(json!({"pii_mode": "enforce", "pii_restore_output": true,
            "pii_entities": {"EMAIL_ADDRESS": "MASK", "IP_ADDRESS": "REDACT"}}));
        assert!(policy.restores_pii());
        // The request: the email becomes a placeholder the provider sees.
        let mut messages: Vec<Message> = serde_json::from_value(
            json!([{"role": "user", "content": "Write to ada@example.com about it"}]),
        )
        .unwrap();
        let mut placeholders = Placeholders::default();
        let mut findings = GuardFindings::default();
        guard_messages(
            &policy,
            &mut messages,
            &mut findings,
            Some(&mut placeholders),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&messages[0]).unwrap()["content"],
            "Write to <EMAIL_ADDRESS_1> about it"
        );
        // The answer: the placeholder comes back; PII the model wrote itself is guarded.
        let content = "Done: I wrote to <EMAIL_ADDRESS_1>; copy to ops@example.net, host 10.1.2.3.";
        let arguments = r#"{"to":"<EMAIL_ADDRESS_1>","cc":"ops@example.net"}"#;
        for n in [1, 2, 3, 7, 500] {
            let mut guard =
                AnswerGuard::new(policy.clone(), std::mem::take(&mut placeholders)).unwrap();
            let mut noted = String::new();
            let (got, args, error) = relay(&mut guard, chunks(content, arguments, n), &mut noted);
            assert!(error.is_none(), "{error:?}");
            assert_eq!(
                got,
                "Done: I wrote to ada@example.com; copy to ***@*******.***, host <IP_ADDRESS>.",
                "chunks of {n}"
            );
            assert_eq!(args, r#"{"to":"ada@example.com","cc":"***@*******.***"}"#);
            // The outcome (usage, memory) noted the answer before the restore.
            assert!(
                noted.contains("<EMAIL_ADDRESS_1>") && !noted.contains("ada@"),
                "{noted}"
            );
            let found = guard.findings();
            assert_eq!(
                found
                    .pii
                    .get(&behest_core::settings::PiiEntity::EmailAddress),
                Some(&2)
            );
            assert_eq!(found.action, Some("rewritten"));
            placeholders = std::mem::take(&mut guard.placeholders);
        }
    }

    #[test]
    fn a_blocked_term_ends_the_stream_after_what_came_before_it() {
        let enforce =
            policy(json!({"sentinel_mode": "enforce", "sentinel_blocklist": ["project titan"]}));
        let content = format!(
            "{} the codename is Project Titan.",
            "Some words. ".repeat(20)
        );
        for n in [1, 4, 9] {
            let mut guard = AnswerGuard::new(enforce.clone(), Placeholders::default()).unwrap();
            let (got, _, error) = relay(&mut guard, chunks(&content, "{}", n), &mut String::new());
            let error = error.expect("blocked");
            assert_eq!(error.code, ErrorCode::ContentBlocked);
            assert!(error.message.contains("blocklist:0"));
            assert!(
                content.starts_with(&got) && !got.contains("Project"),
                "{got}"
            );
            // Held back: at most the hold (64) plus one release step.
            let held = 64 + behest_guard::answer::STEP;
            assert!(
                got.len() + held >= content.len() - "Project Titan.".len(),
                "{got}"
            );
            assert_eq!(guard.findings().action, Some("blocked"));
        }
        // Shadow: the whole answer goes out, and the finding is kept.
        let shadow =
            policy(json!({"sentinel_mode": "shadow", "sentinel_blocklist": ["project titan"]}));
        let mut guard = AnswerGuard::new(shadow, Placeholders::default()).unwrap();
        let (got, _, error) = relay(&mut guard, chunks(&content, "{}", 3), &mut String::new());
        assert!(error.is_none());
        assert_eq!(got, content);
        let found = guard.findings();
        assert_eq!(found.sentinel, vec!["blocklist:0".to_owned()]);
        assert_eq!(found.action, None);
        // No guard reading answers, nothing to restore: no answer stage at all.
        assert!(AnswerGuard::new(policy(json!({})), Placeholders::default()).is_none());
    }

    #[test]
    fn a_whole_answer_is_guarded_and_restored_the_same() {
        let policy = policy(json!({"pii_mode": "enforce", "pii_restore_output": true,
            "sentinel_mode": "enforce",
            "pii_entities": {"EMAIL_ADDRESS": "MASK", "CREDIT_CARD": "BLOCK"}}));
        let mut placeholders = Placeholders::default();
        let mut messages: Vec<Message> =
            serde_json::from_value(json!([{"role": "user", "content": "mail ada@example.com"}]))
                .unwrap();
        guard_messages(
            &policy,
            &mut messages,
            &mut GuardFindings::default(),
            Some(&mut placeholders),
        )
        .unwrap();
        let completion = |text: &str| -> ChatResponse {
            serde_json::from_value(json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}))
            .unwrap()
        };
        // Nothing to change: said so, so the provider's bytes can be sent as they came.
        let mut guard = AnswerGuard::new(policy.clone(), Placeholders::default()).unwrap();
        let mut clean = completion("Nothing personal in here at all, just words.");
        assert!(!guard.guard_response(&mut clean).unwrap());
        let mut guard = AnswerGuard::new(policy.clone(), placeholders).unwrap();
        let mut answer = completion("Sent to <EMAIL_ADDRESS_1> and bob@example.org.");
        assert!(guard.guard_response(&mut answer).unwrap());
        guard.restore_response(&mut answer);
        assert_eq!(
            answer.choices[0].message.content.as_deref(),
            Some("Sent to ada@example.com and ***@*******.***.")
        );
        let mut guard = AnswerGuard::new(policy.clone(), Placeholders::default()).unwrap();
        let error = guard
            .guard_response(&mut completion("card 4111 1111 1111 1111"))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::PiiBlocked);
        let mut guard = AnswerGuard::new(policy, Placeholders::default()).unwrap();
        let error = guard
            .guard_response(&mut completion(
                "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
            ))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::ContentBlocked);
        assert!(
            error.message.contains("credential:openai_api_key"),
            "{}",
            error.message
        );
    }
}
