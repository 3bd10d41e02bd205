//! Table-driven tests of every action and of configuration parsing, written from
//! Prometheus's documented relabeling semantics.

use crate::*;
use strata_model::Labels;

fn rules(yaml: &str) -> Vec<RelabelConfig> {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("rules parse: {e}\n{yaml}"))
}

fn parse_err(yaml: &str) -> String {
    match serde_yaml::from_str::<Vec<RelabelConfig>>(yaml) {
        Ok(r) => panic!("expected an error for {yaml}, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

fn lset(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

struct Case {
    name: &'static str,
    input: &'static [(&'static str, &'static str)],
    rules: &'static str,
    /// `None`: the set is dropped.
    output: Option<&'static [(&'static str, &'static str)]>,
}

const CASES: &[Case] = &[
    Case {
        name: "replace: defaults copy a joined value",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, b], target_label: c}",
        output: Some(&[("a", "foo"), ("b", "bar"), ("c", "foo;bar")]),
    },
    Case {
        name: "replace: custom separator, regex groups and replacement",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, b], separator: '-', regex: '(f.*)-(b.*)', target_label: c, replacement: '${2}x$1'}",
        output: Some(&[("a", "foo"), ("b", "bar"), ("c", "barxfoo")]),
    },
    Case {
        name: "replace: the regex is anchored, a partial match does not replace",
        input: &[("a", "foobar")],
        rules: "- {source_labels: [a], regex: 'foo', target_label: b, replacement: x}",
        output: Some(&[("a", "foobar")]),
    },
    Case {
        name: "replace: absent source labels read as empty",
        input: &[("a", "foo")],
        rules: "- {source_labels: [missing, a], target_label: c}",
        output: Some(&[("a", "foo"), ("c", ";foo")]),
    },
    Case {
        name: "replace: a static value without source labels",
        input: &[("a", "foo")],
        rules: "- {target_label: env, replacement: prod}",
        output: Some(&[("a", "foo"), ("env", "prod")]),
    },
    Case {
        name: "replace: an empty result deletes the target",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [missing], target_label: b}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "replace: an empty replacement deletes the target",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a], target_label: b, replacement: ''}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "replace: target label from a group",
        input: &[("a", "some-name-value")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}'}",
        output: Some(&[("a", "some-name-value"), ("name", "value")]),
    },
    Case {
        name: "replace: a target expanding to an invalid name is skipped",
        input: &[("a", "some-name-0")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${3}', replacement: '${1}'}\n- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${2}', replacement: '${1}'}",
        output: Some(&[("a", "some-name-0")]),
    },
    Case {
        name: "replace: a target with a prefix and a group",
        input: &[("a", "some-name-0")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: 'label_$2', replacement: '$1'}",
        output: Some(&[("a", "some-name-0"), ("label_0", "name")]),
    },
    Case {
        name: "replace: named groups",
        input: &[("a", "host:9100")],
        rules: "- {source_labels: [a], regex: '(?P<host>[^:]+):(?P<port>\\d+)', target_label: port, replacement: '${port}'}",
        output: Some(&[("a", "host:9100"), ("port", "9100")]),
    },
    Case {
        name: "replace: $1x names a missing group and expands to nothing",
        input: &[("a", "foo"), ("b", "keep")],
        rules: "- {source_labels: [a], regex: '(f)oo', target_label: b, replacement: '$1x'}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "replace: $$ is a dollar",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: b, replacement: '$$$1'}",
        output: Some(&[("a", "foo"), ("b", "$foo")]),
    },
    Case {
        name: "replace: . matches a newline",
        input: &[("a", "line1\nline2")],
        rules: "- {source_labels: [a], regex: 'line1.(.*)', target_label: b}",
        output: Some(&[("a", "line1\nline2"), ("b", "line2")]),
    },
    Case {
        name: "replace: an empty value with an explicit regex matching empty",
        input: &[("a", "foo")],
        rules: "- {source_labels: [missing], regex: '', target_label: b, replacement: set}",
        output: Some(&[("a", "foo"), ("b", "set")]),
    },
    Case {
        name: "replace: __address__ to instance as Prometheus configs do",
        input: &[("__address__", "10.0.0.1:9100"), ("__meta_x", "y")],
        rules: "- {source_labels: [__address__], regex: '([^:]+):\\d+', target_label: instance}",
        output: Some(&[("__address__", "10.0.0.1:9100"), ("__meta_x", "y"), ("instance", "10.0.0.1")]),
    },
    Case {
        name: "replace: an empty separator and a case-insensitive regex",
        input: &[("a", "Foo"), ("b", "BAR")],
        rules: "- {source_labels: [a, b], separator: '', regex: '(?i)(foo)bar', target_label: c}",
        output: Some(&[("a", "Foo"), ("b", "BAR"), ("c", "Foo")]),
    },
    Case {
        name: "no rules: the set is unchanged",
        input: &[("a", "1")],
        rules: "[]",
        output: Some(&[("a", "1")]),
    },
    Case {
        name: "keep: match keeps",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f.*', action: keep}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "keep: no match drops",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f', action: keep}",
        output: None,
    },
    Case {
        name: "keep: an absent label is the empty string",
        input: &[("a", "foo")],
        rules: "- {source_labels: [b], regex: '', action: keep}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "keep: the action name is case-insensitive",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'bar', action: Keep}",
        output: None,
    },
    Case {
        name: "drop: match drops",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f.*', action: drop}",
        output: None,
    },
    Case {
        name: "drop: no match keeps",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f|g', action: drop}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "drop: a dropped set runs no later rule",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], action: drop}\n- {target_label: b, replacement: x}",
        output: None,
    },
    Case {
        name: "keepequal: equal keeps",
        input: &[("a", "1"), ("b", "1")],
        rules: "- {source_labels: [a], target_label: b, action: keepequal}",
        output: Some(&[("a", "1"), ("b", "1")]),
    },
    Case {
        name: "keepequal: different drops",
        input: &[("a", "1"), ("b", "2")],
        rules: "- {source_labels: [a], target_label: b, action: keepequal}",
        output: None,
    },
    Case {
        name: "keepequal: both absent are equal",
        input: &[("a", "1")],
        rules: "- {source_labels: [x], target_label: y, action: keepequal}",
        output: Some(&[("a", "1")]),
    },
    Case {
        name: "dropequal: equal drops, joined values included",
        input: &[("a", "1"), ("b", "2"), ("c", "1;2")],
        rules: "- {source_labels: [a, b], target_label: c, action: dropequal}",
        output: None,
    },
    Case {
        name: "dropequal: different keeps",
        input: &[("a", "1"), ("b", "2")],
        rules: "- {source_labels: [a], target_label: b, action: dropequal}",
        output: Some(&[("a", "1"), ("b", "2")]),
    },
    Case {
        // Expected values computed independently with Python: int.from_bytes(md5(v)[8:], "big") % m.
        name: "hashmod: md5 of the joined value modulo",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: h, modulus: 1000, action: hashmod}",
        output: Some(&[("a", "foo"), ("h", "696")]),
    },
    Case {
        name: "hashmod: of the empty string",
        input: &[("a", "foo")],
        rules: "- {source_labels: [x], target_label: h, modulus: 4294967296, action: hashmod}",
        output: Some(&[("a", "foo"), ("h", "3975692926")]),
    },
    Case {
        name: "labelmap: copies matching names under the new name",
        input: &[("__meta_kubernetes_pod_label_app", "web"), ("__meta_kubernetes_pod_label_tier", "fe"), ("job", "k")],
        rules: "- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}",
        output: Some(&[
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_label_tier", "fe"),
            ("app", "web"),
            ("job", "k"),
            ("tier", "fe"),
        ]),
    },
    Case {
        name: "labelmap: a custom replacement",
        input: &[("foo", "bar"), ("baz", "qux")],
        rules: "- {regex: '(b.*)', replacement: 'renamed_$1', action: labelmap}",
        output: Some(&[("baz", "qux"), ("foo", "bar"), ("renamed_baz", "qux")]),
    },
    Case {
        name: "labelmap: overwrites an existing label; the later source wins",
        input: &[("__m_a_x", "1"), ("__m_b_x", "2"), ("x", "0")],
        rules: "- {regex: '__m_.+_(x)', action: labelmap}",
        output: Some(&[("__m_a_x", "1"), ("__m_b_x", "2"), ("x", "2")]),
    },
    Case {
        name: "labelmap: visits changed labels after untouched ones",
        input: &[("__m_a_x", "1"), ("__m_b_x", "2")],
        rules: "- {target_label: __m_a_x, replacement: '9'}\n- {regex: '__m_.+_(x)', action: labelmap}",
        output: Some(&[("__m_a_x", "9"), ("__m_b_x", "2"), ("x", "9")]),
    },
    Case {
        name: "labeldrop: drops matching names, anchored",
        input: &[("a", "1"), ("ab", "2"), ("b", "3")],
        rules: "- {regex: 'a', action: labeldrop}",
        output: Some(&[("ab", "2"), ("b", "3")]),
    },
    Case {
        name: "labeldrop: a pattern",
        input: &[("__meta_a", "1"), ("__meta_b", "2"), ("job", "j")],
        rules: "- {regex: '__meta_.*', action: labeldrop}",
        output: Some(&[("job", "j")]),
    },
    Case {
        name: "labelkeep: keeps only matching names",
        input: &[("a", "1"), ("ab", "2"), ("b", "3"), ("__name__", "m")],
        rules: "- {regex: '__name__|a.*', action: labelkeep}",
        output: Some(&[("__name__", "m"), ("a", "1"), ("ab", "2")]),
    },
    Case {
        name: "labelkeep: nothing matching leaves an empty set, which is kept",
        input: &[("a", "1")],
        rules: "- {regex: 'z', action: labelkeep}",
        output: Some(&[]),
    },
    Case {
        name: "lowercase",
        input: &[("a", "FoO"), ("b", "BaR")],
        rules: "- {source_labels: [a, b], target_label: c, action: lowercase}",
        output: Some(&[("a", "FoO"), ("b", "BaR"), ("c", "foo;bar")]),
    },
    Case {
        name: "lowercase: Go's simple mapping for non-ASCII",
        input: &[("a", "ÄİΣ")],
        rules: "- {source_labels: [a], target_label: a, action: lowercase}",
        output: Some(&[("a", "äiσ")]),
    },
    Case {
        name: "uppercase",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: a, action: uppercase}",
        output: Some(&[("a", "FOO")]),
    },
    Case {
        name: "uppercase: ß stays, as in Go",
        input: &[("a", "straße")],
        rules: "- {source_labels: [a], target_label: b, action: uppercase}",
        output: Some(&[("a", "straße"), ("b", "STRAßE")]),
    },
    Case {
        name: "lowercase of nothing deletes the target",
        input: &[("a", "x"), ("b", "y")],
        rules: "- {source_labels: [missing], target_label: b, action: lowercase}",
        output: Some(&[("a", "x")]),
    },
    Case {
        name: "rules run in order on the changed set",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: b, replacement: '${1}bar'}\n- {source_labels: [b], regex: foobar, action: keep}\n- {regex: a, action: labeldrop}",
        output: Some(&[("b", "foobar")]),
    },
    Case {
        name: "Go's ASCII \\w in a regex",
        input: &[("a", "é")],
        rules: "- {source_labels: [a], regex: '\\w+', action: drop}",
        output: Some(&[("a", "é")]),
    },
];

