//! Unit tests of the loader's pieces.

use super::*;

#[test]
fn env_expansion_is_go_os_expand() {
    let env = |n: &str| match n {
        "REGION" => Some("eu-1".to_string()),
        "1" => Some("one".to_string()),
        _ => None,
    };
    assert_eq!(expand_env("$REGION", &env), "eu-1");
    assert_eq!(expand_env("${REGION}-a", &env), "eu-1-a");
    assert_eq!(expand_env("x-$UNSET-y", &env), "x--y");
    assert_eq!(expand_env("$$REGION", &env), "$REGION");
    assert_eq!(expand_env("cost$", &env), "cost$");
    assert_eq!(expand_env("a$%b", &env), "a$%b");
    assert_eq!(expand_env("a${REGION", &env), "aREGION");
    assert_eq!(expand_env("$1x", &env), "onex");
    assert_eq!(expand_env("plain", &env), "plain");
}
