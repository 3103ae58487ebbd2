/// The prepaid meter's decisions as one deterministic value: durable `state` (journaled) plus
/// the short-lived conditions that need no journal (hold timers, the page on display).
///
/// Every input goes through `step(_:at:into:)`. Durable changes are made only by applying
/// `JournalEntry` values, which the step also hands out for the journal, so replay after a
/// power cut follows exactly the code path of live operation.
public struct Meter: Sendable {
  public private(set) var state: MeterState
  public let firmware: Firmware
  var session = Session()
  var tariffCache = TariffCache()

  /// A meter resuming from `state` (newly commissioned, or recovered from the journal).
  /// The first step commands the relay to the state's decision (R-D2).
  public init(state: MeterState, firmware: Firmware) {
    self.state = state
    self.firmware = firmware
  }

  /// Handles one input at time `now` and writes the decisions into `output`.
  public mutating func step(_ input: MeterInput, at now: Timestamp, into output: inout MeterOutput)
  {
    output.journal.removeAll(keepingCapacity: true)
    output.card = nil
    output.beep = false
    var supply = state.supply
    var retryPulse = false
    var writeBackDue = false

    switch input {
    case .interval(let measurement):
      retryPulse = interval(measurement, at: now, supply: &supply, output: &output)
    case .tick:
      break
    case .card(let card):
      writeBackDue = present(card, at: now, supply: &supply, output: &output)
    case .cardRemoved:
      if session.relayTestCardPresent {
        session.relayTestCardPresent = false
        supply.reasons.remove(.test)
      }
    case .inspectionWritten(let progress):
      show(progress.map { .inspectionPage($0) } ?? .inspectionInterrupted, at: now)
    case .button:
      pressButton(at: now)
    case .tamper(let inputs):
      tamper(inputs, at: now, supply: &supply, output: &output)
    case .remote(let command):
      remote(command, at: now, supply: &supply, output: &output)
    case .powerUp:
      powerUp(at: now, output: &output)
    case .shutdown:
      record(
        .event(MeterEvent(.powerDown, at: now, detail: MeterEvent.orderlyShutdown)),
        into: &output)
    }

    // R-P8: the lockout ends by time alone.
    if let until = supply.lockoutUntil, now >= until {
      supply.lockoutUntil = nil
      supply.reasons.remove(.overloadLockout)
    }
    evaluateCredit(at: now, supply: &supply)
    if supply != state.supply { record(.supply(supply, at: now), into: &output) }

    let relay = state.supply.relay
    let changed = session.commandedRelay != relay
    if changed {
      session.commandedRelay = relay
      session.unconfirmedPulses = 1
    }
    output.relay = RelayCommand(
      state: relay, reasons: state.supply.reasons, pulse: changed || retryPulse)
    output.display = page(at: now)
    signalLowCredit(at: now, output: &output)
    if writeBackDue {
      output.card?.writeBack = WriteBack(state: state, time: now, firmware: firmware)
    }
  }

  /// Applies a durable change and hands it to the journal.
  mutating func record(_ entry: JournalEntry, into output: inout MeterOutput) {
    state.apply(entry, cache: &tariffCache)
    output.journal.append(entry)
  }

  // MARK: - Power

  /// Start-up after the journal was recovered: the power went at the last thing committed (an
  /// interval is committed every second, so this is within a second of the cut), unless an
  /// orderly stop already said when the meter stopped.
  mutating func powerUp(at now: Timestamp, output: inout MeterOutput) {
    let lastEvent = state.events.latest.last
    if lastEvent?.kind != .powerDown {
      let lastCommitted = [state.registers.lastIntervalEnd, lastEvent?.at].compactMap { $0 }.max()
      if let lastCommitted {
        record(.event(MeterEvent(.powerDown, at: lastCommitted)), into: &output)
      }
    }
    record(.event(MeterEvent(.powerUp, at: now)), into: &output)
  }

  // MARK: - Credit (R-P2..R-P6)

