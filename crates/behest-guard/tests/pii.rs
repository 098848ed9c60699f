//! The PII detector through its public API: each entity type's positives and the
//! look-alikes it must leave alone, offsets on non-ASCII text, and the MASK / REDACT /
//! BLOCK rewrite.

use behest_core::settings::{PiiAction, PiiEntity};
use behest_guard::{apply, Detection, PiiDetector};
use std::collections::BTreeMap;

fn det() -> &'static PiiDetector {
    PiiDetector::shared()
}

/// (entity, matched text) of every detection.
fn found(text: &str) -> Vec<(PiiEntity, String)> {
    det()
        .detect(text)
        .into_iter()
        .map(|d| (d.entity, text[d.start..d.end].to_owned()))
        .collect()
}

fn has(text: &str, entity: PiiEntity, value: &str) -> bool {
    found(text).iter().any(|(e, v)| *e == entity && v == value)
}

fn none_of(text: &str, entity: PiiEntity) -> bool {
    found(text).iter().all(|(e, _)| *e != entity)
}

#[track_caller]
fn assert_has(text: &str, entity: PiiEntity, value: &str) {
    assert!(
        has(text, entity, value),
        "{entity:?} {value:?} not found in {text:?}: {:?}",
        found(text)
    );
}

#[track_caller]
fn assert_none(text: &str, entity: PiiEntity) {
    assert!(
        none_of(text, entity),
        "unexpected {entity:?} in {text:?}: {:?}",
        found(text)
    );
}

#[test]
fn email() {
    assert_has(
        "mail me: jane.doe+news@mail.example.co.uk, thanks",
        PiiEntity::EmailAddress,
        "jane.doe+news@mail.example.co.uk",
    );
    assert_none(
        "template {0}@{1}.com and user@{{ domain }} and ***@***.com",
        PiiEntity::EmailAddress,
    );
    assert_none("git@github.com:org/repo.git", PiiEntity::EmailAddress);
    // the domain of an address is not a URL
    assert_none("write to ops@example.org", PiiEntity::Url);
}

#[test]
fn url() {
    assert_has(
        "see https://api.example.com/v1/users?id=3.",
        PiiEntity::Url,
        "https://api.example.com/v1/users?id=3",
    );
    assert_has(
        "visit www.example.net today",
        PiiEntity::Url,
        "www.example.net",
    );
    assert_has(
        "(docs at http://example.org/a_(b))",
        PiiEntity::Url,
        "http://example.org/a_(b)",
    );
    assert_none(
        "the file app/billing.py and stripe.Charge.create",
        PiiEntity::Url,
    );
}

#[test]
fn phone_numbers() {
    for (text, value) in [
        ("call +44 20 7946 0958 today", "+44 20 7946 0958"),
        ("Telefon: +49 (0) 7308 604089", "+49 (0) 7308 604089"),
        ("phone (03536) 32429.", "(03536) 32429"),
        ("mon numéro: 06 12 34 56 78", "06 12 34 56 78"),
        ("Phone: 709.927.6007", "709.927.6007"),
        ("reach me at (212) 555-0147", "(212) 555-0147"),
        ("+31(0)729-208658 works", "+31(0)729-208658"),
        ("Il mio numero è 3342496400", "3342496400"),
        ("móvil 612 345 678", "612 345 678"),
        ("SUPPORT_PHONE=0923331784", "0923331784"),
    ] {
        assert_has(text, PiiEntity::PhoneNumber, value);
    }
    for text in [
        "Our SKUs look like 488.459.1416 and (023) 82-97908-5",
        "Order ORD-2025-265969 and X494-5180487-2649230",
        "My employee number is 107506551.",
        "Windows 10.0.22000.3813 and Chrome 96.0.5039.121",
        "ISBN 978-3-88-260803-8",
        "Convert epoch 1739218083 please",
        "parcel 441031738851 is late",
        "Product serial 8958-877-2823.",
    ] {
        assert_none(text, PiiEntity::PhoneNumber);
    }
}

#[test]
fn credit_cards() {
    assert_has(
        "card 4111 1111 1111 1111 exp 12/27",
        PiiEntity::CreditCard,
        "4111 1111 1111 1111",
    );
    assert_has(
        "Mastercard 2-series 2223003122003222",
        PiiEntity::CreditCard,
        "2223003122003222",
    );
    assert_has(
        "Amex 3782 822463 10005",
        PiiEntity::CreditCard,
        "3782 822463 10005",
    );
    assert_has(
        "Discover 6011-1111-1111-1117",
        PiiEntity::CreditCard,
        "6011-1111-1111-1117",
    );
    // Luhn failures are neither cards nor phone numbers
    let bad = "is 4209 7678 3760 9667 a valid card number?";
    assert_none(bad, PiiEntity::CreditCard);
    assert_none(bad, PiiEntity::PhoneNumber);
}

