//! A uniform grid over a set of bounding boxes: each cell lists the boxes that meet it, in an
//! order the caller chooses, so that the boxes holding a point are one multiplication and a
//! short scan away. For point look-ups against zones it replaces an R-tree, whose walk took
//! 40 % of a 5 M point look-up.

use geo::Rect;

/// A grid of cells over the extent of `boxes`, about 16 cells per box (at most 2^20), shaped
/// like the extent.
#[derive(Debug, Clone)]
pub struct BoxGrid {
    boxes: Vec<Option<Rect<f64>>>,
    x0: f64,
    y0: f64,
    inv_w: f64,
    inv_h: f64,
    nx: usize,
    ny: usize,
    /// The boxes of cell `k`: `members[start[k]..start[k + 1]]`.
    start: Vec<u32>,
    members: Vec<u32>,
}

impl BoxGrid {
    /// The grid over `boxes` (`None`: an empty geometry, in no cell); each cell lists its boxes
    /// in the order of `order` (a permutation of the positions, or any subset of them).
    pub fn new(mut boxes: Vec<Option<Rect<f64>>>, order: &[u32]) -> Self {
        // A box with a coordinate that is not finite holds no point we can place.
        for b in &mut boxes {
            if b.is_some_and(|r| {
                ![r.min().x, r.min().y, r.max().x, r.max().y]
                    .iter()
                    .all(|v| v.is_finite())
            }) {
                *b = None;
            }
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut n = 0;
        for r in boxes.iter().flatten() {
            x0 = x0.min(r.min().x);
            y0 = y0.min(r.min().y);
            x1 = x1.max(r.max().x);
            y1 = y1.max(r.max().y);
            n += 1;
        }
        let mut g = Self {
            boxes,
            x0,
            y0,
            inv_w: 0.0,
            inv_h: 0.0,
            nx: 0,
            ny: 0,
            start: vec![0],
            members: Vec::new(),
        };
        if n == 0 || !(x1 - x0).is_finite() || !(y1 - y0).is_finite() {
            return g;
        }
        let (w, h) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
        let cells = (n * 16).clamp(1, 1 << 20) as f64;
        g.nx = ((cells * w / h).sqrt().round() as usize).clamp(1, 4096);
        g.ny = ((cells / g.nx as f64).round() as usize).clamp(1, 4096);
        (g.inv_w, g.inv_h) = (g.nx as f64 / w, g.ny as f64 / h);
        // Boxes as large as the extent would each be listed in every cell: coarser cells until
        // the lists hold at most MAX_ENTRIES (or about 16 per box).
        const MAX_ENTRIES: usize = 1 << 24;
        while g.nx * g.ny > 1 {
            let mut entries = 0usize;
            g.for_each_span(order, |cells| entries += cells);
            if entries <= MAX_ENTRIES.max(16 * n) {
                break;
            }
            g.nx = g.nx.div_ceil(2);
            g.ny = g.ny.div_ceil(2);
            (g.inv_w, g.inv_h) = (g.nx as f64 / w, g.ny as f64 / h);
        }
        // Two passes: count per cell, then fill in `order`.
        let mut start = vec![0u32; g.nx * g.ny + 1];
        g.for_each_cell(order, |k, _| start[k + 1] += 1);
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut members = vec![0; start[g.nx * g.ny] as usize];
        let mut next = start.clone();
        g.for_each_cell(order, |k, i| {
            members[next[k] as usize] = i;
            next[k] += 1;
        });
        (g.start, g.members) = (start, members);
        g
    }

    /// Calls `f(cells)` with the number of cells each box of `order` meets.
    fn for_each_span(&self, order: &[u32], mut f: impl FnMut(usize)) {
        for &i in order {
            if let Some(r) = &self.boxes[i as usize] {
                let (ax, ay) = self.cell_xy(r.min().x, r.min().y);
                let (bx, by) = self.cell_xy(r.max().x, r.max().y);
                f((bx - ax + 1) * (by - ay + 1));
            }
        }
    }

    /// Calls `f(cell, box)` for every cell each box of `order` meets.
    fn for_each_cell(&self, order: &[u32], mut f: impl FnMut(usize, u32)) {
        for &i in order {
            let Some(r) = &self.boxes[i as usize] else {
                continue;
            };
            let (ax, ay) = self.cell_xy(r.min().x, r.min().y);
            let (bx, by) = self.cell_xy(r.max().x, r.max().y);
            for y in ay..=by {
                for x in ax..=bx {
                    f(y * self.nx + x, i);
                }
            }
        }
    }

    /// The cell column and row of (x, y), clamped to the grid.
    fn cell_xy(&self, x: f64, y: f64) -> (usize, usize) {
        let cx = (((x - self.x0) * self.inv_w).max(0.0) as usize).min(self.nx - 1);
        let cy = (((y - self.y0) * self.inv_h).max(0.0) as usize).min(self.ny - 1);
        (cx, cy)
    }

    /// The boxes holding (x, y), boundary included, in the grid's order.
    pub fn candidates(&self, x: f64, y: f64) -> impl Iterator<Item = u32> + '_ {
        let cell: &[u32] = if self.nx == 0 || !(x.is_finite() && y.is_finite()) {
            &[]
        } else {
            let (cx, cy) = self.cell_xy(x, y);
            let k = cy * self.nx + cx;
            &self.members[self.start[k] as usize..self.start[k + 1] as usize]
        };
        cell.iter().copied().filter(move |&i| {
            self.boxes[i as usize].is_some_and(|r| {
                r.min().x <= x && x <= r.max().x && r.min().y <= y && y <= r.max().y
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;
    use rand::{Rng, SeedableRng};

    #[test]
    fn candidates_are_the_boxes_holding_the_point_in_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let boxes: Vec<Option<Rect<f64>>> = (0..300)
            .map(|k| {
                if k % 50 == 0 {
                    return None;
                }
                let (x, y) = (rng.random_range(0.0..10.0), rng.random_range(50.0..55.0));
                let (w, h) = (rng.random_range(0.0..2.0), rng.random_range(0.0..1.0));
                Some(Rect::new(
                    coord! { x: x, y: y },
                    coord! { x: x + w, y: y + h },
                ))
            })
            .collect();
        let order: Vec<u32> = (0..300).rev().collect();
        let g = BoxGrid::new(boxes.clone(), &order);
        for _ in 0..20_000 {
            let (x, y) = (rng.random_range(-1.0..13.0), rng.random_range(49.0..57.0));
            let want: Vec<u32> = order
                .iter()
                .copied()
                .filter(|&i| {
                    boxes[i as usize].is_some_and(|r| {
                        r.min().x <= x && x <= r.max().x && r.min().y <= y && y <= r.max().y
                    })
                })
                .collect();
            assert_eq!(g.candidates(x, y).collect::<Vec<_>>(), want, "({x}, {y})");
        }
        // A box's own corners are in it.
        let r = boxes[1].unwrap();
        assert!(g.candidates(r.max().x, r.max().y).any(|i| i == 1));
        assert_eq!(g.candidates(f64::NAN, 52.0).count(), 0);
        assert_eq!(
            BoxGrid::new(vec![None], &[0]).candidates(1.0, 1.0).count(),
            0
        );
    }

    #[test]
    fn boxes_not_finite_are_left_out_and_large_boxes_coarsen_the_grid() {
        // A box with an infinite corner is left out; the others still answer.
        let inf = Rect::new(
            coord! { x: 0.0, y: 0.0 },
            coord! { x: f64::INFINITY, y: 1.0 },
        );
        let fine = Rect::new(coord! { x: 0.0, y: 0.0 }, coord! { x: 1.0, y: 1.0 });
        let g = BoxGrid::new(vec![Some(inf), Some(fine)], &[0, 1]);
        assert_eq!(g.candidates(0.5, 0.5).collect::<Vec<_>>(), vec![1]);
        // 4,000 boxes over the whole extent would each be in all 64,000 cells (256 M entries).
        let whole = Rect::new(coord! { x: 0.0, y: 0.0 }, coord! { x: 10.0, y: 10.0 });
        let mut boxes = vec![Some(whole); 4_000];
        boxes.push(Some(Rect::new(
            coord! { x: 1.0, y: 1.0 },
            coord! { x: 1.1, y: 1.1 },
        )));
        let order: Vec<u32> = (0..boxes.len() as u32).collect();
        let g = BoxGrid::new(boxes, &order);
        assert!(g.members.len() <= 1 << 24, "{} entries", g.members.len());
        assert_eq!(g.candidates(1.05, 1.05).count(), 4_001);
        assert_eq!(g.candidates(5.0, 5.0).count(), 4_000);
    }
}