  /// The credit rules as levels, re-evaluated after every step, so that a restart, a friendly
  /// period's end or several thresholds crossed in one interval all land in the same state.
  mutating func evaluateCredit(at now: Timestamp, supply: inout SupplyControl) {
    let credit = state.remainingCredit
    let friendly = isFriendly(at: now)
    if credit > state.configuration.alarm2 {
      supply.alarm2Armed = true
    } else if supply.alarm2Armed {
      // R-P3: trips once; R-P6: never inside a friendly period.
      supply.alarm2Armed = false
      if !friendly { supply.reasons.insert(.alarm2) }
    }
    guard credit <= .zero, !friendly else { return }
    if supply.overdraft == .granted {
      if credit <= -state.configuration.overdraftLimit {
        supply.overdraft = .used
        supply.reasons.insert(.overdraftExhausted)
      }
    } else if supply.reasons.isDisjoint(with: [.creditExhausted, .overdraftExhausted]) {
      supply.reasons.insert(.creditExhausted)
    }
  }

  /// R-P6: inside a configured weekly window or on a friendly date (local time).
  public func isFriendly(at time: Timestamp) -> Bool {
    guard !state.configuration.friendlyWindows.isEmpty || !state.configuration.friendlyDates.isEmpty
    else {
      return false
    }
    let local = LocalTime(time, utcOffsetMinutes: state.configuration.utcOffsetMinutes)
    if state.configuration.friendlyDates.contains(local.date) { return true }
    let weekday = local.date.weekday
    return state.configuration.friendlyWindows.contains {
      $0.contains(weekday, minuteOfDay: local.minuteOfDay)
    }
  }

  /// 0 < credit ≤ alarm 1 (R-P2).
  public var isLowCredit: Bool {
    let credit = state.remainingCredit
    return credit > .zero && credit <= state.configuration.alarm1
  }

  /// R-P2: LED on and one beep per interval while credit is low; the LED also shows exhausted
  /// credit and latched tamper (R-T6).
  mutating func signalLowCredit(at now: Timestamp, output: inout MeterOutput) {
    let low = isLowCredit
    if low {
      if let last = session.lastBeep,
        now.milliseconds(since: last) < state.configuration.lowCreditBeepMilliseconds,
        now >= last
      {
        output.beep = false
      } else {
        output.beep = true
        session.lastBeep = now
      }
    } else {
      session.lastBeep = nil
    }
    output.alarmLED = low || state.remainingCredit <= .zero || !state.events.latched.isEmpty
  }

  // MARK: - Measurements (R-P8, R-P9, R-T2..R-T5, R-P12)

