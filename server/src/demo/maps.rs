//! The trees the demo runs, as data: today's map, where communes report straight to the city,
//! and the seed's three-level tree, kept as history.

use super::generator::Shape;
use crate::domain::model::UnitLevel;

/// The wards and communes of thị xã Sơn Tây in the seed, with their (illustrative) codes.
pub const COMMUNES: &[(&str, &str, UnitLevel)] = &[
    ("09574", "Phường Lê Lợi", UnitLevel::Ward),
    ("09577", "Phường Phú Thịnh", UnitLevel::Ward),
    ("09580", "Phường Ngô Quyền", UnitLevel::Ward),
    ("09583", "Phường Quang Trung", UnitLevel::Ward),
    ("09586", "Phường Sơn Lộc", UnitLevel::Ward),
    ("09589", "Phường Xuân Khanh", UnitLevel::Ward),
    ("09592", "Xã Đường Lâm", UnitLevel::Commune),
    ("09595", "Phường Viên Sơn", UnitLevel::Ward),
    ("09598", "Xã Xuân Sơn", UnitLevel::Commune),
    ("09601", "Phường Trung Hưng", UnitLevel::Ward),
    ("09604", "Xã Thanh Mỹ", UnitLevel::Commune),
    ("09607", "Phường Trung Sơn Trầm", UnitLevel::Ward),
    ("09610", "Xã Kim Sơn", UnitLevel::Commune),
    ("09613", "Xã Sơn Đông", UnitLevel::Commune),
    ("09616", "Xã Cổ Đông", UnitLevel::Commune),
];

/// The communes and wards of today's map under Hà Nội; Sơn Tây's successors first.
// Codes are illustrative (unverified): the statistics office's new list is not in the seed.
pub const HA_NOI_COMMUNES: &[(&str, &str, UnitLevel)] = &[
    ("09556", "Phường Sơn Tây", UnitLevel::Ward),
    ("09559", "Phường Tùng Thiện", UnitLevel::Ward),
    ("09562", "Xã Đoài Phương", UnitLevel::Commune),
    ("00091", "Phường Tây Hồ", UnitLevel::Ward),
    ("09715", "Xã Ba Vì", UnitLevel::Commune),
    ("09619", "Xã Quảng Oai", UnitLevel::Commune),
];

/// A tier above the communes: its unit, and the word the demo's lines call it by.
#[derive(Debug)]
pub struct Tier {
    pub code: &'static str,
    pub name: &'static str,
    pub level: UnitLevel,
    pub word: &'static str,
}

/// A tree the demo runs: the tiers above the communes, top first (the communes report to the
/// last), and the register recorded over it.
#[derive(Debug)]
pub struct Map {
    pub tiers: &'static [Tier],
    pub communes: &'static [(&'static str, &'static str, UnitLevel)],
    pub shape: fn(u64) -> Shape,
}

const HA_NOI: Tier = Tier {
    code: "01",
    name: "Thành phố Hà Nội",
    level: UnitLevel::Province,
    word: "city",
};

/// The seed's three-level tree: Hà Nội, thị xã Sơn Tây, its wards and communes.
pub const SON_TAY_2019: Map = Map {
    tiers: &[
        HA_NOI,
        Tier {
            code: "269",
            name: "Thị xã Sơn Tây",
            level: UnitLevel::District,
            word: "town",
        },
    ],
    communes: COMMUNES,
    shape: Shape::son_tay_2019,
};

/// Today's two-level map: no district level, communes and wards report straight to the city.
pub const HA_NOI_TODAY: Map = Map {
    tiers: &[HA_NOI],
    communes: HA_NOI_COMMUNES,
    shape: Shape::ha_noi_2026,
};

/// The map the demo runs for `--year`: the seed's tree, or today's map (the default).
pub fn map_of(year: i32) -> anyhow::Result<&'static Map> {
    match year {
        2019 => Ok(&SON_TAY_2019),
        // The map in force since the district level went; its register is of the year after.
        2025 | 2026 => Ok(&HA_NOI_TODAY),
        _ => anyhow::bail!(
            "no demo map for {year}: --year 2019 runs the seed's three-level tree (city, town, \
             communes); --year 2025 or 2026 (the default) runs today's map, communes straight \
             under the city"
        ),
    }
}
