import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// meterd is one static binary of about 130 MB (the Swift runtime, Foundation and ICU, NIO,
/// BoringSSL, toml++). Starting it maps about 20 MB of its code and read-only data (start-up
/// code, the dynamic relocations, and the kernel's fault-around neighbours of every page
/// touched), which stay resident although the running meter touches about 6 MB of them. A few
/// seconds after start-up this service asks the kernel to reclaim them (`madvise(2)`
/// `MADV_PAGEOUT`, Linux 5.4, on the executable's read-only mappings): the control loop and the
/// HTTP server fault back what they use. Best effort: a kernel that refuses changes nothing but
/// the resident figure. It then ends; the group goes on (`successTerminationBehavior: .ignore`).
struct StartupPagesRelease: Service {
  /// Long enough for the first accumulation and the HTTP server's start.
  var delay: Duration = .seconds(3)

  func run() async throws {
    do {
      try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
    } catch {
      return
    }
    if Task.isShuttingDownGracefully || Task.isCancelled { return }
    Self.pageOutExecutable()
  }

  /// `MADV_PAGEOUT` on every non-writable mapping of /proc/self/exe.
  static func pageOutExecutable() {
    guard let executable = ownExecutablePath(), let maps = readFile("/proc/self/maps") else {
      return
    }
    for line in maps.split(separator: "\n") {
      // address perms offset dev inode pathname
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 6, fields[5] == executable, !fields[1].contains("w") else { continue }
      let bounds = fields[0].split(separator: "-")
      guard bounds.count == 2, let start = UInt(bounds[0], radix: 16),
        let end = UInt(bounds[1], radix: 16), end > start,
        let address = UnsafeMutableRawPointer(bitPattern: start)
      else { continue }
      _ = madvise(address, Int(end - start), MADV_PAGEOUT)
    }
  }

  /// readlink(2) of /proc/self/exe.
  private static func ownExecutablePath() -> Substring? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    let bytes = buffer[0..<length].map { UInt8(bitPattern: $0) }
    return Substring(String(decoding: bytes, as: UTF8.self))
  }

  /// The whole file, read(2) until end of file (procfs files report size 0).
  private static func readFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16_384)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { break }
      contents += chunk[0..<count]
    }
    return String(decoding: contents, as: UTF8.self)
  }
}
