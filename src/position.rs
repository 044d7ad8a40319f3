//! Fractional-index positions (D3): the order of columns and of tasks in a column.
//!
//! A position is a non-empty string of base-62 digits (`0-9A-Za-z`, in ASCII order, so
//! that PostgreSQL's `COLLATE "C"` and Rust's byte order agree) read as a fraction
//! `0.d1d2d3…`; it never ends in `0`, so every fraction has one spelling. Moving an item
//! rewrites only its own key: [`between`] returns a key strictly between two others,
//! as short as possible. Appending and prepending step one digit at a time; inserting
//! repeatedly at the same spot between two items lengthens keys by about one
//! character per six insertions.

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = 62;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("'{0}' is not a position: use base-62 digits, not ending in 0")]
    Invalid(String),
    #[error("'{0}' is not before '{1}'")]
    NotOrdered(String, String),
}

/// Whether `key` is a well-formed position.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty() && !key.ends_with('0') && key.bytes().all(|byte| digit(byte).is_some())
}

/// A key strictly between `before` and `after`; `None` stands for the start or the end
/// of the list.
pub fn between(before: Option<&str>, after: Option<&str>) -> Result<String, PositionError> {
    for key in [before, after].into_iter().flatten() {
        if !is_valid(key) {
            return Err(PositionError::Invalid(key.to_string()));
        }
    }
    if let (Some(low), Some(high)) = (before, after)
        && low >= high
    {
        return Err(PositionError::NotOrdered(low.to_string(), high.to_string()));
    }
    Ok(match (before, after) {
        (None, None) => "V".to_string(),
        // Appending and prepending step by one digit rather than halving the room left,
        // so a list built by appends keeps one-character keys for 36 items and grows a
        // character only every 61 after that.
        (Some(low), None) => increment(low.as_bytes()),
        (None, Some(high)) => decrement(high.as_bytes()),
        (Some(low), Some(high)) => midpoint(low.as_bytes(), Some(high.as_bytes())),
    })
}

/// Why [`place`] could not place an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError<Id> {
    /// `field` (`after` or `before`) names an item that is not among the siblings.
    UnknownNeighbour { field: &'static str, id: Id },
    /// `after` does not come before `before`.
    OutOfOrder,
}

/// The key for an item placed among `siblings` (ids with keys, in order, the item
/// itself left out): right after `after` and/or right before `before`; neither: last.
pub fn place<Id: PartialEq + Copy>(
    siblings: &[(Id, String)],
    after: Option<Id>,
    before: Option<Id>,
) -> Result<String, PlaceError<Id>> {
    let index_of = |field: &'static str, id: Id| {
        siblings.iter().position(|(other, _)| *other == id).ok_or(PlaceError::UnknownNeighbour { field, id })
    };
    let key = |index: usize| siblings.get(index).map(|(_, key)| key.as_str());
    let (low, high) = match (after, before) {
        (None, None) => (siblings.last().map(|(_, key)| key.as_str()), None),
        (Some(after), None) => {
            let index = index_of("after", after)?;
            (key(index), key(index + 1))
        }
        (None, Some(before)) => {
            let index = index_of("before", before)?;
            (index.checked_sub(1).and_then(key), key(index))
        }
        (Some(after), Some(before)) => (key(index_of("after", after)?), key(index_of("before", before)?)),
    };
    between(low, high).map_err(|_| PlaceError::OutOfOrder)
}

/// `n` keys in increasing order, evenly spread: for seeding a new list.
pub fn spread(n: usize) -> Vec<String> {
    if n < BASE {
        return (1..=n).map(|index| char::from(DIGITS[index * BASE / (n + 1)]).to_string()).collect();
    }
    let mut keys: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = keys.last().map_or_else(|| "1".to_string(), |last| increment(last.as_bytes()));
        keys.push(key);
    }
    keys
}

/// The shortest key after `low` that stays close to it.
fn increment(low: &[u8]) -> String {
    let first = low.first().and_then(|byte| digit(*byte)).unwrap_or(0);
    if first + 1 < BASE {
        return char::from(DIGITS[first + 1]).to_string();
    }
    char::from(DIGITS[first]).to_string() + &increment(low.get(1..).unwrap_or_default())
}

/// The shortest key before `high` that stays close to it.
fn decrement(high: &[u8]) -> String {
    let first = high.first().and_then(|byte| digit(*byte)).unwrap_or(0);
    match (first, high.len()) {
        (2.., _) => char::from(DIGITS[first - 1]).to_string(),
        // "1x…": "1" itself is smaller and valid.
        (1, 2..) => "1".to_string(),
        (1, _) => "0V".to_string(),
        // A key never ends in 0, so a leading 0 has digits after it.
        _ => "0".to_string() + &decrement(high.get(1..).unwrap_or_default()),
    }
}

