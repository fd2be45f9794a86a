import { MemoryNetwork } from '../../src/testing/network.js'
import { describeTransport } from './conformance.js'

describeTransport('MemoryNetwork', async () => {
  const network = new MemoryNetwork()
  const a = network.transport('a')
  const b = network.transport('b')
  return {
    a,
    b,
    cleanup: async () => {
      await Promise.all([a.close(), b.close()])
    },
  }
})

describeTransport('MemoryNetwork with faults switched on and off again', async () => {
  const network = new MemoryNetwork({ seed: 3, loss: 0.5, duplicate: 0.5, reorder: 0.5 })
  network.setFaults({ loss: 0, duplicate: 0, reorder: 0 })
  const a = network.transport('a')
  const b = network.transport('b')
  return { a, b, cleanup: () => Promise.all([a.close(), b.close()]).then(() => undefined) }
})
