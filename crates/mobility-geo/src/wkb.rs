//! Well-Known Binary for the geometry columns: read through georust's `wkb` crate, written here.
//!
//! Reading takes ISO WKB and PostGIS EWKB in either byte order: the seven types Point to
//! GeometryCollection, each in XY, XYZ, XYM or XYZM (ISO codes 1–7, 1001–1007, 2001–2007,
//! 3001–3007, or EWKB's Z and M flag bits); an EWKB SRID is skipped. Curves, surfaces and
//! triangles (codes 8–17) are refused.
//!
//! - [`from_wkb`] gives a `geo` geometry for the kernels. geo-types is 2-D, so **Z and M are
//!   dropped there**: every kernel sees lon/lat only.
//! - [`to_wkt`] writes Well-Known Text straight from the WKB through geo-traits, so Z and M
//!   survive (`POINT Z(1 2 3)`, `LINESTRING M(…)`, `POINT ZM(…)`); 2-D text is what the `wkt`
//!   crate writes for the geo geometry, as before.
//! - [`to_wkb`] / [`point_wkb`] write little-endian 2-D ISO WKB.
//!
//! The `wkb` crate trusts the counts and member headers it reads (it sizes vectors from them
//! and reads multi-part members with the parent's byte order and dimensions), so `check`
//! walks the bytes once before it sees them: truncation, unknown types, members that do not
//! match their parent, collections nested deeper than [`MAX_DEPTH`] and trailing bytes are
//! errors, and nothing is allocated from a count in the input.

use ::wkt::ToWkt;
use geo::{Coord, Geometry, GeometryCollection, LineString, MultiPoint, Point, Polygon};
use geo_traits::to_geo::{
    ToGeoCoord, ToGeoLine, ToGeoLineString, ToGeoMultiLineString, ToGeoMultiPolygon, ToGeoPolygon,
    ToGeoRect, ToGeoTriangle,
};
use geo_traits::{
    GeometryCollectionTrait, GeometryTrait, GeometryType, MultiPointTrait, PointTrait,
};

use crate::{Error, Result};

/// Encodes a geometry as little-endian 2D WKB. `Line`, `Rect` and `Triangle` are refused.
pub fn to_wkb(geometry: &Geometry<f64>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    write_geometry(&mut out, geometry)?;
    Ok(out)
}

/// WKB of a point, without building a `Geometry` first.
pub fn point_wkb(lon: f64, lat: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(21);
    header(&mut out, 1);
    coord(&mut out, Coord { x: lon, y: lat });
    out
}

fn header(out: &mut Vec<u8>, type_id: u32) {
    out.push(1);
    out.extend_from_slice(&type_id.to_le_bytes());
}

