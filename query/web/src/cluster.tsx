/** The cluster view: each storage node, and each partition with its holder in every replica group and how far behind the end of the logs topic it is. */
import { useEffect, useState } from 'preact/hooks';
import type { ClusterState, SiltClient } from '../../../client/src';

/** See the module comment; refreshed every 5 s. */
export function Cluster({ client }: { client: SiltClient }) {
  const [state, setState] = useState<ClusterState | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const load = (): void => {
      client.cluster().then(
        (s) => !stop && (setState(s), setError(null)),
        (err: Error) => !stop && setError(err.message),
      );
    };
    load();
    const timer = setInterval(load, 5000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [client]);
  if (error) return <main class="cluster"><div class="query-error">{error}</div></main>;
  if (state === null) return <main class="cluster"><div class="loading">Loading…</div></main>;
  const groups = [...new Set(state.nodes.map((n) => n.replicaGroup))].sort((a, b) => a - b);
  const partitions = [...new Set([...state.nodes.flatMap((n) => n.partitions.map((p) => p.partition)), ...Object.keys(state.topicEnds ?? {}).map(Number)])].sort((a, b) => a - b);
  return (
    <main class="cluster">
      <h2>Storage nodes</h2>
      <table data-testid="nodes">
        <thead>
          <tr><th>node</th><th>replica group</th><th>URL</th><th>partitions</th><th>state</th></tr>
        </thead>
        <tbody>
          {state.nodes.map((n) => (
            <tr key={n.nodeId}>
              <td>{n.nodeId}</td>
              <td>{n.replicaGroup}</td>
              <td>{n.url}</td>
              <td>{n.partitions.length}</td>
              <td>{n.partitions.some((p) => p.catchingUp) ? 'catching up' : 'caught up'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Partitions</h2>
      <table data-testid="partitions">
        <thead>
          <tr>
            <th>partition</th>
            <th>topic end</th>
            {groups.map((g) => (
              <th key={g}>group {g}: holder, lag</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {partitions.map((p) => {
            const end = state.topicEnds?.[String(p)];
            return (
              <tr key={p}>
                <td>{p}</td>
                <td>{end ?? '?'}</td>
                {groups.map((g) => {
                  const holder = state.nodes.find((n) => n.replicaGroup === g && n.partitions.some((h) => h.partition === p));
                  const h = holder?.partitions.find((x) => x.partition === p);
                  if (holder === undefined || h === undefined) return <td key={g} class="missing">none</td>;
                  const lag = end === undefined ? '?' : (BigInt(end) - BigInt(h.appliedOffset)).toString();
                  return (
                    <td key={g}>
                      {holder.nodeId}, lag {lag}
                      {h.catchingUp ? ' (catching up)' : ''}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </main>
  );
}
