//! Token counts Behest makes itself: the prompt's estimate before a call, and the
//! answer's count when a provider reports no usage (a stream cut short, a server that
//! omits it). An estimate of about four characters per token, as OpenAI documents for
//! English text; provider-reported usage always wins over it.

use crate::types::{ChatRequest, MessageContent};

/// Tokens in `text`: one per four characters, rounded up.
pub fn count(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
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

/// The prompt tokens of a request: every message's text.
pub fn prompt(request: &ChatRequest) -> u64 {
    request
        .messages
        .iter()
        .map(|m| count(&content_text(m.content.as_ref())))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_characters_a_token_rounded_up() {
        assert_eq!(count(""), 0);
        assert_eq!(count("abcd"), 1);
        assert_eq!(count("abcde"), 2);
        assert_eq!(count("héllo"), 2, "characters, not bytes");
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "hello"}]}]
        }))
        .unwrap();
        assert_eq!(prompt(&request), 2 + 2);
    }
}