fn coord(out: &mut Vec<u8>, c: Coord<f64>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn ring(out: &mut Vec<u8>, ls: &LineString<f64>) {
    count(out, ls.0.len());
    for c in &ls.0 {
        coord(out, *c);
    }
}

fn polygon_body(out: &mut Vec<u8>, p: &Polygon<f64>) {
    count(out, 1 + p.interiors().len());
    ring(out, p.exterior());
    for r in p.interiors() {
        ring(out, r);
    }
}

fn write_geometry(out: &mut Vec<u8>, g: &Geometry<f64>) -> Result<()> {
    match g {
        Geometry::Point(p) => {
            header(out, 1);
            coord(out, p.0);
        }
        Geometry::LineString(ls) => {
            header(out, 2);
            ring(out, ls);
        }
        Geometry::Polygon(p) => {
            header(out, 3);
            polygon_body(out, p);
        }
        Geometry::MultiPoint(mp) => {
            header(out, 4);
            count(out, mp.0.len());
            for p in &mp.0 {
                header(out, 1);
                coord(out, p.0);
            }
        }
        Geometry::MultiLineString(mls) => {
            header(out, 5);
            count(out, mls.0.len());
            for ls in &mls.0 {
                header(out, 2);
                ring(out, ls);
            }
        }
        Geometry::MultiPolygon(mp) => {
            header(out, 6);
            count(out, mp.0.len());
            for p in &mp.0 {
                header(out, 3);
                polygon_body(out, p);
            }
        }
        Geometry::GeometryCollection(gc) => {
            header(out, 7);
            count(out, gc.0.len());
            for member in &gc.0 {
                write_geometry(out, member)?;
            }
        }
        other => return Err(Error::Unsupported(format!("{other:?}"))),
    }
    Ok(())
}

/// Decodes WKB or EWKB (either byte order, XY/Z/M/ZM, any SRID) into a 2-D geometry: Z and M
/// are dropped, an empty point (all NaN) reads as a point of NaNs.
pub fn from_wkb(bytes: &[u8]) -> Result<Geometry<f64>> {
    // The common per-row case, a 2-D point, read directly.
    if let Some(p) = plain_point(bytes) {
        return Ok(Geometry::Point(p));
    }
    let (_, wkb) = read(bytes)?;
    Ok(to_geo(&wkb))
}

/// A 2-D ISO WKB point (byte order, type 1, x, y: 21 bytes) as the `wkb` crate would read it;
/// `None` for anything else.
fn plain_point(b: &[u8]) -> Option<geo::Point<f64>> {
    let b: &[u8; 21] = b.try_into().ok()?;
    let little = match b[0] {
        1 => true,
        0 => false,
        _ => return None,
    };
    let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
    let double = |i: usize| {
        let v: [u8; 8] = b[i..i + 8].try_into().expect("8 bytes");
        if little {
            f64::from_le_bytes(v)
        } else {
            f64::from_be_bytes(v)
        }
    };
    let type_id = if little {
        u32::from_le_bytes(word(1))
    } else {
        u32::from_be_bytes(word(1))
    };
    (type_id == 1).then(|| geo::Point::new(double(5), double(13)))
}

/// Well-Known Text of WKB or EWKB, Z and M kept: `POINT Z(1 2 3)`, `POINT M(1 2 4)`,
/// `POINT ZM(1 2 3 4)`. The SRID of EWKB is not written (as `ST_AsText`). 2-D geometries give
/// the text the `wkt` crate writes for [`from_wkb`]'s geometry (`POINT(10.5 59.9)`).
///
/// ```
/// // ISO WKB of POINT Z (1 2 3): little-endian, type 1001, three doubles.
/// let mut wkb = vec![1u8];
/// wkb.extend_from_slice(&1001u32.to_le_bytes());
/// for v in [1.0f64, 2.0, 3.0] {
///     wkb.extend_from_slice(&v.to_le_bytes());
/// }
/// assert_eq!(mobility_geo::wkb::to_wkt(&wkb).unwrap(), "POINT Z(1 2 3)");
/// assert_eq!(
///     mobility_geo::wkb::from_wkb(&wkb).unwrap(),
///     geo::Geometry::Point(geo::Point::new(1.0, 2.0))
/// );
/// ```
pub fn to_wkt(bytes: &[u8]) -> Result<String> {
    let (shape, wkb) = read(bytes)?;
    // The wkt crate's MultiPolygon writer unwraps each part's exterior ring.
    if shape.empty_polygon_part {
        return Err(Error::Unsupported(
            "a MultiPolygon with an empty polygon has no WKT here".into(),
        ));
    }
    if !shape.top.z && !shape.top.m {
        return Ok(to_geo(&wkb).wkt_string());
    }
    // The wkt crate's MultiPoint writer unwraps each point's coordinate.
    if shape.empty_point_part {
        return Err(Error::Unsupported(
            "a MultiPoint Z/M with an empty point has no WKT here".into(),
        ));
    }
    let mut text = String::new();
    ::wkt::to_wkt::write_geometry(&mut text, &wkb)
        .map_err(|e| Error::Unsupported(format!("WKT of a Z/M geometry: {e}")))?;
    Ok(text)
}

/// Checks the bytes, then hands them to the `wkb` crate's reader.
fn read(bytes: &[u8]) -> Result<(Shape, ::wkb::reader::Wkb<'_>)> {
    let shape = check(bytes)?;
    let wkb = ::wkb::reader::read_wkb(bytes).map_err(|e| Error::InvalidWkb(e.to_string()))?;
    Ok((shape, wkb))
}

/// A geo-traits geometry as a 2-D geo geometry (Z and M dropped).
fn to_geo<G: GeometryTrait<T = f64>>(g: &G) -> Geometry<f64> {
    match g.as_type() {
        GeometryType::Point(p) => Geometry::Point(point_of(p)),
        GeometryType::LineString(ls) => Geometry::LineString(ls.to_line_string()),
        GeometryType::Polygon(p) => Geometry::Polygon(p.to_polygon()),
        GeometryType::MultiPoint(mp) => {
            Geometry::MultiPoint(MultiPoint(mp.points().map(|p| point_of(&p)).collect()))
        }
        GeometryType::MultiLineString(mls) => Geometry::MultiLineString(mls.to_multi_line_string()),
        GeometryType::MultiPolygon(mp) => Geometry::MultiPolygon(mp.to_multi_polygon()),
        GeometryType::GeometryCollection(gc) => Geometry::GeometryCollection(GeometryCollection(
            gc.geometries().map(|m| to_geo(&m)).collect(),
        )),
        // Not in WKB; here for completeness of the match.
        GeometryType::Rect(r) => Geometry::Rect(r.to_rect()),
        GeometryType::Triangle(t) => Geometry::Triangle(t.to_triangle()),
        GeometryType::Line(l) => Geometry::Line(l.to_line()),
    }
}

/// A point; an empty one (WKB writes all NaN) as a point of NaNs, as the 2-D reader before
/// the `wkb` crate gave it, which writes back to the same bytes.
fn point_of<P: PointTrait<T = f64>>(p: &P) -> Point<f64> {
    Point(p.coord().map_or(
        Coord {
            x: f64::NAN,
            y: f64::NAN,
        },
        |c| c.to_coord(),
    ))
}

/// EWKB type-code flag (PostGIS): Z ordinates follow.
const EWKB_Z: u32 = 0x8000_0000;
/// EWKB type-code flag: M ordinates follow.
const EWKB_M: u32 = 0x4000_0000;
/// EWKB type-code flag: a 4-byte SRID follows the code.
const EWKB_SRID: u32 = 0x2000_0000;

/// The deepest nesting of geometry collections read (the reader, the conversion and the WKT
/// writer all recurse once per level).
pub const MAX_DEPTH: usize = 32;

/// The GeoParquet names of the types 1–7, without and with Z.
const NAMES: [[&str; 2]; 7] = [
    ["Point", "Point Z"],
    ["LineString", "LineString Z"],
    ["Polygon", "Polygon Z"],
    ["MultiPoint", "MultiPoint Z"],
    ["MultiLineString", "MultiLineString Z"],
    ["MultiPolygon", "MultiPolygon Z"],
    ["GeometryCollection", "GeometryCollection Z"],
];

/// A geometry's header as [`check`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    /// Little-endian (byte-order flag 1).
    le: bool,
    /// The OGC type, 1 (Point) to 7 (GeometryCollection).
    kind: u32,
    /// Z ordinates follow x and y.
    z: bool,
    /// M ordinates follow (after Z where both are there).
    m: bool,
    /// An EWKB SRID followed the type code.
    srid: bool,
}

