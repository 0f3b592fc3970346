//! Well-Known Binary (ISO/OGC simple features, 2D) for the geometry columns.
//!
//! Writes little-endian WKB; reads either byte order. Points, line strings, polygons and their
//! multi- forms are handled, which is every geometry the data model stores.

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

use crate::{Error, Result};

/// Encodes a geometry as little-endian 2D WKB.
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
        other => return Err(Error::Unsupported(format!("{other:?}"))),
    }
    Ok(())
}

/// Decodes 2D WKB (either byte order).
pub fn from_wkb(bytes: &[u8]) -> Result<Geometry<f64>> {
    let mut r = Reader {
        bytes,
        pos: 0,
        le: true,
    };
    let g = r.geometry()?;
    if r.pos != bytes.len() {
        return Err(Error::InvalidWkb(format!(
            "{} trailing bytes after the geometry",
            bytes.len() - r.pos
        )));
    }
    Ok(g)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    le: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos + N;
        let slice = self.bytes.get(self.pos..end).ok_or_else(|| {
            Error::InvalidWkb(format!(
                "truncated at byte {} of {}",
                self.pos,
                self.bytes.len()
            ))
        })?;
        self.pos = end;
        Ok(slice.try_into().expect("slice has length N"))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take::<4>()?;
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> Result<f64> {
        let b = self.take::<8>()?;
        Ok(if self.le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn coord(&mut self) -> Result<Coord<f64>> {
        Ok(Coord {
            x: self.f64()?,
            y: self.f64()?,
        })
    }

    fn len(&mut self) -> Result<usize> {
        let n = self.u32()? as usize;
        // Each element takes at least 16 bytes; refuse counts the buffer cannot hold.
        if n > self.bytes.len() {
            return Err(Error::InvalidWkb(format!("count {n} exceeds the buffer")));
        }
        Ok(n)
    }

    fn line(&mut self) -> Result<LineString<f64>> {
        let n = self.len()?;
        (0..n)
            .map(|_| self.coord())
            .collect::<Result<Vec<_>>>()
            .map(LineString::new)
    }

    fn polygon(&mut self) -> Result<Polygon<f64>> {
        let n = self.len()?;
        if n == 0 {
            return Ok(Polygon::new(LineString::new(vec![]), vec![]));
        }
        let exterior = self.line()?;
        let interiors = (1..n).map(|_| self.line()).collect::<Result<Vec<_>>>()?;
        Ok(Polygon::new(exterior, interiors))
    }

    fn header(&mut self) -> Result<u32> {
        self.le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            b => {
                return Err(Error::InvalidWkb(format!(
                    "byte-order flag {b}, expected 0 or 1"
                )));
            }
        };
        let t = self.u32()?;
        if t > 7 {
            return Err(Error::Unsupported(format!(
                "WKB type {t}; only 2D types 1-7 are read"
            )));
        }
        Ok(t)
    }

    fn expect(&mut self, want: u32) -> Result<()> {
        let got = self.header()?;
        if got != want {
            return Err(Error::InvalidWkb(format!(
                "member of type {got}, expected {want}"
            )));
        }
        Ok(())
    }

    fn geometry(&mut self) -> Result<Geometry<f64>> {
        Ok(match self.header()? {
            1 => Geometry::Point(Point(self.coord()?)),
            2 => Geometry::LineString(self.line()?),
            3 => Geometry::Polygon(self.polygon()?),
            4 => {
                let n = self.len()?;
                let mut pts = Vec::with_capacity(n);
                for _ in 0..n {
                    self.expect(1)?;
                    pts.push(Point(self.coord()?));
                }
                Geometry::MultiPoint(MultiPoint(pts))
            }
            5 => {
                let n = self.len()?;
                let mut lines = Vec::with_capacity(n);
                for _ in 0..n {
                    self.expect(2)?;
                    lines.push(self.line()?);
                }
                Geometry::MultiLineString(MultiLineString(lines))
            }
            6 => {
                let n = self.len()?;
                let mut polys = Vec::with_capacity(n);
                for _ in 0..n {
                    self.expect(3)?;
                    polys.push(self.polygon()?);
                }
                Geometry::MultiPolygon(MultiPolygon(polys))
            }
            t => {
                return Err(Error::Unsupported(format!(
                    "WKB type {t} (GeometryCollection)"
                )));
            }
        })
    }
}

/// The geometry types and bounding box of a column of WKB values (what GeoParquet's file
/// metadata records).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extent {
    /// The types present, by their GeoParquet names (`Point`, `MultiPolygon`, …).
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
        for wkb in values {
            let g = from_wkb(wkb)?;
            e.types.insert(match &g {
                Geometry::Point(_) => "Point",
                Geometry::LineString(_) => "LineString",
                Geometry::Polygon(_) => "Polygon",
                Geometry::MultiPoint(_) => "MultiPoint",
                Geometry::MultiLineString(_) => "MultiLineString",
                Geometry::MultiPolygon(_) => "MultiPolygon",
                _ => "Unknown",
            });
            if let Some(r) = g.bounding_rect() {
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
    use geo::{polygon, wkt};

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
}
