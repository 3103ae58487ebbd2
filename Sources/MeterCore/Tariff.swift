/// A time-of-use band: the index of a price and of an energy register (R-P12, R-P13).
public typealias TariffBand = Int

/// One day's time-of-use plan: at each switching time a band takes over until the next one
/// (R-P12: up to 8 switching times per day profile).
public struct DayProfile: Hashable, Sendable {
  public struct Switch: Hashable, Sendable {
    /// Local minutes after midnight, 0..<1440.
    public var minuteOfDay: Int
    public var band: TariffBand

    public init(minuteOfDay: Int, band: TariffBand) {
      self.minuteOfDay = minuteOfDay
      self.band = band
    }

    public init(hour: Int, minute: Int = 0, band: TariffBand) {
      self.init(minuteOfDay: hour * 60 + minute, band: band)
    }
  }

  /// Ascending; the first is at 00:00.
  public var switches: [Switch]

  public init(switches: [Switch]) { self.switches = switches }

  /// A profile that stays on one band all day.
  public static func flat(_ band: TariffBand) -> DayProfile {
    DayProfile(switches: [Switch(minuteOfDay: 0, band: band)])
  }

  public static let maximumSwitches = 8
}

/// Which profile a day follows (R-P12).
public enum DayType: Int, CaseIterable, Sendable {
  case weekday, saturday, sunday, holiday
}

/// A season starts on a month and day and lasts until the next season starts (wrapping around
/// the year). It names a day profile for each day type.
public struct Season: Hashable, Sendable {
  public var startMonth: Int
  public var startDay: Int
  /// Indices into `TariffSet.dayProfiles`, for weekday, Saturday, Sunday and holiday.
  public var weekdayProfile: Int
  public var saturdayProfile: Int
  public var sundayProfile: Int
  public var holidayProfile: Int

  public init(
    startMonth: Int, startDay: Int, weekdayProfile: Int, saturdayProfile: Int,
    sundayProfile: Int, holidayProfile: Int
  ) {
    self.startMonth = startMonth
    self.startDay = startDay
    self.weekdayProfile = weekdayProfile
    self.saturdayProfile = saturdayProfile
    self.sundayProfile = sundayProfile
    self.holidayProfile = holidayProfile
  }

  /// A season from 1 January that uses one profile on every day.
  public static func allYear(profile: Int) -> Season {
    Season(
      startMonth: 1, startDay: 1, weekdayProfile: profile, saturdayProfile: profile,
      sundayProfile: profile, holidayProfile: profile)
  }

  public func profile(for dayType: DayType) -> Int {
    switch dayType {
    case .weekday: weekdayProfile
    case .saturday: saturdayProfile
    case .sunday: sundayProfile
    case .holiday: holidayProfile
    }
  }
}

/// A monthly consumption block: from `startsAt` of energy billed since the billing day, the
/// adder is added to the time-of-use price (R-P12).
public struct TariffBlock: Hashable, Sendable {
  public var startsAt: Energy
  /// Added to the band price, per kWh.
  public var adder: Money

  public init(startsAt: Energy, adder: Money) {
    self.startsAt = startsAt
    self.adder = adder
  }
}

/// A complete multi-tariff price plan (R-P12). The meter holds an active set and at most one
/// passive set that takes over at its activation time.
public struct TariffSet: Hashable, Sendable {
  /// Chosen by the utility; shown on the tariff page and in write-backs.
  public var id: UInt32
  /// When a passive set becomes active. Ignored for the set that is already active.
  public var activation: Timestamp
  /// Price per kWh of each time-of-use band (at most `maximumBands`).
  public var bandPrices: [Money]
  public var dayProfiles: [DayProfile]
  /// At least one, at most 4, in any order.
  public var seasons: [Season]
  /// Dates that follow the holiday profile (at most 32).
  public var holidays: [CivilDate]
  /// Ascending; the first starts at 0 kWh. Empty means no block adder (at most 6).
  public var blocks: [TariffBlock]
  /// Day of the month (1...28) at whose local midnight the monthly block consumption restarts.
  public var billingDay: Int
  /// Charged in proportion to elapsed time, so that a whole day costs exactly this much.
  public var standingChargePerDay: Money

  public init(
    id: UInt32, activation: Timestamp = Timestamp(unixMilliseconds: 0), bandPrices: [Money],
    dayProfiles: [DayProfile], seasons: [Season], holidays: [CivilDate] = [],
    blocks: [TariffBlock] = [], billingDay: Int = 1, standingChargePerDay: Money = .zero
  ) {
    self.id = id
    self.activation = activation
    self.bandPrices = bandPrices
    self.dayProfiles = dayProfiles
    self.seasons = seasons
    self.holidays = holidays
    self.blocks = blocks
    self.billingDay = billingDay
    self.standingChargePerDay = standingChargePerDay
  }

  /// One price at all times, no blocks, no standing charge (SPEC §9 default: 1.0000 per kWh).
  public static func flat(price: Money, id: UInt32 = 0) -> TariffSet {
    TariffSet(
      id: id, bandPrices: [price], dayProfiles: [.flat(0)], seasons: [.allYear(profile: 0)])
  }

  public static let maximumBands = BandRegisters.count
  public static let maximumSeasons = 4
  public static let maximumHolidays = 32
  public static let maximumBlocks = 6

  /// The highest band price: what is charged while the clock is invalid (R-P12).
  public var highestBandPrice: Money { bandPrices.max() ?? .zero }

  /// The band charging at the highest price (the lowest such band).
  public var highestPricedBand: TariffBand {
    bandPrices.firstIndex(of: highestBandPrice) ?? 0
  }

