// The Virt panel in the browser: hash routes, fetch against /api, live state over server-sent events,
// the serial console in xterm.js and the graphical console in noVNC, both over the panel's WebSockets.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import RFB from '@novnc/novnc';
import { networkPages } from './networks.js';
import { nodePages } from './nodes.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let live = { vms: [], containers: [] };
let events = null;
// Each console closes its socket when the page changes; both can be open at once.
const teardowns = { serial: () => {}, vnc: () => {} };
const teardown = () => { teardowns.serial(); teardowns.vnc(); };

const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

async function api(path, options = {}) {
  const response = await fetch('/api' + path, {
    ...options,
    headers: { 'Content-Type': 'application/json', 'X-Virt-Panel': '1', ...(options.headers ?? {}) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401) { showLogin(); throw new Error('not logged in'); }
  const text = await response.text();
  const data = text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
  if (!response.ok) throw new Error(data?.error ?? `${response.status} ${response.statusText}`);
  return data;
}

function table(headers, rows) {
  return `<div class="table-wrap"><table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function showError(where, error) {
  where.innerHTML = `<p class="error" data-testid="error">${esc(error.message ?? error)}</p>`;
}

function showLogin() {
  nav.hidden = true;
  events?.close();
  events = null;
  main.innerHTML = `<div class="card"><h1>Log in</h1>
    <form id="login" class="inline"><label>Password or token<input id="secret" type="password" autocomplete="current-password" data-testid="secret"></label>
    <button data-testid="login">Log in</button></form><div id="login-error"></div></div>`;
  document.getElementById('login').onsubmit = async (event) => {
    event.preventDefault();
    try {
      await api('/login', { method: 'POST', body: { secret: document.getElementById('secret').value } });
      location.hash = '#/vms';
      start();
    } catch (error) { showError(document.getElementById('login-error'), error); }
  };
}

function watchState() {
  if (events) return;
  events = new EventSource('/api/events');
  events.addEventListener('state', (event) => {
    live = JSON.parse(event.data);
    for (const cell of document.querySelectorAll('[data-live]')) {
      const [kind, name] = cell.dataset.live.split(':');
      const item = live[kind].find((entry) => entry.name === name);
      if (item) { cell.textContent = item.state; cell.className = `state ${item.state}`; }
      const pid = document.querySelector(`[data-live-pid="${cell.dataset.live}"]`);
      if (pid && item) pid.textContent = item.pid ?? '-';
    }
  });
}

const stateCell = (kind, name, state) => `<span class="state ${esc(state)}" data-live="${kind}:${esc(name)}" data-testid="state-${esc(name)}">${esc(state)}</span>`;

async function vmsPage() {
  const vms = await api('/vms');
  main.innerHTML = `<h1>Virtual machines</h1><div class="card">${table(['Name', 'State', 'PID', 'Last exit', ''], vms.map((vm) => `<tr>
      <td><a href="#/vm/${encodeURIComponent(vm.name)}" data-testid="open-${esc(vm.name)}">${esc(vm.name)}</a></td>
      <td>${stateCell('vms', vm.name, vm.state)}</td><td>${esc(vm.pid ?? '')}</td><td class="wrap">${esc(vm.lastExit?.reason ?? '')}</td>
      <td class="actions"><button data-act="start" data-name="${esc(vm.name)}">Start</button><button class="secondary" data-act="stop" data-name="${esc(vm.name)}">Stop</button><button class="danger" data-act="delete" data-name="${esc(vm.name)}">Delete</button></td></tr>`))}</div>
    <div class="card"><h2>Create a VM</h2><form id="create" class="inline">
      <label>Name<input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,62}" data-testid="vm-name"></label>
      <label>Memory (MiB)<input name="memory" type="number" value="256" min="64"></label>
      <label>vCPUs<input name="cpus" type="number" value="1" min="1"></label>
      <label>Test guest<input name="testGuest" type="checkbox" checked></label>
      <button data-testid="vm-create">Create</button></form><div id="message"></div></div>`;
  bindVmActions();
  document.getElementById('create').onsubmit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api('/vms', { method: 'POST', body: { name: form.get('name'), memoryMiB: Number(form.get('memory')), cpus: Number(form.get('cpus')), testGuest: form.get('testGuest') === 'on' } });
      await vmsPage();
    } catch (error) { showError(document.getElementById('message'), error); }
  };
}

function bindVmActions() {
  for (const button of document.querySelectorAll('button[data-act]')) {
    button.onclick = async () => {
      const { act, name } = button.dataset;
      const message = document.getElementById('message') ?? main;
      try {
        if (act === 'start') await api(`/vms/${encodeURIComponent(name)}/start`, { method: 'POST' });
        if (act === 'stop') await api(`/vms/${encodeURIComponent(name)}/stop?force=true`, { method: 'POST' });
        if (act === 'delete' && confirm(`Delete VM ${name}?`)) { await api(`/vms/${encodeURIComponent(name)}`, { method: 'DELETE' }); location.hash = '#/vms'; }
        if (location.hash.startsWith('#/vm/')) await vmPage(name); else await vmsPage();
      } catch (error) { showError(message, error); }
    };
  }
}

async function vmPage(name) {
  const vm = await api(`/vms/${encodeURIComponent(name)}`);
  main.innerHTML = `<h1>VM ${esc(name)}</h1>
    <div class="card"><p>State: ${stateCell('vms', name, vm.status.state)} · PID <span data-live-pid="vms:${esc(name)}">${esc(vm.status.pid ?? '-')}</span> · ${esc(vm.status.accelerator ?? '')}</p>
      <div class="actions"><button data-act="start" data-name="${esc(name)}" data-testid="vm-start">Start</button>
      <button class="secondary" data-act="stop" data-name="${esc(name)}" data-testid="vm-stop">Stop</button>
      <button class="secondary" id="migrate">Migrate (this host)</button>
      <button class="danger" data-act="delete" data-name="${esc(name)}">Delete</button></div><div id="message"></div></div>
    <div class="card"><h2>Migrate to another host</h2><form id="migrate-to" class="inline">
      <label>Destination panel<input name="destination" type="url" required list="peer-hosts" placeholder="https://host-b:8006" data-testid="migrate-destination"></label>
      <datalist id="peer-hosts"></datalist>
      <label>Clear text (trusted link only)<input name="clearText" type="checkbox" data-testid="migrate-clear-text"></label>
      <button data-testid="migrate-to">Migrate to host</button></form>
      <p class="hint" id="migrate-hint"></p>
      <div id="migrate-progress" hidden><div class="progress"><div id="migrate-bar"></div></div><p id="migrate-detail" class="wrap" data-testid="migrate-detail"></p></div>
      <div id="migrate-message"></div></div>
    <div class="card"><h2>Serial console</h2><div class="actions"><button id="serial" data-testid="open-serial">Open serial console</button></div><div id="terminal" data-testid="terminal"></div></div>
    <div class="card"><h2>Graphical console</h2><div class="actions"><button id="graphics" class="secondary" data-testid="open-vnc">Open graphical console</button><span id="vnc-status"></span></div><div id="vnc"></div></div>`;
  bindVmActions();
  document.getElementById('migrate').onclick = async () => {
    const task = await api(`/vms/${encodeURIComponent(name)}/migrate`, { method: 'POST' });
    location.hash = `#/tasks?highlight=${task.id}`;
  };
  bindMigrateToHost(name);
  document.getElementById('serial').onclick = () => openSerial(name);
  document.getElementById('graphics').onclick = () => openVnc(name);
}

