import Glibc
import KITLSupport
import MeterDrivers
import MeterLinux

/// The GPIO backend through the kernel's GPIO character device.
struct GPIOTests {
  let chip: LinuxGPIOChip
  let rig: any TestRig
  let devices: DeviceOptions
  let report: TestReport

  func runAll() {
    report.note("libgpiod \(LinuxGPIOChip.libgpiodVersion), chip \(chip.path)")
    report.check("an output line drives the pin") {
      let coil = try chip.outputLine(devices.openCoil, initial: .low)
      defer { coil.release() }
      let initially = try rig.coilLevel(devices.openCoil)
      try coil.set(.high)
      let afterHigh = try rig.coilLevel(devices.openCoil)
      try coil.set(.low)
      let afterLow = try rig.coilLevel(devices.openCoil)
      try expect(
        [initially, afterHigh, afterLow] == [.low, .high, .low],
        "pin went \(initially), \(afterHigh), \(afterLow)")
      return "GPIO\(devices.openCoil) low → high → low at the pin"
    }
    report.check("an injected IRQ edge: level and queued edges with kernel timestamps") {
      let irq = try chip.inputLine(devices.adeIrq, bias: .pullUp)
      defer { irq.release() }
      try rig.driveIRQ(low: false)
      _ = try irq.pendingEdges()
      try expect(try irq.level() == .high, "IRQ line reads low before the injection")
      let clock = MonotonicClock()
      let before = clock.nowNanoseconds
      try rig.driveIRQ(low: true)
      let after = clock.nowNanoseconds
      let level = try irq.level()
      try rig.driveIRQ(low: false)
      let edges = try irq.pendingEdges()
      try expect(level == .low, "IRQ line reads high while pulled low")
      try expect(edges.map(\.kind) == [.falling, .rising], "edges \(edges)")
      try expect(
        (before...after).contains(edges[0].timestampNanoseconds),
        "falling edge at \(edges[0].timestampNanoseconds), injected between \(before) and \(after)")
      return "falling then rising, falling edge stamped within the injection"
    }
    report.check("a line held by another consumer is refused, naming the holder") {
      let coil = try chip.outputLine(devices.openCoil, initial: .low)
      defer { coil.release() }
      let other = try LinuxGPIOChip(path: chip.path, consumer: "intruder")
      let error = try expectBusError("a second request for GPIO\(devices.openCoil) succeeded") {
        () throws(BusError) in _ = try other.outputLine(devices.openCoil, initial: .high)
      }
      try expect(
        error.message.contains("(EBUSY)")
          && error.message.contains("held by consumer 'meter-hwtest'"),
        error.message)
      return error.message
    }
    report.check("a line the chip does not have is refused") {
      let count = try chip.lineCount()
      let error = try expectBusError("GPIO\(count + 3) was granted") { () throws(BusError) in
        _ = try chip.inputLine(count + 3, bias: .pullUp)
      }
      try expect(error.message.contains("does not exist"), error.message)
      return error.message
    }
  }