/// The midpoint of the fractions `0.low` and `0.high` (`high = None`: 1), trimmed to
/// the shortest key between them. Requires `low < high`.
fn midpoint(low: &[u8], high: Option<&[u8]>) -> String {
    if let Some(high) = high {
        // Skip the common prefix (a missing digit of `low` counts as 0).
        let shared = high
            .iter()
            .enumerate()
            .take_while(|(index, digit)| low.get(*index).copied().unwrap_or(b'0') == **digit)
            .count();
        if shared > 0 {
            let rest_low = low.get(shared..).unwrap_or_default();
            let prefix = String::from_utf8_lossy(&high[..shared]).into_owned();
            return prefix + &midpoint(rest_low, Some(&high[shared..]));
        }
    }
    let low_digit = low.first().and_then(|byte| digit(*byte)).unwrap_or(0);
    let high_digit = high.and_then(|high| high.first()).and_then(|byte| digit(*byte)).unwrap_or(BASE);
    if high_digit - low_digit > 1 {
        return char::from(DIGITS[(low_digit + high_digit).div_ceil(2)]).to_string();
    }
    // Adjacent first digits.
    match high {
        // `high` goes on past its first digit: that digit alone lies between.
        Some(high) if high.len() > 1 => char::from(high[0]).to_string(),
        // Keep `low`'s first digit and find room after it.
        _ => char::from(DIGITS[low_digit]).to_string() + &midpoint(low.get(1..).unwrap_or_default(), None),
    }
}

fn digit(byte: u8) -> Option<usize> {
    match byte {
        b'0'..=b'9' => Some(usize::from(byte - b'0')),
        b'A'..=b'Z' => Some(usize::from(byte - b'A') + 10),
        b'a'..=b'z' => Some(usize::from(byte - b'a') + 36),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fall_strictly_between_their_neighbours() {
        for (low, high) in [
            (None, None),
            (Some("V"), None),
            (None, Some("V")),
            (Some("V"), Some("W")),
            (Some("V"), Some("V1")),
            (Some("Vz"), Some("W")),
            (Some("1"), Some("2")),
            (None, Some("1")),
            (None, Some("01")),
            (Some("z"), None),
            (Some("zzz"), None),
        ] {
            let key = between(low, high).unwrap();
            assert!(is_valid(&key), "{key}");
            assert!(low.is_none_or(|low| low < key.as_str()), "{low:?} < {key}");
            assert!(high.is_none_or(|high| key.as_str() < high), "{key} < {high:?}");
        }
    }

    #[test]
    fn bad_keys_and_bad_orders_are_refused() {
        assert_eq!(between(Some("a0"), None), Err(PositionError::Invalid("a0".into())));
        assert_eq!(between(Some("a-"), None), Err(PositionError::Invalid("a-".into())));
        assert_eq!(between(Some("b"), Some("a")), Err(PositionError::NotOrdered("b".into(), "a".into())));
        assert_eq!(between(Some("b"), Some("b")), Err(PositionError::NotOrdered("b".into(), "b".into())));
    }

    #[test]
    fn appending_keeps_keys_to_one_character_for_a_column_of_sixty() {
        let keys = spread(60);
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(keys.iter().all(|key| key.len() == 1), "{keys:?}");
    }

    /// Thousands of random moves keep a total order with short keys.
    #[test]
    fn random_moves_keep_a_total_order_and_short_keys() {
        // A small deterministic generator: the property must hold for every seed.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut list: Vec<String> = spread(100);
        let mut longest = 0;
        for _ in 0..20_000 {
            let item = list.remove(next(list.len()));
            drop(item);
            let slot = next(list.len() + 1);
            let low = slot.checked_sub(1).map(|index| list[index].as_str());
            let high = list.get(slot).map(String::as_str);
            let key = between(low, high).unwrap();
            longest = longest.max(key.len());
            list.insert(slot, key);
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]), "order broken at {slot}");
        }
        let average = list.iter().map(String::len).sum::<usize>() as f64 / list.len() as f64;
        eprintln!("after 20,000 random moves: longest key ever {longest}, average now {average:.1}");
        assert!(longest <= 16, "keys grew to {longest} characters");
        assert!(average <= 6.0, "keys average {average:.1} characters");
    }

    #[test]
    fn inserting_at_the_front_again_and_again_grows_keys_slowly() {
        let mut first = "V".to_string();
        for _ in 0..300 {
            first = between(None, Some(&first)).unwrap();
        }
        assert!(first.len() <= 60, "{} characters after 300 front insertions", first.len());
    }
}
