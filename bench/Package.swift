// swift-tools-version:6.0
import PackageDescription

// Benchmark harnesses, kept out of the product package so the product builds without them.
let package = Package(
    name: "clustertools-bench",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "clustertools", path: "..")],
    targets: [
        .executableTarget(name: "fernet-bench",
                          dependencies: [.product(name: "ClusterKit", package: "clustertools")]),
        .executableTarget(name: "dapi-load",
                          dependencies: [.product(name: "ClusterKit", package: "clustertools")]),
        .executableTarget(name: "agents-bench",
                          dependencies: [.product(name: "ClusterKit", package: "clustertools")]),
        .executableTarget(name: "check-bench",
                          dependencies: [.product(name: "ClusterKit", package: "clustertools")]),
    ],
    swiftLanguageModes: [.v6]
)
