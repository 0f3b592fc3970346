//! EPSG:25833 (ETRS89 / UTM zone 33N) to and from EPSG:4326 longitude/latitude.
//!
//! Transverse Mercator after Karney (2011), "Transverse Mercator with an accuracy of a few
//! nanometers", J. Geodesy 85: Krüger's series to sixth order in the third flattening n, which
//! is accurate to well under a millimetre within the UTM zone and its usual overlap. ETRS89 and
//! WGS84 are taken as identical (they differ by under a metre, below the precision of the
//! sources here), as Kartverket and most GIS software do for EPSG:25833 ↔ 4326.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A coordinate reference system the project reads.
///
/// ```
/// use mobility_geo::crs::Crs;
/// // On zone 33's central meridian (15° E) at the equator: the false easting, northing 0.
/// let (x, y) = Crs::Epsg25833.from_lon_lat(15.0, 0.0);
/// assert!((x - 500_000.0).abs() < 1e-6 && y.abs() < 1e-6);
/// // Sandvika and back, to a nanodegree.
/// let (x, y) = Crs::Epsg25833.from_lon_lat(10.52, 59.89);
/// let (lon, lat) = Crs::Epsg25833.to_lon_lat(x, y);
/// assert!((lon - 10.52).abs() < 1e-9 && (lat - 59.89).abs() < 1e-9);
/// assert_eq!(Crs::Epsg4326.to_lon_lat(10.52, 59.89), (10.52, 59.89));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// WGS84 longitude/latitude in degrees.
    Epsg4326,
    /// ETRS89 / UTM zone 33N, easting/northing in metres.
    Epsg25833,
}

impl FromStr for Crs {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let code = s
            .trim()
            .trim_start_matches("urn:ogc:def:crs:")
            .replace("::", ":")
            .to_ascii_uppercase();
        match code.as_str() {
            "EPSG:4326" | "4326" | "OGC:1.3:CRS84" | "OGC:CRS84" | "CRS84" | "WGS84" => {
                Ok(Crs::Epsg4326)
            }
            "EPSG:25833" | "25833" | "UTM33" => Ok(Crs::Epsg25833),
            _ => Err(Error::UnsupportedCrs(s.to_string())),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Crs::Epsg4326 => "EPSG:4326",
            Crs::Epsg25833 => "EPSG:25833",
        })
    }
}

impl Crs {
    /// Converts a coordinate in this CRS to (lon, lat) in degrees.
    pub fn to_lon_lat(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Crs::Epsg4326 => (x, y),
            Crs::Epsg25833 => UTM33.inverse(x, y),
        }
    }

    /// Converts (lon, lat) in degrees to this CRS.
    pub fn from_lon_lat(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Epsg4326 => (lon, lat),
            Crs::Epsg25833 => UTM33.forward(lon, lat),
        }
    }
}

/// A transverse Mercator projection on the GRS80 ellipsoid.
#[derive(Debug, Clone, Copy)]
struct TransverseMercator {
    lon0_deg: f64,
    k0: f64,
    false_easting: f64,
    false_northing: f64,
}

const UTM33: TransverseMercator = TransverseMercator {
    lon0_deg: 15.0,
    k0: 0.9996,
    false_easting: 500_000.0,
    false_northing: 0.0,
};

const A_GRS80: f64 = 6_378_137.0;
const F_GRS80: f64 = 1.0 / 298.257_222_101;

struct Series {
    /// Rectifying radius A.
    a_rect: f64,
    /// First eccentricity e.
    e: f64,
    alpha: [f64; 6],
    beta: [f64; 6],
}

fn series() -> Series {
    let f = F_GRS80;
    let n = f / (2.0 - f);
    let (n2, n3) = (n * n, n * n * n);
    let (n4, n5, n6) = (n2 * n2, n2 * n3, n3 * n3);
    let a_rect = A_GRS80 / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0);
    let alpha = [
        n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0 - 127.0 * n5 / 288.0
            + 7891.0 * n6 / 37800.0,
        13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0 + 281.0 * n5 / 630.0
            - 1983433.0 * n6 / 1935360.0,
        61.0 * n3 / 240.0 - 103.0 * n4 / 140.0 + 15061.0 * n5 / 26880.0 + 167603.0 * n6 / 181440.0,
        49561.0 * n4 / 161280.0 - 179.0 * n5 / 168.0 + 6601661.0 * n6 / 7257600.0,
        34729.0 * n5 / 80640.0 - 3418889.0 * n6 / 1995840.0,
        212378941.0 * n6 / 319334400.0,
    ];
    let beta = [
        n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0 - 81.0 * n5 / 512.0
            + 96199.0 * n6 / 604800.0,
        n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0 + 46.0 * n5 / 105.0
            - 1118711.0 * n6 / 3870720.0,
        17.0 * n3 / 480.0 - 37.0 * n4 / 840.0 - 209.0 * n5 / 4480.0 + 5569.0 * n6 / 90720.0,
        4397.0 * n4 / 161280.0 - 11.0 * n5 / 504.0 - 830251.0 * n6 / 7257600.0,
        4583.0 * n5 / 161280.0 - 108847.0 * n6 / 3991680.0,
        20648693.0 * n6 / 638668800.0,
    ];
    Series {
        a_rect,
        e: (f * (2.0 - f)).sqrt(),
        alpha,
        beta,
    }
}

