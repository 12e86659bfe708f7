// swift-tools-version:6.0
import PackageDescription

// The fuzz harnesses: one executable, `cl-fuzz`, with one libFuzzer target per parser that takes
// bytes from outside, chosen by FUZZ_TARGET. `fuzz/run` builds it with
// `-sanitize=fuzzer,address` (and `-DFUZZING`, so that libFuzzer supplies `main`); a plain
// `swift build` makes a replayer that runs corpus files through the same targets.
let package = Package(
    name: "clustertools-fuzz",
    dependencies: [
        .package(name: "clustertools", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    ],
    targets: [
        .executableTarget(name: "cl-fuzz",
                          dependencies: [.product(name: "ClusterKit", package: "clustertools"),
                                         .product(name: "ClusterNode", package: "clustertools"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOEmbedded", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
