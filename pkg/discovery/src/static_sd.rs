//! `static_configs`: all of a job's static configs form one provider whose groups are
//! sourced by their index (`"0"`, `"1"`, ...), as Prometheus coalesces them.

use std::collections::BTreeMap;

use strata_promconfig::sd::StaticConfig;

use crate::target_group::{TargetGroup, ADDRESS_LABEL};

/// The groups of a job's static configs.
pub fn groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| TargetGroup {
            source: i.to_string(),
            targets: c
                .targets
                .iter()
                .map(|t| BTreeMap::from([(ADDRESS_LABEL.to_string(), t.clone())]))
                .collect(),
            labels: c.labels.clone(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn one_group_per_static_config_sourced_by_index() {
        let cfgs = vec![
            StaticConfig {
                targets: vec!["a:1".into(), "b:2".into()],
                labels: BTreeMap::from([("env".into(), "x".into())]),
            },
            StaticConfig {
                targets: vec!["c:3".into()],
                labels: BTreeMap::new(),
            },
        ];
        let g = groups(&cfgs);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, "0");
        assert_eq!(g[1].source, "1");
        assert_eq!(g[0].targets[1][ADDRESS_LABEL], "b:2");
        assert_eq!(g[0].labels["env"], "x");
        assert_eq!(
            g[1].targets,
            vec![BTreeMap::from([(
                ADDRESS_LABEL.to_string(),
                "c:3".to_string()
            )])]
        );
    }
}
