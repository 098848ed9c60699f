//! PERSON and LOCATION: word tokens, looked up in the embedded name and place lists,
//! combined with context — honorifics, introductions ("my name is", "je m'appelle"),
//! form labels, greetings and signature blocks for people; street-address shapes (house
//! numbers, street-type words, postal codes, US state + ZIP, UK postcodes), location
//! prepositions ("born in", "né à", "abito a") and toponymic word shapes for places.
//! Lists alone would flag every "Will" and "Nice"; context alone misses a bare "Bryan"
//! mid-sentence; each rule below says which of the two it leans on.

use super::lexicon::{Entry, Lexicon, COUNTRY};
use super::{Cand, Scan};
use behest_core::settings::PiiEntity;
use rustc_hash::FxHashMap;
use std::sync::{LazyLock, OnceLock};

pub const CAP: u8 = 1;
pub const UPPER: u8 = 2;
pub const LOWER: u8 = 4;

/// The words (runs of letters, with inner `-` and `'`) of a text, folded once, each with
/// its hash (the key of both word tables) and its closed word classes.
pub struct Words {
    words: Vec<Word>,
    folded: String,
}

/// One word: where it is, where its folded form is in [`Words::folded`], and what the
/// rules ask of it, side by side (one push per word, one cache line per lookup).
#[derive(Clone, Copy)]
struct Word {
    start: u32,
    end: u32,
    fold_start: u32,
    fold_end: u32,
    hash: u64,
    classes: u32,
    flags: u8,
}

impl Words {
    pub fn new(text: &str) -> Words {
        let mut words = Vec::with_capacity(text.len() / 5 + 4);
        let mut folded = String::with_capacity(text.len());
        let table = class_table();
        let b = text.as_bytes();
        let n = b.len();
        let mut i = 0;
        while i < n {
            let c0 = b[i];
            // ASCII non-letters are skipped a byte at a time; other bytes are decoded.
            if c0 < 0x80 && !c0.is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let first_upper = if c0 < 0x80 {
                c0.is_ascii_uppercase()
            } else {
                match crate::text::char_at(text, i) {
                    Some(c) if c.is_alphabetic() => c.is_uppercase(),
                    Some(c) => {
                        i += c.len_utf8();
                        continue;
                    }
                    None => {
                        i += 1;
                        continue;
                    }
                }
            };
            let start = i;
            let fs = folded.len();
            let mut upper = 0usize;
            let mut lower = 0usize;
            while i < n {
                // Most of a word is ASCII letters: count and fold them as one stretch.
                let (run_start, upper_before) = (i, upper);
                while i < n && b[i].is_ascii_alphabetic() {
                    upper += b[i].is_ascii_uppercase() as usize;
                    i += 1;
                }
                if i > run_start {
                    lower += (i - run_start) - (upper - upper_before);
                    let at = folded.len();
                    folded.push_str(&text[run_start..i]);
                    folded[at..].make_ascii_lowercase();
                    // an ASCII byte other than an inner `-` or `'` ends the word
                    if i >= n || (b[i] < 0x80 && !matches!(b[i], b'-' | b'\'')) {
                        break;
                    }
                }
                let Some(d) = crate::text::char_at(text, i) else {
                    break;
                };
                if d.is_alphabetic() {
                    // not ASCII: ASCII letters were taken above
                    upper += d.is_uppercase() as usize;
                    lower += d.is_lowercase() as usize;
                    crate::text::fold_char(d, &mut folded);
                    i += d.len_utf8();
                } else if matches!(d, '-' | '\'' | '\u{2019}') && i > start {
                    // inner hyphen or apostrophe: only if a letter follows
                    let nj = i + d.len_utf8();
                    if !crate::text::char_at(text, nj).is_some_and(char::is_alphabetic) {
                        break;
                    }
                    crate::text::fold_char(d, &mut folded);
                    i = nj;
                } else {
                    break;
                }
            }
            let mut flags = 0;
            if first_upper {
                flags |= CAP;
            }
            if upper > 1 && lower == 0 {
                flags |= UPPER;
            }
            if upper == 0 {
                flags |= LOWER;
            }
            // One hash per word serves both tables; the closed classes are looked up now
            // (a small, cache-resident table), the big lexicon only where a rule asks.
            let w = &folded[fs..];
            let hash = super::lexicon::hash(w);
            let classes = if w.len() <= MAX_CLASS_WORD {
                table.get(hash)
            } else {
                0
            };
            words.push(Word {
                start: start as u32,
                end: i as u32,
                fold_start: fs as u32,
                fold_end: folded.len() as u32,
                hash,
                classes,
                flags,
            });
        }
        Words { words, folded }
    }

    /// The hash of word `i`'s folded form ([`super::lexicon::hash`]).
    #[inline]
    pub fn hash(&self, i: usize) -> u64 {
        self.words[i].hash
    }

    /// Word `i`'s closed classes (`HONORIFIC`, `MONTH`, ... bits; 0 for none).
    #[inline]
    pub fn classes(&self, i: usize) -> u32 {
        self.words[i].classes
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.words.len()
    }

    #[inline]
    pub fn span(&self, i: usize) -> (usize, usize) {
        let w = &self.words[i];
        (w.start as usize, w.end as usize)
    }

    #[inline]
    pub fn folded(&self, i: usize) -> &str {
        let w = &self.words[i];
        self.folded
            .get(w.fold_start as usize..w.fold_end as usize)
            .unwrap_or("")
    }

    #[inline]
    pub fn flags(&self, i: usize) -> u8 {
        self.words[i].flags
    }
}

// Closed word classes, as one hash map from folded word to class bits: a word costs one
// lookup in a small, cache-resident table instead of hundreds of string comparisons.
const HONORIFIC: u32 = 1 << 0;
const PARTICLE: u32 = 1 << 1;
const PERSON_PARTICLE: u32 = 1 << 2;
const HARD_STOP: u32 = 1 << 3;
const STREET_TYPE_EN: u32 = 1 << 4;
const UNIT: u32 = 1 << 5;
const PLACE_PREFIX: u32 = 1 << 6;
const PREP_STRONG: u32 = 1 << 7;
const PREP_WEAK: u32 = 1 << 8;
const STREET_PREFIX_STRONG: u32 = 1 << 9;
const STREET_PREFIX_WEAK: u32 = 1 << 10;
const TRIGGER_LAST: u32 = 1 << 11;
const LANDMARK: u32 = 1 << 12;
/// A month name or abbreviation ([`super::dates::MONTHS`]).
pub const MONTH: u32 = 1 << 13;
/// A weekday name or abbreviation ([`super::dates::WEEKDAYS`]).
pub const WEEKDAY: u32 = 1 << 14;

/// Words that end a proper name that is no person's: "Golden Gate Bridge", "Acme Ltd".
const LANDMARK_WORDS: &[&str] = &[
    "bridge",
    "tower",
    "towers",
    "hotel",
    "university",
    "college",
    "school",
    "hospital",
    "airport",
    "museum",
    "church",
    "cathedral",
    "station",
    "stadium",
    "building",
    "center",
    "centre",
    "group",
    "bank",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "ag",
    "corp",
    "co",
    "company",
    "foundation",
    "institute",
    "library",
    "mall",
    "market",
    "theatre",
    "theater",
    "cafe",
    "restaurant",
    "bar",
    "club",
    "studios",
    "records",
    "press",
    "labs",
    "systems",
    "solutions",
    "services",
    "consulting",
    "partners",
    "associates",
    "sa",
    "srl",
    "spa",
    "bv",
    "nv",
    "sl",
    "sarl",
    "sas",
    "plc",
    "holdings",
    "international",
    "street",
    "road",
    "avenue",
    "boulevard",
    "square",
];