#[test]
fn ssn() {
    assert_has("My SSN is 616-66-2187.", PiiEntity::UsSsn, "616-66-2187");
    assert_has("ssn=657 93 3043 dob", PiiEntity::UsSsn, "657 93 3043");
    for bad in [
        "666-12-9189",
        "000-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_none(&format!("SSN {bad}"), PiiEntity::UsSsn);
    }
}

#[test]
fn iban() {
    assert_has(
        "IBAN DE89 3704 0044 0532 0130 00, thanks",
        PiiEntity::IbanCode,
        "DE89 3704 0044 0532 0130 00",
    );
    assert_has(
        "IBAN GB82WEST12345698765432.",
        PiiEntity::IbanCode,
        "GB82WEST12345698765432",
    );
    assert_has(
        "(IBAN : FR87 2012 9335 5106 2011 6230 198)",
        PiiEntity::IbanCode,
        "FR87 2012 9335 5106 2011 6230 198",
    );
    // mod-97 failure: not an IBAN, and not a phone number either
    let bad = "DE12 4395 7605 4117 4457 28 is invalid";
    assert_none(bad, PiiEntity::IbanCode);
    assert_none(bad, PiiEntity::PhoneNumber);
}

#[test]
fn ip_addresses() {
    assert_has(
        "SRC=10.164.179.43 DST=182.99.148.99",
        PiiEntity::IpAddress,
        "10.164.179.43",
    );
    assert_has(
        "from 2ce9:2263:783e:6e92:9b94:8fed:daa2:258f -",
        PiiEntity::IpAddress,
        "2ce9:2263:783e:6e92:9b94:8fed:daa2:258f",
    );
    assert_has(
        "ip=3405:286a:3f9e::bf2f attempts",
        PiiEntity::IpAddress,
        "3405:286a:3f9e::bf2f",
    );
    for text in [
        "192.168.147.935 is invalid",
        "listen 0.0.0.0",
        "DST=127.0.0.1",
        "::1 loopback",
        "version 5.4.0",
        "std::vector<int>",
        "at 16:04:22",
    ] {
        assert_none(text, PiiEntity::IpAddress);
    }
}

#[test]
fn crypto() {
    assert_has(
        "from 1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQB to",
        PiiEntity::Crypto,
        "1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQB",
    );
    assert_has(
        "bc1q29l58g5dwntla49h7hfwxygp29ee50p88npyeu.",
        PiiEntity::Crypto,
        "bc1q29l58g5dwntla49h7hfwxygp29ee50p88npyeu",
    );
    assert_has(
        "to 0x7052bd796519E64c1988a98aA1ae3F18c126eC01.",
        PiiEntity::Crypto,
        "0x7052bd796519E64c1988a98aA1ae3F18c126eC01",
    );
    // a transaction hash (64 hex) and a broken checksum are not wallets
    assert_none(
        "tx 0xb50a114c4cd143a3d944b1c189b8a6b5c3ebbca8bc702c59b9a56c7512d61fd6",
        PiiEntity::Crypto,
    );
    assert_none("1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQC", PiiEntity::Crypto);
}

#[test]
fn passports_need_context() {
    assert_has(
        "my US passport, number T27797928, expires",
        PiiEntity::UsPassport,
        "T27797928",
    );
    assert_has(
        "Passport numbers: 289817281 and N80978290.",
        PiiEntity::UsPassport,
        "289817281",
    );
    assert_none("Employee ID: 702969172", PiiEntity::UsPassport);
    assert_none("Reference 273426330.", PiiEntity::UsPassport);
}

#[test]
fn dates_and_times() {
    for (text, value) in [
        ("due 12/02/2024.", "12/02/2024"),
        ("born 1943-12-12 in", "1943-12-12"),
        ("ab 05.01.2023 in", "05.01.2023"),
        ("on 29 May 2026 then", "29 May 2026"),
        ("(February 09, 1946)", "February 09, 1946"),
        ("le 12 janvier 2024", "12 janvier 2024"),
        ("il 5 maggio 2024", "5 maggio 2024"),
        ("el 12 de marzo de 2025", "12 de marzo de 2025"),
        ("op 3 januari 2025", "3 januari 2025"),
        ("am 3. März 2024", "3. März 2024"),
        ("at 8:00 AM.", "8:00 AM"),
        ("à 9h20 confirmé", "9h20"),
        ("after 19:15", "19:15"),
    ] {
        assert_has(text, PiiEntity::DateTime, value);
    }
    // machine timestamps and versions are not a person's dates
    for text in [
        "2023-09-27T03:18:56Z INFO",
        "2024-07-24 18:05:28,062 [ticket]",
        "[27/Dec/2025:16:04:22 +0000] \"GET /\"",
        "Kotlin 3.11 and 1.10; kube-probe/4.25.11",
        "registry/api:2.8.4+build.7",
    ] {
        assert_none(text, PiiEntity::DateTime);
    }
}

