//! Resolves duration expressions that depend on the query (`[step()*2]`, `offset range()`):
//! after parsing, every range, subquery step and offset written with `step()` or `range()` is
//! computed from the query's step and range and written into the node, as Prometheus's
//! duration visitor does before evaluation. Constant expressions were already folded by the
//! parser.

use std::time::Duration;

use promql_parser::parser::{DurationExpr, Expr, Offset, VectorSelector};

use crate::error::QueryError;

/// Resolves every duration expression in `e` for a query with `step_ms` (0 for an instant
/// query) spanning `range_ms` (end - start).
pub(crate) fn resolve(e: &mut Expr, step_ms: i64, range_ms: i64) -> Result<(), QueryError> {
    let r = Resolver {
        step: step_ms as f64 / 1000.0,
        range: range_ms as f64 / 1000.0,
    };
    r.walk(e)
}

struct Resolver {
    step: f64,
    range: f64,
}

impl Resolver {
    fn millis(&self, d: &DurationExpr, allow_negative: bool) -> Result<i64, QueryError> {
        d.eval_millis(self.step, self.range, allow_negative)
            .map_err(QueryError::BadData)
    }

    fn positive(&self, d: &DurationExpr) -> Result<Duration, QueryError> {
        Ok(Duration::from_millis(self.millis(d, false)?.unsigned_abs()))
    }

    fn offset(&self, d: &DurationExpr) -> Result<Offset, QueryError> {
        let ms = self.millis(d, true)?;
        let d = Duration::from_millis(ms.unsigned_abs());
        Ok(if ms < 0 {
            Offset::Neg(d)
        } else {
            Offset::Pos(d)
        })
    }

    fn selector(&self, vs: &mut VectorSelector) -> Result<(), QueryError> {
        if let Some(d) = vs.offset_expr.take() {
            vs.offset = Some(self.offset(&d)?);
        }
        Ok(())
    }

    fn walk(&self, e: &mut Expr) -> Result<(), QueryError> {
        match e {
            Expr::VectorSelector(vs) => self.selector(vs),
            Expr::MatrixSelector(ms) => {
                if let Some(d) = ms.range_expr.take() {
                    ms.range = self.positive(&d)?;
                }
                self.selector(&mut ms.vs)
            }
            Expr::Subquery(sq) => {
                if let Some(d) = sq.range_expr.take() {
                    sq.range = self.positive(&d)?;
                }
                if let Some(d) = sq.step_expr.take() {
                    sq.step = Some(self.positive(&d)?);
                }
                if let Some(d) = sq.offset_expr.take() {
                    sq.offset = Some(self.offset(&d)?);
                }
                self.walk(&mut sq.expr)
            }
            Expr::Aggregate(a) => {
                self.walk(&mut a.expr)?;
                match &mut a.param {
                    Some(p) => self.walk(p),
                    None => Ok(()),
                }
            }
            Expr::Unary(u) => self.walk(&mut u.expr),
            Expr::Binary(b) => {
                self.walk(&mut b.lhs)?;
                self.walk(&mut b.rhs)
            }
            Expr::Paren(p) => self.walk(&mut p.expr),
            Expr::Call(c) => c.args.args.iter_mut().try_for_each(|a| self.walk(a)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Expr {
        promql_parser::parser::parse(q).expect("test query parses")
    }

    #[test]
    fn resolves_step_and_range_in_ranges_and_offsets() {
        let mut e = parse("count_over_time(foo[step()+1ms] offset -range())");
        resolve(&mut e, 10_000, 60_000).expect("resolves");
        let Expr::Call(c) = &e else {
            panic!("not a call")
        };
        let Expr::MatrixSelector(ms) = &*c.args.args[0] else {
            panic!("not a matrix selector")
        };
        assert_eq!(ms.range, Duration::from_millis(10_001));
        assert_eq!(ms.vs.offset, Some(Offset::Neg(Duration::from_secs(60))));
    }

    #[test]
    fn rejects_non_positive_ranges() {
        let mut e = parse("foo[step()]");
        let err = resolve(&mut e, 0, 0).expect_err("zero range");
        assert_eq!(err.to_string(), "duration must be greater than 0");
    }
}
