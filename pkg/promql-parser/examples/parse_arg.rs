//! Parses the query given as the first argument and prints the AST (debugging aid).
use promql_parser::parser;

fn main() {
    let q = std::env::args().nth(1).unwrap_or_default();
    match parser::parse(&q) {
        Ok(expr) => println!("{expr}\n{expr:?}"),
        Err(info) => println!("Err: {info:?}"),
    }
}