/// Honorifics (folded, no final dot): "Mr", "Herr", "Madame", "Sig", "Sra", "Dhr".
const HONORIFIC_WORDS: &[&str] = &[
    "avv",
    "dhr",
    "dona",
    "dott",
    "dottssa",
    "dr",
    "frau",
    "herr",
    "ing",
    "madam",
    "madame",
    "mademoiselle",
    "meneer",
    "mevr",
    "mevrouw",
    "miss",
    "mlle",
    "mme",
    "monsieur",
    "mr",
    "mrs",
    "ms",
    "mw",
    "mx",
    "prof",
    "senor",
    "senora",
    "senorita",
    "sig",
    "signor",
    "signora",
    "signorina",
    "sigra",
    "sir",
    "sr",
    "sra",
    "srta",
];
/// Lowercase words that may sit inside a person's or place's name.
const PARTICLE_WORDS: &[&str] = &[
    "aan", "al", "am", "an", "bei", "bin", "da", "das", "de", "dei", "del", "della", "delle",
    "den", "der", "des", "di", "dos", "du", "el", "en", "het", "ibn", "im", "la", "le", "les",
    "op", "sous", "st", "sur", "ten", "ter", "van", "vom", "von", "y", "zu",
];
/// Lowercase words that may sit inside a person's name: "van der", "de", "di".
const PERSON_PARTICLE_WORDS: &[&str] = &[
    "al", "bin", "da", "das", "de", "del", "della", "den", "der", "des", "di", "dos", "du", "el",
    "ibn", "la", "le", "ten", "ter", "van", "vom", "von", "y", "zu",
];
/// Capitalised words that are never part of a name (greetings, labels, pronouns...).
const HARD_STOP_WORDS: &[&str] = &[
    "a",
    "account",
    "address",
    "admin",
    "also",
    "an",
    "and",
    "apellido",
    "apellidos",
    "api",
    "apt",
    "are",
    "avenue",
    "bank",
    "bedankt",
    "best",
    "beste",
    "birth",
    "bonjour",
    "buongiorno",
    "but",
    "calle",
    "can",
    "cara",
    "card",
    "cardholder",
    "caro",
    "cc",
    "ceo",
    "cheers",
    "cher",
    "chere",
    "ciao",
    "city",
    "client",
    "code",
    "cognome",
    "company",
    "contact",
    "corp",
    "correo",
    "could",
    "country",
    "cto",
    "customer",
    "danke",
    "date",
    "dear",
    "did",
    "director",
    "do",
    "dob",
    "does",
    "draft",
    "drive",
    "e",
    "e-mail",
    "email",
    "emergency",
    "estimada",
    "estimado",
    "et",
    "false",
    "fax",
    "flat",
    "from",
    "full",
    "fwd",
    "geboortedatum",
    "geburtsdatum",
    "geehrte",
    "geehrter",
    "gentile",
    "gmbh",
    "gracias",
    "grazie",
    "hallo",
    "he",
    "hello",
    "help",
    "her",
    "hey",
    "hi",
    "his",
    "hoi",
    "hola",
    "holder",
    "how",
    "hr",
    "http",
    "https",
    "i",
    "i'll",
    "i'm",
    "iban",
    "ich",
    "id",
    "if",
    "ik",
    "inc",
    "invoice",
    "io",
    "ip",
    "is",
    "it",
    "je",
    "json",
    "just",
    "kind",
    "lane",
    "liebe",
    "lieber",
    "llc",
    "ltd",
    "mail",
    "manager",
    "merci",
    "mit",
    "mobile",
    "my",
    "naam",
    "nachname",
    "name",
    "no",
    "nom",
    "nombre",
    "nome",
    "none",
    "not",
    "note",
    "nous",
    "null",
    "number",
    "ok",
    "okay",
    "or",
    "order",
    "our",
    "passport",
    "patient",
    "phone",
    "piazza",
    "plaza",
    "please",
    "postal",
    "querida",
    "querido",
    "re",
    "regards",
    "rewrite",
    "road",
    "rue",
    "sales",
    "salut",
    "sehr",
    "sent",
    "she",
    "should",
    "signed",
    "sincerely",
    "sql",
    "ssn",
    "state",
    "street",
    "studio",
    "subject",
    "suite",
    "summarize",
    "summary",
    "support",
    "team",
    "tel",
    "telefon",
    "telefono",
    "telephone",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "these",
    "they",
    "this",
    "those",
    "ticket",
    "to",
    "translate",
    "true",
    "und",
    "unit",
    "url",
    "user",
    "uuid",
    "via",
    "vorname",
    "was",
    "we",
    "we're",
    "what",
    "when",
    "where",
    "who",
    "why",
    "wir",
    "would",
    "write",
    "www",
    "y",
    "yes",
    "yo",
    "you",
    "your",
    "yours",
    "zip",
];
/// US street suffixes (USPS Publication 28, appendix C1, the common ones) and UK ones.
const STREET_TYPE_EN_WORDS: &[&str] = &[
    "alley",
    "aly",
    "approach",
    "av",
    "ave",
    "avenue",
    "bend",
    "bluff",
    "bluffs",
    "blvd",
    "bottom",
    "boulevard",
    "branch",
    "bridge",
    "broadway",
    "brook",
    "brooks",
    "burg",
    "burgs",
    "bypass",
    "byway",
    "camp",
    "canyon",
    "cape",
    "causeway",
    "center",
    "centers",
    "centre",
    "chase",
    "cir",
    "circle",
    "circles",
    "cliff",
    "cliffs",
    "close",
    "club",
    "common",
    "commons",
    "corner",
    "corners",
    "course",
    "court",
    "courts",
    "cove",
    "coves",
    "creek",
    "crescent",
    "crest",
    "crossing",
    "crossroad",
    "ct",
    "curve",
    "dale",
    "dam",
    "divide",
    "dr",
    "drive",
    "drives",
    "drives.",
    "embankment",
    "esplanade",
    "estate",
    "estates",
    "expressway",
    "extension",
    "extensions",
    "fall",
    "falls",
    "field",
    "fields",
    "flat",
    "flats",
    "ford",
    "fords",
    "forest",
    "forge",
    "forges",
    "fork",
    "forks",
    "freeway",
    "garden",
    "gardens",
    "gate",
    "gates",
    "gateway",
    "glen",
    "glens",
    "grange",
    "green",
    "greens",
    "grounds",
    "grove",
    "groves",
    "harbor",
    "harbors",
    "harbour",
    "haven",
    "heights",
    "highway",
    "hill",
    "hills",
    "hollow",
    "hwy",
    "inlet",
    "island",
    "islands",
    "isle",
    "junction",
    "junctions",
    "key",
    "keys",
    "knoll",
    "knolls",
    "lake",
    "lakes",
    "landing",
    "lane",
    "light",
    "lights",
    "ln",
    "lock",
    "locks",
    "lodge",
    "loop",
    "mall",
    "manor",
    "manors",
    "meadow",
    "meadows",
    "mews",
    "mill",
    "mills",
    "motorway",
    "mount",
    "mountain",
    "mountains",
    "neck",
    "orchard",
    "oval",
    "overpass",
    "parade",
    "park",
    "parks",
    "parkway",
    "pass",
    "passage",
    "path",
    "pike",
    "pine",
    "pines",
    "pkwy",
    "pl",
    "place",
    "plain",
    "plains",
    "plaza",
    "point",
    "points",
    "port",
    "ports",
    "prairie",
    "quay",
    "radial",
    "ramp",
    "ranch",
    "rapid",
    "rapids",
    "rd",
    "rest",
    "ridge",
    "ridges",
    "rise",
    "river",
    "road",
    "roads",
    "route",
    "row",
    "run",
    "shoal",
    "shoals",
    "shore",
    "shores",
    "skyway",
    "spring",
    "springs",
    "spur",
    "sq",
    "square",
    "squares",
    "st",
    "station",
    "stream",
    "street",
    "streets",
    "summit",
    "ter",
    "terrace",
    "throughway",
    "trace",
    "track",
    "trail",
    "trl",
    "tunnel",
    "turnpike",
    "underpass",
    "union",
    "unions",
    "valley",
    "valleys",
    "viaduct",
    "view",
    "views",
    "village",
    "villages",
    "ville",
    "vista",
    "walk",
    "walks",
    "wall",
    "way",
    "ways",
    "well",
    "wells",
    "wharf",
    "wynd",
    "yard",
    "yards",
];
/// Apartment, suite, floor and box designators inside an address.
const UNIT_WORDS: &[&str] = &[
    "apartment",
    "app",
    "appartamento",
    "appt",
    "apt",
    "bloque",
    "boite",
    "box",
    "bte",
    "bus",
    "esc",
    "escalera",
    "etage",
    "fl",
    "flat",
    "floor",
    "haus",
    "hs",
    "int",
    "interno",
    "piano",
    "piso",
    "planta",
    "portal",
    "psc",
    "puerta",
    "rm",
    "room",
    "scala",
    "ste",
    "stock",
    "studio",
    "suite",
    "unit",
    "whg",
    "wohnung",
];
/// Words that begin place names: "North", "Lake", "Saint", "Bad", "Castel".
const PLACE_PREFIX_WORDS: &[&str] = &[
    "alt", "bad", "borgo", "castel", "den", "east", "el", "fort", "great", "groot", "het", "isola",
    "klein", "la", "lake", "las", "le", "little", "los", "lower", "monte", "mount", "neu", "new",
    "nord", "north", "ost", "port", "porto", "puerto", "saint", "sainte", "san", "sankt", "santa",
    "santo", "south", "st", "ste", "sud", "upper", "villa", "west",
];
/// Words after which a capitalised name is a place whether or not the lists know it.
const PREP_STRONG_WORDS: &[&str] = &[
    "abito",
    "arrive",
    "arriving",
    "based",
    "born",
    "citta",
    "city",
    "ciudad",
    "country",
    "domicilio",
    "flew",
    "fly",
    "flying",
    "geboren",
    "habite",
    "hometown",
    "j'habite",
    "land",
    "live",
    "lives",
    "living",
    "located",
    "moved",
    "nacida",
    "nacido",
    "nata",
    "nato",
    "ne",
    "nee",
    "ort",
    "paese",
    "pais",
    "pays",
    "plaats",
    "province",
    "provincia",
    "region",
    "resident",
    "residente",
    "residenza",
    "stad",
    "town",
    "travel",
    "traveling",
    "travelling",
    "trip",
    "ville",
    "visit",
    "visiting",
    "vivo",
    "wohne",
    "wohnort",
    "woon",
    "woonplaats",
];
/// Prepositions after which a known (or place-shaped) name is a place.
const PREP_WEAK_WORDS: &[&str] = &[
    "a", "around", "at", "au", "aus", "aux", "bei", "bij", "cerca", "da", "dans", "depuis",
    "desde", "di", "en", "from", "hacia", "im", "in", "into", "naar", "nabij", "nach", "near",
    "outside", "per", "pres", "te", "to", "towards", "uit", "van", "vers", "via", "à",
];
/// Street types that come before the name ("Via", "rue", "Calle"), unambiguous.
const STREET_PREFIX_STRONG_WORDS: &[&str] = &[
    "allee",
    "avda",
    "avenida",
    "avenue",
    "barrio",
    "bd",
    "bld",
    "borgo",
    "boulevard",
    "calle",
    "callejon",
    "camino",
    "canada",
    "carrer",
    "carretera",
    "chemin",
    "contrada",
    "corso",
    "cours",
    "faubourg",
    "frazione",
    "glorieta",
    "impasse",
    "largo",
    "localita",
    "lungomare",
    "pasaje",
    "paseo",
    "passeig",
    "piazza",
    "piazzale",
    "plazuela",
    "poligono",
    "quai",
    "rambla",
    "ronda",
    "rua",
    "rue",
    "sector",
    "sentier",
    "strada",
    "traversa",
    "travesia",
    "urbanizacion",
    "via",
    "vial",
    "viale",
    "vicolo",
    "voie",
];
/// Street types that are common words too ("place", "route"): need a house number.
const STREET_PREFIX_WEAK_WORDS: &[&str] = &[
    "chaussee",
    "cite",
    "hameau",
    "lieu",
    "lieu-dit",
    "parvis",
    "passage",
    "place",
    "place your order",
    "plaza",
    "promenade",
    "residence",
    "rond",
    "route",
    "square",
    "square.",
];

/// The class table keyed by the word's hash: slots of (32-bit tag, bits), a few KiB,
/// stays in cache. Tags are the hash's low 32 bits with the top bit set (never 0);
/// a false match needs two words agreeing on 32 bits and on the slot.
struct ClassTable {
    slots: Vec<(u32, u32)>,
}

#[inline]
fn class_tag(h: u64) -> u32 {
    (h as u32) | (1 << 31)
}

