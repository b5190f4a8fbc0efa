// Wires staged rollouts (src/rollout/) into an instance whose config lives in etcd: the instance's record and the
// rollout it follows (FleetMember), the controller that judges rollouts on the lock holder, and the admin API's
// side. Created with the store; joined once the admin listener has its address (the default instance id is
// <host name>:<admin port>), and left before the store closes.
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import { RolloutController } from '../rollout/controller.ts';
import { EtcdRollouts } from '../rollout/etcd-rollouts.ts';
import { FleetMember } from '../rollout/fleet-member.ts';
import { RolloutService } from '../rollout/rollout-service.ts';
import type { MetricSource } from '../rollout/window-stats.ts';
import type { AuditTrail } from '../store/audit-log.ts';
import type { EtcdVersionStore } from '../store/etcd-version-store.ts';
import type { ControlPlane, ControlStore } from './control-plane.ts';
import { STORE_CHANGE } from './control-plane.ts';

type EtcdSettings = NonNullable<SluiceConfig['store']['etcd']>;

/** This instance's metrics, one snapshot per process that serves requests (the data /metrics aggregates). */
export type MetricSnapshots = () => Promise<MetricSource[]>;

export interface Fleet {
  member: FleetMember;
  rollouts: NonNullable<ControlStore['rollouts']>;
}

export function openFleet(store: EtcdVersionStore, audit: AuditTrail, etcd: EtcdSettings, log: Logger, metrics: MetricSnapshots): Fleet {
  const rollouts = new EtcdRollouts(store.client, etcd.prefix);
  const member = new FleetMember({ client: store.client, rollouts, id: etcd.instance.id, labels: etcd.instance.labels, ttl: etcd.instance.ttl / 1000, snapshots: metrics, log });
  const controller = new RolloutController({
    rollouts,
    store,
    instanceId: () => member.instanceId,
    audit: async (entry) => {
      try {
        await audit.append(entry);
      } catch (err) {
        log.error({ err: (err as Error).message, entry }, 'cannot write the audit log');
      }
    },
    log,
  });
  member.onObserving = (observing, lease) => controller.round(observing, lease);
  return { member, rollouts: { peer: member, admin: new RolloutService(rollouts, store, controller) } };
}

/** Registers the instance and follows rollouts; returns how to leave (before the store closes). */
export async function joinFleet(fleet: Fleet | undefined, control: ControlPlane, admin: AddressInfo): Promise<() => Promise<void>> {
  if (!fleet) return async () => {};
  fleet.member.onRolloutChange = () => void control.reload(STORE_CHANGE);
  await fleet.member.start(`${admin.family === 'IPv6' ? `[${admin.address}]` : admin.address}:${admin.port}`, hostname());
  return () => fleet.member.close();
}
