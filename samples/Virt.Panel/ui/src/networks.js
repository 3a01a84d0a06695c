// Networks, security groups and the host's network inventory: definitions are JSON with a "kind" (as the API and
// virtctl read them); each change is previewed as a plan (the exact netlink, nftables and dnsmasq operations) before it
// is applied.

const ruleExample = JSON.stringify([{ direction: 'In', action: 'Accept', protocol: 'Tcp', destinationPorts: ['22', '443'] }], null, 2);

function subnetOf(definition) {
  const subnet = definition.ipv4;
  return subnet ? `${subnet.cidr} via ${subnet.gateway}` : '';
}

function ruleText(rule) {
  const ports = rule.destinationPorts?.length ? ` port ${rule.destinationPorts.join(',')}` : '';
  const sources = rule.sources?.length ? ` from ${rule.sources.join(',')}` : '';
  return `${rule.direction} ${rule.action} ${rule.protocol ?? 'Any'}${ports}${sources}`;
}

// What the kind adds beyond a subnet: a VLAN network's trunk, a VXLAN overlay's VNI, underlay and peers.
function kindDetailOf(definition) {
  if (definition.kind === 'vlan') {
    const trunk = definition.uplink ? `trunk ${definition.uplink} (${definition.trunkVlans?.length ? definition.trunkVlans.join(',') : 'every VLAN in use'})` : 'no uplink';
    return `${trunk}, default VLAN ${definition.defaultVlan}`;
  }
  if (definition.kind === 'vxlan') {
    const underlay = definition.underlayInterface ? ` dev ${definition.underlayInterface}` : '';
    return `VNI ${definition.vni}, local ${definition.localAddress}${underlay}, peers ${definition.peers?.join(',') || 'none'}`;
  }
  return '';
}

// Numbers as numbers; anything else goes as typed, so that the API names the field it refuses rather than the form guessing.
const numberOr = (text) => (/^[0-9]+$/.test(text) ? Number(text) : text);
const listOf = (text) => (text ?? '').split(/[\s,]+/).filter(Boolean);

// The fields each kind takes (the form shows only those); MTU applies to every kind.
const fieldsOf = {
  isolated: ['mtu'],
  nat: ['ipv4', 'mtu'],
  routed: ['ipv4', 'mtu'],
  vlan: ['vlan', 'mtu'],
  vxlan: ['vxlan', 'ipv4', 'mtu'],
};

// The definition the form describes: only what its kind takes, so the API names any field it refuses.
function definitionFrom(form) {
  const kind = form.get('kind');
  const text = (name) => form.get(name)?.trim() || undefined;
  const definition = { kind, name: form.get('name') };
  if (text('mtu')) definition.mtu = numberOr(text('mtu'));
  if (kind === 'vlan') {
    Object.assign(definition, { uplink: text('uplink'), trunkVlans: listOf(form.get('trunkVlans')).map(numberOr) });
    if (text('defaultVlan')) definition.defaultVlan = numberOr(text('defaultVlan'));
  }
  if (kind === 'vxlan') {
    Object.assign(definition, { vni: numberOr(text('vni') ?? ''), localAddress: text('localAddress') ?? '', underlayInterface: text('underlayInterface'), peers: listOf(form.get('peers')) });
  }
  // A VXLAN overlay's subnet is optional (its gateway lives on one host): sent only when given.
  const wantsSubnet = kind === 'nat' || kind === 'routed' || (kind === 'vxlan' && (text('cidr') || text('gateway')));
  if (!wantsSubnet) return definition;
  const ipv4 = { cidr: form.get('cidr'), gateway: form.get('gateway') };
  if (form.get('dhcpStart') || form.get('dhcpEnd')) Object.assign(ipv4, { dhcpStart: form.get('dhcpStart'), dhcpEnd: form.get('dhcpEnd') });
  return { ...definition, ipv4 };
}

