//! The built-in model catalog: what each known model is, what it can do and
//! what it costs. Plain data; prices are list prices in USD per million
//! tokens at the time of writing (OpenRouter's vary by route) and are meant
//! for cost estimates, not invoices.

use crate::provider::Provider;

/// One catalogued model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// The model id as the upstream API names it (and as clients send it).
    pub id: &'static str,
    pub provider: Provider,
    pub display_name: &'static str,
    /// Maximum input + output tokens.
    pub context_window: u32,
    /// Maximum output tokens per answer.
    pub max_output_tokens: u32,
    pub supports_streaming: bool,
    pub supports_tools: bool,
    pub supports_vision: bool,
    /// USD per million input tokens.
    pub input_price_per_mtok: f64,
    /// USD per million output tokens.
    pub output_price_per_mtok: f64,
}

impl ModelInfo {
    /// Estimated USD cost of a call with the given token counts.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_price_per_mtok
            + completion_tokens as f64 * self.output_price_per_mtok)
            / 1_000_000.0
    }
}

#[allow(clippy::too_many_arguments)]
const fn m(
    id: &'static str,
    provider: Provider,
    display_name: &'static str,
    context_window: u32,
    max_output_tokens: u32,
    tools: bool,
    vision: bool,
    input: f64,
    output: f64,
) -> ModelInfo {
    ModelInfo {
        id,
        provider,
        display_name,
        context_window,
        max_output_tokens,
        supports_streaming: true,
        supports_tools: tools,
        supports_vision: vision,
        input_price_per_mtok: input,
        output_price_per_mtok: output,
    }
}

use Provider::{Anthropic, Cohere, Echo, Google, Mistral, OpenAi, OpenRouter};

/// Every built-in model.
pub static MODELS: &[ModelInfo] = &[
    // OpenAI
    m(
        "gpt-4o", OpenAi, "GPT-4o", 128_000, 16_384, true, true, 2.50, 10.00,
    ),
    m(
        "gpt-4o-mini",
        OpenAi,
        "GPT-4o mini",
        128_000,
        16_384,
        true,
        true,
        0.15,
        0.60,
    ),
    m(
        "gpt-4.1", OpenAi, "GPT-4.1", 1_047_576, 32_768, true, true, 2.00, 8.00,
    ),
    m(
        "gpt-4.1-mini",
        OpenAi,
        "GPT-4.1 mini",
        1_047_576,
        32_768,
        true,
        true,
        0.40,
        1.60,
    ),
    m(
        "gpt-4.1-nano",
        OpenAi,
        "GPT-4.1 nano",
        1_047_576,
        32_768,
        true,
        true,
        0.10,
        0.40,
    ),
    m(
        "o3-mini", OpenAi, "o3-mini", 200_000, 100_000, true, false, 1.10, 4.40,
    ),
    m(
        "o4-mini", OpenAi, "o4-mini", 200_000, 100_000, true, true, 1.10, 4.40,
    ),
    // Anthropic
    m(
        "claude-opus-4-20250514",
        Anthropic,
        "Claude Opus 4",
        200_000,
        32_000,
        true,
        true,
        15.00,
        75.00,
    ),
    m(
        "claude-sonnet-4-20250514",
        Anthropic,
        "Claude Sonnet 4",
        200_000,
        64_000,
        true,
        true,
        3.00,
        15.00,
    ),
    m(
        "claude-3-7-sonnet-20250219",
        Anthropic,
        "Claude Sonnet 3.7",
        200_000,
        64_000,
        true,
        true,
        3.00,
        15.00,
    ),
    m(
        "claude-3-5-haiku-20241022",
        Anthropic,
        "Claude Haiku 3.5",
        200_000,
        8_192,
        true,
        true,
        0.80,
        4.00,
    ),
    // Google
    m(
        "gemini-2.5-pro",
        Google,
        "Gemini 2.5 Pro",
        1_048_576,
        65_536,
        true,
        true,
        1.25,
        10.00,
    ),
    m(
        "gemini-2.5-flash",
        Google,
        "Gemini 2.5 Flash",
        1_048_576,
        65_536,
        true,
        true,
        0.30,
        2.50,
    ),
    m(
        "gemini-2.5-flash-lite",
        Google,
        "Gemini 2.5 Flash-Lite",
        1_048_576,
        65_536,
        true,
        true,
        0.10,
        0.40,
    ),
    m(
        "gemini-2.0-flash",
        Google,
        "Gemini 2.0 Flash",
        1_048_576,
        8_192,
        true,
        true,
        0.10,
        0.40,
    ),
    // OpenRouter (vendor/model ids)
    m(
        "openai/gpt-4o",
        OpenRouter,
        "GPT-4o (OpenRouter)",
        128_000,
        16_384,
        true,
        true,
        2.50,
        10.00,
    ),
    m(
        "anthropic/claude-sonnet-4",
        OpenRouter,
        "Claude Sonnet 4 (OpenRouter)",
        200_000,
        64_000,
        true,
        true,
        3.00,
        15.00,
    ),
    m(
        "google/gemini-2.5-flash",
        OpenRouter,
        "Gemini 2.5 Flash (OpenRouter)",
        1_048_576,
        65_536,
        true,
        true,
        0.30,
        2.50,
    ),
    m(
        "meta-llama/llama-3.3-70b-instruct",
        OpenRouter,
        "Llama 3.3 70B Instruct (OpenRouter)",
        131_072,
        16_384,
        true,
        false,
        0.13,
        0.40,
    ),
    m(
        "deepseek/deepseek-chat-v3-0324",
        OpenRouter,
        "DeepSeek V3 0324 (OpenRouter)",
        163_840,
        16_384,
        true,
        false,
        0.27,
        1.10,
    ),
    // Mistral
    m(
        "mistral-large-latest",
        Mistral,
        "Mistral Large",
        131_072,
        131_072,
        true,
        false,
        2.00,
        6.00,
    ),
    m(
        "mistral-small-latest",
        Mistral,
        "Mistral Small",
        131_072,
        131_072,
        true,
        true,
        0.10,
        0.30,
    ),
    m(
        "codestral-latest",
        Mistral,
        "Codestral",
        256_000,
        256_000,
        true,
        false,
        0.30,
        0.90,
    ),
    // Cohere
    m(
        "command-a-03-2025",
        Cohere,
        "Command A",
        256_000,
        8_192,
        true,
        false,
        2.50,
        10.00,
    ),
    m(
        "command-r-plus",
        Cohere,
        "Command R+",
        128_000,
        4_096,
        true,
        false,
        2.50,
        10.00,
    ),
    m(
        "command-r",
        Cohere,
        "Command R",
        128_000,
        4_096,
        true,
        false,
        0.15,
        0.60,
    ),
    // Built-in
    ModelInfo {
        id: crate::echo::ECHO_MODEL,
        provider: Echo,
        display_name: "Behest Echo",
        context_window: 1_000_000,
        max_output_tokens: 1_000_000,
        supports_streaming: true,
        supports_tools: false,
        supports_vision: false,
        input_price_per_mtok: 0.0,
        output_price_per_mtok: 0.0,
    },
];

