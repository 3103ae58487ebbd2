/// Why `meterd.toml` was refused: the key, the line it is on and what is wrong with it.
///
/// Start-up refuses the whole file on the first error, so a meter never runs on a configuration
/// that is partly what the installer meant.
public struct ConfigurationFileError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The file as named on the command line (or `meterd.toml` for text given directly).
  public var file: String
  /// 1-based line of the offending key, table header or syntax error; nil when the problem is
  /// the whole file (unreadable, or a required table missing).
  public var line: Int?
  /// Dotted key path, e.g. `settings.alarm2` or `tariff.seasons[2].weekday`; nil for syntax errors.
  public var key: String?
  public var reason: String

  public init(file: String, line: Int?, key: String?, reason: String) {
    self.file = file
    self.line = line
    self.key = key
    self.reason = reason
  }

  /// `FILE:LINE: KEY: REASON`, the shape compilers use, so editors can jump to the line.
  public var description: String {
    var text = file
    if let line { text += ":\(line)" }
    text += ": "
    if let key { text += "\(key): " }
    return text + reason
  }
}