impl ClassTable {
    #[inline]
    fn get(&self, h: u64) -> u32 {
        let mask = self.slots.len() - 1;
        let tag = class_tag(h);
        let mut i = (h >> 40) as usize & mask;
        for _ in 0..self.slots.len() {
            let (k, v) = self.slots[i];
            if k == tag {
                return v;
            }
            if k == 0 {
                return 0;
            }
            i = (i + 1) & mask;
        }
        0
    }
}

fn class_table() -> &'static ClassTable {
    static T: OnceLock<ClassTable> = OnceLock::new();
    T.get_or_init(|| {
        let m = class_map_build();
        let size = (m.len() * 4).next_power_of_two().max(1024);
        let mut slots = vec![(0u32, 0u32); size];
        for (w, bits) in m {
            let h = super::lexicon::hash(w);
            let tag = class_tag(h);
            let mut i = (h >> 40) as usize & (size - 1);
            while slots[i].0 != 0 && slots[i].0 != tag {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (tag, slots[i].1 | bits);
        }
        ClassTable { slots }
    })
}

fn class_map_build() -> FxHashMap<&'static str, u32> {
    {
        let mut m: FxHashMap<&'static str, u32> = FxHashMap::default();
        for (list, bit) in [
            (HONORIFIC_WORDS, HONORIFIC),
            (PARTICLE_WORDS, PARTICLE),
            (PERSON_PARTICLE_WORDS, PERSON_PARTICLE),
            (HARD_STOP_WORDS, HARD_STOP),
            (STREET_TYPE_EN_WORDS, STREET_TYPE_EN),
            (UNIT_WORDS, UNIT),
            (PLACE_PREFIX_WORDS, PLACE_PREFIX),
            (PREP_STRONG_WORDS, PREP_STRONG),
            (PREP_WEAK_WORDS, PREP_WEAK),
            (STREET_PREFIX_STRONG_WORDS, STREET_PREFIX_STRONG),
            (STREET_PREFIX_WEAK_WORDS, STREET_PREFIX_WEAK),
        ] {
            for w in list {
                *m.entry(w).or_default() |= bit;
            }
        }
        for t in PERSON_TRIGGERS {
            if let Some(last) = t.words.last() {
                *m.entry(last).or_default() |= TRIGGER_LAST;
            }
        }
        for w in LANDMARK_WORDS {
            *m.entry(w).or_default() |= LANDMARK;
        }
        for (w, _, _) in super::dates::MONTHS {
            *m.entry(w).or_default() |= MONTH;
        }
        for w in super::dates::WEEKDAYS {
            *m.entry(w).or_default() |= WEEKDAY;
        }
        m
    }
}

/// No closed-class word is longer (checked by a test), so longer words skip the lookup.
const MAX_CLASS_WORD: usize = 16;

// ------------------------------------------------------------------------------------
// small closed word classes (folded)
// ------------------------------------------------------------------------------------

/// Words that introduce a person's name right after them (folded phrases, last word
/// first in the match). `strong`: the name needs no list hit; `lower_ok`: a lowercase
/// name ("my name is teresa burgess") is accepted when its words are in the name lists.
struct Trigger {
    words: &'static [&'static str],
    strong: bool,
    lower_ok: bool,
    /// The gap after the trigger must contain one of `:` `=` (form labels).
    label: bool,
}

const fn t(words: &'static [&'static str], strong: bool, lower_ok: bool, label: bool) -> Trigger {
    Trigger {
        words,
        strong,
        lower_ok,
        label,
    }
}

const PERSON_TRIGGERS: &[Trigger] = &[
    // introductions
    t(&["my", "name", "is"], true, true, false),
    t(&["my", "name's"], true, true, false),
    t(&["i'm"], true, true, false),
    t(&["i", "am"], true, false, false),
    t(&["this", "is"], false, false, false),
    t(&["je", "m'appelle"], true, true, false),
    t(&["je", "suis"], false, false, false),
    t(&["mon", "nom", "est"], true, true, false),
    t(&["mi", "chiamo"], true, true, false),
    t(&["sono"], false, false, false),
    t(&["me", "llamo"], true, true, false),
    t(&["mi", "nombre", "es"], true, true, false),
    t(&["soy"], true, false, false),
    t(&["ich", "heisse"], true, true, false),
    t(&["ich", "heiße"], true, true, false),
    t(&["mein", "name", "ist"], true, true, false),
    t(&["ich", "bin"], false, false, false),
    t(&["ik", "ben"], true, false, false),
    t(&["ik", "heet"], true, true, false),
    t(&["mijn", "naam", "is"], true, true, false),
    t(&["called"], false, false, false),
    t(&["named"], true, false, false),
    // form labels and structured fields
    t(&["name"], true, false, true),
    t(&["naam"], true, false, false),
    t(&["nombre"], true, false, true),
    t(&["nom"], true, false, true),
    t(&["nome"], true, false, true),
    t(&["nominativo"], true, false, true),
    t(&["cardholder"], true, false, true),
    t(&["holder"], true, false, true),
    t(&["intestatario"], true, false, false),
    t(&["intestata", "a"], true, false, false),
    t(&["titular"], true, false, false),
    t(&["kontoinhaber"], true, false, false),
    t(&["titulaire"], true, false, false),
    t(&["rekeninghouder"], true, false, false),
    t(&["patient"], true, false, true),
    t(&["applicant"], true, false, true),
    t(&["customer"], true, false, false),
    t(&["client"], false, false, false),
    t(&["cliente"], true, false, false),
    t(&["kunde"], true, false, true),
    t(&["contact"], true, false, true),
    t(&["passenger"], true, false, true),
    t(&["guest"], true, false, true),
    t(&["employee"], true, false, true),
    t(&["beneficiary"], true, false, true),
    t(&["from"], true, false, true),
    t(&["signed"], false, false, false),
    t(&["author"], true, false, true),
    t(&["user"], false, false, true),
    // greetings and thanks
    t(&["dear"], true, false, false),
    t(&["hi"], true, false, false),
    t(&["hello"], true, false, false),
    t(&["hey"], true, false, false),
    t(&["ciao"], true, false, false),
    t(&["hallo"], true, false, false),
    t(&["hoi"], true, false, false),
    t(&["bonjour"], true, false, false),
    t(&["hola"], true, false, false),
    t(&["salut"], true, false, false),
    t(&["buongiorno"], true, false, false),
    t(&["liebe"], true, false, false),
    t(&["lieber"], true, false, false),
    t(&["beste"], true, false, false),
    t(&["cher"], true, false, false),
    t(&["chere"], true, false, false),
    t(&["caro"], true, false, false),
    t(&["cara"], true, false, false),
    t(&["gentile"], true, false, false),
    t(&["estimado"], true, false, false),
    t(&["estimada"], true, false, false),
    t(&["querido"], true, false, false),
    t(&["querida"], true, false, false),
    t(&["thanks"], true, false, false),
    t(&["thank", "you"], true, false, false),
    t(&["cheers"], true, false, false),
    t(&["grazie"], true, false, false),
    t(&["merci"], true, false, false),
    t(&["danke"], true, false, false),
    t(&["gracias"], true, false, false),
    // relations
    t(&["my", "friend"], true, false, false),
    t(&["my", "son"], true, false, false),
    t(&["my", "daughter"], true, false, false),
    t(&["my", "wife"], true, false, false),
    t(&["my", "husband"], true, false, false),
    t(&["my", "spouse"], true, false, false),
    t(&["my", "partner"], true, false, false),
    t(&["my", "colleague"], true, false, false),
    t(&["my", "boss"], true, false, false),
    t(&["my", "landlord"], true, false, false),
    t(&["my", "brother"], true, false, false),
    t(&["my", "sister"], true, false, false),
    t(&["my", "mother"], true, false, false),
    t(&["my", "father"], true, false, false),
    t(&["my", "mom"], true, false, false),
    t(&["my", "dad"], true, false, false),
    t(&["my", "neighbour"], true, false, false),
    t(&["my", "neighbor"], true, false, false),
    t(&["my", "client"], true, false, false),
    t(&["my", "manager"], true, false, false),
    t(&["mein", "freund"], true, false, false),
    t(&["meine", "freundin"], true, false, false),
    t(&["mon", "ami"], true, false, false),
    t(&["mon", "amie"], true, false, false),
    t(&["il", "mio", "amico"], true, false, false),
    t(&["la", "mia", "amica"], true, false, false),
    t(&["mi", "amigo"], true, false, false),
    t(&["mi", "amiga"], true, false, false),
    t(&["mijn", "vriend"], true, false, false),
    t(&["mijn", "vriendin"], true, false, false),
    // weaker: a name list hit is needed
    t(&["by"], false, false, false),
    t(&["met"], false, false, false),
    t(&["with"], false, false, false),
    t(&["for"], false, false, false),
    t(&["to"], false, false, false),
    t(&["and"], false, false, false),
    t(&["belongs", "to"], true, false, false),
    t(&["introduce", "you", "to"], true, false, false),
    t(&["spoke", "with"], true, false, false),
    t(&["spoke", "to"], true, false, false),
    t(&["talked", "to"], true, false, false),
    t(&["aan"], false, false, false),
    t(&["an"], false, false, false),
    t(&["a"], false, false, false),
];

/// Lines that close a letter: the next line is usually the sender's name.
fn closer(line: &str) -> bool {
    let l = line.trim().trim_end_matches([',', '!', '.', ' ']).trim();
    matches!(
        l,
        "regards"
            | "best regards"
            | "kind regards"
            | "warm regards"
            | "warmest regards"
            | "best wishes"
            | "best"
            | "cheers"
            | "thanks"
            | "thank you"
            | "many thanks"
            | "thanks again"
            | "sincerely"
            | "yours sincerely"
            | "yours faithfully"
            | "yours"
            | "all the best"
            | "cordialement"
            | "bien cordialement"
            | "bien a vous"
            | "salutations"
            | "sinceres salutations"
            | "mit freundlichen grussen"
            | "mit freundlichen grußen"
            | "mit freundlichem gruß"
            | "viele gruße"
            | "beste gruße"
            | "liebe gruße"
            | "gruß"
            | "gruße"
            | "freundliche gruße"
            | "herzliche gruße"
            | "mit freundlichem gruss"
            | "freundliche grusse"
            | "viele grusse"
            | "beste grusse"
            | "liebe grusse"
            | "gruss"
            | "grusse"
            | "lg"
            | "vg"
            | "mfg"
            | "saluti"
            | "cordiali saluti"
            | "distinti saluti"
            | "un saluto"
            | "a presto"
            | "grazie"
            | "atentamente"
            | "saludos"
            | "un saludo"
            | "saludos cordiales"
            | "cordialmente"
            | "met vriendelijke groet"
            | "vriendelijke groet"
            | "hartelijke groet"
            | "groeten"
            | "groetjes"
            | "mvg"
            | "love"
            | "xoxo"
            | "merci"
            | "danke"
            | "gracias"
    )
}

