import CMeterLinux
import Dispatch
import Glibc
import MeterDrivers
import Synchronization

/// A pull resistor setting for an input line (libgpiod request flags / line settings).
public enum LineBias: Sendable, Hashable {
  case asIs, disabled, pullUp, pullDown

  var cValue: meter_gpio_bias {
    switch self {
    case .asIs: METER_GPIO_BIAS_AS_IS
    case .disabled: METER_GPIO_BIAS_DISABLED
    case .pullUp: METER_GPIO_BIAS_PULL_UP
    case .pullDown: METER_GPIO_BIAS_PULL_DOWN
    }
  }
}

/// A C handle owned by one Swift object and touched only under its lock.
struct CHandle: @unchecked Sendable {
  let pointer: OpaquePointer
}

/// A GPIO chip through the kernel's GPIO character device and libgpiod (1.6, or 2.x when built
/// against it). Lines are numbered by their offset on the chip: on a Raspberry Pi's
/// `/dev/gpiochip0` the offset is the BCM GPIO number (GPIO17 is offset 17).
public final class LinuxGPIOChip: Sendable {
  public let path: String
  /// Shown by `gpioinfo` as the holder of every line this chip object requests.
  public let consumer: String
  let handle: Mutex<CHandle?>

  /// Opens `path` (e.g. `/dev/gpiochip0`).
  public init(path: String = "/dev/gpiochip0", consumer: String = "meterd") throws(BusError) {
    self.path = path
    self.consumer = consumer
    let (pointer, code) = retryingOnInterrupt({ meter_gpio_chip_open(path) }, failed: { $0 == nil })
    guard let pointer else {
      throw BusError(
        SystemCallFailure(
          errno: code ?? EIO, operation: DeviceOperation.open, devicePath: path, group: .gpio))
    }
    handle = Mutex(CHandle(pointer: pointer))
  }

  /// The libgpiod version in use, e.g. "1.6.3", and the API major version compiled against.
  public static var libgpiodVersion: String {
    "\(String(cString: meter_gpio_library_version())) (API \(meter_gpio_api_major()))"
  }

  /// How many lines the chip has.
  public func lineCount() throws(BusError) -> Int {
    try withChip("read chip info") { chip in Int32(meter_gpio_chip_line_count(chip)) }.count
  }

  /// The consumer holding line `offset`, or nil when the line is free.
  public func holder(of offset: Int) throws(BusError) -> String? {
    var name = [CChar](repeating: 0, count: 64)
    let (used, _) = try withChip("read line \(offset) info") { chip in
      meter_gpio_chip_line_consumer(chip, UInt32(offset), &name, name.count)
    }
    guard used == 1 else { return nil }
    let consumer = String(
      decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return consumer.isEmpty ? "(unnamed)" : consumer
  }

  /// Requests line `offset` as an output driven to `initial`.
  public func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> LinuxOutputLine {
    let line = try request(offset, as: "output") { chip in
      meter_gpio_request_output(chip, UInt32(offset), consumer, initial == .high ? 1 : 0)
    }
    return LinuxOutputLine(chip: self, offset: offset, handle: line)
  }

  /// Requests line `offset` as an input with `bias`, reporting both edges with kernel
  /// timestamps.
  public func inputLine(_ offset: Int, bias: LineBias) throws(BusError) -> LinuxInputLine {
    let line = try request(offset, as: "input") { chip in
      meter_gpio_request_input(chip, UInt32(offset), consumer, bias.cValue, 1)
    }
    return LinuxInputLine(chip: self, offset: offset, handle: line)
  }

  private func request(
    _ offset: Int, as direction: String,
    _ body: (OpaquePointer) -> OpaquePointer?
  ) throws(BusError) -> CHandle {
    let count = try lineCount()
    guard (0..<count).contains(offset) else {
      throw BusError(.other, "\(path): GPIO\(offset) does not exist (the chip has \(count) lines)")
    }
    let operation = "request GPIO\(offset) as \(direction)"
    let outcome: (CHandle?, Int32?) = handle.withLock { handle in
      guard let chip = handle?.pointer else { return (nil, EBADF) }
      let (line, code) = retryingOnInterrupt({ body(chip) }, failed: { $0 == nil })
      return (line.map(CHandle.init), code)
    }
    if let line = outcome.0 { return line }
    let code = outcome.1 ?? EIO
    var error = BusError(
      SystemCallFailure(errno: code, operation: operation, devicePath: path, group: .gpio))
    if code == EBUSY, let holder = try? holder(of: offset) {
      error.message += " (line held by consumer '\(holder)')"
    }
    throw error
  }

  private func withChip(_ operation: String, _ body: (OpaquePointer) -> Int32) throws(BusError)
    -> (result: Int32, count: Int)
  {
    let (result, code): (Int32, Int32?) = handle.withLock { handle in
      guard let chip = handle?.pointer else { return (-1, EBADF) }
      return retryingOnInterrupt({ body(chip) }, failed: { $0 < 0 })
    }
    if let code {
      throw BusError(
        SystemCallFailure(errno: code, operation: operation, devicePath: path, group: .gpio))
    }
    return (result, Int(result))
  }

  deinit {
    handle.withLock { handle in
      if let chip = handle?.pointer { meter_gpio_chip_close(chip) }
      handle = nil
    }
  }
}

/// A requested GPIO line: released when `release()` is called or the object goes away.
/// Holds its chip, because a libgpiod 1.x line lives inside its chip.
public class LinuxLine: @unchecked Sendable {
  public let chip: LinuxGPIOChip
  public let offset: Int
  let handle: Mutex<CHandle?>

