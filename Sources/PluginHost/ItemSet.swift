import CRecSysPlugin
import Foundation
import RecSysStatus

/// A named, server-side set of item ids that requests exclude (`exclude_item_sets`), e.g.
/// "out_of_stock". Immutable: an operator's replacement is a new `ItemSet` swapped into the
/// `ItemSetRegistry`, and a call that started with the old one finishes with it.
///
/// Held as sorted, distinct int64 ids (8 bytes an item): external ids are arbitrary int64 SKUs,
/// not catalog rows, so one set serves every model and version, and a plugin tests an id by
/// binary search only for the few rows that would enter its top-k.
public final class ItemSet: Sendable {
  public let name: String
  public let itemIDs: [Int64]  // ascending, distinct
  public let generation: Int
  public let replacedAt: Date

  public init(name: String, itemIDs: [Int64], generation: Int, replacedAt: Date = Date()) {
    self.name = name
    self.itemIDs = ItemSet.sortedDistinct(itemIDs)
    self.generation = generation
    self.replacedAt = replacedAt
  }

  static func sortedDistinct(_ ids: [Int64]) -> [Int64] {
    var sorted = ids.sorted()
    var kept = 0
    for index in sorted.indices where index == 0 || sorted[index] != sorted[kept - 1] {
      sorted[kept] = sorted[index]
      kept += 1
    }
    sorted.removeLast(sorted.count - kept)
    return sorted
  }
}

/// The named item sets, replaced at run time (ModelAdmin.SetItemSet) without touching a model.
/// The lock guards only the dictionary: a call looks its sets up once, before scoring.
public final class ItemSetRegistry: @unchecked Sendable {
  /// Bytes of a set name: letters, digits, '_', '-', '.'.
  public static let maxNameBytes = 64
  /// Items of one set.
  public static let maxItems = 50_000_000

  private let lock = NSLock()
  private var sets: [String: ItemSet] = [:]

  public init() {}

  /// Replaces (or creates) the set `name` with `itemIDs`; returns the new set.
  @discardableResult
  public func replace(name: String, itemIDs: [Int64]) throws -> ItemSet {
    try Self.checkName(name)
    guard itemIDs.count <= Self.maxItems else {
      throw PluginError(code: .invalidArgument,
                        "item set \"\(name)\" has \(itemIDs.count) items; the limit is \(Self.maxItems)")
    }
    let generation = lock.withLock { (sets[name]?.generation ?? 0) + 1 }
    let set = ItemSet(name: name, itemIDs: itemIDs, generation: generation)  // sorted outside the lock
    lock.withLock {
      if let current = sets[name], current.generation >= set.generation {
        // Another replacement won the race meanwhile; the later call's set stays (last writer wins).
        sets[name] = ItemSet(name: name, itemIDs: set.itemIDs, generation: current.generation + 1)
      } else {
        sets[name] = set
      }
    }
    return lock.withLock { sets[name]! }
  }

  /// The sets a request names, in its order; an unknown name is refused with what to do.
  public func sets(named names: [String]) throws -> [ItemSet] {
    try lock.withLock {
      try names.map { name in
        guard let set = sets[name] else {
          let known = sets.keys.sorted().prefix(10).map { "\"\($0)\"" }.joined(separator: ", ")
          throw PluginError(code: .failedPrecondition,
            "exclude_item_sets names \"\(name.prefix(Self.maxNameBytes))\", which is not defined on this sidecar "
              + "(defined: \(known.isEmpty ? "none" : known)); define it with `recsysctl item-set \(name.prefix(Self.maxNameBytes)) ...` "
              + "(ModelAdmin.SetItemSet)")
        }
        return set
      }
    }
  }

  /// Every set, by name.
  public func all() -> [ItemSet] {
    lock.withLock { sets.values.sorted { $0.name < $1.name } }
  }

  static func checkName(_ name: String) throws {
    let allowed = name.utf8.allSatisfy { byte in
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || byte == 0x5F || byte == 0x2D || byte == 0x2E
    }
    guard !name.isEmpty, name.utf8.count <= maxNameBytes, allowed else {
      throw PluginError(code: .invalidArgument,
        "item set name \"\(name.prefix(maxNameBytes))\" is not allowed; use 1 to \(maxNameBytes) letters, digits, '_', '-' or '.'")
    }
  }
}

/// What one request excludes beyond its history, as the plugin ABI's sorted id sets: the
/// request's own exclude_item_ids (sorted here, once per call) and the named sets it asks for.
public struct ItemExclusions: Sendable {
  public let requestItemIDs: [Int64]  // ascending, distinct
  public let namedSets: [ItemSet]

  public init(requestItemIDs: UnsafeBufferPointer<Int64>, namedSets: [ItemSet]) {
    self.requestItemIDs = requestItemIDs.isEmpty ? [] : ItemSet.sortedDistinct(Array(requestItemIDs))
    self.namedSets = namedSets
  }

  /// Nothing excluded.
  public static let none = ItemExclusions(requestItemIDs: UnsafeBufferPointer(start: nil, count: 0), namedSets: [])

  public var isEmpty: Bool { requestItemIDs.isEmpty && namedSets.isEmpty }

  /// The C sets (`recsys_item_set`), valid inside `body`.
  func withRaw<T>(_ body: (UnsafeBufferPointer<recsys_item_set>) throws -> T) rethrows -> T {
    if isEmpty { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
    let lists = (requestItemIDs.isEmpty ? [] : [requestItemIDs]) + namedSets.map(\.itemIDs)
    return try withUnsafeTemporaryAllocation(of: recsys_item_set.self, capacity: lists.count) { raw in
      try Self.bind(lists[...], raw, 0, body)
    }
  }

  /// Pins each list's storage while `body` runs (nested, one list at a time).
  private static func bind<T>(_ lists: ArraySlice<[Int64]>, _ raw: UnsafeMutableBufferPointer<recsys_item_set>, _ index: Int,
                              _ body: (UnsafeBufferPointer<recsys_item_set>) throws -> T) rethrows -> T {
    guard let first = lists.first else { return try body(UnsafeBufferPointer(raw)) }
    return try first.withUnsafeBufferPointer { ids in
      raw[index] = recsys_item_set(item_ids: ids.baseAddress, count: ids.count)
      return try bind(lists.dropFirst(), raw, index + 1, body)
    }
  }
}
