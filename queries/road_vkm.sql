-- title: Vehicle-km on the road network, from the traffic links' ÅDT
-- unit: vehicle-km/year
-- needs: road_links
-- Σ ÅDT × length × days of the year over the directed links that have an ÅDT, per
-- municipality (as the data gives it), road category (`all` and each) and vehicle class
-- (`all`, `light` < 5.6 m, `heavy` ≥ 5.6 m; the classes need the link's heavy share).
-- se: the ÅDTs' standard errors, links independent: √Σ (SE × length × days)²; it covers the
-- sampling error of the links with an SE (links_with_se), not derived ÅDTs without one, nor
-- the links without an ÅDT, which `vkm` leaves out: the coverage columns say how much that is.
-- CI: vkm ± 1.96·se.
WITH c AS (
  SELECT *, road_category AS category FROM road_link_vkm
  UNION ALL
  SELECT *, 'all' FROM road_link_vkm
)
SELECT year, municipality_id, category AS road_category, vehicle_class,
  sum(CASE WHEN has_aadt THEN vkm END) AS vkm,
  sqrt(sum(CASE WHEN has_aadt THEN COALESCE(vkm_se, 0) * COALESCE(vkm_se, 0) END)) AS se,
  sum(CASE WHEN has_aadt THEN vkm END)
    - 1.96 * sqrt(sum(CASE WHEN has_aadt THEN COALESCE(vkm_se, 0) * COALESCE(vkm_se, 0) END)) AS ci_lower,
  sum(CASE WHEN has_aadt THEN vkm END)
    + 1.96 * sqrt(sum(CASE WHEN has_aadt THEN COALESCE(vkm_se, 0) * COALESCE(vkm_se, 0) END)) AS ci_upper,
  count(*) AS links,
  sum(CASE WHEN has_aadt THEN 1 ELSE 0 END) AS links_with_aadt,
  sum(CASE WHEN has_aadt AND vkm_se > 0 THEN 1 ELSE 0 END) AS links_with_se,
  CAST(sum(CASE WHEN has_aadt THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS link_coverage,
  sum(km) AS length_km,
  sum(CASE WHEN has_aadt THEN km ELSE 0 END) AS length_km_with_aadt,
  sum(CASE WHEN has_aadt THEN km ELSE 0 END) / sum(km) AS length_coverage
FROM c
GROUP BY year, municipality_id, category, vehicle_class
ORDER BY year, municipality_id, category, vehicle_class