  init(chip: LinuxGPIOChip, offset: Int, handle: CHandle) {
    self.chip = chip
    self.offset = offset
    self.handle = Mutex(handle)
  }

  /// Gives the line back to the kernel; later operations fail.
  public func release() {
    releaseHandle()
  }

  final func releaseHandle() {
    handle.withLock { handle in
      if let line = handle?.pointer { meter_gpio_line_release(line) }
      handle = nil
    }
  }

  deinit {
    releaseHandle()
  }

  func withLine(_ operation: String, _ body: (OpaquePointer) -> Int32) throws(BusError) -> Int32 {
    let (result, code): (Int32, Int32?) = handle.withLock { handle in
      guard let line = handle?.pointer else { return (-1, EBADF) }
      return retryingOnInterrupt({ body(line) }, failed: { $0 < 0 })
    }
    if let code {
      throw BusError(
        SystemCallFailure(
          errno: code, operation: "\(operation) GPIO\(offset)", devicePath: chip.path,
          group: .gpio))
    }
    return result
  }
}

/// An output line (relay coils, buzzer, LED, chip resets).
public final class LinuxOutputLine: LinuxLine, OutputLine, @unchecked Sendable {
  public func set(_ level: LineLevel) throws(BusError) {
    _ = try withLine("set") { line in meter_gpio_line_set_value(line, level == .high ? 1 : 0) }
  }
}

/// An input line with both edges detected by the kernel (interrupt lines, relay feedback,
/// tamper switches, button).
public final class LinuxInputLine: LinuxLine, InputLine, EdgeEventSource, @unchecked Sendable {
  /// Ends each stream made by `edges()`; run when the line is released.
  private let watchers = Mutex<[@Sendable () -> Void]>([])

  /// Ends every `edges()` stream, then gives the line back to the kernel.
  public override func release() {
    let stops = watchers.withLock { watchers in
      defer { watchers = [] }
      return watchers
    }
    for stop in stops { stop() }
    releaseHandle()
  }

  deinit {
    release()
  }

  public func level() throws(BusError) -> LineLevel {
    try withLine("read") { line in meter_gpio_line_get_value(line) } == 1 ? .high : .low
  }

  public func pendingEdges() throws(BusError) -> [LineEdge] {
    var edges: [LineEdge] = []
    while try edgeIsQueued() {
      edges.append(try readEdge())
    }
    return edges
  }

  /// Edges as the kernel reports them; the stream is fed from a dispatch read source on the
  /// line's event file descriptor, so nothing polls.
  public func edges() -> AsyncThrowingStream<LineEdge, any Error> {
    AsyncThrowingStream { continuation in
      let descriptor: Int32
      do {
        descriptor = try withLine("watch") { line in meter_gpio_line_event_fd(line) }
      } catch {
        continuation.finish(throwing: error)
        return
      }
      let source = ReadSource(
        DispatchSource.makeReadSource(
          fileDescriptor: descriptor, queue: DispatchQueue(label: "gpio-edges-\(offset)")))
      source.source.setEventHandler { [weak self] in
        guard let self else {
          continuation.finish()
          return
        }
        do {
          for edge in try self.pendingEdges() { continuation.yield(edge) }
        } catch {
          continuation.finish(throwing: error)
          source.source.cancel()
        }
      }
      continuation.onTermination = { _ in source.source.cancel() }
      watchers.withLock { watchers in
        watchers.append {
          source.source.cancel()
          continuation.finish()
        }
      }
      source.source.resume()
    }
  }

  private func edgeIsQueued() throws(BusError) -> Bool {
    try withLine("poll") { line in
      var request = pollfd(fd: meter_gpio_line_event_fd(line), events: Int16(POLLIN), revents: 0)
      return poll(&request, 1, 0)
    } > 0
  }

  private func readEdge() throws(BusError) -> LineEdge {
    var rising: Int32 = 0
    var timestamp: UInt64 = 0
    _ = try withLine("read edge of") { line in
      meter_gpio_line_read_edge(line, &rising, &timestamp)
    }
    return LineEdge(rising != 0 ? .rising : .falling, at: timestamp)
  }
}

/// Dispatch sources are thread-safe; the wrapper lets one be cancelled from another task.
private struct ReadSource: @unchecked Sendable {
  let source: any DispatchSourceRead

  init(_ source: any DispatchSourceRead) {
    self.source = source
  }
}
