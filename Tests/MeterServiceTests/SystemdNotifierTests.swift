import Foundation
import Testing

@testable import MeterService

#if canImport(Glibc)
  import Glibc
#endif

/// A datagram socket bound where systemd's would be, to read what meterd sends.
private final class NotifySocketListener {
  let fd: Int32
  let path: String

  init(abstract: Bool) throws {
    fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    let name = "meterd-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    path = abstract ? "@\(name)" : NSTemporaryDirectory() + name
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    if abstract { bytes[0] = 0 }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    try #require(result == 0)
  }

  func receive() -> String {
    var buffer = [UInt8](repeating: 0, count: 4_096)
    let count = recv(fd, &buffer, buffer.count, 0)
    return String(decoding: buffer[0..<max(count, 0)], as: UTF8.self)
  }

  deinit {
    close(fd)
    if !path.hasPrefix("@") { unlink(path) }
  }
}

@Suite("sd_notify over NOTIFY_SOCKET")
struct SystemdNotifierTests {
  @Test("READY, WATCHDOG and STATUS arrive as one datagram on a path socket")
  func pathSocket() throws {
    let listener = try NotifySocketListener(abstract: false)
    let notifier = SystemdNotifier(socketPath: listener.path)
    #expect(try notifier.notify(.ready, .status("metering")))
    #expect(listener.receive() == "READY=1\nSTATUS=metering")
    #expect(try notifier.notify(.watchdog))
    #expect(listener.receive() == "WATCHDOG=1")
  }

  @Test("an abstract socket (@name) is reached with a leading NUL")
  func abstractSocket() throws {
    let listener = try NotifySocketListener(abstract: true)
    #expect(try SystemdNotifier(socketPath: listener.path).notify(.stopping))
    #expect(listener.receive() == "STOPPING=1")
  }

  @Test("outside systemd nothing is sent and nothing fails")
  func noSocket() throws {
    #expect(try SystemdNotifier(socketPath: nil).notify(.ready) == false)
    #expect(try SystemdNotifier(socketPath: "").notify(.watchdog) == false)
  }

  @Test("a socket nobody listens on is reported with the failing call")
  func deadSocket() {
    #expect(throws: SystemdNotifier.NotifyError.self) {
      try SystemdNotifier(socketPath: "/nonexistent/notify").notify(.ready)
    }
  }
}