/// The catalogued model with this id, if any. Accepts `provider/model`
/// for the non-OpenRouter providers too (e.g. `anthropic/claude-sonnet-4-20250514`),
/// but an exact id (OpenRouter's `vendor/model`) wins.
pub fn find_model(id: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().find(|m| m.id == id).or_else(|| {
        let (provider, rest) = id.split_once('/')?;
        let provider: Provider = provider.parse().ok()?;
        MODELS
            .iter()
            .find(|m| m.provider == provider && m.id == rest)
    })
}

/// The catalogued models of one provider.
pub fn models_for(provider: Provider) -> impl Iterator<Item = &'static ModelInfo> {
    MODELS.iter().filter(move |m| m.provider == provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_provider_has_models_and_ids_are_unique() {
        for p in Provider::ALL {
            assert!(models_for(p).next().is_some(), "{p} has no models");
        }
        let ids: HashSet<_> = MODELS.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), MODELS.len());
        for m in MODELS {
            assert!(m.max_output_tokens <= m.context_window, "{}", m.id);
            assert!(m.input_price_per_mtok >= 0.0 && m.output_price_per_mtok >= 0.0);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            find_model("gpt-4o").map(|m| m.provider),
            Some(Provider::OpenAi)
        );
        assert_eq!(
            find_model("openai/gpt-4o").map(|m| m.provider),
            Some(Provider::OpenRouter)
        );
        assert_eq!(
            find_model("anthropic/claude-sonnet-4-20250514").map(|m| m.provider),
            Some(Provider::Anthropic)
        );
        assert_eq!(
            find_model("behest/echo").map(|m| m.provider),
            Some(Provider::Echo)
        );
        assert!(find_model("nope").is_none());
        let cost = find_model("gpt-4o").unwrap().cost_usd(1_000_000, 500_000);
        assert!((cost - 7.5).abs() < 1e-9);
    }
}

/// Where a model id is served: the provider, and the id as the upstream names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    pub provider: Provider,
    /// The id as the upstream names it.
    pub upstream_model: String,
    /// The id as clients and the dashboard name it.
    pub model: String,
}

/// Resolves `id` from the catalog, or as `provider:model` for a model the catalog does
/// not know (a self-hosted server behind a platform provider, say `openai:llama3.1`).
pub fn resolve_model(id: &str) -> Option<ModelRoute> {
    if let Some(info) = find_model(id) {
        return Some(ModelRoute {
            provider: info.provider,
            upstream_model: info.id.to_owned(),
            model: id.to_owned(),
        });
    }
    let (provider, model) = id.split_once(':')?;
    let provider: Provider = provider.parse().ok()?;
    (!model.is_empty() && provider != Provider::Echo).then(|| ModelRoute {
        provider,
        upstream_model: model.to_owned(),
        model: id.to_owned(),
    })
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn models_resolve_from_the_catalog_or_provider_prefix() {
        let route = resolve_model("gpt-4o-mini").unwrap();
        assert_eq!(
            (route.provider, route.upstream_model.as_str()),
            (Provider::OpenAi, "gpt-4o-mini")
        );
        assert_eq!(
            resolve_model("behest/echo").unwrap().provider,
            Provider::Echo
        );
        assert_eq!(
            resolve_model("claude-sonnet-4-20250514").map(|r| r.provider),
            Some(Provider::Anthropic)
        );
        let local = resolve_model("openai:llama3.1").unwrap();
        assert_eq!(
            (local.provider, local.upstream_model.as_str()),
            (Provider::OpenAi, "llama3.1")
        );
        assert_eq!(resolve_model("nope"), None);
        assert_eq!(resolve_model("bedrock:x"), None);
        assert_eq!(resolve_model("openai:"), None);
        assert_eq!(resolve_model("echo:x"), None);
    }
}
