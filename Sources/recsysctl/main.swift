import ArgumentParser
import Foundation

/// recsysctl: operate a running recsys-sidecar through its ModelAdmin API.
struct RecsysCtl: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "recsysctl",
    abstract: "Operate a running recsys-sidecar: models, versions, labels, plugins, A/B experiments, test calls.",
    subcommands: [
      Models.self, Reload.self, Pin.self, Unpin.self, Label.self, Plugins.self, Experiments.self, ItemSets.self, ItemSet.self,
      Recommend.self,
    ])
}

struct AdminOptions: ParsableArguments {
  @Option(help: "The sidecar's ModelAdmin address.")
  var admin = ProcessInfo.processInfo.environment["RECSYS_ADMIN"] ?? "127.0.0.1:50052"

  @Option(help: "Bearer token for an admin listener that requires one (or env RECSYS_ADMIN_TOKEN).")
  var token: String?

  @Option(help: "File holding the bearer token, trailing newline ignored (or env RECSYS_ADMIN_TOKEN_FILE).")
  var tokenFile: String?

  @Option(help: "Seconds to wait for an answer.")
  var timeout = 60.0

  @Flag(help: "Print the raw JSON response.")
  var json = false

  /// --token, else --token-file, else the environment's; nil when none is given.
  func bearerToken() throws -> String? {
    let environment = ProcessInfo.processInfo.environment
    if let token { return token }
    guard let path = tokenFile ?? environment["RECSYS_ADMIN_TOKEN_FILE"] else { return environment["RECSYS_ADMIN_TOKEN"] }
    guard var text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw ValidationError("cannot read the token file \(path)")
    }
    while let last = text.last, last.isNewline || last == " " || last == "\t" { text.removeLast() }
    return text
  }

  func send(_ method: String, _ request: [String: Any] = [:]) throws -> [String: Any] {
    let token = try bearerToken()
    do {
      let reply = try call(admin, "recsys.v1.ModelAdmin/\(method)", request, token: token, timeoutSeconds: timeout)
      if json {
        let data = try JSONSerialization.data(withJSONObject: reply, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
      }
      return reply
    } catch let failure as RPCFailure {
      FileHandle.standardError.write(Data("recsysctl: \(failure)\n".utf8))
      throw ExitCode(1)
    }
  }

  /// Models as a human reads them: one line per model, one per version.
  func printModels(_ models: [[String: Any]]) {
    guard !json else { return }
    if models.isEmpty { print("no models") }
    for model in models {
      let serving = integer(model["serving_version"])
      let labels = (model["labels"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
        .map { "\($0.key)=\(integer($0.value))" }.joined(separator: ",")
      var line = "\(model["name"] as? String ?? "?")  serving=\(serving == 0 ? "none" : String(serving))"
      line += "  policy=\(model["policy"] as? String ?? "latest")"
      if (model["policy"] as? String) == "pinned" { line += "@\(integer(model["pinned_version"]))" }
      if !labels.isEmpty { line += "  labels=\(labels)" }
      print(line)
      if let error = model["error"] as? String, !error.isEmpty { print("  ! \(error)") }
      for version in model["versions"] as? [[String: Any]] ?? [] {
        var row = "  \(integer(version["version"]))  \(version["state"] as? String ?? "?")"
        if let kind = version["kind"] as? String, !kind.isEmpty { row += "  \(kind)" }
        if let labels = version["labels"] as? [String], !labels.isEmpty { row += "  [\(labels.joined(separator: ","))]" }
        if let error = version["error"] as? String, !error.isEmpty { row += "  \(error)" }
        print(row)
      }
    }
  }
}

extension RecsysCtl {
  struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List models, their versions and states, and what serves.")
    @OptionGroup var options: AdminOptions
    @Argument(help: "Only this model.") var model: String?

    func run() throws {
      options.printModels(try options.send("ListModels", ["model": model ?? ""])["models"] as? [[String: Any]] ?? [])
    }
  }

  struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rescan the store and plugins now; wait for the loads.")
    @OptionGroup var options: AdminOptions

    func run() throws {
      options.printModels(try options.send("ReloadModels")["models"] as? [[String: Any]] ?? [])
    }
  }

  struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve exactly this version (rollback).")
    @OptionGroup var options: AdminOptions
    @Argument var model: String
    @Argument var version: Int

    func run() throws {
      let reply = try options.send("SetVersionPolicy", ["model": model, "pin": version])
      options.printModels([reply["model"] as? [String: Any] ?? [:]])
    }
  }

  struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the latest good version again.")
    @OptionGroup var options: AdminOptions
    @Argument var model: String

    func run() throws {
      let reply = try options.send("SetVersionPolicy", ["model": model, "latest": true])
      options.printModels([reply["model"] as? [String: Any] ?? [:]])
    }
  }

  struct Label: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Point a label (stable, canary, ...) at a version; 0 removes it.")
    @OptionGroup var options: AdminOptions
    @Argument var model: String
    @Argument var label: String
    @Argument var version: Int

    func run() throws {
      let reply = try options.send("SetVersionPolicy", ["model": model, "label": ["label": label, "version": version]])
      options.printModels([reply["model"] as? [String: Any] ?? [:]])
    }
  }

  struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List loaded plugins and refused plugin files.")
    @OptionGroup var options: AdminOptions

    func run() throws {
      let reply = try options.send("ListPlugins")
      guard !options.json else { return }
      for plugin in reply["plugins"] as? [[String: Any]] ?? [] {
        let active = plugin["active"] as? Bool ?? false
        print("\(plugin["kind"] as? String ?? "?")  \(plugin["version"] as? String ?? "?")  abi=\(plugin["abi_version"] as? String ?? "?")"
          + "  \(active ? "active" : "inactive")  \(plugin["path"] as? String ?? "?")  sha256=\(plugin["sha256"] as? String ?? "")")
      }
      for refused in reply["refused"] as? [[String: Any]] ?? [] {
        print("refused  \(refused["path"] as? String ?? "?")  \(refused["reason"] as? String ?? "")")
      }
    }
  }

  struct Recommend: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Send one Recommend request (proto3 JSON, e.g. demo/requests/mlp.json) and print the reply as JSON.")
    @Option(help: "The sidecar's Recommender address.") var address = "127.0.0.1:50051"
    @Option(help: "Seconds to wait for an answer.") var timeout = 10.0
    @Flag(help: "Ask for explanations (sets the request's explain) and print the reply as readable text.")
    var explain = false
    @Argument(help: "A file with the request as JSON; - reads standard input.") var file: String

    func run() throws {
      let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
      guard var request = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw ValidationError("\(file) is not a JSON object")
      }
      if explain { request["explain"] = true }
      do {
        let reply = try call(address, "recsys.v1.Recommender/Recommend", request, token: nil, timeoutSeconds: timeout)
        if explain {
          print(ExplanationView.text(reply), terminator: "")
          return
        }
        let pretty = try JSONSerialization.data(withJSONObject: reply, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: pretty, as: UTF8.self))
      } catch let failure as RPCFailure {
        FileHandle.standardError.write(Data("recsysctl: \(failure)\n".utf8))
        throw ExitCode(1)
      }
    }
  }
}

RecsysCtl.main()
