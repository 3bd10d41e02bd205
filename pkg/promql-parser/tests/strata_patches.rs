//! Behaviour added by Strata's patches (see README.md): positions, duration expressions,
//! anchored/smoothed, trim operators, empty-matching selectors in `info`.

use promql_parser::parser::{self, DurationExpr, Expr, Offset};
use std::time::Duration;

fn parse(q: &str) -> Expr {
    parser::parse(q).unwrap_or_else(|e| panic!("{q} does not parse: {e}"))
}

#[test]
fn nodes_record_where_they_start() {
    let q = "sum(rate(foo[5m])) + -1.5";
    let Expr::Binary(b) = parse(q) else {
        panic!("not a binary expression")
    };
    assert_eq!(b.pos.start_pos_input(q), "1:1");
    assert_eq!(b.rhs.pos().start_pos_input(q), "1:22");
    let Expr::Aggregate(a) = *b.lhs else {
        panic!("not an aggregation")
    };
    let Expr::Call(c) = *a.expr else {
        panic!("not a call")
    };
    assert_eq!(c.pos.start_pos_input(q), "1:5");
    assert_eq!(c.args.args[0].pos().start_pos_input(q), "1:10");
}

#[test]
fn duration_expressions_fold_or_stay_for_the_engine() {
    let Expr::MatrixSelector(ms) = parse("foo[2m*(10+5)]") else {
        panic!("not a range selector")
    };
    assert_eq!(ms.range, Duration::from_secs(1800));
    assert!(ms.range_expr.is_none());

    let Expr::MatrixSelector(ms) = parse("foo[step()+1ms]") else {
        panic!("not a range selector")
    };
    assert_eq!(ms.range_expr.map(|e| e.is_constant()), Some(false));

    let Expr::VectorSelector(vs) = parse("foo offset (-2 * 2)") else {
        panic!("not a selector")
    };
    assert_eq!(vs.offset, Some(Offset::Neg(Duration::from_secs(4))));

    // Without parentheses the offset takes only the literal.
    assert!(matches!(parse("foo offset 100 + 2"), Expr::Binary(_)));
    assert!(matches!(parse("foo offset -2 ^ 2"), Expr::Binary(_)));
    let Expr::Binary(b) = parse("foo offset -min_of(step(), 1s) + 8000") else {
        panic!("not a binary expression")
    };
    let Expr::VectorSelector(vs) = *b.lhs else {
        panic!("not a selector")
    };
    assert!(matches!(vs.offset_expr, Some(DurationExpr::Neg(_))));
}

#[test]
fn range_modifiers_and_trim_operators_parse() {
    let Expr::Call(c) = parse("rate(foo[1m] anchored)") else {
        panic!("not a call")
    };
    let Expr::MatrixSelector(ms) = &*c.args.args[0] else {
        panic!("not a range selector")
    };
    assert!(ms.vs.anchored && !ms.vs.smoothed);
    assert!(parser::parse("foo[1m] anchored smoothed").is_err());
    assert!(parser::parse("foo[1m:] smoothed").is_err());
    assert_eq!(parse("foo </ 5").to_string(), "foo </ 5");
    assert_eq!(parse("foo >/ 5").to_string(), "foo >/ 5");
    // The keywords stay usable as names.
    assert!(matches!(parse("anchored"), Expr::VectorSelector(_)));
    assert!(matches!(parse("step"), Expr::VectorSelector(_)));
}

#[test]
fn only_infos_second_argument_may_match_everything() {
    assert!(parser::parse(r#"info(metric, {data=~".*"})"#).is_ok());
    assert!(parser::parse(r#"rate({data=~".*"}[5m])"#).is_err());
}

#[test]
fn byte_escapes_are_bytes() {
    let Expr::StringLiteral(s) = parse(r#""\xc3\xa9""#) else {
        panic!("not a string")
    };
    assert_eq!(s.val, "é");
    assert_eq!(parse(r#""a\xffb""#).to_string(), r#""a\xffb""#);
}
