// The cluster's nodes (Panel:Etcd): each node's state, lease, what it offers and how many guests it owns; the
// maintenance switch (nothing is placed on a node in maintenance; its running guests stay where they are) and the drain
// (maintenance, then the node's migration agent moves every running clustered VM to other nodes, live).

const mib = (bytes) => `${Math.round(bytes / 1048576)} MiB`;

function drainCell(esc, drain) {
  if (!drain) return '-';
  const moved = drain.moved.map((m) => `${esc(m.name)} → ${esc(m.toNode)}`).join(', ');
  const failed = drain.failures.map((f) => `<span class="error">${esc(f.name)}: ${esc(f.reason)}</span>`).join('<br>');
  return `${esc(drain.state)}${moved ? `<br>moved ${moved}` : ''}${drain.stopped.length ? `<br>stopped ${esc(drain.stopped.join(', '))}` : ''}${failed ? `<br>${failed}` : ''}`;
}

export function nodePages({ api, esc, table, showError, main }) {
  async function nodesPage() {
    const cluster = await api('/cluster/nodes');
    const draining = cluster.nodes.some(({ drain }) => drain && (drain.state === 'Requested' || drain.state === 'Running'));
    main.innerHTML = `<h1>Cluster nodes</h1><div class="card">
      <p data-testid="cluster-self">This panel is node <strong>${esc(cluster.self)}</strong>${cluster.holdsLease ? '' : ' <span class="error">(no valid lease: it may start no clustered guest)</span>'}.</p>
      ${cluster.nodes.length ? table(['Node', 'State', 'Lease left', 'CPUs', 'Free memory', 'Networks', 'Pools', 'QEMU', 'Guests', 'Drain', ''], cluster.nodes.map(({ node, guests, drain }) => `<tr>
        <td>${esc(node.name)}</td><td data-testid="node-state-${esc(node.name)}">${esc(node.state)}</td>
        <td>${node.leaseRemaining ? esc(node.leaseRemaining.split('.')[0]) : '-'}</td>
        <td>${esc(node.capacity?.cpus ?? '-')}</td><td>${node.capacity ? `${mib(node.capacity.freeMemoryBytes)} / ${mib(node.capacity.memoryBytes)}` : '-'}</td>
        <td class="wrap">${esc(node.capacity?.networks?.join(', ') ?? '-')}</td><td class="wrap">${esc(node.capacity?.pools?.join(', ') ?? '-')}</td>
        <td>${esc(node.capacity?.qemuVersion ?? '-')}</td><td>${guests}</td>
        <td class="wrap" data-testid="node-drain-${esc(node.name)}">${drainCell(esc, drain)}</td>
        <td>${node.maintenance
          ? `<button data-node="${esc(node.name)}" data-action="resume" data-testid="resume-${esc(node.name)}">Return to service</button>`
          : `<button data-node="${esc(node.name)}" data-action="maintenance" data-testid="maintenance-${esc(node.name)}">Maintenance</button>`}
          ${node.state === 'Dead' ? '' : `<button data-node="${esc(node.name)}" data-action="drain" data-testid="drain-${esc(node.name)}">Drain</button>`}</td></tr>`))
        : '<p>No nodes.</p>'}
      <div id="node-error"></div></div>`;
    for (const button of main.querySelectorAll('button[data-node]')) {
      button.onclick = async () => {
        const node = encodeURIComponent(button.dataset.node);
        try {
          if (button.dataset.action === 'drain') {
            if (!confirm(`Drain node ${button.dataset.node}? Every running clustered VM is migrated to other nodes.`)) return;
            await api(`/cluster/nodes/${node}/drain`, { method: 'POST' });
          } else if (button.dataset.action === 'resume') {
            await api(`/cluster/nodes/${node}/resume`, { method: 'POST' });
          } else {
            await api(`/cluster/nodes/${node}/maintenance`, { method: 'POST', body: { maintenance: true } });
          }
          await nodesPage();
        } catch (error) { showError(main.querySelector('#node-error'), error); }
      };
    }
    // While a drain runs, the page follows it (every 2 s, only while this page is shown).
    if (draining) {
      setTimeout(() => { if (location.hash === '#/nodes') nodesPage().catch(() => {}); }, 2000);
    }
  }

  return { nodesPage };
}
