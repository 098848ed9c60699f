//! The model registry: what each known model is, what it can do and what it costs.
//! It is data — `models.toml`, embedded in the binary — which an operator's own file
//! extends (new ids) or overrides (an id already listed). Prices are list prices in USD
//! per million tokens, for cost estimates and budgets, not invoices.
//!
//! How an id resolves to a provider, in order:
//! 1. `provider:model` (`openrouter:mistralai/mixtral-8x7b`, `openai:llama3.1`) is always
//!    that provider, catalogued or not: the unambiguous spelling.
//! 2. An id listed in the registry is that entry's provider. OpenRouter's ids are
//!    `vendor/model`, so `openai/gpt-5` is OpenRouter's.
//! 3. `provider/model`, where `provider` is a provider's name and `model` one of its
//!    catalogued ids (`anthropic/claude-haiku-4-5`), is that provider itself.

use crate::provider::Provider;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The built-in catalog.
const BUILTIN: &str = include_str!("../models.toml");

/// One catalogued model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The model id as the upstream API names it (and as clients send it).
    pub id: String,
    #[serde(deserialize_with = "provider_name")]
    pub provider: Provider,
    pub display_name: String,
    /// Maximum input + output tokens.
    pub context_window: u32,
    /// Maximum output tokens per answer.
    pub max_output_tokens: u32,
    #[serde(default = "yes", rename = "streaming")]
    pub supports_streaming: bool,
    #[serde(default, rename = "tools")]
    pub supports_tools: bool,
    #[serde(default, rename = "vision")]
    pub supports_vision: bool,
    /// USD per million input tokens.
    #[serde(rename = "input_usd_per_mtok")]
    pub input_price_per_mtok: f64,
    /// USD per million output tokens.
    #[serde(rename = "output_usd_per_mtok")]
    pub output_price_per_mtok: f64,
}

fn yes() -> bool {
    true
}

fn provider_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Provider, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}

impl ModelInfo {
    /// Estimated USD cost of a call with the given token counts.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_price_per_mtok
            + completion_tokens as f64 * self.output_price_per_mtok)
            / 1_000_000.0
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

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("model {id:?}: {problem}")]
    Invalid { id: String, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    model: Vec<ModelInfo>,
}

/// The known models, by id.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    models: Vec<ModelInfo>,
    by_id: HashMap<String, usize>,
}

impl ModelRegistry {
    /// The built-in catalog alone.
    pub fn builtin() -> &'static ModelRegistry {
        static BUILTIN_REGISTRY: OnceLock<ModelRegistry> = OnceLock::new();
        BUILTIN_REGISTRY.get_or_init(|| {
            // The file is ours and a unit test parses it; an empty registry is the
            // only sane fallback for a function that cannot fail.
            let models = parse(BUILTIN).unwrap_or_default();
            ModelRegistry::from_models(models)
        })
    }

    /// The built-in catalog with an operator's file (`models_file`) on top: an entry
    /// whose id is already known replaces it, any other is added.
    pub fn with_operator_file(text: &str) -> Result<ModelRegistry, CatalogError> {
        let mut registry = ModelRegistry::builtin().clone();
        for model in parse(text)? {
            match registry.by_id.get(&model.id) {
                Some(&index) => registry.models[index] = model,
                None => {
                    registry
                        .by_id
                        .insert(model.id.clone(), registry.models.len());
                    registry.models.push(model);
                }
            }
        }
        Ok(registry)
    }

    fn from_models(models: Vec<ModelInfo>) -> ModelRegistry {
        let by_id = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        ModelRegistry { models, by_id }
    }

    /// Every model, in catalog order.
    pub fn all(&self) -> &[ModelInfo] {
        &self.models
    }

    /// The catalogued models of one provider.
    pub fn models_for(&self, provider: Provider) -> impl Iterator<Item = &ModelInfo> {
        self.models.iter().filter(move |m| m.provider == provider)
    }

    /// The entry an id names (rules 2 and 3 of the module docs; for `provider:model`
    /// see [`Self::resolve`]).
    pub fn find(&self, id: &str) -> Option<&ModelInfo> {
        if let Some(&index) = self.by_id.get(id) {
            return self.models.get(index);
        }
        let (provider, rest) = id.split_once('/')?;
        let provider: Provider = provider.parse().ok()?;
        self.by_id
            .get(rest)
            .and_then(|&i| self.models.get(i))
            .filter(|m| m.provider == provider && provider != Provider::OpenRouter)
    }

    /// The catalog entry of a route, if the model is catalogued for its provider.
    pub fn info(&self, route: &ModelRoute) -> Option<&ModelInfo> {
        self.by_id
            .get(&route.upstream_model)
            .and_then(|&i| self.models.get(i))
            .filter(|m| m.provider == route.provider)
    }

    /// Where `id` is served, following the rules in the module docs.
    pub fn resolve(&self, id: &str) -> Option<ModelRoute> {
        if let Some((provider, model)) = id.split_once(':') {
            if let Ok(provider) = provider.parse::<Provider>() {
                return (!model.is_empty() && provider != Provider::Echo).then(|| ModelRoute {
                    provider,
                    upstream_model: model.to_owned(),
                    model: id.to_owned(),
                });
            }
        }
        let info = self.find(id)?;
        Some(ModelRoute {
            provider: info.provider,
            upstream_model: info.id.clone(),
            model: id.to_owned(),
        })
    }

    /// Whether a model id names any model at all (for draft validation).
    pub fn is_known(&self, id: &str) -> bool {
        self.resolve(id).is_some()
    }
}

