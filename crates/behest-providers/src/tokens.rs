//! Token counts Behest makes itself: a prompt's before a call (what a budget reserves),
//! and an answer's when a provider reports no usage (a stream cut short). Counted with
//! OpenAI's BPE tokenizers (`o200k_base` for the GPT-4o/4.1/5 and o-series families,
//! `cl100k_base` for everything else, counted by [`crate::bpe`]): exact for OpenAI's
//! models, an estimate for other families, whose tokenizers are not published (Claude
//! counts run ~15% above cl100k's, so Anthropic estimates are scaled up by that).
//! Provider-reported usage always wins over these.
//!
//! Conversations resend their earlier messages every turn, so counts are cached per
//! message text (a bounded map keyed by a hash): a turn costs the tokenizer only for
//! what is new.

use crate::provider::Provider;
use crate::types::{ChatRequest, MessageContent};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

/// OpenAI's per-message framing overhead (`<|start|>role ... <|end|>`).
const PER_MESSAGE: u64 = 3;
/// Counts of texts shorter than this are not cached (cheaper to count again).
const CACHE_MIN_BYTES: usize = 64;
const CACHE_CAPACITY: usize = 65_536;

/// Which tokenizer a model's text is counted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// GPT-4o, GPT-4.1, GPT-5, o-series.
    O200k,
    /// GPT-4, GPT-3.5, and the estimate for other providers.
    Cl100k,
    /// Anthropic: cl100k scaled by 1.15.
    Claude,
}

impl Family {
    /// The family of `model` (as the upstream names it) served by `provider`.
    pub fn of(provider: Provider, model: &str) -> Family {
        let model = model.rsplit('/').next().unwrap_or(model);
        match provider {
            Provider::Anthropic => Family::Claude,
            Provider::OpenAi | Provider::OpenRouter
                if ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"]
                    .iter()
                    .any(|prefix| model.starts_with(prefix)) =>
            {
                Family::O200k
            }
            Provider::OpenRouter if model.starts_with("claude") => Family::Claude,
            _ => Family::Cl100k,
        }
    }
}

/// Tokens in `text` under `family`, uncached.
pub fn count_with(family: Family, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let tokens = match family {
        Family::O200k => crate::bpe::o200k_base().count(text),
        Family::Cl100k | Family::Claude => crate::bpe::cl100k_base().count(text),
    } as u64;
    match family {
        Family::Claude => (tokens * 115).div_ceil(100),
        _ => tokens,
    }
}

/// Tokens in `text`, as the default family counts them (for answers of unknown models).
pub fn count(text: &str) -> u64 {
    count_with(Family::Cl100k, text)
}

/// The text of a message's content (the text parts of a multi-part one).
pub fn content_text(content: Option<&MessageContent>) -> String {
    match content {
        None => String::new(),
        Some(MessageContent::Text(t)) => t.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter(|p| p.kind == "text")
            .filter_map(|p| p.text.as_deref())
            .collect(),
    }
}

/// The prompt tokens of a request, uncached: every message's text and framing.
pub fn prompt(request: &ChatRequest) -> u64 {
    TokenCounter::uncached().prompt(Family::Cl100k, request)
}

/// Counts tokens, remembering the counts of longer texts.
pub struct TokenCounter {
    cache: Option<Mutex<HashMap<(Family, u64), u64>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for TokenCounter {
    fn default() -> Self {
        TokenCounter {
            cache: Some(Mutex::new(HashMap::new())),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl TokenCounter {
    /// A counter that remembers nothing (every count is fresh).
    pub fn uncached() -> TokenCounter {
        TokenCounter {
            cache: None,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Builds both tokenizers' split patterns now (a few ms), so the first request does
    /// not; their rank tables are in the binary and need no loading.
    pub fn warm_up() {
        let _ = count_with(Family::O200k, "warm up");
        let _ = count_with(Family::Cl100k, "warm up");
    }

    /// Tokens in `text` under `family`.
    pub fn count(&self, family: Family, text: &str) -> u64 {
        let Some(cache) = self
            .cache
            .as_ref()
            .filter(|_| text.len() >= CACHE_MIN_BYTES)
        else {
            return count_with(family, text);
        };
        let mut hasher = self.hasher.build_hasher();
        hasher.write(text.as_bytes());
        let key = (family, hasher.finish());
        if let Some(&n) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return n;
        }
        let n = count_with(family, text);
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, n);
        n
    }

    /// The prompt tokens of a request under `family`: every message's text and the
    /// framing OpenAI adds per message.
    pub fn prompt(&self, family: Family, request: &ChatRequest) -> u64 {
        request
            .messages
            .iter()
            .map(|m| {
                let text = match &m.content {
                    Some(MessageContent::Text(t)) => self.count(family, t),
                    other => self.count(family, &content_text(other.as_ref())),
                };
                let calls: u64 = m
                    .tool_calls
                    .iter()
                    .flatten()
                    .map(|c| self.count(family, &c.function.arguments))
                    .sum();
                text + calls + PER_MESSAGE
            })
            .sum::<u64>()
            + PER_MESSAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_texts_count_as_openai_counts_them() {
        // Reference counts from OpenAI's tiktoken for these strings.
        assert_eq!(count_with(Family::Cl100k, "hello world"), 2);
        assert_eq!(count_with(Family::O200k, "hello world"), 2);
        assert_eq!(count_with(Family::Cl100k, "tiktoken is great!"), 6);
        assert_eq!(count_with(Family::O200k, ""), 0);
        assert_eq!(
            count_with(Family::Claude, "tiktoken is great!"),
            7,
            "scaled up 15%"
        );
    }

    #[test]
    fn families_follow_the_model() {
        assert_eq!(Family::of(Provider::OpenAi, "gpt-5-mini"), Family::O200k);
        assert_eq!(Family::of(Provider::OpenAi, "gpt-4o-mini"), Family::O200k);
        assert_eq!(
            Family::of(Provider::OpenRouter, "openai/gpt-4o"),
            Family::O200k
        );
        assert_eq!(Family::of(Provider::OpenAi, "gpt-4"), Family::Cl100k);
        assert_eq!(
            Family::of(Provider::Anthropic, "claude-haiku-4-5"),
            Family::Claude
        );
        assert_eq!(
            Family::of(Provider::Google, "gemini-2.5-flash"),
            Family::Cl100k
        );
    }

    #[test]
    fn cached_counts_equal_fresh_ones() {
        let counter = TokenCounter::default();
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        let fresh = count_with(Family::O200k, &long);
        assert_eq!(counter.count(Family::O200k, &long), fresh);
        assert_eq!(counter.count(Family::O200k, &long), fresh, "from the cache");
        assert_ne!(
            counter.count(Family::Cl100k, &long),
            0,
            "another family is another entry"
        );
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "hello world"}]}]
        }))
        .unwrap();
        // 2 + 2 tokens of text, 3 per message, 3 for the reply's priming.
        assert_eq!(counter.prompt(Family::O200k, &request), 2 + 2 + 3 * 2 + 3);
    }
}
