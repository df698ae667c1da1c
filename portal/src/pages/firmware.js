import {h, replace, api, query, has, fill, fmtTime, fmtNum, badge, errorBox, unavailable} from '../lib.js';

const PHASES = ['pending', 'updating', 'installed', 'rejected', 'failed', 'skipped'];

// firmwarePage: upload firmware images, roll one out to stations, and
// follow each station's progress (the command's answer, then the
// station's FirmwareStatusNotifications).
export function firmwarePage(el) {
  if (!has('get', '/firmware')) { replace(el, h('h1', {}, 'Firmware'), unavailable('Firmware', 'firmware management')); return null; }
  const images = h('tbody', {});
  const runs = h('div', {'data-testid': 'rollouts'});
  const msg = h('div', {});
  replace(el,
    h('header', {class: 'page-head'}, h('h1', {}, 'Firmware')),
    msg,
    h('section', {class: 'panel'}, h('h2', {}, 'Images'),
      h('table', {class: 'grid', 'data-testid': 'firmware-images'},
        h('thead', {}, h('tr', {}, ['Name', 'Size', 'SHA-256', 'Uploaded', 'Roll out to'].map((t) => h('th', {}, t)))), images),
      has('post', '/firmware') ? uploadForm() : null),
    has('get', '/firmware/rollouts') ? h('section', {class: 'panel'}, h('h2', {}, 'Roll-outs'), runs) : null);

  async function load() {
    try {
      const r = await api('GET', '/firmware' + query({limit: 100}));
      const imgs = r.items || [];
      replace(images, imgs.length ? imgs.map((f) => h('tr', {'data-firmware': f.name},
        h('td', {}, f.url ? h('a', {href: f.url}, f.name) : f.name),
        h('td', {class: 'num'}, `${fmtNum(f.size / 1024, 0)} KiB`),
        h('td', {}, h('code', {title: f.sha256}, (f.sha256 || '').slice(0, 12) + '…')),
        h('td', {}, fmtTime(f.uploadedAt)),
        h('td', {}, has('post', '/firmware/{id}/rollouts') ? rolloutForm(f) : '—')))
        : h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No firmware uploaded yet.')));
    } catch (e) {
      if (e.status === 501) { replace(el, h('h1', {}, 'Firmware'), unavailable('Firmware', 'firmware files in this process')); stopped = true; return; }
      replace(msg, errorBox(e));
    }
  }

  function uploadForm() {
    const file = h('input', {type: 'file', name: 'file', required: true, 'data-testid': 'firmware-file'});
    const out = h('span', {});
    return h('form', {class: 'inline', 'data-testid': 'firmware-upload', onsubmit: async (e) => {
      e.preventDefault();
      const f = file.files[0];
      if (!f) return;
      const fd = new FormData();
      fd.append('file', f, f.name);
      replace(out, badge('uploading', 'warn'));
      try {
        const img = await api('POST', '/firmware', fd);
        replace(out, h('span', {class: 'ok-text'}, `Uploaded ${img.name}.`));
        file.value = '';
        load();
      } catch (err) { replace(out, errorBox(err)); }
    }}, h('label', {}, 'Upload an image ', file), h('button', {type: 'submit'}, 'Upload'), out);
  }

  function rolloutForm(f) {
    const stations = h('input', {placeholder: 'CP1, CP2 … or * for all', size: 26, name: 'stations'});
    const out = h('span', {});
    return h('form', {class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      const ids = stations.value.split(/[\s,]+/).filter(Boolean);
      if (!ids.length) { replace(out, errorBox({message: 'name the stations, or * for all'})); return; }
      const all = ids.includes('*');
      try {
        await api('POST', fill('/firmware/{id}/rollouts', {id: f.sha256}), all ? {all: true} : {chargePoints: ids});
        replace(out, h('span', {class: 'ok-text'}, 'Started.'));
        loadRuns();
      } catch (err) { replace(out, errorBox(err)); }
    }}, stations, h('button', {type: 'submit', 'data-testid': 'rollout-start'}, 'Roll out'), out);
  }

  // The ten latest roll-outs with their progress; finished ones are not
  // read again.
  const finished = new Map();
  async function loadRuns() {
    if (!has('get', '/firmware/rollouts')) return;
    try {
      const r = await api('GET', '/firmware/rollouts' + query({limit: 10}));
      const list = r.items || [];
      const progress = await Promise.all(list.map((x) => finished.get(x.id) ||
        api('GET', fill('/firmware/rollouts/{id}', {id: x.id})).catch(() => null)));
      replace(runs, list.length ? progress.filter(Boolean).map((p) => {
        if (p.summary?.done) finished.set(p.id, p);
        return rolloutView(p);
      }) : h('p', {class: 'muted'}, 'No roll-outs yet.'));
    } catch (e) {
      if (e.status !== 501) replace(runs, errorBox(e));
    }
  }

  let stopped = false;
  load();
  loadRuns();
  const tick = setInterval(() => { if (!stopped && !document.hidden) loadRuns(); }, 3000);
  return () => { stopped = true; clearInterval(tick); };
}

function rolloutView(p) {
  const s = p.summary || {};
  const total = s.total || (p.stations || []).length;
  const done = (s.installed || 0) + (s.rejected || 0) + (s.failed || 0) + (s.skipped || 0);
  return h('div', {class: 'rollout', 'data-rollout': p.id, 'data-done': String(!!s.done)},
    h('h3', {}, `${p.firmware?.name || p.id} `,
      h('span', {class: 'muted'}, `started ${fmtTime(p.createdAt)} · ${done}/${total} finished`), ' ',
      s.done ? badge('done', 'ok') : badge('in progress', 'warn')),
    progressBar(total ? (s.installed || 0) / total : 0, total ? done / total : 0),
    h('div', {class: 'row muted'}, PHASES.filter((k) => s[k]).map((k) => h('span', {}, `${k}: ${s[k]}`))),
    h('table', {class: 'grid'},
      h('thead', {}, h('tr', {}, ['Station', 'Phase', 'Command', 'Station status', 'Updated'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (p.stations || []).map((st) => h('tr', {'data-cp': st.chargePointId},
        h('td', {}, h('a', {href: '#/station/' + encodeURIComponent(st.chargePointId)}, st.chargePointId)),
        h('td', {}, badge(st.phase)),
        h('td', {}, st.command ? [badge(st.command.state), st.command.status ? [' ', badge(st.command.status)] : null] : (st.error || '—'),
          st.command?.error ? h('div', {class: 'error'}, st.command.error) : null),
        h('td', {}, st.firmwareStatus ? badge(st.firmwareStatus.status) : '—'),
        h('td', {}, fmtTime(st.firmwareStatus?.receivedAt || st.command?.finishedAt || st.command?.sentAt)))))));
}

// progressBar shows installed (green) within finished (grey); widths are
// set through the CSSOM (the portal's CSP allows no inline style
// attributes).
function progressBar(installed, finished) {
  const ok = h('div', {class: 'bar'});
  ok.style.width = `${(100 * installed).toFixed(0)}%`;
  const rest = h('div', {class: 'bar other'});
  rest.style.width = `${(100 * Math.max(0, finished - installed)).toFixed(0)}%`;
  return h('div', {class: 'progress'}, ok, rest);
}
