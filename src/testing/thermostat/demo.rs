//! The stand-in thermostat's built-in unit: an SX on firmware 2.4, its serial, key and parameters.

/// The stand-in's serial number unless another is set.
pub const DEMO_SN: &str = "058016000543464839373520000159";
/// A 16-character key, valid base32 too, for locking stand-ins.
pub const DEMO_KEY: &str = "BW4ERXAJXXXXXXXX";
/// A parameter set like an SX unit's on firmware 2.4: ids, the type codes
/// the device reports (31 and 29 as int8, where the vendor's table says
/// uint8, as a real unit does) and values.
pub fn demo_parameters() -> Vec<(u16, u8, String)> {
    let list: [(u16, u8, &str); 38] = [
        (0, 6, "0"),
        (1, 6, "0"),
        (2, 2, "0"),
        (3, 2, "0"),
        (4, 1, "23"),
        (5, 1, "27"),
        (6, 1, "16"),
        (7, 1, "18"),
        (14, 2, "5"),
        (15, 2, "35"),
        (17, 4, "156"),
        (18, 2, "3"),
        (19, 2, "10"),
        (20, 1, "0"),
        (21, 1, "0"),
        (23, 2, "5"),
        (25, 2, "0"),
        (26, 1, "45"),
        (27, 1, "5"),
        (28, 2, "16"),
        (29, 1, "0"),
        (31, 1, "27"),
        (33, 1, "35"),
        (34, 1, "5"),
        (52, 4, "1380"),
        (53, 4, "420"),
        (54, 2, "3"),
        (109, 7, "0"),
        (114, 7, "0"),
        (115, 7, "0"),
        (117, 7, "0"),
        (118, 7, "0"),
        (120, 7, "0"),
        (121, 7, "0"),
        (122, 7, "0"),
        (124, 7, "0"),
        (125, 7, "0"),
        (130, 0, "SX"),
    ];
    list.iter()
        .map(|(id, t, v)| (*id, *t, v.to_string()))
        .collect()
}
