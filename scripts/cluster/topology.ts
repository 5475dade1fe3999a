/**
 * The hosts of the cluster harness: Linux network namespaces joined by veth links to a bridge in a namespace of
 * their own (the switch), on a private subnet. Nothing is added to the machine's own namespace.
 */

/** Every namespace, cluster directory and process of the harness carries this prefix and the run's pid. */
export const PREFIX = 'taskd-c-';
export const SUBNET = '10.231.0';

export type HostName = 'pg' | 't1' | 't2' | 't3' | 'load';

export const HOSTS: { name: HostName; ip: string }[] = [
  { name: 'pg', ip: `${SUBNET}.1` },
  { name: 't1', ip: `${SUBNET}.11` },
  { name: 't2', ip: `${SUBNET}.12` },
  { name: 't3', ip: `${SUBNET}.13` },
  { name: 'load', ip: `${SUBNET}.100` },
];

export const TASKD_HOSTS: HostName[] = ['t1', 't2', 't3'];
export const PG_PORT = 5432;
export const TASKD_PORT = 8080;

export function ipOf(host: HostName): string {
  const h = HOSTS.find((x) => x.name === host);
  if (!h) throw new Error(`no host ${host}`);
  return h.ip;
}

/** Namespace names of one run. */
export function namespaces(runId: number): Record<HostName | 'sw', string> {
  const ns = (s: string) => `${PREFIX}${runId}-${s}`;
  return { sw: ns('sw'), pg: ns('pg'), t1: ns('t1'), t2: ns('t2'), t3: ns('t3'), load: ns('load') };
}

/** The switch-side end of a host's link (interface names are at most 15 characters). */
export const switchPort = (host: HostName): string => `vh-${host}`;