impl Header {
    /// Numbers per coordinate.
    fn ordinates(&self) -> usize {
        2 + usize::from(self.z) + usize::from(self.m)
    }

    /// The type's name (`Point`, `MultiPolygon`, …).
    fn name(&self) -> &'static str {
        NAMES[(self.kind - 1) as usize][0]
    }
}

/// What [`check`] found in a whole value.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// The outermost geometry's header.
    top: Header,
    /// Some MultiPoint holds an empty point (all ordinates NaN).
    empty_point_part: bool,
    /// Some MultiPolygon holds a polygon without rings or with one empty ring.
    empty_polygon_part: bool,
}

/// Walks WKB once without allocating: the whole buffer must be exactly one geometry the `wkb`
/// crate reads faithfully. Multi-part members must have their parent's byte order and
/// dimensions, collection members their parent's dimensions, and no member may carry an SRID.
fn check(bytes: &[u8]) -> Result<Shape> {
    let mut scan = Scan {
        bytes,
        pos: 0,
        empty_point_part: false,
        empty_polygon_part: false,
    };
    let top = scan.geometry(0)?;
    if scan.pos != bytes.len() {
        return Err(Error::InvalidWkb(format!(
            "{} trailing bytes after the geometry",
            bytes.len() - scan.pos
        )));
    }
    Ok(Shape {
        top,
        empty_point_part: scan.empty_point_part,
        empty_polygon_part: scan.empty_polygon_part,
    })
}

struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
    empty_point_part: bool,
    empty_polygon_part: bool,
}

