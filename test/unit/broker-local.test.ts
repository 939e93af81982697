/** The in-process Broker and Presence of a single node, against the contracts every implementation passes. */
import { LocalPresence } from '../../src/broker/local-presence.js';
import { LocalBroker } from '../../src/broker/local.js';
import { runBrokerContract } from '../broker-contract.js';
import { runPresenceContract } from '../presence-contract.js';

runBrokerContract(
  'LocalBroker',
  async () => {
    const broker = new LocalBroker();
    return { brokers: [broker], cleanup: () => broker.close() };
  },
  { nodes: 1 },
);

runPresenceContract(
  'LocalPresence',
  async () => {
    const presence = new LocalPresence('test');
    return { presences: [presence], cleanup: () => presence.close() };
  },
  { nodes: 1 },
);