/// German and Dutch street names end in their type: "Riehlgasse", "Semdreef".
fn street_suffix(w: &str) -> bool {
    const SUF: &[&str] = &[
        "strasse",
        "straße",
        "str",
        "gasse",
        "weg",
        "allee",
        "platz",
        "ring",
        "damm",
        "ufer",
        "steig",
        "pfad",
        "chaussee",
        "markt",
        "wall",
        "graben",
        "garten",
        "hof",
        "berg",
        "straat",
        "laan",
        "dreef",
        "plein",
        "singel",
        "gracht",
        "kade",
        "pad",
        "steeg",
        "dijk",
        "dyk",
        "hof",
        "park",
        "baan",
        "erf",
        "wal",
        "veld",
        "kamp",
        "hoek",
        "plantsoen",
        "markt",
    ];
    SUF.iter().any(|s| w.len() > s.len() + 2 && w.ends_with(s))
        || matches!(w, "str" | "strasse" | "straße")
}

const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP",
];

/// English toponymic endings ("-burgh", "-mouth", "-ville"...) and French compounds.
fn toponym_shape(w: &str) -> bool {
    const SUF: &[&str] = &[
        "burgh", "borough", "bury", "berg", "burg", "chester", "caster", "fort", "furt", "haven",
        "land", "mouth", "port", "shire", "side", "stad", "stadt", "ton", "town", "view", "ville",
        "field", "ford", "dale", "wood", "ham", "wick", "by", "thorpe", "stead", "minster",
        "bridge", "brook", "mont",
    ];
    if w.len() < 5 {
        return false;
    }
    if w.contains('-')
        && (w.contains("-sur-")
            || w.contains("-les-")
            || w.contains("-en-")
            || w.contains("-le-")
            || w.contains("-la-")
            || w.contains("-de-")
            || w.contains("-sous-"))
    {
        return true;
    }
    SUF.iter().any(|s| w.len() >= s.len() + 3 && w.ends_with(s))
}

// ------------------------------------------------------------------------------------
// the pass
// ------------------------------------------------------------------------------------

struct Ctx<'a> {
    text: &'a str,
    b: &'a [u8],
    w: &'a Words,
    lex: &'a Lexicon,
    ents: Vec<Entry>,
    /// What lies between word i-1 and word i ([`G_JOINED`]...), computed once.
    gaps: Vec<u8>,
}

const G_JOINED: u8 = 1;
const G_NL: u8 = 2;
const G_SENT: u8 = 4;
const G_DIGIT: u8 = 8;

/// Classifies the bytes between two words (or before the first one).
fn gap_bits(g: &[u8], first: bool) -> u8 {
    let mut bits = 0;
    if !g.is_empty() && g.len() <= 2 && g.iter().all(|&c| c == b' ') {
        bits |= G_JOINED;
    }
    if memchr::memchr(b'\n', g).is_some() {
        bits |= G_NL | G_SENT;
    }
    if g.iter().any(u8::is_ascii_digit) {
        bits |= G_DIGIT;
    }
    // sentence start: after . ! ? : (ignoring quotes, brackets, bullets), or at the top
    let mut e = g.len();
    while e > 0
        && matches!(
            g[e - 1],
            b' ' | b'"' | b'\'' | b'(' | b'*' | b'>' | b'-' | b'|' | b'\t'
        )
    {
        e -= 1;
    }
    if (first && g[..e].iter().all(u8::is_ascii_whitespace))
        || (e > 0 && matches!(g[e - 1], b'.' | b'!' | b'?' | b':'))
    {
        bits |= G_SENT;
    }
    bits
}

impl<'a> Ctx<'a> {
    #[inline]
    fn is(&self, i: usize, bit: u32) -> bool {
        self.w.classes(i) & bit != 0
    }
    fn prep(&self, i: usize) -> u8 {
        if self.is(i, PREP_STRONG) {
            2
        } else if self.is(i, PREP_WEAK) {
            1
        } else {
            0
        }
    }
    fn sprefix(&self, i: usize) -> u8 {
        if self.is(i, STREET_PREFIX_STRONG) {
            2
        } else if self.is(i, STREET_PREFIX_WEAK) {
            1
        } else {
            0
        }
    }
    fn n(&self) -> usize {
        self.w.len()
    }
    fn f(&self, i: usize) -> &str {
        self.w.folded(i)
    }
    fn cap(&self, i: usize) -> bool {
        self.w.flags(i) & CAP != 0 && self.w.flags(i) & UPPER == 0
    }
    fn lower(&self, i: usize) -> bool {
        self.w.flags(i) & LOWER != 0
    }
    fn s(&self, i: usize) -> usize {
        self.w.span(i).0
    }
    fn e(&self, i: usize) -> usize {
        self.w.span(i).1
    }
    /// The bytes between word i-1 and word i.
    fn gap(&self, i: usize) -> &'a str {
        let lo = if i == 0 { 0 } else { self.e(i - 1) };
        self.text.get(lo..self.s(i)).unwrap_or("")
    }
    /// The bytes right after word i up to word i+1 (or the end).
    fn gap_after(&self, i: usize) -> &'a str {
        let hi = if i + 1 < self.n() {
            self.s(i + 1)
        } else {
            self.text.len()
        };
        self.text.get(self.e(i)..hi).unwrap_or("")
    }
    fn ent(&self, i: usize) -> Entry {
        self.ents[i]
    }
    fn lookup(&self, i: usize) -> Entry {
        let e = self.ents[i];
        if e != Entry::default() || self.w.flags(i) & CAP != 0 {
            return e;
        }
        self.lex.get_hashed(self.w.hash(i))
    }
    /// Word i starts a sentence (or a line).
    #[inline]
    fn sentence_start(&self, i: usize) -> bool {
        self.gaps[i] & G_SENT != 0
    }
    /// Words i-1 and i are in one phrase: only spaces (one or two) between them.
    #[inline]
    fn joined(&self, i: usize) -> bool {
        self.gaps[i] & G_JOINED != 0
    }
    #[inline]
    fn gap_has_newline(&self, i: usize) -> bool {
        self.gaps[i] & G_NL != 0
    }
    #[inline]
    fn gap_has_digit(&self, i: usize) -> bool {
        self.gaps[i] & G_DIGIT != 0
    }
    fn initial(&self, i: usize) -> bool {
        let (s, e) = self.w.span(i);
        e - s == 1 && self.b[s].is_ascii_uppercase() && self.b.get(e) == Some(&b'.')
    }
    /// A capitalised word that can be part of a name.
    fn nameish(&self, i: usize) -> bool {
        if !self.cap(i) || self.is(i, HARD_STOP) || self.is(i, HONORIFIC) {
            return false;
        }
        let e = self.ent(i);
        e.zipf < 50 || e.surname || e.first >= 6
    }
    /// A word that is probably a first name.
    fn first_name(&self, i: usize) -> bool {
        let e = self.ent(i);
        let f = self.f(i);
        if e.first > 0 && (e.zipf < 50 || e.first >= 9) {
            return true;
        }
        // hyphenated first names: "Jens-Uwe", "Anne-Kathrin"
        if f.contains('-') && !f.contains("--") {
            let parts: Vec<&str> = f.split('-').collect();
            return parts.len() == 2 && parts.iter().all(|p| self.lex.get(p).first > 0);
        }
        false
    }
    fn surname_like(&self, i: usize) -> bool {
        let e = self.ent(i);
        e.surname
            || e.zipf < 40
            || (self.f(i).contains('-')
                && self
                    .f(i)
                    .split('-')
                    .all(|p| self.lex.get(p).surname || self.lex.get(p).zipf < 40))
    }

    /// The words of a name starting at i: capitalised words, initials and particles,
    /// joined by single spaces. Returns the index past the last name word.
    fn chain(&self, i: usize, max: usize, lower_ok: bool) -> usize {
        // a lowercase name ("teresa burgess") only when it starts lowercase
        let lower_ok = lower_ok && i < self.n() && self.lower(i);
        let mut j = i;
        let mut last_good = i;
        while j < self.n() && j - i < max + 2 {
            if j > i && !self.joined(j) && !(self.initial(j - 1) && self.gap(j) == ". ") {
                break;
            }
            let ok_word = if self.nameish(j) || self.initial(j) {
                true
            } else if j > i
                && self.lower(j)
                && self.is(j, PERSON_PARTICLE)
                && j + 1 < self.n()
                && self.joined(j + 1)
                && (self.nameish(j + 1) || self.is(j + 1, PERSON_PARTICLE))
            {
                // particle ("van der", "de"): only inside, never last
                j += 1;
                continue;
            } else if lower_ok && self.lower(j) && !self.is(j, HARD_STOP) {
                let e = self.lookup(j);
                e.first > 0 || e.surname
            } else {
                false
            };
            if !ok_word {
                break;
            }
            j += 1;
            last_good = j;
            if last_good - i >= max {
                break;
            }
            if self.initial(j - 1) {
                continue;
            }
            // stop at punctuation right after the word
            let after = self.gap_after(j - 1);
            if !after.starts_with(' ') || after.starts_with("  ") {
                break;
            }
        }
        // do not end on an initial
        while last_good > i && self.initial(last_good - 1) {
            last_good -= 1;
        }
        last_good
    }
}

fn triggers_by_last() -> &'static FxHashMap<&'static str, Vec<u16>> {
    static MAP: OnceLock<FxHashMap<&'static str, Vec<u16>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: FxHashMap<&'static str, Vec<u16>> = FxHashMap::default();
        for (k, t) in PERSON_TRIGGERS.iter().enumerate() {
            if let Some(last) = t.words.last() {
                m.entry(last).or_default().push(k as u16);
            }
        }
        m
    })
}

