// swift-tools-version:6.0
// recsys-sidecar: a gRPC model-serving sidecar for recommendation.
// Data flows shim -> routing -> store/registry -> plugin host -> plugin -> kernels;
// targets depend only downstream of that order.
import PackageDescription

/// Libraries the grpc++ shim links. Not `.systemLibrary(pkgConfig: "grpc++")`: SwiftPM
/// expands absl's pkg-config graph into an argument list too long to run. `crypto` (the
/// OpenSSL grpc itself uses) checks TLS files at start and hashes the admin token.
let grpcLinkage: [LinkerSetting] = [
  "grpc++", "grpc++_reflection", "grpc", "gpr", "protobuf", "absl_synchronization", "crypto",
].map { .linkedLibrary($0) }

/// The model kinds, each built as a plugin (a shared library the sidecar loads from --plugins):
/// (kind, which names the library librecsys-<kind>.so; target; folder). A new kind is one entry here.
let modelKinds: [(kind: String, target: String, folder: String)] = [
  ("mlp", "MLPPlugin", "plugins/MLP"),
  ("lstm", "LSTMPlugin", "plugins/LSTM"),
  ("sasrec", "SASRecPlugin", "plugins/SASRec"),
  ("dqn", "DQNPlugin", "plugins/DQN"),
  ("popularity", "PopularityPlugin", "plugins/Popularity"),
  ("echo", "EchoPlugin", "plugins/Echo"),
  ("two_tower", "TwoTowerPlugin", "plugins/TwoTower"),
]

