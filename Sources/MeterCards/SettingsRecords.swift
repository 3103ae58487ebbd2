import MeterCore

/// Configuration changes for a meter (R-C1 settings card, SPEC §4: "changeable by a signed
/// settings record"): `meterd.toml` keys and their text values, applied by MeterCore as one
/// validated whole. Signed by the utility; `meter` nil means any meter (a fleet-wide change).
/// Its validity window bounds how long a lost settings card can be used, and its command
/// sequence (`CommandSequence`) that it is used once and never after a newer command: an
/// older record replayed inside its window is refused (`replayed`) and changes nothing. A
/// fleet-wide record needs a number above every target meter's last.
public struct SettingsRecordBody: RecordBody {
  public static let kind = RecordKind.settings
  public static let maximumChanges = 32
  public static let maximumKeyLength = 40
  public static let maximumValueLength = 200

  public var meter: MeterID?
  public var validity: CommandValidity
  /// The meter's command sequence (1...UInt32.max, see `CommandSequence`).
  public var sequence: UInt32
  public var patch: SettingsPatch

  public init(meter: MeterID?, validity: CommandValidity, sequence: UInt32, patch: SettingsPatch) {
    self.meter = meter
    self.validity = validity
    self.sequence = sequence
    self.patch = patch
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendVarint(meter?.rawValue ?? 0)
    validity.encode(into: &writer)
    writer.appendCommandSequence(sequence)
    writer.appendVarint(UInt64(patch.changes.count))
    for change in patch.changes {
      writer.appendText(change.key)
      writer.appendText(change.value)
    }
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> Self {
    let meter = try reader.readMeterOrAny()
    let validity = try CommandValidity.decode(from: &reader)
    let sequence = try reader.readCommandSequence()
    let count = try reader.readCount("change count", max: maximumChanges)
    var changes: [SettingsPatch.Change] = []
    for _ in 0..<count {
      let key = try reader.readText("settings key", maximumLength: maximumKeyLength)
      let value = try reader.readText("settings value", maximumLength: maximumValueLength)
      changes.append(SettingsPatch.Change(key: key, value: value))
    }
    return SettingsRecordBody(
      meter: meter, validity: validity, sequence: sequence, patch: SettingsPatch(changes))
  }
}

/// A tariff set for a meter (R-P12): active at once if its activation time has passed, else
/// the passive set. The decoder bounds every list by MeterCore's limits; `TariffSet.validate()`
/// (in the meter) checks the rest. Signed by the utility; `meter` nil means any meter. Its
/// command sequence (last in the body) makes an old tariff card presented again, or after a
/// newer command, a refused replay (R-C6): a lost tariff card cannot roll a meter back to
/// old prices inside its validity window.
public struct TariffSetRecord: RecordBody {
  public static let kind = RecordKind.tariffSet
  public static let maximumDayProfiles = TariffSet.maximumSeasons * DayType.allCases.count

  public var meter: MeterID?
  public var validity: CommandValidity
  public var tariff: TariffSet
  /// The meter's command sequence (1...UInt32.max, see `CommandSequence`).
  public var sequence: UInt32

