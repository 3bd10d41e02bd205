// Copyright 2026 The Strata Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Duration expressions: arithmetic inside `[...]` and after `offset`
//! (`[5m+1m]`, `offset (1m*2)`, `[step()]`, `offset min_of(range(), 1h)`).
//!
//! Values are float seconds, as in Prometheus. Expressions without `step()`/`range()` are
//! folded by the parser; the others stay in the AST for the engine to resolve per query.

use std::fmt;

/// A duration expression as written.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A number (seconds) or a duration literal converted to seconds.
    Number(f64),
    /// `step()`: the query's resolution step.
    Step,
    /// `range()`: the query's range (end - start).
    Range,
    /// Unary minus.
    Neg(Box<DurationExpr>),
    /// `lhs op rhs` with op one of `+ - * / % ^`.
    Binary(DurationOp, Box<DurationExpr>, Box<DurationExpr>),
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    /// A parenthesised expression, kept for printing.
    Paren(Box<DurationExpr>),
}

/// The arithmetic operators of duration expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl DurationOp {
    fn symbol(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
        }
    }
}

impl DurationExpr {
    /// Whether the value does not depend on the query (no `step()` or `range()`).
    pub fn is_constant(&self) -> bool {
        match self {
            DurationExpr::Number(_) => true,
            DurationExpr::Step | DurationExpr::Range => false,
            DurationExpr::Neg(e) | DurationExpr::Paren(e) => e.is_constant(),
            DurationExpr::Binary(_, a, b)
            | DurationExpr::MinOf(a, b)
            | DurationExpr::MaxOf(a, b) => a.is_constant() && b.is_constant(),
        }
    }

    /// The value in seconds, given the query's step and range in seconds.
    pub fn eval_seconds(&self, step: f64, range: f64) -> Result<f64, String> {
        Ok(match self {
            DurationExpr::Number(v) => *v,
            DurationExpr::Step => step,
            DurationExpr::Range => range,
            DurationExpr::Neg(e) => -e.eval_seconds(step, range)?,
            DurationExpr::Paren(e) => e.eval_seconds(step, range)?,
            DurationExpr::MinOf(a, b) => a
                .eval_seconds(step, range)?
                .min(b.eval_seconds(step, range)?),
            DurationExpr::MaxOf(a, b) => a
                .eval_seconds(step, range)?
                .max(b.eval_seconds(step, range)?),
            DurationExpr::Binary(op, a, b) => {
                let (l, r) = (a.eval_seconds(step, range)?, b.eval_seconds(step, range)?);
                match op {
                    DurationOp::Add => l + r,
                    DurationOp::Sub => l - r,
                    DurationOp::Mul => l * r,
                    DurationOp::Div if r == 0.0 => return Err("division by zero".into()),
                    DurationOp::Div => l / r,
                    DurationOp::Mod if r == 0.0 => return Err("modulo by zero".into()),
                    DurationOp::Mod => l % r,
                    DurationOp::Pow => l.powf(r),
                }
            }
        })
    }

    /// The value as whole milliseconds (truncated, as Prometheus does), checked as
    /// Prometheus's `calculateDuration`: finite, in range, and positive unless
    /// `allow_negative` (offsets may be negative; ranges and steps may not).
    pub fn eval_millis(&self, step: f64, range: f64, allow_negative: bool) -> Result<i64, String> {
        let secs = self.eval_seconds(step, range)?;
        if !secs.is_finite() {
            return Err("duration is NaN or infinite".into());
        }
        if secs <= 0.0 && !allow_negative {
            return Err("duration must be greater than 0".into());
        }
        // time.Duration holds nanoseconds in an i64.
        let limit = (i64::MAX as f64) / 1e9;
        if secs > limit || secs < -limit {
            return Err("duration is out of range".into());
        }
        // Literals like `1001ms` pass through float seconds (1.001); snap values within
        // float noise of a whole millisecond before truncating as Prometheus does.
        let ms = secs * 1000.0;
        let whole = ms.round();
        Ok(if (ms - whole).abs() < 1e-6 {
            whole
        } else {
            ms.trunc()
        } as i64)
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Number(v) => {
                let ms = (v * 1000.0).round();
                if ms > 0.0 && ms.fract() == 0.0 && ms < 1e15 {
                    let d = std::time::Duration::from_millis(ms as u64);
                    write!(f, "{}", crate::util::duration::display_duration(&d))
                } else {
                    write!(f, "{v}")
                }
            }
            DurationExpr::Step => write!(f, "step()"),
            DurationExpr::Range => write!(f, "range()"),
            DurationExpr::Neg(e) => write!(f, "-{e}"),
            DurationExpr::Paren(e) => write!(f, "({e})"),
            DurationExpr::MinOf(a, b) => write!(f, "min_of({a}, {b})"),
            DurationExpr::MaxOf(a, b) => write!(f, "max_of({a}, {b})"),
            DurationExpr::Binary(op, a, b) => write!(f, "{a} {} {b}", op.symbol()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: f64) -> Box<DurationExpr> {
        Box::new(DurationExpr::Number(v))
    }

    #[test]
    fn evaluates_arithmetic_and_query_functions() {
        let e = DurationExpr::Binary(DurationOp::Add, n(1.0), Box::new(DurationExpr::Step));
        assert!(!e.is_constant());
        assert_eq!(e.eval_millis(10.0, 0.0, false), Ok(11_000));
        let m = DurationExpr::MinOf(Box::new(DurationExpr::Range), n(8.0));
        assert_eq!(m.eval_millis(5.0, 10.0, false), Ok(8_000));
        let d = DurationExpr::Binary(DurationOp::Div, n(1.0), n(0.0));
        assert_eq!(
            d.eval_seconds(0.0, 0.0),
            Err("division by zero".to_string())
        );
        let neg = DurationExpr::Neg(n(5.0));
        assert!(neg.eval_millis(0.0, 0.0, false).is_err());
        assert_eq!(neg.eval_millis(0.0, 0.0, true), Ok(-5_000));
        assert_eq!(
            DurationExpr::Number(1.001).eval_millis(0.0, 0.0, false),
            Ok(1001)
        );
        assert_eq!(
            DurationExpr::Number(0.0015).eval_millis(0.0, 0.0, false),
            Ok(1)
        );
    }
}
