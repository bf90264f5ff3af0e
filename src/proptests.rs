//! Property tests for every hand-written parser: whatever a client sends, none
//! panics, and what each accepts obeys its contract. 10 000 cases each.

use crate::auth::jwt::{check_lifetime, unverified_account};
use crate::auth::signed::{self, UrlSignature};
use crate::domain::base64::Base64Decoder;
use crate::domain::folders::{decode_cursor, encode_cursor};
use crate::domain::paths::{validate_file_path, validate_folder_path, MAX_PATH_BYTES};
use crate::http::cdn::select_range;
use crate::http::limits::decodes_to_utf8;
use crate::http::tus::parse_metadata;
use crate::meta::After;
use base64::Engine;
use proptest::prelude::*;
use std::time::{Duration, SystemTime};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(10_000)
}

/// Paths from pieces an attacker likes: separators, dots, controls, unicode.
fn nasty_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("//".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("\\".to_string()),
        Just("\0".to_string()),
        Just("\u{7f}".to_string()),
        Just("é".to_string()),
        Just("\u{202e}".to_string()),
        "[a-z0-9._-]{1,8}",
        "\\PC{1,4}",
        "a{250,260}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_file_paths_obey_spec_1(path in nasty_path()) {
        if validate_file_path(&path).is_ok() {
            prop_assert!(path.starts_with('/'));
            prop_assert!(!path.ends_with('/'));
            prop_assert!(path.len() <= MAX_PATH_BYTES);
            prop_assert!(!path.contains('\\') && !path.chars().any(char::is_control));
            for seg in path[1..].split('/') {
                prop_assert!(!seg.is_empty() && seg != "." && seg != "..");
                prop_assert!(seg.len() <= 255);
            }
        }
        let _ = validate_folder_path(&path);
    }

    #[test]
    fn any_text_is_judged_without_panic(path in "\\PC{0,64}") {
        let _ = validate_file_path(&path);
        let _ = validate_folder_path(&path);
        let _ = decodes_to_utf8(&path);
    }

    #[test]
    fn percent_decoding_is_strict(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
        let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        prop_assert_eq!(decodes_to_utf8(&encoded), std::str::from_utf8(&bytes).is_ok());
    }

    #[test]
    fn ranges_stay_inside_the_file(
        range in prop_oneof![
            "bytes=[0-9]{0,20}-[0-9]{0,20}",
            "bytes=-[0-9]{0,20}",
            "bytes=[0-9]{0,5}-[0-9]{0,5},[0-9]{0,5}-[0-9]{0,5}",
            "\\PC{0,40}",
        ],
        if_range in proptest::option::of(prop_oneof![Just("\"e\"".to_string()), "\\PC{0,30}"]),
        size in prop_oneof![Just(0u64), Just(1u64), 0u64..10_000, Just(u64::MAX)],
    ) {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        match select_range(Some(&range), if_range.as_deref(), "\"e\"", modified, size) {
            Ok(Some(r)) => prop_assert!(r.start < r.end && r.end <= size),
            Ok(None) => {}
            Err(e) => prop_assert_eq!(e.code(), "range_not_satisfiable"),
        }
    }

    #[test]
    fn cursors_round_trip(path in "/\\PC{0,40}", kind in 0u8..3) {
        let after = match kind {
            0 => After::Start,
            1 => After::Folder(path),
            _ => After::File(path),
        };
        prop_assert_eq!(decode_cursor(&encode_cursor(&after)).unwrap(), after);
    }

    #[test]
    fn any_cursor_is_judged_without_panic(cursor in "\\PC{0,60}") {
        if let Ok(After::Folder(p) | After::File(p)) = decode_cursor(&cursor) {
            prop_assert!(p.starts_with('/'));
        }
    }

    #[test]
    fn base64_decodes_alike_in_any_chunking(
        data in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(1usize..50, 1..20),
        data_url in any::<bool>(),
    ) {
        let mut text = base64::engine::general_purpose::STANDARD.encode(&data);
        if data_url {
            text = format!("data:application/octet-stream;base64,{text}");
        }
        let mut dec = Base64Decoder::default();
        let mut out = Vec::new();
        let mut rest = text.as_bytes();
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*cut).min(rest.len()));
            out.extend_from_slice(&dec.feed(now).unwrap());
            rest = later;
        }
        out.extend_from_slice(&dec.finish().unwrap());
        prop_assert_eq!(out, data);
    }

    #[test]
    fn base64_garbage_never_panics(input in prop::collection::vec(any::<u8>(), 0..400), cut in 1usize..64) {
        let mut dec = Base64Decoder::default();
        for c in input.chunks(cut) {
            if dec.feed(c).is_err() {
                return Ok(());
            }
        }
        let _ = dec.finish();
    }

    #[test]
    fn token_lifetimes_never_overflow(iat in any::<i64>(), exp in any::<i64>(), now in any::<i64>(), max in 0i64..1_000_000) {
        if check_lifetime(iat, exp, now, max).is_ok() {
            prop_assert!(iat >= 0);
            prop_assert!(iat <= now.saturating_add(30));
            prop_assert!((exp as i128) - (iat as i128) <= max as i128);
        }
    }

    #[test]
    fn unverified_account_never_panics(token in "\\PC{0,200}", payload in "\\PC{0,80}") {
        let _ = unverified_account(&token);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let _ = unverified_account(&format!("e30.{b64}.sig"));
        let claims = serde_json::json!({ "accountId": payload });
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        prop_assert_eq!(unverified_account(&format!("e30.{b64}.x")), Some(payload));
    }

    #[test]
    fn signatures_verify_only_what_was_signed(
        path in "/\\PC{0,40}",
        other in "/\\PC{0,40}",
        exp in any::<i64>(),
        now in any::<i64>(),
        junk in "\\PC{0,80}",
    ) {
        let key = crate::auth::keyring::Keyring::new([9u8; 32]);
        let q = signed::query(&key, "download", &path, exp);
        let sig = q.split_once("sig=").unwrap().1;
        let given = |sig| UrlSignature { exp: Some(exp), sig: Some(sig) };
        let ok = signed::verify(&key, "download", &path, given(sig), now);
        prop_assert_eq!(ok.is_ok(), exp >= now);
        if other != path {
            prop_assert!(signed::verify(&key, "download", &other, given(sig), now).is_err());
        }
        prop_assert!(signed::verify(&key, "part", &path, given(sig), now).is_err());
        if junk != sig {
            prop_assert!(signed::verify(&key, "download", &path, given(&junk), now).is_err());
        }
    }

    #[test]
    fn tus_metadata_round_trips(
        pairs in prop::collection::btree_map("[A-Za-z0-9_.-]{1,12}", "\\PC{0,40}", 0..8),
    ) {
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let raw = pairs
            .iter()
            .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {}", b64(v)) })
            .collect::<Vec<_>>()
            .join(",");
        let parsed = parse_metadata(&raw).unwrap();
        prop_assert_eq!(parsed.len(), pairs.len());
        for (k, v) in &pairs {
            prop_assert_eq!(parsed.get(k), Some(v));
        }
    }

    #[test]
    fn tus_metadata_garbage_never_panics(raw in "\\PC{0,200}") {
        if let Ok(m) = parse_metadata(&raw) {
            prop_assert!(m.keys().all(|k| !k.is_empty() && !k.contains(' ') && !k.contains(',')));
        }
    }
}
