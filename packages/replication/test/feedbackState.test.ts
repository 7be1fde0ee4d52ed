import { encodeReplicationToBytes, Lsn, readXLogDataPositions } from "@pgcdc/protocol"
import { Result } from "effect"
import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import * as Feedback from "../src/internal/feedbackState.ts"
import { ReceivedBatch } from "../src/internal/sessionReader.ts"

const L = (n: number | bigint): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))

const ok = (r: Result.Result<Feedback.FeedbackState, Feedback.CommitBeyondReceived>): Feedback.FeedbackState => {
  assert.isTrue(Result.isSuccess(r))
  return Result.getOrThrow(r)
}

/** Records an XLogData with these positions in `batch`, through the header bytes as the reader reads them. */
const dataOf = (batch: ReceivedBatch, walStart: Lsn.Lsn, walEnd: Lsn.Lsn): void => {
  const header = encodeReplicationToBytes({
    _tag: "XLogData",
    walStart,
    walEnd,
    serverTime: 0n,
    data: new Uint8Array(0)
  })
  const words = new Uint32Array(4)
  readXLogDataPositions(header, 0, words, 0)
  batch.data(words, 0)
}

describe("Feedback", () => {
  it("reports the committed LSN, not the server's walEnd, while received changes are uncommitted", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(110), L(110), true) // Begin
    s = Feedback.onData(s, L(120), L(120), true) // Insert
    s = Feedback.onData(s, L(130), L(130), false) // Commit
    s = Feedback.onKeepalive(s, L(500))
    const [pos] = Feedback.nextStatus(s)
    assert.strictEqual(pos.flushed, L(100))
    assert.strictEqual(pos.applied, L(100))
    assert.strictEqual(pos.written, L(130))
    assert.strictEqual(Feedback.lagBytes(s), 400n)
  })

  it("reports a committed LSN as soon as it is committed", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(110), L(110), true)
    s = Feedback.onData(s, L(130), L(130), false)
    s = ok(Feedback.commit(s, L(110)))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(110))
  })

  it("advances to a later keepalive's walEnd when everything received is committed and no transaction is open", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(110), L(110), true)
    s = Feedback.onData(s, L(130), L(130), false)
    s = ok(Feedback.commit(s, L(130)))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(130))
    s = Feedback.onKeepalive(s, L(900))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(900))
    assert.strictEqual(Feedback.lagBytes(s), 0n)
  })

  it("an idle slot with nothing received advances with keepalives", () => {
    const s = Feedback.onKeepalive(Feedback.initial(L(100)), L(200))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(200))
  })

  it("does not advance to walEnd inside an open transaction even if its last change is committed", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(110), L(110), true)
    s = ok(Feedback.commit(s, L(110)))
    s = Feedback.onKeepalive(s, L(900))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(110))
  })

  it("a keepalive before the last data message does not count", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onKeepalive(s, L(300))
    s = Feedback.onData(s, L(310), L(310), false)
    s = ok(Feedback.commit(s, L(310)))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(310))
  })

  it("a session restarted past the last commit does not advance while what was handed out is uncommitted", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(110), L(110), true)
    s = Feedback.onData(s, L(130), L(130), false) // a whole transaction, handed to the consumer, not committed
    // The connection drops; the new session starts at the end of that transaction, not at the commit (100).
    s = Feedback.onSessionStart(s, L(130))
    s = Feedback.onKeepalive(s, L(500))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(100))
    s = ok(Feedback.commit(s, L(130)))
    s = Feedback.onKeepalive(s, L(600))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(600))
  })

  it("commit is monotonic and refuses an LSN beyond what was received", () => {
    let s = Feedback.initial(L(100))
    s = Feedback.onData(s, L(150), L(150), false)
    s = ok(Feedback.commit(s, L(150)))
    s = ok(Feedback.commit(s, L(120)))
    assert.strictEqual(s.committed, L(150))
    const r = Feedback.commit(s, L(151))
    assert.isTrue(Result.isFailure(r))
    assert.deepStrictEqual(Result.isFailure(r) ? r.failure : undefined, {
      _tag: "CommitBeyondReceived",
      lsn: L(151),
      received: L(150)
    })
  })

  type Event =
    | { readonly _tag: "data"; readonly step: number; readonly open: boolean }
    | { readonly _tag: "keepalive"; readonly step: number }
    | { readonly _tag: "commit"; readonly back: number }
    | { readonly _tag: "status" }

  const event: fc.Arbitrary<Event> = fc.oneof(
    fc.record({ _tag: fc.constant("data" as const), step: fc.integer({ min: 0, max: 50 }), open: fc.boolean() }),
    fc.record({ _tag: fc.constant("keepalive" as const), step: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ _tag: fc.constant("commit" as const), back: fc.integer({ min: 0, max: 3 }) }),
    fc.constant({ _tag: "status" as const })
  )

  it("property: every flush position is a committed LSN or a keepalive walEnd seen while all was committed; monotonic", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), (events) => {
        let s = Feedback.initial(L(1000))
        let head = 1000n
        const dataLsns: Array<bigint> = [1000n]
        const allowed = new Set<bigint>([1000n])
        let last = s.flushed
        let open = false
        let committed = 1000n
        const keepalivesSinceData: Array<bigint> = []
        for (const e of events) {
          switch (e._tag) {
            case "data":
              head += BigInt(e.step)
              dataLsns.push(head)
              open = e.open
              keepalivesSinceData.length = 0
              s = Feedback.onData(s, L(head), L(head), e.open)
              break
            case "keepalive": {
              head += BigInt(e.step)
              s = Feedback.onKeepalive(s, L(head))
              keepalivesSinceData.push(head)
              break
            }
            case "commit": {
              const lsn = dataLsns[Math.max(0, dataLsns.length - 1 - e.back)]!
              s = ok(Feedback.commit(s, L(lsn)))
              allowed.add(lsn)
              committed = lsn > committed ? lsn : committed
              break
            }
            case "status": {
              // Model: a keepalive walEnd that followed the last data is allowed once nothing is open or uncommitted.
              if (!open && committed >= dataLsns[dataLsns.length - 1]!)
                for (const k of keepalivesSinceData) allowed.add(k)
              const [pos, next] = Feedback.nextStatus(s)
              assert.isTrue(pos.flushed >= last, "flush never moves backwards")
              assert.isTrue(allowed.has(pos.flushed), `flush ${pos.flushed} was never committed nor idle walEnd`)
              // Never beyond the committed LSN while received data is uncommitted.
              if (open || committed < dataLsns[dataLsns.length - 1]!) {
                assert.isTrue(pos.flushed <= (committed > last ? committed : last))
              }
              assert.isTrue(pos.written >= pos.flushed)
              last = pos.flushed
              s = next
              break
            }
          }
        }
      }),
      { numRuns: 500 }
    )
  })

  it("property: once everything is committed and a keepalive follows, the flush reaches its walEnd", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.boolean())),
        fc.integer({ min: 0, max: 100 }),
        (data, gap) => {
          let s = Feedback.initial(L(1))
          let head = 1n
          for (const [step, open] of data) {
            head += BigInt(step)
            s = Feedback.onData(s, L(head), L(head), open)
          }
          s = Feedback.onData(s, L(head + 1n), L(head + 1n), false)
          s = ok(Feedback.commit(s, L(head + 1n)))
          s = Feedback.onKeepalive(s, L(head + 1n + BigInt(gap)))
          assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(head + 1n + BigInt(gap)))
        }
      )
    )
  })

  it("property: received by BatchUpdate, then decoded by onDecoded, gives the same state as onData/onKeepalive", () => {
    type Event =
      | { readonly kind: "data"; readonly walStart: number; readonly walEnd: number; readonly open: boolean }
      | { readonly kind: "keepalive"; readonly walEnd: number }
    const event: fc.Arbitrary<Event> = fc.oneof(
      fc.record({
        kind: fc.constant("data" as const),
        // 0 stands for a Relation/Type message's 0/0 position.
        walStart: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
        walEnd: fc.integer({ min: 0, max: 1000 }),
        open: fc.boolean()
      }),
      fc.record({ kind: fc.constant("keepalive" as const), walEnd: fc.integer({ min: 0, max: 1000 }) })
    )
    const update = new ReceivedBatch()
    fc.assert(
      fc.property(
        fc.array(fc.array(event, { maxLength: 8 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 500 }),
        (batches, start) => {
          let oneByOne = Feedback.initial(L(start))
          let twoSteps = oneByOne
          for (const batch of batches) {
            update.reset()
            let lastData: Lsn.Lsn | undefined
            let open: boolean | undefined
            for (const e of batch) {
              if (e.kind === "data") {
                oneByOne = Feedback.onData(oneByOne, L(e.walStart), L(e.walEnd), e.open)
                dataOf(update, L(e.walStart), L(e.walEnd))
                if (e.walStart !== 0) lastData = L(e.walStart)
                open = e.open
              } else {
                oneByOne = Feedback.onKeepalive(oneByOne, L(e.walEnd))
                update.keepalive(L(e.walEnd))
              }
            }
            assert.strictEqual(update.isEmpty, batch.length === 0)
            twoSteps = update.apply(twoSteps, open === undefined ? 0 : 1)
            if (open !== undefined) {
              assert.strictEqual(twoSteps.undecoded, 1)
              assert.isFalse(Feedback.allCommitted(twoSteps), "nothing is all committed while data is undecoded")
              twoSteps = Feedback.onDecoded(twoSteps, lastData, open)
            }
            assert.deepStrictEqual(twoSteps, oneByOne)
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("property: the positions read from XLogData headers give back the header's LSNs over the whole 64-bit range", () => {
    const lsn = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 0n, max: 2n ** 40n }),
      fc.constantFrom(0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n)
    )
    fc.assert(
      fc.property(lsn, lsn, fc.nat({ max: 4 }), (walStart, walEnd, at) => {
        const header = encodeReplicationToBytes({
          _tag: "XLogData",
          walStart: L(walStart),
          walEnd: L(walEnd),
          serverTime: 0n,
          data: new Uint8Array(0)
        })
        const bytes = new Uint8Array(at + header.length).fill(0xff)
        bytes.set(header, at)
        const words = new Uint32Array(8)
        readXLogDataPositions(bytes, at, words, 4)
        assert.strictEqual(Lsn.fromWords(words[4]!, words[5]!), L(walStart))
        assert.strictEqual(Lsn.fromWords(words[6]!, words[7]!), L(walEnd))
        // The batch compares words as the LSNs they make: what it received is the higher of the two.
        const batch = new ReceivedBatch()
        batch.data(words, 4)
        const s = batch.apply(Feedback.initial(Lsn.zero), 1)
        assert.strictEqual(s.received, Lsn.max(L(walStart), L(walEnd)))
        assert.strictEqual(s.serverWalEnd, L(walEnd))
      }),
      { numRuns: 2000 }
    )
  })

  it("a keepalive after data the consumer has not decoded yet does not advance the flush position", () => {
    let s = Feedback.initial(L(100))
    s = ok(Feedback.commit(s, L(100)))
    const update = new ReceivedBatch()
    dataOf(update, L(110), L(110))
    update.keepalive(L(500))
    s = update.apply(s, 1)
    // Received, committed up to the start, idle keepalive after the data: but the data is not decoded (nor seen).
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(100))
    // Decoded: a transaction is open, still nothing to advance.
    s = Feedback.onDecoded(s, L(110), true)
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(100))
    // Its commit decoded and committed by the user: now the later keepalive's walEnd may be reported.
    update.reset()
    dataOf(update, L(120), L(120))
    update.keepalive(L(600))
    s = update.apply(s, 1)
    s = Feedback.onDecoded(s, L(120), false)
    s = ok(Feedback.commit(s, L(120)))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(600))
  })

  it("a hidden message outside a transaction (a heartbeat) is passed once what came before it is committed", () => {
    let s = Feedback.initial(L(100))
    const update = new ReceivedBatch()
    dataOf(update, L(110), L(110))
    dataOf(update, L(120), L(120))
    dataOf(update, L(130), L(130))
    s = update.apply(s, 1)
    // A transaction ending at 120 was handed out; the heartbeat at 130 was not: it is passable, not data.
    s = Feedback.onDecoded(s, L(120), false, L(130))
    // The consumer has not committed the transaction: the heartbeat cannot be reported past it.
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(100))
    s = ok(Feedback.commit(s, L(120)))
    assert.strictEqual(Feedback.nextStatus(s)[0].flushed, L(130))
    // Without a passable position, only the commit is reported.
    let plain = update.apply(Feedback.initial(L(100)), 1)
    plain = Feedback.onDecoded(plain, L(120), false)
    plain = ok(Feedback.commit(plain, L(120)))
    assert.strictEqual(Feedback.nextStatus(plain)[0].flushed, L(120))
  })
})