  /// Returns whether the relay coil should be pulsed again (R-T5).
  mutating func interval(
    _ measurement: Measurement, at now: Timestamp, supply: inout SupplyControl,
    output: inout MeterOutput
  ) -> Bool {
    let duration = min(max(measurement.durationMilliseconds, 0), MeterState.millisecondsPerDay)
    let retryPulse = checkRelayFeedback(measurement.relayContact, at: now, output: &output)

    if measurement.flags.contains(.reset) {
      record(.event(MeterEvent(.energyChipReset, at: now)), into: &output)
    }
    if measurement.flags.contains(.sag) {
      record(.event(MeterEvent(.voltageSag, at: now)), into: &output)
    }

    // R-T3: neutral imbalance; while it lasts, bill the larger channel.
    let currentA = measurement.irmsAMilliamps.magnitude
    let currentB = measurement.irmsBMilliamps.magnitude
    let larger = max(currentA, currentB)
    let difference = currentA > currentB ? currentA - currentB : currentB - currentA
    if larger > 0
      && difference * 10_000 > UInt64(state.configuration.imbalanceThresholdBasisPoints) * larger
    {
      session.imbalanceMilliseconds += duration
      if !session.imbalanceActive
        && session.imbalanceMilliseconds >= state.configuration.imbalanceHoldMilliseconds
      {
        session.imbalanceActive = true
        record(.event(MeterEvent(.neutralImbalance, at: now)), into: &output)
      }
    } else {
      session.imbalanceMilliseconds = 0
      session.imbalanceActive = false
    }
    let billed =
      session.imbalanceActive && currentB > currentA ? measurement.channelB : measurement.channelA

    // R-T2: reverse power is an event; R-P13 bills it as import.
    if measurement.flags.contains(.signChange) || billed.exportEnergy > .zero {
      if !session.reverseActive {
        session.reverseActive = true
        record(.event(MeterEvent(.reversePower, at: now)), into: &output)
      }
    } else {
      session.reverseActive = false
    }

    // R-T4: current while the relay is commanded open, or its contact is open.
    let relayOpen = state.supply.relay == .open || measurement.relayContact == .open
    if relayOpen && Int64(larger) > state.configuration.bypassCurrentMilliamps {
      session.bypassMilliseconds += duration
      if !session.bypassReported
        && session.bypassMilliseconds >= state.configuration.bypassHoldMilliseconds
      {
        session.bypassReported = true
        record(.event(MeterEvent(.bypass, at: now)), into: &output)
      }
    } else {
      session.bypassMilliseconds = 0
      session.bypassReported = false
    }

    // R-P12: the clock is invalid if never synchronised or before the firmware was built.
    let clockValid = measurement.clockSynchronised && now >= firmware.buildTime
    if !clockValid && !state.clockInvalid {
      record(.event(MeterEvent(.clockInvalid, at: now)), into: &output)
    }
    record(
      .interval(
        IntervalRecord(
          end: now, durationMilliseconds: duration,
          importEnergy: Energy(
            milliwattHours: min(
              max(billed.importEnergy.milliwattHours, 0), Meter.maximumIntervalEnergy)),
          exportEnergy: Energy(
            milliwattHours: min(
              max(billed.exportEnergy.milliwattHours, 0), Meter.maximumIntervalEnergy)),
          clockValid: clockValid)), into: &output)

    // R-P8: overload.
    if measurement.activePowerMilliwatts.magnitude
      > state.configuration.overloadLimitMilliwatts.magnitude
    {
      session.overloadMilliseconds += duration
    } else {
      session.overloadMilliseconds = 0
    }
    if measurement.flags.contains(.overCurrent)
      || session.overloadMilliseconds > state.configuration.overloadHoldMilliseconds
    {
      session.overloadMilliseconds = 0
      tripOverload(at: now, supply: &supply, output: &output)
    }

    // R-P9: over-voltage, with automatic reclose.
    let volts = measurement.vrmsMillivolts
    if volts > state.configuration.overvoltageLimitMillivolts {
      session.overvoltageMilliseconds += duration
    } else {
      session.overvoltageMilliseconds = 0
    }
    if measurement.flags.contains(.overVoltage)
      || session.overvoltageMilliseconds > state.configuration.overvoltageHoldMilliseconds
    {
      session.overvoltageMilliseconds = 0
      session.normalVoltageMilliseconds = 0
      if !supply.reasons.contains(.overvoltage) {
        supply.reasons.insert(.overvoltage)
        record(.event(MeterEvent(.overvoltageTrip, at: now)), into: &output)
      }
    } else if supply.reasons.contains(.overvoltage) {
      if volts < state.configuration.overvoltageRecloseMillivolts {
        session.normalVoltageMilliseconds += duration
        if session.normalVoltageMilliseconds >= state.configuration.overvoltageRecloseMilliseconds {
          session.normalVoltageMilliseconds = 0
          supply.reasons.remove(.overvoltage)
        }
      } else {
        session.normalVoltageMilliseconds = 0
      }
    }

    session.lastMeasurement = measurement
    return retryPulse
  }

  /// Caps one interval's energy (1 MWh) so that no arithmetic can overflow on a faulty reading.
  static let maximumIntervalEnergy: Int64 = 1_000_000_000

