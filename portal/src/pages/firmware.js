import {h, replace, api, query, has, findPath, fill, fmtTime, badge, errorBox, unavailable, poll} from '../lib.js';

// firmwarePage: upload firmware images, roll one out to stations, and
// follow each station's progress.
export function firmwarePage(el) {
  const list = findPath('get', '/firmware', '/firmwares');
  if (!list) { replace(el, h('h1', {}, 'Firmware'), unavailable('Firmware', 'firmware management')); return null; }
  const rollouts = findPath('get', '/firmware/rollouts', '/firmware-updates', '/rollouts');
  const rolloutOne = findPath('get', '/firmware/rollouts/{id}', '/firmware-updates/{id}', '/rollouts/{id}');
  const start = findPath('post', '/firmware/rollouts', '/firmware-updates', '/rollouts', '/firmware/{id}/rollouts', '/firmware/{id}/rollout');
  const images = h('tbody', {});
  const runs = h('div', {});
  const msg = h('div', {});
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Firmware')),
    msg,
    h('section', {class: 'panel'}, h('h2', {}, 'Images'),
      h('table', {class: 'grid', 'data-testid': 'firmware-images'},
        h('thead', {}, h('tr', {}, ['Name', 'Version', 'Size', 'Uploaded', ''].map((t) => h('th', {}, t)))), images),
      has('post', list) ? uploadForm() : null),
    rollouts ? h('section', {class: 'panel'}, h('h2', {}, 'Roll-outs'), runs) : null);

  let imgs = [];
  async function load() {
    try {
      const r = await api('GET', list);
      imgs = r.items || [];
      replace(images, imgs.length ? imgs.map((f) => h('tr', {},
        h('td', {}, f.name || f.filename || f.id), h('td', {}, f.version || '—'), h('td', {}, f.size ? `${(f.size / 1024).toFixed(0)} KiB` : '—'),
        h('td', {}, fmtTime(f.createdAt || f.uploadedAt)),
        h('td', {}, start ? rolloutForm(f) : null)))
        : h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No firmware uploaded.')));
    } catch (e) { replace(msg, errorBox(e)); }
  }

  function uploadForm() {
    const file = h('input', {type: 'file', name: 'file', required: true});
    const version = h('input', {name: 'version', placeholder: 'version, e.g. 1.2.3'});
    const out = h('span', {});
    return h('form', {class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      const f = file.files[0];
      if (!f) return;
      const fd = new FormData();
      fd.append('file', f);
      fd.append('name', f.name);
      if (version.value) fd.append('version', version.value.trim());
      try {
        await api('POST', list, fd);
        replace(out, h('span', {class: 'ok-text'}, `Uploaded ${f.name}.`));
        load();
      } catch (err) { replace(out, errorBox(err)); }
    }}, file, version, h('button', {type: 'submit'}, 'Upload'), out);
  }

  function rolloutForm(f) {
    const stations = h('input', {placeholder: 'CP1, CP2 … or * for all online', size: 28});
    const out = h('span', {});
    return h('form', {class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      const ids = stations.value.split(/[\s,]+/).filter(Boolean);
      try {
        const body = {firmwareId: f.id, stations: ids.includes('*') ? [] : ids, all: ids.includes('*')};
        await api('POST', fill(start, {id: f.id}), body);
        replace(out, h('span', {class: 'ok-text'}, 'Started.'));
        loadRuns();
      } catch (err) { replace(out, errorBox(err)); }
    }}, stations, h('button', {type: 'submit'}, 'Roll out'), out);
  }

  async function loadRuns() {
    if (!rollouts) return;
    try {
      const r = await api('GET', rollouts + query({limit: 20}));
      const items = r.items || [];
      const details = await Promise.all(items.map((x) => rolloutOne && !x.stations ? api('GET', fill(rolloutOne, {id: x.id})).catch(() => x) : x));
      replace(runs, details.length ? details.map((x) => {
        const st = x.stations || x.progress || [];
        const done = st.filter((s) => /installed|succeeded|done/i.test(s.status || s.state)).length;
        return h('div', {class: 'rollout'},
          h('h3', {}, `${x.firmwareName || x.firmwareId || x.id} `, h('span', {class: 'muted'}, `${fmtTime(x.createdAt)} · ${done}/${st.length} done`)),
          progressBar(st.length ? done / st.length : 0),
          h('table', {class: 'grid'}, h('tbody', {}, st.map((s) => h('tr', {},
            h('td', {}, s.chargePointId || s.cp), h('td', {}, badge(s.status || s.state)), h('td', {}, fmtTime(s.updatedAt)))))));
      }) : h('p', {class: 'muted'}, 'No roll-outs yet.'));
    } catch (e) { replace(runs, errorBox(e)); }
  }

  load();
  return poll(loadRuns, 3000);
}

// progressBar sets its width through the CSSOM (the portal's CSP allows no
// inline style attributes).
function progressBar(frac) {
  const bar = h('div', {class: 'bar'});
  bar.style.width = `${(100 * frac).toFixed(0)}%`;
  return h('div', {class: 'progress'}, bar);
}
