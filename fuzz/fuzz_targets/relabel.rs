//! Relabeling (`strata_relabel`): the bytes before the first NUL are a YAML list of
//! relabel rules, the rest `name=value` lines of a label set. Rules Prometheus would refuse
//! must be refused (not panic); accepted rules are applied, the result must be a sorted set
//! without empty values, and accepted rules must read back from their own YAML. Also
//! compiles the YAML part as a bare regex and expands the rest as a template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_model::{Label, Labels};
use strata_relabel::{process, Regexp, RelabelConfig};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (rules, rest) = data.split_at(split);
    let Ok(rules) = std::str::from_utf8(rules) else {
        return;
    };
    let rest = String::from_utf8_lossy(rest.get(1..).unwrap_or(&[]));

    if let Ok(re) = Regexp::new(rules) {
        if let Some(caps) = re.captures(&rest) {
            let mut out = String::new();
            re.expand(&rest, &caps, &mut out);
        }
    }

    let Ok(cfgs) = serde_yaml::from_str::<Vec<RelabelConfig>>(rules) else {
        return;
    };
    let labels = Labels::new(
        rest.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| Label::new(n, v))
            .collect(),
    );
    if let Some(out) = process(&labels, &cfgs) {
        let v = out.as_slice();
        assert!(
            v.windows(2).all(|w| w[0].name < w[1].name),
            "unsorted: {out:?}"
        );
        assert!(
            v.iter().all(|l| !l.value.is_empty()),
            "empty value: {out:?}"
        );
    }
    // Serialising accepted rules and reading them back gives the same rules.
    if let Ok(text) = serde_yaml::to_string(&cfgs) {
        let back: Vec<RelabelConfig> =
            serde_yaml::from_str(&text).expect("serialized rules parse back");
        assert_eq!(back, cfgs);
    }
});