fn parse(text: &str) -> Result<Vec<ModelInfo>, CatalogError> {
    let file: CatalogFile = toml::from_str(text)?;
    let mut seen = std::collections::HashSet::new();
    for m in &file.model {
        let invalid = |problem: &str| CatalogError::Invalid {
            id: m.id.clone(),
            problem: problem.to_owned(),
        };
        if m.id.trim().is_empty() || m.id.contains(char::is_whitespace) {
            return Err(invalid("the id must be non-empty, without spaces"));
        }
        if !seen.insert(m.id.as_str()) {
            return Err(invalid("listed twice"));
        }
        if m.max_output_tokens > m.context_window {
            return Err(invalid("max_output_tokens exceeds context_window"));
        }
        let price_ok = |p: f64| p.is_finite() && p >= 0.0;
        if !price_ok(m.input_price_per_mtok) || !price_ok(m.output_price_per_mtok) {
            return Err(invalid("prices must be non-negative numbers"));
        }
    }
    Ok(file.model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static ModelRegistry {
        ModelRegistry::builtin()
    }

    #[test]
    fn the_builtin_file_parses_and_every_provider_has_models() {
        let models = parse(BUILTIN).unwrap();
        assert_eq!(models.len(), builtin().all().len());
        for p in Provider::ALL {
            assert!(
                builtin().models_for(p).next().is_some(),
                "{p} has no models"
            );
        }
    }

    #[test]
    fn current_models_are_known() {
        for (id, provider) in [
            ("claude-haiku-4-5", Provider::Anthropic),
            ("claude-sonnet-4-5", Provider::Anthropic),
            ("gpt-5", Provider::OpenAi),
            ("gpt-5-mini", Provider::OpenAi),
            ("gemini-2.5-flash", Provider::Google),
            ("gemini-3-pro-preview", Provider::Google),
            ("mistral-large-latest", Provider::Mistral),
            ("command-a-03-2025", Provider::Cohere),
            ("behest/echo", Provider::Echo),
        ] {
            let info = builtin().find(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(info.provider, provider, "{id}");
            assert!(
                info.context_window > 0 && info.max_output_tokens > 0,
                "{id}"
            );
        }
        let haiku = builtin().find("claude-haiku-4-5").unwrap();
        assert!(haiku.input_price_per_mtok > 0.0 && haiku.supports_tools);
    }

    #[test]
    fn ids_resolve_by_the_documented_rules() {
        let r = |id: &str| {
            builtin()
                .resolve(id)
                .map(|r| (r.provider, r.upstream_model))
        };
        // 1. An explicit provider prefix always wins.
        assert_eq!(
            r("openrouter:anthropic/claude-haiku-4.5"),
            Some((Provider::OpenRouter, "anthropic/claude-haiku-4.5".into()))
        );
        assert_eq!(r("openai:gpt-5"), Some((Provider::OpenAi, "gpt-5".into())));
        assert_eq!(
            r("openai:llama3.1"),
            Some((Provider::OpenAi, "llama3.1".into()))
        );
        // 2. A catalogued id: OpenRouter's vendor/model ids are OpenRouter's.
        assert_eq!(
            r("openai/gpt-5"),
            Some((Provider::OpenRouter, "openai/gpt-5".into()))
        );
        assert_eq!(
            r("gpt-4o-mini"),
            Some((Provider::OpenAi, "gpt-4o-mini".into()))
        );
        // 3. provider/model for the provider's own catalogued model.
        assert_eq!(
            r("anthropic/claude-haiku-4-5"),
            Some((Provider::Anthropic, "claude-haiku-4-5".into()))
        );
        assert_eq!(r("openrouter/gpt-5"), None);
        assert_eq!(r("nope"), None);
        assert_eq!(r("bedrock:x"), None);
        assert_eq!(r("openai:"), None);
        assert_eq!(r("echo:x"), None);
    }

    #[test]
    fn an_operator_file_extends_and_overrides() {
        let registry = ModelRegistry::with_operator_file(
            r#"
            [[model]]
            id = "llama-3.1-8b-local"
            provider = "openai"
            display_name = "Llama on our vLLM"
            context_window = 8192
            max_output_tokens = 2048
            input_usd_per_mtok = 0.0
            output_usd_per_mtok = 0.0

            [[model]]
            id = "gpt-4o"
            provider = "openai"
            display_name = "GPT-4o (negotiated price)"
            context_window = 128000
            max_output_tokens = 16384
            tools = true
            input_usd_per_mtok = 2.0
            output_usd_per_mtok = 8.0
            "#,
        )
        .unwrap();
        assert_eq!(registry.all().len(), builtin().all().len() + 1);
        assert_eq!(
            registry.find("llama-3.1-8b-local").map(|m| m.provider),
            Some(Provider::OpenAi)
        );
        let gpt4o = registry.find("gpt-4o").unwrap();
        assert_eq!(gpt4o.input_price_per_mtok, 2.0);
        assert!((gpt4o.cost_usd(1_000_000, 500_000) - 6.0).abs() < 1e-9);
        assert!(builtin().find("llama-3.1-8b-local").is_none());
    }

    #[test]
    fn bad_operator_files_say_what_is_wrong() {
        let bad = |text: &str| {
            ModelRegistry::with_operator_file(text)
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[[model]]\nid = \"x\"\n").contains("missing field"));
        assert!(bad(
            "[[model]]\nid=\"x\"\nprovider=\"bedrock\"\ndisplay_name=\"x\"\ncontext_window=1\nmax_output_tokens=1\ninput_usd_per_mtok=0\noutput_usd_per_mtok=0\n"
        )
        .contains("bedrock"));
        assert!(bad(
            "[[model]]\nid=\"x\"\nprovider=\"openai\"\ndisplay_name=\"x\"\ncontext_window=1\nmax_output_tokens=2\ninput_usd_per_mtok=0\noutput_usd_per_mtok=0\n"
        )
        .contains("max_output_tokens"));
        assert!(bad("[[model]]\nid=\"x\"\nprovider=\"openai\"\ndisplay_name=\"x\"\ncontext_window=1\nmax_output_tokens=1\ninput_usd_per_mtok=-1\noutput_usd_per_mtok=0\n").contains("prices"));
        assert!(bad("[[modle]]\n").contains("modle"));
    }
}
