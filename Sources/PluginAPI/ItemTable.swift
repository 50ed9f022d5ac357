/// A per-item table a kind computes once at load from its weights ([N x width] float32: dqn's item
/// advantages, two_tower's item-tower outputs), owned by the model instance. N and the width both
/// come from the file, so their product is bounded before anything is allocated: a small file with
/// a huge catalog and width cannot ask for terabytes (or overflow).
public final class ItemTable: @unchecked Sendable {
  /// 1 GiB of float32.
  public static let maximumCells = 1 << 28

  public let values: UnsafeMutableBufferPointer<Float>  // [rows x width], uninitialised until filled
  public let rows: Int
  public let width: Int

  /// `what` names the table in the refusal ("the precomputed item advantages"), `smaller` says
  /// what to shrink ("a smaller catalog or adv hidden size").
  public init(rows: Int, width: Int, what: String, smaller: String) throws {
    let (cells, overflow) = rows.multipliedReportingOverflow(by: width)
    guard !overflow, cells <= Self.maximumCells else {
      throw ModelError.invalidArgument(
        "\(what) need N x width = \(rows) x \(width) floats, above the limit of "
          + "\(Self.maximumCells) (1 GiB); use \(smaller)")
    }
    values = .allocate(capacity: max(cells, 1))
    self.rows = rows
    self.width = width
  }

  deinit { values.deallocate() }
}
