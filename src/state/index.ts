export type { DotRange } from './context.js'
export {
  compareReplicas,
  type Element,
  Entry,
  Registration,
  type ReleaseWhenAlone,
  type Replica,
  refOf,
  replicaOf,
} from './elements.js'
export {
  type Changes,
  type EntryData,
  type NameData,
  ReplicatedSet,
  type ReplicatedSetOptions,
  type SectionData,
  STANDALONE_PREFIX,
  TopicView,
} from './set.js'
