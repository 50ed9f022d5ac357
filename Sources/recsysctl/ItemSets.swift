import ArgumentParser
import Foundation

extension RecsysCtl {
  /// `recsysctl item-sets`: the named item sets requests exclude (exclude_item_sets).
  struct ItemSets: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "item-sets",
      abstract: "List the named item sets requests exclude (exclude_item_sets): name, size, generation, last replaced.")
    @OptionGroup var options: AdminOptions

    func run() throws {
      let reply = try options.send("ListItemSets")
      guard !options.json else { return }
      let sets = reply["item_sets"] as? [[String: Any]] ?? []
      if sets.isEmpty { print("no item sets") }
      for set in sets { print(Self.line(set)) }
    }

    static func line(_ set: [String: Any]) -> String {
      "\(set["name"] as? String ?? "?")  items=\(integer(set["item_count"]))  generation=\(integer(set["generation"]))"
        + "  replaced_at=\(set["replaced_at"] as? String ?? "?")"
    }
  }

  /// `recsysctl item-set NAME ID...`: replaces one named item set.
  struct ItemSet: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "item-set",
      abstract: "Replace (or create) a named item set (e.g. out_of_stock) at once, without reloading any model.")
    @OptionGroup var options: AdminOptions
    @Argument(help: "The set's name (letters, digits, '_', '-', '.').") var name: String
    @Option(help: "A file of item ids, one per line or separated by spaces or commas; - reads standard input.")
    var file: String?
    @Argument(help: "Item ids (besides --file's); none and no --file empties the set.") var itemIDs: [Int64] = []

    func run() throws {
      var ids = itemIDs
      if let file {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        for (index, token) in String(decoding: data, as: UTF8.self)
          .split(whereSeparator: { $0 == "," || $0.isWhitespace }).enumerated() {
          guard let id = Int64(token) else {
            throw ValidationError("\(file): item \(index + 1) is \"\(token.prefix(40))\", not an int64 item id")
          }
          ids.append(id)
        }
      }
      let reply = try options.send("SetItemSet", ["name": name, "item_ids": ids.map { String($0) }])
      if !options.json { print(ItemSets.line(reply)) }
    }
  }
}
