#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The systemd notification protocol (sd_notify(3)), spoken directly: one datagram of
/// `KEY=VALUE` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET`. No libsystemd needed.
///
/// Under `Type=notify` meterd says `READY=1` once the meter is metering, `WATCHDOG=1` from its
/// control loop once per accumulation interval (so a hung loop is killed after `WatchdogSec=`),
/// and `STOPPING=1` when SIGTERM starts the shutdown. Outside systemd (no `$NOTIFY_SOCKET`)
/// every call does nothing.
public struct SystemdNotifier: Sendable {
  /// The socket path; a leading `@` names a Linux abstract socket (first byte NUL).
  public let socketPath: String?
  /// `$WATCHDOG_USEC` as systemd set it, if the unit has `WatchdogSec=`.
  public let watchdogMicroseconds: UInt64?

  public init(socketPath: String?, watchdogMicroseconds: UInt64? = nil) {
    self.socketPath = socketPath?.isEmpty == true ? nil : socketPath
    self.watchdogMicroseconds = watchdogMicroseconds
  }

  /// Reads `$NOTIFY_SOCKET`, and `$WATCHDOG_USEC` when `$WATCHDOG_PID` is absent or ours.
  public static func fromEnvironment() -> SystemdNotifier {
    let socket = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
    var watchdog: UInt64?
    if let usec = getenv("WATCHDOG_USEC").flatMap({ UInt64(String(cString: $0)) }) {
      let pid = getenv("WATCHDOG_PID").flatMap { Int32(String(cString: $0)) }
      if pid == nil || pid == getpid() { watchdog = usec }
    }
    return SystemdNotifier(socketPath: socket, watchdogMicroseconds: watchdog)
  }

  public enum Message: Sendable, Hashable {
    case ready
    case watchdog
    case stopping
    case status(String)

    var text: String {
      switch self {
      case .ready: return "READY=1"
      case .watchdog: return "WATCHDOG=1"
      case .stopping: return "STOPPING=1"
      case .status(let status): return "STATUS=\(status)"
      }
    }
  }

  public struct NotifyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
  }

  /// Sends the messages in one datagram. Returns false when not running under systemd.
  @discardableResult
  public func notify(_ messages: Message...) throws(NotifyError) -> Bool {
    guard let socketPath else { return false }
    let payload = messages.map(\.text).joined(separator: "\n")
    // socket(2): a fresh datagram socket per message, as sd_notify does; it costs one syscall
    // pair per second and needs no state shared across tasks.
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw NotifyError(call: "socket", errno: errno) }
    defer { close(fd) }

    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var pathBytes = Array(socketPath.utf8)
    if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard pathBytes.count < capacity else {
      throw NotifyError(call: "NOTIFY_SOCKET", errno: ENAMETOOLONG)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      buffer.copyBytes(from: pathBytes)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        Array(payload.utf8).withUnsafeBytes { bytes in
          retryingOnInterrupt {
            sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
          }
        }
      }
    }
    guard sent >= 0 else { throw NotifyError(call: "sendto", errno: errno) }
    return true
  }
}

/// Repeats a system call interrupted by a signal (EINTR), the one place meterd does so.
func retryingOnInterrupt(_ call: () -> Int) -> Int {
  while true {
    let result = call()
    if result >= 0 || errno != EINTR { return result }
  }
}
