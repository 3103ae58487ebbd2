import MeterCore

/// The meter's journal schema: `MeterState` checkpoints, `JournalEntry` records and
/// `MeterEvent` log lines, in a compact, versioned binary encoding.
///
/// Version 2 (version 1 had 13 event kinds; 2 adds `powerDown` and `powerUp`, so a state
/// carries 15 event counters). Version 1 checkpoints, records and event lines are still read:
/// their counters are padded with zeros for the newer kinds. Integers are LEB128 varints (signed ones zig-zag), so small values take one
/// byte. Records are deltas against the state before them: an interval that follows the last
/// one and lasts the usual second costs a tag byte and its energy (R-D2: the frequent record
/// stays small). Decoding checks every count and enum, validates configurations and tariffs
/// as the core does, and refuses what does not fit with an error, never a trap (R-D3).
public enum MeterSchema: JournalSchema {
  public typealias State = MeterState
  public typealias Entry = JournalEntry
  public typealias Event = MeterEvent

  public static let version: UInt16 = 2

  /// How many event kinds (and so counters in a state) a schema version has: every counter
  /// array is sized from `MeterEventKind.allCases`, and decoders of older versions pad it.
  static func eventKindCount(inVersion version: UInt16) -> Int {
    switch version {
    case 1: 13
    default: 15
    }
  }

  /// The accumulation interval the meter normally commits (SPEC §9: 1 s); others carry their
  /// duration.
  static let usualIntervalMilliseconds: Int64 = 1_000

  enum Tag: UInt8 {
    case interval = 1
    case purchase, supply, event, tamperCleared, configuration, tariffInstalled
  }

  /// Low-nibble flags of an interval's tag byte.
  enum IntervalFlag {
    static let clockValid: UInt8 = 1 << 0
    static let hasExport: UInt8 = 1 << 1
    /// It ends one duration after the last interval: the end is not stored.
    static let contiguous: UInt8 = 1 << 2
    /// It lasts `usualIntervalMilliseconds`: the duration is not stored.
    static let usualDuration: UInt8 = 1 << 3
  }

  // MARK: State

  public static func encode(_ state: MeterState, into writer: inout ByteWriter) {
    writer.append(state.configuration)
    writer.append(state.activeTariff)
    writer.append(state.passiveTariff != nil)
    if let passive = state.passiveTariff { writer.append(passive) }
    writer.append(state.ledger)
    writer.append(state.registers)
    writer.append(state.supply)
    writer.append(state.events)
    writer.append(state.clockInvalid)
  }

