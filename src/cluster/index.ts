/**
 * `rollcall/cluster`: what a Tracker needs to replicate across processes. Pass a
 * {@link Transport} as the `cluster.transport` option of `new Tracker()`; this module
 * holds the interface, the options, the wire format, and an in-memory transport.
 *
 * @packageDocumentation
 * @module rollcall/cluster
 */

export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from '../testing/network.js'
export {
  acceptsVersion,
  CODEC_LIMITS,
  type CodecLimits,
  type DecodeResult,
  decode,
  type Envelope,
  encode,
  PROTOCOL_VERSION,
  type Secret,
  SIGNATURE_BYTES,
} from './codec.js'
export { CLUSTER_DEFAULTS, type ClusterOptions, type NodeInfo } from './options.js'
export type { Transport } from './transport.js'