fn trigger_ends_at(c: &Ctx<'_>, i: usize) -> Option<&'static Trigger> {
    if !c.is(i, TRIGGER_LAST) {
        return None;
    }
    let cands = triggers_by_last().get(c.f(i))?;
    // longest phrase first: "my name is" before "is"
    let mut best: Option<&'static Trigger> = None;
    for &k in cands {
        let t = PERSON_TRIGGERS.get(k as usize)?;
        let n = t.words.len();
        if i + 1 < n {
            continue;
        }
        let first = i + 1 - n;
        let ok =
            (0..n).all(|j| c.f(first + j) == t.words[j]) && (first + 1..=i).all(|j| c.joined(j));
        if ok && best.is_none_or(|b| b.words.len() < n) {
            best = Some(t);
        }
    }
    best
}

pub fn detect(
    s: &mut Scan<'_>,
    words: &Words,
    lex: &Lexicon,
    digit_runs: &[(usize, usize)],
    want_person: bool,
    want_location: bool,
) {
    let text = s.text;
    // only capitalised words go to the big table up front (lowercase ones on demand)
    let ents: Vec<Entry> = (0..words.len())
        .map(|i| {
            if words.flags(i) & CAP != 0 {
                lex.get_hashed(words.hash(i))
            } else {
                Entry::default()
            }
        })
        .collect();
    let b = text.as_bytes();
    let mut gaps = Vec::with_capacity(words.len());
    let mut prev_end = 0;
    for i in 0..words.len() {
        let (st, en) = words.span(i);
        gaps.push(gap_bits(&b[prev_end..st], i == 0));
        prev_end = en;
    }
    let c = Ctx {
        text,
        b,
        w: words,
        lex,
        ents,
        gaps,
    };
    let mut out: Vec<Cand> = Vec::new();
    tables(&c, &mut out, want_person, want_location);
    if want_location {
        addresses(&c, &mut out, digit_runs);
        places(&c, &mut out);
    }
    if want_person {
        persons(&c, &mut out);
    }
    for cand in out {
        s.push(cand.entity, cand.start, cand.end, cand.score);
    }
}

fn person(c: &Ctx<'_>, out: &mut Vec<Cand>, i: usize, j: usize, score: f32) {
    if j > i {
        out.push(Cand {
            entity: PiiEntity::Person,
            start: c.s(i),
            end: c.e(j - 1),
            score,
        });
    }
}

fn persons(c: &Ctx<'_>, out: &mut Vec<Cand>) {
    let n = c.n();
    let mut covered = 0usize; // words before this index are inside a found name
    let mut i = 0;
    while i < n {
        // only capitalised words, honorifics and trigger words can start a name
        if !c.cap(i) && !c.is(i, HONORIFIC | TRIGGER_LAST) && c.w.flags(i) & UPPER == 0 {
            i += 1;
            continue;
        }
        // honorific + name: "Herr Lehmann", "Mr. Cruz", "Madame Neveu", "Herr wulff"
        if c.is(i, HONORIFIC) && (c.cap(i) || c.w.flags(i) & UPPER != 0) && i + 1 < n {
            let g = c.gap(i + 1);
            if matches!(g, " " | ". " | " .") || g == "." {
                let mut j = c.chain(i + 1, 4, false);
                if j == i + 1
                    && c.lower(i + 1)
                    && !c.is(i + 1, HARD_STOP)
                    && c.lookup(i + 1).zipf < 45
                {
                    j = i + 2;
                }
                if j > i + 1 {
                    person(c, out, i + 1, j, 0.9);
                    covered = j;
                    i = j;
                    continue;
                }
            }
        }
        // trigger phrase + name
        if let Some(t) = trigger_ends_at(c, i) {
            if i + 1 < n {
                let g = c.gap(i + 1);
                let label_ok = !t.label || g.contains(':') || g.contains('=') || g.contains('"');
                let gap_ok = g.len() <= 6 && !g.contains('\n')
                    || (t.label
                        && g.trim_start_matches([':', '=', ' ', '"', '\'']).is_empty()
                        && g.len() <= 8);
                let greeting = matches!(
                    t.words[0],
                    "dear"
                        | "hi"
                        | "hello"
                        | "hey"
                        | "ciao"
                        | "hallo"
                        | "hoi"
                        | "bonjour"
                        | "hola"
                        | "salut"
                        | "buongiorno"
                        | "liebe"
                        | "lieber"
                        | "beste"
                        | "cher"
                        | "chere"
                        | "caro"
                        | "cara"
                        | "gentile"
                        | "estimado"
                        | "estimada"
                        | "querido"
                        | "querida"
                        | "thanks"
                        | "cheers"
                        | "grazie"
                        | "merci"
                        | "danke"
                        | "gracias"
                );
                let trigger_ok =
                    label_ok && gap_ok && (!greeting || c.sentence_start(i + 1 - t.words.len()));
                if trigger_ok {
                    let j = c.chain(i + 1, 4, t.lower_ok);
                    if j > i + 1 {
                        let pair = t.words == ["and"]
                            || t.words == ["y"]
                            || t.words == ["et"]
                            || t.words == ["und"];
                        let first_ok = c.first_name(i + 1)
                            && !c.is(i + 1, PLACE_PREFIX)
                            && (!pair || j - i > 2);
                        if t.strong || first_ok {
                            let score = if t.strong { 0.85 } else { 0.78 };
                            person(c, out, i + 1, j, score);
                            covered = j;
                            i = j;
                            continue;
                        }
                    }
                }
            }
        }
        if i < covered {
            i += 1;
            continue;
        }
        // a line after a letter's closing ("Best regards,\nNicole Davis")
        if c.cap(i) && i > 0 && c.gap_has_newline(i) {
            let line_start = c
                .gap(i)
                .rfind('\n')
                .map(|p| c.s(i) - (c.gap(i).len() - p) + 1)
                .unwrap_or(0);
            let prev_line_end = line_start.saturating_sub(1);
            let prev_line_begin = text_line_start(c.text, prev_line_end);
            let prev_line =
                crate::text::fold(c.text.get(prev_line_begin..prev_line_end).unwrap_or(""));
            let dash = c
                .text
                .get(line_start..c.s(i))
                .is_some_and(|p| p.trim() == "—" || p.trim() == "--" || p.trim() == "-");
            if closer(prev_line.trim_start_matches(['>', ' '])) || dash {
                let j = c.chain(i, 4, false);
                if j > i {
                    person(c, out, i, j, 0.85);
                    covered = j;
                    i = j;
                    continue;
                }
            }
        }
        if c.gap(i).ends_with("— ") || c.gap(i).ends_with("-- ") {
            let j = c.chain(i, 4, false);
            if j > i && c.first_name(i) {
                person(c, out, i, j, 0.8);
                covered = j;
                i = j;
                continue;
            }
        }
        // first name from the lists + more name words: "Laura Barr", "Andrew K. Jones"
        if c.cap(i) && c.first_name(i) && !c.is(i, PLACE_PREFIX) {
            let j = c.chain(i, 5, false);
            let e = c.ent(i);
            let common = e.zipf >= 45;
            let not_person = firm_after(c, j)
                || (j > i
                    && (c.is(j - 1, LANDMARK)
                        || (c.is(j - 1, STREET_TYPE_EN) && !c.ent(j - 1).surname)))
                || (j < n && c.joined(j) && c.is(j, LANDMARK | STREET_TYPE_EN) && c.cap(j));
            if not_person {
                i = j.max(i + 1);
                continue;
            }
            if j >= i + 2 {
                let last = j - 1;
                let ok = c.surname_like(last) || c.first_name(last) || j - i >= 3;
                if ok && (!common || !c.sentence_start(i) || c.ent(last).surname) {
                    person(c, out, i, j, 0.78);
                    covered = j;
                    i = j;
                    continue;
                }
            } else if !c.sentence_start(i) || lone_line(c, i) {
                // a lone first name mid-sentence ("my friend Bryan" is a trigger; "For
                // context, Rosenda already sent"): only rarer words, not glued to other
                // capitalised words ("Boyd, Scott and Lutz" is a firm)
                let next_cap = i + 1 < n && c.cap(i + 1) && c.gap(i + 1).len() <= 2;
                let prev_cap = i > 0 && c.cap(i - 1) && c.gap(i).len() <= 2;
                let firm = (i + 1 < n
                    && matches!(c.f(i + 1), "and" | "und" | "et")
                    && i + 2 < n
                    && c.cap(i + 2))
                    || (i > 0
                        && matches!(c.f(i - 1), "and" | "und" | "et")
                        && i > 1
                        && c.cap(i - 2))
                    || c.gap_after(i).starts_with(" &")
                    || c.gap(i).ends_with("& ");
                let rare_enough = e.zipf < 40 || (e.first >= 9 && e.zipf < 50);
                if !next_cap && !prev_cap && !firm && rare_enough && e.first >= 3 {
                    person(c, out, i, i + 1, 0.6);
                }
            }
        }
        i += 1;
    }
}

/// Word i is alone on its line (a signature: "Germana").
/// A company form right after word j-1: "Arranz Arrieta S.L.", "Bianchi e figli",
/// "Minería Anguita & Asociados".
fn firm_after(c: &Ctx<'_>, j: usize) -> bool {
    if j == 0 {
        return false;
    }
    let rest = &c.b[c.e(j - 1)..];
    [
        " S.L",
        " S.A",
        " SL",
        " SA ",
        " S.C",
        " S.r.l",
        " s.r.l",
        " Srl",
        " SRL",
        " S.p.A",
        " SpA",
        " GmbH",
        " AG",
        " KG",
        " Ltd",
        " LLC",
        " Inc",
        " PLC",
        " plc",
        " BV",
        " B.V",
        " NV",
        " N.V",
        " SARL",
        " SAS",
        " & ",
        " and Sons",
        " e figli",
        " e Figli",
        " y Asociados",
        " y asociados",
        " e Associati",
        " und Partner",
        " & Co",
        ", Inc",
        " Group",
        " Gruppe",
        " Groep",
    ]
    .iter()
    .any(|p| rest.starts_with(p.as_bytes()))
}

fn lone_line(c: &Ctx<'_>, i: usize) -> bool {
    let after = c
        .gap_after(i)
        .trim_start_matches([' ', ',', '\r', '.', '!']);
    c.gap_has_newline(i) && (after.is_empty() || after.starts_with('\n'))
}

fn text_line_start(text: &str, at: usize) -> usize {
    let b = text.as_bytes();
    let mut i = at.min(b.len());
    while i > 0 && b[i - 1] != b'\n' {
        i -= 1;
    }
    i
}

// ------------------------------------------------------------------------------------
// places
// ------------------------------------------------------------------------------------

fn loc(out: &mut Vec<Cand>, start: usize, end: usize, score: f32) {
    if end > start {
        out.push(Cand {
            entity: PiiEntity::Location,
            start,
            end,
            score,
        });
    }
}

/// The byte span of a place name starting at word i: capitalised words (and inner
/// particles), joined by spaces, possibly hyphenated. Returns (end word, end byte).
fn place_chain(c: &Ctx<'_>, i: usize, max: usize) -> usize {
    let mut j = i;
    let mut last = i;
    while j < c.n() && j - i < max + 2 {
        if j > i && !c.joined(j) {
            break;
        }
        if c.cap(j) && !c.is(j, HARD_STOP) {
            j += 1;
            last = j;
        } else if j > i
            && c.lower(j)
            && c.is(j, PARTICLE)
            && j + 1 < c.n()
            && c.joined(j + 1)
            && c.cap(j + 1)
        {
            j += 1;
        } else {
            break;
        }
        if last - i >= max {
            break;
        }
        let after = c.gap_after(last - 1);
        if !after.starts_with(' ') {
            break;
        }
    }
    last
}

fn is_place(c: &Ctx<'_>, i: usize, j: usize) -> u8 {
    if j == i + 1 {
        return c.ent(i).place;
    }
    let mut key = String::with_capacity(32);
    for k in i..j {
        if k > i {
            key.push(' ');
        }
        key.push_str(c.f(k));
    }
    c.lex.get(&key).place
}

/// The longest known place starting at word i (up to the head's word count).
fn known_place(c: &Ctx<'_>, i: usize) -> Option<(usize, u8)> {
    let e = c.ent(i);
    let max = (e.head as usize).max(1);
    let end = place_chain(c, i, max);
    let mut j = end;
    while j > i {
        let p = is_place(c, i, j);
        if p > 0 {
            return Some((j, p));
        }
        j -= 1;
    }
    None
}

/// A programming language or product, not a place: "TypeScript", "Rust SDK", "Kotlin 1.9".
fn techy(c: &Ctx<'_>, i: usize) -> bool {
    let (s, e) = c.w.span(i);
    let w = &c.b[s..e];
    // "TypeScript", "GitHub": a capital right after a small letter (not after a hyphen)
    let camel = w
        .windows(2)
        .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
    let after = c.gap_after(i);
    let next_acronym = i + 1 < c.n() && c.joined(i + 1) && c.w.flags(i + 1) & UPPER != 0;
    let version = after.starts_with(' ')
        && after[1..].starts_with(|ch: char| ch.is_ascii_digit() || ch == 'v');
    camel
        || next_acronym
        || version
        || after.starts_with('.') && after[1..].starts_with(|ch: char| ch.is_ascii_lowercase())
}

/// "born on 3 May 1970 in X", "né le 13/11/1957 à X": a birth word earlier in the
/// sentence makes a weak preposition a strong one.
fn born_before(c: &Ctx<'_>, i: usize) -> bool {
    let lo = i.saturating_sub(8);
    for k in (lo..i.saturating_sub(1)).rev() {
        if c.gap(k + 1).contains(['.', '!', '?', '\n']) && c.gap(k + 1).trim() != "." {
            return false;
        }
        if matches!(
            c.f(k),
            "born"
                | "ne"
                | "nee"
                | "nato"
                | "nata"
                | "geboren"
                | "geb"
                | "nacido"
                | "nacida"
                | "naci"
                | "nacio"
                | "birthplace"
        ) {
            return true;
        }
    }
    false
}

fn places(c: &Ctx<'_>, out: &mut Vec<Cand>) {
    let n = c.n();
    let mut i = 0;
    while i < n {
        if !c.cap(i) || c.is(i, HONORIFIC) || techy(c, i) {
            i += 1;
            continue;
        }
        let prep = if i > 0
            && (c.joined(i) || c.gap(i).ends_with([' ', '=', ':']) && c.gap(i).len() <= 3)
        {
            c.prep(i - 1)
        } else {
            0
        };
        // "born in X", "country=X": the word before the preposition counts too
        let prep = if prep == 1 && (i > 1 && c.prep(i - 2) == 2 || born_before(c, i)) {
            2
        } else {
            prep
        };
        let known = known_place(c, i).filter(|&(j, _)| {
            // "Port Victor", "Lake Amy": a known one-word place that prefixes a name is
            // not the whole place
            !(j == i + 1 && c.is(i, PLACE_PREFIX) && j < n && c.joined(j) && c.cap(j))
                && !(prep == 2 && place_chain(c, i, 4) > j)
        });
        if let Some((j, kind)) = known {
            let e = c.ent(i);
            let common = e.zipf >= 40 || e.first >= 5 || (e.surname && kind != COUNTRY);
            let firm = j < n && c.joined(j) && c.is(j, LANDMARK);
            // a country that is also a surname ("France", "Canada") is still a country;
            // one that is a first name ("Jordan", "Chad") needs a preposition
            let person_like = e.first >= 3 || (e.surname && kind != COUNTRY);
            let score = if firm {
                0.0
            } else if kind == COUNTRY && !person_like {
                0.75
            } else if prep == 2 {
                0.82
            } else if prep >= 1 {
                if common {
                    0.6
                } else {
                    0.75
                }
            } else if !c.sentence_start(i)
                && (!common || (e.zipf < 50 && !person_like && kind >= 1))
            {
                0.55
            } else {
                0.0
            };
            if score > 0.0 {
                let mut st = c.s(i);
                // "the United States", "the Netherlands"
                if i > 0
                    && c.f(i - 1) == "the"
                    && kind == COUNTRY
                    && c.joined(i)
                    && (j - i >= 2 || c.f(i).ends_with('s'))
                {
                    st = c.s(i - 1);
                }
                loc(out, st, c.e(j - 1), score);
                i = j;
                continue;
            }
        }
        // unknown names after strong place words, or place-shaped names
        let j = place_chain(c, i, 4);
        if j > i {
            let shaped = (i..j).any(|k| c.ent(k).zipf < 35 && toponym_shape(c.f(k)))
                || (j - i >= 2 && c.is(i, PLACE_PREFIX) && c.ent(j - 1).zipf < 45);
            let e = c.ent(i);
            let unknown = j == i + 1
                && e.zipf == 0
                && e.first == 0
                && !e.surname
                && c.w.flags(i) & UPPER == 0;
            let score = if prep == 2 {
                0.82
            } else if shaped && prep == 1 {
                0.7
            } else if (shaped && !c.sentence_start(i) && e.first == 0)
                || (unknown
                    && prep == 1
                    && matches!(
                        c.f(i - 1),
                        "in" | "a"
                            | "en"
                            | "nach"
                            | "te"
                            | "bij"
                            | "aus"
                            | "uit"
                            | "de"
                            | "di"
                            | "da"
                    ))
            {
                // a place-shaped name, or an unknown capitalised word after "in"
                0.5
            } else {
                0.0
            };
            if score > 0.0 {
                loc(out, c.s(i), c.e(j - 1), score);
                i = j;
                continue;
            }
        }
        i += 1;
    }
}

// ------------------------------------------------------------------------------------
// street addresses
// ------------------------------------------------------------------------------------

/// A house number at byte i: digits, optional letter, optional "-12" / "/4" / " bis".
fn house_number(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    let n = j - i;
    if n == 0 || n > 6 {
        return None;
    }
    if j < b.len()
        && b[j].is_ascii_alphabetic()
        && !b.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        j += 1;
    }
    if j + 1 < b.len() && matches!(b[j], b'-' | b'/') && b[j + 1].is_ascii_digit() {
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k - j <= 5 {
            j = k;
        }
        if j < b.len()
            && b[j].is_ascii_alphabetic()
            && !b.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            j += 1;
        }
    }
    if b.get(j).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(j)
}

