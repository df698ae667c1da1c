// Builds the portal into dist/: the bundle (JS and CSS, content-hashed
// names under dist/assets/) and index.html referring to them. Run by
// `npm run build` (make build). `node build.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import {readFile, writeFile, rm, mkdir, readdir} from 'node:fs/promises';
import {basename} from 'node:path';

const dist = new URL('./dist/', import.meta.url);
const watch = process.argv.includes('--watch');

async function clean() {
  await mkdir(dist, {recursive: true});
  for (const f of await readdir(dist)) {
    if (f !== '.gitkeep') await rm(new URL(f, dist), {recursive: true, force: true});
  }
}

async function writeIndex(metafile) {
  const outs = Object.keys(metafile.outputs).filter((p) => !p.endsWith('.map'));
  const js = outs.filter((p) => p.endsWith('.js')).map((p) => `<script type="module" src="/assets/${basename(p)}"></script>`);
  const css = outs.filter((p) => p.endsWith('.css')).map((p) => `<link rel="stylesheet" href="/assets/${basename(p)}">`);
  const tpl = await readFile(new URL('./src/index.html', import.meta.url), 'utf8');
  await writeFile(new URL('index.html', dist), tpl.replace('<!-- styles -->', css.join('\n')).replace('<!-- scripts -->', js.join('\n')));
}

const options = {
  entryPoints: {app: 'src/main.js'},
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [{
    name: 'index',
    setup(build) {
      build.onStart(clean);
      build.onEnd(async (r) => { if (r.metafile) await writeIndex(r.metafile); });
    },
  }],
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log('watching src/ …');
} else {
  await esbuild.build(options);
}