  /// Edge on the ADE7953 IRQ line → OPEN coil high, both instants stamped by the kernel: the
  /// edge event's timestamp on the IRQ line, and the coil write's (the rig's trace or monitor
  /// input), both CLOCK_MONOTONIC; for the service's event-driven design and for a design that
  /// polls the line once a second.
  func measureLatency(samples: Int) async {
    do {
      let irq = try chip.inputLine(devices.adeIrq, bias: .pullUp)
      let coil = try chip.outputLine(devices.openCoil, initial: .low)
      defer {
        irq.release()
        coil.release()
      }
      try rig.driveIRQ(low: false)
      _ = try irq.pendingEdges()
      let clock = MonotonicClock()
      var eventEdges: [UInt64] = []
      var edges = irq.edges().makeAsyncIterator()
      let rig = self.rig
      try rig.startCoilTimestamps(devices.openCoil)
      for _ in 0..<samples {
        let injection = Task.detached {
          try await Task.sleep(nanoseconds: 20_000_000)
          try rig.driveIRQ(low: true)
        }
        while let edge = try await edges.next() {
          guard edge.kind == .falling else { continue }
          try coil.set(.high)
          eventEdges.append(edge.timestampNanoseconds)
          break
        }
        try await injection.value
        try rig.driveIRQ(low: false)
        try coil.set(.low)
      }
      let eventDriven = try latencies(eventEdges, rig.coilRiseTimestamps(devices.openCoil))
      // The polling design reads the level itself: a fresh request, without the edge stream
      // (which would take the queued edges first).
      irq.release()
      let polledIRQ = try chip.inputLine(devices.adeIrq, bias: .pullUp)
      defer { polledIRQ.release() }
      var polledEdges: [UInt64] = []
      try rig.startCoilTimestamps(devices.openCoil)
      for phase in [250, 500, 750] as [UInt64] {
        let tick = clock.nowNanoseconds
        let injection = Task.detached {
          try await Task.sleep(nanoseconds: phase * 1_000_000)
          try rig.driveIRQ(low: true)
        }
        var next = tick
        while true {
          // Sleeping in the task, not the thread: the injector runs on the same cooperative
          // pool, which a one-CPU guest gives a single thread.
          next += 1_000_000_000
          try await Task.sleep(nanoseconds: next - min(next, clock.nowNanoseconds))
          if try polledIRQ.level() == .low { break }
        }
        try coil.set(.high)
        try await injection.value
        guard let edge = try polledIRQ.pendingEdges().last(where: { $0.kind == .falling }) else {
          throw TestFailure("no falling edge queued for the polling measurement")
        }
        polledEdges.append(edge.timestampNanoseconds)
        try rig.driveIRQ(low: false)
        try coil.set(.low)
        _ = try polledIRQ.pendingEdges()
      }
      let polled = try latencies(polledEdges, rig.coilRiseTimestamps(devices.openCoil))
      let sorted = eventDriven.sorted()
      let eventMedian = sorted[sorted.count / 2]
      let polledMean = polled.reduce(0, +) / UInt64(polled.count)
      // A guest without a fine clocksource ticks in jiffies: a figure below one tick is only
      // known to be below it, and the ratio is a lower bound.
      let tick = clockGranularity(clock)
      let eventFigure =
        eventMedian < tick ? "< \(tick / 1000) µs (one clock tick)" : "\(eventMedian / 1000) µs"
      report.note(
        "LATENCY IRQ edge→coil write, kernel timestamps: event-driven median \(eventFigure) "
          + "over \(samples) edges (min \(sorted.first! / 1000) µs, "
          + "90th percentile \(sorted[sorted.count * 9 / 10] / 1000) µs, "
          + "max \(sorted.last! / 1000) µs); "
          + "1 s polling: mean \(polledMean / 1000) µs over \(polled.count) phases; "
          + "ratio \(eventMedian < tick ? "> " : "")\(polledMean / max(eventMedian, tick)); "
          + "clock step \(tick) ns")
      report.check("event-driven edge handling beats 1 s polling") {
        try expect(eventMedian < polledMean, "event \(eventMedian) ns vs polling \(polledMean) ns")
        return "\(eventMedian / 1000) µs vs \(polledMean / 1000) µs"
      }
    } catch {
      report.check("edge→coil latency measurement") { throw error }
    }
  }

  /// Pairs each edge with the coil rise that answered it (one rise per edge, in order).
  private func latencies(_ edges: [UInt64], _ rises: [UInt64]) throws -> [UInt64] {
    try expect(
      rises.count == edges.count, "\(edges.count) edges injected, \(rises.count) coil rises seen")
    for (edge, rise) in zip(edges, rises) {
      try expect(rise > edge, "coil rose at \(rise) ns, before its edge at \(edge) ns")
    }
    return zip(edges, rises).map { $1 - $0 }
  }
}