/// Postal codes: 5 digits (DE, FR, IT, ES, US ZIP with optional +4), 4 digits + 2
/// letters (NL), UK postcodes. Returns the end.
fn postal_code(b: &[u8], i: usize) -> Option<usize> {
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end_ok = |j: usize| !b.get(j).is_some_and(|c| c.is_ascii_alphanumeric());
    if digits == 5 {
        let j = i + 5;
        if b.get(j) == Some(&b'-')
            && b[j + 1..].iter().take_while(|c| c.is_ascii_digit()).count() == 4
        {
            return Some(j + 5);
        }
        return end_ok(j).then_some(j);
    }
    if digits == 4 {
        let mut j = i + 4;
        if b.get(j) == Some(&b' ') {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_uppercase)
            && b.get(j + 1).is_some_and(u8::is_ascii_uppercase)
            && end_ok(j + 2)
        {
            return Some(j + 2);
        }
        return end_ok(i + 4).then_some(i + 4);
    }
    uk_postcode(b, i)
}

fn uk_postcode(b: &[u8], i: usize) -> Option<usize> {
    // outward: A9, A9A, A99, AA9, AA9A, AA99; inward: 9AA
    let up = |j: usize| b.get(j).is_some_and(u8::is_ascii_uppercase);
    let dg = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    if !up(i) {
        return None;
    }
    let mut j = i + 1;
    if up(j) {
        j += 1;
    }
    if !dg(j) {
        return None;
    }
    j += 1;
    if dg(j) || up(j) {
        j += 1;
    }
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    if dg(j) && up(j + 1) && up(j + 2) && !b.get(j + 3).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Some(j + 3);
    }
    None
}

