//! Reads a JSON list of points from the arguments (or prints an example), and prints their
//! sum and the points back as JSON.
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point {
    x: i64,
    y: i64,
}

#[derive(Serialize)]
struct Summary<'a> {
    points: &'a [Point],
    sum: Point,
}

fn main() {
    let input = std::env::args()
        .nth(1)
        .unwrap_or_else(|| r#"[{"x":1,"y":2},{"x":3,"y":4}]"#.to_string());
    let points: Vec<Point> = match serde_json::from_str(&input) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rust-cli: not a JSON list of points: {e}");
            std::process::exit(2);
        }
    };
    let sum = points.iter().fold(Point { x: 0, y: 0 }, |a, p| Point { x: a.x + p.x, y: a.y + p.y });
    println!("{}", serde_json::to_string(&Summary { points: &points, sum }).unwrap());
}