  public static func decodeState(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> MeterState
  {
    let configuration = try reader.readConfiguration()
    let active = try reader.readTariff()
    let passive = try reader.readBool() ? try reader.readTariff() : nil
    return MeterState(
      configuration: configuration, activeTariff: active, passiveTariff: passive,
      ledger: try reader.readLedger(), registers: try reader.readRegisters(),
      supply: try reader.readSupply(), events: try reader.readEvents(version: version),
      clockInvalid: try reader.readBool())
  }

  // MARK: Entries

  public static func encode(
    _ entry: JournalEntry, after state: MeterState, into writer: inout ByteWriter
  ) {
    let reference = timeReference(state)
    switch entry {
    case .interval(let interval):
      var flags: UInt8 = 0
      if interval.clockValid { flags |= IntervalFlag.clockValid }
      if interval.exportEnergy != .zero { flags |= IntervalFlag.hasExport }
      if interval.durationMilliseconds == usualIntervalMilliseconds {
        flags |= IntervalFlag.usualDuration
      }
      if let last = state.registers.lastIntervalEnd,
        interval.end == last + interval.durationMilliseconds
      {
        flags |= IntervalFlag.contiguous
      }
      writer.append(Tag.interval.rawValue << 4 | flags)
      if flags & IntervalFlag.usualDuration == 0 {
        writer.appendSignedVarint(interval.durationMilliseconds)
      }
      if flags & IntervalFlag.contiguous == 0 {
        writer.append(interval.end, relativeTo: reference)
      }
      writer.append(interval.importEnergy)
      if flags & IntervalFlag.hasExport != 0 { writer.append(interval.exportEnergy) }
    case .purchase(let purchase, let time):
      let ownMeter = purchase.meter == state.configuration.meter
      writer.append(Tag.purchase.rawValue << 4 | (ownMeter ? 1 : 0))
      if !ownMeter { writer.appendVarint(purchase.meter.rawValue) }
      writer.appendSignedVarint(Int64(purchase.sequence) - Int64(state.ledger.lastAppliedSequence))
      writer.append(purchase.amount)
      writer.append(time, relativeTo: reference)
    case .supply(let supply, let time):
      writer.append(Tag.supply.rawValue << 4)
      writer.append(supply)
      writer.append(time, relativeTo: reference)
    case .event(let event):
      writer.append(Tag.event.rawValue << 4)
      writer.append(event, relativeTo: reference)
    case .tamperCleared(let time):
      writer.append(Tag.tamperCleared.rawValue << 4)
      writer.append(time, relativeTo: reference)
    case .configuration(let configuration, let time):
      writer.append(Tag.configuration.rawValue << 4)
      writer.append(configuration)
      writer.append(time, relativeTo: reference)
    case .tariffInstalled(let tariff, let time):
      writer.append(Tag.tariffInstalled.rawValue << 4)
      writer.append(tariff)
      writer.append(time, relativeTo: reference)
    }
  }

  public static func decodeEntry(
    from reader: inout ByteReader, after state: MeterState, version: UInt16
  ) throws(ByteDecodingError) -> JournalEntry {
    let reference = timeReference(state)
    let tagByte = try reader.readByte()
    let flags = tagByte & 0x0F
    switch Tag(rawValue: tagByte >> 4) {
    case .interval:
      let duration =
        flags & IntervalFlag.usualDuration != 0
        ? usualIntervalMilliseconds : try reader.readSignedVarint()
      let end: Timestamp
      if flags & IntervalFlag.contiguous != 0 {
        guard let last = state.registers.lastIntervalEnd else {
          throw .invalid("contiguous interval without a previous one")
        }
        end = last + duration
      } else {
        end = try reader.readTimestamp(relativeTo: reference)
      }
      let importEnergy = try reader.readEnergy()
      let exportEnergy = flags & IntervalFlag.hasExport != 0 ? try reader.readEnergy() : .zero
      return .interval(
        IntervalRecord(
          end: end, durationMilliseconds: duration, importEnergy: importEnergy,
          exportEnergy: exportEnergy, clockValid: flags & IntervalFlag.clockValid != 0))
    case .purchase:
      let meter = flags & 1 != 0 ? state.configuration.meter : MeterID(try reader.readVarint())
      let step = try reader.readSignedVarint()
      guard let sequence = UInt32(exactly: Int64(state.ledger.lastAppliedSequence) + step) else {
        throw .invalid("purchase sequence out of range")
      }
      let amount = try reader.readMoney()
      return .purchase(
        Purchase(meter: meter, sequence: sequence, amount: amount),
        at: try reader.readTimestamp(relativeTo: reference))
    case .supply:
      return .supply(
        try reader.readSupply(), at: try reader.readTimestamp(relativeTo: reference))
    case .event:
      return .event(try reader.readEvent(relativeTo: reference, version: version))
    case .tamperCleared:
      return .tamperCleared(at: try reader.readTimestamp(relativeTo: reference))
    case .configuration:
      return .configuration(
        try reader.readConfiguration(), at: try reader.readTimestamp(relativeTo: reference))
    case .tariffInstalled:
      return .tariffInstalled(
        try reader.readTariff(), at: try reader.readTimestamp(relativeTo: reference))
    case nil:
      throw .invalid("unknown journal entry tag \(tagByte >> 4)")
    }
  }

  /// Times in records are stored relative to the last interval's end, so they stay short.
  static func timeReference(_ state: MeterState) -> Timestamp {
    state.registers.lastIntervalEnd ?? Timestamp(unixMilliseconds: 0)
  }

  public static func apply(_ entry: JournalEntry, to state: inout MeterState) {
    state.apply(entry)
  }

  // MARK: Event log

  public static func loggedEvent(for entry: JournalEntry) -> MeterEvent? {
    guard case .event(let event) = entry else { return nil }
    return event
  }

  /// kind (1) | detail (2) | time in ms since 1970 (8): 11 bytes.
  public static func encode(_ event: MeterEvent, into writer: inout ByteWriter) {
    writer.append(event.kind.rawValue)
    writer.appendLittleEndian(event.detail)
    writer.appendLittleEndian(event.at.unixMilliseconds)
  }

  public static func decodeEvent(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> MeterEvent
  {
    let kind = try reader.readEventKind(version: version)
    let detail: UInt16 = try reader.readLittleEndian()
    let time: Int64 = try reader.readLittleEndian()
    return MeterEvent(kind, at: Timestamp(unixMilliseconds: time), detail: detail)
  }
}

// MARK: - Encodings of the core's values

extension ByteWriter {
  mutating func append(_ value: Bool) { append(value ? 1 : 0) }
  mutating func append(_ money: Money) { appendSignedVarint(money.units) }
  mutating func append(_ energy: Energy) { appendSignedVarint(energy.milliwattHours) }
  mutating func append(_ time: Timestamp) { appendSignedVarint(time.unixMilliseconds) }

  mutating func append(_ time: Timestamp, relativeTo reference: Timestamp) {
    appendSignedVarint(time.milliseconds(since: reference))
  }

  mutating func append(_ time: Timestamp?) {
    append(time != nil)
    if let time { append(time) }
  }

  mutating func append(_ date: CivilDate) { appendSignedVarint(date.daysSinceEpoch) }
  mutating func append(small value: Int) { appendSignedVarint(Int64(value)) }

  mutating func append(_ configuration: MeterConfiguration) {
    appendVarint(configuration.meter.rawValue)
    append(configuration.creditMode == .energy)
    append(small: configuration.utcOffsetMinutes)
    for money in [
      configuration.alarm1, configuration.alarm2, configuration.overdraftLimit,
      configuration.hoardingLimit,
    ] {
      append(money)
    }
    appendSignedVarint(configuration.lowCreditBeepMilliseconds)
    appendVarint(UInt64(configuration.friendlyWindows.count))
    for window in configuration.friendlyWindows {
      append(window.weekday.rawValue)
      append(small: window.startMinute)
      append(small: window.endMinute)
    }
    appendVarint(UInt64(configuration.friendlyDates.count))
    for date in configuration.friendlyDates { append(date) }
    for value in [
      configuration.overloadLimitMilliwatts, configuration.overloadHoldMilliseconds,
      Int64(configuration.overloadLockoutTrips), configuration.overloadLockoutWindowMilliseconds,
      configuration.overloadLockoutMilliseconds, configuration.overvoltageLimitMillivolts,
      configuration.overvoltageHoldMilliseconds, configuration.overvoltageRecloseMillivolts,
      configuration.overvoltageRecloseMilliseconds,
    ] {
      appendSignedVarint(value)
    }
    append(configuration.tamperTrip)
    for value in [
      configuration.imbalanceThresholdBasisPoints, configuration.imbalanceHoldMilliseconds,
      configuration.bypassCurrentMilliamps, configuration.bypassHoldMilliseconds,
    ] {
      appendSignedVarint(value)
    }
    append(configuration.billing == .importOnly)
    appendSignedVarint(configuration.inquiryPageMilliseconds)
    appendSignedVarint(configuration.pageTimeoutMilliseconds)
  }

  mutating func append(_ tariff: TariffSet) {
    appendVarint(UInt64(tariff.id))
    append(tariff.activation)
    appendVarint(UInt64(tariff.bandPrices.count))
    for price in tariff.bandPrices { append(price) }
    appendVarint(UInt64(tariff.dayProfiles.count))
    for profile in tariff.dayProfiles {
      appendVarint(UInt64(profile.switches.count))
      for change in profile.switches {
        append(small: change.minuteOfDay)
        append(small: change.band)
      }
    }
    appendVarint(UInt64(tariff.seasons.count))
    for season in tariff.seasons {
      for value in [
        season.startMonth, season.startDay, season.weekdayProfile, season.saturdayProfile,
        season.sundayProfile, season.holidayProfile,
      ] {
        append(small: value)
      }
    }
    appendVarint(UInt64(tariff.holidays.count))
    for date in tariff.holidays { append(date) }
    appendVarint(UInt64(tariff.blocks.count))
    for block in tariff.blocks {
      append(block.startsAt)
      append(block.adder)
    }
    append(small: tariff.billingDay)
    append(tariff.standingChargePerDay)
  }

  mutating func append(_ ledger: Ledger) {
    append(ledger.totalPurchased)
    append(ledger.totalCharged)
    appendVarint(UInt64(ledger.purchaseCount))
    appendVarint(UInt64(ledger.lastAppliedSequence))
    append(ledger.lastPurchaseAmount)
    append(ledger.debt)
    append(ledger.zeroCrossingEnergy)
    append(ledger.zeroCrossingCharge)
    append(ledger.standingCharged)
    appendSignedVarint(ledger.energyChargeRemainder)
    appendSignedVarint(ledger.standingChargeRemainder)
  }

  mutating func append(_ registers: EnergyRegisters) {
    for energy in registers.importByBand.values { append(energy) }
    for energy in registers.exportByBand.values { append(energy) }
    append(registers.blockPeriodEnergy)
    append(registers.nextBillingDay)
    append(registers.lastIntervalEnd)
  }

  mutating func append(_ supply: SupplyControl) {
    appendVarint(UInt64(supply.reasons.rawValue))
    var flags: UInt8 = 0
    if supply.alarm2Armed { flags |= 1 << 0 }
    if supply.inFriendlyPeriod { flags |= 1 << 1 }
    append(flags)
    append(supply.overdraft.rawValue)
    appendVarint(UInt64(supply.recentOverloadTrips.count))
    for trip in supply.recentOverloadTrips { append(trip) }
    append(supply.lockoutUntil)
  }

  mutating func append(_ events: MeterCore.EventLog) {
    appendVarint(UInt64(events.counters.count))
    for counter in events.counters { appendVarint(UInt64(counter)) }
    appendVarint(UInt64(events.latest.count))
    for event in events.latest { append(event, relativeTo: Timestamp(unixMilliseconds: 0)) }
    append(events.latched.rawValue)
  }

  mutating func append(_ event: MeterEvent, relativeTo reference: Timestamp) {
    append(event.kind.rawValue)
    append(event.at, relativeTo: reference)
    appendVarint(UInt64(event.detail))
  }
}

extension ByteReader {
  /// Upper bounds on decoded counts, so garbage can never ask for a huge allocation.
  static let maximumListLength = 256

  mutating func readBool() throws(ByteDecodingError) -> Bool {
    let byte = try readByte()
    guard byte <= 1 else { throw .invalid("boolean byte \(byte)") }
    return byte == 1
  }

  mutating func readMoney() throws(ByteDecodingError) -> Money {
    Money(units: try readSignedVarint())
  }

  mutating func readEnergy() throws(ByteDecodingError) -> Energy {
    Energy(milliwattHours: try readSignedVarint())
  }

  mutating func readTimestamp() throws(ByteDecodingError) -> Timestamp {
    Timestamp(unixMilliseconds: try readSignedVarint())
  }

  mutating func readTimestamp(relativeTo reference: Timestamp) throws(ByteDecodingError)
    -> Timestamp
  {
    let delta = try readSignedVarint()
    let (sum, overflow) = reference.unixMilliseconds.addingReportingOverflow(delta)
    guard !overflow else { throw .invalid("time out of range") }
    return Timestamp(unixMilliseconds: sum)
  }

  mutating func readOptionalTimestamp() throws(ByteDecodingError) -> Timestamp? {
    try readBool() ? try readTimestamp() : nil
  }

  mutating func readDate() throws(ByteDecodingError) -> CivilDate {
    let days = try readSignedVarint()
    // ±1 million years is far beyond any meter and keeps the calendar arithmetic in range.
    guard (-365_000_000...365_000_000).contains(days) else { throw .invalid("date out of range") }
    return CivilDate(daysSinceEpoch: days)
  }

  mutating func readSmall() throws(ByteDecodingError) -> Int {
    let value = try readSignedVarint()
    guard let small = Int(exactly: value), (-1_000_000_000...1_000_000_000).contains(small) else {
      throw .invalid("value \(value) out of range")
    }
    return small
  }

  mutating func readCount(_ what: String) throws(ByteDecodingError) -> Int {
    let count = try readVarint()
    guard count <= UInt64(ByteReader.maximumListLength) else {
      throw .invalid("\(what): \(count) entries")
    }
    return Int(count)
  }

  mutating func readConfiguration() throws(ByteDecodingError) -> MeterConfiguration {
    var configuration = MeterConfiguration(meter: MeterID(try readVarint()))
    configuration.creditMode = try readBool() ? .energy : .money
    configuration.utcOffsetMinutes = try readSmall()
    configuration.alarm1 = try readMoney()
    configuration.alarm2 = try readMoney()
    configuration.overdraftLimit = try readMoney()
    configuration.hoardingLimit = try readMoney()
    configuration.lowCreditBeepMilliseconds = try readSignedVarint()
    for _ in 0..<(try readCount("friendly windows")) {
      let raw = try readByte()
      guard let weekday = Weekday(rawValue: raw) else { throw .invalid("weekday \(raw)") }
      configuration.friendlyWindows.append(
        WeeklyWindow(weekday: weekday, startMinute: try readSmall(), endMinute: try readSmall()))
    }
    for _ in 0..<(try readCount("friendly dates")) {
      configuration.friendlyDates.append(try readDate())
    }
    configuration.overloadLimitMilliwatts = try readSignedVarint()
    configuration.overloadHoldMilliseconds = try readSignedVarint()
    configuration.overloadLockoutTrips = try readSmall()
    configuration.overloadLockoutWindowMilliseconds = try readSignedVarint()
    configuration.overloadLockoutMilliseconds = try readSignedVarint()
    configuration.overvoltageLimitMillivolts = try readSignedVarint()
    configuration.overvoltageHoldMilliseconds = try readSignedVarint()
    configuration.overvoltageRecloseMillivolts = try readSignedVarint()
    configuration.overvoltageRecloseMilliseconds = try readSignedVarint()
    configuration.tamperTrip = try readBool()
    configuration.imbalanceThresholdBasisPoints = try readSignedVarint()
    configuration.imbalanceHoldMilliseconds = try readSignedVarint()
    configuration.bypassCurrentMilliamps = try readSignedVarint()
    configuration.bypassHoldMilliseconds = try readSignedVarint()
    configuration.billing = try readBool() ? .importOnly : .importPlusExport
    configuration.inquiryPageMilliseconds = try readSignedVarint()
    configuration.pageTimeoutMilliseconds = try readSignedVarint()
    do {
      try configuration.validate()
    } catch {
      throw .invalid("configuration: \(error)")
    }
    return configuration
  }

  mutating func readTariff() throws(ByteDecodingError) -> TariffSet {
    let id = try readVarint(as: UInt32.self)
    let activation = try readTimestamp()
    var prices: [Money] = []
    for _ in 0..<(try readCount("band prices")) { prices.append(try readMoney()) }
    var profiles: [DayProfile] = []
    for _ in 0..<(try readCount("day profiles")) {
      var switches: [DayProfile.Switch] = []
      for _ in 0..<(try readCount("switching times")) {
        switches.append(DayProfile.Switch(minuteOfDay: try readSmall(), band: try readSmall()))
      }
      profiles.append(DayProfile(switches: switches))
    }
    var seasons: [Season] = []
    for _ in 0..<(try readCount("seasons")) {
      seasons.append(
        Season(
          startMonth: try readSmall(), startDay: try readSmall(), weekdayProfile: try readSmall(),
          saturdayProfile: try readSmall(), sundayProfile: try readSmall(),
          holidayProfile: try readSmall()))
    }
    var holidays: [CivilDate] = []
    for _ in 0..<(try readCount("holidays")) { holidays.append(try readDate()) }
    var blocks: [TariffBlock] = []
    for _ in 0..<(try readCount("blocks")) {
      blocks.append(TariffBlock(startsAt: try readEnergy(), adder: try readMoney()))
    }
    let tariff = TariffSet(
      id: id, activation: activation, bandPrices: prices, dayProfiles: profiles,
      seasons: seasons, holidays: holidays, blocks: blocks, billingDay: try readSmall(),
      standingChargePerDay: try readMoney())
    do {
      try tariff.validate()
    } catch {
      throw .invalid("tariff: \(error)")
    }
    return tariff
  }

  mutating func readLedger() throws(ByteDecodingError) -> Ledger {
    var ledger = Ledger()
    ledger.totalPurchased = try readMoney()
    ledger.totalCharged = try readMoney()
    ledger.purchaseCount = try readVarint(as: UInt32.self)
    ledger.lastAppliedSequence = try readVarint(as: UInt32.self)
    ledger.lastPurchaseAmount = try readMoney()
    ledger.debt = try readMoney()
    ledger.zeroCrossingEnergy = try readEnergy()
    ledger.zeroCrossingCharge = try readMoney()
    ledger.standingCharged = try readMoney()
    ledger.energyChargeRemainder = try readSignedVarint()
    ledger.standingChargeRemainder = try readSignedVarint()
    return ledger
  }

  mutating func readRegisters() throws(ByteDecodingError) -> EnergyRegisters {
    var registers = EnergyRegisters()
    for band in 0..<BandRegisters.count { registers.importByBand[band] = try readEnergy() }
    for band in 0..<BandRegisters.count { registers.exportByBand[band] = try readEnergy() }
    registers.blockPeriodEnergy = try readEnergy()
    registers.nextBillingDay = try readOptionalTimestamp()
    registers.lastIntervalEnd = try readOptionalTimestamp()
    return registers
  }

  mutating func readSupply() throws(ByteDecodingError) -> SupplyControl {
    let reasons = RelayReasons(rawValue: try readVarint(as: UInt16.self))
    let flags = try readByte()
    guard flags & ~0b11 == 0 else { throw .invalid("supply flags \(flags)") }
    let raw = try readByte()
    guard let overdraft = OverdraftState(rawValue: raw) else {
      throw .invalid("overdraft state \(raw)")
    }
    var trips: [Timestamp] = []
    for _ in 0..<(try readCount("overload trips")) { trips.append(try readTimestamp()) }
    return SupplyControl(
      reasons: reasons, alarm2Armed: flags & 1 != 0, overdraft: overdraft,
      inFriendlyPeriod: flags & 2 != 0, recentOverloadTrips: trips,
      lockoutUntil: try readOptionalTimestamp())
  }

  /// The state's event counters, as many as `version` had kinds; the kinds added since count
  /// zero (the firmware that wrote them could not record them).
  mutating func readEvents(version: UInt16) throws(ByteDecodingError) -> MeterCore.EventLog {
    var events = MeterCore.EventLog()
    let counters = try readCount("event counters")
    let expected = MeterSchema.eventKindCount(inVersion: version)
    guard counters == expected, counters <= events.counters.count else {
      throw .invalid(
        "\(counters) event counters in schema version \(version), expected \(expected)")
    }
    for index in 0..<counters { events.counters[index] = try readVarint(as: UInt32.self) }
    let latest = try readCount("latest events")
    guard latest <= MeterCore.EventLog.latestCapacity else {
      throw .invalid("\(latest) latest events")
    }
    for _ in 0..<latest {
      events.latest.append(
        try readEvent(relativeTo: Timestamp(unixMilliseconds: 0), version: version))
    }
    events.latched = Anomalies(rawValue: try readByte())
    return events
  }

  mutating func readEvent(relativeTo reference: Timestamp, version: UInt16)
    throws(ByteDecodingError) -> MeterEvent
  {
    let kind = try readEventKind(version: version)
    let time = try readTimestamp(relativeTo: reference)
    return MeterEvent(kind, at: time, detail: try readVarint(as: UInt16.self))
  }

  /// An event kind that schema `version` had: a version 1 record naming a newer kind is
  /// damage, not an event.
  mutating func readEventKind(version: UInt16) throws(ByteDecodingError) -> MeterEventKind {
    let raw = try readByte()
    guard Int(raw) < MeterSchema.eventKindCount(inVersion: version),
      let kind = MeterEventKind(rawValue: raw)
    else { throw .invalid("event kind \(raw) in schema version \(version)") }
    return kind
  }
}