/// ", ST 12345" within a few words after byte `at` (a cheap test before the real one).
fn state_zip_ahead(b: &[u8], at: usize) -> bool {
    let hi = (at + 40).min(b.len());
    memchr::memchr(b',', &b[at..hi]).is_some_and(|p| {
        let j = at + p;
        b.get(j + 1) == Some(&b' ')
            && b.get(j + 2).is_some_and(u8::is_ascii_uppercase)
            && b.get(j + 3).is_some_and(u8::is_ascii_uppercase)
            && b.get(j + 4) == Some(&b' ')
            && b.get(j + 5).is_some_and(u8::is_ascii_digit)
    })
}

/// Index of the first word starting at or after byte `at`.
fn word_at(c: &Ctx<'_>, at: usize) -> Option<usize> {
    let n = c.n();
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if c.s(mid) < at {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo < n).then_some(lo)
}

/// Extends an address ending at byte `end` over what usually follows a street: unit,
/// house number, postal code, city, province "(NO)", state + ZIP. `lines` lets it
/// cross one line break (US two-line addresses).
fn extend_address(c: &Ctx<'_>, mut end: usize, lines: bool) -> usize {
    let b = c.b;
    let mut crossed = false;
    let mut after_postal = false;
    for _ in 0..6 {
        // separator
        let mut j = end;
        let mut had_comma = false;
        while j < b.len() && matches!(b[j], b' ' | b',' | b'\n') {
            if b[j] == b'\n' {
                if crossed || !lines {
                    break;
                }
                crossed = true;
            }
            if b[j] == b',' {
                had_comma = true;
            }
            j += 1;
        }
        // nothing more, or no separator before what follows (a "(NO)" may follow directly)
        if j >= b.len() || (j == end && b[j] != b'(') {
            break;
        }
        if b[end..j].contains(&b'\n') && b[end..j].iter().filter(|&&x| x == b'\n').count() > 1 {
            break;
        }
        // house number or postal code
        if b[j].is_ascii_digit() {
            if let Some(e) = postal_code(b, j) {
                end = e;
                after_postal = true;
                continue;
            }
            if let Some(e) = house_number(b, j) {
                end = e;
                after_postal = false;
                continue;
            }
            break;
        }
        // "(NO)" province
        if b[j] == b'('
            && b.get(j + 1).is_some_and(u8::is_ascii_uppercase)
            && b.get(j + 2).is_some_and(u8::is_ascii_uppercase)
            && b.get(j + 3) == Some(&b')')
        {
            end = j + 4;
            continue;
        }
        // state + ZIP: "OK 99519"
        if j + 2 < b.len()
            && b[j].is_ascii_uppercase()
            && b[j + 1].is_ascii_uppercase()
            && b[j + 2] == b' '
        {
            let st = std::str::from_utf8(&b[j..j + 2]).unwrap_or("");
            if US_STATES.contains(&st)
                && b[j + 3..].iter().take_while(|c| c.is_ascii_digit()).count() == 5
            {
                end = postal_code(b, j + 3).unwrap_or(j + 8);
                continue;
            }
        }
        if let Some(e) = uk_postcode(b, j) {
            end = e;
            after_postal = true;
            continue;
        }
        let Some(wi) = word_at(c, j) else { break };
        if c.s(wi) != j {
            break;
        }
        // unit: "Apt. 116", "Piso 4", "Suite 454"
        if c.is(wi, UNIT) {
            let mut k = c.e(wi);
            if b.get(k) == Some(&b'.') {
                k += 1;
            }
            if b.get(k) == Some(&b' ') {
                k += 1;
            }
            if let Some(e) = house_number(b, k) {
                end = e;
                continue;
            }
        }
        // a city: capitalised words, only after a comma, a postal code or a line break
        if c.cap(wi)
            && (had_comma
                || after_postal
                || b[end.saturating_sub(1)].is_ascii_digit()
                || b[end..j].contains(&b'\n'))
            && !c.is(wi, HARD_STOP)
        {
            let k = place_chain(c, wi, 4);
            if k > wi {
                end = c.e(k - 1);
                continue;
            }
        }
        break;
    }
    end
}

