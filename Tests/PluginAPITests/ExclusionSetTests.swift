import CRecSysPlugin
import PluginAPI
import XCTest

/// ExclusionSet: history rows (only under exclude_history) and sorted id sets, tested by row.
final class ExclusionSetTests: XCTestCase {
  func testHistoryAndItemSetsExcludeTheirRowsOnly() throws {
    let ids: [Int64] = [10, 20, 30, 40, 50, 60]
    let history: [Int64] = [20, 20, 999]  // repeats and unknown items are fine
    let types = [Int32](repeating: 0, count: history.count)
    let first: [Int64] = [-5, 40]
    let second: [Int64] = [60, 70]
    try ids.withUnsafeBufferPointer { idBuffer in
      let catalog = try Catalog(itemIDs: idBuffer)
      history.withUnsafeBufferPointer { h in
        types.withUnsafeBufferPointer { t in
          first.withUnsafeBufferPointer { a in
            second.withUnsafeBufferPointer { b in
              let sets = [recsys_item_set(item_ids: a.baseAddress, count: a.count),
                          recsys_item_set(item_ids: b.baseAddress, count: b.count)]
              sets.withUnsafeBufferPointer { setBuffer in
                for excludeHistory in [false, true] {
                  var raw = recsys_request()
                  raw.history_item_ids = h.baseAddress
                  raw.history_types = t.baseAddress
                  raw.history_count = h.count
                  raw.exclude_history = excludeHistory ? 1 : 0
                  raw.excluded_sets = setBuffer.baseAddress
                  raw.excluded_set_count = setBuffer.count
                  let exclusion = ExclusionSet(Request(raw), catalog: catalog)
                  let excluded = (0..<Int32(ids.count)).filter { exclusion.excludes(row: $0) }.map { ids[Int($0)] }
                  XCTAssertEqual(excluded, excludeHistory ? [20, 40, 60] : [40, 60])
                  let candidateRows: [Int32] = [5, 0, 3, 1]
                  var positions = [Int32](repeating: -1, count: 4)
                  let count = candidateRows.withUnsafeBufferPointer { rows in
                    positions.withUnsafeMutableBufferPointer { exclusion.excludedPositions(rows: rows, into: $0) }
                  }
                  XCTAssertEqual(Array(positions[0..<count]), excludeHistory ? [0, 2, 3] : [0, 2])
                }
                var empty = recsys_request()
                empty.history_count = 0
                XCTAssertTrue(ExclusionSet(Request(empty), catalog: catalog).isEmpty)
              }
            }
          }
        }
      }
    }
  }
}