impl<'a> Scan<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let bytes: &'a [u8] = self.bytes;
        let start = self.pos;
        match start.checked_add(n).and_then(|end| bytes.get(start..end)) {
            Some(slice) => {
                self.pos = start + n;
                Ok(slice)
            }
            None => Err(Error::InvalidWkb(format!(
                "truncated at byte {start} of {}",
                bytes.len()
            ))),
        }
    }

    fn u32(&mut self, le: bool) -> Result<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().expect("take(4) gives 4 bytes");
        Ok(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// Byte order, type code and (EWKB) SRID.
    fn header(&mut self) -> Result<Header> {
        let at = self.pos;
        let le = match self.take(1)?[0] {
            0 => false,
            1 => true,
            b => {
                return Err(Error::InvalidWkb(format!(
                    "byte-order flag {b} at byte {at}, expected 0 or 1"
                )));
            }
        };
        let code = self.u32(le)?;
        let flags = code & (EWKB_Z | EWKB_M | EWKB_SRID);
        let base = code & !(EWKB_Z | EWKB_M | EWKB_SRID);
        let (iso, kind) = (base / 1000, base % 1000);
        if !(1..=7).contains(&kind) || iso > 3 || (flags != 0 && iso != 0) {
            return Err(Error::Unsupported(format!(
                "WKB type {code} at byte {at}; the types read are 1-7 (Point to \
                 GeometryCollection) in XY, Z (+1000), M (+2000), ZM (+3000) or as PostGIS EWKB"
            )));
        }
        let srid = (code & EWKB_SRID) != 0;
        if srid {
            self.take(4)?;
        }
        Ok(Header {
            le,
            kind,
            z: (code & EWKB_Z) != 0 || iso == 1 || iso == 3,
            m: (code & EWKB_M) != 0 || iso == 2 || iso == 3,
            srid,
        })
    }

    /// One coordinate; true when all its ordinates are NaN (WKB's empty point).
    fn coord_is_nan(&mut self, h: &Header) -> Result<bool> {
        let b = self.take(8 * h.ordinates())?;
        Ok(b.chunks_exact(8).all(|c| {
            let c: [u8; 8] = c.try_into().expect("chunks of 8 bytes");
            let v = if h.le {
                f64::from_le_bytes(c)
            } else {
                f64::from_be_bytes(c)
            };
            v.is_nan()
        }))
    }

    /// A point count and its points.
    fn coords(&mut self, h: &Header) -> Result<()> {
        let n = self.u32(h.le)? as usize;
        self.take(n.saturating_mul(8 * h.ordinates()))?;
        Ok(())
    }

    /// A ring count and its rings; true when the polygon is empty (no ring, or one empty ring).
    fn polygon(&mut self, h: &Header) -> Result<bool> {
        let rings = self.u32(h.le)?;
        let mut empty = true;
        for i in 0..rings {
            let n = self.u32(h.le)? as usize;
            if i > 0 || n > 0 {
                empty = false;
            }
            self.take(n.saturating_mul(8 * h.ordinates()))?;
        }
        Ok(empty)
    }

    /// A geometry, header and body; `depth` counts the collections around it.
    fn geometry(&mut self, depth: usize) -> Result<Header> {
        let h = self.header()?;
        match h.kind {
            1 => {
                self.coord_is_nan(&h)?;
            }
            2 => self.coords(&h)?,
            3 => {
                self.polygon(&h)?;
            }
            4..=6 => {
                let n = self.u32(h.le)?;
                for i in 0..n {
                    let at = self.pos;
                    let part = self.header()?;
                    if part.le != h.le
                        || part.kind != h.kind - 3
                        || (part.z, part.m) != (h.z, h.m)
                        || part.srid
                    {
                        return Err(Error::InvalidWkb(format!(
                            "part {} of a {}{} (byte {at}) is a {}{}{}{}; expected a {}{} in \
                             the same byte order, without an SRID",
                            i + 1,
                            h.name(),
                            dims(&h),
                            part.name(),
                            dims(&part),
                            if part.le == h.le {
                                ""
                            } else {
                                " of the other byte order"
                            },
                            if part.srid { " with an SRID" } else { "" },
                            NAMES[(h.kind - 4) as usize][0],
                            dims(&h),
                        )));
                    }
                    match part.kind {
                        1 => {
                            if self.coord_is_nan(&part)? {
                                self.empty_point_part = true;
                            }
                        }
                        2 => self.coords(&part)?,
                        _ => {
                            if self.polygon(&part)? {
                                self.empty_polygon_part = true;
                            }
                        }
                    }
                }
            }
            _ => {
                if depth >= MAX_DEPTH {
                    return Err(Error::Unsupported(format!(
                        "geometry collections nested more than {MAX_DEPTH} deep"
                    )));
                }
                let n = self.u32(h.le)?;
                for i in 0..n {
                    let at = self.pos;
                    let member = self.geometry(depth + 1)?;
                    if (member.z, member.m) != (h.z, h.m) || member.srid {
                        return Err(Error::InvalidWkb(format!(
                            "member {} of a GeometryCollection{} (byte {at}) is a {}{}{}; \
                             expected the collection's dimensions, without an SRID",
                            i + 1,
                            dims(&h),
                            member.name(),
                            dims(&member),
                            if member.srid { " with an SRID" } else { "" },
                        )));
                    }
                }
            }
        }
        Ok(h)
    }
}