// "Migrate to host": the destination is the other host's panel; the hosts' token stays on the server (Panel:HostTokenFile),
// the page only names where to. The peers of Panel:PeerHosts are offered, and the server migrates to no other panel.
async function bindMigrateToHost(name) {
  const form = document.getElementById('migrate-to');
  const hint = document.getElementById('migrate-hint');
  const setup = await api('/host-to-host/peers');
  document.getElementById('peer-hosts').innerHTML = setup.peers.map((peer) => `<option value="${esc(peer)}"></option>`).join('');
  if (setup.peers.length) form.elements.destination.value = setup.peers[0];
  hint.textContent = setup.canMigrate
    ? `From ${setup.hostName}: both panels need the hosts' token (Panel:HostTokenFile) and certificates of one CA (Panel:TlsDirectory).`
    : 'This panel has no host-to-host token: set Panel:HostTokenFile (the same token on every host) to migrate between hosts.';
  form.onsubmit = async (event) => {
    event.preventDefault();
    const message = document.getElementById('migrate-message');
    message.innerHTML = '';
    try {
      const task = await api(`/vms/${encodeURIComponent(name)}/migrate-to`, { method: 'POST', body: { destination: form.elements.destination.value, insecureClearText: form.elements.clearText.checked } });
      await followTask(task.id, name, message);
    } catch (error) { showError(message, error); }
  };
}

