/**
 * `rollcall/testing`: run a whole cluster in one process, deterministically. A
 * {@link ManualClock} drives every timer; a {@link MemoryNetwork} carries the messages
 * and can partition, crash, drop, duplicate and reorder them.
 *
 * @packageDocumentation
 * @module rollcall/testing
 */
export {
  MANUAL_CLOCK_DEFAULTS,
  ManualClock,
  type ManualClockOptions,
  type ManualTimerHandle,
} from './clock.js'
export {
  type ChannelStats,
  MEMORY_NETWORK_DEFAULTS,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryTransport,
  type NetworkFaults,
  type NetworkStats,
} from './network.js'
export { seededRandom } from './random.js'
