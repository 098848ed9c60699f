//! Builds the PII word table at compile time from the lists in `data/` (see
//! `data/build.py` for where they come from), so a process starts without parsing
//! ~400,000 lines. Layout: open addressing, little-endian u64 slots, each the word's hash
//! with its low 18 bits replaced by the packed entry (see `src/pii/lexicon.rs`).

use std::io::Write;

include!("src/pii/hash.rs");

const ENTRY_BITS: u32 = 18;
const ENTRY_MASK: u64 = (1 << ENTRY_BITS) - 1;

#[derive(Default, Clone, Copy)]
struct Entry {
    first: u64,
    surname: u64,
    place: u64,
    head: u64,
    zipf: u64,
}

fn pack(e: Entry) -> u64 {
    e.first.min(15)
        | e.surname << 4
        | e.place.min(3) << 5
        | e.head.min(7) << 7
        | e.zipf.min(127) << 10
}

fn unpack(v: u64) -> Entry {
    Entry {
        first: v & 15,
        surname: (v >> 4) & 1,
        place: (v >> 5) & 3,
        head: (v >> 7) & 7,
        zipf: (v >> 10) & 127,
    }
}

struct Table {
    slots: Vec<u64>,
    mask: usize,
}

impl Table {
    fn update(&mut self, word: &str, f: impl FnOnce(&mut Entry)) {
        let tag = hash_bytes(word.as_bytes()) & !ENTRY_MASK;
        let mut i = (tag >> 40) as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s == 0 || s & !ENTRY_MASK == tag {
                let mut e = if s == 0 { Entry::default() } else { unpack(s) };
                f(&mut e);
                self.slots[i] = tag | pack(e);
                return;
            }
            i = (i + 1) & self.mask;
        }
    }
}

fn rows(data: &str) -> impl Iterator<Item = (&str, &str)> {
    data.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let read = |name: &str| -> Result<String, Box<dyn std::error::Error>> {
        println!("cargo:rerun-if-changed=data/{name}");
        Ok(std::fs::read_to_string(format!("data/{name}"))?)
    };
    let first = read("first_names.txt")?;
    let surnames = read("surnames.txt")?;
    let places = read("places.txt")?;
    let common = read("common_words.txt")?;
    println!("cargo:rerun-if-changed=src/pii/hash.rs");
    let lines: usize = [&first, &surnames, &places, &common]
        .iter()
        .map(|d| d.lines().count())
        .sum();
    // at least 1.25 slots per line, a power of two: never full, so lookups end
    let size = (lines + lines / 4).next_power_of_two();
    let mut t = Table {
        slots: vec![0; size],
        mask: size - 1,
    };
    for (k, v) in rows(&first) {
        let f: u64 = v.parse().unwrap_or(1);
        t.update(k, |e| e.first = f);
    }
    for (k, _) in rows(&surnames) {
        t.update(k, |e| e.surname = 1);
    }
    for (k, v) in rows(&places) {
        let kind = match v {
            "K" => 3,
            "R" => 2,
            _ => 1,
        };
        t.update(k, |e| e.place = e.place.max(kind));
        let words = k.split(' ').count() as u64;
        if words > 1 {
            if let Some(head) = k.split(' ').next() {
                t.update(head, |e| e.head = e.head.max(words.min(6)));
            }
        }
    }
    for (k, v) in rows(&common) {
        let z: u64 = v.parse().unwrap_or(0);
        t.update(k, |e| e.zipf = z);
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("lexicon.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
    for s in &t.slots {
        f.write_all(&s.to_le_bytes())?;
    }
    f.flush()?;
    Ok(())
}