async function followTask(id, name, message) {
  const progress = document.getElementById('migrate-progress');
  const detail = document.getElementById('migrate-detail');
  progress.hidden = false;
  for (;;) {
    const task = await api(`/tasks/${encodeURIComponent(id)}`);
    document.getElementById('migrate-bar').style.width = `${Math.round(task.percent)}%`;
    detail.textContent = task.detail ?? '';
    if (task.state === 'completed') {
      message.innerHTML = `<p class="ok" data-testid="migrate-done">VM ${esc(name)} now runs on the other host.</p>`;
      return;
    }
    if (task.state === 'failed') throw new Error(task.error ?? 'the migration failed');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function socketUrl(path) {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api${path}`;
}

async function openSerial(name) {
  teardowns.serial();
  const element = document.getElementById('terminal');
  const terminal = new Terminal({ convertEol: true, fontSize: 13, scrollback: 5000 });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.open(element);
  fit.fit();
  // What the console printed so far, then the live socket.
  terminal.write(await api(`/vms/${encodeURIComponent(name)}/serial`));
  const socket = new WebSocket(socketUrl(`/vms/${encodeURIComponent(name)}/console`));
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (event) => terminal.write(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
  socket.onclose = () => terminal.write('\r\n[console closed]\r\n');
  terminal.onData((data) => socket.readyState === WebSocket.OPEN && socket.send(data));
  const resize = () => fit.fit();
  window.addEventListener('resize', resize);
  teardowns.serial = () => { socket.close(); terminal.dispose(); window.removeEventListener('resize', resize); teardowns.serial = () => {}; };
}

function openVnc(name) {
  teardowns.vnc();
  const status = document.getElementById('vnc-status');
  const rfb = new RFB(document.getElementById('vnc'), socketUrl(`/vms/${encodeURIComponent(name)}/vnc`), { wsProtocols: ['binary'] });
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => { status.textContent = 'connected'; status.dataset.testid = 'vnc-connected'; });
  rfb.addEventListener('disconnect', () => { status.textContent = 'disconnected'; });
  teardowns.vnc = () => { rfb.disconnect(); teardowns.vnc = () => {}; };
}

async function containersPage() {
  const containers = await api('/containers');
  main.innerHTML = `<h1>Containers</h1><div class="card">${table(['Name', 'State', 'Init PID', ''], containers.map((ct) => `<tr>
      <td><a href="#/ct/${encodeURIComponent(ct.name)}">${esc(ct.name)}</a></td><td>${stateCell('containers', ct.name, ct.state)}</td><td>${esc(ct.initPid ?? '')}</td>
      <td class="actions"><button data-ct="start" data-name="${esc(ct.name)}" data-testid="ct-start-${esc(ct.name)}">Start</button><button class="secondary" data-ct="stop" data-name="${esc(ct.name)}">Stop</button><button class="danger" data-ct="delete" data-name="${esc(ct.name)}">Delete</button></td></tr>`))}</div>
    <div class="card"><h2>Create a container (busybox)</h2><form id="create" class="inline">
      <label>Name<input name="name" required data-testid="ct-name"></label><label>Memory (MiB)<input name="memory" type="number" min="16"></label>
      <button data-testid="ct-create">Create</button></form><div id="message"></div></div>`;
  for (const button of document.querySelectorAll('button[data-ct]')) {
    button.onclick = async () => {
      const { ct, name } = button.dataset;
      try {
        if (ct === 'delete') await api(`/containers/${encodeURIComponent(name)}`, { method: 'DELETE' });
        else await api(`/containers/${encodeURIComponent(name)}/${ct}`, { method: 'POST' });
        await containersPage();
      } catch (error) { showError(document.getElementById('message'), error); }
    };
  }
  document.getElementById('create').onsubmit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api('/containers', { method: 'POST', body: { name: form.get('name'), memoryMiB: form.get('memory') ? Number(form.get('memory')) : null } });
      await containersPage();
    } catch (error) { showError(document.getElementById('message'), error); }
  };
}

async function containerPage(name) {
  const containers = await api('/containers');
  const ct = containers.find((entry) => entry.name === name) ?? { state: 'unknown' };
  main.innerHTML = `<h1>Container ${esc(name)}</h1><div class="card"><p>State: ${stateCell('containers', name, ct.state)}</p></div>
    <div class="card"><h2>Run a command</h2><form id="exec" class="inline"><label>Command<input name="command" value="uname -a" data-testid="ct-command"></label>
    <button data-testid="ct-exec">Run</button></form><pre class="output" id="output" data-testid="ct-output"></pre></div>`;
  document.getElementById('exec').onsubmit = async (event) => {
    event.preventDefault();
    const output = document.getElementById('output');
    try {
      const result = await api(`/containers/${encodeURIComponent(name)}/exec`, { method: 'POST', body: { command: ['sh', '-c', new FormData(event.target).get('command')] } });
      output.textContent = `${result.standardOutput}${result.standardError}\n[exit ${result.exitCode}]`;
    } catch (error) { output.textContent = error.message; }
  };
}

async function storagePage() {
  const pools = await api('/storage/pools');
  const sections = await Promise.all(pools.map(async (pool) => {
    const volumes = await api(`/storage/pools/${encodeURIComponent(pool.name)}/volumes`);
    return `<div class="card"><h2>${esc(pool.name)} (${esc(pool.driver)}, ${esc(pool.path)})</h2>${table(['Volume', 'Format', 'Size', 'Allocated', 'Backing', 'Snapshots'], volumes.map((v) => `<tr><td>${esc(v.id)}</td><td>${esc(v.format)}</td><td>${(v.capacityBytes / 1048576).toFixed(0)} MiB</td><td>${(v.allocationBytes / 1048576).toFixed(1)} MiB</td><td>${esc(v.backingChain.join(' ← '))}</td><td>${esc(v.snapshots.join(', '))}</td></tr>`))}</div>`;
  }));
  main.innerHTML = `<h1>Storage</h1>${sections.join('') || '<div class="card">No pools defined (virtctl storage define NAME --driver dir --path DIR).</div>'}`;
}

async function pciPage() {
  const [devices, groups, bindings] = await Promise.all([api('/pci/devices'), api('/pci/groups'), api('/pci/bindings')]);
  main.innerHTML = `<h1>PCI devices</h1><div class="card">${table(['Address', 'Class', 'IDs', 'Driver', 'Group', 'Name'], devices.map((d) => `<tr><td>${esc(d.address)}</td><td>${esc(d.classCode)}</td><td>${esc(d.ids)}</td><td>${esc(d.driver ?? '-')}</td><td>${esc(d.iommuGroup ?? '-')}</td><td class="wrap">${esc(d.name)}</td></tr>`))}</div>
    <div class="card"><h2>IOMMU groups</h2>${groups.length ? table(['Group', 'Viable', 'Members'], groups.map((g) => `<tr><td>${g.number}</td><td>${g.isViable}</td><td class="wrap">${esc(g.members.map((m) => `${m.address} (${m.driver ?? 'no driver'})`).join(', '))}</td></tr>`)) : '<p>No IOMMU groups: the IOMMU is off or absent (see Host).</p>'}</div>
    <div class="card"><h2>Bound to VFIO</h2>${bindings.length ? table(['Owner', 'Devices'], bindings.map((b) => `<tr><td>${esc(b.owner)}</td><td class="wrap">${esc(b.devices.map((d) => `${d.address} (from ${d.originalDriver ?? 'no driver'})`).join(', '))}</td></tr>`)) : '<p>None.</p>'}</div>`;
}

async function hostPage() {
  const report = await api('/host/readiness');
  main.innerHTML = `<h1>Host readiness</h1><p><a href="#/hostnet">Host network inventory and drift</a></p><div class="card">${table(['Check', 'Status', 'Found', 'Fix'], report.checks.map((c) => `<tr><td>${esc(c.code)}</td><td>${esc(c.status)}</td><td class="wrap">${esc(c.summary)}</td><td class="wrap">${esc(c.fix ?? '')}</td></tr>`))}</div>`;
}

async function tasksPage() {
  const tasks = await api('/tasks');
  main.innerHTML = `<h1>Tasks</h1><div class="card">${table(['Task', 'State', 'Progress', 'Detail'], tasks.map((t) => `<tr><td>${esc(t.title)}</td><td>${esc(t.state)}</td><td><div class="progress"><div style="width:${Math.round(t.percent)}%"></div></div></td><td class="wrap">${esc(t.error ?? t.detail ?? '')}</td></tr>`))}</div>`;
  if (tasks.some((t) => t.state === 'running')) setTimeout(() => location.hash.startsWith('#/tasks') && tasksPage(), 1000);
}

const { networksPage, networkPage, hostNetworkPage } = networkPages({ api, esc, table, showError, main });
const { nodesPage } = nodePages({ api, esc, table, showError, main });

// On a phone each table row becomes a card whose cells carry their column's name (styles.css).
function labelCells() {
  for (const tableElement of main.querySelectorAll('table')) {
    const headers = [...tableElement.querySelectorAll('thead th')].map((th) => th.textContent);
    for (const row of tableElement.querySelectorAll('tbody tr')) {
      [...row.children].forEach((cell, index) => { cell.dataset.label = headers[index] ?? ''; });
    }
  }
}

new MutationObserver(labelCells).observe(main, { childList: true, subtree: false });

async function route() {
  teardown();
  const [path, argument] = location.hash.replace(/^#\//, '').split('?')[0].split('/');
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('active', link.getAttribute('href') === `#/${path}`);
  try {
    if (path === 'vm') await vmPage(decodeURIComponent(argument));
    else if (path === 'containers') await containersPage();
    else if (path === 'ct') await containerPage(decodeURIComponent(argument));
    else if (path === 'storage') await storagePage();
    else if (path === 'networks') await networksPage();
    else if (path === 'net') await networkPage(decodeURIComponent(argument));
    else if (path === 'hostnet') await hostNetworkPage();
    else if (path === 'pci') await pciPage();
    else if (path === 'host') await hostPage();
    else if (path === 'tasks') await tasksPage();
    else if (path === 'nodes') await nodesPage();
    else await vmsPage();
  } catch (error) { if (error.message !== 'not logged in') showError(main, error); }
}

async function start() {
  try { await api('/tasks'); } catch { return; }
  nav.hidden = false;
  watchState();
  await route();
}

document.getElementById('logout').onclick = async () => { await api('/logout', { method: 'POST' }); showLogin(); };
window.addEventListener('hashchange', route);
start();
