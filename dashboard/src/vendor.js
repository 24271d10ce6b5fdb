// The third-party code and data the dashboard needs, bundled once into web/vendor.js so the
// page works offline: d3-geo (projection and paths), topojson-client (TopoJSON to GeoJSON) and
// the Natural Earth 1:50m countries from world-atlas.
export { geoNaturalEarth1, geoPath, geoGraticule10, geoDistance, geoInterpolate } from "d3-geo";
export { feature, mesh } from "topojson-client";
export { default as countries50m } from "world-atlas/countries-50m.json";
