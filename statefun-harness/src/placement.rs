//! Flink's placement of keys on parallel subtasks (spec §3.2): the key is
//! the address id only; Java's `String.hashCode`, Flink's `murmurHash`, key
//! groups, and the default max parallelism.

/// Java's `String.hashCode()`: over UTF-16 code units, wrapping.
pub(crate) fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0_i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Flink's `MathUtils.murmurHash(int)`.
pub(crate) fn flink_murmur(code: i32) -> i32 {
    let mut h = u32::from_ne_bytes(code.to_ne_bytes()).wrapping_mul(0xcc9e_2d51);
    h = h.rotate_left(15);
    h = h.wrapping_mul(0x1b87_3593);
    h = h.rotate_left(13);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64);
    h ^= 4;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    let signed = i32::from_ne_bytes(h.to_ne_bytes());
    if signed >= 0 {
        signed
    } else if signed == i32::MIN {
        0
    } else {
        -signed
    }
}

/// Flink's default max parallelism for `parallelism` subtasks.
pub(crate) fn default_max_parallelism(parallelism: u32) -> u32 {
    let wanted = parallelism.saturating_add(parallelism / 2);
    wanted
        .checked_next_power_of_two()
        .unwrap_or(1 << 31)
        .clamp(128, 32_768)
}

/// The key group of an id.
pub(crate) fn key_group(id: &str, max_parallelism: u32) -> u32 {
    // murmur is non-negative, so the conversion cannot fail.
    u32::try_from(flink_murmur(java_string_hash(id))).unwrap_or(0) % max_parallelism
}

/// The subtask that owns a key group.
pub(crate) fn subtask(key_group: u32, parallelism: u32, max_parallelism: u32) -> u32 {
    let owner = u64::from(key_group) * u64::from(parallelism) / u64::from(max_parallelism);
    u32::try_from(owner).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_codes() {
        // Values printed by Java 17's String.hashCode() on this machine.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("Kim"), 75_439);
        assert_eq!(java_string_hash("socks"), 109_610_287);
        assert_eq!(java_string_hash("hello world"), 1_794_106_052);
        // A supplementary character counts as two UTF-16 units.
        assert_eq!(java_string_hash("😀"), 1_772_899);
        assert_eq!(java_string_hash("user-42"), -147_182_656);
        assert_eq!(java_string_hash("ünï"), 245_821);
    }

    #[test]
    fn max_parallelism_defaults() {
        assert_eq!(default_max_parallelism(1), 128);
        assert_eq!(default_max_parallelism(4), 128);
        assert_eq!(default_max_parallelism(100), 256);
        assert_eq!(default_max_parallelism(30_000), 32_768);
    }

    #[test]
    fn placement_is_in_range() {
        for id in ["", "Kim", "socks", "user-42", "ünï"] {
            let kg = key_group(id, 128);
            assert!(kg < 128);
            assert!(subtask(kg, 4, 128) < 4);
        }
    }
}
