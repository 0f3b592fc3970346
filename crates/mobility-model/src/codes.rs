//! Canonical code lists: main mode, trip purpose, and the scope of a traffic count row.

use std::fmt;
use std::str::FromStr;

use crate::Error;

macro_rules! code_list {
    ($(#[$doc:meta])* $name:ident, $list:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical lower-case spelling used in the tables.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::NotInCodeList {
                        list: $list,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

code_list!(
    /// Main mode of a trip (RVU's *hovedtransportmiddel*).
    Mode, "mode", {
        /// On foot (til fots).
        Walk => "walk",
        /// Bicycle, including e-bike (sykkel).
        Bike => "bike",
        /// Car, as driver (bilfører).
        CarDriver => "car_driver",
        /// Car, as passenger (bilpassasjer).
        CarPassenger => "car_passenger",
        /// Bus (buss).
        Bus => "bus",
        /// Tram (trikk).
        Tram => "tram",
        /// Metro (T-bane).
        Metro => "metro",
        /// Train (tog).
        Rail => "rail",
        /// Boat or ferry (båt, ferje).
        Ferry => "ferry",
        /// Taxi (drosje).
        Taxi => "taxi",
        /// Motorcycle or moped (MC/moped).
        Motorcycle => "motorcycle",
        /// Aeroplane (fly).
        Plane => "plane",
        /// Anything else (annet).
        Other => "other",
    }
);

impl Mode {
    /// Public transport: bus, tram, metro, rail and ferry.
    pub const fn is_public_transport(self) -> bool {
        matches!(
            self,
            Mode::Bus | Mode::Tram | Mode::Metro | Mode::Rail | Mode::Ferry
        )
    }

    /// Sustainable in Bærum's target sense: walking, cycling or public transport.
    pub const fn is_sustainable(self) -> bool {
        matches!(self, Mode::Walk | Mode::Bike) || self.is_public_transport()
    }
}

code_list!(
    /// Purpose of a trip (RVU's *reisehensikt*), the activity at the destination.
    Purpose, "purpose", {
        /// To or from the regular workplace (arbeid).
        Work => "work",
        /// In the course of work (tjeneste).
        Business => "business",
        /// School, study (skole/utdanning).
        Education => "education",
        /// Shopping and services (handel og service).
        Shopping => "shopping",
        /// Escorting or caring for others (omsorg/følge).
        Escort => "escort",
        /// Leisure and visits (fritid, besøk).
        Leisure => "leisure",
        /// Returning home (hjem).
        Home => "home",
        /// Anything else (annet).
        Other => "other",
    }
);

code_list!(
    /// What a `traffic_hourly` row counts: one lane, one direction, or the whole section.
    Scope, "scope", {
        /// One lane (`Felt` = a lane number).
        Lane => "lane",
        /// One direction (`Felt` = `Totalt i retning <place>`).
        Direction => "direction",
        /// All lanes (`Felt` = `Totalt`).
        Total => "total",
    }
);

/// The trip-length bands of `distance_band(km)` and the report: upper bounds (km, exclusive)
/// and labels; the last band is open. 2.5 and 5 km are the short-car-trip thresholds.
pub const DISTANCE_BANDS: &[(f64, &str)] = &[
    (1.0, "0-1 km"),
    (2.5, "1-2.5 km"),
    (5.0, "2.5-5 km"),
    (10.0, "5-10 km"),
    (25.0, "10-25 km"),
    (50.0, "25-50 km"),
    (f64::INFINITY, "50+ km"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_code() {
        for m in Mode::ALL {
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), *m);
        }
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>().unwrap(), *p);
        }
    }

    #[test]
    fn rejects_unknown_code_with_the_list() {
        let err = "car".parse::<Mode>().unwrap_err().to_string();
        assert!(err.contains("'car' is not a valid mode"), "{err}");
        assert!(err.contains("car_driver"), "{err}");
    }

    #[test]
    fn sustainable_modes() {
        let sustainable: Vec<_> = Mode::ALL.iter().filter(|m| m.is_sustainable()).collect();
        assert_eq!(sustainable.len(), 7);
        assert!(!Mode::CarPassenger.is_sustainable());
        assert!(!Mode::Taxi.is_sustainable());
    }
}
