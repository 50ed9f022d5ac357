import Experiments
import Sidecar

/// The sidecar's own config file (`--config`): `SidecarConfig(yaml:)`, which runs `YAMLGuard`
/// before Yams, then `validate()` of the settings taken together (unless the input names an
/// admin token file: validate reads it, and a fuzzer must not read files it names).
enum SidecarConfigYAMLTarget {
  static let target = FuzzTarget(
    name: "sidecar-config-yaml",
    summary: "sidecar config file: YAMLGuard, SidecarConfig(yaml:), validate()"
  ) { bytes in
    do {
      let config = try SidecarConfig(yaml: String(decoding: bytes, as: UTF8.self), source: "fuzz.yaml")
      if config.adminTokenFile.isEmpty { try config.validate() }
    } catch let error as SidecarConfig.Invalid {
      precondition(error.description.utf8.count <= Excerpt.messageBytes + 1_024, "refusal grew with the input")
    } catch {
      preconditionFailure("SidecarConfig threw something other than SidecarConfig.Invalid: \(error)")
    }
  }
}