let package = Package(
  name: "recsys-sidecar",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "recsys-sidecar", targets: ["recsys-sidecar"]),
    .executable(name: "recsysctl", targets: ["recsysctl"]),
  ] + modelKinds.map { .library(name: "recsys-\($0.kind)", type: .dynamic, targets: [$0.target]) },
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    // Prometheus series and their text exposition (brings swift-metrics' CoreMetrics and swift-atomics).
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
  ],
  targets: [
    // grpc++ callback server and protobuf <-> plain C views. include/ is a pure C header.
    .target(
      name: "CGRPCShim",
      dependencies: ["CRecSysStatus"],
      exclude: ["generated/README.md"],
      cxxSettings: [.headerSearchPath("generated"), .unsafeFlags(["-Wno-deprecated-declarations"])],
      linkerSettings: grpcLinkage
    ),
    // The status codes both C headers speak (gRPC's numbers): recsys_status.h.
    .target(name: "CRecSysStatus"),
    // The same table for Swift: code <-> name <-> default message.
    .target(name: "RecSysStatus"),
    // The plugin contract: recsys_plugin.h.
    .target(name: "CRecSysPlugin", dependencies: ["CRecSysStatus"]),
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
    .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
    // hiredis (Debian: libhiredis-dev): the Redis client of the shared experiment state.
    .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),

    // Math every model composes; the only module that touches OpenBLAS.
    .target(name: "CRecSysScan"),
    // FAISS (Debian's static libfaiss.a, position-independent) for the `approximate` mode; it
    // needs BLAS/LAPACK (OpenBLAS has both) and OpenMP (GCC's libgomp).
    .target(
      name: "CFaissIVF",
      linkerSettings: [.linkedLibrary("faiss"), .linkedLibrary("openblas"), .linkedLibrary("gomp"),
                       .unsafeFlags(["-L/usr/lib/gcc/x86_64-linux-gnu/12"])]),
    // exp/sigmoid/tanh/erf/GELU, the fused LSTM step and the candidate-row loops, compiled for AVX-512,
    // AVX2 and SSE2, chosen at run time (issue 19).
    .target(name: "CRecSysMath"),
    // SplitMix64 and its mix: seeded draws and hashing for plugins (through RecSysKernels) and
    // Experiments (which must not link OpenBLAS for them).
    .target(name: "SeededRandom"),
    .target(name: "RecSysKernels", dependencies: ["COpenBLAS", "CRecSysScan", "CRecSysMath", "SeededRandom"]),
    // One model.json value and its rule for whole numbers: the store and the plugins read alike.
    .target(name: "ManifestValue"),
    // Author side of the plugin contract: a Swift protocol and its C export.
    .target(name: "PluginAPI", dependencies: ["CRecSysPlugin", "RecSysKernels", "CFaissIVF", "ManifestValue"]),
    // The safetensors file format: mmap and validate.
    .target(name: "SafeTensors"),
    // SHA-256 of weights and plugin files (OpenSSL).
    .target(name: "Checksums", dependencies: ["COpenSSL"]),
    // Host side of the plugin contract: dlopen, handshake, tensor-spec checks, instances. The only
    // host module that sees recsys_plugin.h: everything above it speaks BorrowedRequest.
    .target(name: "PluginHost", dependencies: [
      "CRecSysPlugin", "RecSysStatus", "Checksums", .product(name: "Logging", package: "swift-log"),
    ]),
    // Versioned file store and the registry of loaded model instances.
    .target(name: "ModelStore", dependencies: [
      "ManifestValue", "SafeTensors", "PluginHost", "RecSysStatus", "Checksums", .product(name: "Logging", package: "swift-log"),
    ]),
    // A/B experiments: config, deterministic assignment, Thompson arms, per-arm results from
    // feedback, shadow agreement, the statistics of the report.
    .target(name: "Experiments", dependencies: [
      "ModelStore", "SeededRandom", .product(name: "Yams", package: "Yams"),
    ]),
    // Experiments that hold across a fleet: the ExperimentState kept in Redis (slates, counters, dedup),
    // over plain TCP (hiredis) or TLS (OpenSSL's libssl carrying hiredis' encoding and reply parser).
    .target(name: "RedisState", dependencies: [
      "CHiredis", "COpenSSL", "Experiments", .product(name: "Logging", package: "swift-log"),
    ]),
    // Off-policy evaluation: a candidate's CTR estimated from the exposure and feedback logs
    // (IPS, SNIPS, doubly robust over item-positions; bootstrap intervals). Foundation and SeededRandom only.
    .target(name: "OffPolicy", dependencies: ["SeededRandom"]),
    // Which model serves a request: explicit selector, forced arm, experiments, default.
    .target(name: "Routing", dependencies: ["ModelStore", "Experiments"]),
    // Wiring: request -> route -> instance -> response.
    .target(name: "Sidecar", dependencies: [
      "CGRPCShim", "Routing", "Experiments", "ModelStore", "PluginHost", "RecSysStatus", "Checksums", "OffPolicy",
      .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
      .product(name: "Prometheus", package: "swift-prometheus"),
    ]),
    // The composition root: wiring, signals and shutdown order of one sidecar (main.swift only
    // hands over to SidecarCommand), so tests can start and stop a whole sidecar in-process.
    .target(name: "SidecarApp", dependencies: [
      "Sidecar", "Experiments", "RedisState", "ModelStore", "PluginHost", "Routing",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
      .product(name: "Logging", package: "swift-log"),
    ]),
    .executableTarget(name: "recsys-sidecar", dependencies: ["SidecarApp"]),

    // The operator's CLI: ModelAdmin and Recommend over the shim's JSON client.
    .executableTarget(name: "recsysctl", dependencies: [
      "CGRPCShim", "Experiments", "OffPolicy", "RecSysStatus", .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),

    // Fuzz targets: every parser and every file the sidecar reads (see FuzzTarget.swift).
    // recsys-fuzz is libFuzzer's driver in `make fuzz` and a replay tool in a normal build.
    .target(name: "FuzzTargets", dependencies: [
      "SafeTensors", "ModelStore", "PluginHost", "Experiments", "Sidecar", "CGRPCShim", "OffPolicy",
      .product(name: "Logging", package: "swift-log"),
    ]),
    .executableTarget(name: "recsys-fuzz", dependencies: ["FuzzTargets"]),

    .testTarget(name: "RecSysKernelsTests", dependencies: ["RecSysKernels", "COpenBLAS"]),
    // The status table against recsys_status.h and gRPC's numbering.
    .testTarget(name: "RecSysStatusTests", dependencies: ["RecSysStatus", "CRecSysStatus"]),
    // The host side of the ABI against C plugins built by the test (older and newer minors).
    .testTarget(name: "PluginHostTests", dependencies: ["PluginHost", "RecSysStatus", "ModelStore", "SafeTensors"]),
    .testTarget(name: "ManifestValueTests", dependencies: ["ManifestValue", "ModelStore", "PluginAPI"]),
    .testTarget(name: "PluginAPITests", dependencies: ["PluginAPI", "CRecSysPlugin"]),
    .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"], exclude: ["Fixtures"]),
    .testTarget(name: "ModelStoreTests", dependencies: [
      "ModelStore", "PluginHost", "RecSysStatus", .product(name: "Logging", package: "swift-log"),
    ]),
    .testTarget(name: "RoutingTests", dependencies: ["Routing", "Experiments", "ModelStore"]),
    .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "SeededRandom"], resources: [.copy("Vectors")]),
    .testTarget(name: "SidecarAppTests", dependencies: [
      "SidecarApp", "Sidecar", "CGRPCShim", .product(name: "Logging", package: "swift-log"),
    ]),
    .testTarget(name: "SidecarTests", dependencies: [
      "Sidecar", "ModelStore", "PluginHost", "Routing", "Experiments", "RecSysStatus",
    ]),
    // Estimators against Open Bandit Pipeline's numbers (Tests/Fixtures/ope); marginals against enumeration.
    .testTarget(name: "OffPolicyTests", dependencies: ["OffPolicy"]),
    // The Redis state: URL and reply parsing, and two states sharing a real redis-server (skipped without one).
    .testTarget(name: "RedisStateTests", dependencies: [
      "RedisState", "Experiments", .product(name: "Logging", package: "swift-log"),
    ]),
    // Replays Tests/Fuzz/corpus and Tests/Fuzz/regressions through every fuzz target.
    .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
    // Loads the built plugin libraries through PluginHost and checks them against PyTorch.
    .testTarget(name: "PluginGoldenTests", dependencies: [
      "ModelStore", "PluginHost", "SafeTensors", "RecSysStatus", .product(name: "Logging", package: "swift-log"),
    ]),
  ] + modelKinds.map { .target(name: $0.target, dependencies: ["PluginAPI", "RecSysKernels"], path: $0.folder) },
  swiftLanguageModes: [.v5],
  cxxLanguageStandard: .cxx17
)
