import CRecSysPlugin
import PluginAPI
import XCTest

/// The plugin helper kit against plain loops: LinearLayer.forward (the GEMM and the one-row GEMV
/// path, ReLU placement), Arena slicing, the caller-memory catalog rows, LayerCount, ItemTable.
final class HelperKitTests: XCTestCase {
  /// y = W x + b, then ReLU, in float64.
  private func reference(_ w: [Float], _ b: [Float], _ x: [Float], inputs: Int, relu: Bool) -> [Float] {
    (0..<b.count).map { o in
      var sum = Double(b[o])
      for i in 0..<inputs { sum += Double(w[o * inputs + i]) * Double(x[i]) }
      return Float(relu ? max(sum, 0) : sum)
    }
  }

  func testLinearStackForwardMatchesLoopsForOneAndManyRows() throws {
    // Two layers 3 -> 4 -> 2; ReLU after the first only (unless reluAfterLast).
    let w1: [Float] = [0.5, -1, 2, 1, 1, -1, -0.3, 0.2, 0.1, 0, -2, 1]
    let b1: [Float] = [0.1, -0.2, 0.3, -4]
    let w2: [Float] = [1, -1, 0.5, 2, -0.5, 0.25, 1, -1]
    let b2: [Float] = [0.05, -0.1]
    let inputs: [[Float]] = [[1, 2, 3], [-1, 0.5, 0], [0, 0, -2]]
    for rows in [1, 3] {
      for reluAfterLast in [false, true] {
        let expected = inputs.prefix(rows).flatMap { x in
          reference(w2, b2, reference(w1, b1, x, inputs: 3, relu: true), inputs: 4, relu: reluAfterLast)
        }
        let got: [Float] = try w1.withUnsafeBufferPointer { w1 in
          try b1.withUnsafeBufferPointer { b1 in
            try w2.withUnsafeBufferPointer { w2 in
              try b2.withUnsafeBufferPointer { b2 in
                let layers = [LinearLayer(weight: w1, bias: b1, inputs: 3, outputs: 4),
                              LinearLayer(weight: w2, bias: b2, inputs: 4, outputs: 2)]
                return try Arena.with(floats: 2 * rows * 4) { arena in
                  let activations = arena.floats(rows * 4)
                  let next = arena.floats(rows * 4)
                  for r in 0..<rows { for i in 0..<3 { activations[r * 3 + i] = inputs[r][i] } }
                  let output = try LinearLayer.forward(
                    layers[...], rows: rows, activations: activations, next: next, reluAfterLast: reluAfterLast)
                  return Array(output[0..<rows * 2])
                }
              }
            }
          }
        }
        for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-5, "rows \(rows), relu \(reluAfterLast)") }
        XCTAssertEqual(got.count, expected.count)
      }
    }
  }

  func testForwardStopsWhenCancelled() {
    let w: [Float] = [1]
    let b: [Float] = [0]
    var thrown: Error?
    w.withUnsafeBufferPointer { w in
      b.withUnsafeBufferPointer { b in
        var arena = Arena(floats: 2)
        defer { arena.free() }
        let activations = arena.floats(1)
        let next = arena.floats(1)
        do {
          _ = try LinearLayer.forward(
            [LinearLayer(weight: w, bias: b, inputs: 1, outputs: 1)][...], rows: 1, activations: activations,
            next: next, isCancelled: { true })
        } catch { thrown = error }
      }
    }
    XCTAssertEqual((thrown as? ModelError)?.code, RECSYS_CANCELLED)
  }

  func testColumnsStartAtTheColumn() {
    let w: [Float] = [0, 1, 2, 3, 4, 5]  // [2 x 3]
    w.withUnsafeBufferPointer { w in
      let layer = LinearLayer(weight: w, bias: UnsafeBufferPointer(start: nil, count: 0), inputs: 3, outputs: 2)
      XCTAssertEqual(Array(layer.columns(from: 1)), [1, 2, 3, 4, 5])
      XCTAssertEqual(Array(layer.columns(from: 7)), [])
    }
  }

  func testArenaSlicesAreConsecutiveAndDisjoint() {
    Arena.with(floats: 5, ints: 3) { arena in
      let a = arena.floats(2)
      let b = arena.floats(3)
      let i = arena.ints(3)
      XCTAssertEqual(a.baseAddress! + 2, b.baseAddress!)
      XCTAssertEqual(UnsafeRawPointer(b.baseAddress! + 3), UnsafeRawPointer(i.baseAddress!))
      a.update(repeating: 1)
      b.update(repeating: 2)
      i.update(repeating: 7)
      XCTAssertEqual(Array(a) + Array(b), [1, 1, 2, 2, 2])
      XCTAssertEqual(Array(i), [7, 7, 7])
    }
  }

  func testCallerMemoryRowsMatchTheArrayForms() throws {
    let ids: [Int64] = [10, 20, 30, 40, 50]
    let history: [Int64] = [20, 99, 40, 10, 77, 50, 30]
    let types = [Int32](repeating: 1, count: history.count)
    let candidates: [Int64] = [50, 98, 10, 97]
    try ids.withUnsafeBufferPointer { idBuffer in
      let catalog = try Catalog(itemIDs: idBuffer)
      history.withUnsafeBufferPointer { h in
        types.withUnsafeBufferPointer { t in
          candidates.withUnsafeBufferPointer { c in
            var raw = recsys_request()
            raw.history_item_ids = h.baseAddress
            raw.history_types = t.baseAddress
            raw.history_count = h.count
            raw.candidate_item_ids = c.baseAddress
            raw.candidate_count = c.count
            let request = Request(raw)
            for maxLength in [1, 3, 5, 100] {
              var rows = [Int32](repeating: -1, count: min(history.count, maxLength))
              let kept = rows.withUnsafeMutableBufferPointer {
                Array(catalog.historyRows(request, maxLength: maxLength, into: $0))
              }
              XCTAssertEqual(kept, catalog.historyRows(request, maxLength: maxLength), "maxLength \(maxLength)")
            }
            var unknown = [Int64](repeating: 0, count: 4)
            var resultRaw = recsys_result()
            unknown.withUnsafeMutableBufferPointer { unknownBuffer in
              resultRaw.unknown_item_ids = unknownBuffer.baseAddress
              withUnsafeMutablePointer(to: &resultRaw) { pointer in
                var result = Recommendations(pointer)
                var rows = [Int32](repeating: -1, count: 4)
                let known = rows.withUnsafeMutableBufferPointer {
                  catalog.candidateRows(request, into: $0, reportingUnknownTo: &result)
                }
                XCTAssertEqual(Array(rows[0..<known]), [4, 0])
                XCTAssertEqual(result.count, 0)
              }
            }
            XCTAssertEqual(Array(unknown[0..<resultRaw.unknown_count]), [98, 97])
          }
        }
      }
    }
  }

  func testItemTableRefusesTablesAboveTheLimit() throws {
    XCTAssertEqual(try ItemTable(rows: 3, width: 2, what: "t", smaller: "less").values.count, 6)
    XCTAssertThrowsError(try ItemTable(rows: 1 << 20, width: 1 << 9, what: "the table", smaller: "less")) { error in
      XCTAssertTrue("\(error)".contains("the table need N x width = 1048576 x 512"), "\(error)")
    }
    XCTAssertThrowsError(try ItemTable(rows: Int.max, width: 2, what: "t", smaller: "less"))
  }
}
