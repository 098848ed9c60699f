//! Project slugs: `adjective-animal-NNN`, the label a project's host is built from.

use rand::seq::SliceRandom;
use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy", "gentle",
    "golden", "happy", "honest", "jolly", "keen", "lively", "lucky", "mellow", "misty", "noble",
    "polite", "proud", "quick", "quiet", "rapid", "royal", "rustic", "shiny", "silent", "silver",
    "smooth", "snowy", "solar", "sunny", "swift", "tidy", "vivid", "warm", "witty", "zesty",
];

const ANIMALS: &[&str] = &[
    "badger", "bear", "beaver", "bison", "cobra", "crane", "deer", "dolphin", "eagle", "falcon",
    "ferret", "fox", "gecko", "heron", "ibis", "jaguar", "koala", "lemur", "lion", "lynx",
    "marten", "moose", "newt", "otter", "owl", "panda", "puffin", "quail", "raven", "seal",
    "shark", "sloth", "swan", "tiger", "toad", "turtle", "viper", "walrus", "wolf", "yak",
];

/// A fresh random slug. Uniqueness is the store's job (a unique index, retried on clash).
pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> String {
    let adjective = ADJECTIVES.choose(rng).copied().unwrap_or("amber");
    let animal = ANIMALS.choose(rng).copied().unwrap_or("fox");
    format!("{adjective}-{animal}-{:03}", rng.gen_range(0..1000))
}

/// A fresh random slug from the thread-local generator.
pub fn random() -> String {
    generate(&mut rand::thread_rng())
}

/// Whether `label` has the shape of a slug: lowercase ASCII words joined by `-`, as a
/// DNS label (1-63 chars). Used to reject garbage before any lookup.
pub fn is_well_formed(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_slugs_have_the_seed_shape() {
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let slug = generate(&mut rng);
            let parts: Vec<&str> = slug.split('-').collect();
            assert_eq!(parts.len(), 3, "{slug}");
            assert!(ADJECTIVES.contains(&parts[0]));
            assert!(ANIMALS.contains(&parts[1]));
            assert_eq!(parts[2].len(), 3);
            assert!(parts[2].bytes().all(|b| b.is_ascii_digit()));
            assert!(is_well_formed(&slug));
        }
    }

    #[test]
    fn malformed_labels_are_rejected() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("Amber-fox-042"));
        assert!(!is_well_formed("-fox"));
        assert!(!is_well_formed("a.b"));
        assert!(!is_well_formed(&"a".repeat(64)));
    }
}