export function networkPages({ api, esc, table, showError, main }) {
  const planTable = (plan) => plan.changes.length
    ? table(['Layer', 'Operation', 'Object', 'Detail'], plan.changes.map((c) => `<tr><td>${esc(c.layer)}</td><td>${esc(c.operation)}</td><td class="wrap">${esc(c.object)}</td><td class="wrap">${esc(c.detail)}</td></tr>`))
    : '<p data-testid="plan-empty">The host matches the definition: nothing to apply.</p>';

  async function networksPage() {
    const [networks, groups] = await Promise.all([api('/networks'), api('/security-groups')]);
    main.innerHTML = `<h1>Networks</h1><div class="card">${networks.length ? table(['Name', 'Kind', 'Bridge', 'Subnet', 'Applied', 'Pending', 'Ports'], networks.map((n) => `<tr>
        <td><a href="#/net/${encodeURIComponent(n.name)}" data-testid="open-net-${esc(n.name)}">${esc(n.name)}</a></td><td>${esc(n.kind)}</td><td>${esc(n.bridge)}</td>
        <td class="wrap">${esc([subnetOf(n.definition), kindDetailOf(n.definition)].filter(Boolean).join('; '))}</td><td data-testid="applied-${esc(n.name)}">${n.applied ? 'yes' : 'no'}</td><td>${n.pendingChanges}</td><td>${n.portCount}</td></tr>`)) : '<p>No networks defined.</p>'}
        <p><a href="#/hostnet">Host network inventory and drift</a></p></div>
      <div class="card"><h2>Define a network</h2><form id="define" class="inline">
        <label>Kind<select name="kind" data-testid="net-kind"><option value="nat">NAT</option><option value="isolated">isolated</option><option value="routed">routed</option><option value="vlan">VLAN</option><option value="vxlan">VXLAN</option></select></label>
        <label>Name<input name="name" required pattern="[a-z][a-z0-9-]{0,10}" data-testid="net-name"></label>
        <label data-field="vxlan">VNI<input name="vni" inputmode="numeric" placeholder="1–16777215" data-testid="net-vni"></label>
        <label data-field="vxlan">Local underlay address<input name="localAddress" placeholder="198.51.100.1" data-testid="net-local-address"></label>
        <label data-field="vxlan">Underlay interface<input name="underlayInterface" placeholder="eth0 (optional)" data-testid="net-underlay"></label>
        <label data-field="vxlan">Peers<input name="peers" placeholder="198.51.100.2, 198.51.100.3" data-testid="net-peers"></label>
        <label data-field="vlan">Trunk uplink<input name="uplink" placeholder="eth1 (optional)" data-testid="net-uplink"></label>
        <label data-field="vlan">Trunk VLANs<input name="trunkVlans" placeholder="10, 20 (empty: those in use)" data-testid="net-trunk-vlans"></label>
        <label data-field="vlan">Default VLAN<input name="defaultVlan" inputmode="numeric" placeholder="1" data-testid="net-default-vlan"></label>
        <label data-field="ipv4">Subnet<input name="cidr" placeholder="192.0.2.0/24" data-testid="net-cidr"></label>
        <label data-field="ipv4">Gateway<input name="gateway" placeholder="192.0.2.1" data-testid="net-gateway"></label>
        <label data-field="ipv4">DHCP from<input name="dhcpStart" placeholder="192.0.2.100" data-testid="net-dhcp-start"></label>
        <label data-field="ipv4">DHCP to<input name="dhcpEnd" placeholder="192.0.2.200" data-testid="net-dhcp-end"></label>
        <label data-field="mtu">MTU<input name="mtu" inputmode="numeric" placeholder="default" data-testid="net-mtu"></label>
        <button data-testid="net-define">Define</button></form><div id="message"></div></div>
      <div class="card"><h2>Security groups</h2>${groups.length ? table(['Group', 'Rules', ''], groups.map((g) => `<tr><td>${esc(g.name)}</td>
        <td class="wrap">${esc(g.rules.map(ruleText).join('; ') || 'no rules')}</td>
        <td class="actions"><button class="secondary" data-group-edit="${esc(g.name)}">Edit</button><button class="danger" data-group-delete="${esc(g.name)}" data-testid="group-delete-${esc(g.name)}">Delete</button></td></tr>`)) : '<p>No security groups.</p>'}
        <form id="group" class="stacked"><label>Name<input name="name" required data-testid="group-name"></label>
        <label>Rules (JSON: direction In/Out, action Accept/Drop/Reject, protocol, destinationPorts, sources, destinations)<textarea name="rules" rows="6" data-testid="group-rules">${esc(ruleExample)}</textarea></label>
        <div class="actions"><button data-testid="group-save">Save group</button></div></form><div id="group-message"></div></div>`;
    const defineForm = document.getElementById('define');
    const showFields = () => { for (const label of defineForm.querySelectorAll('label[data-field]')) label.hidden = !fieldsOf[defineForm.elements.kind.value].includes(label.dataset.field); };
    defineForm.elements.kind.onchange = showFields;
    showFields();
    defineForm.onsubmit = async (event) => {
      event.preventDefault();
      try {
        const defined = await api('/networks', { method: 'POST', body: definitionFrom(new FormData(event.target)) });
        location.hash = `#/net/${encodeURIComponent(defined.name)}`;
      } catch (error) { showError(document.getElementById('message'), error); }
    };
    const groupForm = document.getElementById('group');
    groupForm.onsubmit = async (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      try {
        let rules;
        try { rules = JSON.parse(form.get('rules') || '[]'); } catch (error) { throw new Error(`rules: not JSON (${error.message})`); }
        await api('/security-groups', { method: 'POST', body: { name: form.get('name'), rules } });
        await networksPage();
      } catch (error) { showError(document.getElementById('group-message'), error); }
    };
    for (const button of document.querySelectorAll('button[data-group-edit]')) {
      button.onclick = () => {
        const group = groups.find((g) => g.name === button.dataset.groupEdit);
        groupForm.elements.name.value = group.name;
        groupForm.elements.rules.value = JSON.stringify(group.rules, null, 2);
        groupForm.scrollIntoView();
      };
    }
    for (const button of document.querySelectorAll('button[data-group-delete]')) {
      button.onclick = async () => {
        try {
          if (confirm(`Delete security group ${button.dataset.groupDelete}?`)) await api(`/security-groups/${encodeURIComponent(button.dataset.groupDelete)}`, { method: 'DELETE' });
          await networksPage();
        } catch (error) { showError(document.getElementById('group-message'), error); }
      };
    }
  }

  async function networkPage(name) {
    const path = `/networks/${encodeURIComponent(name)}`;
    const [network, plan, leases, counters, ports] = await Promise.all([api(path), api(`${path}/plan`), api(`${path}/leases`), api(`${path}/counters`), api(`${path}/ports`)]);
    main.innerHTML = `<h1>Network ${esc(name)}</h1>
      <div class="card"><p>${esc(network.kind)} · bridge ${esc(network.bridge)} · ${esc([subnetOf(network.definition), kindDetailOf(network.definition)].filter(Boolean).join(' · '))} ·
        <span data-testid="net-state" data-applied="${network.applied}">${network.applied ? 'applied' : `not applied (${network.pendingChanges} pending)`}</span> · ${network.portCount} port(s)</p>
        <div class="actions"><button class="danger" id="delete" data-testid="net-delete">Delete</button></div><div id="message"></div>
        <details><summary>Definition (JSON)</summary><pre class="output">${esc(JSON.stringify(network.definition, null, 2))}</pre></details></div>
      <div class="card"><h2>Plan</h2><div id="plan" data-testid="net-plan">${planTable(plan)}</div>
        <div class="actions"><button id="apply" data-testid="net-apply" ${plan.changes.length ? '' : 'disabled'}>Apply ${plan.changes.length} change(s)</button></div></div>
      <div class="card"><h2>DHCP leases</h2>${leases.length ? table(['MAC', 'Address', 'Hostname', 'Expires'], leases.map((l) => `<tr><td>${esc(l.macAddress)}</td><td>${esc(l.address)}</td><td>${esc(l.hostname ?? '')}</td><td>${esc(l.expires ?? 'never')}</td></tr>`)) : '<p data-testid="leases-empty">No leases.</p>'}</div>
      <div class="card"><h2>Ports</h2>${ports.length ? table(['Owner', 'NIC', 'Interface', 'MAC', 'VLAN', 'Address'], ports.map((p) => `<tr><td>${esc(p.owner)}</td><td>${esc(p.nicId)}</td><td>${esc(p.hostInterface)}</td><td>${esc(p.macAddress)}</td><td>${esc(p.vlanTag ?? '')}</td><td>${esc(p.ipv4Address ?? '')}</td></tr>`)) : '<p>No VM or container NICs attached.</p>'}</div>
      <div class="card"><h2>Firewall counters</h2>${counters.length ? table(['Scope', 'Rule', 'Packets', 'Bytes'], counters.map((c) => `<tr><td class="wrap">${esc(c.scope)}</td><td class="wrap">${esc(c.handle)}</td><td>${c.packets}</td><td>${c.bytes}</td></tr>`)) : '<p data-testid="counters-empty">No firewall rules in force.</p>'}</div>`;
    document.getElementById('apply').onclick = async () => {
      try {
        await api(`${path}/apply`, { method: 'POST' });
        await networkPage(name);
      } catch (error) { showError(document.getElementById('message'), error); }
    };
    document.getElementById('delete').onclick = async () => {
      try {
        if (!confirm(`Delete network ${name}?`)) return;
        await api(path, { method: 'DELETE' });
        location.hash = '#/networks';
      } catch (error) { showError(document.getElementById('message'), error); }
    };
  }

  async function hostNetworkPage() {
    const [inventory, drift] = await Promise.all([api('/host/network'), api('/host/network/drift')]);
    main.innerHTML = `<h1>Host network</h1>
      <div class="card"><h2>Drift</h2>${drift.length ? table(['Network', 'Object', 'Expected', 'Actual'], drift.map((d) => `<tr><td>${esc(d.network)}</td><td class="wrap">${esc(d.object)}</td><td class="wrap">${esc(d.expected)}</td><td class="wrap">${esc(d.actual)}</td></tr>`)) : '<p data-testid="drift-empty">None: the host matches every applied network.</p>'}</div>
      <div class="card"><h2>Links</h2>${table(['Link', 'Kind', 'MAC', 'MTU', 'State', 'Master', 'Alias'], inventory.links.map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.kind ?? 'device')}</td><td>${esc(l.macAddress ?? '')}</td><td>${l.mtu}</td><td>${l.up ? 'up' : 'down'}</td><td>${esc(l.master ?? '')}</td><td class="wrap">${esc(l.alias ?? '')}</td></tr>`))}</div>
      <div class="card"><h2>Addresses</h2>${table(['Link', 'Address'], inventory.addresses.map((a) => `<tr><td>${esc(a.link)}</td><td>${esc(a.cidr)}</td></tr>`))}</div>
      <div class="card"><h2>Routes</h2>${table(['Destination', 'Gateway', 'Link'], inventory.routes.map((r) => `<tr><td>${esc(r.destination)}</td><td>${esc(r.gateway ?? '')}</td><td>${esc(r.link ?? '')}</td></tr>`))}</div>
      <div class="card"><h2>Bridges</h2>${table(['Bridge', 'Ports', 'VLAN filtering'], inventory.bridges.map((b) => `<tr><td>${esc(b.name)}</td><td class="wrap">${esc(b.ports.join(', '))}</td><td>${b.vlanFiltering ? 'yes' : 'no'}</td></tr>`))}</div>`;
  }

  return { networksPage, networkPage, hostNetworkPage };
}
