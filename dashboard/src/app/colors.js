// Colours: node states (fill), utilization (a blue-to-red ramp), and the map's base layer.

export const STATE_COLORS = {
  ready: "#2fb26e",
  suspect: "#f5a524",
  down: "#ef3e36",
  pending: "#8d97a8",
};

export const MAP_COLORS = {
  sphere: "#0d1422",
  land: "#232d40",
  border: "#36425b",
  graticule: "rgba(120,140,170,0.08)",
  population: "#c77dff",
  link: "rgba(199,125,255,0.55)",
  linkFaint: "rgba(199,125,255,0.18)",
  highlight: "#ffffff",
  candidate: "#38bdf8",
};

const RAMP = [
  [0.0, [44, 123, 182]],
  [0.3, [0, 166, 202]],
  [0.5, [144, 235, 157]],
  [0.7, [249, 208, 87]],
  [0.85, [242, 140, 40]],
  [1.0, [215, 25, 28]],
];

// A utilization fraction in [0, 1] as an rgb() colour on the ramp.
export function utilColor(u) {
  const x = Math.min(Math.max(u || 0, 0), 1);
  for (let i = 1; i < RAMP.length; i++) {
    const [x1, c1] = RAMP[i];
    if (x <= x1) {
      const [x0, c0] = RAMP[i - 1];
      const t = (x - x0) / (x1 - x0);
      const c = c0.map((v, k) => Math.round(v + (c1[k] - v) * t));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return "rgb(215,25,28)";
}

// Dark or light text, whichever reads better on `rgb`.
export function textOn(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#0b1220" : "#f1f5f9";
}

// Quantise utilization so nodes can be drawn in a few batches (one per colour and size).
export const UTIL_STEPS = 10;
export const UTIL_BUCKET_COLORS = Array.from({ length: UTIL_STEPS + 1 }, (_, i) => utilColor(i / UTIL_STEPS));