  public func dayType(of date: CivilDate) -> DayType {
    if holidays.contains(date) { return .holiday }
    switch date.weekday {
    case .saturday: return .saturday
    case .sunday: return .sunday
    default: return .weekday
    }
  }

  /// The season in force on `date`: the latest start on or before it in the same year, or else
  /// the latest start of the year (seasons wrap around New Year).
  public func season(on date: CivilDate) -> Season {
    var best: Season?
    var latest: Season?
    for season in seasons {
      let start = (season.startMonth, season.startDay)
      if start <= (date.month, date.day), best.map({ start > ($0.startMonth, $0.startDay) }) ?? true
      {
        best = season
      }
      if latest.map({ start > ($0.startMonth, $0.startDay) }) ?? true { latest = season }
    }
    return best ?? latest!
  }

  /// The band in force at `minuteOfDay` of `date`, and the local minute (≤ 1440) it lasts until.
  public func band(on date: CivilDate, minuteOfDay: Int) -> (band: TariffBand, untilMinute: Int) {
    let profile = dayProfiles[season(on: date).profile(for: dayType(of: date))]
    var band = profile.switches[0].band
    var until = 1_440
    for change in profile.switches {
      if change.minuteOfDay <= minuteOfDay {
        band = change.band
      } else {
        until = change.minuteOfDay
        break
      }
    }
    return (band, until)
  }

  /// The index of the block that `monthEnergy` falls in, and where the next block starts.
  public func block(for monthEnergy: Energy) -> (adder: Money, nextStartsAt: Energy?) {
    var adder = Money.zero
    var next: Energy?
    for block in blocks {
      if block.startsAt <= monthEnergy {
        adder = block.adder
      } else {
        next = block.startsAt
        break
      }
    }
    return (adder, next)
  }

  /// Refuses a set that the meter could not bill with, naming the field and the rule.
  public func validate() throws(ConfigurationError) {
    func refuse(_ field: String, _ rule: String) -> ConfigurationError {
      ConfigurationError(field: "tariff." + field, rule: rule)
    }
    guard (1...TariffSet.maximumBands).contains(bandPrices.count) else {
      throw refuse("bandPrices", "must list 1 to \(TariffSet.maximumBands) band prices")
    }
    guard bandPrices.allSatisfy({ $0 >= .zero && $0 <= MeterConfiguration.maximumPrice }) else {
      throw refuse(
        "bandPrices",
        "each price must be from 0 to \(MeterConfiguration.maximumPrice.exactString) per kWh")
    }
    guard !dayProfiles.isEmpty,
      dayProfiles.count <= TariffSet.maximumSeasons * DayType.allCases.count
    else { throw refuse("dayProfiles", "must list 1 to 16 day profiles") }
    for (index, profile) in dayProfiles.enumerated() {
      let field = "dayProfiles[\(index)]"
      guard (1...DayProfile.maximumSwitches).contains(profile.switches.count) else {
        throw refuse(field, "must have 1 to \(DayProfile.maximumSwitches) switching times")
      }
      guard profile.switches[0].minuteOfDay == 0 else {
        throw refuse(field, "the first switching time must be 00:00")
      }
      for (previous, next) in zip(profile.switches, profile.switches.dropFirst())
      where next.minuteOfDay <= previous.minuteOfDay {
        throw refuse(field, "switching times must be ascending")
      }
      guard profile.switches.allSatisfy({ (0..<1_440).contains($0.minuteOfDay) }) else {
        throw refuse(field, "switching times must be within the day (00:00 to 23:59)")
      }
      guard profile.switches.allSatisfy({ bandPrices.indices.contains($0.band) }) else {
        throw refuse(field, "each band must have a price in bandPrices")
      }
    }
    guard (1...TariffSet.maximumSeasons).contains(seasons.count) else {
      throw refuse("seasons", "must list 1 to \(TariffSet.maximumSeasons) seasons")
    }
    for (index, season) in seasons.enumerated() {
      let field = "seasons[\(index)]"
      guard CivilDate(year: 2000, month: season.startMonth, day: season.startDay) != nil else {
        throw refuse(field, "must start on a valid month and day")
      }
      guard DayType.allCases.allSatisfy({ dayProfiles.indices.contains(season.profile(for: $0)) })
      else { throw refuse(field, "each day type must name an existing day profile") }
      guard
        seasons[..<index].allSatisfy({
          ($0.startMonth, $0.startDay) != (season.startMonth, season.startDay)
        })
      else { throw refuse(field, "two seasons cannot start on the same day") }
    }
    guard holidays.count <= TariffSet.maximumHolidays else {
      throw refuse("holidays", "must list at most \(TariffSet.maximumHolidays) dates")
    }
    guard blocks.count <= TariffSet.maximumBlocks else {
      throw refuse("blocks", "must list at most \(TariffSet.maximumBlocks) blocks")
    }
    if let first = blocks.first, first.startsAt != .zero {
      throw refuse("blocks", "the first block must start at 0 kWh")
    }
    for (previous, next) in zip(blocks, blocks.dropFirst()) where next.startsAt <= previous.startsAt
    {
      throw refuse("blocks", "block thresholds must be ascending")
    }
    guard blocks.allSatisfy({ $0.adder >= .zero && $0.adder <= MeterConfiguration.maximumPrice })
    else {
      throw refuse(
        "blocks",
        "each adder must be from 0 to \(MeterConfiguration.maximumPrice.exactString) per kWh")
    }
    guard (1...28).contains(billingDay) else {
      throw refuse("billingDay", "must be a day of the month from 1 to 28")
    }
    guard standingChargePerDay >= .zero, standingChargePerDay <= MeterConfiguration.maximumPrice
    else {
      throw refuse(
        "standingChargePerDay", "must be from 0 to \(MeterConfiguration.maximumPrice.exactString)")
    }
  }
}
