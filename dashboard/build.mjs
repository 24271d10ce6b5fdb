// Builds the dashboard into src/edgeorch/web/ (committed, so 'pip install' needs no npm):
//   vendor.js   d3-geo + topojson-client + world-atlas countries-50m, minified
//   app.js      the dashboard's own modules (src/app/), bundled but readable
//   index.html, style.css   copied from static/
//   vendor-licenses.txt     the licences of everything inside vendor.js
// Run with 'npm ci && npm run build' in dashboard/.
import { build } from "esbuild";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "edgeorch", "web");

await build({
  entryPoints: [join(here, "src", "vendor.js")],
  outfile: join(out, "vendor.js"),
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "none",
  target: "es2020",
  logLevel: "info",
});
await build({
  entryPoints: [join(here, "src", "app", "main.js")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  external: ["./vendor.js"],
  banner: { js: "// Built from dashboard/src/app by dashboard/build.mjs; edit the sources there." },
  logLevel: "info",
});
for (const name of ["index.html", "style.css"]) {
  copyFileSync(join(here, "static", name), join(out, name));
}
const licences = ["d3-geo", "d3-array", "internmap", "topojson-client", "world-atlas"].map((pkg) => {
  const meta = JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"), "utf8"));
  const text = readFileSync(join(here, "node_modules", pkg, "LICENSE"), "utf8").trim();
  return `${pkg} ${meta.version} (${meta.license})\n\n${text}\n`;
});
const header =
  "Third-party code and data bundled in vendor.js. The world outline is Natural Earth " +
  "(public domain), packaged as TopoJSON by world-atlas.\n\n";
writeFileSync(join(out, "vendor-licenses.txt"), header + licences.join("\n" + "-".repeat(72) + "\n\n"));
