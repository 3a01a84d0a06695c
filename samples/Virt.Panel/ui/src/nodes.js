// The cluster's nodes (Panel:Etcd): each node's state, lease, what it offers and how many guests it owns, and the
// maintenance switch (nothing is placed on a node in maintenance; its running guests stay where they are).

const mib = (bytes) => `${Math.round(bytes / 1048576)} MiB`;

export function nodePages({ api, esc, table, showError, main }) {
  async function nodesPage() {
    const cluster = await api('/cluster/nodes');
    main.innerHTML = `<h1>Cluster nodes</h1><div class="card">
      <p data-testid="cluster-self">This panel is node <strong>${esc(cluster.self)}</strong>${cluster.holdsLease ? '' : ' <span class="error">(no valid lease: it may start no clustered guest)</span>'}.</p>
      ${cluster.nodes.length ? table(['Node', 'State', 'Lease left', 'CPUs', 'Free memory', 'Networks', 'Pools', 'QEMU', 'Guests', ''], cluster.nodes.map(({ node, guests }) => `<tr>
        <td>${esc(node.name)}</td><td data-testid="node-state-${esc(node.name)}">${esc(node.state)}</td>
        <td>${node.leaseRemaining ? esc(node.leaseRemaining.split('.')[0]) : '-'}</td>
        <td>${esc(node.capacity?.cpus ?? '-')}</td><td>${node.capacity ? `${mib(node.capacity.freeMemoryBytes)} / ${mib(node.capacity.memoryBytes)}` : '-'}</td>
        <td class="wrap">${esc(node.capacity?.networks?.join(', ') ?? '-')}</td><td class="wrap">${esc(node.capacity?.pools?.join(', ') ?? '-')}</td>
        <td>${esc(node.capacity?.qemuVersion ?? '-')}</td><td>${guests}</td>
        <td><button data-node="${esc(node.name)}" data-maintenance="${node.maintenance ? 'false' : 'true'}" data-testid="maintenance-${esc(node.name)}">${node.maintenance ? 'Return to service' : 'Maintenance'}</button></td></tr>`))
        : '<p>No nodes.</p>'}
      <div id="node-error"></div></div>`;
    for (const button of main.querySelectorAll('button[data-node]')) {
      button.onclick = async () => {
        try {
          await api(`/cluster/nodes/${encodeURIComponent(button.dataset.node)}/maintenance`, { method: 'POST', body: { maintenance: button.dataset.maintenance === 'true' } });
          await nodesPage();
        } catch (error) { showError(main.querySelector('#node-error'), error); }
      };
    }
  }

  return { nodesPage };
}