fn addresses(c: &Ctx<'_>, out: &mut Vec<Cand>, digit_runs: &[(usize, usize)]) {
    let b = c.b;
    let n = c.n();
    let mut i = 0;
    while i < n {
        let f = c.f(i);
        // German / Dutch: "Riehlgasse 2-8", "van der Dussenstr. 79-28", "Semdreef 83"
        let mut k = c.e(i);
        if b.get(k) == Some(&b'.') {
            k += 1;
        }
        let number_next = b.get(k) == Some(&b' ') && b.get(k + 1).is_some_and(u8::is_ascii_digit);
        if !c.cap(i) && !number_next && !c.is(i, STREET_PREFIX_STRONG | STREET_PREFIX_WEAK) {
            i += 1;
            continue;
        }
        // the house number first: it is cheap to test and rare
        if b.get(k) == Some(&b' ')
            && b.get(k + 1).is_some_and(u8::is_ascii_digit)
            && street_suffix(f)
            && (c.cap(i) || c.lower(i))
        {
            {
                if let Some(he) = house_number(b, k + 1) {
                    let mut st = i;
                    while st > 0
                        && c.joined(st)
                        && (c.is(st - 1, PARTICLE) && c.lower(st - 1)
                            || c.cap(st - 1) && !c.is(st - 1, HARD_STOP) && c.ent(st - 1).zipf < 45)
                        && i - st < 3
                    {
                        st -= 1;
                    }
                    let end = extend_address(c, he, false);
                    loc(out, c.s(st), end, 0.9);
                    i = word_at(c, end).unwrap_or(n);
                    continue;
                }
            }
        }
        // prefix street type: "Via Roma 3", "Avenida Lucho Anguita 4", "59, boulevard Petitjean"
        // Spanish "C/ Mayor" is "Calle Mayor"
        let calle = f == "c" && c.b.get(c.e(i)) == Some(&b'/');
        let sp = if calle { 2 } else { c.sprefix(i) };
        if sp > 0 && i + 1 < n && (c.joined(i + 1) || calle) && (c.cap(i) || c.lower(i)) {
            // house number before: "59, rue ..." / "59 rue ..."
            let before = &c.text[..c.s(i)];
            let tb = before.trim_end_matches([' ', ',']);
            let num_before = tb.len() < before.len()
                && tb.bytes().next_back().is_some_and(|x| x.is_ascii_digit())
                && {
                    let ds = tb.bytes().rev().take_while(u8::is_ascii_digit).count();
                    ds <= 5
                        && tb.len() >= ds
                        && !tb[..tb.len() - ds]
                            .bytes()
                            .next_back()
                            .is_some_and(|x| x.is_ascii_alphanumeric())
                };
            let name_end = {
                let mut j = i + 1;
                let mut last = i + 1;
                while j < n && j - i <= 6 && (j == i + 1 || c.joined(j)) {
                    if c.cap(j)
                        || c.lower(j) && (c.is(j, PARTICLE) || matches!(c.f(j), "d'" | "l'"))
                        || c.f(j).starts_with("d'")
                        || c.f(j).starts_with("l'")
                    {
                        if c.cap(j) || c.f(j).contains('\'') {
                            last = j + 1;
                        }
                        j += 1;
                        if !c.gap_after(j - 1).starts_with(' ') {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                last
            };
            if name_end > i + 1 {
                let after = c.e(name_end - 1);
                let mut k = after;
                while k < b.len() && matches!(b[k], b' ' | b',') && k - after < 3 {
                    k += 1;
                }
                let num_after = house_number(b, k);
                if num_before || num_after.is_some() || (sp == 2 && c.cap(i)) {
                    let st = if num_before {
                        tb.len() - tb.bytes().rev().take_while(u8::is_ascii_digit).count()
                    } else {
                        c.s(i)
                    };
                    let end = match num_after {
                        Some(e) => e,
                        None => after,
                    };
                    if num_before || num_after.is_some() {
                        let end = extend_address(c, end, false);
                        loc(out, st, end, 0.9);
                        i = word_at(c, end).unwrap_or(n);
                        continue;
                    } else if sp == 2 {
                        loc(out, st, end, 0.6);
                    }
                }
            }
        }
        // English: "0703 Kristen Meadow", "424 Shaw Mount Suite 454", "Flat 5, Marsden Lakes"
        if c.cap(i) && (c.gap_has_digit(i) || (i > 0 && c.gap_has_digit(i - 1))) {
            let gap = c.gap(i);
            let tb = gap.trim_end_matches(' ');
            let start_byte = c.s(i) - gap.len();
            let ds_end = start_byte + tb.len();
            let ds = c.text[..ds_end]
                .bytes()
                .rev()
                .take_while(u8::is_ascii_digit)
                .count();
            let pre = &c.text[..ds_end - ds];
            let unit_before = {
                // "Flat 5, " / "Studio 29, " before the street
                let t = c.text[..c.s(i)].trim_end_matches([' ', ',']);
                let d = t
                    .bytes()
                    .rev()
                    .take_while(|x| x.is_ascii_alphanumeric())
                    .count();
                let t2 = t[..t.len() - d].trim_end_matches(' ');
                let wd = t2.bytes().rev().take_while(u8::is_ascii_alphabetic).count();
                let unit = &t2[t2.len() - wd..];
                let has_digit = t[t.len() - d..].bytes().any(|x| x.is_ascii_digit());
                (d > 0
                    && d <= 6
                    && has_digit
                    && ["flat", "studio", "unit", "apartment", "apt", "suite"]
                        .iter()
                        .any(|u| unit.eq_ignore_ascii_case(u)))
                .then_some(t2.len() - wd)
            };
            let num_start = (ds > 0
                && ds <= 6
                && gap.len() - tb.len() == 1
                && !pre.bytes().next_back().is_some_and(|x| {
                    x.is_ascii_alphanumeric() || x == b'.' || x == b'-' || x == b'#'
                }))
            .then_some(ds_end - ds);
            if num_start.is_some() || unit_before.is_some() {
                // words up to a street type
                let mut j = i;
                let mut hit = None;
                while j < n && j - i < 5 && (j == i || c.joined(j)) && c.cap(j) {
                    if j > i && c.is(j, STREET_TYPE_EN) {
                        hit = Some(j);
                    }
                    j += 1;
                    if !c.gap_after(j - 1).starts_with(' ') && hit.is_some() {
                        break;
                    }
                }
                if let Some(h) = hit {
                    let mut end = c.e(h);
                    if b.get(end) == Some(&b'.') && c.f(h).len() <= 4 {
                        end += 1;
                    }
                    let st = unit_before.or(num_start).unwrap_or(c.s(i));
                    let end = extend_address(c, end, true);
                    loc(out, st, end, 0.9);
                    i = word_at(c, end).unwrap_or(n);
                    continue;
                }
            }
        }
        // "City, ST 12345" without a street we recognised
        if c.cap(i) && state_zip_ahead(b, c.e(i)) {
            let j = place_chain(c, i, 3);
            if j > i {
                let e = c.e(j - 1);
                if b.get(e..e + 2) == Some(b", ") && e + 10 <= b.len() {
                    let st = std::str::from_utf8(&b[e + 2..e + 4]).unwrap_or("");
                    if US_STATES.contains(&st)
                        && b[e + 4] == b' '
                        && postal_code(b, e + 5).is_some()
                        && b[e + 5..].iter().take_while(|x| x.is_ascii_digit()).count() == 5
                    {
                        let end = postal_code(b, e + 5).unwrap_or(e + 10);
                        loc(out, c.s(i), end, 0.85);
                        i = word_at(c, end).unwrap_or(n);
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    // postal code + city: "98826 Saarlouis", "3826 KM, Oss", "75001 Paris"
    let mut from = 0;
    for &(k, ke) in digit_runs {
        if k < from || (k > 0 && b[k - 1].is_ascii_alphanumeric()) || !(4..=5).contains(&(ke - k)) {
            continue;
        }
        let Some(pe) = postal_code(b, k) else {
            continue;
        };
        let pre = c.text[..k].trim_end_matches(' ');
        // after a comma or a line break ("…, 98826 Saarlouis"), or after "in"/"à"
        let after_prep = {
            let w = pre.rsplit(' ').next().unwrap_or("");
            matches!(
                w,
                "in" | "In" | "à" | "a" | "en" | "im" | "te" | "aus" | "nach"
            )
        };
        let after_comma = pre.ends_with(',') || pre.ends_with('\n') || pre.is_empty() || after_prep;
        let mut j = pe;
        if b.get(j) == Some(&b',') {
            j += 1;
        }
        if b.get(j) == Some(&b' ') {
            j += 1;
        }
        if after_comma {
            if let Some(wi) = word_at(c, j) {
                if c.s(wi) == j && c.cap(wi) && !c.is(wi, HARD_STOP) {
                    let we = place_chain(c, wi, 4);
                    if we > wi {
                        let end = extend_address(c, c.e(we - 1), false);
                        loc(out, k, end, 0.7);
                        from = end;
                    }
                }
            }
        }
    }
    // military: "Unit 4117 Box 5491, DPO AP 03892", "PSC 1234, Box 5678, APO AE 12345"
    static PO: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"PO "));
    for m in PO.find_iter(b) {
        if m == 0 || !matches!(b[m - 1], b'A' | b'F' | b'D') {
            continue;
        }
        let m = m - 1;
        {
            let j = m + 4;
            if j + 8 <= b.len()
                && matches!(&b[j..j + 3], b"AA " | b"AE " | b"AP ")
                && postal_code(b, j + 3).is_some()
            {
                let end = postal_code(b, j + 3).unwrap_or(j + 8);
                let line = text_line_start(c.text, m);
                let st = c.text[line..m]
                    .find(|ch: char| ch.is_ascii_uppercase())
                    .map(|o| line + o)
                    .unwrap_or(m);
                loc(out, st, end, 0.85);
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// tables: CSV and Markdown with a header row
// ------------------------------------------------------------------------------------

fn column_entity(header: &str) -> Option<PiiEntity> {
    let h = crate::text::fold(header.trim().trim_matches(['"', '\'', '*', '`']));
    let h = h.trim().replace(['_', '-'], " ");
    match h.as_str() {
        "name" | "full name" | "fullname" | "customer" | "customer name" | "contact"
        | "contact name" | "nombre" | "nom" | "nome" | "naam" | "first name" | "last name"
        | "firstname" | "lastname" | "surname" | "vorname" | "nachname" | "prenom" | "cognome"
        | "apellido" | "apellidos" | "person" | "employee" | "user name" | "cardholder"
        | "holder" | "client" | "cliente" | "kunde" | "patient" | "passenger" | "guest"
        | "owner" | "sender" | "recipient" => Some(PiiEntity::Person),
        "city" | "town" | "country" | "location" | "address" | "street" | "ville" | "citta"
        | "ciudad" | "stad" | "plaats" | "woonplaats" | "ort" | "stadt" | "pays" | "paese"
        | "pais" | "land" | "adresse" | "indirizzo" | "direccion" | "adres" | "place"
        | "region" | "state" | "province" | "provincia" | "birthplace" | "place of birth"
        | "home town" | "hometown" => Some(PiiEntity::Location),
        _ => None,
    }
}

fn header_word(cell: &str) -> bool {
    if cell.len() > 30 {
        return false;
    }
    let h = crate::text::fold(cell.trim().trim_matches(['"', '\'', '*', '`']));
    !h.is_empty()
        && h.len() <= 24
        && h.chars()
            .all(|ch| ch.is_alphabetic() || matches!(ch, ' ' | '_' | '-' | '.'))
}

fn cells(line: &str, sep: char) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for part in line.split(sep) {
        out.push((pos, part));
        pos += part.len() + sep.len_utf8();
    }
    if sep == '|' {
        // "| a | b |": drop the empty cells outside the outer bars
        if out.first().is_some_and(|c| c.1.trim().is_empty()) {
            out.remove(0);
        }
        if out.last().is_some_and(|c| c.1.trim().is_empty()) {
            out.pop();
        }
    }
    out
}

fn tables(c: &Ctx<'_>, out: &mut Vec<Cand>, want_person: bool, want_location: bool) {
    let text = c.text;
    // a header row has separators, no digits and no '@': most texts have none
    let maybe_header = |l: &str| {
        let mut sep = false;
        l.len() < 300
            && l.bytes().all(|x| {
                sep |= matches!(x, b',' | b'|' | b'\t');
                !(x.is_ascii_digit() || x == b'@' || x == b'.')
            })
            && sep
    };
    if !text.split('\n').any(maybe_header) {
        return;
    }
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut pos = 0;
    for l in text.split('\n') {
        lines.push((pos, l));
        pos += l.len() + 1;
    }
    let mut k = 0;
    while k < lines.len() {
        let (lstart, line) = lines[k];
        k += 1;
        if !maybe_header(line) {
            continue;
        }
        let sep = if line.matches('|').count() >= 2 {
            '|'
        } else if line.matches(',').count() >= 1 {
            ','
        } else if line.matches('\t').count() >= 1 {
            '\t'
        } else {
            continue;
        };
        let head = cells(line, sep);
        if head.len() < 2 || !head.iter().all(|(_, h)| header_word(h)) {
            continue;
        }
        let cols: Vec<Option<PiiEntity>> = head.iter().map(|(_, h)| column_entity(h)).collect();
        if cols.iter().all(Option::is_none) {
            continue;
        }
        let _ = lstart;
        while k < lines.len() {
            let (rs, row) = lines[k];
            if row.trim().is_empty() {
                break;
            }
            let rc = cells(row, sep);
            if rc.len() != head.len() {
                break;
            }
            k += 1;
            if sep == '|'
                && rc
                    .iter()
                    .all(|(_, x)| x.trim().chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
            {
                continue; // the |---|---| rule
            }
            for ((off, cell), col) in rc.iter().zip(&cols) {
                let Some(entity) = col else { continue };
                if (*entity == PiiEntity::Person && !want_person)
                    || (*entity == PiiEntity::Location && !want_location)
                {
                    continue;
                }
                let trimmed = cell.trim_start_matches([' ', '"', '\'']);
                let lead = cell.len() - trimmed.len();
                let value = trimmed.trim_end_matches([' ', '"', '\'', '\r']);
                if value
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_alphabetic() || ch == '\'')
                    && value.len() < 80
                {
                    let st = rs + off + lead;
                    out.push(Cand {
                        entity: *entity,
                        start: st,
                        end: st + value.len(),
                        score: 0.86,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_word_is_short_and_found_by_its_hash() {
        for (word, bits) in class_map_build() {
            assert!(
                word.len() <= MAX_CLASS_WORD,
                "{word} is longer than the cut"
            );
            // a class word of several tokens ("p.o.") is looked up by its first token
            let words = Words::new(word);
            if words.len() == 1 && words.folded(0) == word {
                assert_eq!(words.classes(0), bits, "{word}");
            }
        }
        let words = Words::new("Meet me on Tuesday, 3 March, not in the hall");
        let class_of = |w: &str| {
            (0..words.len())
                .find(|&i| words.folded(i) == w)
                .map(|i| words.classes(i))
        };
        assert_ne!(class_of("tuesday").unwrap() & WEEKDAY, 0);
        assert_ne!(class_of("march").unwrap() & MONTH, 0);
        assert_eq!(class_of("hall").unwrap() & (MONTH | WEEKDAY), 0);
    }

    #[test]
    fn words_fold_and_flag_mixed_scripts() {
        let text = "O’Brien met NASA's Müller-Lüdenscheidt, x-ray ÉCOLE and naïve McDONALD -dash";
        let w = Words::new(text);
        let folded: Vec<&str> = (0..w.len()).map(|i| w.folded(i)).collect();
        assert_eq!(
            folded,
            [
                "o'brien",
                "met",
                "nasa's",
                "muller-ludenscheidt",
                "x-ray",
                "ecole",
                "and",
                "naive",
                "mcdonald",
                "dash"
            ]
        );
        let spans: Vec<&str> = (0..w.len())
            .map(|i| &text[w.span(i).0..w.span(i).1])
            .collect();
        assert_eq!(spans[0], "O’Brien");
        assert_eq!(spans[3], "Müller-Lüdenscheidt");
        assert_eq!(spans[9], "dash");
        assert_eq!(w.flags(0), CAP);
        assert_eq!(w.flags(1), LOWER);
        assert_eq!(w.flags(2), CAP); // "NASA's": one lowercase letter
        assert_eq!(w.flags(5), CAP | UPPER);
        assert_eq!(w.flags(8), CAP);
        assert_eq!(w.hash(1), super::super::lexicon::hash("met"));
    }
}