#[test]
fn people() {
    for (text, value) in [
        ("Sehr geehrter Herr Lehmann,", "Lehmann"),
        ("write to my landlord Herr wulff saying", "wulff"),
        ("hey, my name is teresa burgess and i", "teresa burgess"),
        ("Bonjour, je m'appelle Julien Normand.", "Julien Normand"),
        (
            "Ciao, mi chiamo Leopoldo Caetani e abito",
            "Leopoldo Caetani",
        ),
        ("Hoi, ik ben Ninthe van Mare en woon", "Ninthe van Mare"),
        ("Best regards,\nNicole Davis\nSales", "Nicole Davis"),
        ("my spouse Andrew K. Jones has", "Andrew K. Jones"),
        ("Cardholder: Carmina Macias\n", "Carmina Macias"),
    ] {
        assert_has(text, PiiEntity::Person, value);
    }
    for text in [
        "Will you be there? May I come?",
        "Dear Sir or Madam, I am writing about my order.",
        "The Golden Gate Bridge is lovely.",
        "Minería Anguita & Asociados S.L. sent it",
        "Can you explain how React hooks work?",
    ] {
        assert_none(text, PiiEntity::Person);
    }
}

#[test]
fn places() {
    for (text, value) in [
        ("born in Jeremymouth and", "Jeremymouth"),
        (
            "Je suis né le 1969-08-23 à Guichard-sur-Berthelot.",
            "Guichard-sur-Berthelot",
        ),
        (
            "update my address to Etzoldallee 89, 98826 Saarlouis.",
            "Etzoldallee 89, 98826 Saarlouis",
        ),
        (
            "Address: 0703 Kristen Meadow, Cookmouth, OK 99519\n",
            "0703 Kristen Meadow, Cookmouth, OK 99519",
        ),
        (
            "lives at Flat 5, Marsden Lakes, New Margaretbury, NG3P 7HT.",
            "Flat 5, Marsden Lakes, New Margaretbury, NG3P 7HT",
        ),
        (
            "vivo en Avenida Lucho Anguita 4, Zamora, 35085.",
            "Avenida Lucho Anguita 4, Zamora, 35085",
        ),
        (
            "59, boulevard Petitjean, 04415 Klein-sur-Payet.",
            "59, boulevard Petitjean, 04415 Klein-sur-Payet",
        ),
        ("country=Cape Verde msg", "Cape Verde"),
        ("a trip to El Salvador with", "El Salvador"),
    ] {
        assert_has(text, PiiEntity::Location, value);
    }
    for text in [
        "I get an error on Rust SDK v4.2.3",
        "parse it in TypeScript?",
        "Mrs Williams said",
    ] {
        assert_none(text, PiiEntity::Location);
    }
}

#[test]
fn hard_negatives_stay_clean() {
    for text in [
        "UUID c987308e-774a-4ad7-b946-53ce7957dfc8 and C2C1179B-1A14-4A14-BE92-BB3DD721D724",
        "sha256 49666b764c64bf5aebe02438c23587d40e5a66f1ab29af9a1b1174acfb2abf52, commit 1da782b3d52f8480d189da3b58e51c38c06b4ff4",
        "Error code 0x800F0922 when installing.",
        "Order #13201417 and PO4362934448 and TCK-5776781",
        "Python 3.12.1 on Ubuntu 22.04 fails with numpy 1.26.4",
    ] {
        assert!(found(text).is_empty(), "{text:?}: {:?}", found(text));
    }
}

#[test]
fn offsets_are_bytes_on_non_ascii_text() {
    let text =
        "Grüße — Zoé Müller, zoé.m@exämple.de? nein: zoe.muller@example.de, Tel. +49 30 1234567 🚗";
    for d in det().detect(text) {
        assert!(text.is_char_boundary(d.start) && text.is_char_boundary(d.end));
    }
    assert_has(text, PiiEntity::EmailAddress, "zoe.muller@example.de");
    assert_has(text, PiiEntity::PhoneNumber, "+49 30 1234567");
    let d = det().detect(text);
    let email = d.iter().find(|d| d.entity == PiiEntity::EmailAddress);
    assert_eq!(email.map(|d| d.start), text.find("zoe.muller"));
}

