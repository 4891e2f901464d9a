/// The answer, from a crate with `links`.
pub fn answer() -> u32 {
    42
}