impl TransverseMercator {
    fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        let s = series();
        let phi = lat.to_radians();
        let dlon = (lon - self.lon0_deg).to_radians();
        let sin_phi = phi.sin();
        let t = (sin_phi.atanh() - s.e * (s.e * sin_phi).atanh()).sinh();
        let xi_p = t.atan2(dlon.cos());
        let eta_p = (dlon.sin() / (1.0 + t * t).sqrt()).atanh();
        let (mut xi, mut eta) = (xi_p, eta_p);
        for (j, a) in s.alpha.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi += a * (k * xi_p).sin() * (k * eta_p).cosh();
            eta += a * (k * xi_p).cos() * (k * eta_p).sinh();
        }
        (
            self.false_easting + self.k0 * s.a_rect * eta,
            self.false_northing + self.k0 * s.a_rect * xi,
        )
    }

    fn inverse(&self, easting: f64, northing: f64) -> (f64, f64) {
        let s = series();
        let xi = (northing - self.false_northing) / (self.k0 * s.a_rect);
        let eta = (easting - self.false_easting) / (self.k0 * s.a_rect);
        let (mut xi_p, mut eta_p) = (xi, eta);
        for (j, b) in s.beta.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi_p -= b * (k * xi).sin() * (k * eta).cosh();
            eta_p -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let tau_p = xi_p.sin() / (eta_p.sinh().powi(2) + xi_p.cos().powi(2)).sqrt();
        let lon = self.lon0_deg + eta_p.sinh().atan2(xi_p.cos()).to_degrees();
        // Conformal to geographic latitude: Newton's method on tau = tan(phi) (Karney 2011, eq. 19-21).
        let e2 = s.e * s.e;
        let mut tau = tau_p;
        for _ in 0..5 {
            let sigma = (s.e * (s.e * tau / (1.0 + tau * tau).sqrt()).atanh()).sinh();
            let tau_i = tau * (1.0 + sigma * sigma).sqrt() - sigma * (1.0 + tau * tau).sqrt();
            let d = (tau_p - tau_i) / (1.0 + tau_i * tau_i).sqrt() * (1.0 + (1.0 - e2) * tau * tau)
                / ((1.0 - e2) * (1.0 + tau * tau).sqrt());
            tau += d;
            if d.abs() < 1e-15 {
                break;
            }
        }
        (lon, tau.atan().to_degrees())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from PROJ 9 (pyproj `Transformer.from_crs(25833, 4326, always_xy=True)`).
    const PROJ: &[(f64, f64, f64, f64)] = &[
        (261_000.0, 6_650_000.0, 10.723_731_270_5, 59.917_981_371_1),
        (597_000.0, 6_643_000.0, 16.734_629_822_9, 59.913_063_654_4),
        (-40_000.0, 6_680_000.0, 5.324_464_425_6, 59.901_229_521_5),
        (500_000.0, 7_900_000.0, 15.0, 71.202_663_242_4),
        (250_000.0, 6_600_000.0, 10.586_985_676_1, 59.463_827_616_1),
    ];

    #[test]
    fn inverse_matches_proj() {
        for &(e, n, lon, lat) in PROJ {
            let (x, y) = Crs::Epsg25833.to_lon_lat(e, n);
            assert!((x - lon).abs() < 1e-9, "lon {x} vs {lon} at {e},{n}");
            assert!((y - lat).abs() < 1e-9, "lat {y} vs {lat} at {e},{n}");
        }
    }

    #[test]
    fn forward_matches_proj() {
        for &(e, n, lon, lat) in PROJ {
            let (x, y) = Crs::Epsg25833.from_lon_lat(lon, lat);
            // PROJ's degrees are printed to 1e-10 deg, about 1e-5 m.
            assert!((x - e).abs() < 1e-3, "easting {x} vs {e}");
            assert!((y - n).abs() < 1e-3, "northing {y} vs {n}");
        }
    }

    #[test]
    fn parses_crs_spellings() {
        assert_eq!("EPSG:25833".parse::<Crs>().unwrap(), Crs::Epsg25833);
        assert_eq!(
            "urn:ogc:def:crs:EPSG::25833".parse::<Crs>().unwrap(),
            Crs::Epsg25833
        );
        assert_eq!(
            "urn:ogc:def:crs:OGC:1.3:CRS84".parse::<Crs>().unwrap(),
            Crs::Epsg4326
        );
        assert!("EPSG:3857".parse::<Crs>().is_err());
    }
}
