-- title: CO₂e of the vehicle-km on the road network (measured links only)
-- unit: t CO₂e/year
-- needs: road_links, emission_factors, fleet_mix, occupancy
-- The vehicle-km of road_vkm times a factor per vehicle-km: light vehicles the car fleet's
-- g CO₂e/vkm (mode_factors, from fleet_mix × emission_factors), heavy vehicles the latest
-- `heavy` factor of emission_factors (data/factors: SSB's g per tonne-km × SSB's load); `all`
-- is light + heavy link by link, so it needs the link's heavy share. Only links with an ÅDT
-- (and a heavy share) count: the coverage columns say how much of the network that is, and
-- `covers` says so in words. se: from the ÅDTs' SEs as in road_vkm (factors fixed).
WITH f AS (
  SELECT g_per_pkm AS light_g, basis AS light_basis FROM mode_factors WHERE mode = 'car_driver'
),
h AS (
  SELECT g_co2e_per_vkm AS heavy_g,
    'heavy vehicles ' || CAST(year AS VARCHAR) || ', per vehicle-km' AS heavy_basis
  FROM emission_factors
  WHERE mode = 'heavy' AND g_co2e_per_vkm IS NOT NULL
  ORDER BY year DESC
  LIMIT 1
),
k AS (
  SELECT v.*,
    CASE v.vehicle_class WHEN 'light' THEN f.light_g ELSE h.heavy_g END AS g,
    CASE v.vehicle_class WHEN 'light' THEN f.light_basis ELSE h.heavy_basis END AS basis,
    f.light_basis || '; ' || h.heavy_basis AS both_bases
  FROM road_link_vkm v CROSS JOIN f CROSS JOIN h
  WHERE v.vehicle_class <> 'all'
),
per_link AS (
  SELECT link_id, year, municipality_id, road_category, vehicle_class, km, has_aadt, vkm,
    vkm * g / 1e6 AS t, vkm_se * g / 1e6 AS t_se, basis
  FROM k
  UNION ALL
  SELECT link_id, year, municipality_id, road_category, 'all', max(km), bool_and(has_aadt),
    sum(vkm), sum(vkm * g) / 1e6, sum(vkm_se * g) / 1e6, max(both_bases)
  FROM k
  GROUP BY link_id, year, municipality_id, road_category
),
c AS (
  SELECT *, road_category AS category FROM per_link
  UNION ALL
  SELECT *, 'all' FROM per_link
)
SELECT year, municipality_id, category AS road_category, vehicle_class,
  sum(CASE WHEN has_aadt THEN vkm END) AS vkm,
  sum(CASE WHEN has_aadt THEN t END) AS tonnes_co2e,
  sqrt(sum(CASE WHEN has_aadt THEN COALESCE(t_se, 0) * COALESCE(t_se, 0) END)) AS se,
  sum(CASE WHEN has_aadt THEN t END)
    - 1.96 * sqrt(sum(CASE WHEN has_aadt THEN COALESCE(t_se, 0) * COALESCE(t_se, 0) END)) AS ci_lower,
  sum(CASE WHEN has_aadt THEN t END)
    + 1.96 * sqrt(sum(CASE WHEN has_aadt THEN COALESCE(t_se, 0) * COALESCE(t_se, 0) END)) AS ci_upper,
  count(*) AS links,
  sum(CASE WHEN has_aadt THEN 1 ELSE 0 END) AS links_with_aadt,
  CAST(sum(CASE WHEN has_aadt THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS link_coverage,
  sum(CASE WHEN has_aadt THEN km ELSE 0 END) / sum(km) AS length_coverage,
  max(basis) AS factor_basis,
  'measured links only: traffic links with an ÅDT and a heavy share, not the whole road network' AS covers
FROM c
GROUP BY year, municipality_id, category, vehicle_class
ORDER BY year, municipality_id, category, vehicle_class
