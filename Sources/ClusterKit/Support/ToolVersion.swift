/// The toolchain's own version (`--version` of every tool) and the reference version we speak.
public enum ToolVersion {
    public static let current = "0.1.0"
    /// The version a node announces in `hello` unless configured otherwise.
    public static let compatVersion = "4.9.2"
    public static let versionLine = "\(current) (wire-compatible with Wazuh \(compatVersion))"
}
