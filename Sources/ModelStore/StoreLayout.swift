import Foundation

/// Where models live on disk: `<root>/<model>/<version>/{model.json, weights.safetensors}`.
///
/// Only reads directory listings; it opens no model file. A version folder is a positive
/// integer without sign or leading zeros, so staging folders (`.staging-3`), backups (`3.old`)
/// and typos (`03`, `3a`) are never served by accident.
public struct StoreLayout: Sendable {
  public static let manifestFileName = "model.json"
  public static let weightsFileName = "weights.safetensors"

  /// One complete version folder.
  public struct Version: Hashable, Sendable {
    public let model: String
    public let number: Int
    public let directory: String
    public var manifestPath: String { directory + "/" + StoreLayout.manifestFileName }
    public var weightsPath: String { directory + "/" + StoreLayout.weightsFileName }
  }

  /// A version folder that lacks a required file; it is skipped, and callers should say so.
  public struct IncompleteVersion: Hashable, Sendable, CustomStringConvertible {
    public let model: String
    public let number: Int
    public let directory: String
    /// File names missing from `directory`, e.g. ["weights.safetensors"].
    public let missingFiles: [String]

    public var description: String {
      "version folder '\(directory)' is incomplete: it lacks \(missingFiles.joined(separator: " and ")); it is skipped until both \(StoreLayout.manifestFileName) and \(StoreLayout.weightsFileName) are present"
    }
  }

  /// The version folders of one model, ascending by number.
  public struct VersionScan: Sendable {
    public let complete: [Version]
    public let incomplete: [IncompleteVersion]
  }

  public let root: String

  public init(root: String) {
    self.root = root
  }

  public func modelDirectory(_ model: String) -> String {
    root + "/" + model
  }

  public func versionDirectory(model: String, number: Int) -> String {
    modelDirectory(model) + "/" + String(number)
  }

  /// Names of model folders, sorted; hidden entries (starting with '.') and plain files skipped.
  public func modelNames() throws -> [String] {
    try directoryNames(in: root, missing: .storeNotFound, what: "model store").filter {
      !$0.hasPrefix(".")
    }
  }

  /// Every version folder of `model`, split into complete and incomplete; other entries ignored.
  public func scanVersions(of model: String) throws -> VersionScan {
    let directory = modelDirectory(model)
    var complete: [Version] = []
    var incomplete: [IncompleteVersion] = []
    let numbered = try directoryNames(in: directory, missing: .modelNotFound, what: "model folder")
      .compactMap { name in Self.versionNumber(folderName: name) }
      .sorted()
    for number in numbered {
      let versionDirectory = versionDirectory(model: model, number: number)
      let missing = [Self.manifestFileName, Self.weightsFileName].filter {
        !isRegularFile(versionDirectory + "/" + $0)
      }
      if missing.isEmpty {
        complete.append(Version(model: model, number: number, directory: versionDirectory))
      } else {
        incomplete.append(
          IncompleteVersion(
            model: model, number: number, directory: versionDirectory, missingFiles: missing))
      }
    }
    return VersionScan(complete: complete, incomplete: incomplete)
  }

  /// Complete versions of `model`, ascending.
  public func versions(of model: String) throws -> [Version] {
    try scanVersions(of: model).complete
  }

  /// The highest complete version of `model`, or nil when it has none.
  public func highestVersion(of model: String) throws -> Version? {
    try versions(of: model).last
  }

  /// The version a folder name stands for: "1", "42"; nil for "0", "03", "+3", "3a", ".staging-3",
  /// or a number too large for `Int`.
  public static func versionNumber(folderName name: String) -> Int? {
    guard let first = name.utf8.first, first != UInt8(ascii: "0"),
      name.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return nil }
    return Int(name)
  }

  // MARK: - File system

  /// Names of the subdirectories of `path` (following symbolic links), sorted.
  private func directoryNames(in path: String, missing: StoreLayoutError.Code, what: String) throws
    -> [String]
  {
    let files = FileManager.default
    var isDirectory: ObjCBool = false
    guard files.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw StoreLayoutError(
        missing, path: path, message: "the \(what) does not exist; check the path")
    }
    guard isDirectory.boolValue else {
      throw StoreLayoutError(
        .notADirectory, path: path, message: "the \(what) is a file, not a directory")
    }
    let names: [String]
    do {
      names = try files.contentsOfDirectory(atPath: path)
    } catch {
      throw StoreLayoutError(
        .cannotList, path: path,
        message: "cannot list the \(what) (\(error.localizedDescription)); check its permissions")
    }
    return names.filter { isDirectoryPath(path + "/" + $0) }.sorted()
  }

  private func isDirectoryPath(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      && isDirectory.boolValue
  }

  private func isRegularFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      && !isDirectory.boolValue
  }
}

/// Why the store's folders could not be listed.
public struct StoreLayoutError: Error, CustomStringConvertible, Sendable {
  /// Extendable: new codes can be added without breaking callers that compare with these.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    public static let storeNotFound = Code("storeNotFound")
    public static let modelNotFound = Code("modelNotFound")
    public static let notADirectory = Code("notADirectory")
    public static let cannotList = Code("cannotList")
  }

  public let code: Code
  public let path: String
  public let message: String

  public init(_ code: Code, path: String, message: String) {
    self.code = code
    self.path = path
    self.message = message
  }

  public var description: String {
    "model store '\(path)': \(message) [\(code)]"
  }
}