#[test]
fn every_action_case() {
    let mut failures = Vec::new();
    for c in CASES {
        let got = process(&lset(c.input), &rules(c.rules));
        let want = c.output.map(lset);
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every action appears in the table.
    for a in Action::ALL {
        let name = a.as_str();
        assert!(
            CASES
                .iter()
                .any(|c| c.rules.contains(&format!("action: {name}"))
                    || (a == Action::Replace && !c.rules.contains("action:"))),
            "no case for {name}"
        );
    }
}

#[test]
fn hashmod_is_md5_tail_big_endian() {
    // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; its last 8 bytes, big-endian.
    let tail = 0xedef_654f_ccc4_a4d8_u64;
    assert_eq!(hashmod("foo", 1000), tail % 1000);
    assert_eq!(hashmod("foo", u64::MAX), tail % u64::MAX);
    // md5("") = d41d8cd98f00b204e9800998ecf8427e.
    assert_eq!(hashmod("", 1 << 32), 0xe980_0998_ecf8_427e_u64 % (1 << 32));
}

#[test]
fn defaults_are_prometheus() {
    let r = &rules("- {target_label: x}")[0];
    assert_eq!(r.action, Action::Replace);
    assert_eq!(r.separator, ";");
    assert_eq!(r.regex.as_str(), "(.*)");
    assert_eq!(r.replacement, "$1");
    assert!(r.source_labels.is_empty());
    assert_eq!(r.modulus, 0);
    // A null regex is the empty regex, which matches only the empty string.
    let r = &rules("- {target_label: x, regex: null}")[0];
    assert_eq!(r.regex.as_str(), "");
    assert!(r.regex.is_match("") && !r.regex.is_match("a"));
    // Scalars read as strings, as in Go's YAML decoder.
    let r = &rules("- {source_labels: [code], regex: 200, action: keep}")[0];
    assert!(r.regex.is_match("200"));
}

#[test]
fn round_trips_through_yaml() {
    let rs = rules(
        "- {source_labels: [a, b], separator: '-', regex: 'x(.*)', target_label: t, replacement: r, action: replace}\n\
         - {source_labels: [a], target_label: h, modulus: 8, action: hashmod}\n\
         - {regex: y, action: labeldrop}",
    );
    let text = serde_yaml::to_string(&rs).expect("serializes");
    let back: Vec<RelabelConfig> = serde_yaml::from_str(&text).expect("parses back");
    assert_eq!(rs, back, "{text}");
}

#[test]
fn validation_errors_are_prometheus_messages() {
    let cases: &[(&str, &str)] = &[
        ("- {action: replace}", "relabel configuration for replace action requires 'target_label' value"),
        ("- {action: hashmod, target_label: x}", "relabel configuration for hashmod requires non-zero modulus"),
        ("- {action: hashmod, modulus: 2}", "relabel configuration for hashmod action requires 'target_label' value"),
        ("- {action: hashmod, modulus: 2, target_label: '1x'}", "\"1x\" is invalid 'target_label' for hashmod action"),
        ("- {action: lowercase}", "relabel configuration for lowercase action requires 'target_label' value"),
        ("- {action: uppercase, target_label: x, replacement: y}", "'replacement' can not be set for uppercase action"),
        ("- {action: keepequal}", "relabel configuration for keepequal action requires 'target_label' value"),
        ("- {action: dropequal, target_label: 'a-b'}", "\"a-b\" is invalid 'target_label' for dropequal action"),
        ("- {action: keepequal, target_label: x, regex: '(.*)'}", "keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
        ("- {action: dropequal, target_label: x, separator: ','}", "dropequal action requires only 'source_labels' and `target_label`, and no other fields"),
        ("- {action: dropequal, target_label: x, replacement: y}", "'replacement' can not be set for dropequal action"),
        ("- {action: labeldrop, regex: a, source_labels: [b]}", "labeldrop action requires only 'regex', and no other fields"),
        ("- {action: labelkeep, regex: a, target_label: b}", "labelkeep action requires only 'regex', and no other fields"),
        ("- {action: labelkeep, regex: a, replacement: b}", "labelkeep action requires only 'regex', and no other fields"),
        ("- {action: labeldrop, regex: a, separator: ','}", "labeldrop action requires only 'regex', and no other fields"),
        ("- {action: labeldrop, regex: a, modulus: 3}", "labeldrop action requires only 'regex', and no other fields"),
        ("- {action: labelmap, replacement: 'a-$1'}", "\"a-$1\" is invalid 'replacement' for labelmap action"),
        ("- {action: replace, target_label: '1abc'}", "\"1abc\" is invalid 'target_label' for replace action"),
        ("- {action: replace, target_label: 'a-$1'}", "\"a-$1\" is invalid 'target_label' for replace action"),
        ("- {action: replace, target_label: '${1'}", "\"${1\" is invalid 'target_label' for replace action"),
        ("- {action: nope}", "unknown relabel action \"nope\""),
        ("- {action: ''}", "relabel action cannot be empty"),
        ("- {source_labels: ['a-b'], target_label: x}", "\"a-b\" is not a valid label name"),
        ("- {regex: '(', target_label: x}", "error parsing regexp \"(\""),
        ("- {target_label: x, bogus: 1}", "unknown field `bogus`"),
    ];
    for (yaml, want) in cases {
        let got = parse_err(yaml);
        assert!(got.contains(want), "{yaml}: got {got:?}, want {want:?}");
    }
}

#[test]
fn valid_configs_prometheus_accepts() {
    for yaml in [
        "- {action: replace, target_label: '${1}_${2}'}",
        "- {action: replace, target_label: 'label_$1_x'}",
        "- {action: replace, target_label: '$1'}",
        "- {action: labelmap, regex: '(.*)'}",
        "- {action: labelmap, regex: '(.*)', replacement: 'x_${1}'}",
        "- {action: labeldrop, regex: a}",
        "- {action: labelkeep}",
        "- {action: keepequal, source_labels: [a], target_label: b}",
        "- {action: hashmod, source_labels: [a], target_label: b, modulus: 1}",
        "- {action: DROP, source_labels: [a]}",
        "- {action: keep}",
    ] {
        rules(yaml);
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn label_name() -> impl Strategy<Value = String> {
        "[a-c_][a-c0-9_]{0,3}"
    }

    proptest! {
        #[test]
        fn labeldrop_and_labelkeep_partition(
            pairs in proptest::collection::vec((label_name(), "[a-z]{1,3}"), 0..8),
            pattern in "[a-c_.*|]{0,4}",
        ) {
            let Ok(re) = Regexp::new(&pattern) else { return Ok(()) };
            let input = Labels::new(pairs.into_iter().map(|(n, v)| strata_model::Label::new(n, v)).collect());
            let raw = |action: &str| RawRelabelConfig {
                regex: Some(Some(pattern.clone())),
                action: Some(action.to_string()),
                ..RawRelabelConfig::default()
            };
            let drop = RelabelConfig::try_from(raw("labeldrop")).expect("valid");
            let keep = RelabelConfig::try_from(raw("labelkeep")).expect("valid");
            let dropped = process(&input, &[drop]).expect("label actions never drop the set");
            let kept = process(&input, &[keep]).expect("label actions never drop the set");
            prop_assert_eq!(dropped.len() + kept.len(), input.len());
            for l in dropped.iter() { prop_assert!(!re.is_match(&l.name)); }
            for l in kept.iter() { prop_assert!(re.is_match(&l.name)); }
        }

        #[test]
        fn keep_and_drop_are_opposites(value in ".{0,6}", pattern in "[a-z.*+?|()]{0,5}") {
            let Ok(_) = Regexp::new(&pattern) else { return Ok(()) };
            let input = Labels::from_pairs([("a", value.as_str())]);
            let raw = |action: &str| RawRelabelConfig {
                source_labels: Some(vec!["a".into()]),
                regex: Some(Some(pattern.clone())),
                action: Some(action.to_string()),
                ..RawRelabelConfig::default()
            };
            let keep = RelabelConfig::try_from(raw("keep")).expect("valid");
            let drop = RelabelConfig::try_from(raw("drop")).expect("valid");
            prop_assert_ne!(process(&input, &[keep]).is_some(), process(&input, &[drop]).is_some());
        }

        #[test]
        fn hashmod_is_below_modulus(value in ".{0,20}", modulus in 1u64..) {
            prop_assert!(hashmod(&value, modulus) < modulus);
        }
    }
}
