// Xen Orchestra's XAPI connector (npm xen-api) against a simulated host, as XO itself uses it:
// connect (login, pool, system.listMethods, event.inject, every get_all_records, event.from),
// see a change through its event loop, callAsync, then move a VHD with getResource('/export_raw_vdi/')
// and putResource('/import_raw_vdi/'). One JSON object per line on stdout; the C# test reads them.
//
// Environment: XAPI_URL, XAPI_USER, XAPI_PASSWORD, VM_NAME (a VM to watch), SOURCE_VDI, TARGET_VDI, WORK_DIR.
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createClient } from 'xen-api'

const env = name => {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`missing ${name}`)
  return value
}

const report = fields => process.stdout.write(JSON.stringify(fields) + '\n')

const waitFor = async (what, predicate, timeoutMs = 30000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const objectsOfType = (xapi, type) => Object.values(xapi.objects.all).filter(o => o.$type === type)

const main = async () => {
  const xapi = createClient({
    url: env('XAPI_URL'),
    auth: { user: env('XAPI_USER'), password: env('XAPI_PASSWORD') },
    allowUnauthorized: true,
    debounce: 50,
  })
  await xapi.connect()
  await xapi.objectsFetched
  report({
    step: 'connect',
    status: xapi.status,
    pool: xapi.pool.$ref,
    types: objectsOfType(xapi, 'pool').length + objectsOfType(xapi, 'host').length,
    vms: objectsOfType(xapi, 'VM').length,
    cached: Object.keys(xapi.objects.all).length,
  })

  // The event loop (event.from from event.inject's token) brings a change made by a call.
  const vm = objectsOfType(xapi, 'VM').find(o => o.name_label === env('VM_NAME'))
  if (vm === undefined) throw new Error('VM not in the cache')
  const marker = `seen-by-xo-${Date.now()}`
  await xapi.call('VM.set_name_description', vm.$ref, marker)
  const updated = await waitFor('the VM update', () => objectsOfType(xapi, 'VM').find(o => o.$ref === vm.$ref && o.name_description === marker))
  report({ step: 'event', vm: vm.$ref, name_description: updated.name_description })

  // callAsync: Async.VM.snapshot, the task watched through events, its XML-RPC result decoded.
  const snapshot = await xapi.callAsync('VM.snapshot', vm.$ref, 'xo-conformance snapshot')
  const snapshotRecord = await waitFor('the snapshot record', () => xapi.objects.all[snapshot] ?? objectsOfType(xapi, 'VM').find(o => o.$ref === snapshot))
  report({ step: 'callAsync', result: snapshot, is_a_snapshot: snapshotRecord.is_a_snapshot, snapshot_of: snapshotRecord.snapshot_of })

  // getResource on XO's own path (with the trailing slash), with a task.
  const file = join(env('WORK_DIR'), 'xo-export.vhd')
  const exported = await xapi.getResource('/export_raw_vdi/', {
    query: { vdi: env('SOURCE_VDI'), format: 'vhd' },
    task: true,
  })
  const headers = exported.headers
  // The body is drained in flowing mode, never left waiting: undici 6 (xen-api's HTTP client)
  // crashes with assert(!this.paused) when a close-delimited body ends while its parser is
  // paused by backpressure (nodejs/undici#5360, fixed in 7.x only). Real xapi's exports end at
  // close too, so XO meets the same on real hosts.
  const chunks = []
  await new Promise((resolve, reject) => {
    exported.body.on('data', chunk => chunks.push(chunk))
    exported.body.on('end', resolve)
    exported.body.on('error', reject)
  })
  await pipeline(async function* () {
    yield* chunks
  }, createWriteStream(file))
  await exported.task
  const { size } = await stat(file)
  report({
    step: 'getResource',
    statusCode: exported.statusCode,
    transferEncoding: headers['transfer-encoding'] ?? null,
    contentLength: headers['content-length'] ?? null,
    bytes: size,
  })

  // putResource: a stream with its length, as XO sends VHDs (it probes for a redirect first).
  const body = createReadStream(file)
  body.length = size
  const imported = await xapi.putResource(body, '/import_raw_vdi/', {
    query: { vdi: env('TARGET_VDI'), format: 'vhd' },
    task: true,
  })
  report({ step: 'putResource', result: imported ?? null })

  await xapi.disconnect()
  report({ step: 'done' })
}

main().then(
  () => process.exit(0),
  error => {
    report({ step: 'error', message: String(error?.message ?? error), code: error?.code ?? null, params: error?.params ?? null })
    process.exit(1)
  }
)
