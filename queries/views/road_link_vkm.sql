-- Vehicle-km per year of each traffic link (one direction of a road link, as Statens vegvesen
-- gives them) and vehicle class, from its ÅDT (docs/traffic.md, road vehicle-km):
-- - vkm = ÅDT × length (km) × the days of the link's year; light = ÅDT × (1 − heavy share),
--   heavy = ÅDT × heavy share (vehicles of 5.6 m and more);
-- - vkm_se = the ÅDT's standard error (correctedStandardError) × length × days, NULL where
--   the data has none;
-- - has_aadt: whether the link (and for light and heavy, its heavy share) is known, so that
--   coverage counts links without an ÅDT too.
-- A link crossing a municipality border counts in the municipality the data gives it.
CREATE OR REPLACE VIEW road_link_vkm AS
WITH l AS (
  SELECT link_id, year,
    COALESCE(municipality_id, 'unknown') AS municipality_id,
    COALESCE(road_category, 'unknown') AS road_category,
    length_m / 1000.0 AS km,
    CAST(days_in(year, NULL, 'all') AS DOUBLE) AS days,
    aadt, aadt_se, heavy_share
  FROM road_links
)
SELECT link_id, year, municipality_id, road_category, 'all' AS vehicle_class, km,
  aadt IS NOT NULL AS has_aadt,
  aadt * km * days AS vkm,
  aadt_se * km * days AS vkm_se
FROM l
UNION ALL
SELECT link_id, year, municipality_id, road_category, 'light', km,
  aadt IS NOT NULL AND heavy_share IS NOT NULL,
  aadt * (1.0 - heavy_share) * km * days,
  aadt_se * (1.0 - heavy_share) * km * days
FROM l
UNION ALL
SELECT link_id, year, municipality_id, road_category, 'heavy', km,
  aadt IS NOT NULL AND heavy_share IS NOT NULL,
  aadt * heavy_share * km * days,
  aadt_se * heavy_share * km * days
FROM l