/// ` Z`, ` M`, ` ZM` or nothing, as WKT writes the dimensions.
fn dims(h: &Header) -> &'static str {
    match (h.z, h.m) {
        (false, false) => "",
        (true, false) => " Z",
        (false, true) => " M",
        (true, true) => " ZM",
    }
}

/// The geometry types and bounding box of a column of WKB values (what GeoParquet's file
/// metadata records).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extent {
    /// The types present, by their GeoParquet names (`Point`, `MultiPolygon`, `Point Z`, …).
    /// GeoParquet has no M: an XYM geometry is listed under its 2-D name, an XYZM one with Z.
    pub types: std::collections::BTreeSet<&'static str>,
    /// `[xmin, ymin, xmax, ymax]`; `None` when no geometry has coordinates.
    pub bbox: Option<[f64; 4]>,
}

impl Extent {
    /// The extent of `values`; the first that does not decode is the error.
    ///
    /// ```
    /// use mobility_geo::wkb::{Extent, point_wkb};
    /// let e = Extent::of([point_wkb(10.0, 59.0).as_slice(), &point_wkb(11.0, 60.5)]).unwrap();
    /// assert_eq!(e.types.into_iter().collect::<Vec<_>>(), ["Point"]);
    /// assert_eq!(e.bbox, Some([10.0, 59.0, 11.0, 60.5]));
    /// ```
    pub fn of<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Self> {
        use geo::BoundingRect;
        let mut e = Extent::default();
        for bytes in values {
            let (shape, wkb) = read(bytes)?;
            e.types
                .insert(NAMES[(shape.top.kind - 1) as usize][usize::from(shape.top.z)]);
            if let Some(r) = to_geo(&wkb).bounding_rect() {
                let [x0, y0, x1, y1] = e.bbox.unwrap_or([
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ]);
                e.bbox = Some([
                    x0.min(r.min().x),
                    y0.min(r.min().y),
                    x1.max(r.max().x),
                    y1.max(r.max().y),
                ]);
            }
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct read of a 2-D point gives what the `wkb` crate gives, in both byte orders,
    /// the empty point (NaN) included; other 21-byte inputs go to the crate.
    #[test]
    fn a_plain_point_reads_as_the_crate_reads_it() {
        for (x, y) in [(10.5, 59.9), (-0.0, 1e-300), (f64::NAN, f64::NAN)] {
            let le = point_wkb(x, y);
            let mut be = vec![0u8];
            be.extend_from_slice(&1u32.to_be_bytes());
            be.extend_from_slice(&x.to_be_bytes());
            be.extend_from_slice(&y.to_be_bytes());
            for bytes in [le, be] {
                let direct = plain_point(&bytes).expect("a plain point");
                let (_, wkb) = read(&bytes).unwrap();
                let Geometry::Point(crate_point) = to_geo(&wkb) else {
                    panic!("not a point")
                };
                assert_eq!(direct.x().to_bits(), crate_point.x().to_bits());
                assert_eq!(direct.y().to_bits(), crate_point.y().to_bits());
            }
        }
        // A 2-D linestring of one coordinate is 21 bytes too, and not a point.
        let mut line = vec![1u8];
        line.extend_from_slice(&2u32.to_le_bytes());
        line.extend_from_slice(&[0; 16]);
        assert!(plain_point(&line).is_none());
    }
    use geo::{MultiPolygon, polygon, wkt};

    /// Little-endian WKB written by hand: `head` a byte-order byte and a type code, `n` a
    /// count, `f` doubles.
    #[derive(Default)]
    struct Hand(Vec<u8>);

    impl Hand {
        fn head(mut self, code: u32) -> Self {
            self.0.push(1);
            self.0.extend_from_slice(&code.to_le_bytes());
            self
        }
        fn n(mut self, k: u32) -> Self {
            self.0.extend_from_slice(&k.to_le_bytes());
            self
        }
        fn f(mut self, values: &[f64]) -> Self {
            for v in values {
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            self
        }
    }

    fn hand() -> Hand {
        Hand::default()
    }

    #[test]
    fn point_matches_the_standard_bytes() {
        // POINT(1 2), little-endian, as in the OGC simple-features examples.
        let expected: Vec<u8> = [
            vec![1u8, 1, 0, 0, 0],
            1f64.to_le_bytes().to_vec(),
            2f64.to_le_bytes().to_vec(),
        ]
        .concat();
        assert_eq!(point_wkb(1.0, 2.0), expected);
        assert_eq!(
            to_wkb(&Geometry::Point(Point::new(1.0, 2.0))).unwrap(),
            expected
        );
        assert_eq!(hand().head(1).f(&[1.0, 2.0]).0, expected);
    }

    #[test]
    fn round_trips_polygons_with_holes_and_multipolygons() {
        let with_hole: Polygon<f64> = wkt! {
            POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.), (2. 2., 4. 2., 4. 4., 2. 2.))
        };
        let other = polygon![(x: 20., y: 20.), (x: 21., y: 20.), (x: 21., y: 21.)];
        let mp = Geometry::MultiPolygon(MultiPolygon(vec![with_hole.clone(), other]));
        for g in [Geometry::Polygon(with_hole), mp] {
            assert_eq!(from_wkb(&to_wkb(&g).unwrap()).unwrap(), g);
        }
    }

    #[test]
    fn reads_big_endian() {
        let mut be = vec![0u8, 0, 0, 0, 1];
        be.extend_from_slice(&10.5f64.to_be_bytes());
        be.extend_from_slice(&59.9f64.to_be_bytes());
        assert_eq!(
            from_wkb(&be).unwrap(),
            Geometry::Point(Point::new(10.5, 59.9))
        );
    }

    #[test]
    fn truncated_wkb_is_an_error() {
        let wkb = point_wkb(1.0, 2.0);
        let err = from_wkb(&wkb[..12]).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn z_m_and_zm_points_keep_their_ordinates_in_wkt_and_drop_them_in_geo() {
        // ISO codes: 1001 = Point Z, 2001 = Point M, 3001 = Point ZM.
        for (code, values, text) in [
            (1001, &[1.0, 2.0, 3.0][..], "POINT Z(1 2 3)"),
            (2001, &[1.0, 2.0, 4.0][..], "POINT M(1 2 4)"),
            (3001, &[1.0, 2.0, 3.0, 4.0][..], "POINT ZM(1 2 3 4)"),
        ] {
            let wkb = hand().head(code).f(values).0;
            assert_eq!(to_wkt(&wkb).unwrap(), text);
            assert_eq!(
                from_wkb(&wkb).unwrap(),
                Geometry::Point(Point::new(1.0, 2.0))
            );
        }
    }

    #[test]
    fn z_and_m_lines_polygons_and_multi_parts() {
        let line_z = hand()
            .head(1002)
            .n(2)
            .f(&[0.0, 0.0, 10.0, 1.0, 1.0, 20.5])
            .0;
        assert_eq!(to_wkt(&line_z).unwrap(), "LINESTRING Z(0 0 10,1 1 20.5)");
        let line: LineString<f64> = wkt! { LINESTRING(0. 0., 1. 1.) };
        assert_eq!(from_wkb(&line_z).unwrap(), Geometry::LineString(line));

        let square_zm = hand()
            .head(3003)
            .n(1)
            .n(4)
            .f(&[0.0, 0.0, 5.0, 100.0])
            .f(&[1.0, 0.0, 5.0, 101.0])
            .f(&[1.0, 1.0, 5.0, 102.0])
            .f(&[0.0, 0.0, 5.0, 103.0])
            .0;
        assert_eq!(
            to_wkt(&square_zm).unwrap(),
            "POLYGON ZM((0 0 5 100,1 0 5 101,1 1 5 102,0 0 5 103))"
        );
        let square: Polygon<f64> = wkt! { POLYGON((0. 0., 1. 0., 1. 1., 0. 0.)) };
        assert_eq!(from_wkb(&square_zm).unwrap(), Geometry::Polygon(square));

        // MULTIPOINT M: each member has the parent's M (2001 inside 2004).
        let multi_m = hand()
            .head(2004)
            .n(2)
            .head(2001)
            .f(&[1.0, 2.0, 7.0])
            .head(2001)
            .f(&[3.0, 4.0, 8.0])
            .0;
        assert_eq!(to_wkt(&multi_m).unwrap(), "MULTIPOINT M((1 2 7),(3 4 8))");
        assert_eq!(
            from_wkb(&multi_m).unwrap(),
            Geometry::MultiPoint(MultiPoint(vec![Point::new(1.0, 2.0), Point::new(3.0, 4.0)]))
        );
    }

    #[test]
    fn ewkb_with_an_srid_and_z_m_flags() {
        // PostGIS `SRID=4326;POINT Z (10.5 59.9 12)`: 0xA0000001 = Z flag | SRID flag | Point.
        let z = hand().head(0xA000_0001).n(4326).f(&[10.5, 59.9, 12.0]).0;
        assert_eq!(to_wkt(&z).unwrap(), "POINT Z(10.5 59.9 12)");
        assert_eq!(
            from_wkb(&z).unwrap(),
            Geometry::Point(Point::new(10.5, 59.9))
        );
        // `POINTM(1 2 4)`: 0x40000001 = M flag | Point.
        let m = hand().head(0x4000_0001).f(&[1.0, 2.0, 4.0]).0;
        assert_eq!(to_wkt(&m).unwrap(), "POINT M(1 2 4)");
        // A 2-D line with an SRID (0x20000002), its parts unflagged.
        let line = hand()
            .head(0x2000_0002)
            .n(4326)
            .n(2)
            .f(&[10.0, 59.0, 11.0, 60.0])
            .0;
        assert_eq!(to_wkt(&line).unwrap(), "LINESTRING(10 59,11 60)");
        // Big-endian EWKB Z multipolygon with an SRID: 0xA0000006, members 0x80000003.
        let mut be = vec![0u8];
        be.extend_from_slice(&0xA000_0006u32.to_be_bytes());
        be.extend_from_slice(&4326u32.to_be_bytes());
        be.extend_from_slice(&1u32.to_be_bytes());
        be.push(0);
        be.extend_from_slice(&0x8000_0003u32.to_be_bytes());
        be.extend_from_slice(&1u32.to_be_bytes());
        be.extend_from_slice(&4u32.to_be_bytes());
        for v in [
            0.0f64, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 2.0, 1.0, 0.0, 0.0, 1.0,
        ] {
            be.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(
            to_wkt(&be).unwrap(),
            "MULTIPOLYGON Z(((0 0 1,2 0 1,2 2 1,0 0 1)))"
        );
        let triangle: Polygon<f64> = wkt! { POLYGON((0. 0., 2. 0., 2. 2., 0. 0.)) };
        assert_eq!(
            from_wkb(&be).unwrap(),
            Geometry::MultiPolygon(MultiPolygon(vec![triangle]))
        );
    }

    #[test]
    fn geometry_collections_read_write_and_print() {
        let gc = hand()
            .head(7)
            .n(2)
            .head(1)
            .f(&[1.0, 2.0])
            .head(2)
            .n(2)
            .f(&[0.0, 0.0, 1.0, 1.0])
            .0;
        let expected = Geometry::GeometryCollection(GeometryCollection(vec![
            Geometry::Point(Point::new(1.0, 2.0)),
            Geometry::LineString(wkt! { LINESTRING(0. 0., 1. 1.) }),
        ]));
        assert_eq!(from_wkb(&gc).unwrap(), expected);
        assert_eq!(
            to_wkt(&gc).unwrap(),
            "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))"
        );
        // Written back to the same bytes.
        assert_eq!(to_wkb(&expected).unwrap(), gc);

        let gc_z = hand()
            .head(1007)
            .n(2)
            .head(1001)
            .f(&[1.0, 2.0, 3.0])
            .head(1002)
            .n(2)
            .f(&[0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
            .0;
        assert_eq!(
            to_wkt(&gc_z).unwrap(),
            "GEOMETRYCOLLECTION Z(POINT Z(1 2 3),LINESTRING Z(0 0 0,1 1 1))"
        );
        assert_eq!(from_wkb(&gc_z).unwrap(), expected);

        let empty = hand().head(7).n(0).0;
        assert_eq!(
            from_wkb(&empty).unwrap(),
            Geometry::GeometryCollection(GeometryCollection(vec![]))
        );
        assert_eq!(to_wkt(&empty).unwrap(), "GEOMETRYCOLLECTION EMPTY");
    }

    #[test]
    fn collections_nest_up_to_the_limit() {
        let nested = |levels: usize| {
            let mut h = hand();
            for _ in 0..levels {
                h = h.head(7).n(1);
            }
            h.head(1).f(&[1.0, 2.0]).0
        };
        assert!(from_wkb(&nested(MAX_DEPTH)).is_ok());
        let err = from_wkb(&nested(MAX_DEPTH + 1)).unwrap_err().to_string();
        assert!(err.contains("nested more than"), "{err}");
    }

    #[test]
    fn empty_points_read_as_nan_and_print_as_before() {
        let empty_2d = point_wkb(f64::NAN, f64::NAN);
        match from_wkb(&empty_2d).unwrap() {
            Geometry::Point(p) => assert!(p.x().is_nan() && p.y().is_nan()),
            other => panic!("{other:?}"),
        }
        assert_eq!(to_wkt(&empty_2d).unwrap(), "POINT(NaN NaN)");
        let empty_z = hand().head(1001).f(&[f64::NAN; 3]).0;
        assert_eq!(to_wkt(&empty_z).unwrap(), "POINT Z EMPTY");
        // Inside a MultiPoint Z the wkt crate cannot write it: an error, not a panic.
        let multi = hand().head(1004).n(1).head(1001).f(&[f64::NAN; 3]).0;
        assert!(from_wkb(&multi).is_ok());
        assert!(to_wkt(&multi).is_err());
        // Nor a MultiPolygon holding a polygon without rings, 2-D or not.
        let ringless = hand().head(6).n(1).head(3).n(0).0;
        assert!(from_wkb(&ringless).is_ok());
        assert!(to_wkt(&ringless).is_err());
    }

    #[test]
    fn refuses_what_the_reader_would_misread() {
        let cases: [(Vec<u8>, &str); 8] = [
            // A ring count of 4 294 967 295 in 9 bytes: no allocation, just truncation.
            (hand().head(3).n(u32::MAX).0, "truncated"),
            (hand().head(2).n(u32::MAX).f(&[0.0, 0.0]).0, "truncated"),
            // CircularString (8) and Triangle (17): not read.
            (hand().head(8).n(0).0, "WKB type 8"),
            (hand().head(17).n(0).0, "WKB type 17"),
            // ISO Z code with an EWKB flag as well.
            (
                hand().head(0x8000_0000 | 1001).f(&[1.0, 2.0, 3.0]).0,
                "WKB type",
            ),
            // A 2-D point inside a MultiPoint Z.
            (
                hand().head(1004).n(1).head(1).f(&[1.0, 2.0]).0,
                "part 1 of a MultiPoint Z (byte 9) is a Point; expected a Point Z",
            ),
            // A member with its own SRID.
            (
                hand()
                    .head(7)
                    .n(1)
                    .head(0x2000_0001)
                    .n(4326)
                    .f(&[1.0, 2.0])
                    .0,
                "with an SRID",
            ),
            ([point_wkb(1.0, 2.0), vec![0]].concat(), "1 trailing bytes"),
        ];
        for (wkb, message) in cases {
            let err = from_wkb(&wkb).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
            assert!(to_wkt(&wkb).is_err());
        }
        // A big-endian part inside a little-endian MultiPoint.
        let mut mixed = hand().head(4).n(1).0;
        mixed.push(0);
        mixed.extend_from_slice(&1u32.to_be_bytes());
        mixed.extend_from_slice(&1f64.to_be_bytes());
        mixed.extend_from_slice(&2f64.to_be_bytes());
        assert!(from_wkb(&mixed).is_err());
    }

    #[test]
    fn extent_names_z_types_and_collections() {
        let z = hand().head(1001).f(&[10.0, 59.0, 100.0]).0;
        let gc = hand().head(7).n(1).head(1).f(&[11.0, 60.5]).0;
        let e = Extent::of([z.as_slice(), &gc]).unwrap();
        assert_eq!(
            e.types.into_iter().collect::<Vec<_>>(),
            ["GeometryCollection", "Point Z"]
        );
        assert_eq!(e.bbox, Some([10.0, 59.0, 11.0, 60.5]));
    }
}