#[test]
fn detections_are_sorted_and_disjoint() {
    let text = "Hi, I'm Peter Schmidt from Hamburg, +49 40 1234567, peter@schmidt.de, IBAN DE89370400440532013000, 12/05/2024";
    let d = det().detect(text);
    assert!(d.len() >= 5);
    assert!(d.windows(2).all(|w| w[0].end <= w[1].start));
}

#[test]
fn detect_only_skips_other_types() {
    let text = "Peter Schmidt, peter@schmidt.de, +49 40 1234567";
    let only = det().detect_only(text, &[PiiEntity::EmailAddress]);
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].entity, PiiEntity::EmailAddress);
    assert!(det().detect_only(text, &[]).is_empty());
}

fn actions(list: &[(PiiEntity, PiiAction)]) -> BTreeMap<PiiEntity, PiiAction> {
    list.iter().copied().collect()
}

#[test]
fn mask_keeps_length_and_separators() {
    let text = "mail jane.doe@example.org or call +1 (415) 555-0132.";
    let d = det().detect(text);
    let r = apply(
        text,
        &d,
        &actions(&[
            (PiiEntity::EmailAddress, PiiAction::Mask),
            (PiiEntity::PhoneNumber, PiiAction::Mask),
        ]),
    );
    assert_eq!(
        r.text,
        "mail ****.***@*******.*** or call +* (***) ***-****."
    );
    assert_eq!(r.text.chars().count(), text.chars().count());
    assert!(r.blocked.is_empty());
    assert_eq!(
        r.applied,
        vec![
            (PiiEntity::EmailAddress, PiiAction::Mask),
            (PiiEntity::PhoneNumber, PiiAction::Mask)
        ]
    );
}

#[test]
fn mask_non_ascii_value() {
    let text = "je m'appelle Zoé Müller.";
    let d = det().detect(text);
    let r = apply(text, &d, &actions(&[(PiiEntity::Person, PiiAction::Mask)]));
    assert_eq!(r.text, "je m'appelle *** ******.");
}

#[test]
fn redact_names_the_entity() {
    let text = "SSN 616-66-2187, card 4111 1111 1111 1111";
    let d = det().detect(text);
    let r = apply(
        text,
        &d,
        &actions(&[
            (PiiEntity::UsSsn, PiiAction::Redact),
            (PiiEntity::CreditCard, PiiAction::Redact),
        ]),
    );
    assert_eq!(r.text, "SSN <US_SSN>, card <CREDIT_CARD>");
}

#[test]
fn block_reports_without_rewriting() {
    let text = "IBAN GB82WEST12345698765432 and GB82 WEST 1234 5698 7654 32, mail a@b.de";
    let d = det().detect(text);
    let r = apply(
        text,
        &d,
        &actions(&[
            (PiiEntity::IbanCode, PiiAction::Block),
            (PiiEntity::EmailAddress, PiiAction::Block),
        ]),
    );
    assert_eq!(r.text, text);
    assert_eq!(
        r.blocked,
        vec![PiiEntity::EmailAddress, PiiEntity::IbanCode]
    );
    assert_eq!(r.applied.len(), 3);
}

#[test]
fn entities_without_action_are_left_alone() {
    let text = "mail jane@example.org, phone +44 20 7946 0958";
    let d = det().detect(text);
    let r = apply(
        text,
        &d,
        &actions(&[(PiiEntity::PhoneNumber, PiiAction::Redact)]),
    );
    assert_eq!(r.text, "mail jane@example.org, phone <PHONE_NUMBER>");
    assert_eq!(r.applied, vec![(PiiEntity::PhoneNumber, PiiAction::Redact)]);
}

#[test]
fn apply_ignores_bad_detections() {
    let text = "Zoé";
    let bogus = [
        Detection {
            entity: PiiEntity::Person,
            start: 0,
            end: 3,
            score: 1.0,
        }, // inside 'é'
        Detection {
            entity: PiiEntity::Person,
            start: 2,
            end: 99,
            score: 1.0,
        },
    ];
    let r = apply(
        text,
        &bogus,
        &actions(&[(PiiEntity::Person, PiiAction::Redact)]),
    );
    assert_eq!(r.text, "Zoé");
    assert!(r.applied.is_empty());
}

#[test]
fn shared_detector_is_send_sync() {
    fn check<T: Send + Sync>(_: &T) {}
    check(det());
}
