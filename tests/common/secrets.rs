//! Looking for a secret in what a user is shown.

/// Every run of 4 or more characters of `secret` that `shown` contains.
pub fn secret_pieces(secret: &str, shown: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(4)
        .map(String::from_iter)
        .filter(|piece| shown.contains(piece.as_str()))
        .collect()
}