  public init(meter: MeterID?, validity: CommandValidity, tariff: TariffSet, sequence: UInt32) {
    self.meter = meter
    self.validity = validity
    self.tariff = tariff
    self.sequence = sequence
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendVarint(meter?.rawValue ?? 0)
    validity.encode(into: &writer)
    writer.appendVarint(UInt64(tariff.id))
    writer.appendSignedVarint(tariff.activation.unixMilliseconds)
    writer.appendVarint(UInt64(tariff.bandPrices.count))
    for price in tariff.bandPrices { writer.appendSignedVarint(price.units) }
    writer.appendVarint(UInt64(tariff.dayProfiles.count))
    for profile in tariff.dayProfiles {
      writer.appendVarint(UInt64(profile.switches.count))
      for change in profile.switches {
        writer.appendVarint(UInt64(clamping: change.minuteOfDay))
        writer.appendVarint(UInt64(clamping: change.band))
      }
    }
    writer.appendVarint(UInt64(tariff.seasons.count))
    for season in tariff.seasons {
      for field in [
        season.startMonth, season.startDay, season.weekdayProfile, season.saturdayProfile,
        season.sundayProfile, season.holidayProfile,
      ] {
        writer.appendVarint(UInt64(clamping: field))
      }
    }
    writer.appendVarint(UInt64(tariff.holidays.count))
    for date in tariff.holidays {
      writer.appendVarint(UInt64(clamping: date.year))
      writer.appendVarint(UInt64(clamping: date.month))
      writer.appendVarint(UInt64(clamping: date.day))
    }
    writer.appendVarint(UInt64(tariff.blocks.count))
    for block in tariff.blocks {
      writer.appendSignedVarint(block.startsAt.milliwattHours)
      writer.appendSignedVarint(block.adder.units)
    }
    writer.appendVarint(UInt64(clamping: tariff.billingDay))
    writer.appendSignedVarint(tariff.standingChargePerDay.units)
    writer.appendCommandSequence(sequence)
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> Self {
    let meter = try reader.readMeterOrAny()
    let validity = try CommandValidity.decode(from: &reader)
    let id: UInt32 = try reader.readVarint("tariff id", in: 0...UInt32.max)
    let activation = try reader.readSignedVarint(
      "activation", in: WriteBackRecord.timeBound)
    let price = 0...MeterConfiguration.maximumPrice.units
    let bandCount = try reader.readCount("band count", max: TariffSet.maximumBands)
    var prices: [Money] = []
    for _ in 0..<bandCount {
      prices.append(Money(units: try reader.readSignedVarint("band price", in: price)))
    }
    let profileCount = try reader.readCount("day profile count", max: maximumDayProfiles)
    var profiles: [DayProfile] = []
    for _ in 0..<profileCount {
      let switchCount = try reader.readCount("switch count", max: DayProfile.maximumSwitches)
      var switches: [DayProfile.Switch] = []
      for _ in 0..<switchCount {
        let minute: Int = try reader.readVarint("switch minute", in: 0...1_439)
        let band: Int = try reader.readVarint("switch band", in: 0...TariffSet.maximumBands - 1)
        switches.append(DayProfile.Switch(minuteOfDay: minute, band: band))
      }
      profiles.append(DayProfile(switches: switches))
    }
    let seasonCount = try reader.readCount("season count", max: TariffSet.maximumSeasons)
    var seasons: [Season] = []
    for _ in 0..<seasonCount {
      let month: Int = try reader.readVarint("season month", in: 1...12)
      let day: Int = try reader.readVarint("season day", in: 1...31)
      var indexes: [Int] = []
      for _ in DayType.allCases {
        indexes.append(try reader.readVarint("season profile", in: 0...maximumDayProfiles - 1))
      }
      seasons.append(
        Season(
          startMonth: month, startDay: day, weekdayProfile: indexes[0],
          saturdayProfile: indexes[1], sundayProfile: indexes[2], holidayProfile: indexes[3]))
    }
    let holidayCount = try reader.readCount("holiday count", max: TariffSet.maximumHolidays)
    var holidays: [CivilDate] = []
    for _ in 0..<holidayCount {
      let year: Int = try reader.readVarint("holiday year", in: 1970...9999)
      let month: Int = try reader.readVarint("holiday month", in: 1...12)
      let day: Int = try reader.readVarint("holiday day", in: 1...31)
      guard let date = CivilDate(year: year, month: month, day: day) else {
        throw .outOfRange(field: "holiday date")
      }
      holidays.append(date)
    }
    let blockCount = try reader.readCount("block count", max: TariffSet.maximumBlocks)
    var blocks: [TariffBlock] = []
    for _ in 0..<blockCount {
      let start = try reader.readSignedVarint("block start", in: WriteBackRecord.energyBound)
      let adder = try reader.readSignedVarint("block adder", in: price)
      blocks.append(
        TariffBlock(startsAt: Energy(milliwattHours: start), adder: Money(units: adder)))
    }
    let billingDay: Int = try reader.readVarint("billing day", in: 1...28)
    let standing = try reader.readSignedVarint("standing charge", in: price)
    let sequence = try reader.readCommandSequence()
    return TariffSetRecord(
      meter: meter, validity: validity,
      tariff: TariffSet(
        id: id, activation: Timestamp(unixMilliseconds: activation), bandPrices: prices,
        dayProfiles: profiles, seasons: seasons, holidays: holidays, blocks: blocks,
        billingDay: billingDay, standingChargePerDay: Money(units: standing)),
      sequence: sequence)
  }
}

extension ByteWriter {
  /// UTF-8 text with a varint length.
  mutating func appendText(_ text: String) {
    let bytes = Array(text.utf8)
    appendVarint(UInt64(bytes.count))
    append(bytes)
  }
}

extension ByteReader {
  mutating func readText(_ field: String, maximumLength: Int) throws(CardProblem) -> String {
    let length = try readCount(field + " length", max: maximumLength)
    guard let text = String(validating: try readBytes(length), as: UTF8.self) else {
      throw .malformed(field: field)
    }
    return text
  }
}
