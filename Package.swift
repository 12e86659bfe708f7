// swift-tools-version:6.0
import PackageDescription

// The protocol library (ClusterKit) holds no networking runtime; the daemons' runtime lives in
// ClusterNode on SwiftNIO. cl-crypt, cl-chunk and cl-integrity link ClusterKit only.
let package = Package(
    name: "clustertools",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ClusterKit", targets: ["ClusterKit"]),
        .executable(name: "cl-crypt", targets: ["cl-crypt"]),
        .executable(name: "cl-chunk", targets: ["cl-chunk"]),
        .executable(name: "cl-integrity", targets: ["cl-integrity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson",
                       providers: [.apt(["libjansson-dev"])]),
        .target(name: "CBase64"),
        .target(name: "ClusterKit",
                dependencies: ["COpenSSL", "CZlib", "CJansson", "CBase64"]),
        .target(name: "ClusterCLI",
                dependencies: ["ClusterKit",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "cl-crypt",
                          dependencies: ["ClusterKit", "ClusterCLI",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "cl-chunk",
                          dependencies: ["ClusterKit", "ClusterCLI",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "cl-integrity",
                          dependencies: ["ClusterKit", "ClusterCLI",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ClusterKitTests", dependencies: ["ClusterKit"], exclude: ["Fixtures"]),
        .testTarget(name: "ToolTests", dependencies: ["ClusterKit"]),
    ],
    swiftLanguageModes: [.v6]
)
