// Rough timings, printed (not asserted). Meaningful only with `swift test -c release`:
//   swift test -c release --scratch-path .build-kernels --filter RecSysKernelsTests.SpeedTests

import Foundation
import RecSysKernels
import XCTest

final class SpeedTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  /// Median microseconds per call over `repeats` runs.
  func time(_ repeats: Int, _ body: () -> Void) -> Double {
    body()  // warm-up
    var samples: [Double] = []
    for _ in 0..<repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      body()
      samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
    }
    return samples.sorted()[samples.count / 2]
  }

  func report(_ name: String, _ microseconds: Double) {
    print("[speed] \(name): \(String(format: "%.1f", microseconds)) µs")
  }

  func testSpeed() {
    #if DEBUG
      let repeats = 3
    #else
      let repeats = 200
    #endif
    var rng = SeededGenerator(seed: 70)
    let (n, d) = (50_000, 64)
    let table = Guarded(rng.floats(n * d)), z = Guarded(rng.floats(d)), scores = Guarded(count: n)
    report("gemv \(n)x\(d) (catalog scoring)", time(repeats) {
      Kernels.gemv(matrix: table.buffer, vector: z.buffer, output: scores.mutable, rows: n, columns: d)
    })

    let result = GuardedIndices(count: 10)
    let history = GuardedIndices((0..<50).map { Int32($0 * 997) })
    report("topK k=10 of \(n)", time(repeats) {
      _ = Kernels.topK(scores: scores.buffer, k: 10, excluding: nil, into: result.mutable)
    })
    report("topK k=10 of \(n), 50 exclusions", time(repeats) {
      _ = Kernels.topK(scores: scores.buffer, k: 10, excluding: history.buffer, into: result.mutable)
    })
    let sorted = Guarded((0..<n).map(Float.init))  // worst case: every score enters the heap
    report("topK k=10 of \(n) increasing (worst case)", time(repeats) {
      _ = Kernels.topK(scores: sorted.buffer, k: 10, excluding: nil, into: result.mutable)
    })
    report("full sort of \(n) indices (for comparison)", time(max(1, repeats / 20)) {
      let s = scores.buffer
      _ = (0..<n).sorted { s[$0] > s[$1] }
    })

    // MLP-like: 100 candidates x 136 features -> 64 -> 1.
    let x = Guarded(rng.floats(100 * 136)), w1 = Guarded(rng.floats(64 * 136)), b1 = Guarded(rng.floats(64))
    let h = Guarded(count: 100 * 64)
    report("linear 100x136 -> 64", time(repeats) {
      Kernels.linear(input: x.buffer, weight: w1.buffer, bias: b1.buffer, output: h.mutable, rows: 100, inFeatures: 136, outFeatures: 64)
    })
    report("linear 1x136 -> 64", time(repeats) {
      Kernels.linear(input: x.buffer, weight: w1.buffer, bias: b1.buffer, output: h.mutable, rows: 1, inFeatures: 136, outFeatures: 64)
    })

    // Sequence models at L = 50, d = H = 64.
    let steps = 50
    let seq = Guarded(rng.floats(steps * d)), out = Guarded(count: steps * d)
    let wIH = Guarded(rng.floats(4 * d * d, in: -0.1...0.1)), wHH = Guarded(rng.floats(4 * d * d, in: -0.1...0.1))
    let bIH = Guarded(rng.floats(4 * d)), bHH = Guarded(rng.floats(4 * d))
    let lstmScratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: d))
    report("lstmLayer T=\(steps) in=\(d) H=\(d)", time(repeats) {
      Kernels.lstmLayer(
        input: seq.buffer, weightIH: wIH.buffer, weightHH: wHH.buffer, biasIH: bIH.buffer, biasHH: bHH.buffer,
        steps: steps, inputSize: d, hidden: d, output: out.mutable, scratch: lstmScratch.mutable)
    })
    let inW = Guarded(rng.floats(3 * d * d, in: -0.1...0.1)), inB = Guarded(rng.floats(3 * d))
    let outW = Guarded(rng.floats(d * d, in: -0.1...0.1)), outB = Guarded(rng.floats(d))
    let attnScratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: d))
    report("causalSelfAttention T=\(steps) d=\(d) heads=2", time(repeats) {
      Kernels.causalSelfAttention(
        input: seq.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer, outProjWeight: outW.buffer,
        outProjBias: outB.buffer, heads: 2, steps: steps, dim: d, output: out.mutable, scratch: attnScratch.mutable)
    })
    let lnW = Guarded(rng.floats(d)), lnB = Guarded(rng.floats(d))
    report("layerNorm \(steps)x\(d)", time(repeats) {
      Kernels.layerNorm(input: seq.buffer, rows: steps, dim: d, weight: lnW.buffer, bias: lnB.buffer, output: out.mutable)
    })
    let ffn = Guarded(rng.floats(steps * 4 * d))
    report("gelu \(steps * 4 * d)", time(repeats) { Kernels.gelu(ffn.mutable) })
  }
}