  /// R-P8: opens the relay; the configured number of trips within the window locks it out.
  mutating func tripOverload(
    at now: Timestamp, supply: inout SupplyControl, output: inout MeterOutput
  ) {
    guard !supply.reasons.contains(.overload) else { return }
    let configuration = state.configuration
    supply.reasons.insert(.overload)
    record(.event(MeterEvent(.overloadTrip, at: now)), into: &output)
    supply.recentOverloadTrips.removeAll {
      now.milliseconds(since: $0) >= configuration.overloadLockoutWindowMilliseconds
    }
    supply.recentOverloadTrips.append(now)
    if supply.recentOverloadTrips.count >= configuration.overloadLockoutTrips {
      supply.recentOverloadTrips.removeAll()
      supply.reasons.insert(.overloadLockout)
      supply.lockoutUntil = now + configuration.overloadLockoutMilliseconds
    }
  }

  /// R-T5: after a pulse the feedback contact must agree; retry once, then report a fault.
  mutating func checkRelayFeedback(
    _ contact: RelayContact?, at now: Timestamp, output: inout MeterOutput
  ) -> Bool {
    guard let contact, let commanded = session.commandedRelay, session.unconfirmedPulses > 0 else {
      return false
    }
    let agrees = (contact == .open) == (commanded == .open)
    if agrees {
      session.unconfirmedPulses = 0
      return false
    }
    if session.unconfirmedPulses == 1 {
      session.unconfirmedPulses = 2
      return true
    }
    session.unconfirmedPulses = 0
    record(.event(MeterEvent(.relayFault, at: now)), into: &output)
    return false
  }

  // MARK: - Tamper and remote commands (R-T1, R-T6, R-V5)

  mutating func tamper(
    _ inputs: TamperInputs, at now: Timestamp, supply: inout SupplyControl,
    output: inout MeterOutput
  ) {
    let previous = session.tamperInputs
    session.tamperInputs = inputs
    var opened = false
    if inputs.coverOpen && !previous.coverOpen {
      record(.event(MeterEvent(.coverOpened, at: now)), into: &output)
      opened = true
    }
    if inputs.magnetDetected && !previous.magnetDetected {
      record(.event(MeterEvent(.magnetDetected, at: now)), into: &output)
      opened = true
    }
    if opened && state.configuration.tamperTrip { supply.reasons.insert(.tamper) }
  }

  mutating func clearTamper(
    at now: Timestamp, supply: inout SupplyControl, output: inout MeterOutput
  ) {
    record(.tamperCleared(at: now), into: &output)
    record(.event(MeterEvent(.tamperCleared, at: now)), into: &output)
    supply.reasons.remove(.tamper)
  }

  mutating func remote(
    _ command: RemoteCommand, at now: Timestamp, supply: inout SupplyControl,
    output: inout MeterOutput
  ) {
    switch command {
    case .purchases(let purchases):
      output.card = applyPurchases(
        purchases, at: now, restore: .byCredit, supply: &supply, output: &output)
    case .settings(let settings, let sequence):
      output.card = applySettings(settings, sequence: sequence, at: now, output: &output)
    case .openRelay:
      supply.reasons.insert(.remote)
    case .closeRelay:
      supply.reasons.remove(.remote)
    case .clearTamper:
      clearTamper(at: now, supply: &supply, output: &output)
    }
  }
}

/// Conditions that need no journal: after a power cut they start afresh, which can only delay
/// a protective trip by one hold time.
struct Session: Sendable {
  var overloadMilliseconds: Int64 = 0
  var overvoltageMilliseconds: Int64 = 0
  var normalVoltageMilliseconds: Int64 = 0
  var imbalanceMilliseconds: Int64 = 0
  var imbalanceActive = false
  var bypassMilliseconds: Int64 = 0
  var bypassReported = false
  var reverseActive = false
  var tamperInputs = TamperInputs(coverOpen: false, magnetDetected: false)
  var lastBeep: Timestamp?
  var commandedRelay: RelayState?
  var unconfirmedPulses = 0
  var relayTestCardPresent = false
  var lastMeasurement: Measurement?
  var display = DisplayMode.idle
}
